"""Recognise a second report of a problem that already has an open ticket.

Customers write again when they get no answer fast enough, or their
colleague reports the same outage. A new mail repeats an open ticket of the
same requester (or, with ``duplicate_scope = "domain"``, of the same
organisation's domain: never a public mail domain such as gmail.com, see
``mailgate.domains``) opened within ``duplicate_window`` when one of these holds,
strictest first:

- its normalised subject equals that ticket's, its text does not ask for
  something new ("Re:" an old mail to ask "could you create ..."), nor report a problem
  of its own under a mail that reported none ("Re: VPN issue resolved - thanks", then an
  Excel workbook crashing), and the subject names
  something (a content word or an identifier: "Problem since this morning"
  names nothing; from a colleague an identifier or two terms, unless the
  colleague replies to or forwards that mail: "Printer not working" from two
  desks may be two printers);
- its new text is at least ``duplicate_similarity`` alike (Jaccard similarity
  of word pairs: the same mail sent again);
- ``mailgate.repeats.compare`` finds it reports the same problem in other
  words (shared error codes, host names, IDs, subject and content words, and
  shared concepts: the same thing and symptom in other words or languages).

The reason, with the score, goes into the ticket's ``duplicate_merged`` event.
A mail only likely about the problem (``compare`` says ``related``) is returned
with ``merge`` false: the repeat step links it rather than merging it
(``link_related``), with ``repeat_linked`` events.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from mailgate.config import Config
from mailgate.domains import organisation
from mailgate.memo import memo
from mailgate.message import Inbound
from mailgate.pairscore import Scorer, judge, shipped
from mailgate.quotes import new_text
from mailgate.refs import normalize_subject
from mailgate.repeats import (
    NEAR,
    Mail,
    asks_anew,
    body_of,
    compare,
    concepts,
    families,
    new_topic,
    own_words,
    problem_reported,
    shares_something,
    someone_else,
    terms,
)
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


class Repeat(NamedTuple):
    """The open ticket a new mail repeats (``merge``) or is likely related to (a link with
    a notice), and why."""

    ticket: Ticket
    reason: str
    merge: bool


def find_duplicate(config: Config, store: Store, inbound: Inbound,
                   now: datetime, text: str | None = None) -> Repeat | None:
    """The open ticket this new mail repeats or is related to, with the reason; None if it
    is new (``text``: its new text, ``new_text(inbound.text)``, when the caller has it)."""
    settings = config.conversation
    if settings.duplicate_scope == "off" or not inbound.from_addr:
        return None
    org = organisation(inbound.from_addr, settings.public_domains)
    by_domain = settings.duplicate_scope == "domain" and org is not None
    candidates = store.duplicate_candidates(
        requester=None if by_domain else inbound.from_addr, domain=org,
        since=now - settings.duplicate_window)
    if not candidates:
        return None
    mail = Mail(inbound.from_addr, inbound.subject,
                new_text(inbound.text) if text is None else text, now,
                cites=bool(inbound.in_reply_to or inbound.references))
    best: tuple[bool, float, int, str] | None = None
    for candidate in candidates:
        found = repeats(settings.duplicate_similarity, candidate, mail,
                        settings.related_within)
        if found is not None and (best is None or (found[2], found[0]) > best[:2]):
            best = (found[2], found[0], candidate["id"], found[1])
    if best is None or not (best[0] or settings.link_related):
        return None
    return Repeat(store.ticket(best[2]), best[3], best[0])


def repeats(threshold: float, candidate: dict[str, Any], mail: Mail,
            near: timedelta = NEAR, model: Scorer | None = None) -> tuple[float, str, bool] | None:
    """(score, reason, merge?) when ``mail`` repeats the candidate ticket's first mail
    (merge) or is likely related to it (not merge); None when it is another matter.
    ``model``: the pair scorer (default the shipped one; ``pairscore.NEVER``: rules only)."""
    first = Mail(candidate["requester"], candidate["subject"], new_text(candidate["text"]),
                 candidate["created_at"])
    key = subject_key(mail.subject)
    if new_topic(mail.text):
        return None  # "a different problem": whatever the subject says
    # (``_another_one`` last: it reads both texts' terms, and most pairs never get there)
    if key not in VAGUE and key == subject_key(first.subject) and \
            _names_enough(first, mail) and not asks_anew(mail.text) and \
            not _new_problem(first, mail) and not _other_symptom(first, mail) and \
            not _another_one(first, mail):
        return 2.0, f"same subject ({key!r})", True
    alike = similarity(mail.text, first.text)
    if alike >= threshold and not _another_one(first, mail):
        return 1.0 + alike, f"text {alike:.0%} alike", True
    verdict = compare(first, mail, near)
    if verdict.same:
        return verdict.score, f"same problem, reworded: {verdict.reason}", True
    said, p = judge(verdict.features, verdict.mergeable, shipped() if model is None else model)
    if said == "merge":
        return verdict.score, (f"same problem by the pair scorer (p {p:.2f}): "
                               f"{verdict.reason}"), True
    if verdict.related:
        return verdict.score, f"likely related: {verdict.reason}", False
    if said == "link" and shares_something(verdict):
        return verdict.score, (f"likely related by the pair scorer (p {p:.2f}): "
                               f"{verdict.reason}"), False
    return None


def _another_one(first: Mail, mail: Mail) -> bool:
    """Whether the second mail names another thing of the first's kind: asset or device names
    of its own and none of the first's (PRN-3OG-02 after PRN-2OG-01, HP-RECEPTION after
    ZEBRA-01). Then an equal subject or a near-identical text proves nothing (one sender's
    "Printer not working" twice may be two printers; user6, tenth session): the comparison
    of what the two mails say decides, and it merges only on its own evidence. ("Also" and
    "either" say it too, but follow-ups of one problem use them as often: "I also tried
    Outlook on the web".)"""
    said, before = _things(mail.text), _things(f"{first.subject}\n{first.text}")
    return bool(said and before and not said & before) or someone_else(first, mail) is not None


@memo(maxsize=128, max_chars=32_768)  # an open ticket's first mail meets each new mail
def _things(text: str) -> frozenset[str]:
    """The asset or device names ``text`` names (``_THING``), remembered."""
    return frozenset(t for t in terms(text).idents if _THING.match(t))


#: an asset or device name (PRN-2OG-01, ZEBRA-01, HP-RECEPTION, SRV-TALLY01): letters, then
#: parts joined by hyphens; not a code (E-77), a phone number, a version (PDF-1.7) or a host
_THING = re.compile(r"^[a-z]{2,}[a-z0-9]*(?:-[a-z0-9]+)+$")


def _new_problem(first: Mail, mail: Mail) -> bool:
    """Whether a mail under the first's subject reports a problem of its own: the first
    reports none ("Re: VPN issue resolved - thanks"), and the new text names identifiers
    the first never named and none it did (ninth session, tune9 n302: an Excel workbook
    crashing, under the thank-you's subject)."""
    own = own_words(first.sender, mail.sender)
    said = terms(mail.text, own)
    before = terms(f"{first.subject}\n{first.text}", own)
    return problem_reported(mail.text) and not problem_reported(first.text) and \
        bool(said.idents - before.idents) and not said.idents & before.idents


def _other_symptom(first: Mail, mail: Mail) -> bool:
    """Whether the two mails name symptoms of no common family ("finds nothing" / "my
    signature is gone") and the new text shares at most one term (the thing) with the
    first: two problems, whatever subject the second inherits by answering or forwarding
    the first (tenth session, tune10 q168). ``compare`` decides."""
    before = concepts(f"{first.subject}\n{first.text}").symptoms
    said = concepts(mail.text).symptoms
    if not (before and said) or families(before) & families(said):
        return False
    own = own_words(first.sender, mail.sender)
    shared = set(terms(body_of(mail.text), own).weights) & \
        set(terms(f"{first.subject}\n{body_of(first.text)}", own).weights)
    return len(shared) <= 1  # a follow-up names more of the first problem than its thing


def _names_enough(first: Mail, mail: Mail) -> bool:
    """Whether an equal subject names the problem: something for the same sender; for a
    colleague an identifier or two terms ("Printer not working" is any printer's problem),
    unless the colleague replies to or passes on that mail ("WG: Lohnabrechnung Fehler")."""
    named = terms(first.subject, own_words(first.sender, mail.sender))
    if first.sender.casefold() == mail.sender.casefold():
        return bool(named.weights)
    passed_on = normalize_subject(mail.subject) != " ".join(mail.subject.split())
    return bool(named.weights) and (passed_on or bool(named.idents) or len(named.weights) >= 2)
