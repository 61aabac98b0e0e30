"""One notion of "now" and one text form of instants for the store.

Instants are aware UTC datetimes in code and fixed-width ISO 8601 strings in
the database (``2026-11-28T08:17:36.123456+00:00``): they sort as text on
every backend, read well in ``sqlite3``, and freezegun controls them in tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def to_db(value: datetime | None) -> str | None:
    """Format an aware instant for the store (None stays None)."""
    global _LAST_DB
    if value is None:
        return None
    last = _LAST_DB  # one message writes the same instant many times: format it once
    if last[0] is value:
        return last[1]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    _LAST_DB = (value, text)
    return text


_LAST_DB: tuple[datetime | None, str] = (None, "")


@overload
def from_db(value: str) -> datetime: ...


@overload
def from_db(value: None) -> None: ...


@overload
def from_db(value: str | None) -> datetime | None: ...


def from_db(value: str | None) -> datetime | None:
    """Parse an instant written by :func:`to_db`."""
    return None if value is None else datetime.fromisoformat(value)
