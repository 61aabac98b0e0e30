"""A "but" whose content is a success: "Sofia är ledig idag, men hos henne funkar det nu".

Why: "but" makes a clause substantive because what follows it is usually what is still
wrong ("works, but the scanner still jams"). When all that follows the "but" is a
success, and nothing after it is a cue (a problem, a negation, a qualifier, "only",
"again", a request, a question word), the "but" sets the success against something
said before it ("Rachel's off today but I can confirm it's working again", "maar bij
haar werkt het weer", "але в неї все працює"): the success is what the customer tells,
and the "but" is dropped. What stands before it is read as always: a problem there
still counts ("the scanner jams, but the printer works" reopens for "jams").
"""

from __future__ import annotations

import re

from mailgate.replies.lexicon import Hit

_WORD = re.compile(r"[^\W\d_]+")

#: the "but" conjunctions of the 20 languages' contrast lists (folded): words that set
#: what follows against what precedes; "still", "only", "unfortunately" are no such word
BUT = frozenset({
    "but", "however", "aber", "jedoch", "mais", "pero", "ma", "però", "mas", "porém",
    "porem", "maar", "men", "mutta", "ale", "но", "але", "ama", "fakat", "ancak", "لكن",
    "ولكن", "بس", "لكنّ", "但", "但是", "不过", "可是", "하지만", "그런데", "근데", "그러나"})
#: what may follow such a "but" for the success to stand alone
_HARMLESS_AFTER = frozenset({"solved", "gratitude", "pleasantry", "apology", "closing",
                             "greeting"})


def conceded(hits: list[Hit], folded: str) -> list[Hit]:
    """``hits`` without a "but" that only a success follows (see the module docstring)."""
    for k, hit in enumerate(hits):
        if hit.category != "contrast" or folded[hit.start:hit.end] not in BUT:
            continue
        rest = hits[k + 1:]
        # "again" beside the success is "works again" ("maar bij haar werkt het weer")
        if rest and all(h.category in _HARMLESS_AFTER or h.category == "again"
                        for h in rest) and any(
                h.category == "solved" for h in rest) and _unknown_after(
                hit, rest, folded) <= UNKNOWN_AFTER:
            return hits[:k] + rest
        return hits
    return hits


UNKNOWN_AFTER = 2  # words no list knows after the "but": "hos henne" (for her), not a story


def _unknown_after(but: Hit, rest: list[Hit], folded: str) -> int:
    """Words after the "but" that no hit covers ("maar de synchronisatie stopt elke
    nacht": "stopt elke nacht" says more than a success)."""
    words = [m for m in _WORD.finditer(folded, but.end)]
    return sum(1 for m in words if not any(h.start <= m.start() < h.end for h in rest))
