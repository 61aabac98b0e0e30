"""Changes to tickets that people make (CLI today, email commands later): one service layer.

Whoever changes a ticket, the same function records the event (who, when,
why) and applies the SLA clock policy, so the CLI and mail commands cannot
drift apart. Runs inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from mailgate import clocks
from mailgate.config import STATUSES, Config
from mailgate.errors import MailgateError
from mailgate.store import Store, Ticket


def set_status(config: Config, store: Store, ticket: Ticket, status: str, *, actor: str,
               why: str, now: datetime, message_id: str | None = None) -> bool:
    """Move ``ticket`` to ``status``; False if it was already there."""
    if status not in STATUSES:
        raise MailgateError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    old = ticket.status
    if old == status:
        return False
    store.touch_ticket(ticket.id, now, status=status,
                       closed_at=now if status == "closed" else None)
    store.add_event(ticket.id, "status_changed", actor=actor, now=now, message_id=message_id,
                    detail=f"{old} -> {status}: {why}")
    clocks.on_status_change(config, store, ticket.id, ticket.sla_level or
                            config.sla.default_level, old, status, now)
    return True
