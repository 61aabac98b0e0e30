"""SLA queries: the clocks of a ticket and the reminders planned from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.store.base import StoreBase


class SlaQueries(StoreBase):
    """``sla_clocks`` and ``reminders``; take the ticket before its clocks (lock order)."""

    def clock(self, ticket_id: int, kind: str) -> dict[str, Any] | None:
        cur = self._x("SELECT * FROM sla_clocks WHERE ticket_id = ? AND kind = ?",
                      (ticket_id, kind))
        row = cur.fetchone()
        if row is None:
            return None
        record = dict(zip([d[0] for d in cur.description], row, strict=True))
        for key in ("started_at", "paused_at", "due_at", "stopped_at", "breached_at",
                    "last_reminder_at"):
            record[key] = from_db(record[key])
        return record

    def clocks(self, ticket_id: int) -> list[dict[str, Any]]:
        kinds = [r[0] for r in self._x("SELECT kind FROM sla_clocks WHERE ticket_id = ?"
                                       " ORDER BY kind", (ticket_id,))]
        return [c for c in (self.clock(ticket_id, k) for k in kinds) if c is not None]

    def save_clock(self, ticket_id: int, kind: str, **values: Any) -> None:
        """Insert or update one SLA clock of a ticket."""
        values = {k: to_db(v) if isinstance(v, datetime) else v for k, v in values.items()}
        updates = ", ".join(f"{k} = ?" for k in values)
        cur = self._x(f"UPDATE sla_clocks SET {updates} WHERE ticket_id = ? AND kind = ?",
                      (*values.values(), ticket_id, kind))
        if cur.rowcount == 0:
            columns = ", ".join(["ticket_id", "kind", *values])
            marks = ", ".join("?" * (len(values) + 2))
            self._x(f"INSERT INTO sla_clocks ({columns}) VALUES ({marks})",
                    (ticket_id, kind, *values.values()))

    def add_clock(self, ticket_id: int, kind: str, *, started_at: datetime,
                  due_at: datetime | None, reminders: Sequence[tuple[float, datetime]]) -> None:
        """A new ticket's running clock and its planned reminders (nothing to replace).
        Within ``rows_together`` (the processor's group) the rows of the group's new tickets
        are written together: two statements for the group, not two a ticket."""
        self._insert_later("INSERT INTO sla_clocks (ticket_id, kind, started_at,"
                           " paused_seconds, due_at, state) VALUES (?, ?, ?, 0, ?, 'running')",
                           (ticket_id, kind, to_db(started_at), to_db(due_at)))
        if due_at is not None and reminders:
            self._insert_many_later("INSERT INTO reminders (ticket_id, kind, point, fire_at,"
                                    " due_at) VALUES (?, ?, ?, ?, ?)",
                                    [(ticket_id, kind, point, to_db(fire_at), to_db(due_at))
                                     for point, fire_at in reminders])

    def set_ticket_due(self, ticket_id: int, column: str, due_at: datetime | None) -> None:
        """Move one of the ticket's deadline columns, leaving ``updated_at`` alone (a moved
        deadline is the SLA's doing, not an update of the ticket)."""
        if column not in ("first_response_due", "resolution_due"):
            raise ValueError(f"not a deadline column: {column}")
        self._x(f"UPDATE tickets SET {column} = ? WHERE id = ?", (to_db(due_at), ticket_id))

    def open_clocks(self) -> list[tuple[int, str]]:
        """(ticket id, kind) of every clock still running or paused."""
        return [(r[0], r[1]) for r in self._x(
            "SELECT ticket_id, kind FROM sla_clocks WHERE state IN ('running', 'paused')")]

    def replace_reminders(self, ticket_id: int, kind: str,
                          plan: Sequence[tuple[float, datetime]], due_at: datetime | None,
                          ) -> None:
        """Drop the clock's pending reminders and plan ``plan`` (point, fire_at) afresh,
        skipping points that were already sent for the same deadline."""
        self._x("DELETE FROM reminders WHERE ticket_id = ? AND kind = ? AND state = 'pending'",
                (ticket_id, kind))
        if due_at is None:
            return
        sent = {r[0] for r in self._x(
            "SELECT point FROM reminders WHERE ticket_id = ? AND kind = ? AND state = 'sent'"
            " AND due_at = ?", (ticket_id, kind, to_db(due_at)))}
        for point, fire_at in plan:
            if point in sent:
                continue
            self._x("INSERT INTO reminders (ticket_id, kind, point, fire_at, due_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (ticket_id, kind, point, to_db(fire_at), to_db(due_at)))

    def claim_reminders(self, node: str, now: datetime, lease_until: datetime,
                        limit: int = 50) -> list[dict[str, Any]]:
        with self.transaction():
            ids = [r[0] for r in self._x(
                "SELECT id FROM reminders WHERE state = 'pending' AND fire_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY fire_at, id LIMIT ?"
                f"{self.SKIP_LOCKED}",
                (to_db(now), to_db(now), limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(f"UPDATE reminders SET claimed_by = ?, lease_until = ? WHERE id IN ({marks})",
                    (node, to_db(lease_until), *ids))
            cur = self._x(f"SELECT id, ticket_id, kind, point, fire_at, due_at FROM reminders"
                          f" WHERE id IN ({marks}) ORDER BY fire_at, id", ids)
            keys = ("id", "ticket_id", "kind", "point", "fire_at", "due_at")
            rows = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
        for row in rows:
            row["fire_at"], row["due_at"] = from_db(row["fire_at"]), from_db(row["due_at"])
        return rows

    def finish_reminder(self, reminder_id: int, state: str, now: datetime) -> bool:
        """Mark a claimed reminder sent or dropped; False if it was replanned meanwhile."""
        if self._depth and self.LOCK_ROW:  # the lock order: the ticket before its reminders
            self._x(f"SELECT id FROM tickets WHERE id = (SELECT ticket_id FROM reminders"
                    f" WHERE id = ?){self.LOCK_ROW}", (reminder_id,)).fetchall()
        cur = self._x("UPDATE reminders SET state = ?, sent_at = ?, claimed_by = NULL,"
                      " lease_until = NULL WHERE id = ? AND state = 'pending'",
                      (state, to_db(now), reminder_id))
        return cur.rowcount == 1

    def add_reminder(self, ticket_id: int, kind: str, point: float, fire_at: datetime,
                     due_at: datetime) -> None:
        self._x("INSERT INTO reminders (ticket_id, kind, point, fire_at, due_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (ticket_id, kind, point, to_db(fire_at), to_db(due_at)))

    def next_reminder_at(self) -> datetime | None:
        row = self._x("SELECT MIN(fire_at) FROM reminders WHERE state = 'pending'").fetchone()
        return from_db(row[0]) if row and row[0] else None

    def reminders(self, ticket_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE r.ticket_id = ?", [ticket_id]) if ticket_id else ("", [])
        cur = self._x(f"SELECT r.id, t.reference, r.kind, r.point, r.fire_at, r.due_at,"
                      f" r.state, r.sent_at FROM reminders r JOIN tickets t ON t.id = r.ticket_id"
                      f" {where} ORDER BY r.fire_at, r.id", params)
        keys = ("id", "ticket", "kind", "point", "fire_at", "due_at", "state", "sent_at")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def sla_report(self, now: datetime) -> list[dict[str, Any]]:
        """Clock counts per level and kind: met, breached, running, running past due, and
        closed in time without a response (``clocks.UNANSWERED``: first responses only)."""
        cur = self._x(
            "SELECT t.sla_level, c.kind,"
            " SUM(CASE WHEN c.state = 'met' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state = 'breached' OR (c.state IN ('running', 'paused')"
            "   AND c.breached_at IS NOT NULL) THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state IN ('running', 'paused') THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state = 'running' AND c.due_at < ? THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state = 'unanswered' THEN 1 ELSE 0 END)"
            " FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id"
            " GROUP BY t.sla_level, c.kind ORDER BY t.sla_level, c.kind", (to_db(now),))
        keys = ("level", "kind", "met", "breached", "running", "overdue", "unanswered")
        return [dict(zip(keys, r, strict=True)) for r in cur]
