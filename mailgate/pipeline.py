"""From one parsed message to a committed ticket update: the one path every channel shares.

``Pipeline.handle`` runs inside the processor's transaction and does, in order:
1. **dedupe**: a Message-ID (or, without one, a content hash) already stored
   means the same mail arrived twice; it is recorded as a duplicate, no more.
2. **thread**: the ticket tag in the subject, else ``In-Reply-To``, else
   ``References`` (incoming and our own outgoing Message-IDs alike), else a
   new ticket. Merged tickets are followed to the survivor.
3. **record**: ticket created or updated, message, participants and
   attachments stored, and one event per decision with its reason.
4. **answer**: an acknowledgement for a new ticket, rendered from templates
   and put in the outbox in the same transaction (never for automatic mail).

Nothing here sends mail or commits; the caller owns the transaction, so a
crash anywhere leaves either all of it or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailgate import clocks, desk, sla
from mailgate.autoreply import classify_automatic
from mailgate.compose import compose, new_message_id
from mailgate.config import Config
from mailgate.gratitude import GratitudeDetector
from mailgate.message import Inbound
from mailgate.quotes import new_text
from mailgate.refs import TagFormat, normalize_subject
from mailgate.render import Renderer
from mailgate.store import Store, Ticket
from mailgate.store.rows import SpoolItem


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
    action: str = ""  # "created", "appended", "duplicate"
    method: str = ""
    outbox_ids: list[int] = field(default_factory=list)


class Pipeline:
    """Holds what handling needs besides the store: config, templates, tag format."""

    def __init__(self, config: Config, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
        self.own_addresses = frozenset([*config.gateway.addresses, config.support_address])
        self.domain = config.support_address.rpartition("@")[2]
        self.gratitude = GratitudeDetector.load()

    # -- threading -------------------------------------------------------------

    def thread(self, store: Store, inbound: Inbound) -> Threading:
        """Find the ticket ``inbound`` belongs to (see the module docstring for the order)."""
        for number in self.tags.find_numbers(inbound.subject):
            try:
                ticket = store.live_ticket(number)
            except Exception:
                ticket = None
            if ticket is not None:
                reference = self.tags.reference(number)
                return Threading(ticket, "tag", f"subject tag [{reference}]")
        for method, ids in (("in-reply-to", inbound.in_reply_to),
                            ("references", list(reversed(inbound.references)))):
            found = store.ticket_of_message_ids(ids)
            if found:
                ticket = store.live_ticket(found[0])
                if ticket is not None:
                    return Threading(ticket, method, f"{method} {found[1]}")
        return Threading(None, "none")

    # -- handling --------------------------------------------------------------

    def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime) -> Outcome:
        """Apply one message to the store; the caller holds the transaction."""
        seen = store.message_exists(inbound.message_id)
        if seen is not None:
            return Outcome("duplicate", inbound.message_id, ticket_id=seen[0],
                           action="duplicate")
        automatic = classify_automatic(inbound.msg, item.mail_from,
                                       own_addresses=self.own_addresses,
                                       own_domain_ids=frozenset([self.config.support_address]))
        threading = self.thread(store, inbound)
        who = inbound.from_addr or "unknown"
        if threading.ticket is None:
            ticket, decided = self._create(store, item, inbound, now)
            store.add_event(ticket.id, "created", actor=who, now=now,
                            message_id=inbound.message_id,
                            detail=f"new ticket from {who} via {item.channel}; no thread signal"
                                   f"; {'; '.join(decided.reasons)}")
            clocks.start(self.config, store, ticket.id, ticket.sla_level or "", now)
            ticket = store.ticket(ticket.id)
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "created", "none")
        else:
            ticket = threading.ticket
            store.add_event(ticket.id, "threaded", actor=who, now=now,
                            message_id=inbound.message_id,
                            detail=f"reply joined by {threading.detail}")
            outcome = Outcome("done", inbound.message_id, ticket.id, ticket.reference,
                              "appended", threading.method)
        row = store.add_message(
            ticket_id=ticket.id, message_id=inbound.message_id, direction="in",
            kind="automatic" if automatic else "customer", now=now, spool_id=item.id,
            from_addr=inbound.from_addr, from_name=inbound.from_name,
            to_addrs=[a for _, a in inbound.to], cc_addrs=[a for _, a in inbound.cc],
            date=inbound.date, subject=inbound.subject, body_text=inbound.text,
            in_reply_to=inbound.in_reply_to[0] if inbound.in_reply_to else None,
        )
        for attachment in inbound.attachments:
            store.add_attachment(message_row=row, filename=attachment.filename,
                                 content_type=attachment.content_type, data=attachment.data,
                                 sha256=attachment.sha256)
        self._participants(store, ticket, inbound, now)
        if threading.ticket is not None:
            self._reopen_if_closed(store, ticket, inbound, automatic, now)
            store.touch_ticket(ticket.id, now)
        if automatic is not None:
            store.add_event(ticket.id, "automatic_mail", actor="mailgate", now=now,
                            message_id=inbound.message_id,
                            detail=f"no automatic answer: {automatic.reason}")
        elif threading.ticket is None:
            outcome.outbox_ids.append(self._acknowledge(store, ticket, inbound, now))
        return outcome

    def _create(self, store: Store, item: SpoolItem, inbound: Inbound,
                now: datetime) -> tuple[Ticket, sla.Classification]:
        defaults = self.config.mailbox_defaults(item.source)
        decided = sla.classify(self.config, inbound, item.rcpt_tos,
                               default_level=defaults.get("sla_level"),
                               default_queue=defaults.get("queue"))
        subject = self.tags.strip_tags(normalize_subject(inbound.subject)) or "(no subject)"
        ticket = store.create_ticket(
            reference_of=self.tags.reference, status="open", subject=subject,
            requester=inbound.from_addr or "unknown", requester_name=inbound.from_name,
            sla_level=decided.level, first_response_due=None, now=now,
        )
        store.touch_ticket(ticket.id, now, category=decided.category,
                           priority=decided.priority, queue=decided.queue)
        if decided.fields:
            store.set_ticket_fields(ticket.id, decided.fields, now)
        return ticket, decided

    def _participants(self, store: Store, ticket: Ticket, inbound: Inbound,
                      now: datetime) -> None:
        if inbound.from_addr and inbound.from_addr == ticket.requester:
            store.add_participant(ticket.id, inbound.from_addr, inbound.from_name,
                                  "requester", now)
        for name, address in [*inbound.to, *inbound.cc]:
            if address in self.own_addresses or self.config.accepts(address):
                continue
            if store.add_participant(ticket.id, address, name or None, "participant", now):
                store.add_event(ticket.id, "participant_added", actor=inbound.from_addr,
                                now=now, detail=f"{address} was in To/Cc",
                                message_id=inbound.message_id)

    def _reopen_if_closed(self, store: Store, ticket: Ticket, inbound: Inbound,
                          automatic: Any, now: datetime) -> None:
        if ticket.status != "closed" or automatic is not None:
            return
        verdict = self.gratitude.classify(new_text(inbound.text))
        if verdict.thanks_only:
            store.add_event(ticket.id, "thanks_suppressed", actor=inbound.from_addr, now=now,
                            message_id=inbound.message_id,
                            detail=f"reply to a closed ticket not reopened: {verdict.reason}")
            return
        desk.set_status(self.config, store, ticket, "open", actor=inbound.from_addr, now=now,
                        why="reply to a closed ticket reopens it",
                        message_id=inbound.message_id)

    def _acknowledge(self, store: Store, ticket: Ticket, inbound: Inbound,
                     now: datetime) -> int:
        level_name = ticket.sla_level or self.config.sla.default_level
        level = sla.level_of(self.config, level_name)
        calendar = self.config.sla.calendar(level.calendar)
        context = {
            "gateway": {"name": self.config.gateway.name,
                        "address": self.config.support_address},
            "ticket": {
                "reference": ticket.reference, "subject": ticket.subject,
                "status": ticket.status, "sla_level": ticket.sla_level,
                "sla_description": level.description if level else "",
                "first_response_due": sla.local(self.config, level_name,
                                                ticket.first_response_due),
                "created_at": ticket.created_at, "requester": ticket.requester,
                "requester_name": ticket.requester_name,
            },
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
        rendered = self.renderer.render("ack", context)
        message_id = new_message_id(self.domain)
        recipient = (inbound.reply_to or [(inbound.from_name or "", inbound.from_addr)])[0]
        subject = self.tags.tagged_subject(ticket.id, inbound.subject or ticket.subject)
        raw = compose(
            from_addr=self.config.support_address,
            from_name=self.config.outbound.from_name or self.config.gateway.name,
            to=[recipient], subject=subject, text=rendered.text, html=rendered.html,
            message_id=message_id, date=now, loop_id=self.config.support_address,
            in_reply_to=inbound.message_id,
            references=[*inbound.references, inbound.message_id],
        )
        outbox_id = store.outbox_add(ticket_id=ticket.id, message_id=message_id, kind="ack",
                                     mail_from=self.config.support_address,
                                     rcpt_tos=[recipient[1]], raw=raw, now=now)
        store.add_message(ticket_id=ticket.id, message_id=message_id, direction="out",
                          kind="ack", now=now, outbox_id=outbox_id,
                          from_addr=self.config.support_address,
                          to_addrs=[recipient[1]], date=now, subject=subject,
                          body_text=rendered.text, in_reply_to=inbound.message_id)
        store.add_event(ticket.id, "acknowledged", actor="mailgate", now=now,
                        message_id=message_id, detail=f"acknowledgement queued to {recipient[1]}")
        return outbox_id
