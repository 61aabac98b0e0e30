"""Score the thank-you step on labelled replies to closed tickets, per language.

A reply labelled ``thanks`` should keep the ticket closed (recall: "thanks kept
closed"); a ``substantive`` one must reopen it, so every substantive reply kept
closed is a lost reopen, silent, and listed by id. Each reply is a whole
message (``eml``) run exactly as the pipeline runs it: parsed once, then the
automatic-mail check of intake (``mailgate.autoreply``: an out-of-office or read receipt by
its headers or subject is recorded and reopens nothing), the absence check
(``mailgate.replies.absence``: an out-of-office in the text only keeps the ticket as it is,
like a thank-you) and the reply-understanding step (``mailgate.replies.understand``).
Replies recorded as automatic or absence notices are counted (and, on a tuning part,
listed by id).

Some kept-closed replies are still PASSED ON to the assignee, as the pipeline does: an
automatic notice that asks for action ("I have left, please resend to X", "this mailbox is
no longer monitored": ``mailgate.replies.redirect``, counted as "automatic notices passed
on") and a thank-you carrying files (``route._extra``; new people copied are not modelled
here: the parts have no ticket to compare with). A ``substantive`` reply kept closed but
passed on is neither a success nor silent: it is its own column, "passed on", and the
lost reopens are printed without it (silent: nobody hears of the reply) and with it.

The default set is an evaluation part (``tests/data/replies/eval14``, 480 replies written
blind by a writer who saw neither the detector nor any other part, never used for
tuning: counts only). Tuning data: ``tune``, ``tune2``,
``hard`` (written with the detector), ``tune10`` and ``tune17`` (written as tuning data:
``tune17`` short answers to the engineer's closing question), ``tune3`` to
``tune9`` and ``tune11`` to ``tune16`` (earlier blind evaluation parts, retired to tuning
once their counts had been read). With ``--show`` it lists
wrong verdicts with their reasons: only ever use that on tuning parts.

Usage (from the repo root):
``.venv/bin/python bench/thanks.py
[--part eval14|tune|tune2|...|tune17|hard] [--show]
[--model FILE | --no-model]`` (``--no-model``: the rules without the sentence judge).
Prints a table and, last, one JSON line with the totals.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.autoreply import classify_automatic  # noqa: E402
from mailgate.message import parse  # noqa: E402
from mailgate.pipeline.notices import NOTICE_KINDS  # noqa: E402
from mailgate.replies import Understanding, understand  # noqa: E402
from mailgate.replies.absence import absence_notice  # noqa: E402
from mailgate.replies.model import SentenceModel  # noqa: E402
from mailgate.replies.redirect import redirect  # noqa: E402

SETS = ROOT / "tests" / "data" / "replies"


def load(part: str) -> list[dict[str, Any]]:
    """Every labelled reply of one part, all languages."""
    rows = []
    for path in sorted((SETS / part).glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    return rows


def score(rows: list[dict[str, Any]], understanding: Understanding
          ) -> tuple[dict[str, dict[str, Any]], float]:
    """Per language: replies, thanks, thanks kept closed, substantive kept closed (ids),
    those of them passed on, automatic notices passed on; and the CPU seconds the steps
    took (parsing excluded)."""
    stats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "thanks": 0, "kept": 0, "wrong": [], "missed": [], "absent": [],
                 "passed": [], "notices": []})
    spent = 0.0
    for row in rows:
        inbound = parse(row["eml"].encode("utf-8"))
        # as the pipeline: mail automatic by its headers or subject (an out-of-office, a
        # read receipt) is recorded and reopens nothing, whatever its text says
        automatic = classify_automatic(inbound.msg, None)
        started = time.process_time()
        absent = absence_notice(inbound.text, lambda: understanding.lexicon)
        verdict = understand(understanding, inbound)
        kind = automatic.kind if automatic is not None else \
            "out-of-office" if absent is not None else None
        # as the route step: an automatic notice that asks for action, a thank-you with files
        notice = redirect(inbound.text, inbound.from_addr) if kind in NOTICE_KINDS else None
        spent += time.process_time() - started
        kept = verdict.thanks_only or absent is not None or automatic is not None
        passed = notice is not None or (kept and kind is None and bool(inbound.attachments))
        reason = f"automatic mail: {automatic.reason}" if automatic is not None else \
            absent.reason if absent is not None else verdict.reason
        recorded = reason if automatic is not None or absent is not None else None
        for key in (row["lang"], "all"):
            s = stats[key]
            s["n"] += 1
            if recorded is not None:
                s["absent"].append((row["id"], row["label"], recorded))
            if notice is not None:
                s["notices"].append((row["id"], row["label"], notice.asks))
            if row["label"] == "thanks":
                s["thanks"] += 1
                s["kept"] += kept
                if not kept:
                    s["missed"].append((row["id"], reason))
            elif kept:
                s["wrong"].append((row["id"], reason))
                if passed:
                    s["passed"].append(row["id"])
    return stats, spent


def main(argv: list[str]) -> int:
    """Print the per-language table and the JSON totals line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="eval14", choices=(
        "eval14", "tune", "tune2", "tune3", "tune4", "tune5", "tune6",
        "tune7", "tune8", "tune9", "tune10", "tune11", "tune12", "tune13", "tune14", "tune15",
        "tune16", "tune17", "hard"))
    parser.add_argument("--show", action="store_true", help="list wrong verdicts (tune only)")
    parser.add_argument("--model", type=Path, help="another sentence judge's file")
    parser.add_argument("--no-model", action="store_true", help="the rules alone")
    args = parser.parse_args(argv[1:])
    if args.show and args.part.startswith("eval"):
        parser.error("--show lists what to tune on: never on the evaluation part")
    rows = load(args.part)
    understanding = Understanding.load(model=SentenceModel.load(args.model)
                                       if args.model else None)
    if args.no_model:
        understanding.model = None
    stats, spent = score(rows, understanding)
    evaluation = args.part.startswith("eval")
    print(f"{args.part} part: {len(rows)} replies")
    print(f"{'lang':<5} {'n':>4} {'thanks':>6} {'kept closed':>11} {'passed on':>9} "
          f"{'lost reopens':>12} {'... with passed on':>18} {'notices passed on':>17}")
    for lang in [*sorted(k for k in stats if k != "all"), "all"]:
        s = stats[lang]
        recall = s["kept"] / s["thanks"] if s["thanks"] else 1.0
        passed, wrong = len(s["passed"]), len(s["wrong"])
        print(f"{lang:<5} {s['n']:>4} {s['thanks']:>6} {recall:>10.1%} {passed:>9} "
              f"{wrong - passed:>12} {wrong:>18} {len(s['notices']):>17}")
        # an evaluation part's replies are never shown, not even the wrong ones: only counts
        for rid, reason in s["wrong"] if lang != "all" and not evaluation else []:
            what = "PASSED ON" if rid in s["passed"] else "KEPT CLOSED"
            print(f"      SUBSTANTIVE {what} {rid}: {reason}")
        for rid, label, asks in s["notices"] if lang != "all" and not evaluation else []:
            print(f"      NOTICE PASSED ON {rid} ({label}): {asks}")
        for rid, label, reason in s["absent"] if lang != "all" and not evaluation else []:
            print(f"      RECORDED AS AUTOMATIC {rid} ({label}): {reason}")
        if args.show and lang != "all":
            for rid, reason in s["missed"]:
                print(f"      thanks reopened {rid}: {reason}")
    total = stats["all"]
    worst = min((stats[k]["kept"] / stats[k]["thanks"], k) for k in stats
                if k != "all" and stats[k]["thanks"])
    print(json.dumps({
        "part": args.part, "replies": total["n"], "thanks": total["thanks"],
        "thanks_kept_closed": round(total["kept"] / max(1, total["thanks"]), 4),
        "substantive_kept_closed": len(total["wrong"]),
        "substantive_passed_on": len(total["passed"]),
        "lost_reopens": len(total["wrong"]) - len(total["passed"]),
        "automatic_or_absence": len(total["absent"]),
        "automatic_passed_on": len(total["notices"]),
        "worst_language": worst[1], "worst_language_kept_closed": round(worst[0], 4),
        "cpu_ms_per_reply": round(1000 * spent / max(1, total["n"]), 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
