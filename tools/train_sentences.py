"""Train the sentence judge of the thank-you step (``mailgate/replies/model.py``).

Why offline: the daemon must not download or fit anything; this script writes the
weights file that ships inside the package (``mailgate/data/sentence_model.bin``).

Training data (all of it tuning data, never an evaluation part):
- ``tests/data/replies/sentences/<lang>.jsonl``: labelled single sentences
  ("harmless" / "content"), and the clauses of each harmless sentence (harmless too);
- the sentences and clauses of every thank-you reply of the tuning parts ``tune``,
  ``tune2`` and ``hard`` (their new text as the step reads it: all harmless), and the
  clauses of their substantive replies that a decisive rule flags (content).
Model: logistic regression over ``model.features`` (hashed, 1/sqrt(n) weighted),
classes weighted to equal total weight, plain SGD with L2, a fixed seed: the same
data gives the same bytes.

Threshold: the lowest P(harmless) on a fixed grid at which the judge makes the step
keep NO substantive reply of the tuning parts (``tune``, ``tune2``, ``hard``) closed
that the rules alone reopen; it is stored in the file's header.

``--holdout a|b`` leaves that half of the tuning parts' replies (by a hash of their
id) out of the training and the threshold choice, and prints the step's figures
on it: that is how a change is measured before it is shipped.

Usage (repo root): ``.venv/bin/python tools/train_sentences.py [--holdout a|b]
[--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.message import parse  # noqa: E402
from mailgate.quotes import ReplyParts, reply_parts  # noqa: E402
from mailgate.replies import (  # noqa: E402
    Understanding,
    clauses,
    judge,
    sentences,
    substantive_reason,
)
from mailgate.replies.lexicon import Lexicon, load_tables  # noqa: E402
from mailgate.replies.model import BUCKETS, SentenceModel, features, to_bytes  # noqa: E402

DATA = ROOT / "tests" / "data" / "replies"
TUNING = ("tune", "tune2", "hard")
OUT = ROOT / "mailgate" / "data" / "sentence_model.bin"
GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99,
        0.995, 1.01)
DECISIVE = ("a question", "a 'but' or 'still'", "a request", "a problem", "a negated success")
EPOCHS, RATE, L2, SEED = 12, 0.5, 1e-6, 16


def half(reply_id: str) -> str:
    """Which half of the tuning replies an id falls in: "a" or "b"."""
    return "ab"[zlib.crc32(reply_id.encode("utf-8")) % 2]


def tuning_replies() -> list[dict[str, Any]]:
    """Every reply of the tuning parts, parsed once: id, lang, label, parts, sender."""
    rows = []
    for part in TUNING:
        for path in sorted((DATA / part).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    inbound = parse(row["eml"].encode("utf-8"))
                    rows.append({"id": row["id"], "lang": row["lang"], "label": row["label"],
                                 "parts": reply_parts(inbound.text),
                                 "sender": inbound.from_name})
    return rows


def labelled_sentences() -> list[tuple[str, int]]:
    """(text, 1 harmless / 0 content) from the sentence files, with harmless clauses."""
    out: list[tuple[str, int]] = []
    for path in sorted((DATA / "sentences").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            harmless = int(row["label"] == "harmless")
            out.append((row["text"], harmless))
            if harmless:
                out += [(c, 1) for c in clauses(row["text"]) if c != row["text"].strip()]
    return out


def reply_sentences(rows: list[dict[str, Any]], understanding: Understanding
                    ) -> list[tuple[str, int]]:
    """The sentences and clauses of the thank-you replies' new text: harmless; and the
    clauses of substantive replies that a decisive rule reads as substantive (a question,
    "but", a request, a live problem): content."""
    out: list[tuple[str, int]] = []
    for row in rows:
        parts: ReplyParts = row["parts"]
        for sentence in sentences(parts.text):
            if row["label"] == "thanks":
                out.append((sentence, 1))
                out += [(c, 1) for c in clauses(sentence) if c != sentence]
                continue
            for text in clauses(sentence):
                why = substantive_reason(understanding.clause(text))
                if why in DECISIVE:
                    out.append((text, 0))
    return out


def train(examples: list[tuple[str, int]]) -> tuple[list[float], float]:
    """Logistic regression by SGD; each class weighs half of the total."""
    rows = [(features(text), y) for text, y in dict.fromkeys(examples)]
    counts = Counter(y for _, y in rows)
    weigh = {y: len(rows) / (2 * n) for y, n in counts.items()}
    weights = [0.0] * BUCKETS
    bias = 0.0
    order = list(range(len(rows)))
    rng = random.Random(SEED)
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        rate = RATE / (1 + epoch)
        for i in order:
            found, y = rows[i]
            if not found:
                continue
            v = 1 / math.sqrt(len(found))
            z = max(-30.0, min(30.0, bias + v * sum(weights[j] for j in found)))
            g = (y - 1 / (1 + math.exp(-z))) * weigh[y] * rate
            bias += g * 0.1
            step = g * v
            for j in found:
                weights[j] += step - L2 * weights[j]
    return weights, bias


def figures(understanding: Understanding, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The step's verdicts on ``rows``: thank-yous kept closed, substantive kept closed."""
    thanks = kept = 0
    wrong = []
    for row in rows:
        verdict = judge(understanding, row["parts"], row["sender"])
        if row["label"] == "thanks":
            thanks += 1
            kept += verdict.thanks_only
        elif verdict.thanks_only:
            wrong.append(f"{row['id']}: {verdict.reason}")
    return {"replies": len(rows), "thanks": thanks, "kept": kept,
            "kept_share": round(kept / max(1, thanks), 4), "wrong": wrong}


def threshold(lexicon: Lexicon, model: SentenceModel,
              rows: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """The lowest grid threshold at which the judge keeps no substantive reply of ``rows``
    closed that the rules alone reopen (those the rules already miss are listed apart)."""
    before = {w.split(":")[0] for w in figures(Understanding(lexicon, None), rows)["wrong"]}
    for t in GRID:
        model.threshold = t
        found = figures(Understanding(lexicon, model), rows)
        added = [w for w in found["wrong"] if w.split(":")[0] not in before]
        print(f"  threshold {t}: kept {found['kept_share']:.1%}, substantive kept closed "
              f"{len(found['wrong'])} ({len(added)} by the judge)", file=sys.stderr)
        if not added:
            return t, found
    raise SystemExit("no threshold keeps every substantive reply open")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", choices=("a", "b"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv[1:])
    replies = tuning_replies()
    used = [r for r in replies if half(r["id"]) != args.holdout]
    lexicon = Lexicon(load_tables())
    examples = labelled_sentences() + reply_sentences(used, Understanding(lexicon, None))
    weights, bias = train(examples)
    header = {"bias": bias, "threshold": 1.01, "features": "char 2-4 grams, words, bigrams",
              "examples": len(examples)}
    model = SentenceModel.from_bytes(to_bytes(header, weights))
    chosen, found = threshold(lexicon, model, used)
    header["threshold"] = chosen
    data = to_bytes(header, weights)
    out = args.out or (OUT if args.holdout is None else None)
    if out is not None:
        out.write_bytes(data)
    summary: dict[str, Any] = {"examples": len(examples), "threshold": chosen,
                               "tuning": {k: v for k, v in found.items() if k != "wrong"},
                               "bytes": len(data)}
    if args.holdout:
        model.threshold = chosen
        held = figures(Understanding(lexicon, model), [
            r for r in replies if half(r["id"]) == args.holdout])
        summary["held_out"] = held
        base = figures(Understanding(lexicon, None), [
            r for r in replies if half(r["id"]) == args.holdout])
        summary["held_out_without_model"] = {k: v for k, v in base.items() if k != "wrong"}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
