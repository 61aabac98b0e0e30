"""Train the sentence judge of the thank-you step (``mailgate/replies/model.py``).

Why offline: the daemon must not download or fit anything; this script writes the
weights file that ships inside the package (``mailgate/data/sentence_model.bin``).

Training data (all of it tuning data, never an evaluation part):
- every ``tests/data/replies/sentences/*.jsonl`` (``<lang>``, ``again-``, ``closing-``,
  ``w9a-``, ``w9b-<lang>``): labelled single sentences
  ("harmless" / "content"), and the clauses of each harmless sentence (harmless too);
- the clauses of every thank-you reply of the tuning parts ``tune``, ``tune2``,
  ``tune3`` .. ``tune14``, ``hard`` and of the
  first labelled set (``tests/data/thanks``) that the rules leave to the judge
  (harmless), and the clauses of their substantive replies that a decisive rule flags
  or that the rules leave to the judge (content: the clause that carries the need is
  one of those, and none of a substantive reply's clauses is ever labelled harmless;
  its greetings, thanks and names are anchored or name-like, so they are not among
  them).
Model: logistic regression over ``model.features`` (hashed, 1/sqrt(n) weighted),
classes weighted to equal total weight, plain SGD with L2, a fixed seed: the same
data gives the same bytes.

Thresholds, cross-fitted: the tuning replies are split in two halves by a hash of
their id (all clauses of a reply on one side); a model trained without one half is
judged on it, for each half. The threshold is the lowest grid value from which on
neither held-out half has a substantive reply that the judge keeps closed and the rules
alone reopen (nor the shipped model, trained on everything, on all of them), plus one
grid step of margin when two replies or more bound it (``safe``: one reply alone binds it
just above itself). Then, each with the ones before it fixed, the same way: the problem
threshold (a clause naming a problem word, which the rules read as negated or over),
the "again" threshold (a clause saying something happens again, with no problem,
negation or qualifier word) and the cue threshold (a clause the rules reopen only for a
request, "still" or interrogative word, with no question mark). The held-out figures
at each are printed: that is how a change is measured before it is shipped.

Usage (repo root): ``.venv/bin/python tools/train_sentences.py [--out PATH]``.
Leave-one-writer-out figures of the same recipe: ``tools/held_out.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.message import parse  # noqa: E402
from mailgate.quotes import ReplyParts, reply_parts  # noqa: E402
from mailgate.replies import Understanding, judge, needs_judge, tags  # noqa: E402
from mailgate.replies.clause import clauses, sentences, substantive_reason  # noqa: E402
from mailgate.replies.lexicon import Lexicon, load_tables  # noqa: E402
from mailgate.replies.model import (  # noqa: E402
    BUCKETS,
    NEVER,
    SentenceModel,
    features,
    to_bytes,
)

DATA = ROOT / "tests" / "data" / "replies"
TUNING = ("tune", "tune2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8", "tune9",
          "tune10", "tune11", "tune12", "tune13", "tune14", "tune15", "tune16", "hard")
LABELLED = ROOT / "tests" / "data" / "thanks" / "labelled.jsonl"
OUT = ROOT / "mailgate" / "data" / "sentence_model.bin"
GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99,
        0.995, 1.01)
DECISIVE = ("a question", "a 'but' or 'still'", "a request", "a problem", "a negated success",
            "something sent for the team to look at")
EPOCHS, RATE, L2, SEED = 12, 0.5, 1e-6, 16


def half(reply_id: str) -> str:
    """Which half of the tuning replies an id falls in: "a" or "b"."""
    return "ab"[zlib.crc32(reply_id.encode("utf-8")) % 2]


def tuning_replies(parts: Iterable[str] = TUNING, labelled: bool = True
                   ) -> list[dict[str, Any]]:
    """Every reply of the tuning ``parts``, parsed once: id, lang, label, parts, sender,
    part; with the first labelled set unless not ``labelled``."""
    rows = []
    for part in parts:
        for path in sorted((DATA / part).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    inbound = parse(row["eml"].encode("utf-8"))
                    rows.append({"id": row["id"], "lang": row["lang"], "label": row["label"],
                                 "parts": reply_parts(inbound.text),
                                 "sender": inbound.from_name, "part": part})
    return rows + (labelled_bodies() if labelled else [])


def labelled_bodies() -> list[dict[str, Any]]:
    """The first labelled set (plain bodies, en sv ru nl de fr es; tuning data now)."""
    rows = []
    for k, line in enumerate(LABELLED.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            row = json.loads(line)
            rows.append({"id": f"labelled-{k}", "lang": row["lang"], "label": row["label"],
                         "parts": reply_parts(row["body"]), "sender": None,
                         "part": "labelled"})
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
    """The clauses of the thank-you replies' new text that the rules leave to the judge:
    harmless; and the clauses of substantive replies that a decisive rule reads as
    substantive (a question, "but", a request, a live problem) or that the rules leave
    to the judge (the calm clause that carries the need, "а на Android застосунок і
    далі викидає"): content. No clause of a substantive reply is labelled harmless."""
    out: list[tuple[str, int]] = []
    for row in rows:
        parts: ReplyParts = row["parts"]
        for sentence in sentences(parts.text):
            if row["label"] == "thanks":  # what the rules leave to the judge
                read = [(c, understanding.clause(c)) for c in clauses(sentence)]
                out += [(c, 1) for c, clause in read
                        if needs_judge(clause) or substantive_reason(clause)]
                continue
            for text in clauses(sentence):
                clause = understanding.clause(text)
                why = substantive_reason(clause)
                if why in DECISIVE or (why is None and needs_judge(clause)):
                    out.append((text, 0))
    return out


def train(examples: list[tuple[str, int]], understanding: Understanding
          ) -> tuple[list[float], float]:
    """Logistic regression by SGD; each class weighs half of the total."""
    rows = [(features(text, tags(understanding.clause(text))), y)
            for text, y in dict.fromkeys(examples)]
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
            bias = min(0.0, bias + g * 0.1)  # never a prior for "harmless"
            step = g * v
            for j in found:
                weights[j] += step - L2 * weights[j]
    return weights, bias


def figures(understanding: Understanding, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The step's verdicts on ``rows``: thank-yous kept closed, substantive kept closed."""
    thanks = kept = 0
    wrong, missed = [], []
    for row in rows:
        verdict = judge(understanding, row["parts"], row["sender"])
        if row["label"] == "thanks":
            thanks += 1
            kept += verdict.thanks_only
            if not verdict.thanks_only:
                missed.append(f"{row['id']}: {verdict.reason}")
        elif verdict.thanks_only:
            wrong.append(f"{row['id']}: {verdict.reason}")
    return {"replies": len(rows), "thanks": thanks, "kept": kept,
            "kept_share": round(kept / max(1, thanks), 4), "wrong": wrong, "missed": missed}


#: hard's scenario 12 writes the request below the quoted history: the step sees it only
#: through the ticket's stored messages (``unseen_history``), which these files do not
#: hold, so whether the rules reopen such a reply here is chance (a signature line read
#: as content): it does not bound the threshold
HISTORY_ONLY = "-h-012"


#: hand-set floors the trainer never goes below: the cross-fitted "again" threshold (0.90
#: on the ninth round's data) leaves a hand-written "again" problem of the tests ("Tack,
#: kunderna ringer igen", "Bedankt, de pinautomaat weigert weer alle kaarten": 0.87-0.90)
#: within a hair of clearing, and the trainer does not see those; held out, 0.92 costs 2
#: of 1,840 thank-yous
FLOOR = {"again_threshold": 0.92}

#: the thresholds a model file holds, in the order they are chosen: each is swept with
#: the ones before it fixed and the ones after it at NEVER (those clauses left to the rules)
STAGES = ("threshold", "problem_threshold", "again_threshold", "cue_threshold")


class Cached(SentenceModel):
    """A model whose scores are remembered: a sweep judges the same clauses per value."""

    memo: dict[tuple[str, tuple[str, ...]], float]

    def score(self, text: str, tags: Iterable[str] = ()) -> float:
        key = (text, tuple(tags))
        if key not in self.memo:
            self.memo[key] = super().score(text, key[1])
        return self.memo[key]


def sweep(lexicon: Lexicon, model: SentenceModel, rows: list[dict[str, Any]],
          fixed: dict[str, float], vary: str) -> dict[float, dict[str, Any]]:
    """Per grid value of the threshold ``vary`` (the others as in ``fixed``, later
    stages at NEVER): the step's figures on ``rows`` and the substantive replies the
    judge keeps closed that the rules alone reopen (``added``)."""
    before = {w.split(":")[0] for w in figures(Understanding(lexicon, None), rows)["wrong"]}
    out = {}
    for t in GRID:
        for name in STAGES:
            setattr(model, name, fixed.get(name, NEVER))
        setattr(model, vary, t)
        found = figures(Understanding(lexicon, model), rows)
        found["added"] = [w for w in found["wrong"] if w.split(":")[0] not in before
                          and not w.split(":")[0].endswith(HISTORY_ONLY)]
        out[t] = found
    return out


def fit(lexicon: Lexicon, rows: list[dict[str, Any]]
        ) -> tuple[SentenceModel, dict[str, Any], list[float]]:
    """A model trained on the sentence files and the replies ``rows``; its header and
    float weights."""
    rules = Understanding(lexicon, None)
    examples = labelled_sentences() + reply_sentences(rows, rules)
    weights, bias = train(examples, rules)
    header = {"bias": bias, "threshold": 1.0, "again_threshold": NEVER,
              "problem_threshold": NEVER, "cue_threshold": NEVER,
              "examples": len(examples),
              "features": "char 2-4 grams, words, bigrams, lexicon tags"}
    model = Cached.from_bytes(to_bytes(header, weights))
    assert isinstance(model, Cached)
    model.memo = {}
    return model, header, weights


#: how many cross-fitted lost reopens make a pattern that earns the margin step: one reply
#: alone (uk-e8-011 "… усе нулі" at 0.68) moved the main threshold two grid steps (above
#: itself, then the margin), and any rule change that nudged one score flipped it
PATTERN = 2


def _lowest(sweeps: list[dict[float, dict[str, Any]]], fewer_than: int) -> int:
    """The index of the lowest grid value from which on every sweep's added replies,
    summed, stay under ``fewer_than``."""
    chosen = len(GRID) - 1
    for k in reversed(range(len(GRID))):
        if sum(len(s[GRID[k]]["added"]) for s in sweeps) >= fewer_than:
            break
        chosen = k
    return chosen


def safe(sweeps: list[dict[float, dict[str, Any]]], margin: int = 1) -> float:
    """The lowest grid threshold from which on no sweep has a reply added by the judge;
    and ``margin`` grid steps above the lowest from which on fewer than ``PATTERN``
    replies are added (data we have not seen is less kind), if that is higher: a single
    reply binds the threshold just above itself, two or more earn the margin too."""
    none = _lowest(sweeps, 1)
    few = _lowest(sweeps, PATTERN)
    return GRID[max(none, min(len(GRID) - 1, few + margin))]


def crossfit(lexicon: Lexicon, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Each half's model judged on the other half: the threshold that adds no lost
    reopen on either, then, with it, the problem threshold, then the "again" threshold
    that add none either (a grid value under the threshold means as strict as it); the
    held-out figures per stage."""
    pairs = []
    for held in "ab":
        model, _, _ = fit(lexicon, [r for r in replies if half(r["id"]) != held])
        pairs.append((model, [r for r in replies if half(r["id"]) == held]))
    fixed: dict[str, float] = {}
    tables = {}
    for stage in STAGES:
        sweeps = [sweep(lexicon, model, rows, fixed, stage) for model, rows in pairs]
        tables[stage] = held_out(sweeps, f"{fixed} {stage}")
        fixed[stage] = safe(sweeps)
    return {"chosen": fixed, "tables": tables}


def held_out(sweeps: list[dict[float, dict[str, Any]]], what: str) -> dict[float, Any]:
    """The halves' figures summed per grid value, printed with each added lost reopen."""
    table = {t: {"kept": sum(s[t]["kept"] for s in sweeps),
                 "thanks": sum(s[t]["thanks"] for s in sweeps),
                 "added": [w for s in sweeps for w in s[t]["added"]]} for t in GRID}
    for t, row in table.items():
        print(f"  held out, {what} {t}: thanks kept closed {row['kept']}/{row['thanks']}, "
              f"lost reopens added by the judge {len(row['added'])}", file=sys.stderr)
        for lost in row["added"]:
            print(f"    {lost[:300]}", file=sys.stderr)
    return table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv[1:])
    replies = tuning_replies()
    lexicon = Lexicon(load_tables())
    held = crossfit(lexicon, replies)
    model, header, weights = fit(lexicon, replies)
    chosen: dict[str, float] = {}
    inside: dict[float, dict[str, Any]] = {}
    for stage in STAGES:  # in sample too: never below what the whole data allows
        inside = sweep(lexicon, model, replies, chosen, stage)
        chosen[stage] = max(held["chosen"][stage], safe([inside], margin=0),
                            FLOOR.get(stage, 0.0))
    header.update(chosen)
    rules = figures(Understanding(lexicon, None), replies)
    data = to_bytes(header, weights)
    args.out.write_bytes(data)
    last = STAGES[-1]
    print(json.dumps({
        "examples": header["examples"], **chosen, "bytes": len(data),
        "held_out": {stage: {k: held["tables"][stage][held["chosen"][stage]][k]
                             for k in ("thanks", "kept", "added")} for stage in STAGES},
        "rules_alone": {"thanks": rules["thanks"], "kept": rules["kept"],
                        "substantive_kept_closed": len(rules["wrong"])},
        "in_sample": {k: inside[chosen[last]][k] for k in ("thanks", "kept", "added")},
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
