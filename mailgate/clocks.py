"""SLA clocks of a ticket: start, pause, resume, met, breach, and the reminders they plan.

Each ticket has up to two clocks, ``first_response`` and ``resolution``. A
clock stores only what cannot be derived: when it started, the working time
it has spent paused, and its state. The deadline is always recomputed from
those with ``sla.due`` (so a changed level or calendar, or a reloaded config,
moves open deadlines), and the planned reminders are rewritten with it.

Policy (documented in the README):
- both clocks start when the ticket is created;
- first response stops at the first public reply by an engineer (met, or
  breached if late);
- statuses in ``sla.pause_statuses`` (default awaiting_reply, on_hold) pause
  both clocks; leaving them resumes with the paused working time added;
- closing stops every clock; a reopen resumes the resolution clock where it
  stopped, the time spent closed counting as paused (the customer was not
  waiting on us).

Every start, pause, resume, met and breach is an event on the ticket. All
functions run inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailgate import sla
from mailgate.config import Config, Target
from mailgate.store import Store

KINDS = ("first_response", "resolution")
_DUE_COLUMN = {"first_response": "first_response_due", "resolution": "resolution_due"}


def _target(config: Config, level: str, kind: str) -> Target | None:
    spec = sla.level_of(config, level)
    return spec.first_response if kind == "first_response" else spec.resolution


def _label(kind: str) -> str:
    return kind.replace("_", " ")


@dataclass(frozen=True)
class Planned:
    """One clock of a new ticket, worked out before the transaction (pure arithmetic)."""

    kind: str
    target: Target
    due_at: datetime | None
    reminders: list[tuple[float, datetime]]


def plan_start(config: Config, level: str, now: datetime) -> list[Planned]:
    """The clocks a new ticket of ``level`` gets at ``now``: deadlines and reminder instants
    in business time (the calendar arithmetic, which needs no database)."""
    planned = []
    for kind in KINDS:
        target = _target(config, level, kind)
        if target is not None:
            due_at = sla.due(config, level, target, now)
            planned.append(Planned(kind, target, due_at,
                                   _reminder_plan(config, level, now, due_at)))
    return planned


def due_columns(planned: list[Planned]) -> dict[str, datetime | None]:
    """The ticket columns that hold the planned clocks' deadlines."""
    return {_DUE_COLUMN[c.kind]: c.due_at for c in planned}


def start(config: Config, store: Store, ticket_id: int, level: str, now: datetime,
          planned: list[Planned] | None = None, *, deadlines_written: bool = False) -> None:
    """Start the clocks of a new ticket and plan their reminders (``planned``: the same,
    worked out beforehand by ``plan_start`` for the same level and instant;
    ``deadlines_written``: the ticket row was created with ``due_columns(planned)``)."""
    planned = plan_start(config, level, now) if planned is None else planned
    for clock in planned:
        store.add_clock(ticket_id, clock.kind, started_at=now, due_at=clock.due_at,
                        reminders=clock.reminders)
        store.add_event(ticket_id, "sla_started", actor="mailgate", now=now,
                        detail=f"{_label(clock.kind)} clock started: {clock.target.text} of"
                               f" level {level}, due"
                               f" {sla.local(config, level, clock.due_at):%Y-%m-%d %H:%M %Z}")
    if planned and not deadlines_written:
        store.touch_ticket(ticket_id, now, **due_columns(planned))


def _reminder_plan(config: Config, level: str, started: datetime,
                   due_at: datetime | None) -> list[tuple[float, datetime]]:
    """Reminder instants at the level's points, measured in working time between start and due."""
    if due_at is None:
        return []
    spec = sla.level_of(config, level)
    span = sla.working_time_between(config, level, started, due_at)
    plan = []
    for point in spec.reminders:
        if point >= 1:
            plan.append((point, due_at))
        else:
            offset = timedelta(seconds=span.total_seconds() * point)
            plan.append((point, sla.due(config, level, Target(offset.total_seconds() / 60, "m"),
                                        started)))
    return plan


def _plan(config: Config, store: Store, ticket_id: int, kind: str, level: str,
          started: datetime, due_at: datetime | None) -> None:
    """Plan the clock's reminders afresh (replacing pending ones)."""
    store.replace_reminders(ticket_id, kind, _reminder_plan(config, level, started, due_at),
                            due_at)


def _recompute(config: Config, store: Store, ticket_id: int, kind: str, level: str,
               clock: dict, now: datetime) -> datetime | None:
    target = _target(config, level, kind)
    if target is None:
        due_at = None
    else:
        due_at = sla.due(config, level, target, clock["started_at"],
                         timedelta(seconds=clock["paused_seconds"]))
    store.save_clock(ticket_id, kind, due_at=due_at)
    store.touch_ticket(ticket_id, now, **{_DUE_COLUMN[kind]: due_at})
    return due_at


def pause(config: Config, store: Store, ticket_id: int, now: datetime, why: str) -> None:
    for clock in store.clocks(ticket_id):
        if clock["state"] != "running":
            continue
        store.save_clock(ticket_id, clock["kind"], state="paused", paused_at=now)
        store.replace_reminders(ticket_id, clock["kind"], [], None)
        store.add_event(ticket_id, "sla_paused", actor="mailgate", now=now,
                        detail=f"{_label(clock['kind'])} clock paused: {why}")


def resume(config: Config, store: Store, ticket_id: int, level: str, now: datetime,
           why: str, kinds: tuple[str, ...] = KINDS, from_state: str = "paused") -> None:
    """Resume paused (or, for a reopen, stopped) clocks, adding the idle working time."""
    for clock in store.clocks(ticket_id):
        if clock["kind"] not in kinds or clock["state"] != from_state:
            continue
        since = clock["paused_at"] if from_state == "paused" else clock["stopped_at"]
        idle = sla.working_time_between(config, level, since, now) if since else timedelta(0)
        clock["paused_seconds"] += idle.total_seconds()
        store.save_clock(ticket_id, clock["kind"], state="running", paused_at=None,
                         stopped_at=None, paused_seconds=clock["paused_seconds"])
        due_at = _recompute(config, store, ticket_id, clock["kind"], level, clock, now)
        _plan(config, store, ticket_id, clock["kind"], level, clock["started_at"], due_at)
        shown = f"{sla.local(config, level, due_at):%Y-%m-%d %H:%M %Z}" if due_at else "none"
        store.add_event(ticket_id, "sla_resumed", actor="mailgate", now=now,
                        detail=f"{_label(clock['kind'])} clock resumed ({why}); "
                               f"{idle} of working time added; due {shown}")


def stop(config: Config, store: Store, ticket_id: int, kind: str, now: datetime,
         why: str) -> None:
    """Stop one clock: met if in time, else breached."""
    clock = store.clock(ticket_id, kind)
    if clock is None or clock["state"] not in ("running", "paused"):
        return
    late = clock["due_at"] is not None and now > clock["due_at"]
    state = "breached" if late else "met"
    store.save_clock(ticket_id, kind, state=state, stopped_at=now, paused_at=None,
                     breached_at=clock["breached_at"] or (now if late else None))
    store.replace_reminders(ticket_id, kind, [], None)
    store.add_event(ticket_id, f"sla_{state}", actor="mailgate", now=now,
                    detail=f"{_label(kind)} {state}: {why}")


def on_status_change(config: Config, store: Store, ticket_id: int, level: str, old: str,
                     new: str, now: datetime) -> None:
    """Apply the clock policy to a status change."""
    pausing = set(config.sla.pause_statuses)
    if new == "closed":
        for kind in KINDS:
            stop(config, store, ticket_id, kind, now, "ticket closed")
        return
    if old == "closed":
        resume(config, store, ticket_id, level, now, "ticket reopened",
               kinds=("resolution",), from_state="met")
        resume(config, store, ticket_id, level, now, "ticket reopened",
               kinds=("resolution",), from_state="breached")
    if new in pausing and old not in pausing:
        pause(config, store, ticket_id, now, f"status {new}")
    elif old in pausing and new not in pausing:
        resume(config, store, ticket_id, level, now, f"status {new}")


def recompute_ticket(config: Config, store: Store, ticket_id: int, now: datetime) -> int:
    """New deadlines and reminders for a ticket's open clocks (level or calendar changed)."""
    ticket = store.ticket(ticket_id)
    level = ticket.sla_level or config.sla.default_level
    count = 0
    for clock in store.clocks(ticket_id):
        if clock["state"] not in ("running", "paused"):
            continue
        due_at = _recompute(config, store, ticket_id, clock["kind"], level, clock, now)
        if clock["state"] == "running":
            _plan(config, store, ticket_id, clock["kind"], level, clock["started_at"], due_at)
        count += 1
    return count


def recompute_all(config: Config, store: Store, now: datetime) -> int:
    """After a config reload: recompute every ticket that has an open clock."""
    return sum(recompute_ticket(config, store, ticket_id, now)
               for ticket_id in sorted({t for t, _ in store.open_clocks()}))


def mark_breached(store: Store, ticket_id: int, kind: str, now: datetime) -> bool:
    """Record the first breach of a running clock (from the 100% reminder); True if new."""
    clock = store.clock(ticket_id, kind)
    if clock is None or clock["breached_at"] is not None:
        return False
    store.save_clock(ticket_id, kind, breached_at=now)
    store.add_event(ticket_id, "sla_breached", actor="mailgate", now=now,
                    detail=f"{_label(kind)} deadline {clock['due_at']:%Y-%m-%d %H:%M %Z} passed")
    return True
