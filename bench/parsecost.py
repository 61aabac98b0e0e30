"""Parse CPU per mail, in a micro-loop: a 4 KB customer mail, and one with 30 header fields
(a real MTA's header block on top of the customer's).

Measures ``mailgate.message.parse`` alone (best of ``--rounds`` rounds of this process's CPU
time), to compare a change to the parser before and after on the same machine; the
machine's load average is printed with it, since 2 shared cores make single runs noisy.

Usage (from the repo root): ``.venv/bin/python bench/parsecost.py [--count 2000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in (_BENCH, "")]
sys.path.insert(0, _BENCH)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from processing import MTA_HEADERS  # noqa: E402
from tricks import mails, per_mail_us  # noqa: E402

from mailgate.message import parse  # noqa: E402

# six more fields a desk client adds: with MTA_HEADERS and the mail's own, 30 in all
_EXTRA = (b"Thread-Topic: Export fails\r\nThread-Index: AdlZK3b4c2VhcmNoaW5n\r\n"
          b"Content-Language: en-US\r\nX-MS-Has-Attach: \r\n"
          b"X-Mailer: Microsoft Outlook 16.0\r\nList-Id: <support.example.com>\r\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    plain = [raw + b"Thanks for looking into it.\n" * 30 for raw in mails(args.count)]
    mta = [MTA_HEADERS + _EXTRA + raw for raw in plain]
    fields = len(parse(mta[0]).msg)
    per_mail_us(plain[:200], rounds=1)  # warm up
    result = {"load": os.getloadavg()[0], "bytes": len(plain[0]),
              "plain_us": round(per_mail_us(plain, args.rounds)), "fields": fields,
              "mta_us": round(per_mail_us(mta, args.rounds))}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
