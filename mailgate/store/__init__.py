"""The store layer: all SQL lives here; the rest of mailgate calls these functions.

``open_store(config)`` opens the database ``[store] url`` names: SQLite (the
embedded default) or PostgreSQL (several nodes on one database). Both are a
:class:`Store` with the same methods; ``Store.open(path)`` opens an SQLite file.

The names below are imported on first use (PEP 562), so that ``mailgate ingest``
can import ``mailgate.store.lite`` without the query groups (see that module).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (without importing typing: ``mailgate ingest`` pays every import)
if TYPE_CHECKING:
    from typing import Any

    from mailgate.config import Config
    from mailgate.store.base import DuplicateMessageError, IntegrityViolation
    from mailgate.store.facade import Store
    from mailgate.store.rows import OutboxItem, SpoolItem, Ticket

__all__ = ["DuplicateMessageError", "IntegrityViolation", "OutboxItem", "SpoolItem", "Store",
           "Ticket", "open_store"]

_HOMES = {"DuplicateMessageError": "base", "IntegrityViolation": "base", "Store": "facade",
          "OutboxItem": "rows", "SpoolItem": "rows", "Ticket": "rows"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("mailgate.store.sqlite")  # registers the opener Store.open uses
    return getattr(importlib.import_module(f"mailgate.store.{home}"), name)


def open_store(config: Config, *, migrate: bool = True, busy_timeout: float | None = None,
               application_name: str = "mailgate") -> Store:
    """Open the configured database (by default creating or upgrading its schema)."""
    timeout = config.store.busy_timeout.total_seconds() if busy_timeout is None \
        else busy_timeout
    if config.store.backend == "sqlite":
        from mailgate.store.sqlite import SqliteStore

        return SqliteStore.open_path(config.database_path, busy_timeout=timeout,
                                     migrate=migrate)
    from mailgate.store.postgres import PgStore

    return PgStore.open_url(config.store.url, password=config.database_password(),
                            busy_timeout=timeout, migrate=migrate,
                            application_name=application_name)
