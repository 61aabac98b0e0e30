"""A polite question whose only content is closing the ticket: consent, not a request.

Why: "Thanks! Could you close the ticket please?", "Können Sie das Ticket schließen?",
"Pourriez-vous fermer le ticket ?", "Можете закрыть заявку?" ask for the closed state the
ticket already has, as "you can close it" consents to it (``consent.consenting``). The
question mark alone would reopen the ticket the customer asked to close. Only the words
of a polite question (could, would, könnten, pourriez, ...) are set aside; every other
word must be one of consent (``consent._consents``), so "Why did you close the ticket?"
or "Can you not close it yet?" still ask.
"""

from __future__ import annotations

import re
from dataclasses import replace

from mailgate.replies.clause import Clause
from mailgate.replies.consent import _CLOSE, _DONE, _consents, _listed

#: the words that make a request for the close a polite question
_ASKING = _listed("""
could would can will mind kindly
könnten könntet könntest würden würdet
pourriez pourrais pouvez pourrait est ce que
podrían podría podrías podríais
potreste potrebbe potresti
poderiam poderia
zouden zou kunt
skulle kunna vil ville
voitteko voisitteko voisitko voitko
czy moglibyście mógłby mogłaby możecie
mohli mohla byste
могли бы вы
чи змогли ви
هل
""")
_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_MARK = re.compile(r"[?？؟]")


def asked_to_close(said: list[Clause]) -> list[Clause]:
    """``said`` with each question that only asks to close the ticket read as consent (a
    pleasantry, no question)."""
    return [_consent_asked(clause) if clause.question else clause for clause in said]


def _consent_asked(clause: Clause) -> Clause:
    text = _MARK.sub(" ", clause.text)
    words = [w for w in _WORDS.findall(text.replace("-", " ")) if w.casefold() not in _ASKING]
    if not any(w.casefold() in _CLOSE and w.casefold() not in _DONE for w in words) or \
            not _consents(" ".join(words)):  # "Closed?" asks what is, not for the close
        return clause
    return replace(clause, categories=frozenset({"pleasantry"}), unknown=0, question=False,
                   negated=frozenset(), free_negation=False, live_problems=0)
