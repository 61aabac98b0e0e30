"""Spool queries: the raw mail accepted, the processing queue and the quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.errors import NotFoundError
from mailgate.store.base import StoreBase, chunked
from mailgate.store.lite import RAW_INSERT, SPOOL_INSERT
from mailgate.store.rows import SpoolItem

_SPOOL_COLUMNS = ("id", "received_at", "channel", "source", "mail_from", "rcpt_tos", "size",
                  "state", "attempts", "processed_at", "message_id", "ticket_id", "reason")


def _spool_dict(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(_SPOOL_COLUMNS, row, strict=True))
    item["rcpt_tos"] = json.loads(item["rcpt_tos"] or "[]")
    return item


def spool_values(raw: bytes, *, channel: str, received_at: datetime, source: str | None = None,
                 mail_from: str | None = None, rcpt_tos: Iterable[str] = (),
                 state: str = "new", reason: str | None = None) -> tuple[Any, ...]:
    """The parameters of ``SPOOL_INSERT`` for one mail."""
    return (to_db(received_at), channel, source, mail_from, json.dumps(list(rcpt_tos)),
            len(raw), state, reason)


def spool_item(row: Sequence[Any]) -> SpoolItem:
    """A claimed row: (id, received_at, channel, source, mail_from, rcpt_tos, size,
    attempts)."""
    return SpoolItem(id=row[0], received_at=from_db(row[1]), channel=row[2], source=row[3],
                     mail_from=row[4], rcpt_tos=json.loads(row[5]), size=row[6],
                     attempts=row[7])


class SpoolQueries(StoreBase):
    """The ``spool`` table: rows are claimed with a lease, finished, quarantined, requeued."""

    def spool_add(
        self, raw: bytes, *, channel: str, received_at: datetime, source: str | None = None,
        mail_from: str | None = None, rcpt_tos: Iterable[str] = (), state: str = "new",
        reason: str | None = None,
    ) -> int:
        """Append one raw message to the spool (inside a transaction)."""
        return self._add_spool_row(spool_values(
            raw, channel=channel, received_at=received_at, source=source, mail_from=mail_from,
            rcpt_tos=rcpt_tos, state=state, reason=reason), raw)

    def spool_add_many(self, mails: Sequence[tuple[bytes, dict[str, Any]]]) -> list[int]:
        """``spool_add(raw, **fields)`` of each mail (inside a transaction); their ids, in
        order (a backend may send the rows together: the spooler's group)."""
        return [self.spool_add(raw, **fields) for raw, fields in mails]

    def _add_spool_row(self, values: Sequence[Any], raw: bytes) -> int:
        """The spool row (``SPOOL_INSERT``'s values) and its raw bytes; its id (a backend
        may write both in one statement)."""
        spool_id = self._insert(SPOOL_INSERT, values)
        assert spool_id is not None
        self._x(RAW_INSERT, (spool_id, raw))
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
            rows = self._x(  # (RETURNING: in no particular order)
                f"UPDATE spool SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
                f" WHERE id IN ({marks}) RETURNING id, received_at, channel, source,"
                f" mail_from, rcpt_tos, size, attempts",
                (node, to_db(lease_until), *ids),
            ).fetchall()
        return [spool_item(r) for r in sorted(rows)]

    def spool_raw(self, spool_id: int) -> bytes:
        row = self._x("SELECT raw FROM spool_raw WHERE id = ?", (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return bytes(row[0])

    def spool_raws(self, spool_ids: Sequence[int]) -> dict[int, bytes]:
        """The raw bytes of several spool rows in one statement (a processor's next few:
        the caller bounds their size); a row that is not there is left out."""
        found: dict[int, bytes] = {}
        for chunk in chunked(spool_ids):
            found.update((int(r[0]), bytes(r[1])) for r in self._x(
                f"SELECT id, raw FROM spool_raw WHERE id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall())
        return found

    def spool_finish(self, spool_id: int, *, state: str, now: datetime,
                     message_id: str | None = None, ticket_id: int | None = None,
                     reason: str | None = None) -> None:
        """Record the outcome of processing one spool row (inside a transaction)."""
        self._x(
            "UPDATE spool SET state = ?, processed_at = ?, message_id = ?, ticket_id = ?,"
            " reason = ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
            (state, to_db(now), message_id, ticket_id, reason, spool_id),
        )

    def spool_finish_many(self, finished: Sequence[tuple[int, str, datetime, str | None,
                                                         int | None]]) -> None:
        """``spool_finish`` (no reason) of several rows in one statement: (spool id, state,
        now, message id, ticket id) each; the processor's group, at its end."""
        self._many(
            "UPDATE spool SET state = ?, processed_at = ?, message_id = ?, ticket_id = ?,"
            " reason = NULL, claimed_by = NULL, lease_until = NULL WHERE id = ?",
            [(state, to_db(now), message_id, ticket_id, spool_id)
             for spool_id, state, now, message_id, ticket_id in finished])
        self.statements += 1

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

    # -- for operators (mailgate.store.ops) -------------------------------------------

    def spool_row(self, spool_id: int) -> dict[str, Any]:
        """One spool row without its raw bytes."""
        row = self._x(f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM spool WHERE id = ?",
                      (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return _spool_dict(row)

    def spool_rows_of_message(self, message_id: str) -> list[dict[str, Any]]:
        """Every delivery of a Message-ID (the first one and any duplicates), oldest first."""
        cur = self._x(f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM spool WHERE message_id = ?"
                      " ORDER BY id", (message_id,))
        return [_spool_dict(r) for r in cur.fetchall()]

    def quarantine_delete(self, spool_id: int) -> dict[str, Any]:
        """Delete one quarantined spool row for good; return what it was. Opens a transaction."""
        with self.transaction():
            row = self.spool_row(spool_id)
            if row["state"] != "quarantined":
                raise NotFoundError(f"spool {spool_id} is not quarantined (state {row['state']})")
            self._x("DELETE FROM spool_raw WHERE id = ?", (spool_id,))
            self._x("DELETE FROM spool WHERE id = ? AND state = 'quarantined'", (spool_id,))
        return row

    def spool_set_message_id(self, spool_id: int, message_id: str) -> None:
        """Note a row's Message-ID before processing (an import: a re-run skips it)."""
        self._x("UPDATE spool SET message_id = ? WHERE id = ?", (message_id, spool_id))

    def spooled_message_ids(self, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` a spool row already carries (in chunks of 500)."""
        return self._message_ids_in("spool", message_ids)

    def spool_has_raw(self, raw: bytes) -> bool:
        """True if these exact bytes are in the spool (for mail without a usable Message-ID)."""
        row = self._x("SELECT 1 FROM spool s JOIN spool_raw r ON r.id = s.id"
                      " WHERE s.size = ? AND r.raw = ? LIMIT 1", (len(raw), raw)).fetchone()
        return row is not None

    def spool_counts_by_channel(self) -> list[tuple[str, str, int]]:
        """(channel, state, rows) for every pair present (the metrics)."""
        return [tuple(r) for r in self._x("SELECT channel, state, COUNT(*) FROM spool"
                                          " GROUP BY channel, state").fetchall()]

    def spool_backlog(self) -> dict[str, int]:
        """Rows ``new`` and ``quarantined`` (an index range: cheap enough for /healthz)."""
        return dict(self._x("SELECT state, COUNT(*) FROM spool"
                            " WHERE state IN ('new', 'quarantined') GROUP BY state").fetchall())

    def oldest_new_spool(self) -> datetime | None:
        """When the oldest mail still waiting for processing was received."""
        value = self._x("SELECT MIN(received_at) FROM spool WHERE state = 'new'").fetchone()[0]
        return from_db(value) if value else None
