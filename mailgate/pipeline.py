"""From one parsed message to a committed ticket update: the one path every channel shares.

``Pipeline.handle`` runs inside the processor's transaction and does, in order:
1. **dedupe**: a Message-ID (or, without one, a content hash) already stored
   means the same mail arrived twice; it is recorded as a duplicate, no more.
2. **bounces**: a delivery failure report for our own mail is recorded on the
   ticket it belongs to and the team is told; it never becomes a ticket.
3. **thread**: the ticket tag in the subject, else ``In-Reply-To``, else
   ``References`` (incoming and our own outgoing Message-IDs alike), else a
   new ticket. Merged tickets are followed to the survivor.
4. **route**: who wrote (requester, participant, engineer, stranger) and the
   ticket's state decide: a stranger citing a ticket gets a new linked ticket
   (or quarantine); a reply to a closed ticket reopens it, is kept, or opens a
   new linked ticket (``conversation.on_reply`` per status and role, and
   ``reopen_window``) — but gratitude alone never reopens; a new mail that
   repeats an open report of the same sender joins it.
5. **record and answer**: ticket, message, participants, attachments and one
   event per decision; acknowledgement, relay, notification or command error
   queued in the outbox in the same transaction (never an automatic answer
   to automatic mail).

Nothing here sends mail or commits; a crash anywhere leaves all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailgate import clocks, desk, security, sla
from mailgate.alerts import recognise as recognise_alert
from mailgate.autoreply import Automatic, classify_automatic, parse_bounce
from mailgate.config import Config
from mailgate.conversation import Conversation, ticket_context, within
from mailgate.duplicates import find_duplicate
from mailgate.errors import MailgateError
from mailgate.gratitude import GratitudeDetector
from mailgate.language import detect as detect_language
from mailgate.mailer import Mailer
from mailgate.message import Inbound, header
from mailgate.quotes import new_text
from mailgate.refs import TagFormat, normalize_subject
from mailgate.render import Renderer
from mailgate.store import Store, Ticket
from mailgate.store.rows import SpoolItem


class Quarantine(MailgateError):
    """The policy holds this message for a person to look at (reason in the message)."""


@dataclass(frozen=True)
class Threading:
    """Which ticket a message belongs to and the signal that said so."""

    ticket: Ticket | None
    method: str  # "tag", "in-reply-to", "references" or "none"
    detail: str = ""


@dataclass
class Outcome:
    """What handling one message did; logged as the message's canonical line."""

    state: str  # "done" or "duplicate"
    message_id: str
    ticket_id: int | None = None
    reference: str | None = None
    action: str = ""  # "created", "appended", "merged", "bounce", "duplicate"
    method: str = ""
    outbox_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    """What follows from the message and the config alone, worked out before the write
    transaction begins (see ``Pipeline.prepare``): for mail that carries no sign of a
    thread (no tag, no In-Reply-To, no References), also its SLA decision and clocks, as a
    new ticket made at ``now`` would get them."""

    automatic: Automatic | None
    language: str
    now: datetime | None = None
    decided: sla.Classification | None = None
    clocks: list[clocks.Planned] | None = None


class Pipeline:
    """Holds what handling needs besides the store: config, templates, tag format."""

    def __init__(self, config: Config, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
        self.own_addresses = frozenset([*config.gateway.addresses, config.support_address])
        self.mailer = Mailer(config, renderer)
        self.conversation = Conversation(config, self.mailer, self.tags)
        self.gratitude = GratitudeDetector.load()

    # -- threading -------------------------------------------------------------

    def thread(self, store: Store, inbound: Inbound, token_ticket: int | None = None,
               ) -> Threading:
        """Find the ticket ``inbound`` belongs to (see the module docstring for the order)."""
        if token_ticket is not None:
            ticket = store.live_ticket(token_ticket)
            if ticket is not None:
                return Threading(ticket, "token", "reply address token of "
                                 f"{self.tags.reference(token_ticket)}")
        for number in self.tags.find_numbers(inbound.subject):
            ticket = store.live_ticket(number)
            if ticket is not None:
                reference = self.tags.reference(number)
                via = "" if ticket.id == number else f" (merged into {ticket.reference})"
                return Threading(ticket, "tag", f"subject tag [{reference}]{via}")
        for method, ids in (("in-reply-to", inbound.in_reply_to),
                            ("references", list(reversed(inbound.references)))):
            found = store.ticket_of_message_ids(ids)
            if found:
                ticket = store.live_ticket(found[0])
                if ticket is not None:
                    return Threading(ticket, method, f"{method} {found[1]}")
        return Threading(None, "none")

    def role(self, store: Store, ticket: Ticket | None, address: str) -> str:
        if self.config.team.is_engineer(address):
            return "engineer"
        if ticket is None or address == ticket.requester:
            return "requester"
        return "participant" if store.is_participant(ticket.id, address) else "stranger"

    # -- handling --------------------------------------------------------------

    def prepare(self, item: SpoolItem, inbound: Inbound, now: datetime | None = None) -> Facts:
        """The store-free part of handling, done before the transaction begins (the write
        lock is not held meanwhile): is it automatic mail, which language is it in, and
        its new text, which the duplicate check and the thanks detector read again
        (``new_text`` remembers it); with ``now``, for mail that looks new, the SLA level
        and the business-time arithmetic of its clocks."""
        automatic = classify_automatic(inbound.msg, item.mail_from,
                                       own_addresses=self.own_addresses,
                                       own_domain_ids=frozenset([self.config.support_address]))
        language = detect_language(new_text(inbound.text),
                                   header(inbound.msg, "Content-Language"),
                                   self.config.templates.language)
        if now is None or inbound.in_reply_to or inbound.references or \
                self.tags.find_numbers(inbound.subject):
            return Facts(automatic, language)
        decided = self._decide(item, inbound)
        return Facts(automatic, language, now, decided,
                     clocks.plan_start(self.config, decided.level, now))

    def _decide(self, item: SpoolItem, inbound: Inbound) -> sla.Classification:
        defaults = self.config.mailbox_defaults(item.source)
        return sla.classify(self.config, inbound, item.rcpt_tos,
                            default_level=defaults.get("sla_level"),
                            default_queue=defaults.get("queue"))

    def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
               facts: Facts | None = None) -> Outcome:
        """Apply one message to the store; the caller holds the transaction."""
        self.mailer.take_queued()  # forget what a rolled-back message queued
        outcome = self._handle(store, item, inbound, now, facts or self.prepare(item, inbound))
        outcome.outbox_ids = self.mailer.take_queued()
        return outcome

    def _handle(self, store: Store, item: SpoolItem, inbound: Inbound,
                now: datetime, facts: Facts) -> Outcome:
        seen = store.message_exists(inbound.message_id)
        if seen is not None:
            return Outcome("duplicate", inbound.message_id, ticket_id=seen[0],
                           action="duplicate")
        automatic = facts.automatic
        if automatic is not None and automatic.kind == "bounce":
            return self._bounce(store, item, inbound, now)
        refused = security.spam_reason(self.config, inbound.msg) or \
            security.auth_failure(self.config, inbound.msg)
        if refused:
            raise Quarantine(refused)
        token_ticket = security.ticket_of_token(
            self.config, security.recipients(inbound.msg, item.rcpt_tos))
        threading = self.thread(store, inbound, token_ticket)
        ticket, who = threading.ticket, inbound.from_addr or "unknown"
        role = self.role(store, ticket, who)
        if role == "stranger" and threading.method == "token":
            role = "participant"  # holding our reply address proves they got our mail
            store.add_participant(ticket.id, who, inbound.from_name, "participant", now)
        link: tuple[Ticket, str] | None = None
        reopen, thanks, was = False, None, ticket.status if ticket else None
        if ticket is not None and automatic is None:
            if role == "stranger":
                ticket, link = self._stranger(ticket, who)
            else:
                action = self.config.conversation.reply_action(ticket.status, role)
                if ticket.status == "closed" and not within(
                        self.config.conversation.reopen_window, ticket.closed_at, now):
                    action = "new"
                if action == "reopen" and ticket.status == "closed":
                    verdict = self.gratitude.classify(new_text(inbound.text))
                    if verdict.thanks_only:
                        action, thanks = "keep", verdict.reason
                if action == "new":
                    closed = f"closed {ticket.closed_at:%Y-%m-%d}, " if ticket.closed_at else ""
                    link = (ticket, f"reply to {ticket.reference} ({ticket.status}, {closed}"
                                    "conversation.on_reply / reopen_window)")
                    ticket = None
                reopen = action == "reopen"
        duplicate_of = None
        alert = recognise_alert(self.config, inbound) if ticket is None else None
        if alert is not None:
            open_id = store.open_ticket_by_key(alert.correlation_key)
            if open_id is not None:
                ticket = store.ticket(open_id)
                store.add_event(ticket.id, "alert_recovered" if alert.recovered
                                else "alert_correlated", actor=who, now=now,
                                message_id=inbound.message_id,
                                detail=f"alert {alert.correlation_key}"
                                       f"{' recovered' if alert.recovered else ' again'}")
                threading = Threading(ticket, "alert", alert.correlation_key)
        elif ticket is None and automatic is None and link is None:
            duplicate_of = find_duplicate(self.config, store, inbound, now)
        if ticket is None and (duplicate_of is None
                               or self.config.conversation.merge_into == "newest"):
            ticket = self._create(store, item, inbound, now, link, facts)
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "created", threading.method)
            if alert is not None:
                store.touch_ticket(ticket.id, now, correlation_key=alert.correlation_key)
            if duplicate_of is not None:  # the seeds' way: the older report joins the new one
                desk.merge(self.config, store, duplicate_of[0], ticket, actor="mailgate",
                           why=duplicate_of[1], now=now, message_id=inbound.message_id)
        elif ticket is None:
            ticket, reason = duplicate_of  # type: ignore[misc]
            store.add_event(ticket.id, "duplicate_merged", actor=who, now=now,
                            message_id=inbound.message_id, detail=reason)
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "merged", "duplicate")
        elif threading.method == "alert":
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "correlated", "alert")
        else:
            store.add_event(ticket.id, "threaded", actor=who, now=now,
                            message_id=inbound.message_id,
                            detail=f"{role} reply joined by {threading.detail}")
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "appended", threading.method)
        kind = "automatic" if automatic else ("engineer" if role == "engineer" else "customer")
        self._store_message(store, item, ticket, inbound, kind, now)
        if role != "engineer":
            self._participants(store, ticket, inbound, now)
        if outcome.action != "created" or duplicate_of is not None:
            store.touch_ticket(ticket.id, now)  # a new ticket was written at ``now``
        if automatic is not None:
            self._automatic(store, ticket, inbound, automatic, now)
        elif outcome.action == "created":
            self._welcome(store, ticket, inbound, now)
        elif outcome.action == "merged":
            self._welcome(store, ticket, inbound, now, template="merged")
        elif outcome.action == "correlated":
            pass  # recorded with its event; the team already knows this alert
        elif role == "engineer":
            self.conversation.engineer_reply(store, ticket, inbound, now,
                                             token_ok=threading.method == "token")
        elif thanks is not None:
            store.add_event(ticket.id, "thanks_suppressed", actor=who, now=now,
                            message_id=inbound.message_id,
                            detail=f"reply to a closed ticket not reopened: {thanks}")
            if self.config.conversation.notify_on_thanks:
                self.conversation.notify_team(store, ticket, inbound, now, "thanks")
        else:
            if reopen:
                desk.set_status(self.config, store, ticket, "open", actor=who, now=now,
                                why=f"{role} replied to the {was} ticket (conversation.on_reply)",
                                message_id=inbound.message_id)
            self.conversation.customer_reply(store, store.ticket(ticket.id), inbound, now,
                                             notify=reopen or was != "closed")
        return outcome

    def _stranger(self, cited: Ticket, who: str) -> tuple[Ticket | None, tuple | None]:
        policy = self.config.conversation.stranger_policy
        if policy == "accept":
            return cited, None
        if policy == "quarantine":
            raise Quarantine(f"{who} is not a participant of {cited.reference} it cites "
                             "(conversation.stranger_policy = quarantine)")
        return None, (cited, f"{who} cited {cited.reference} but is not one of its "
                             "participants")

    def _store_message(self, store: Store, item: SpoolItem, ticket: Ticket, inbound: Inbound,
                       kind: str, now: datetime) -> None:
        row = store.add_message(
            ticket_id=ticket.id, message_id=inbound.message_id, direction="in",
            kind=kind, now=now, spool_id=item.id,
            from_addr=inbound.from_addr, from_name=inbound.from_name,
            to_addrs=[a for _, a in inbound.to], cc_addrs=[a for _, a in inbound.cc],
            date=inbound.date, subject=inbound.subject, body_text=inbound.text,
            in_reply_to=inbound.in_reply_to[0] if inbound.in_reply_to else None,
        )
        for attachment in inbound.attachments:
            store.add_attachment(message_row=row, filename=attachment.filename,
                                 content_type=attachment.content_type, data=attachment.data,
                                 sha256=attachment.sha256)

    def _create(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
                link: tuple[Ticket, str] | None, facts: Facts) -> Ticket:
        ahead = facts.decided is not None and facts.now == now  # worked out for this instant
        decided = facts.decided if ahead and facts.decided else self._decide(item, inbound)
        language = facts.language
        subject = self.tags.strip_tags(normalize_subject(inbound.subject)) or "(no subject)"
        planned = facts.clocks if ahead and facts.clocks is not None else \
            clocks.plan_start(self.config, decided.level, now)
        ticket = store.create_ticket(  # with its deadlines: one INSERT, no UPDATEs after it
            reference_of=self.tags.reference, status="open", subject=subject,
            requester=inbound.from_addr or "unknown", requester_name=inbound.from_name,
            sla_level=decided.level, now=now, category=decided.category,
            priority=decided.priority, queue=decided.queue, language=language,
            **clocks.due_columns(planned),
        )
        if decided.fields:
            store.set_ticket_fields(ticket.id, decided.fields, now)
        store.add_event(ticket.id, "created", actor=ticket.requester, now=now,
                        message_id=inbound.message_id,
                        detail=f"new ticket via {item.channel}; {'; '.join(decided.reasons)}")
        if link is not None:
            old, why = link
            store.add_event(ticket.id, "linked", actor="mailgate", now=now,
                            message_id=inbound.message_id, detail=f"linked to {old.reference}: "
                                                                  f"{why}")
            store.add_event(old.id, "linked", actor="mailgate", now=now,
                            message_id=inbound.message_id,
                            detail=f"new ticket {ticket.reference} linked: {why}")
        clocks.start(self.config, store, ticket.id, decided.level, now, planned,
                     deadlines_written=True)
        return ticket

    def _participants(self, store: Store, ticket: Ticket, inbound: Inbound,
                      now: datetime) -> None:
        if inbound.from_addr and inbound.from_addr == ticket.requester:
            store.add_participant(ticket.id, inbound.from_addr, inbound.from_name,
                                  "requester", now)
        for name, address in [*inbound.to, *inbound.cc]:
            if (address in self.own_addresses or self.config.accepts(address)
                    or self.config.team.is_engineer(address)):
                continue
            if store.add_participant(ticket.id, address, name or None, "participant", now):
                store.add_event(ticket.id, "participant_added", actor=inbound.from_addr,
                                now=now, detail=f"{address} was in To/Cc",
                                message_id=inbound.message_id)

    def _automatic(self, store: Store, ticket: Ticket, inbound: Inbound,
                   automatic: Automatic, now: datetime) -> None:
        store.add_event(ticket.id, "automatic_mail", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"recorded, nothing reopened, nobody answered: {automatic.reason}")

    def _welcome(self, store: Store, ticket: Ticket, inbound: Inbound, now: datetime,
                 template: str = "ack") -> None:
        """The acknowledgement (or 'joined your open ticket' notice) and the team's notice."""
        record = store.ticket_record(ticket.id)
        level_name = record["sla_level"] or self.config.sla.default_level
        level = sla.level_of(self.config, level_name)
        calendar = self.config.sla.calendar(level.calendar)
        ticket_vars = ticket_context(store, ticket, record) | {
            "sla_description": level.description,
            "first_response_due": sla.local(self.config, level_name, ticket.first_response_due),
        }
        context = {
            "gateway": {"name": self.config.gateway.name,
                        "address": self.config.support_address},
            "ticket": ticket_vars,
            "sla": {
                "level": level_name, "description": level.description,
                "first_response": level.first_response.text,
                "resolution": level.resolution.text if level.resolution else None,
                "timezone": str(calendar.tz), "calendar": calendar.name,
                "working_time_only": calendar.name != "24x7",
            },
            "message": {"from_addr": inbound.from_addr, "from_name": inbound.from_name,
                        "subject": inbound.subject, "text": inbound.text},
        }
        recipient = (inbound.reply_to or [(inbound.from_name or "", inbound.from_addr)])[0]
        subject = self.tags.tagged_subject(ticket.id, inbound.subject or ticket.subject)
        queued = self.mailer.queue(store, ticket, kind=template, template=template,
                                   context=context, to=[recipient], subject=subject, now=now,
                                   in_reply_to=inbound.message_id,
                                   references=[*inbound.references, inbound.message_id],
                                   language=record["language"])
        if queued:
            store.add_event(ticket.id, "acknowledged", actor="mailgate", now=now,
                            message_id=inbound.message_id,
                            detail=f"{template} queued to {recipient[1]}")
        self.conversation.notify_team(store, ticket, inbound, now,
                                      "new" if template == "ack" else "duplicate",
                                      record=record)  # the queued mail left the row as it was

    def _bounce(self, store: Store, item: SpoolItem, inbound: Inbound,
                now: datetime) -> Outcome:
        """Record a delivery failure on the ticket of the bounced mail; never a new ticket."""
        bounce = parse_bounce(inbound.msg, item.mail_from)
        original = bounce.original_message_id if bounce else None
        found = store.message_exists(original) if original else None
        if found is None or found[1] != "out":
            raise Quarantine(f"bounce for a message we did not send ({original or 'no id'})")
        ticket = store.live_ticket(found[0])
        assert ticket is not None
        self._store_message(store, item, ticket, inbound, "bounce", now)
        detail = (f"{'failed' if bounce.permanent else 'delayed'} delivery of {original} to "
                  f"{', '.join(bounce.recipients) or 'unknown'}: "
                  f"{bounce.status or ''} {bounce.diagnostic or ''}".strip())
        store.add_event(ticket.id, "delivery_failed" if bounce.permanent else
                        "delivery_delayed", actor="mailgate", now=now,
                        message_id=inbound.message_id, detail=detail)
        if bounce.permanent:
            self.conversation.notify_team(store, ticket, inbound, now, "bounce")
        return Outcome("done", inbound.message_id, ticket.id, ticket.reference, "bounce",
                       "bounce")
