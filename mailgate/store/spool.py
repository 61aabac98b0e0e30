"""Spool queries: the raw mail accepted, the processing queue and the quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.errors import NotFoundError
from mailgate.store.base import StoreBase
from mailgate.store.rows import SpoolItem


class SpoolQueries(StoreBase):
    """The ``spool`` table: rows are claimed with a lease, finished, quarantined, requeued."""

    def spool_add(
        self, raw: bytes, *, channel: str, received_at: datetime, source: str | None = None,
        mail_from: str | None = None, rcpt_tos: Iterable[str] = (), state: str = "new",
        reason: str | None = None,
    ) -> int:
        """Append one raw message to the spool (inside a transaction)."""
        spool_id = self._insert(
            "INSERT INTO spool (received_at, channel, source, mail_from, rcpt_tos, raw, size,"
            " state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (to_db(received_at), channel, source, mail_from, json.dumps(list(rcpt_tos)),
             raw, len(raw), state, reason),
        )
        assert spool_id is not None
        return spool_id

    def spool_claim(self, node: str, now: datetime, lease_until: datetime, limit: int,
                    only: int | None = None) -> list[SpoolItem]:
        """Claim up to ``limit`` unprocessed rows (oldest first, or just row ``only``).

        Each claim counts an attempt. A row that was claimed before and never finished
        (a crash, or a hang past its lease) is claimed alone, so that a message which
        crashes the daemon is charged for its own attempts and not its batch-mates'.
        """
        with self.transaction():
            where, params = ("", []) if only is None else (" AND id = ?", [only])
            rows = self._x(
                "SELECT id, attempts FROM spool WHERE state = 'new'"
                f" AND (lease_until IS NULL OR lease_until < ?){where} ORDER BY id LIMIT ?"
                f"{self.SKIP_LOCKED}",
                (to_db(now), *params, limit),
            ).fetchall()
            if rows and rows[0][1] > 0:
                rows = rows[:1]
            ids = [r[0] for r in rows]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(
                f"UPDATE spool SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
                f" WHERE id IN ({marks})",
                (node, to_db(lease_until), *ids),
            )
            rows = self._x(
                f"SELECT id, received_at, channel, source, mail_from, rcpt_tos, size, attempts"
                f" FROM spool WHERE id IN ({marks}) ORDER BY id", ids,
            ).fetchall()
        return [
            SpoolItem(id=r[0], received_at=from_db(r[1]), channel=r[2], source=r[3],
                      mail_from=r[4], rcpt_tos=json.loads(r[5]), size=r[6], attempts=r[7])
            for r in rows
        ]

    def spool_raw(self, spool_id: int) -> bytes:
        row = self._x("SELECT raw FROM spool WHERE id = ?", (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return bytes(row[0])

    def spool_finish(self, spool_id: int, *, state: str, now: datetime,
                     message_id: str | None = None, ticket_id: int | None = None,
                     reason: str | None = None) -> None:
        """Record the outcome of processing one spool row (inside a transaction)."""
        self._x(
            "UPDATE spool SET state = ?, processed_at = ?, message_id = ?, ticket_id = ?,"
            " reason = ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
            (state, to_db(now), message_id, ticket_id, reason, spool_id),
        )

    def spool_state(self, spool_id: int) -> str:
        row = self._x("SELECT state FROM spool WHERE id = ?", (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return str(row[0])

    def spool_release(self, node: str) -> None:
        """Give back this node's unfinished claims (clean shutdown)."""
        with self.transaction():
            self._x("UPDATE spool SET claimed_by = NULL, lease_until = NULL,"
                    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                    " WHERE claimed_by = ? AND state = 'new'",
                    (node,))

    def spool_counts(self) -> dict[str, int]:
        return dict(self._x("SELECT state, COUNT(*) FROM spool GROUP BY state").fetchall())

    def quarantine(self) -> list[dict[str, Any]]:
        """Rows that could not be processed, with their reason."""
        cur = self._x(
            "SELECT id, received_at, channel, mail_from, size, reason, message_id FROM spool"
            " WHERE state = 'quarantined' ORDER BY id"
        )
        keys = ("id", "received_at", "channel", "mail_from", "size", "reason", "message_id")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def spool_requeue(self, spool_id: int) -> None:
        """Put a quarantined row back in the queue (after a fix)."""
        with self.transaction():
            cur = self._x("UPDATE spool SET state = 'new', attempts = 0, reason = NULL,"
                          " claimed_by = NULL, lease_until = NULL"
                          " WHERE id = ? AND state = 'quarantined'", (spool_id,))
            if cur.rowcount != 1:
                raise NotFoundError(f"no quarantined message {spool_id}")
