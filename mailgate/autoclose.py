"""Auto-close: plan the reminder and the close of a ticket left waiting for the customer.

When a ticket enters ``awaiting_reply`` and ``[conversation] auto_close_after``
is set, two rows are planned in the ``reminders`` table (kind ``auto_close``):
point 0.5, the customer's reminder at half the period, and point 1.0, the close
(``due_at`` of both is the close instant). They are claimed and fired like SLA
reminders (``mailgate.reminders``), so they run once across nodes and survive a
restart. Leaving ``awaiting_reply``, or any customer reply, deletes what is
still pending, except a bare thank-you: it keeps the ticket waiting, so the
period is planned afresh from it. Runs inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from mailgate import bizcal, sla
from mailgate.config import Config
from mailgate.config.fields import parse_duration
from mailgate.store import Store, Ticket

KIND = "auto_close"
REMIND, CLOSE = 0.5, 1.0


def close_at(config: Config, ticket: Ticket, since: datetime) -> tuple[datetime, datetime]:
    """(reminder instant, close instant) for a ticket waiting since ``since``."""
    settings = config.conversation
    days = settings.auto_close_days()
    if days is None:
        period = parse_duration(settings.auto_close_after)
        return since + period / 2, since + period
    level = ticket.sla_level or config.sla.default_level
    calendar = config.sla.calendar(sla.level_of(config, level).calendar)
    end = bizcal.add_business_days(calendar, since, days)
    half = bizcal.business_time_between(calendar, since, end) / 2
    return bizcal.add_business_time(calendar, since, half), end


def plan(config: Config, store: Store, ticket: Ticket, now: datetime) -> None:
    """The ticket entered ``awaiting_reply`` at ``now``: plan its reminder and close."""
    if not config.conversation.auto_close_after:
        return
    remind, end = close_at(config, ticket, now)
    store.replace_reminders(ticket.id, KIND, [(REMIND, remind), (CLOSE, end)], end)


def cancel(store: Store, ticket_id: int) -> None:
    """Forget the ticket's pending reminder and close (it left awaiting_reply, or the
    customer answered)."""
    store.replace_reminders(ticket_id, KIND, [], None)


def describe(config: Config) -> str:
    """The setting as events and logs name it."""
    return f"{config.conversation.auto_close_after} (conversation.auto_close_after)"


__all__ = ["CLOSE", "KIND", "REMIND", "cancel", "close_at", "describe", "plan"]
