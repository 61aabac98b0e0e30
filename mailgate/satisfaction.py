"""Read a satisfaction rating (1-5) from a customer's reply or a signed mailto link.

A reply's first line of new text may be the rating: a digit 1-5 on its own or
followed by punctuation ("4", "5/5", "4 - thanks", "Rating: 3", "5점", "٥"), with a label
or out of 5 whatever follows ("Nota 5", "Ocena: 5/5", "4 van de 5", "5/5 tack!"), or a rating
word of the customer's language (``mailgate.locales.RATINGS``: "gut",
"excellent", "отлично") as the whole first line, give or take punctuation, stars or
emoji ("Sehr gut!", "Excellent ⭐⭐⭐⭐⭐"). A digit followed by a word ("3 printers are
broken") is not a rating; nor is a praise word that opens a sentence of thanks ("Super,
danke für die schnelle Hilfe!", "Parfait, merci !"): the same words are how people thank,
and counting them filled the satisfaction figures with 5s nobody gave. What follows the
rating is the rest of the reply, judged by the thank-you reader (``mailgate.replies``):
a question or a problem reopens as any reply does. A link's subject carries ``[rN-TOKEN]``, an HMAC
of the ticket and the rating under the reply-token secret.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass

from mailgate import locales
from mailgate.config import Config
from mailgate.security import signed_token

_LABEL = (r"(?:rating|note|nota|avalia[cç][aã]o|bewertung|valoraci[oó]n|puntuaci[oó]n|voto|"
          r"valutazione|beoordeling|cijfer|betyg|omd[oö]me|karakter|vurdering|arvosana|ocena|"
          r"hodnocen[ií]|zn[aá]mka|puan|оценка|оцінка|تقييم|評価|评分|評分|평점|별점|점수)")
#: "of 5" in the desk languages: "5/5", "4 van de 5", "5 na 5", "5 من 5", "4 out of 5"
_SCALE = r"(?:/|of|out\s+of|von|sur|de|su|van(?:\s+de)?|av|из|na|z|من)\s*5(?!\d)"
#: what a digit may carry: stars, or points ("5점", "5分", "5点", "5 pkt", "5 Punkte")
_UNIT = (r"(?:\*|★|⭐|stars?|sterne?|étoiles?|estrellas?|stelle|sterren|stjärnor|звезд\w*|"
         r"점|分|点|pkt|punkte?|points?|pontos?|punti|punten|poäng|pisteet?|бал\w*)")
_DIGIT = re.compile(rf"^\W{{0,3}}(?:{_LABEL}\s*[:=]?\s*)?([1-5])(?:\s*{_SCALE})?\s*{_UNIT}?"
                    rf"(?=\s*(?:$|[-–—.,;:!)،、]))", re.IGNORECASE)
#: a labelled rating ("評価:5 とても助かりました", "Rating: 4 great work") or one written
#: "5/5" ("5/5 tack!"): the label or the slash says the digit is the rating, whatever
#: follows it
_LABELLED = re.compile(rf"^\W{{0,3}}{_LABEL}\s*[:=]?\s*([1-5])(?:\s*{_SCALE})?\s*{_UNIT}?"
                       rf"(?!\d)", re.IGNORECASE)
_SCALED = re.compile(r"^\W{0,3}([1-5])\s*/\s*5(?!\d)")  # "2 of 5 servers" counts servers
#: Arabic-Indic and Persian digits, which NFKC leaves as they are: "٥" is a 5
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SIGNED = re.compile(r"\[r([1-5])-([a-z2-7]{8})\]")


@dataclass(frozen=True)
class Found:
    """A rating found in a reply's new text, and the text around it."""

    value: int
    how: str  # "digit" or "word"
    rest: str  # the new text without the rating


def token(config: Config, ticket_id: int, value: int) -> str | None:
    """The link token of a rating, or None when no token secret is configured."""
    sec = config.security
    if not (sec.token_secret_env or sec.token_secret_file):
        return None
    return signed_token(config, f"rating:{ticket_id}:{value}")


def signed(config: Config, subject: str, ticket_id: int) -> int | None:
    """The rating a valid ``[rN-TOKEN]`` of this ticket in ``subject`` carries."""
    for match in _SIGNED.finditer(subject.lower()):
        value = int(match[1])
        expected = token(config, ticket_id, value)
        if expected and hmac.compare_digest(match[2], expected):
            return value
    return None


def read(text: str, language: str | None) -> Found | None:
    """The rating on the first line of ``text`` (the new text of a reply), if any."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    # full-width forms are what a Japanese, Chinese or Korean keyboard types: "５", "４／５"
    first = unicodedata.normalize("NFKC", lines[0]).translate(_DIGITS).strip()
    rest = "\n".join(lines[1:])
    match = _DIGIT.match(first) or _LABELLED.match(first) or _SCALED.match(first)
    if match:
        return Found(int(match[1]), "digit", _join(first[match.end():], rest))
    value = _word_answer(first.casefold(), language)
    return None if value is None else Found(value, "word", rest.strip())


def _word_answer(folded: str, language: str | None) -> int | None:
    """The value of a rating word that is the whole (case-folded) first line but for
    punctuation, symbols or digits around it: no other letter on the line."""
    for lang in dict.fromkeys([locales.supported(language), *locales.LANGUAGES]):
        for value, words in locales.rating_words(lang).items():
            for word in sorted(words, key=len, reverse=True):  # "sehr gut" before "gut"
                if re.fullmatch(rf"\W{{0,3}}{re.escape(word)}[\W\d_]*", folded):
                    return value
    return None


def _join(tail: str, rest: str) -> str:
    tail = tail.strip().lstrip("-–—.,;:!)،、 ").strip()
    return f"{tail}\n{rest}".strip() if tail else rest.strip()
