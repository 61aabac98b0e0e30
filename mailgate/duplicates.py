"""Recognise a second report of a problem that already has an open ticket.

Customers write again when they get no answer fast enough, or their
colleague reports the same outage. A new mail is a duplicate of an open
ticket of the same requester (or, with ``duplicate_scope = "domain"``, of
the same organisation's domain) opened within ``duplicate_window`` when its
normalised subject equals that ticket's, or its new text is at least
``duplicate_similarity`` alike (Jaccard similarity of word pairs). Subjects
that say nothing ("help", "question", "(no subject)") never match on their own.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from mailgate.config import Config
from mailgate.message import Inbound
from mailgate.quotes import new_text
from mailgate.refs import normalize_subject
from mailgate.store import Store, Ticket

_WORD = re.compile(r"\w+", re.UNICODE)
VAGUE = frozenset({"", "help", "question", "problem", "issue", "support", "hello", "hi",
                   "no subject", "urgent", "request", "fråga", "hjälp", "вопрос", "помощь",
                   "проблема", "vraag", "hulp", "probleem", "frage", "hilfe"})
MIN_WORDS = 8


def subject_key(subject: str) -> str:
    """Subject without reply prefixes, tags, punctuation and case."""
    subject = re.sub(r"\[[^\]]{0,40}\]", " ", normalize_subject(subject))
    return " ".join(_WORD.findall(subject.casefold()))


def _pairs(text: str) -> set[tuple[str, str]]:
    words = _WORD.findall(text.casefold())[:2000]
    return set(itertools.pairwise(words))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of word pairs; 0 for texts too short to judge."""
    pa, pb = _pairs(a), _pairs(b)
    if len(pa) < MIN_WORDS or len(pb) < MIN_WORDS:
        return 0.0
    return len(pa & pb) / len(pa | pb)


def find_duplicate(config: Config, store: Store, inbound: Inbound,
                   now: datetime) -> tuple[Ticket, str] | None:
    """The open ticket this new mail repeats, with the reason; None if it is new."""
    settings = config.conversation
    if settings.duplicate_scope == "off" or not inbound.from_addr:
        return None
    domain = inbound.from_addr.rpartition("@")[2]
    candidates = store.duplicate_candidates(
        requester=inbound.from_addr if settings.duplicate_scope == "sender" else None,
        domain=domain, since=now - settings.duplicate_window)
    key = subject_key(inbound.subject)
    text = None  # the quote stripper runs only when there is something to compare with
    for candidate in candidates:
        ticket = store.ticket(candidate["id"])
        if key not in VAGUE and key == subject_key(candidate["subject"]):
            return ticket, f"same subject as {ticket.reference} ({key!r})"
        text = new_text(inbound.text) if text is None else text
        score = similarity(text, new_text(candidate["text"]))
        if score >= settings.duplicate_similarity:
            return ticket, f"text {score:.0%} alike to {ticket.reference}"
    return None
