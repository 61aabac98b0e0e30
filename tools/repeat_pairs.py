"""Fast checks of the repeat comparison: tuning parts in-process, and a stress test.

``bench/repeats.py`` runs each labelled pair through the whole pipeline (a fresh store per
pair): the measure of record, but slow. This script calls the step's decision
(``mailgate.duplicates.repeats``) directly on the same parsed mails, with the daemon's
defaults (``duplicate_window`` 3 days, ``related_within`` 30 minutes), for quick
comparisons while tuning:

- ``parts``: merged / merged or linked / false merges / false links per tuning part and
  scope (``tune`` .. ``tune13``, ``tune14``), as the bench counts them, with the shipped pair scorer
  (``mailgate/pairscore.py``); ``--rules``: the hand rules alone; ``--held-out``:
  leave-one-part-out, each part measured by a scorer fitted on all the others (with its
  own cross-fitted thresholds): the honest figure for anything learned;
- ``fit``: fit the pair scorer on every tuning part and write
  ``mailgate/data/repeat_scorer.json`` (``--margin``: the merge threshold's log-odds above
  the highest different problem of a part left out of the fit);
- ``stress``: false merges on pairs that are different problems by construction: the
  first mail of one labelled pair and the second mail of ANOTHER pair (another
  organisation's story), re-addressed as sent by the same sender 30 minutes later
  (``--colleague``: by a colleague at the same domain). A few may be sibling stories
  (two writers' printer jams), so read the merged ones (``--show``) before blaming a rule.

Never reads the evaluation parts. Usage (from the repo root):
``.venv/bin/python tools/repeat_pairs.py [parts|stress|fit] [--part tune4] [--show]
[--rules] [--held-out] [--margin 1.0] [--per 1] [--colleague]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import replace
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.repeats import _raw, _when, in_scope, load  # noqa: E402
from mailgate.duplicates import repeats  # noqa: E402
from mailgate.message import parse  # noqa: E402
from mailgate.pairscore import NEVER, Model, Scorer, fit, judge, shipped  # noqa: E402
from mailgate.quotes import new_text  # noqa: E402
from mailgate.repeats import (  # noqa: E402
    CONTENT,
    FEATURES,
    NEAR,
    Mail,
    Verdict,
    compare,
    shares_something,
)

PARTS = ("tune", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8",
         "tune9", "tune10", "tune11", "tune12", "tune13", "tune14", "tune15")
WINDOW = timedelta(days=3)
#: How far (in log-odds) the merge threshold sits above the highest held-out different
#: problem: with the bare maximum, one part in nine held out had one false merge (tune4).
MARGIN = 1.0


class Pair(NamedTuple):
    """One labelled pair as the step sees it: the hand rules' verdict and the scorer's input."""

    part: str
    row: dict[str, Any]
    scopes: tuple[str, ...]  # the scopes in which the two mails are compared at all
    hand: str  # "merged", "linked" or "" by the rules alone
    why: str
    features: tuple[float, ...]
    mergeable: bool


def examine(part: str, row: dict[str, Any]) -> Pair:
    """The step's view of one pair (rules alone, ``pairscore.NEVER``), with the features."""
    scopes = tuple(s for s in ("domain", "sender") if in_scope(s, row))
    first, second = (parse(_raw(row[k], n)) for n, k in ((1, "first"), (2, "second")))
    at1, at2 = _when(row["first"]), _when(row["second"])
    if not scopes or not timedelta(0) <= at2 - at1 <= WINDOW:
        return Pair(part, row, (), "", "out of scope or window", (), False)
    candidate = {"requester": first.from_addr, "subject": first.subject,
                 "text": first.text, "created_at": at1}
    mail = Mail(second.from_addr, second.subject, new_text(second.text), at2,
                cites=bool(second.in_reply_to or second.references))
    found = repeats(0.85, candidate, mail, NEAR, NEVER)
    first_mail = Mail(first.from_addr, first.subject, new_text(first.text), at1)
    judged = compare(first_mail, mail, NEAR)
    hand = "" if found is None else "merged" if found[2] else "linked"
    why = found[1] if found is not None else f"new ticket: {judged.reason}"
    return Pair(part, row, scopes, hand, why, judged.features, judged.mergeable)


def decide(pair: Pair, model: Scorer) -> tuple[str, str]:
    """("merged", "linked" or "", reason) as ``duplicates.repeats`` decides with ``model``."""
    if pair.hand == "merged" or not pair.scopes:
        return pair.hand, pair.why
    said, p = judge(pair.features, pair.mergeable, model)
    if said == "link" and not shares_something(Verdict(False, 0.0, "", features=pair.features)):
        said = ""  # as duplicates.repeats: a link needs a shared term or concept
    if said == "merge":
        return "merged", f"pair scorer p {p:.2f}; {pair.why}"
    if pair.hand == "linked" or said == "link":
        return "linked", pair.why if pair.hand else f"pair scorer p {p:.2f}; {pair.why}"
    return "", f"p {p:.2f}; {pair.why}"


def examined(names: tuple[str, ...]) -> list[Pair]:
    return [examine(name, row) for name in names for row in load(name)]


def fit_model(pairs: list[Pair], margin: float = MARGIN) -> Scorer:
    """The scorer fitted on the ``pairs`` the rules do not merge (the merger on ``CONTENT``,
    the linker on all features), its merge threshold above every different problem it may
    merge of each part when that part was left out of the fit (cross-fitted), its link
    threshold at the share of held-out different problems ``LINK_RATE`` allows. (A merger
    fitted only on the pairs it may merge merged 3 different problems of tune4 held out:
    too few pairs to fit on.)"""
    names = sorted({p.part for p in pairs})
    merges: list[float] = []
    links: list[float] = []
    for name in names:
        rest, held = [p for p in pairs if p.part != name], [
            p for p in pairs if p.part == name and not p.row["same_problem"]]
        merger, linker = _fit([p for p in rest if _scored(p)], CONTENT), _fit(
            [p for p in rest if _scored(p)], FEATURES)
        merges += [merger.probability(p.features) for p in held if _open(p)]
        links += [linker.probability(p.features) for p in held if _scored(p)]
    merges.sort()
    links.sort()
    top = merges[-1] if merges else 0.5
    merge = 1 / (1 + math.exp(-(math.log(top / (1 - top)) + margin))) if top < 1 else 1.0
    link = links[int(len(links) * (1 - LINK_RATE))] if links else 0.5
    scored = [p for p in pairs if _scored(p)]
    return Scorer(replace(_fit(scored, CONTENT), merge=merge),
                  replace(_fit(scored, FEATURES), link=link))


#: The share of different problems the scorer may link (held out in the cross-fit).
LINK_RATE = 0.05


def _scored(pair: Pair) -> bool:
    """Whether the scorer sees the pair (compared, not merged by the rules)."""
    return bool(pair.scopes and pair.features) and pair.hand != "merged"


def _open(pair: Pair) -> bool:
    """Whether the scorer may merge the pair (seen by it, reaching the bar, no "works
    again" nor new request)."""
    return _scored(pair) and pair.mergeable


def _fit(pairs: list[Pair], names: tuple[str, ...]) -> Model:
    return fit([(p.features, bool(p.row["same_problem"])) for p in pairs], names,
               columns=tuple(FEATURES.index(n) for n in names) if names != FEATURES else ())


def parts(names: tuple[str, ...], scopes: tuple[str, ...], show: bool,
          held_out: bool = False, rules: bool = False, margin: float = MARGIN) -> None:
    """Figures per part and scope with the shipped scorer, the rules alone (``rules``), or
    (``held_out``) a scorer fitted on all tuning parts but the one measured."""
    pairs = examined(PARTS if held_out else names)
    for name in names:
        model = NEVER if rules else shipped() if not held_out else \
            fit_model([p for p in pairs if p.part != name], margin)
        mine = [p for p in pairs if p.part == name]
        if held_out:
            print(f"{name:6} scorer fitted without it: merge at p {model.merger.merge:.3f}, "
                  f"link at p {model.linker.link:.3f}")
        for scope in scopes:
            counts = {"same": 0, "merged": 0, "linked": 0, "false": 0, "false_links": 0}
            for pair in mine:
                said, why = decide(pair, model) if scope in pair.scopes else ("", "scope")
                if pair.row["same_problem"]:
                    counts["same"] += 1
                    counts[said or "same"] += bool(said)
                    if show and said != "merged":
                        print(f"missed {pair.row['id']} {pair.row['class']}: {said or '-'}: {why}")
                elif said:
                    counts["false" if said == "merged" else "false_links"] += 1
                    if show:
                        print(f"WRONG {pair.row['id']} {pair.row['class']}: {said}: {why}")
            same = max(counts["same"], 1)
            print(f"{name:6} {scope:6} merged {counts['merged'] / same:6.1%}  +linked "
                  f"{(counts['merged'] + counts['linked']) / same:6.1%}  false merges "
                  f"{counts['false']:2}  false links {counts['false_links']:2}", flush=True)


def write_model(path: Path, margin: float = MARGIN) -> None:
    """Fit the scorer on every tuning part and write it where the step reads it."""
    model = fit_model(examined(PARTS), margin)
    path.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"merge": model.merger.merge, "link": model.linker.link, "merger": dict(
        zip(CONTENT, (round(w, 3) for w in model.merger.weights), strict=True))}))


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
        said, why = decide(examine("stress", row), shipped())
        merged += said == "merged"
        linked += said == "linked"
        if show and said == "merged":
            print(f"MERGED {row['id']}: {why}\n  1: {row['first']['subject']!r}\n"
                  f"  2: {row['second']['subject']!r}")
    who = "a colleague" if colleague else "the same sender"
    print(json.dumps({"stress": len(rows), "as": who, "merged": merged, "linked": linked}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("parts", "stress", "fit"), default="parts")
    parser.add_argument("--part", choices=PARTS, action="append")
    parser.add_argument("--scope", choices=("domain", "sender"), action="append")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--per", type=int, default=1, help="second mails per first (stress)")
    parser.add_argument("--colleague", action="store_true", help="stress: a colleague writes")
    parser.add_argument("--held-out", action="store_true",
                        help="parts: each part measured by a scorer fitted without it")
    parser.add_argument("--rules", action="store_true", help="parts: the hand rules alone")
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help="fit, --held-out: merge threshold's log-odds above the highest "
                             "held-out different problem")
    args = parser.parse_args(argv[1:])
    if args.what == "stress":
        stress(args.per, args.colleague, args.show)
    elif args.what == "fit":
        write_model(ROOT / "mailgate" / "data" / "repeat_scorer.json", args.margin)
    else:
        parts(tuple(args.part or PARTS), tuple(args.scope or ("domain", "sender")), args.show,
              args.held_out, args.rules, args.margin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
