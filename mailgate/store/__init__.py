"""The store layer: all SQL lives here; the rest of mailgate calls these functions.

``open_store(config)`` opens the database ``[store] url`` names: SQLite (the
embedded default) or PostgreSQL (several nodes on one database). Both are a
:class:`Store` with the same methods; ``Store.open(path)`` opens an SQLite file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailgate.store.base import DuplicateMessageError, IntegrityViolation
from mailgate.store.facade import Store
from mailgate.store.rows import OutboxItem, SpoolItem, Ticket
from mailgate.store.sqlite import SqliteStore  # registers the opener Store.open uses

if TYPE_CHECKING:
    from mailgate.config import Config

__all__ = ["DuplicateMessageError", "IntegrityViolation", "OutboxItem", "SpoolItem", "Store",
           "Ticket", "open_store"]


def open_store(config: Config, *, migrate: bool = True, busy_timeout: float | None = None,
               application_name: str = "mailgate") -> Store:
    """Open the configured database (by default creating or upgrading its schema)."""
    timeout = config.store.busy_timeout.total_seconds() if busy_timeout is None \
        else busy_timeout
    if config.store.backend == "sqlite":
        return SqliteStore.open_path(config.database_path, busy_timeout=timeout,
                                     migrate=migrate)
    from mailgate.store.postgres import PgStore

    return PgStore.open_url(config.store.url, password=config.database_password(),
                            busy_timeout=timeout, migrate=migrate,
                            application_name=application_name)
