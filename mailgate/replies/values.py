"""A zero that is a value, not a quantifier: "zero errors", but "totals show zero".

Why: the lexicon lists "zero" ("null", "sıfır", "ноль", "noll" ...) as a negation,
because "zero errors since the update" says no error is left. Before the word it
negates, it is a quantifier; after the thing it names, it is the value that thing
shows ("Im Monatsbericht stehen alle Summen auf null", "tüm toplamlar sıfır
görünüyor", "visas som noll"), and a negation binding backwards read "Summen" (a
problem word too: German "summen", to hum) as gone and kept a wrong report closed.
So a zero word binds only to a word after it; with none, it binds to nothing, and
the clause is the judge's or reopens (a free negation).
"""

from __future__ import annotations

from mailgate.replies.lexicon import Hit

#: the zero words of the lexicon's negation lists (folded), in the 20 languages
ZERO = frozenset({
    "zero", "null", "zéro", "cero", "nul", "noll", "nolla", "nollaa", "nollia", "nula",
    "nulové", "nulová", "nulový", "ноль", "нули", "нулевые", "нулевой", "нулевая",
    "по нулям", "нуль", "нулі", "нульові", "нульовий", "по нулях", "sıfır", "صفر",
    "أصفار", "ゼロ", "为零", "都是零", "全是零", "제로", "0으로"})


def forward_only(hit: Hit, folded: str) -> bool:
    """A negation that is a zero word: it negates only what follows it."""
    return hit.category == "negation" and folded[hit.start:hit.end] in ZERO


def after(hit: Hit, targets: list[Hit]) -> list[Hit]:
    """The ``targets`` that stand after ``hit``."""
    return [t for t in targets if t.start >= hit.end]
