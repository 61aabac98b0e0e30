"""Leave-one-writer-out figures of the thank-you step's sentence judge.

Why: each tuning part was written by a different writer, and rules or weights fitted
while looking at one writer's replies fix that writer's style; the figure on a part
the judge was trained with says little about mail nobody tuned on. For each held-out
part, this trains the judge exactly as ``tools/train_sentences.py`` does (same
sentence files, same labelling) on every tuning reply EXCEPT that part's, and scores
that part with it, with the thresholds of the shipped model file (or ``--model``'s,
or ``--thresholds``): thank-yous kept closed, substantive replies kept closed (lost
reopens; those the rules alone already keep closed are counted apart), and the same
for the rules alone; with ``--show``, the judge's added lost reopens and the reasons
thank-yous are reopened for, counted. Never run on an evaluation part: it trains on
what it is given.

A change to the rules or to the training is worth keeping when these held-out figures
rise across parts without a lost reopen added; one that raises only the in-sample
figure (``bench/thanks.py``) is not.

Usage (repo root): ``.venv/bin/python tools/held_out.py
[--parts tune3,...,tune14] [--model FILE] [--thresholds JSON]
[--show]``. Prints one line per part and, last, one JSON line with the figures (about
30 s of CPU per part). ``--thresholds`` may be a JSON list of threshold sets: each held-out
judge is trained once and scored with every set (one line per part and set, one JSON
line per set): how a threshold is weighed on writers nobody tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

from train_sentences import STAGES, figures, fit, tuning_replies  # noqa: E402

from mailgate.replies import Understanding  # noqa: E402
from mailgate.replies.lexicon import Lexicon, load_tables  # noqa: E402
from mailgate.replies.model import SentenceModel  # noqa: E402

HELD_OUT = ("tune3", "tune4", "tune5", "tune6", "tune7", "tune8", "tune9", "tune10", "tune11",
            "tune12", "tune13", "tune14", "tune15", "tune16")
#: every tuning part of replies (with the first labelled set): the judge of a held-out
#: part is trained on all of them but that one
ALL = ("tune", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8", "tune9",
       "tune10", "tune11", "tune12", "tune13", "tune14", "tune15", "tune16", "hard")


def thresholds(args: argparse.Namespace) -> list[dict[str, float]]:
    """The threshold sets the held-out models are scored with: ``--thresholds`` (one JSON
    object, or a list of them: each judge is trained once and scored with each), else the
    model file's."""
    if args.thresholds:
        given = json.loads(args.thresholds)
        return [{k: float(v) for k, v in one.items()}
                for one in (given if isinstance(given, list) else [given])]
    model = SentenceModel.load(args.model)
    return [{stage: float(getattr(model, stage)) for stage in STAGES}]


def held_out(lexicon: Lexicon, part: str, train_on: list[dict[str, Any]],
             rows: list[dict[str, Any]], sets: list[dict[str, float]]
             ) -> list[dict[str, Any]]:
    """The judge trained on ``train_on`` (which holds nothing of ``part``), scored on
    ``rows`` with each threshold set of ``sets``; and the rules alone on them."""
    model, _, _ = fit(lexicon, train_on)
    rules = figures(Understanding(lexicon, None), rows)
    before = {w.split(":")[0] for w in rules["wrong"]}
    out = []
    for chosen in sets:
        for stage, value in chosen.items():
            setattr(model, stage, value)
        judged = figures(Understanding(lexicon, model), rows)
        added = [w for w in judged["wrong"] if w.split(":")[0] not in before]
        out.append({"part": part, "thanks": judged["thanks"], "kept": judged["kept"],
                    "kept_share": judged["kept_share"], "lost": len(judged["wrong"]),
                    "added": added, "rules_kept": rules["kept"],
                    "rules_lost": len(rules["wrong"]), "missed": Counter(
                        m.split(": ", 1)[1].split(":")[0] for m in judged["missed"])})
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(HELD_OUT))
    parser.add_argument("--model", type=Path, help="take the thresholds from this file")
    parser.add_argument("--thresholds",
                        help='JSON, e.g. {"threshold": 0.7}, or a list of such sets')
    parser.add_argument("--show", action="store_true",
                        help="list the added lost reopens and why thank-yous reopen")
    args = parser.parse_args(argv[1:])
    parts = args.parts.split(",")
    if any(p.startswith("eval") for p in parts):
        parser.error("an evaluation part is never trained or tuned on")
    sets = thresholds(args)
    lexicon = Lexicon(load_tables())
    if not set(parts) <= set(ALL):
        parser.error(f"held-out parts are among {', '.join(ALL)}")
    replies = tuning_replies(ALL)
    results: list[list[dict[str, Any]]] = [[] for _ in sets]
    for part in parts:
        found = held_out(lexicon, part, [r for r in replies if r["part"] != part],
                         [r for r in replies if r["part"] == part], sets)
        for k, one in enumerate(found):
            results[k].append(one)
            _print_part(one, f"[{k}] " if len(sets) > 1 else "", args.show)
    for chosen, result in zip(sets, results, strict=True):
        print(json.dumps({"thresholds": chosen, "trained_on": list(ALL),
                          "held_out": {r["part"]: {k: r[k] for k in (
                              "thanks", "kept", "kept_share", "lost")} | {
                              "added": len(r["added"])} for r in result},
                          "kept_total": sum(r["kept"] for r in result),
                          "thanks_total": sum(r["thanks"] for r in result)}))
    return 0


def _print_part(found: dict[str, Any], label: str, show: bool) -> None:
    print(f"{label}{found['part']}: held out {found['kept']}/{found['thanks']} "
          f"({found['kept_share']:.1%}) thanks kept closed, {found['lost']} lost reopens "
          f"({len(found['added'])} added by the judge); rules alone {found['rules_kept']}"
          f"/{found['thanks']}, {found['rules_lost']} lost", flush=True)
    for lost in found["added"] if show else []:
        print(f"    {lost[:300]}")
    for reason, n in found["missed"].most_common(8) if show else []:
        print(f"    reopened {n}: {reason}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
