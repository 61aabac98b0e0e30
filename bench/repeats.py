"""Score the repeat-report step on labelled pairs of mails: merge recall, false merges.

Each pair (``tests/data/repeats/<part>.jsonl``, format in the README there) is run
through the real pipeline, as the daemon runs it: a fresh SQLite store, the first
mail handled at its date (a new ticket), then the second at its date. The second
mail "merged" when the ``repeat`` step joined it to the first ticket, and was
"linked" when the step gave it its own ticket linked to the first one (likely the
same problem, not sure enough to merge). Recall is merged pairs among those
labelled ``same_problem``; "+linked" counts linked ones too (what the engineer
sees together). A pair labelled otherwise that merged is a false merge (the worse
error: it hides a problem); one that was linked, a false link (a wrong "looks
related" note).

The default set is the evaluation part (``eval13``), written by
someone who saw neither the step nor the tuning parts, and never tuned on: only aggregates
are printed for it.
``tune`` (written with the step), ``tune2`` to ``tune8``, ``tune10`` to ``tune13`` and
``tune15`` (earlier blind evaluation parts, retired after their figures were read) and
``tune9`` (written as tuning data) and ``tune14`` (it, pt, pl, ja, zh, ko pairs written with
the step) are tuning data:
``--part tune4 --show`` lists each wrong verdict with the step's reason.

Usage (from the repo root):
``.venv/bin/python bench/repeats.py [--part eval13|tune|tune2|...|tune14|tune15]
[--scope domain|sender] [--show]``.
Prints a table and, last, one JSON line with the totals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.config import load_config  # noqa: E402
from mailgate.domains import organisation  # noqa: E402
from mailgate.message import parse  # noqa: E402
from mailgate.pipeline import Pipeline  # noqa: E402
from mailgate.render import Renderer  # noqa: E402
from mailgate.store import SpoolItem, open_store  # noqa: E402
from tests.configs import write_config  # noqa: E402

SETS = ROOT / "tests" / "data" / "repeats"
#: The blind evaluation part: aggregates only, never ``--show``.
EVAL = "eval13"


def load(part: str) -> list[dict[str, Any]]:
    path = SETS / f"{part}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _raw(mail: dict[str, Any], number: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = mail["from"]
    msg["To"] = "support@example.com"
    msg["Subject"] = mail["subject"]
    msg["Date"] = format_datetime(_when(mail))
    msg["Message-ID"] = f"<pair-{number}@bench.invalid>"
    msg.set_content(mail["body"])
    return msg.as_bytes()


def _when(mail: dict[str, Any]) -> datetime:
    """The mail's date, UTC when it names no offset."""
    when = datetime.fromisoformat(mail["date"])
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def in_scope(scope: str, row: dict[str, Any]) -> bool:
    """Whether the second mail is compared with the first at all: the same sender, or (domain
    scope) the same organisation domain."""
    first, second = (parseaddr(row[k]["from"])[1].lower() for k in ("first", "second"))
    return first == second or (scope == "domain" and organisation(first) is not None
                               and organisation(first) == organisation(second))


def run_pair(folder: Path, scope: str, row: dict[str, Any]) -> tuple[str, str, float]:
    """("merged", "linked" or "", the repeat step's decision, CPU seconds) for one pair, in
    a fresh store."""
    for old in folder.glob("var/mailgate.db*"):
        old.unlink()
    config = load_config(write_config(folder, {"conversation": {"duplicate_scope": scope}}))
    store = open_store(config)
    pipeline = Pipeline(config, Renderer(config.path(config.templates.directory)))
    try:
        action, why, spent = "", "", 0.0
        for number, mail in enumerate((row["first"], row["second"]), start=1):
            raw = _raw(mail, number)
            inbound = parse(raw)
            now = _when(mail)
            item = SpoolItem(id=number, received_at=now, channel="smtp", source="smtp",
                             mail_from=inbound.from_addr, rcpt_tos=[config.support_address],
                             size=len(raw), attempts=1)
            started = time.process_time()
            with store.transaction():
                outcome = pipeline.handle(store, item, inbound, now)
            spent += time.process_time() - started
            action = outcome.action
            why = dict(outcome.trace).get("repeat", "")
        verdict = "merged" if action == "merged" else \
            "linked" if action == "created" and why.startswith("linked to") else ""
        return verdict, why, spent
    finally:
        store.close()


def score(rows: list[dict[str, Any]], scope: str,
          ) -> tuple[dict[str, dict[str, Any]], float]:
    stats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "same": 0, "scoped": 0, "merged": 0, "linked": 0, "false": 0,
                 "false_links": 0, "missed": [], "wrong": []})
    spent = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            verdict, why, cpu = run_pair(Path(tmp), scope, row)
            spent += cpu
            for key in (f"class {row['class']}", f"lang {row['lang']}", "all"):
                s = stats[key]
                s["n"] += 1
                s["scoped"] += row["same_problem"] and in_scope(scope, row)
                if row["same_problem"]:
                    s["same"] += 1
                    s["merged"] += verdict == "merged"
                    s["linked"] += verdict == "linked"
                    if verdict != "merged":
                        s["missed"].append((row["id"], why or "new ticket"))
                elif verdict:
                    s["false" if verdict == "merged" else "false_links"] += 1
                    s["wrong"].append((row["id"], why))
    return stats, spent


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "mailgate"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default=EVAL, choices=(
        EVAL, "tune", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8",
        "tune9", "tune10", "tune11", "tune12", "tune13", "tune14", "tune15"))
    parser.add_argument("--scope", choices=("domain", "sender"), default="domain")
    parser.add_argument("--show", action="store_true", help="list wrong verdicts (tune only)")
    args = parser.parse_args(argv[1:])
    if args.show and args.part.startswith("eval"):
        parser.error("--show lists what to tune on: never on the evaluation part")
    rows = load(args.part)
    stats, spent = score(rows, args.scope)
    print(f"{'':20} {'pairs':>5} {'same':>5} {'in scope':>8} {'merged':>7} {'+linked':>8} "
          f"{'false merges':>12} {'false links':>11}")
    for key in sorted(stats, key=lambda k: (k == "all", k)):
        s = stats[key]
        merged, either = (f"{n / s['same']:.1%}" if s["same"] else "-"
                          for n in (s["merged"], s["merged"] + s["linked"]))
        print(f"{key:20} {s['n']:>5} {s['same']:>5} {s['scoped']:>8} {merged:>7} "
              f"{either:>8} {s['false']:>12} {s['false_links']:>11}")
    if args.show:
        for key in ("missed", "wrong"):
            for pid, why in stats["all"][key]:
                print(f"{key}: {pid}: {why}")
    total = stats["all"]
    print(json.dumps({"part": args.part, "scope": args.scope, "commit": _commit(),
                      "pairs": total["n"], "same": total["same"], "merged": total["merged"],
                      "recall": round(total["merged"] / max(total["same"], 1), 4),
                      "linked": total["linked"],
                      "recall_with_links": round((total["merged"] + total["linked"])
                                                 / max(total["same"], 1), 4),
                      "false_merges": total["false"], "false_links": total["false_links"],
                      "cpu_ms_per_pair": round(1000 * spent / max(total["n"], 1), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
