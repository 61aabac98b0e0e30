"""Research (#18): how far a learned pair scorer reaches across writers, held out.

Leave-one-part-out over the tuning parts (``tune`` .. ``tune14``; never the evaluation
parts): for each part in turn, a model is fitted on all the OTHER parts, its merge threshold
chosen on those parts only (cross-fitted inside them: above every different-problem pair of
each inner part when that inner part was left out of the fit, plus ``--margin`` log-odds,
as ``tools/repeat_pairs.py fit`` does), then measured on the left-out part. Per part it
prints: same-problem pairs in scope, what the hand rules merge (and their false merges),
what the scorer adds at the threshold chosen on the other parts (and the false merges that
threshold makes on the left-out part), and what it could add at best at zero false merges
and at one per 300 pairs (an oracle threshold on the left-out part: the ceiling of the
ranking, not a figure anyone could ship).

Variants (``--variant``, repeatable; all by default):

- ``today``: the shipped recipe, a logistic model over ``repeats.CONTENT``, merging only
  ``Verdict.mergeable`` pairs (the baseline; ``tools/repeat_pairs.py parts --held-out``);
- ``today-open``: the same, allowed to merge any compared pair (no gate);
- ``rich``: the same logistic model over ``FEATURES`` plus text features fitted per fold on
  the fitting parts' texts only (character 3-5-gram TF-IDF cosine of the bodies and of the
  subjects; shared words weighted by IDF over the fold's first mails; lengths; the same
  language; numbers shared vs both having their own);
- ``rich-open``: ``rich`` allowed to merge any compared pair (no ``mergeable`` gate);
- ``content``, ``content-open``: ``rich`` without the situation (a "still", the time
  gap, who writes, whether each mail reports a problem): ``CONTENT`` plus the text features;
- ``gbm``: a small gradient-boosted model (scikit-learn) over the ``rich`` features, gated;
- ``gbm-open``: the same without the gate.

scikit-learn and numpy are NOT project dependencies: install them into your own venv for
this research (``.venv/bin/pip install scikit-learn``). Usage (from the repo root):
``.venv/bin/python tools/repeat_research.py [--variant rich] [--scope domain]
[--margin 1.0] [--cache /tmp/pairs.pickle]``.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from repeat_pairs import PARTS, Pair, examined  # noqa: E402

from mailgate.language import detect  # noqa: E402
from mailgate.quotes import new_text  # noqa: E402
from mailgate.repeats import CONTENT, FEATURES  # noqa: E402

_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\b\w*\d\w*\b", re.UNICODE)
VARIANTS = ("today", "today-open", "rich", "rich-open", "content", "content-open", "gbm",
            "gbm-open")
#: The text features added by ``rich`` (after ``FEATURES``).
EXTRA = ("body_cos", "subject_cos", "all_cos", "idf_shared", "idf_max", "idf_share",
         "len_first", "len_second", "same_language", "numbers_shared", "numbers_own")


def texts(pair: Pair) -> tuple[str, str, str, str]:
    """(first subject, first body, second subject, second body's new text) as the step
    sees them (the second mail's quote of the first cut off)."""
    first, second = pair.row["first"], pair.row["second"]
    return (first["subject"], first["body"], second["subject"], new_text(second["body"]))


class Fold:
    """What is fitted on a fold's own texts only: the character n-gram TF-IDF and the word
    IDF over its first mails."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        bodies = [t for p in pairs for t in (texts(p)[1], texts(p)[3])]
        subjects = [t for p in pairs for t in (texts(p)[0], texts(p)[2])]
        self.body = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                    min_df=2, lowercase=True).fit(bodies)
        self.subject = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                       sublinear_tf=True, min_df=2).fit(subjects)
        firsts = [_words(f"{texts(p)[0]} {texts(p)[1]}") for p in pairs]
        df = Counter(w for words in firsts for w in words)
        self.size = len(firsts)
        self.idf = {w: math.log((1 + self.size) / (1 + n)) + 1 for w, n in df.items()}

    def word_idf(self, word: str) -> float:
        return self.idf.get(word, math.log(1 + self.size) + 1)

    def extra(self, pairs: Sequence[Pair]) -> list[tuple[float, ...]]:
        """The ``EXTRA`` features of each pair."""
        all_texts = [texts(p) for p in pairs]
        body_a = self.body.transform([t[1] for t in all_texts])
        body_b = self.body.transform([t[3] for t in all_texts])
        subj_a = self.subject.transform([t[0] for t in all_texts])
        subj_b = self.subject.transform([t[2] for t in all_texts])
        both_a = self.body.transform([f"{t[0]} {t[1]}" for t in all_texts])
        both_b = self.body.transform([f"{t[2]} {t[3]}" for t in all_texts])
        body_cos = body_a.multiply(body_b).sum(axis=1).A1
        subj_cos = subj_a.multiply(subj_b).sum(axis=1).A1
        all_cos = both_a.multiply(both_b).sum(axis=1).A1
        out = []
        for i, t in enumerate(all_texts):
            wa, wb = _words(f"{t[0]} {t[1]}"), _words(f"{t[2]} {t[3]}")
            shared = wa & wb
            idfs = [self.word_idf(w) for w in shared]
            union = sum(self.word_idf(w) for w in wa | wb)
            na, nb = _numbers(f"{t[0]} {t[1]}"), _numbers(f"{t[2]} {t[3]}")
            out.append((float(body_cos[i]), float(subj_cos[i]), float(all_cos[i]),
                        min(sum(i_ for i_ in idfs if i_ > 3.0), 40.0),
                        max(idfs, default=0.0), sum(idfs) / max(union, 1.0),
                        math.log1p(len(t[1])), math.log1p(len(t[3])),
                        float(_language(t[1]) == _language(t[3])),
                        float(len(na & nb)), float(bool(na - nb and nb - na and not na & nb))))
        return out


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.casefold()) if len(w) > 2)


def _numbers(text: str) -> frozenset[str]:
    """Tokens with a digit (order numbers, codes, hosts, times)."""
    return frozenset(t for t in _NUMBER.findall(text.casefold()) if len(t) >= 3)


def _language(text: str) -> str:
    return detect(text)


def matrix(pairs: Sequence[Pair], fold: Fold | None, columns: Sequence[int]) -> Any:
    """The features of ``pairs`` (the ``columns`` of ``FEATURES``, then ``EXTRA`` when a fold
    is given) as a numpy array."""
    import numpy as np

    base = np.array([[p.features[i] for i in columns] for p in pairs], dtype=float)
    if fold is None:
        return base
    return np.hstack([base, np.array(fold.extra(pairs), dtype=float)])


def model_for(kind: str) -> Callable[[], Any]:
    """A factory for the classifier of a variant: a logistic model with pairscore's L2
    penalty (``C`` 1 on standardised features), or a small boosted tree model."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "gbm":
        return lambda: HistGradientBoostingClassifier(
            max_depth=3, max_iter=150, learning_rate=0.05, min_samples_leaf=20,
            l2_regularization=1.0, random_state=0)
    return lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def scored(pair: Pair, scope: str) -> bool:
    """Whether the scorer sees the pair in ``scope`` (compared, not merged by the rules)."""
    return scope in pair.scopes and bool(pair.features) and pair.hand != "merged"


def logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


class Variant:
    """One way of scoring pairs: which features, which model, whether gated."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rich = not name.startswith("today")
        self.gated = not name.endswith("-open")
        whole = name.startswith(("rich", "gbm"))
        self.columns = [FEATURES.index(n) for n in (FEATURES if whole else CONTENT)]
        self.make = model_for("gbm" if name.startswith("gbm") else "logistic")

    def open(self, pair: Pair) -> bool:
        return pair.mergeable or not self.gated

    def fitted(self, x: Any, rows: Sequence[int], labels: Sequence[bool]) -> Any:
        """The variant's model fitted on the ``rows`` of ``x``."""
        return self.make().fit(x[list(rows)], [labels[i] for i in rows])


def threshold(variant: Variant, x: Any, seen: Sequence[Pair], parts: Sequence[str],
              margin: float, allowed: dict[str, int] | None = None) -> float:
    """The merge threshold chosen on ``parts`` only: the highest different problem the
    variant may merge of each inner part, scored by a model fitted on the other inner
    parts, plus ``margin`` log-odds (``allowed``: above all but that many of each inner
    part's different problems, e.g. one per 300 pairs). (The text features' IDF is the
    outer fold's: fitted on all of ``parts``, the inner left-out part's texts included,
    unlabelled.)"""
    labels = [bool(p.row["same_problem"]) for p in seen]
    top = 0.0
    for inner in parts:
        train = [i for i, p in enumerate(seen) if p.part in parts and p.part != inner]
        test = [i for i, p in enumerate(seen) if p.part == inner and not labels[i]
                and variant.open(p)]
        if test:
            model = variant.fitted(x, train, labels)
            ranked = sorted((float(v) for v in model.predict_proba(x[test])[:, 1]),
                            reverse=True)
            k = (allowed or {}).get(inner, 0)
            top = max(top, ranked[k] if len(ranked) > k else 0.0)
    return 1 / (1 + math.exp(-(logit(top) + margin)))


def above(same: list[float], different: list[float], allowed: int) -> int:
    """Same-problem scores strictly above the (allowed + 1)-th highest different one."""
    different = sorted(different, reverse=True)
    bar = different[allowed] if len(different) > allowed else -1.0
    return sum(s > bar for s in same)


def auc(same: list[float], different: list[float]) -> float:
    """The chance a same-problem pair scores above a different one (ties count half)."""
    if not same or not different:
        return float("nan")
    wins = sum((s > d) + 0.5 * (s == d) for s in same for d in different)
    return wins / (len(same) * len(different))


def run(variant: Variant, pairs: Sequence[Pair], scope: str, margin: float,
        top: int = 0, per: int = 0) -> None:
    """Print the left-out table of one variant (``per``: the threshold allows one false
    merge per that many pairs of each inner part; 0: none)."""
    sizes = Counter(p.part for p in pairs)
    allowed = {name: n // per for name, n in sizes.items()} if per else None
    seen = [p for p in pairs if scored(p, scope)]
    totals = Counter[str]()
    print(f"\n== {variant.name} (scope {scope}, margin {margin}"
          f"{f', threshold allows 1 per {per} pairs' if per else ''}) ==")
    print(f"{'part':7} {'pairs':>5} {'same':>5} {'rules':>5} {'rfalse':>6} | "
          f"{'thr':>6} {'+merged':>7} {'false':>5} | {'+@0':>4} {'+@1/300':>7} | "
          f"{'total':>6} {'total@0':>7} | {'open':>4} {'auc':>5}")
    for part in PARTS:
        started = time.process_time()
        mine = [p for p in pairs if p.part == part]
        same = sum(bool(p.row["same_problem"]) for p in mine)
        rules = sum(p.hand == "merged" and scope in p.scopes and p.row["same_problem"]
                    for p in mine)
        rules_false = sum(p.hand == "merged" and scope in p.scopes
                          and not p.row["same_problem"] for p in mine)
        fold = Fold([p for p in pairs if p.part != part]) if variant.rich else None
        x = matrix(seen, fold, variant.columns)
        labels = [bool(p.row["same_problem"]) for p in seen]
        bar = threshold(variant, x, seen, [n for n in PARTS if n != part], margin, allowed)
        index = [i for i, p in enumerate(seen) if p.part == part and variant.open(p)]
        test = [seen[i] for i in index]
        model = variant.fitted(x, [i for i, p in enumerate(seen) if p.part != part], labels)
        probs = [float(v) for v in model.predict_proba(x[index])[:, 1]] if index else []
        yes = [s for s, p in zip(probs, test, strict=True) if p.row["same_problem"]]
        no = [s for s, p in zip(probs, test, strict=True) if not p.row["same_problem"]]
        merged, false = sum(s >= bar for s in yes), sum(s >= bar for s in no)
        at0, at1 = above(yes, no, 0), above(yes, no, len(mine) // 300)
        row = {"pairs": len(mine), "same": same, "rules": rules, "rules_false": rules_false,
               "merged": merged, "false": false, "at0": at0, "at1": at1, "open": len(yes)}
        totals.update(row)
        ranked = sorted(zip(probs, test, strict=True), key=lambda sp: -sp[0])
        for p, pair in [sp for sp in ranked if not sp[1].row["same_problem"]][:top]:
            print(f"  top different {pair.row['id']} {pair.row['class']} {pair.row['lang']} "
                  f"p {p:.4f}: {pair.row['first']['subject']!r} / "
                  f"{pair.row['second']['subject']!r}")
        print(f"{part:7} {len(mine):5} {same:5} {rules:5} {rules_false:6} | {bar:6.3f} "
              f"{merged:7} {false:5} | {at0:4} {at1:7} | "
              f"{(rules + merged) / max(same, 1):6.1%} {(rules + at0) / max(same, 1):7.1%} | "
              f"{len(yes):4} {auc(yes, no):5.3f}   ({time.process_time() - started:.0f} s)",
              flush=True)
    t = totals
    print(f"{'all':7} {t['pairs']:5} {t['same']:5} {t['rules']:5} {t['rules_false']:6} | "
          f"{'':6} {t['merged']:7} {t['false']:5} | {t['at0']:4} {t['at1']:7} | "
          f"{(t['rules'] + t['merged']) / t['same']:6.1%} "
          f"{(t['rules'] + t['at0']) / t['same']:7.1%} | {t['open']:4}")


def load_pairs(cache: Path | None) -> list[Pair]:
    """Every tuning pair as the step sees it (rules alone, with features), cached."""
    if cache is not None and cache.exists():
        with cache.open("rb") as fh:
            loaded: list[Pair] = pickle.load(fh)  # our own cache
            return loaded
    pairs = examined(PARTS)
    if cache is not None:
        with cache.open("wb") as fh:
            pickle.dump(pairs, fh)
    return pairs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, action="append")
    parser.add_argument("--scope", choices=("domain", "sender"), default="domain")
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--cache", type=Path, help="pickle of the examined pairs")
    parser.add_argument("--top", type=int, default=0,
                        help="list each left-out part's highest-scored different problems")
    parser.add_argument("--per", type=int, default=0,
                        help="the threshold allows one false merge per PER pairs of each "
                             "inner part (0: none)")
    args = parser.parse_args(argv[1:])
    pairs = load_pairs(args.cache)
    for name in args.variant or VARIANTS:
        run(Variant(name), pairs, args.scope, args.margin, args.top, args.per)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
