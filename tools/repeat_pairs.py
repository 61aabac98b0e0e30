"""Fast checks of the repeat comparison: tuning parts in-process, and a stress test.

``bench/repeats.py`` runs each labelled pair through the whole pipeline (a fresh store per
pair): the measure of record, but slow. This script calls the step's decision
(``mailgate.duplicates.repeats``) directly on the same parsed mails, with the daemon's
defaults (``duplicate_window`` 3 days, ``related_within`` 30 minutes), for quick
comparisons while tuning:

- ``parts``: merged / merged or linked / false merges / false links per tuning part and
  scope (``tune`` .. ``tune8``), as the bench counts them;
- ``stress``: false merges on pairs that are different problems by construction: the
  first mail of one labelled pair and the second mail of ANOTHER pair (another
  organisation's story), re-addressed as sent by the same sender 30 minutes later
  (``--colleague``: by a colleague at the same domain). A few may be sibling stories
  (two writers' printer jams), so read the merged ones (``--show``) before blaming a rule.

Never reads the evaluation parts. Usage (from the repo root):
``.venv/bin/python tools/repeat_pairs.py [parts|stress] [--part tune4] [--show]
[--per 1] [--colleague]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.repeats import _raw, _when, in_scope, load  # noqa: E402
from mailgate.duplicates import repeats  # noqa: E402
from mailgate.message import parse  # noqa: E402
from mailgate.quotes import new_text  # noqa: E402
from mailgate.repeats import Mail, compare  # noqa: E402

PARTS = ("tune", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8")
WINDOW = timedelta(days=3)


def verdict(row: dict[str, Any], scope: str = "domain") -> tuple[str, str]:
    """("merged", "linked" or "", reason) for one pair, as the repeat step decides it."""
    if not in_scope(scope, row):
        return "", "out of scope"
    first, second = (parse(_raw(row[k], n)) for n, k in ((1, "first"), (2, "second")))
    at1, at2 = _when(row["first"]), _when(row["second"])
    if not timedelta(0) <= at2 - at1 <= WINDOW:
        return "", "outside the window"
    candidate = {"requester": first.from_addr, "subject": first.subject,
                 "text": first.text, "created_at": at1}
    mail = Mail(second.from_addr, second.subject, new_text(second.text), at2,
                cites=bool(second.in_reply_to or second.references))
    found = repeats(0.85, candidate, mail, timedelta(minutes=30))
    if found is None:
        first_mail = Mail(first.from_addr, first.subject, new_text(first.text), at1)
        return "", f"new ticket: {compare(first_mail, mail).reason}"
    return ("merged" if found[2] else "linked"), found[1]


def parts(names: tuple[str, ...], scopes: tuple[str, ...], show: bool) -> None:
    for name in names:
        rows = load(name)
        for scope in scopes:
            counts = {"same": 0, "merged": 0, "linked": 0, "false": 0, "false_links": 0}
            for row in rows:
                said, why = verdict(row, scope)
                if row["same_problem"]:
                    counts["same"] += 1
                    counts[said or "same"] += bool(said)
                    if show and said != "merged":
                        print(f"missed {row['id']} {row['class']}: {said or '-'}: {why}")
                elif said:
                    counts["false" if said == "merged" else "false_links"] += 1
                    if show:
                        print(f"WRONG {row['id']} {row['class']}: {said}: {why}")
            same = max(counts["same"], 1)
            print(f"{name:6} {scope:6} merged {counts['merged'] / same:6.1%}  +linked "
                  f"{(counts['merged'] + counts['linked']) / same:6.1%}  false merges "
                  f"{counts['false']:2}  false links {counts['false_links']:2}")


def stress_rows(per: int, colleague: bool, seed: int = 7) -> list[dict[str, Any]]:
    """First mails of all tuning pairs, each with ``per`` second mails of other pairs of the
    same language (from another domain), as the same sender (or a colleague) 30 min later."""
    rows = [row for name in PARTS for row in load(name)]
    rng = random.Random(seed)
    made = []
    for i, row in enumerate(rows):
        sender = parseaddr(row["first"]["from"])[1].lower()
        domain = sender.rpartition("@")[2]
        others = [o for j, o in enumerate(rows) if j != i and o["lang"] == row["lang"]
                  and domain not in o["second"]["from"].lower()
                  and domain not in o["first"]["from"].lower()]
        for other in rng.sample(others, min(per, len(others))):
            when = _when(row["first"]) + timedelta(minutes=30)
            second = dict(other["second"], date=when.isoformat(),
                          **{"from": f"colleague.x@{domain}" if colleague else sender})
            made.append({"id": f"{row['id']}+{other['id']}", "class": "stress",
                         "lang": row["lang"], "first": row["first"], "second": second,
                         "same_problem": False})
    return made


def stress(per: int, colleague: bool, show: bool) -> None:
    rows = stress_rows(per, colleague)
    merged = linked = 0
    for row in rows:
        said, why = verdict(row, "domain")
        merged += said == "merged"
        linked += said == "linked"
        if show and said == "merged":
            print(f"MERGED {row['id']}: {why}\n  1: {row['first']['subject']!r}\n"
                  f"  2: {row['second']['subject']!r}")
    who = "a colleague" if colleague else "the same sender"
    print(json.dumps({"stress": len(rows), "as": who, "merged": merged, "linked": linked}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("parts", "stress"), default="parts")
    parser.add_argument("--part", choices=PARTS, action="append")
    parser.add_argument("--scope", choices=("domain", "sender"), action="append")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--per", type=int, default=1, help="second mails per first (stress)")
    parser.add_argument("--colleague", action="store_true", help="stress: a colleague writes")
    args = parser.parse_args(argv[1:])
    if args.what == "stress":
        stress(args.per, args.colleague, args.show)
    else:
        parts(tuple(args.part or PARTS), tuple(args.scope or ("domain", "sender")), args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
