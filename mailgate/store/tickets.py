"""Ticket queries: the ``tickets`` rows themselves (messages and the rest: ``messages.py``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.errors import NotFoundError
from mailgate.store.base import StoreBase
from mailgate.store.rows import Ticket

# Every column of ``tickets``: a Ticket is read whole, by one query.
_TICKET_COLUMNS = (
    "id, reference, status, subject, requester, requester_name, sla_level, "
    "first_response_due, merged_into, created_at, updated_at, closed_at, "
    "first_response_at, resolution_due, queue, category, priority, assignee, language, "
    "correlation_key, time_spent, fields"
)


# The plain ticket columns callers may set (create_ticket, touch_ticket).
_TICKET_FIELDS = frozenset({
    "status", "subject", "sla_level", "first_response_due", "first_response_at", "closed_at",
    "resolution_due", "assignee", "priority", "category", "queue", "merged_into", "language",
    "correlation_key"})

# Those of them that hold an instant (read back as an aware datetime).
_TICKET_INSTANTS = frozenset({"first_response_due", "first_response_at", "closed_at",
                              "resolution_due"})


def _fields(text: str | None) -> dict[str, Any]:
    """The custom fields column parsed (most tickets have none: no JSON parse then)."""
    return json.loads(text) if text and text != "{}" else {}


def _ticket(row: Sequence[Any]) -> Ticket:
    return Ticket(
        id=row[0], reference=row[1], status=row[2], subject=row[3], requester=row[4],
        requester_name=row[5], sla_level=row[6], first_response_due=from_db(row[7]),
        merged_into=row[8], created_at=from_db(row[9]), updated_at=from_db(row[10]),
        closed_at=from_db(row[11]), first_response_at=from_db(row[12]),
        resolution_due=from_db(row[13]), queue=row[14], category=row[15], priority=row[16],
        assignee=row[17], language=row[18], correlation_key=row[19], time_spent=row[20],
        fields=_fields(row[21]),
    )


def _written(ticket_id: int, reference: str, values: dict[str, Any], now: datetime) -> Ticket:
    """The Ticket a new row reads back as, from the values its INSERT wrote (``values``:
    the columns given, instants already as stored text); the rest are the defaults."""
    at = now.astimezone(UTC)
    v: dict[str, Any] = {k: from_db(x) if k in _TICKET_INSTANTS else x
                         for k, x in values.items()}
    return Ticket(
        id=ticket_id, reference=reference, status=v["status"], subject=v["subject"],
        requester=v["requester"], requester_name=v["requester_name"], sla_level=v["sla_level"],
        first_response_due=v["first_response_due"], merged_into=v.get("merged_into"),
        created_at=at, updated_at=at, closed_at=v.get("closed_at"),
        first_response_at=v.get("first_response_at"), resolution_due=v.get("resolution_due"),
        queue=v.get("queue"), category=v.get("category"), priority=v.get("priority"),
        assignee=v.get("assignee"), language=v.get("language"),
        correlation_key=v.get("correlation_key"),
    )


class TicketQueries(StoreBase):
    """``tickets``: created, read (locked inside a transaction), updated, listed."""

    def create_ticket(self, *, reference_of: Any, status: str, subject: str, requester: str,
                      requester_name: str | None, sla_level: str | None,
                      now: datetime, first_response_due: datetime | None = None,
                      **fields: Any) -> Ticket:
        """Insert a ticket; ``reference_of(id)`` turns the sequence number into its reference.

        ``fields``: more of the plain columns ``touch_ticket`` sets, written by the same
        INSERT. The Ticket returned is built from the values written (no read back)."""
        bad = set(fields) - _TICKET_FIELDS
        if bad:
            raise ValueError(f"not a ticket column: {sorted(bad)}")
        extra = {k: to_db(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        values = (status, subject, requester, requester_name, sla_level,
                  to_db(first_response_due), to_db(now), to_db(now), *extra.values())
        columns = ", ".join(["status", "subject", "requester", "requester_name", "sla_level",
                             "first_response_due", "created_at", "updated_at", *extra])
        marks = ", ".join("?" * len(values))
        reserved = self._reserve_id("tickets")
        if reserved is not None:  # the number known first: one INSERT, no placeholder
            ticket_id, reference = reserved, reference_of(reserved)
            self._x(f"INSERT INTO tickets (id, reference, {columns}) VALUES (?, ?, {marks})",
                    (ticket_id, reference, *values))
        else:
            inserted = self._insert(f"INSERT INTO tickets (reference, {columns})"
                                    f" VALUES ('', {marks}) RETURNING id", values)
            assert inserted is not None
            ticket_id, reference = inserted, reference_of(inserted)
            self._x("UPDATE tickets SET reference = ? WHERE id = ?", (reference, ticket_id))
        return _written(ticket_id, reference, {
            "status": status, "subject": subject, "requester": requester,
            "requester_name": requester_name, "sla_level": sla_level,
            "first_response_due": to_db(first_response_due), **extra}, now)

    def ticket(self, ticket_id: int) -> Ticket:
        """The ticket; inside a transaction it stays locked to it (see the module docstring)."""
        row = self._x(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = ?{self._locking()}",
                      (ticket_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        return _ticket(row)

    def requester_language(self, requester: str) -> str | None:
        """The language of the requester's newest ticket (the one their last
        acknowledgement was written in), or None for a first-time writer."""
        row = self._x("SELECT language FROM tickets WHERE requester = ? AND language IS NOT "
                      "NULL ORDER BY created_at DESC, id DESC LIMIT 1", (requester,)).fetchone()
        return str(row[0]) if row else None

    def ticket_by_reference(self, reference: str) -> Ticket:
        row = self._x(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE reference = ?"
                      f"{self._locking()}", (reference.upper(),)).fetchone()
        if row is None:
            raise NotFoundError(f"no ticket {reference}")
        return _ticket(row)

    def live_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket, following merges to the survivor; None if there is none."""
        seen: set[int] = set()
        while ticket_id not in seen:
            seen.add(ticket_id)
            try:
                ticket = self.ticket(ticket_id)
            except NotFoundError:
                return None
            if ticket.merged_into is None:
                return ticket
            ticket_id = ticket.merged_into
        return None

    def touch_ticket(self, ticket_id: int, now: datetime, **fields: Any) -> None:
        """Update ``updated_at`` and any of the given plain columns."""
        bad = set(fields) - _TICKET_FIELDS
        if bad:
            raise ValueError(f"not a ticket column: {sorted(bad)}")
        values = {k: to_db(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        values["updated_at"] = to_db(now)
        assignments = ", ".join(f"{k} = ?" for k in values)
        self._x(f"UPDATE tickets SET {assignments} WHERE id = ?", (*values.values(), ticket_id))

    def set_ticket_fields(self, ticket_id: int, fields: dict[str, str], now: datetime) -> None:
        self._x("UPDATE tickets SET fields = ?, updated_at = ? WHERE id = ?",
                (json.dumps(fields, ensure_ascii=False), to_db(now), ticket_id))

    def duplicate_candidates(self, *, requester: str | None, domain: str | None,
                             since: datetime) -> list[dict[str, Any]]:
        """Open tickets of a requester (or a domain) created since ``since``, with first text.

        Inside a transaction the requester (or domain) stays locked until the commit, so a
        report that arrives on two nodes at once is seen as a duplicate by the second.
        """
        if requester:
            where, param = "t.requester = ?", requester
        else:
            where, param = "t.requester LIKE ?", f"%@{domain}"
        rows = self._rows_under_lock(
            f"duplicates:{requester or domain}",
            f"SELECT t.id, t.subject, (SELECT m.body_text FROM messages m WHERE m.ticket_id ="
            f" t.id AND m.direction = 'in' ORDER BY m.id LIMIT 1), t.requester, t.created_at"
            f" FROM tickets t"
            f" WHERE {where} AND t.status != 'closed' AND t.merged_into IS NULL"
            f" AND t.created_at >= ? ORDER BY t.id DESC LIMIT 20", (param, to_db(since)),
        )
        return [{"id": i, "subject": s, "text": b or "", "requester": r,
                 "created_at": from_db(c)} for i, s, b, r, c in rows]

    def open_ticket_by_key(self, key: str) -> int | None:
        """The open ticket of an alert correlation key, if any.

        Inside a transaction the key stays locked until the commit, so two nodes handling
        alerts of one key at once cannot both open a ticket for it.
        """
        rows = self._rows_under_lock(
            f"alert:{key}", "SELECT id FROM tickets WHERE correlation_key = ?"
            " AND status != 'closed' AND merged_into IS NULL ORDER BY id DESC LIMIT 1", (key,))
        return int(rows[0][0]) if rows else None

    def add_time(self, ticket_id: int, minutes: int) -> int:
        """Add logged work time (minutes) to a ticket; return the new total."""
        self._x("UPDATE tickets SET time_spent = time_spent + ? WHERE id = ?",
                (minutes, ticket_id))
        row = self._x("SELECT time_spent FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return int(row[0])

    def tickets(self, status: str | None = None, limit: int = 1000, *,
                assignee: str | None = None, requester: str | None = None,
                level: str | None = None, overdue_at: datetime | None = None,
                paused: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The newest tickets, each condition given narrowing the list; ``overdue_at``:
        only tickets past a deadline then (first response not given by its due time, or
        the resolution due time passed), neither closed nor in a ``paused`` status."""
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("assignee", assignee),
                              ("requester", requester), ("sla_level", level)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value.lower() if column in ("assignee", "requester") else value)
        if overdue_at is not None:
            now = to_db(overdue_at)
            excluded = ["closed", *paused]
            conditions.append(f"status NOT IN ({', '.join('?' * len(excluded))}) AND"
                              " ((first_response_at IS NULL AND first_response_due < ?)"
                              " OR resolution_due < ?)")
            params += [*excluded, now, now]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        cur = self._x(
            f"SELECT id, reference, status, subject, requester, sla_level, created_at,"
            f" updated_at, first_response_due, merged_into, assignee, resolution_due"
            f" FROM tickets {where} ORDER BY id DESC LIMIT ?", [*params, limit],
        )
        keys = ("id", "reference", "status", "subject", "requester", "sla_level", "created_at",
                "updated_at", "first_response_due", "merged_into", "assignee",
                "resolution_due")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def ticket_record(self, ticket_id: int) -> dict[str, Any]:
        cur = self._x("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    # -- for operators and copies (mailgate.store.ops, mailgate.store.copy) -------------

    def ticket_settings(self, ticket_id: int) -> dict[str, Any]:
        """What classification decided for a ticket: level, queue, category, priority, dues
        (instants as stored text, ``fields`` parsed)."""
        cur = self._x("SELECT reference, status, subject, requester, sla_level, queue,"
                      " category, priority, assignee, first_response_due, resolution_due,"
                      " fields FROM tickets WHERE id = ?", (ticket_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        item = dict(zip([d[0] for d in cur.description], row, strict=True))
        item["fields"] = json.loads(item.get("fields") or "{}")
        return item

    def ticket_counts(self) -> dict[str, int]:
        """Tickets per status (the metrics)."""
        return dict(self._x("SELECT status, COUNT(*) FROM tickets GROUP BY status").fetchall())

    def merged_ticket_count(self) -> int:
        """Tickets merged into another."""
        return int(self._x("SELECT COUNT(*) FROM tickets WHERE merged_into IS NOT NULL"
                           ).fetchone()[0])

    def ticket_merges(self) -> list[tuple[int, int]]:
        """(ticket id, merged into) of every merged ticket, by id."""
        return [(r[0], r[1]) for r in self._x(
            "SELECT id, merged_into FROM tickets WHERE merged_into IS NOT NULL"
            " ORDER BY id").fetchall()]

    def set_ticket_merges(self, merges: Sequence[tuple[int, int]]) -> None:
        """Set ``merged_into`` of (ticket id, merged into) pairs at once (a copy's last pass:
        a ticket may be merged into a later one); inside the caller's transaction."""
        self._many("UPDATE tickets SET merged_into = ? WHERE id = ?",
                   [(into, ticket_id) for ticket_id, into in merges])
