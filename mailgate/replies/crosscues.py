"""Short cue words read by the clause around them: a function word of another language,
"only" beside the writer's own slip, and a regained ability with "again".

Why: the lexicon merges all languages, so a two- or three-letter word that is a cue in
one language is read as that cue in every other: French "ma" (my) and Polish "ma" (has)
as Italian "ma" (but), English "men" as Swedish "men" (but), Spanish "mi" (my) as the
Turkish question particle. The README promises that a cue word of one language does not
count in a clause whose other words are another's; ``consent.by_language`` keeps that
promise for words the other language lists as harmless, ``foreign_cues`` for the short
function words no list of the other language holds. Two readings of the same kind, by
the words around a cue: "only" before a verb of forgetting is the writer's own slip
("Ich hatte nur vergessen, den Stecker einzustecken"), not a limit on the fix
(``own_slip``); and "can <verb> again" is a regained ability ("ich kann wieder drucken",
"posso di nuovo stampare", "consigo imprimir de novo"), a success as English "I can print
again" is (``regained``). Two more by the clause's words: the clause after an own slip
names what was forgotten (``forgotten_what``), and "Je mets ma collègue en copie pour info"
tells who reads along (``copied_in``: the route step tells the team of new recipients).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from mailgate.replies.consent import _clause_languages, _listed
from mailgate.replies.lexicon import HARMLESS, Hit, Lexicon, fold

if TYPE_CHECKING:
    from mailgate.replies.clause import Clause

#: cues a short word of another language may lose
_CUES = frozenset({"contrast", "request", "interrogative", "again", "qualifier"})
SHORT = 3  # letters of a "short function word"
#: other listed words of one language a clause needs before a cue of another is dropped
CLEAR = 2

_WORD = re.compile(r"[^\W_]+")


def foreign_cues(hits: list[Hit], folded: str, lexicon: Lexicon) -> list[Hit]:
    """``hits`` without each short one-word cue whose languages (those that list it as
    that cue) hold none of the clause's other words, while at least ``CLEAR`` of them
    belong to one other language: "Je mets ma collègue en copie pour info" (French), "the
    men from facilities fixed it" (English). A clause with no clear language, or with any
    word of the cue's own language, keeps the cue (when unsure, the cue counts)."""
    out = []
    for hit in hits:
        text = folded[hit.start:hit.end]
        langs = lexicon.cue_languages.get(text, {}).get(hit.category) \
            if hit.words == 1 and hit.category in _CUES and len(text) <= SHORT else None
        if langs:
            counts = _clause_languages(folded, hit, lexicon.languages)
            if max(counts.values(), default=0) >= CLEAR and not any(
                    counts.get(language) for language in langs):
                continue
        out.append(hit)
    return out


#: "only", "just" in the lists' contrast words, and verbs of forgetting (stems)
_ONLY = frozenset({"only", "just", "nur", "bloß", "bloss", "juste", "seulement", "solo", "sólo",
                   "soltanto", "só", "apenas", "alleen", "bara", "kun", "vain", "tylko", "jen",
                   "pouze", "только", "лишь", "тільки", "лише", "sadece"})
_FORGOT = re.compile(r"^(?:forg[eo]t|vergess|vergaß|vergass|oubli|olvid|dimentic|esquec|vergeten|"
                     r"glöm|glem|unohd|zapomn|забыл|забув|забул|unut)")


def own_slip(hits: list[Hit], folded: str) -> list[Hit]:
    """An "only" right before a verb of forgetting ("Ich hatte nur vergessen, den Stecker
    einzustecken", "I had only forgotten to plug it in") tells the writer's own slip: the
    two words are read as an apology ("my mistake"), not as a limit on the fix."""
    out = []
    for hit in hits:
        if hit.category == "contrast" and folded[hit.start:hit.end] in _ONLY:
            forgot = next((w for w in list(_WORD.finditer(folded, hit.end))[:2]
                           if _FORGOT.match(w.group())), None)
            if forgot is not None and not any(h.start < forgot.end() and forgot.start() < h.end
                                              for h in hits):
                hit = replace(hit, end=forgot.end(), category="apology", words=2)
        out.append(hit)
    return out


#: verbs of ability (present, first and third person): "can", "kann", "posso", "consigo"
_ABLE = _listed("""
can able
kann können kannst könnt
peux peut pouvons pouvez peuvent arrive arrivons réussis
puedo puede podemos pueden puedes consigo logro
posso può possiamo possono puoi riesco riusciamo riesce
pode podemos podem consegui conseguimos consegue
kan kunnen kun kunt
voin voimme voi pystyn pystymme
mogę możemy może mogą
můžu mohu můžeme může
могу можем может могут
можу можемо може можуть
""")
#: what a regained ability may not stand beside: the problem, the "but" and the request
_BLOCKS = frozenset({"problem", "contrast", "request", "interrogative", "qualifier", "once"})
NEAR_WORDS = 3  # words between the verb of ability and "again"


def regained(hits: list[Hit], folded: str) -> list[Hit]:
    """With "again" and no problem, "but" or request in the clause, a verb of ability no
    list took (``_ABLE``) followed by a verb is a success ("ich kann wieder drucken", "ora
    posso di nuovo stampare", "pouvons de nouveau travailler"); a negation beside it then
    binds to it as to any success ("ich kann immer noch nicht drucken" keeps its cue)."""
    again = [h for h in hits if h.category == "again"]
    if not again or any(h.category in _BLOCKS for h in hits):
        return hits
    words = list(_WORD.finditer(folded))
    for k, word in enumerate(words):
        if word.group() not in _ABLE or any(
                h.start < word.end() and word.start() < h.end for h in hits):
            continue
        near = any(abs(_index(words, h.start) - k) <= NEAR_WORDS + 1 for h in again)
        verb = any(not any(h.start <= w.start() < h.end for h in hits) for w in words[k + 1:])
        if near and verb:
            return sorted([*hits, Hit(word.start(), word.end(), "solved", 1)],
                          key=lambda h: h.start)
    return hits


def _index(words: list[re.Match[str]], at: int) -> int:
    """The index of the word that starts at or after ``at``."""
    return next((i for i, w in enumerate(words) if w.start() >= at), len(words))


def forgotten_what(said: list[Clause]) -> list[Clause]:
    """The clause after an own slip ("Ich hatte nur vergessen, | den Stecker einzustecken")
    names what was forgotten: with no cue of its own (no question, problem, negation,
    "but" or request) it is part of the apology, not news."""
    out = list(said)
    for k in range(1, len(out)):
        clause, before = out[k], out[k - 1]
        words = _WORD.findall(fold(before.text))
        slip = "apology" in before.categories and any(
            w in _ONLY and any(_FORGOT.match(v) for v in words[i + 1:i + 3])
            for i, w in enumerate(words))
        if slip and not (clause.question or clause.negated or clause.free_negation or
                         clause.live_problems or clause.categories - HARMLESS):
            out[k] = replace(clause, categories=clause.categories | {"apology"}, unknown=0)
    return out


#: a statement that the writer copies someone in: "Je mets ma collègue en copie pour info",
#: "I've cc'd Anna", "ich setze Frau Berg in CC", "pongo en copia a Lucía"
_COPIED_IN = re.compile(
    r"(?<!\w)(?:cc'?d|cc'?ing|cced|cc|in copy|copied in|copying in|in kopie|en copie|en copia|"
    r"in copia|em cópia|em copia|in de cc|in kopie|på kopia|i kopi|kopioksi|w kopii|do kopie|"
    r"в копию|в копии|у копію|у копії|bilgi için ekledim)(?!\w)")
COPY_WORDS = 12  # words of a statement that someone is copied in


def copied_in(said: list[Clause]) -> list[Clause]:
    """A short clause that says someone is copied in, with no cue (question, problem,
    negation, "but", request, something sent to look at), tells the team who reads along:
    a pleasantry (a new recipient itself is told to the team by the route step)."""
    out = list(said)
    for k, clause in enumerate(out):
        folded = fold(clause.text)
        if _COPIED_IN.search(folded) and len(_WORD.findall(folded)) <= COPY_WORDS and not (
                clause.question or clause.negated or clause.free_negation or
                clause.live_problems or clause.categories - HARMLESS):
            out[k] = replace(clause, categories=clause.categories | {"pleasantry"}, unknown=0)
    return out
