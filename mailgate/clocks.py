"""SLA clocks of a ticket: start, pause, resume, met, breach, and the reminders they plan.

Each ticket has up to two clocks, ``first_response`` and ``resolution``. A
clock stores only what cannot be derived: when it started, the working time
it has spent paused, and its state. The deadline is always recomputed from
those with ``sla.due`` (so a changed level or calendar, or a reloaded config,
moves open deadlines), and the planned reminders are rewritten with it.

Policy (documented in the README):
- both clocks start when mailgate accepted the ticket's first mail (the spool's
  ``received_at``), not when it was processed;
- first response stops at the first public reply by an engineer (met, or
  breached if late);
- statuses in ``sla.pause_statuses`` (default awaiting_reply, on_hold) pause
  both clocks; leaving them resumes with the paused working time added;
- closing stops every clock; a clock stopped while paused first gets its paused
  time, so a pause is never judged a breach; a reopen resumes the resolution
  clock where it stopped, the time spent closed counting as paused (the
  customer was not waiting on us);
- a reminder point fires where that share of the target has really been used,
  once per clock (``last_point``), whatever pauses and reloads re-plan.

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
#: the state of a first response clock stopped by a close in time, with no response given
UNANSWERED = "unanswered"
_DUE_COLUMN = {"first_response": "first_response_due", "resolution": "resolution_due"}


def _target(config: Config, level: str, kind: str) -> Target | None:
    spec = sla.level_of(config, level)
    return spec.first_response if kind == "first_response" else spec.resolution


def span(delta: timedelta) -> str:
    """A time span as people read it in an event or a reminder: "less than a minute",
    "12 min", "3 h 5 min", "2 d 4 h" (no microseconds, no "0:00:11.977067")."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


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


def start_of(received_at: datetime, now: datetime) -> datetime:
    """When a new ticket's clocks start: when mailgate accepted its mail (committed it to the
    spool), not when it was processed, so a processing backlog counts against the desk."""
    return min(received_at, now)


def start(config: Config, store: Store, ticket_id: int, level: str, now: datetime,
          planned: list[Planned] | None = None, *, deadlines_written: bool = False,
          started_at: datetime | None = None) -> None:
    """Start the clocks of a new ticket at ``started_at`` (default ``now``, the events'
    instant) and plan their reminders (``planned``: the same, worked out beforehand by
    ``plan_start`` for the same level and start; ``deadlines_written``: the ticket row was
    created with ``due_columns(planned)``)."""
    started_at = started_at or now
    planned = plan_start(config, level, started_at) if planned is None else planned
    for clock in planned:
        store.add_clock(ticket_id, clock.kind, started_at=started_at, due_at=clock.due_at,
                        reminders=clock.reminders)
        store.add_event(ticket_id, "sla_started", actor="mailgate", now=now,
                        detail=f"{_label(clock.kind)} clock started: "
                               f"{clock.target.said(_working(config, level))} of"
                               f" level {level}, due"
                               f" {sla.local(config, level, clock.due_at):%Y-%m-%d %H:%M %Z}")
    if planned and not deadlines_written:
        store.touch_ticket(ticket_id, now, **due_columns(planned))


def _working(config: Config, level: str) -> bool:
    """Whether the level's clock counts working time only (not on a round-the-clock
    calendar: there "2 working hours" would read as if nights did not count)."""
    return not config.sla.calendar(sla.level_of(config, level).calendar).round_the_clock


def _reminder_plan(config: Config, level: str, started: datetime, due_at: datetime | None,
                   clock: dict | None = None, now: datetime | None = None,
                   ) -> list[tuple[float, datetime]]:
    """Reminder instants: point ``p`` where ``p`` of the target's working time has really been
    used, paused time skipped. Planned at ``now`` for a running ``clock`` (a resume, a reload),
    points already sent for the clock, and points below 1 already passed, are left out: a
    reminder is sent once per clock, never for a share spent before a pause."""
    if due_at is None:
        return []
    now = now or started
    spec = sla.level_of(config, level)
    paused = timedelta(seconds=clock["paused_seconds"]) if clock else timedelta(0)
    last = clock.get("last_point") if clock else None
    span = sla.working_time_between(config, level, started, due_at) - paused  # the target
    used = sla.working_time_between(config, level, started, now) - paused if now > started \
        else timedelta(0)
    plan = []
    for point in spec.reminders:
        if last is not None and point <= last:
            continue
        if point >= 1:
            plan.append((point, due_at))
            continue
        left = span * point - used
        if left > timedelta(0):
            plan.append((point, sla.due(config, level, Target(left.total_seconds() / 60, "m"),
                                        now)))
    return plan + _repeat(config, level, clock, now)


def _repeat(config: Config, level: str, clock: dict | None,
            now: datetime) -> list[tuple[float, datetime]]:
    """The next ``repeat_after_breach`` reminder of a clock whose breach was already sent
    (a re-plan keeps the escalation going): a repeat after the last reminder, or now."""
    repeat = sla.level_of(config, level).repeat_after_breach
    if not clock or not repeat or (clock.get("last_point") or 0) < 1:
        return []
    after = clock.get("last_reminder_at")
    return [(clock["last_point"] + 1, max(after + repeat, now) if after else now)]


def _plan(config: Config, store: Store, ticket_id: int, level: str, clock: dict,
          due_at: datetime | None, now: datetime) -> None:
    """Plan the running clock's reminders afresh (replacing pending ones)."""
    store.replace_reminders(ticket_id, clock["kind"],
                            _reminder_plan(config, level, clock["started_at"], due_at, clock, now),
                            due_at)


def _recompute(config: Config, store: Store, ticket_id: int, kind: str, level: str,
               clock: dict) -> datetime | None:
    """The clock's deadline from its start and paused time, saved on the clock and the
    ticket's due column (not its ``updated_at``: a reload is not an update of the ticket)."""
    target = _target(config, level, kind)
    if target is None:
        due_at = None
    else:
        due_at = sla.due(config, level, target, clock["started_at"],
                         timedelta(seconds=clock["paused_seconds"]))
    if due_at != clock["due_at"]:
        store.save_clock(ticket_id, kind, due_at=due_at)
        store.set_ticket_due(ticket_id, _DUE_COLUMN[kind], due_at)
    return due_at


def _add_idle(config: Config, store: Store, ticket_id: int, level: str, clock: dict,
              since: datetime | None, now: datetime) -> timedelta:
    """Add the working time from ``since`` to ``now`` to the clock's paused time."""
    idle = sla.working_time_between(config, level, since, now) if since else timedelta(0)
    clock["paused_seconds"] += idle.total_seconds()
    store.save_clock(ticket_id, clock["kind"], paused_seconds=clock["paused_seconds"])
    clock["due_at"] = _recompute(config, store, ticket_id, clock["kind"], level, clock)
    return idle


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
        store.save_clock(ticket_id, clock["kind"], state="running", paused_at=None,
                         stopped_at=None)
        idle = _add_idle(config, store, ticket_id, level, clock, since, now)
        due_at = clock["due_at"]
        _plan(config, store, ticket_id, level, clock, due_at, now)
        shown = f"{sla.local(config, level, due_at):%Y-%m-%d %H:%M %Z}" if due_at else "none"
        store.add_event(ticket_id, "sla_resumed", actor="mailgate", now=now,
                        detail=f"{_label(clock['kind'])} clock resumed ({why}); "
                               f"{span(idle)} of working time added; due {shown}")


def stop(config: Config, store: Store, ticket_id: int, kind: str, now: datetime,
         why: str, in_time: str = "met") -> None:
    """Stop one clock: ``in_time`` (met) if in time, else breached. A paused clock first gets
    its paused working time (its deadline moves by it), so a pause never turns into a
    breach."""
    clock = store.clock(ticket_id, kind)
    if clock is None or clock["state"] not in ("running", "paused"):
        return
    if clock["state"] == "paused":
        ticket = store.ticket(ticket_id)
        _add_idle(config, store, ticket_id, ticket.sla_level or config.sla.default_level,
                  clock, clock["paused_at"], now)
    late = clock["breached_at"] is not None or (
        clock["due_at"] is not None and now > clock["due_at"])
    state = "breached" if late else in_time
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
        # a first response still running at the close was never given: "unanswered", in
        # the SLA report neither met (it would flatter the desk: user8) nor breached (it
        # was in time); past its deadline it was breached, as always
        stop(config, store, ticket_id, "first_response", now,
             "ticket closed without a response", in_time=UNANSWERED)
        stop(config, store, ticket_id, "resolution", now, "ticket closed")
        return
    if old == "closed":
        resume(config, store, ticket_id, level, now, "ticket reopened",
               kinds=("resolution",), from_state="met")
        resume(config, store, ticket_id, level, now, "ticket reopened",
               kinds=("resolution",), from_state="breached")
        # still no response: the customer waits for one again
        resume(config, store, ticket_id, level, now, "ticket reopened",
               kinds=("first_response",), from_state=UNANSWERED)
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
        due_at = _recompute(config, store, ticket_id, clock["kind"], level, clock)
        if clock["state"] == "running":
            _plan(config, store, ticket_id, level, clock, due_at, now)
        count += 1
    return count


def recompute_all(config: Config, store: Store, now: datetime) -> int:
    """After a config reload: recompute every ticket that has an open clock."""
    return sum(recompute_ticket(config, store, ticket_id, now)
               for ticket_id in sorted({t for t, _ in store.open_clocks()}))


def note_sent(store: Store, ticket_id: int, kind: str, point: float, now: datetime) -> None:
    """Remember the highest reminder point sent for the clock (never planned again for it)."""
    clock = store.clock(ticket_id, kind)
    if clock is not None and point > (clock["last_point"] or 0):
        store.save_clock(ticket_id, kind, last_point=point, last_reminder_at=now)


def mark_breached(store: Store, ticket_id: int, kind: str, now: datetime) -> bool:
    """Record the first breach of a running clock (from the 100% reminder); True if new."""
    clock = store.clock(ticket_id, kind)
    if clock is None or clock["breached_at"] is not None:
        return False
    store.save_clock(ticket_id, kind, breached_at=now)
    store.add_event(ticket_id, "sla_breached", actor="mailgate", now=now,
                    detail=f"{_label(kind)} deadline {clock['due_at']:%Y-%m-%d %H:%M %Z} passed")
    return True
