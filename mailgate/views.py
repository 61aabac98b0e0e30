"""The documented, stable JSON shapes of tickets and messages (``--json`` output).

Keys are only ever added, never renamed or removed; the README lists them.
"""

from __future__ import annotations

import json
from typing import Any

from mailgate.store import Store, Ticket


def ticket_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One line of ``mailgate tickets --json``."""
    return {
        "reference": row["reference"],
        "status": row["status"],
        "subject": row["subject"],
        "requester": row["requester"],
        "sla_level": row["sla_level"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "first_response_due": row["first_response_due"],
        "resolution_due": row.get("resolution_due"),
        "assignee": row.get("assignee"),
        "merged_into": row.get("merged_into_reference"),
    }


def ticket_detail(store: Store, ticket: Ticket) -> dict[str, Any]:
    """``mailgate show --json``: the ticket, its participants, messages and events."""
    record = store.ticket_record(ticket.id)
    messages = []
    numbered: dict[str, list[dict[str, Any]]] = {}
    for a in store.ticket_attachments(ticket.id):  # numbered as `mailgate attachment` takes
        numbered.setdefault(a.pop("message_id"), []).append(a)
    for m in store.messages(ticket.id):
        messages.append({
            "message_id": m["message_id"],
            "direction": m["direction"],
            "kind": m["kind"],
            "from": m["from_addr"],
            "from_name": m["from_name"],
            "to": m["to_addrs"],
            "cc": m["cc_addrs"],
            "date": m["date"],
            "subject": m["subject"],
            "text": m["body_text"],
            "attachments": numbered.get(m["message_id"], []),
            "received_at": m["created_at"],
        })
    merged_into = None
    if record["merged_into"] is not None:
        merged_into = store.ticket(record["merged_into"]).reference
    return {
        "reference": record["reference"],
        "status": record["status"],
        "subject": record["subject"],
        "requester": record["requester"],
        "requester_name": record["requester_name"],
        "participants": store.participants(ticket.id),
        "sla_level": record["sla_level"],
        "first_response_due": record["first_response_due"],
        "first_response_at": record["first_response_at"],
        "resolution_due": record["resolution_due"],
        "queue": record["queue"],
        "category": record["category"],
        "priority": record["priority"],
        "assignee": record["assignee"],
        "fields": json.loads(record.get("fields") or "{}"),
        "merged_into": merged_into,
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "closed_at": record["closed_at"],
        "rating": _rating(store, ticket.id),
        "messages": messages,
        "events": store.events(ticket.id),
    }


def _rating(store: Store, ticket_id: int) -> dict[str, Any] | None:
    """``{rating, rated_at, how}`` of a rated ticket (``how``: token, digit or word)."""
    found = store.rating(ticket_id)
    if found is None:
        return None
    return {"rating": found["rating"], "rated_at": found["rated_at"].isoformat(),
            "how": found["how"]}
