"""A short harmless word of one language inside a clause written in another.

Why: the lexicon merges all languages, so a two-letter word of thanks in one of them
("ta", English thanks) is an ordinary word in another (Czech "ta", that one: "To nebyla
ta tiskárna – netiskne ta v ordinaci", the other printer does not print). Read as
thanks, it anchored a clause that reports a fault and kept a ticket closed. The
mirror of ``consent.by_language`` (a cue of another language): a word of thanks of
at most two letters counts only when it stands alone (with at most one other word:
"Ta!", "ta very much") or when the clause may be in a language that lists it, that
is, no other word of the clause holds a letter that language's lists never use
("tiskárna": "á" is no English letter). Longer words ("thanks", "danke", "super")
are borrowed across languages too often ("Thanks für alles") to be read so.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mailgate.replies.lexicon import Hit, Lexicon

#: what a short word of another language may lose: thanks ("ta", "ty"); a short "ok" or
#: "hi" is the same word in most languages that use it
_HARMLESS = frozenset({"gratitude"})
_LETTERS = re.compile(r"[^\W\d_]+")
SHORT = 2  # letters: "ta", "ty"; a longer word is read wherever it stands


def foreign_short_words(hits: list[Hit], folded: str, lexicon: Lexicon) -> list[Hit]:
    """``hits`` without each harmless word of at most ``SHORT`` letters whose languages
    cannot have written the clause's other words (see the module docstring)."""
    if not any(h.words == 1 and h.end - h.start <= SHORT and h.category in _HARMLESS
               for h in hits):
        return hits
    words = [(m.start(), m.group()) for m in _LETTERS.finditer(folded)]
    out = []
    for hit in hits:
        text = folded[hit.start:hit.end]
        if hit.words == 1 and len(text) <= SHORT and hit.category in _HARMLESS and \
                len(words) > 2:
            others = [w for s, w in words if not hit.start <= s < hit.end]
            alphabets = [_alphabet(lexicon, language)
                         for language in lexicon.languages.get(text, ())]
            if alphabets and not any(all(set(w) <= letters for w in others)
                                     for letters in alphabets):
                continue
        out.append(hit)
    return out


def _alphabet(lexicon: Lexicon, language: str) -> frozenset[str]:
    """The letters one language's lists use (folded): what its words can be written with."""
    return _alphabets(lexicon).get(language, frozenset())


@lru_cache(maxsize=4)  # one lexicon per loaded config
def _alphabets(lexicon: Lexicon) -> dict[str, frozenset[str]]:
    letters: dict[str, set[str]] = {}
    for word, languages in lexicon.languages.items():
        for language in languages:
            letters.setdefault(language, set()).update(word)
    return {k: frozenset(v) for k, v in letters.items()}
