"""Changes to tickets that people make (CLI today, email commands later): one service layer.

Whoever changes a ticket, the same function records the event (who, when,
why) and applies the SLA clock policy, so the CLI and mail commands cannot
drift apart. Runs inside the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from mailgate import autoclose, clocks
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
                    detail=f"{old} -> {status}: {why}", from_status=old)
    clocks.on_status_change(config, store, ticket.id, ticket.sla_level or
                            config.sla.default_level, old, status, now)
    if status == "awaiting_reply":
        autoclose.plan(config, store, ticket, now)
    elif old == "awaiting_reply":
        autoclose.cancel(store, ticket.id)
    return True


def assign(config: Config, store: Store, ticket: Ticket, who: str | None, *, actor: str,
           now: datetime, message_id: str | None = None) -> str | None:
    """Assign to an engineer by short name or address (None unassigns); return the address."""
    address = None
    if who:
        address = config.team.engineer_address(who)
        if address is None:
            known = ", ".join(sorted(config.team.engineers)) or "none configured"
            raise MailgateError(f"unknown engineer {who!r} (known: {known})")
    store.touch_ticket(ticket.id, now, assignee=address)
    store.add_event(ticket.id, "assigned", actor=actor, now=now, message_id=message_id,
                    detail=f"assigned to {address}" if address else "unassigned")
    return address


def _set_choice(store: Store, ticket: Ticket, column: str, value: str, allowed: list[str],
                *, actor: str, now: datetime, message_id: str | None) -> None:
    if value not in allowed:
        raise MailgateError(f"unknown {column} {value!r}; one of {', '.join(allowed)}")
    store.touch_ticket(ticket.id, now, **{column: value})
    store.add_event(ticket.id, f"{column}_changed", actor=actor, now=now, message_id=message_id,
                    detail=f"{column} {value}")


def set_priority(config: Config, store: Store, ticket: Ticket, priority: str, *, actor: str,
                 now: datetime, message_id: str | None = None) -> None:
    _set_choice(store, ticket, "priority", priority, config.sla.priorities, actor=actor,
                now=now, message_id=message_id)


def set_category(config: Config, store: Store, ticket: Ticket, category: str, *, actor: str,
                 now: datetime, message_id: str | None = None) -> None:
    _set_choice(store, ticket, "category", category, config.sla.categories, actor=actor,
                now=now, message_id=message_id)


def set_level(config: Config, store: Store, ticket: Ticket, level: str, *, actor: str,
              now: datetime, message_id: str | None = None) -> None:
    """Change the SLA level: open deadlines and reminders are recomputed."""
    names = {name.casefold(): name for name in config.sla.levels}
    if level.casefold() not in names:
        raise MailgateError(f"unknown SLA level {level!r}; one of {', '.join(names.values())}")
    level = names[level.casefold()]
    store.touch_ticket(ticket.id, now, sla_level=level)
    clocks.recompute_ticket(config, store, ticket.id, now)
    store.add_event(ticket.id, "level_changed", actor=actor, now=now, message_id=message_id,
                    detail=f"SLA level {ticket.sla_level} -> {level}; deadlines recomputed")


def set_field(config: Config, store: Store, ticket: Ticket, name: str, value: str, *,
              actor: str, now: datetime, message_id: str | None = None) -> None:
    """Set one custom field (a name from ``[[sla.fields]]``)."""
    known = [f.name for f in config.sla.fields]
    if name not in known:
        raise MailgateError(f"unknown field {name!r}; configured: {', '.join(known) or 'none'}")
    fields = json.loads(store.ticket_record(ticket.id).get("fields") or "{}")
    fields[name] = value.strip()[:200]
    store.set_ticket_fields(ticket.id, fields, now)
    store.add_event(ticket.id, "field_changed", actor=actor, now=now, message_id=message_id,
                    detail=f"{name} = {fields[name]}")


def add_participant(store: Store, ticket: Ticket, address: str, *, actor: str, now: datetime,
                    name: str | None = None, message_id: str | None = None) -> bool:
    added = store.add_participant(ticket.id, address, name, "participant", now)
    if added:
        store.add_event(ticket.id, "participant_added", actor=actor, now=now,
                        message_id=message_id, detail=f"{address} added")
    return added


def remove_participant(store: Store, ticket: Ticket, address: str, *, actor: str,
                       now: datetime, message_id: str | None = None) -> bool:
    removed = store.remove_participant(ticket.id, address)
    if removed:
        store.add_event(ticket.id, "participant_removed", actor=actor, now=now,
                        message_id=message_id, detail=f"{address} removed")
    return removed


def merge(config: Config, store: Store, source: Ticket, target: Ticket, *, actor: str,
          why: str, now: datetime, message_id: str | None = None) -> Ticket:
    """Merge ``source`` into ``target``: mail citing either reaches ``target`` from now on.

    The source is closed (its clocks stop) and points at the target; its participants
    join the target. Both tickets get an event.
    """
    if source.id == target.id:
        raise MailgateError(f"cannot merge {source.reference} into itself")
    if target.merged_into is not None:
        live = store.live_ticket(target.id)
        if live is None or live.id == source.id:
            raise MailgateError(f"{target.reference} is merged into {source.reference}")
        target = live
    for person in store.participants(source.id):
        store.add_participant(target.id, person["address"], person["name"], "participant", now)
    set_status(config, store, source, "closed", actor=actor, now=now, message_id=message_id,
               why=f"merged into {target.reference}")
    store.touch_ticket(source.id, now, merged_into=target.id)
    store.add_event(source.id, "merged", actor=actor, now=now, message_id=message_id,
                    detail=f"merged into {target.reference}: {why}")
    store.add_event(target.id, "merged", actor=actor, now=now, message_id=message_id,
                    detail=f"{source.reference} merged into this ticket: {why}")
    store.touch_ticket(target.id, now)
    return target
