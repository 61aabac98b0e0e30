"""The SQLite backend: the embedded default, one host, one writer at a time.

The database runs in WAL mode with ``synchronous=FULL``, so a commit survives
power loss and readers (the CLI) never block the writers. ``BEGIN IMMEDIATE``
takes the write lock up front; a lock held longer than ``busy_timeout`` is a
``StoreError`` (451 / exit 75). With one writer at a time, claims need no row
locks and the shared code in :mod:`mailgate.store.base` runs as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mailgate.errors import StoreError
from mailgate.store.base import Cursor, Store


class SqliteStore(Store):
    """A :class:`Store` on one SQLite connection."""

    dialect: ClassVar[str] = "sqlite"
    BEGIN: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        super().__init__()
        self._conn = conn
        self.path = path

    @classmethod
    def open_path(cls, path: str | Path, *, busy_timeout: float = 5.0,
                  migrate: bool = True) -> SqliteStore:
        """Open (and by default create or upgrade) the database at ``path``."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout,
                                   check_same_thread=False)  # handed over, never shared
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        store = cls(conn, path)
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        self._conn.close()

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        return self._conn.execute(sql, params)

    def _classify(self, exc: BaseException) -> str | None:
        if isinstance(exc, sqlite3.IntegrityError):
            return "integrity"
        if isinstance(exc, sqlite3.Error):
            return "error"
        return None

    def _has_table(self, name: str) -> bool:
        return self._x("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone() is not None
