"""``Store``: every query group on one connection, the one class the rest of mailgate uses.

The groups are mixins over :class:`~mailgate.store.base.StoreBase`, one per table
group; a backend (``SqliteStore``, ``PgStore``) subclasses ``Store``. ``Store.open``
opens SQLite, yet this module does not import the SQLite backend (which imports it):
the backend registers its opener here when it is imported, which ``mailgate.store``
always does, so the modules of the store import each other in one direction only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailgate.store.bulk import BulkQueries
from mailgate.store.claims import ClaimQueries
from mailgate.store.imap import ImapQueries
from mailgate.store.messages import MessageQueries
from mailgate.store.outbox import OutboxQueries
from mailgate.store.ratings import RatingQueries
from mailgate.store.sla import SlaQueries
from mailgate.store.spool import SpoolQueries
from mailgate.store.tickets import TicketQueries

#: how ``Store.open`` opens an SQLite file: ``SqliteStore.open_path``, once registered
_sqlite_opener: list[Callable[..., Store]] = []


def register_sqlite(opener: Callable[..., Store]) -> None:
    """Called by :mod:`mailgate.store.sqlite` on import: the opener ``Store.open`` uses."""
    _sqlite_opener[:] = [opener]


class Store(SpoolQueries, TicketQueries, MessageQueries, OutboxQueries, SlaQueries,
            ImapQueries, ClaimQueries, BulkQueries, RatingQueries):
    """Typed access to the database; see :mod:`mailgate.store.base` for the rules.

    ``Store.open(path)`` opens an SQLite database (the embedded default);
    ``mailgate.store.open_store(config)`` opens whichever ``[store] url`` names.
    """

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = 5.0, migrate: bool = True,
             ) -> Store:
        """Open (and by default create or upgrade) the SQLite database at ``path``."""
        if not _sqlite_opener:  # only if mailgate.store.sqlite was never imported
            raise RuntimeError("the SQLite backend is not registered: import mailgate.store")
        return _sqlite_opener[0](path, busy_timeout=busy_timeout, migrate=migrate)
