"""Score the thanks-only classifier on the labelled reply set, per language.

Why: a substantive reply classed as "thanks" silently keeps a ticket closed,
so the figure to watch is precision of the thanks class (false positives are
listed by name); recall says how many needless reopens remain. Runs the whole
pipeline ``classify(new_text(body))`` on full reply bodies.

Usage (from the repo root): ``.venv/bin/python bench/thanks.py [labelled.jsonl]``.
Prints a table and, last, one JSON line with the totals.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.gratitude import GratitudeDetector  # noqa: E402
from mailgate.quotes import new_text  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "data" / "thanks" / "labelled.jsonl"


def score(rows: list[dict]) -> dict:
    """Counts for the "thanks" class: tp, fp, fn, n, plus the false positives themselves."""
    detector = GratitudeDetector.load()
    stats: dict[str, dict] = defaultdict(lambda: {"n": 0, "tp": 0, "fp": 0, "fn": 0, "fps": []})
    for row in rows:
        verdict = detector.classify(new_text(row["body"]))
        for key in (row["lang"], "all"):
            s = stats[key]
            s["n"] += 1
            if verdict.thanks_only and row["label"] == "thanks":
                s["tp"] += 1
            elif verdict.thanks_only:
                s["fp"] += 1
                if key != "all":
                    s["fps"].append(f"[{row['style']}] {row['body'][:60]!r}: {verdict.reason}")
            elif row["label"] == "thanks":
                s["fn"] += 1
    return stats


def ratio(num: int, den: int) -> float:
    """num/den, 1.0 when there is nothing to get wrong."""
    return num / den if den else 1.0


def main(argv: list[str]) -> int:
    """Print the per-language table and the JSON totals line; exit 1 on any false positive."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SET
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    start = time.perf_counter()
    stats = score(rows)
    elapsed = time.perf_counter() - start
    print(f"{'lang':<5} {'n':>4} {'thanks':>6} {'prec':>6} {'recall':>6} {'fp':>3} {'fn':>3}")
    for lang in [*sorted(k for k in stats if k != "all"), "all"]:
        s = stats[lang]
        precision = ratio(s["tp"], s["tp"] + s["fp"])
        recall = ratio(s["tp"], s["tp"] + s["fn"])
        print(f"{lang:<5} {s['n']:>4} {s['tp'] + s['fn']:>6} {precision:>6.3f} {recall:>6.3f} "
              f"{s['fp']:>3} {s['fn']:>3}")
        for fp in s["fps"]:
            print(f"      FALSE POSITIVE {fp}")
    total = stats["all"]
    print(json.dumps({
        "set": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "n": total["n"],
        "thanks": total["tp"] + total["fn"],
        "precision": round(ratio(total["tp"], total["tp"] + total["fp"]), 4),
        "recall": round(ratio(total["tp"], total["tp"] + total["fn"]), 4),
        "false_positives": total["fp"],
        "false_negatives": total["fn"],
        "ms_per_message": round(1000 * elapsed / max(1, total["n"]), 3),
    }))
    return 1 if total["fp"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
