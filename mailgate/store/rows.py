"""Plain records the store hands out; no SQL here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SpoolItem:
    """A claimed spool row; the raw bytes are loaded one at a time to bound memory."""

    id: int
    received_at: datetime
    channel: str
    source: str | None
    mail_from: str | None
    rcpt_tos: list[str]
    size: int
    attempts: int


@dataclass(frozen=True)
class Ticket:
    """A ticket: every column of ``tickets``, read by one query (``Store.ticket``).

    The fields after ``closed_at`` have defaults so that older constructors still work.
    Instants are aware (UTC); ``fields`` is the custom fields column parsed from its JSON
    text (``{}`` when none), left out of the hash as a dict cannot be hashed.
    """

    id: int
    reference: str
    status: str
    subject: str
    requester: str
    requester_name: str | None
    sla_level: str | None
    first_response_due: datetime | None
    merged_into: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    first_response_at: datetime | None = None
    resolution_due: datetime | None = None
    queue: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee: str | None = None
    language: str | None = None
    correlation_key: str | None = None
    time_spent: int = 0  # minutes logged
    fields: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    ticket_id: int | None
    message_id: str
    kind: str
    mail_from: str
    rcpt_tos: list[str]
    attempts: int
    created_at: datetime
