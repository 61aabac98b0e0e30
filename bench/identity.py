"""Price of the identity checks (``mailgate.identity``, ``mailgate.lists``) per message.

They run for every message before its transaction (``pipeline.facts.prepare``): the
forgery checks for everybody, the proof of an engineer's mail (trusted
``Authentication-Results``, the per-engineer reply address; DKIM verification needs DNS
and is not timed here). Three mails: a customer's, an engineer's with our MTA's pass, a
mailing-list post.

Usage (from the repo root): ``.venv/bin/python bench/identity.py [--runs N]``.
Prints one line per mail and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate import identity, lists  # noqa: E402
from mailgate.config import load_config  # noqa: E402
from mailgate.message import parse  # noqa: E402
from tests.configs import write_config  # noqa: E402

DESK = {"team": {"address": "team@example.com", "engineers": {"alice": "alice@example.com"}},
        "security": {"trusted_authserv_ids": ["mx.example.com"]}}
HEAD = ("To: support@example.com\r\nSubject: Re: [SUP-000001] VPN drops\r\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n")
MAILS = {
    "customer": "From: Casey Customer <customer@example.org>\r\n",
    "engineer, our MTA's pass": "Authentication-Results: mx.example.com; dkim=pass "
                                "header.d=example.com\r\nFrom: Alice <alice@example.com>\r\n",
    "list post": "From: Poster <poster@example.net>\r\nList-Id: <users.lists.example.org>\r\n"
                 "List-Post: <mailto:users@lists.example.org>\r\n",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    config = load_config(write_config(Path(tempfile.mkdtemp()), DESK))
    result = {}
    for name, head in MAILS.items():
        inbound = parse((head + HEAD + "\r\nThe VPN drops every hour.\r\n").encode())

        def check() -> None:
            identity.examine(config, inbound, ["support@example.com"])  # noqa: B023
            lists.mailing_list(inbound.msg, [inbound.from_addr])  # noqa: B023

        seconds = timeit.timeit(check, number=args.runs) / args.runs
        result[name] = round(seconds * 1e6, 1)
        print(f"{name:28} {seconds * 1e6:7.1f} us per mail")
    print(json.dumps({"us_per_mail": result, "runs": args.runs}))


if __name__ == "__main__":
    main()
