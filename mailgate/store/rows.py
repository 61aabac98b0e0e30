"""Plain records the store hands out; no SQL here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
