"""Satisfaction ratings: the latest rating of each ticket, and whether one was asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.store.base import StoreBase


class RatingQueries(StoreBase):
    """``ratings`` (one row per rated ticket) and the ``rating_requested`` events."""

    def set_rating(self, ticket_id: int, rating: int, *, how: str, now: datetime,
                   message_id: str | None = None) -> None:
        """Record ``rating`` (1-5) as the ticket's rating, replacing an earlier one."""
        self._x("INSERT INTO ratings (ticket_id, rating, rated_at, how, message_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET"
                " rating = excluded.rating, rated_at = excluded.rated_at,"
                " how = excluded.how, message_id = excluded.message_id",
                (ticket_id, rating, to_db(now), how, message_id))

    def rating(self, ticket_id: int) -> dict[str, Any] | None:
        """``{rating, rated_at, how, message_id}`` of the ticket, or None if not rated."""
        row = self._x("SELECT rating, rated_at, how, message_id FROM ratings"
                      " WHERE ticket_id = ?", (ticket_id,)).fetchone()
        if row is None:
            return None
        return {"rating": row[0], "rated_at": from_db(row[1]), "how": row[2],
                "message_id": row[3]}

    def rating_requested(self, ticket_id: int) -> bool:
        """Whether a resolved mail asked this ticket's customers for a rating."""
        return self._x("SELECT 1 FROM events WHERE ticket_id = ? AND kind = 'rating_requested'"
                       " LIMIT 1", (ticket_id,)).fetchone() is not None

    def rating_counts(self) -> dict[int, int]:
        """Rated tickets per rating (1-5), by each ticket's latest rating."""
        found = dict(self._x("SELECT rating, COUNT(*) FROM ratings GROUP BY rating").fetchall())
        return {value: int(found.get(value, 0)) for value in range(1, 6)}

    def ratings_requested(self) -> int:
        """Tickets whose customers were asked for a rating."""
        return int(self._x("SELECT COUNT(DISTINCT ticket_id) FROM events"
                           " WHERE kind = 'rating_requested'").fetchone()[0])
