"""Operator queries: tracing a message, dry runs, metrics, health, quarantine clean-up, import.

Plain functions over a :class:`~mailgate.store.Store` (its ``_x`` method), kept
apart from ``base.py`` so that operations tooling can grow without touching
the hot path. Same rules as the rest of the store: portable SQL, instants as
ISO 8601 text, writes only inside the caller's transaction unless a function
says it opens its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailgate.clock import from_db
from mailgate.errors import NotFoundError
from mailgate.store.facade import Store

_SPOOL_COLUMNS = ("id", "received_at", "channel", "source", "mail_from", "rcpt_tos", "size",
                  "state", "attempts", "processed_at", "message_id", "ticket_id", "reason")


def _spool_dict(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(_SPOOL_COLUMNS, row, strict=True))
    item["rcpt_tos"] = json.loads(item["rcpt_tos"] or "[]")
    return item


# -- trace ----------------------------------------------------------------------------


def spool_row(store: Store, spool_id: int) -> dict[str, Any]:
    """One spool row without its raw bytes."""
    row = store._x(f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM spool WHERE id = ?",
                   (spool_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no spool row {spool_id}")
    return _spool_dict(row)


def spool_rows_of_message(store: Store, message_id: str) -> list[dict[str, Any]]:
    """Every delivery of a Message-ID (the first one and any duplicates), oldest first."""
    cur = store._x(f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM spool WHERE message_id = ?"
                   " ORDER BY id", (message_id,))
    return [_spool_dict(r) for r in cur.fetchall()]


def stored_message(store: Store, message_id: str) -> dict[str, Any] | None:
    """The ticket message with this Message-ID, with its ticket's reference and status."""
    cur = store._x(
        "SELECT m.id, m.ticket_id, t.reference, t.status, t.subject, m.direction, m.kind,"
        " m.from_addr, m.subject, m.date, m.in_reply_to, m.spool_id, m.outbox_id, m.created_at"
        " FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = ?",
        (message_id,))
    row = cur.fetchone()
    if row is None:
        return None
    keys = ("row", "ticket_id", "reference", "ticket_status", "ticket_subject", "direction",
            "kind", "from", "subject", "date", "in_reply_to", "spool_id", "outbox_id",
            "stored_at")
    return dict(zip(keys, row, strict=True))


def answers_to(store: Store, message_id: str) -> list[dict[str, Any]]:
    """Our outgoing mail written in answer to ``message_id`` (acks, relayed replies)."""
    cur = store._x(
        "SELECT o.id, o.message_id, o.kind, o.rcpt_tos, o.state, o.attempts, o.last_error,"
        " o.created_at, o.sent_at, o.next_attempt_at, m.subject FROM outbox o"
        " JOIN messages m ON m.outbox_id = o.id WHERE m.in_reply_to = ? ORDER BY o.id",
        (message_id,))
    keys = ("id", "message_id", "kind", "to", "state", "attempts", "last_error", "created_at",
            "sent_at", "next_attempt_at", "subject")
    out = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
    for row in out:
        row["to"] = json.loads(row["to"])
    return out


def events_of_messages(store: Store, ticket_id: int,
                       message_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Events of a ticket that carry one of ``message_ids``, in order."""
    if not message_ids:
        return []
    marks = ",".join("?" * len(message_ids))
    cur = store._x(f"SELECT at, actor, kind, detail, message_id FROM events WHERE ticket_id = ?"
                   f" AND message_id IN ({marks}) ORDER BY id", (ticket_id, *message_ids))
    return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m}
            for a, ac, k, d, m in cur.fetchall()]


def first_inbound_raw(store: Store, ticket_id: int) -> bytes | None:
    """Raw bytes of a ticket's first incoming message (for template previews)."""
    row = store._x("SELECT s.raw FROM messages m JOIN spool s ON s.id = m.spool_id"
                   " WHERE m.ticket_id = ? AND m.direction = 'in' ORDER BY m.id LIMIT 1",
                   (ticket_id,)).fetchone()
    return bytes(row[0]) if row else None


# -- dry runs (explain, preview) --------------------------------------------------------


def high_water(store: Store) -> dict[str, int]:
    """The largest event and outbox ids now: what a dry run writes lies above them."""
    events = store._x("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
    outbox = store._x("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    return {"events": int(events), "outbox": int(outbox)}


def events_since(store: Store, event_id: int) -> list[dict[str, Any]]:
    cur = store._x("SELECT e.at, e.actor, e.kind, e.detail, e.message_id, t.reference"
                   " FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE e.id > ?"
                   " ORDER BY e.id", (event_id,))
    return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m, "ticket": ref}
            for a, ac, k, d, m, ref in cur.fetchall()]


def outbox_since(store: Store, outbox_id: int) -> list[dict[str, Any]]:
    cur = store._x("SELECT o.id, o.message_id, o.kind, o.mail_from, o.rcpt_tos, o.raw,"
                   " t.reference FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id"
                   " WHERE o.id > ? ORDER BY o.id", (outbox_id,))
    keys = ("id", "message_id", "kind", "mail_from", "to", "raw", "ticket")
    out = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
    for row in out:
        row["to"] = json.loads(row["to"])
        row["raw"] = bytes(row["raw"])
    return out


def ticket_settings(store: Store, ticket_id: int) -> dict[str, Any]:
    """What classification decided for a ticket: level, queue, category, priority, dues."""
    cur = store._x("SELECT reference, status, subject, requester, sla_level, queue, category,"
                   " priority, assignee, first_response_due, resolution_due, fields"
                   " FROM tickets WHERE id = ?", (ticket_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no ticket with id {ticket_id}")
    item = dict(zip([d[0] for d in cur.description], row, strict=True))
    item["fields"] = json.loads(item.get("fields") or "{}")
    return item


# -- quarantine ---------------------------------------------------------------------------


def quarantine_delete(store: Store, spool_id: int) -> dict[str, Any]:
    """Delete one quarantined spool row for good; return what it was. Opens a transaction."""
    with store.transaction():
        row = spool_row(store, spool_id)
        if row["state"] != "quarantined":
            raise NotFoundError(f"spool {spool_id} is not quarantined (state {row['state']})")
        store._x("DELETE FROM spool WHERE id = ? AND state = 'quarantined'", (spool_id,))
    return row


# -- metrics and health ---------------------------------------------------------------------

_THREAD_METHOD = (
    "CASE WHEN detail LIKE '%subject tag%' THEN 'tag'"
    " WHEN detail LIKE '%in-reply-to%' THEN 'in-reply-to'"
    " WHEN detail LIKE '%references%' THEN 'references' ELSE 'other' END"
)


def metrics_snapshot(store: Store) -> dict[str, Any]:
    """Counts for /metrics, cluster-wide (every daemon on this database sees the same)."""
    x = store._x
    return {
        "events": dict(x("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall()),
        "threaded": dict(x(f"SELECT {_THREAD_METHOD}, COUNT(*) FROM events"
                           f" WHERE kind = 'threaded' GROUP BY 1").fetchall()),
        "reopens": x("SELECT COUNT(*) FROM events WHERE kind = 'status_changed'"
                     " AND detail LIKE 'closed -> %'").fetchone()[0],
        "merged_tickets": x("SELECT COUNT(*) FROM tickets WHERE merged_into IS NOT NULL"
                            ).fetchone()[0],
        "tickets_by_status": dict(x("SELECT status, COUNT(*) FROM tickets GROUP BY status"
                                    ).fetchall()),
        "spool": [tuple(r) for r in x("SELECT channel, state, COUNT(*) FROM spool"
                                      " GROUP BY channel, state").fetchall()],
        "outbox": [tuple(r) for r in x("SELECT kind, state, COUNT(*) FROM outbox"
                                       " GROUP BY kind, state").fetchall()],
        "oldest_pending_outbox": _instant(x("SELECT MIN(created_at) FROM outbox"
                                            " WHERE state = 'pending'").fetchone()[0]),
        "oldest_new_spool": _instant(x("SELECT MIN(received_at) FROM spool WHERE state = 'new'"
                                       ).fetchone()[0]),
        # which node reads each IMAP account (cluster-wide: the same on every node)
        "imap_leases": {lease["account"]: {"holder": lease["holder"],
                                           "lease_until": lease["lease_until"]}
                        for lease in store.imap_leases()},
    }


def health_snapshot(store: Store) -> dict[str, Any]:
    """The cheap figures /healthz reports: queue lengths and the oldest waiting items."""
    x = store._x
    spool = dict(x("SELECT state, COUNT(*) FROM spool WHERE state IN ('new', 'quarantined')"
                   " GROUP BY state").fetchall())
    outbox = dict(x("SELECT state, COUNT(*) FROM outbox WHERE state IN ('pending', 'failed')"
                    " GROUP BY state").fetchall())
    return {
        "spool_backlog": spool.get("new", 0),
        "quarantined": spool.get("quarantined", 0),
        "outbox_pending": outbox.get("pending", 0),
        "outbox_failed": outbox.get("failed", 0),
        "oldest_pending_outbox": _instant(x("SELECT MIN(created_at) FROM outbox"
                                            " WHERE state = 'pending'").fetchone()[0]),
        "oldest_new_spool": _instant(x("SELECT MIN(received_at) FROM spool WHERE state = 'new'"
                                       ).fetchone()[0]),
        # which node reads each IMAP account (cluster-wide: the same on every node)
        "imap_leases": {lease["account"]: {"holder": lease["holder"],
                                           "lease_until": lease["lease_until"]}
                        for lease in store.imap_leases()},
    }


def _instant(value: str | None) -> datetime | None:
    return from_db(value) if value else None


# -- import ---------------------------------------------------------------------------------


def known_message_ids(store: Store, message_ids: Sequence[str]) -> set[str]:
    """Which of ``message_ids`` are already stored (in a ticket or as a spool delivery)."""
    found: set[str] = set()
    ids = list(dict.fromkeys(message_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for table in ("messages", "spool"):
            found.update(r[0] for r in store._x(
                f"SELECT message_id FROM {table} WHERE message_id IN ({marks})", chunk))
    return found


def open_clock_tickets(store: Store) -> list[int]:
    """Tickets with a running or paused SLA clock (recomputed after a config reload)."""
    return sorted({ticket_id for ticket_id, _kind in store.open_clocks()})


def spool_add_imported(store: Store, raw: bytes, message_id: str, *, source: str,
                       received_at: datetime) -> int:
    """Spool one imported message, its Message-ID noted at once so a re-run skips it."""
    spool_id = store.spool_add(raw, channel="import", received_at=received_at, source=source)
    store._x("UPDATE spool SET message_id = ? WHERE id = ?", (message_id, spool_id))
    return spool_id


def hold_outbox(store: Store, outbox_ids: Sequence[int], reason: str) -> int:
    """Cancel queued mail for good (state ``cancelled``), inside the caller's transaction."""
    if not outbox_ids:
        return 0
    marks = ",".join("?" * len(outbox_ids))
    cur = store._x(f"UPDATE outbox SET state = 'cancelled', last_error = ?, claimed_by = NULL,"
                   f" lease_until = NULL WHERE state = 'pending' AND id IN ({marks})",
                   (reason, *outbox_ids))
    return cur.rowcount


def spool_has_raw(store: Store, raw: bytes) -> bool:
    """True if these exact bytes are in the spool (for mail without a usable Message-ID)."""
    row = store._x("SELECT 1 FROM spool WHERE size = ? AND raw = ? LIMIT 1",
                   (len(raw), raw)).fetchone()
    return row is not None
