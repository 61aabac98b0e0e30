"""Read a satisfaction rating (1-5) from a customer's reply or a signed mailto link.

A reply's first line of new text may be the rating: a digit 1-5 on its own or
followed by punctuation ("4", "5/5", "4 - thanks", "Rating: 3"), or a rating
word of the customer's language (``mailgate.locales.RATINGS``: "gut",
"excellent", "отлично") likewise. A digit followed by a word ("3 printers are
broken") is not a rating. What follows the rating is the rest of the reply,
judged by the thank-you reader (``mailgate.replies``): a question or a problem
reopens as any reply does. A link's subject carries ``[rN-TOKEN]``, an HMAC
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

_LABEL = (r"(?:rating|note|bewertung|valoraci[oó]n|puntuaci[oó]n|voto|valutazione|"
          r"beoordeling|cijfer|betyg|omd[oö]me|оценка|評価|评分|評分|평점|별점)")
_DIGIT = re.compile(rf"^\W{{0,3}}(?:{_LABEL}\s*[:=]?\s*)?([1-5])(?:\s*(?:/|of|von|sur|de|su|"
                    rf"van|av|из)\s*5)?\s*(?:\*|★|⭐|stars?|sterne?|étoiles?|estrellas?|"
                    rf"stelle|sterren|stjärnor|звезд\w*)?(?=\s*(?:$|[-–—.,;:!)]))",
                    re.IGNORECASE)
#: a labelled rating ("評価:5 とても助かりました", "Rating: 4 great work"): the label says
#: the digit is the rating, whatever follows it
_LABELLED = re.compile(rf"^\W{{0,3}}{_LABEL}\s*[:=]?\s*([1-5])(?:\s*/\s*5)?(?!\d)", re.IGNORECASE)
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
    first, rest = unicodedata.normalize("NFKC", lines[0]).strip(), "\n".join(lines[1:])
    match = _DIGIT.match(first) or _LABELLED.match(first)
    if match:
        return Found(int(match[1]), "digit", _join(first[match.end():], rest))
    folded = first.casefold()
    for lang in dict.fromkeys([locales.supported(language), *locales.LANGUAGES]):
        for value, words in locales.rating_words(lang).items():
            for word in sorted(words, key=len, reverse=True):  # "sehr gut" before "gut"
                if re.match(rf"\W{{0,3}}{re.escape(word)}(?=\s*(?:$|[-–—.,;:!)]))", folded):
                    return Found(value, "word", _join(first[len(word) + folded.find(word):],
                                                      rest))
    return None


def _join(tail: str, rest: str) -> str:
    tail = tail.strip().lstrip("-–—.,;:!) ").strip()
    return f"{tail}\n{rest}".strip() if tail else rest.strip()
