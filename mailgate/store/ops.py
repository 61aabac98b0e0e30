"""Operator queries: tracing a message, dry runs, metrics, health, quarantine clean-up, import.

Plain functions over a :class:`~mailgate.store.Store`, for the CLI, ``inspect`` and the
daemon's HTTP endpoints: each combines the public queries of the store's table groups
(the SQL itself lives with its table, in ``spool.py``, ``messages.py``, ``outbox.py``...),
so operations tooling grows here without touching the hot path. Writes happen only
inside the caller's transaction unless a function says it opens its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailgate.store.facade import Store

# -- trace ----------------------------------------------------------------------------


def spool_row(store: Store, spool_id: int) -> dict[str, Any]:
    """One spool row without its raw bytes."""
    return store.spool_row(spool_id)


def spool_rows_of_message(store: Store, message_id: str) -> list[dict[str, Any]]:
    """Every delivery of a Message-ID (the first one and any duplicates), oldest first."""
    return store.spool_rows_of_message(message_id)


def stored_message(store: Store, message_id: str) -> dict[str, Any] | None:
    """The ticket message with this Message-ID, with its ticket's reference and status."""
    return store.stored_message(message_id)


def answers_to(store: Store, message_id: str) -> list[dict[str, Any]]:
    """Our outgoing mail written in answer to ``message_id`` (acks, relayed replies)."""
    return store.answers_to(message_id)


def events_of_messages(store: Store, ticket_id: int,
                       message_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Events of a ticket that carry one of ``message_ids``, in order."""
    return store.events_of_messages(ticket_id, message_ids)


def first_inbound_raw(store: Store, ticket_id: int) -> bytes | None:
    """Raw bytes of a ticket's first incoming message (for template previews)."""
    return store.first_inbound_raw(ticket_id)


# -- dry runs (explain, preview) --------------------------------------------------------


def high_water(store: Store) -> dict[str, int]:
    """The largest event and outbox ids now: what a dry run writes lies above them."""
    return {"events": store.last_event_id(), "outbox": store.last_outbox_id()}


def events_since(store: Store, event_id: int) -> list[dict[str, Any]]:
    """Events above ``event_id`` (what a dry run wrote), with their ticket's reference."""
    return store.events_since(event_id)


def outbox_since(store: Store, outbox_id: int) -> list[dict[str, Any]]:
    """Outbox rows above ``outbox_id`` (what a dry run queued), with their bytes."""
    return store.outbox_since(outbox_id)


def ticket_settings(store: Store, ticket_id: int) -> dict[str, Any]:
    """What classification decided for a ticket: level, queue, category, priority, dues."""
    return store.ticket_settings(ticket_id)


# -- quarantine ---------------------------------------------------------------------------


def quarantine_delete(store: Store, spool_id: int) -> dict[str, Any]:
    """Delete one quarantined spool row for good; return what it was. Opens a transaction."""
    return store.quarantine_delete(spool_id)


# -- metrics and health ---------------------------------------------------------------------


def _leases(store: Store) -> dict[str, dict[str, Any]]:
    """Which node reads each IMAP account (cluster-wide: the same on every node)."""
    return {lease["account"]: {"holder": lease["holder"], "lease_until": lease["lease_until"]}
            for lease in store.imap_leases()}


def metrics_snapshot(store: Store) -> dict[str, Any]:
    """Counts for /metrics, cluster-wide (every daemon on this database sees the same)."""
    return {
        "events": store.event_counts(),
        "threaded": store.threaded_counts(),
        "reopens": store.reopen_count(),
        "merged_tickets": store.merged_ticket_count(),
        "tickets_by_status": store.ticket_counts(),
        "spool": store.spool_counts_by_channel(),
        "outbox": store.outbox_counts_by_kind(),
        "oldest_pending_outbox": store.oldest_pending_outbox(),
        "oldest_new_spool": store.oldest_new_spool(),
        "imap_leases": _leases(store),
        "ratings": store.rating_counts(),
    }


def health_snapshot(store: Store) -> dict[str, Any]:
    """The cheap figures /healthz reports: queue lengths and the oldest waiting items."""
    spool = store.spool_backlog()
    outbox = store.outbox_backlog()
    return {
        "spool_backlog": spool.get("new", 0),
        "quarantined": spool.get("quarantined", 0),
        "outbox_pending": outbox.get("pending", 0),
        "outbox_failed": outbox.get("failed", 0),
        "outbox_last_error": store.outbox_last_error() if outbox.get("pending") else None,
        "oldest_pending_outbox": store.oldest_pending_outbox(),
        "oldest_new_spool": store.oldest_new_spool(),
        "imap_leases": _leases(store),
    }


# -- import ---------------------------------------------------------------------------------


def known_message_ids(store: Store, message_ids: Sequence[str]) -> set[str]:
    """Which of ``message_ids`` are already stored (in a ticket or as a spool delivery)."""
    return store.stored_message_ids(message_ids) | store.spooled_message_ids(message_ids)


def open_clock_tickets(store: Store) -> list[int]:
    """Tickets with a running or paused SLA clock (recomputed after a config reload)."""
    return sorted({ticket_id for ticket_id, _kind in store.open_clocks()})


def spool_add_imported(store: Store, raw: bytes, message_id: str, *, source: str,
                       received_at: datetime) -> int:
    """Spool one imported message, its Message-ID noted at once so a re-run skips it."""
    spool_id = store.spool_add(raw, channel="import", received_at=received_at, source=source)
    store.spool_set_message_id(spool_id, message_id)
    return spool_id


def hold_outbox(store: Store, outbox_ids: Sequence[int], reason: str) -> int:
    """Cancel queued mail for good (state ``cancelled``), inside the caller's transaction."""
    return store.outbox_cancel(outbox_ids, reason)


def spool_has_raw(store: Store, raw: bytes) -> bool:
    """True if these exact bytes are in the spool (for mail without a usable Message-ID)."""
    return store.spool_has_raw(raw)
