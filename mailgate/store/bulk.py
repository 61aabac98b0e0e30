"""Whole-table access for copying a database (``mailgate.store.copy``): counts, key-ordered
batches and bulk inserts, by table name. Names are checked, as they are spelled into SQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mailgate.store.base import StoreBase

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _name(name: str) -> str:
    """``name`` if it can be a table or column name as is, else ValueError (no injection)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a table or column name: {name!r}")
    return name


class BulkQueries(StoreBase):
    """Any table, a batch at a time; for copies and checks, not for the daemon's work."""

    def row_count(self, table: str, *, up_to_id: int | None = None) -> int:
        """Rows in ``table`` (only those with ``id <= up_to_id`` when given)."""
        if up_to_id is None:
            return int(self._x(f"SELECT COUNT(*) FROM {_name(table)}").fetchone()[0])
        return int(self._x(f"SELECT COUNT(*) FROM {_name(table)} WHERE id <= ?",
                           (up_to_id,)).fetchone()[0])

    def table_columns(self, table: str) -> list[str]:
        """The column names of ``table``, in their order."""
        cur = self._x(f"SELECT * FROM {_name(table)} LIMIT 1")
        cur.fetchall()
        return [d[0] for d in cur.description]

    def max_id(self, table: str) -> int:
        """The largest ``id`` in ``table`` (0 when empty)."""
        return int(self._x(f"SELECT COALESCE(MAX(id), 0) FROM {_name(table)}").fetchone()[0])

    def rows_after(self, table: str, columns: Sequence[str], key: Sequence[str],
                   after: Sequence[Any] | None, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` rows of ``columns`` ordered by ``key``, after the key value
        ``after`` (from the start when None): one batch of a resumable scan."""
        names = ", ".join(_name(c) for c in columns)
        order = ", ".join(_name(k) for k in key)
        where = "" if after is None else f" WHERE ({order}) > ({', '.join('?' * len(key))})"
        rows = self._x(f"SELECT {names} FROM {_name(table)}{where} ORDER BY {order} LIMIT ?",
                       (*(after or ()), limit)).fetchall()
        return [tuple(r) for r in rows]

    def insert_rows(self, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (values of ``columns``), skipping any whose key is there already;
        the rows inserted. Inside the caller's transaction."""
        names = ", ".join(_name(c) for c in columns)
        return self._many(f"INSERT INTO {_name(table)} ({names})"
                          f" VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING",
                          rows)

    def sync_id_sequence(self, table: str) -> None:
        """Move ``table``'s id sequence past its largest id, after rows were copied in with
        their ids (PostgreSQL; SQLite's AUTOINCREMENT follows by itself)."""
        self._sync_sequence(_name(table))
