"""What the steps read and what they decide: the records passed along the pipeline.

``MessageFacts`` is everything the steps need from the mail and the config,
worked out once, before the write transaction (``facts.prepare``).
``TicketView`` is the ticket a message belongs to and its participants,
read once per message. ``Context`` is one message's working state (Mailman's
``msgdata``): each deciding step fills in its own field, and the writer steps
apply what was decided. ``Context.trace`` records which step decided what,
for the log line, the ticket's event and ``mailgate explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mailgate.errors import MailgateError

#: the channel of imported old mail handled without acknowledgements (``mailgate import``
#: without ``--ack``): a ticket it opens starts no SLA clock
HISTORY = "history"

if TYPE_CHECKING:
    from mailgate import clocks, sla
    from mailgate.alerts import Alert
    from mailgate.author import Relayed
    from mailgate.autoreply import Automatic, Bounce
    from mailgate.identity import Identity
    from mailgate.message import Inbound
    from mailgate.store import SpoolItem, Store, Ticket


class Quarantine(MailgateError):
    """The policy holds this message for a person to look at (reason in the message).

    ``notice``, if given, is called with the store in the transaction that holds the
    message: it queues the mail that tells the team (the message's own writes are
    rolled back)."""

    def __init__(self, reason: str, notice: Callable[[Store], None] | None = None) -> None:
        super().__init__(reason)
        self.notice = notice


@dataclass(frozen=True)
class MessageFacts:
    """What follows from the message and the config alone, computed once before the write
    transaction begins: for mail that carries no sign of a thread (no tag, no In-Reply-To,
    no References), also its SLA decision and clocks, as a new ticket made at ``now``
    would get them."""

    automatic: Automatic | None
    language: str
    text: str = ""  # the new text: quotes, attributions and signatures cut away
    sender: str = "unknown"  # the From address (``unknown`` when the mail has none)
    tag_numbers: tuple[int, ...] = ()  # ticket numbers named by subject tags, in order
    token_ticket: int | None = None  # the ticket a reply-token recipient names
    now: datetime | None = None
    decided: sla.Classification | None = None
    clocks: list[clocks.Planned] | None = None
    identity: Identity | None = None  # the author's proof and forgeries (mailgate.identity)
    mailing_list: str | None = None  # List-Id / List-Post of mail from a mailing list
    list_addresses: frozenset[str] = frozenset()  # the list's own address(es)
    relayed: Relayed | None = None  # the person a web form or group relayed it for
    language_told: bool = True  # False: nothing said a language, ``language`` is the default


class TicketView:
    """A ticket and its participants, read once per message (participants on first use)."""

    def __init__(self, store: Store, ticket: Ticket) -> None:
        self.ticket = ticket
        self._store = store
        self._participants: frozenset[str] | None = None
        self._texts: list[str] | None = None
        self._sent: list[str] | None = None

    def has_participant(self, address: str) -> bool:
        if self._participants is None:
            self._participants = frozenset(
                p["address"] for p in self._store.participants(self.ticket.id))
        return address in self._participants

    def texts(self) -> list[str]:
        """The texts of the ticket's messages (read on first use: only a reply that may
        be a bare thank-you needs them, to tell its quoted history from new words)."""
        if self._texts is None:
            self._texts = self._store.message_texts(self.ticket.id)
        return self._texts

    def sent_texts(self) -> list[str]:
        """The texts of the mail we sent on the ticket (a reply may paste one back without
        quote marks: ``replies.pasted``)."""
        if self._sent is None:
            self._sent = self._store.sent_texts(self.ticket.id)
        return self._sent


@dataclass(frozen=True)
class Threading:
    """Which ticket a message belongs to and the signal that said so."""

    ticket: Ticket | None
    method: str  # "token", "tag", "in-reply-to", "references", "alert" or "none"
    detail: str = ""
    merged_from: int | None = None  # the cited ticket, when it was merged into ``ticket``


@dataclass(frozen=True)
class Route:
    """What a message does to the ticket it threads to (or why it opens a new one).

    ``action``: "append" (joins as a reply), "reopen" (joins and reopens a closed
    ticket), "thanks" (joins, the ticket keeps its status), "rating" (a satisfaction
    rating and nothing more: joins, the ticket keeps its status), "new" (a new ticket;
    ``link`` is the cited ticket and why it was not joined), "automatic" (recorded
    only)."""

    action: str
    reason: str = ""
    link: tuple[Ticket, str] | None = None
    passes: bool = False  # a thank-you with files or new people: the team gets the mail;
    # automatic mail that asks for action (``pipeline.notices``): the assignee gets it
    asks: str = ""  # ... what that notice asks, for its event and the notification


@dataclass(frozen=True)
class Rating:
    """A satisfaction rating the message gives its ticket (the ``rate`` step).

    ``how``: "token" (a signed mailto link), "digit" or "word" (a reply). ``only``:
    nothing else in the reply asks for anything (it keeps the ticket's status);
    ``reason`` says what the rest of the reply is."""

    value: int
    how: str
    only: bool
    reason: str = ""
    counted: bool = True  # False: a non-participant's bare rating, recorded as an event only


@dataclass
class Outcome:
    """What handling one message did; logged as the message's canonical line."""

    state: str  # "done" or "duplicate"
    message_id: str
    ticket_id: int | None = None
    reference: str | None = None
    action: str = ""  # "created", "appended", "merged", "correlated", "bounce", "duplicate"
    method: str = ""
    outbox_ids: list[int] = field(default_factory=list)
    trace: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Context:
    """One message on its way through the steps: the input, then each step's decision."""

    item: SpoolItem
    inbound: Inbound
    facts: MessageFacts
    now: datetime
    trace: list[tuple[str, str]] = field(default_factory=list)
    settled: bool = False  # a step decided the rest: no further deciding step runs
    duplicate_of: int | None = None  # dedupe: ticket id of the stored copy
    reused: tuple[str, int] | None = None  # dedupe: (Message-ID, its ticket) reused by new text
    bounce: tuple[Ticket, Bounce] | None = None  # bounce: the ticket and the report
    threading: Threading = field(default_factory=lambda: Threading(None, "none"))
    view: TicketView | None = None
    role: str = "requester"  # identify
    joins_by_token: bool = False  # identify: a stranger holding the reply address
    newcomer: tuple[str, str] | None = None  # identify: (event kind, why) of a new participant
    token_exposed: tuple[int, str] | None = None  # identify: (ticket id, why) a reply
    # address of an engineer reached an outsider; record retires it
    proof: str | None = None  # identify: how an engineer proved the mail is theirs
    rating: Rating | None = None  # rate
    route: Route | None = None
    alert: Alert | None = None
    repeat_of: tuple[Ticket, str] | None = None  # repeat: the open report this one joins
    related: tuple[Ticket, str] | None = None  # repeat: a likely related one, linked
    outcome: Outcome | None = None  # record
    ticket: Ticket | None = None  # record: the ticket the message was recorded on

    def decide(self, step: str, what: str) -> None:
        """Note a decision in the trace."""
        self.trace.append((step, what))

    @property
    def threaded(self) -> Ticket | None:
        """The ticket the message was threaded to, if any (merges followed)."""
        return self.threading.ticket
