"""The pair scorer: how likely two mails report one problem, learned from labelled pairs.

The hand rules of ``mailgate.repeats`` merge only on strong evidence; most repeat reports
written by people who never saw them (a colleague's report of the same outage, the same
person's reworded reminder) carry none and get their own ticket, linked at best. The pair
scorer weighs what ``compare`` found (``repeats.FEATURES``: shared codes, identifiers,
product names and words, concepts, the time gap, who writes, whether each mail reports a
problem, the subjects, the length ratio) by a logistic model fitted on the tuning parts
(``tools/repeat_pairs.py fit``). Its merge threshold is cross-fitted: above every
different-problem pair of a part left out of the fit, on each part in turn; so it merges
only what it is very sure of, and only a pair that reaches ``compare``'s bar with enough
shared terms (``Verdict.mergeable``: it replaces the strong-evidence gate, not the bar),
never a mail that says the first problem is over or asks for something new. What reaches
only the link threshold is linked with a notice. The model and thresholds are
``mailgate/data/repeat_scorer.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Model:
    """A logistic model over standardised features, with its merge and link thresholds."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    merge: float
    link: float
    columns: tuple[int, ...] = ()  # which of the features it weighs (all when empty)

    def probability(self, features: tuple[float, ...]) -> float:
        """How likely the pair reports one problem (0 for a pair with no features)."""
        if self.columns:
            if not features or max(self.columns) >= len(features):
                return 0.0
            features = tuple(features[i] for i in self.columns)
        if not features or len(features) != len(self.weights):
            return 0.0
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in
                            zip(self.weights, features, self.mean, self.scale, strict=True))
        return 1 / (1 + math.exp(-max(min(z, 40.0), -40.0)))

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias, "merge": self.merge,
                "link": self.link, "columns": list(self.columns)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls(tuple(data["names"]), tuple(data["mean"]), tuple(data["scale"]),
                   tuple(data["weights"]), float(data["bias"]), float(data["merge"]),
                   float(data["link"]), tuple(data.get("columns", ())))


@dataclass(frozen=True)
class Scorer:
    """Two models fitted on every pair the rules do not merge: the merger weighs only what
    the two mails share (codes, identifiers, names, words, concepts, subjects: ``CONTENT``),
    with its merge threshold; the linker weighs the situation too (a "still", the time gap,
    who writes), with its link threshold. A "still" half an hour later says "linked", not
    "merged": the ninth session's stress test merged other stories on it at p 1.00."""

    merger: Model
    linker: Model

    def to_json(self) -> dict[str, Any]:
        return {"merger": self.merger.to_json(), "linker": self.linker.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorer:
        return cls(Model.from_json(data["merger"]), Model.from_json(data["linker"]))


@cache
def shipped() -> Scorer:
    """The scorer fitted on all tuning parts (``mailgate/data/repeat_scorer.json``)."""
    text = resources.files("mailgate.data").joinpath("repeat_scorer.json").read_text("utf-8")
    return Scorer.from_json(json.loads(text))


def fit(rows: list[tuple[tuple[float, ...], bool]], names: tuple[str, ...],
        ridge: float = 1.0, rounds: int = 25, columns: tuple[int, ...] = ()) -> Model:
    """A logistic model fitted by Newton's method with an L2 penalty, over the ``columns``
    of the features (all when empty; ``names`` names those weighed); thresholds 1."""
    if columns:
        rows = [(tuple(x[i] for i in columns), y) for x, y in rows]
    width = len(names)
    mean = tuple(sum(x[i] for x, _ in rows) / len(rows) for i in range(width))
    scale = tuple(max(math.sqrt(sum((x[i] - mean[i]) ** 2 for x, _ in rows) / len(rows)),
                      1e-6) for i in range(width))
    data = [([1.0] + [(x[i] - mean[i]) / scale[i] for i in range(width)], float(y))
            for x, y in rows]
    beta = [0.0] * (width + 1)
    for _ in range(rounds):
        grad = [0.0] * (width + 1)
        hess = [[ridge * (i == j and i > 0) for j in range(width + 1)] for i in range(width + 1)]
        for i in range(1, width + 1):
            grad[i] = ridge * beta[i]
        for x, y in data:
            z = sum(b * v for b, v in zip(beta, x, strict=True))
            p = 1 / (1 + math.exp(-max(min(z, 40.0), -40.0)))
            w = p * (1 - p)
            for i, xi in enumerate(x):
                grad[i] += (p - y) * xi
                row, wxi = hess[i], w * xi
                for j in range(i, width + 1):
                    row[j] += wxi * x[j]
        for i in range(width + 1):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return Model(names, mean, scale, tuple(beta[1:]), beta[0], 1.0, 1.0, columns)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix @ x = vector (Gaussian elimination with partial pivoting)."""
    size = len(vector)
    aug = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(aug[r][col]))
        aug[col], aug[pivot] = aug[pivot], aug[col]
        if abs(aug[col][col]) < 1e-12:
            continue
        for r in range(col + 1, size):
            factor = aug[r][col] / aug[col][col]
            if factor:
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col], strict=True)]
    out = [0.0] * size
    for r in range(size - 1, -1, -1):
        if abs(aug[r][r]) >= 1e-12:
            out[r] = (aug[r][size] - sum(aug[r][c] * out[c] for c in range(r + 1, size))) \
                / aug[r][r]
    return out


#: A scorer that never merges nor links: the hand rules alone.
NEVER = Scorer(Model((), (), (), (), 0.0, 2.0, 2.0), Model((), (), (), (), 0.0, 2.0, 2.0))


def judge(features: tuple[float, ...], mergeable: bool, scorer: Scorer) -> tuple[str, float]:
    """("merge", "link" or "", probability) for a pair the hand rules did not merge; only
    a ``mergeable`` pair (it reaches ``compare``'s bar with enough shared terms, and says
    neither "works again" nor asks for something new) may merge: a likely pair that shares
    nothing ("still" from the same sender half an hour later) is linked at most."""
    if not features:
        return "", 0.0
    if mergeable:
        p = scorer.merger.probability(features)
        if p >= scorer.merger.merge:
            return "merge", p
    p = scorer.linker.probability(features)
    return ("link" if p >= scorer.linker.link else ""), p
