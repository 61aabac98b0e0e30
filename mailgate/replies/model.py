"""The sentence judge: does one sentence of a reply only say that things work now?

Why: customers confirm a fix in their own words ("Os pedidos voltaram a entrar
direto", "Документы подписываются", "已经可以登录了"), with verbs and nouns no
lexicon lists. A small logistic regression over hashed character n-grams and
word unigrams/bigrams, trained offline by ``tools/train_sentences.py`` on
labelled sentences (``tests/data/replies/sentences``) and the clauses of the
tuning parts' thank-yous, tells such a sentence ("harmless") from news the
engineer must act on ("content"). Standard library only: the weights are one
int8 array in ``mailgate/data/sentence_model.bin`` (no download, no numpy).

File format: ``MGSJ1\\n``, a 4-byte big-endian header length, a JSON header
(``buckets``, ``scale``, ``bias``, ``threshold``, ``again_threshold``,
``problem_threshold``, ``cue_threshold``, what it was trained on), then
``buckets`` signed bytes (weight = byte * scale).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import struct
import zlib
from array import array
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from mailgate.replies.lexicon import fold

MAGIC = b"MGSJ1\n"
BUCKETS = 1 << 18
NEVER = 2.0  # a threshold no probability reaches
_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Folded, digits as "0", spaces collapsed, padded with one space each side."""
    return f" {_SPACE.sub(' ', _DIGITS.sub('0', fold(text))).strip()} "


def features(text: str, tags: Iterable[str] = (), buckets: int = BUCKETS) -> list[int]:
    """The distinct hashed features of one sentence: character 2- to 4-grams (they carry
    stems and endings in any script: "-ются", "voltaram", "可以"), word unigrams and
    bigrams, and ``tags`` (what the lexicon read in it: "again", a free negation).
    crc32, not ``hash()``: the same buckets in every process."""
    norm = normalise(text)
    grams = {f"{n}{norm[i:i + n]}" for n in (2, 3, 4) for i in range(len(norm) - n + 1)}
    words = _WORD.findall(norm)
    grams.update(f"w{w}" for w in words)
    grams.update(f"b{a} {b}" for a, b in itertools.pairwise(words))
    grams.update(f"t{t}" for t in tags)
    return sorted({zlib.crc32(g.encode("utf-8")) % buckets for g in grams})


class SentenceModel:
    """Loaded weights; ``score`` is the probability that a sentence is harmless."""

    def __init__(self, header: dict[str, Any], weights: array[int]) -> None:
        self.header = header
        self.buckets = int(header["buckets"])
        self.scale = float(header["scale"])
        self.bias = float(header["bias"])
        self.threshold = float(header["threshold"])
        # an "again" clause ("die Buchungen trudeln wieder ein") must clear this one too;
        # a file without it never clears one (the rules decide "again" alone)
        self.again_threshold = float(header.get("again_threshold", NEVER))
        # a clause naming a problem word ("no error since", "المشكلة رجعت ...") must clear
        # this one too: the rules' reading of its negation is what the judge is trusted
        # against; a file without it uses the threshold alone
        self.problem_threshold = float(header.get("problem_threshold", self.threshold))
        # a clause the rules reopen only for a word cue (a request, "still" or question
        # word, no question mark) must clear this one too; a file without it never clears one
        self.cue_threshold = float(header.get("cue_threshold", NEVER))
        self.weights = weights
        if len(weights) != self.buckets:
            raise ValueError(f"sentence model: {len(weights)} weights, header says "
                             f"{self.buckets}")

    def score(self, text: str, tags: Iterable[str] = ()) -> float:
        """P(harmless) of ``text``; features weigh 1/sqrt(count), as in training."""
        found = features(text, tags, self.buckets)
        if not found:
            return 0.0
        w = self.weights
        total = sum(w[i] for i in found) * self.scale / math.sqrt(len(found))
        z = max(-30.0, min(30.0, self.bias + total))
        return 1.0 / (1.0 + math.exp(-z))

    def harmless(self, text: str, tags: Iterable[str] = (), *,
                 again: bool = False, problem: bool = False, cue: bool = False
                 ) -> float | None:
        """The score when it clears the threshold (confidently harmless), else None;
        ``again``: the clause says something happens again, ``problem``: it names a
        problem word, ``cue``: a word cue reopens it; each must clear its own threshold
        as well."""
        s = self.score(text, tags)
        bar = max(self.threshold, self.again_threshold if again else 0.0,
                  self.problem_threshold if problem else 0.0,
                  self.cue_threshold if cue else 0.0)
        return s if s >= bar else None

    @classmethod
    def from_bytes(cls, data: bytes) -> SentenceModel:
        """The model in ``data``; ValueError if it is not a whole model file."""
        if not data.startswith(MAGIC):
            raise ValueError("not a sentence model file")
        at = len(MAGIC)
        try:
            (size,) = struct.unpack(">I", data[at:at + 4])
            header = json.loads(data[at + 4:at + 4 + size].decode("utf-8"))
            weights = array("b")
            weights.frombytes(data[at + 4 + size:])
            return cls(header, weights)
        except (struct.error, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"sentence model file: {exc!r}") from None

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentenceModel:
        """The packaged model, or the one at ``path``."""
        if path is None:
            data = resources.files("mailgate.data").joinpath("sentence_model.bin").read_bytes()
        else:
            data = Path(path).read_bytes()
        return cls.from_bytes(data)


def to_bytes(header: dict[str, Any], weights: Iterable[float]) -> bytes:
    """Quantise float weights to int8 (scale = largest |weight| / 127) with ``header``."""
    values = list(weights)
    scale = max((abs(v) for v in values), default=1.0) / 127 or 1.0
    packed = array("b", (max(-127, min(127, round(v / scale))) for v in values))
    meta = json.dumps({**header, "buckets": len(values), "scale": scale},
                      sort_keys=True, ensure_ascii=False).encode("utf-8")
    return MAGIC + struct.pack(">I", len(meta)) + meta + packed.tobytes()
