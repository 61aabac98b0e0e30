"""The cause told as found: "det var sladden 🙈", "Era isso mesmo", "sorun oymuş".

Why: a customer who found the cause after the engineer's hint says what it was, in
the past, and that says the problem is over ("it was the cable", "дело было в этом",
"케이블 문제였어요"). The lexicon's ``cause`` lists hold those phrases ("that was it",
"det var", "era", "oymuş", "문제였"). Such a phrase is a success only in a short
clause with no cue beside it; "det var tre kunder som ringde i morse" or "it was the
export that failed again" tell more than a cause, and there a phrase of two words is
a filler (as "det" alone is), a longer one words no list knows (a problem, a
negation, "but", "again" or a request beside it decide as always).
"""

from __future__ import annotations

from dataclasses import replace

from mailgate.replies.lexicon import Hit

CAUSE_WORDS = 5  # words in a clause that only names the cause: "det var bara sladden"
#: what may stand beside a cause phrase for it to count: the harmless lists
_BESIDE = frozenset({"gratitude", "pleasantry", "apology", "closing", "greeting", "solved",
                     "gone", "cause"})


def told_over(hits: list[Hit], folded: str, words: list[tuple[int, int]]) -> list[Hit]:
    """``hits`` with each cause phrase read as a success in a short clause with no cue
    beside it, else dropped (see the module docstring)."""
    if not any(h.category == "cause" for h in hits):
        return hits
    short = len(words) <= CAUSE_WORDS and all(h.category in _BESIDE for h in hits)
    if short:
        return [replace(h, category="solved") if h.category == "cause" else h for h in hits]
    # a short phrase ("det var", "was de") is then what its words were before it was
    # listed, a filler; a longer one ("проблема была в") says nothing by itself
    return [replace(h, category="pleasantry") if h.category == "cause" and h.words <= 2
            else h for h in hits if h.category != "cause" or h.words <= 2]
