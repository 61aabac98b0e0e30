"""How often the language detector names the language a tuning mail is labelled with.

``mailgate.language.detect`` picks the template a customer is answered in; a mail told
as the wrong language gets an acknowledgement the customer may not read. This counts,
per labelled language, how many mails of a tuning part are detected as that language,
as something else, or as nothing (the desk's default then answers):

    .venv/bin/python bench/language.py --part tune14            # replies: new text
    .venv/bin/python bench/language.py --part repeats/tune14    # new requests: body

A replies part is ``tests/data/replies/PART/*.jsonl`` (each reply's new text, as the
pipeline reads it); ``repeats/PART`` is ``tests/data/repeats/PART.jsonl`` (both mails of each
pair, subject and body). Evaluation parts are refused: this is a tuning aid.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.language import detect  # noqa: E402
from mailgate.message import parse  # noqa: E402
from mailgate.quotes import new_text  # noqa: E402

DATA = ROOT / "tests" / "data"


def _texts(part: str) -> Iterator[tuple[str, str]]:
    """(labelled language, text) of each mail of ``part``."""
    if part.startswith("repeats/"):
        path = DATA / "repeats" / f"{part.split('/', 1)[1]}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            pair = json.loads(line)
            for mail in (pair["first"], pair["second"]):
                yield pair["lang"], f"{mail['subject']}\n\n{mail['body']}"
        return
    for path in sorted((DATA / "replies" / part).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            reply = json.loads(line)
            yield reply["lang"], new_text(parse(reply["eml"].encode("utf-8")).text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", required=True,
                        help="a replies tuning part (tune14, hard) or repeats/tuneN")
    parser.add_argument("--show", action="store_true", help="print each wrong verdict")
    args = parser.parse_args()
    if "eval" in args.part:
        parser.error("evaluation parts are not for tuning")
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    for lang, text in _texts(args.part):
        got = detect(text, default="")
        verdicts[lang][got or "-"] += 1
        if args.show and got != lang:
            print(f"{lang} -> {got or '-'}: {' '.join(text.split())[:150]}")
    total = right = 0
    for lang in sorted(verdicts):
        counts = verdicts[lang]
        n = sum(counts.values())
        total, right = total + n, right + counts[lang]
        other = ", ".join(f"{k} {v}" for k, v in counts.most_common() if k != lang)
        print(f"{lang}  {counts[lang]:4d}/{n:<4d} {other}")
    print(f"all {right}/{total} ({100 * right / max(total, 1):.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
