"""Queue one templated outgoing mail of a ticket: render, compose, outbox, record.

Every mail mailgate sends (acknowledgement, relay, notification, command
error, reminder) goes through ``queue`` so it is rendered from the admin's
templates, built through the ``email`` API, put in the outbox in the caller's
transaction, and recorded as an outgoing message of the ticket (its
Message-ID is what later replies thread on). Automatic mail to one address is
capped per window (a loop breaker that works even when every other rule
misses); hitting the cap is an event, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from mailgate import security
from mailgate.compose import compose, new_message_id
from mailgate.config import Config
from mailgate.message import Attachment
from mailgate.render import Renderer
from mailgate.store import Store, Ticket

log = structlog.get_logger("mailgate.mailer")

AUTOMATIC_KINDS = ("ack", "merged", "notification", "command_error", "reminder", "waiting",
                   "resolved", "relay_notice")
PRUNE_EVERY = 1000  # automatic mails between two deletions of counts older than the window


class Mailer:
    def __init__(self, config: Config, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.domain = config.support_address.rpartition("@")[2]
        self.queued: list[int] = []  # outbox ids since the last take_queued()
        self._recorded = 0

    def take_queued(self) -> list[int]:
        """Outbox ids queued since the last call (the processor wakes the sender for them)."""
        queued, self.queued = self.queued, []
        return queued

    def queue(self, store: Store, ticket: Ticket, *, kind: str, template: str,
              context: dict[str, Any], to: Sequence[tuple[str | None, str]], subject: str,
              now: datetime, in_reply_to: str | None = None, references: Sequence[str] = (),
              from_name: str | None = None, auto_submitted: str | None = "auto-replied",
              reply_to: str | None = None, language: str | None = None,
              cc: Sequence[tuple[str | None, str]] = (),
              attachments: Sequence[Attachment] = ()) -> int | None:
        """Queue the mail; return its outbox id, or None if the loop cap held it back.

        ``cc``: more recipients, in ``Cc:``; ``attachments``: files sent with it."""
        to = [(n, a) for n, a in to if a]
        cc = [(n, a) for n, a in cc if a]
        automatic = bool(auto_submitted) and kind in AUTOMATIC_KINDS
        if automatic:
            to = [(n, a) for n, a in to if not self._capped(store, ticket, a, now)]
            cc = [(n, a) for n, a in cc if not self._capped(store, ticket, a, now)]
        if not to:
            to, cc = cc[:1], cc[1:]
        if not to:
            return None
        rendered = self.renderer.render_or_default(template, context, language)
        if rendered.failure:  # the admin's template failed on this mail: the default went
            store.add_event(ticket.id, "template_failed", actor="mailgate", now=now,
                            detail=f"{rendered.failure}; sent the packaged default instead")
        message_id = new_message_id(self.domain)
        support = self.config.support_address
        raw = compose(
            from_addr=support,
            from_name=from_name or self.config.outbound.from_name or self.config.gateway.name,
            to=to, subject=subject, text=rendered.text, html=rendered.html,
            message_id=message_id, date=now, loop_id=support, in_reply_to=in_reply_to,
            references=references, auto_submitted=auto_submitted,
            reply_to=reply_to or security.reply_address(self.config, ticket.id, ticket.reference),
            cc=cc, attachments=attachments,
        )
        addresses = [a for _, a in [*to, *cc]]
        outbox_id = store.queue_outgoing(  # the outbox row and the message row recording it
            ticket_id=ticket.id, message_id=message_id, kind=kind, mail_from=support,
            rcpt_tos=addresses, raw=raw, now=now, from_name=from_name,
            to_addrs=[a for _, a in to], cc_addrs=[a for _, a in cc], subject=subject,
            body_text=rendered.text, in_reply_to=in_reply_to)
        if automatic:
            self.record_automatic(store, addresses, now)
        self.queued.append(outbox_id)
        return outbox_id

    def record_automatic(self, store: Store, addresses: Sequence[str], now: datetime) -> None:
        """Count automatic mail for the cap; every ``PRUNE_EVERY`` calls forget old counts."""
        store.record_auto_replies(addresses, now)
        self._recorded += 1
        if self._recorded % PRUNE_EVERY == 0:
            store.prune_auto_replies(now - self.config.conversation.auto_reply_cap_window)

    def _capped(self, store: Store, ticket: Ticket, address: str, now: datetime) -> bool:
        """Whether ``address`` had its ``auto_reply_cap`` of automatic mail this window.

        The cap breaks loops with robots outside: the team address and the engineers are
        never capped (a busy hour, or 20 mails from a stranger, must not silence the
        team's notifications and reminders); their own automatic mail changes nothing and
        a bounce of a notice is never answered (the respond step), so no loop runs there."""
        if address == self.config.team.address or self.config.team.is_engineer(address):
            return False
        cap = self.config.conversation.auto_reply_cap
        since = now - self.config.conversation.auto_reply_cap_window
        if cap <= 0 or store.count_auto_replies(address, since) < cap:
            return False
        store.add_event(ticket.id, "auto_reply_capped", actor="mailgate", now=now,
                        detail=f"no automatic mail to {address}: {cap} already sent within "
                               f"{self.config.conversation.auto_reply_cap_window}")
        log.warning("auto_reply_capped", to=address, ticket=ticket.reference)
        return True
