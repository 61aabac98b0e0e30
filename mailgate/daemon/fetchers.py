"""IMAP intake in the daemon: one fetcher thread per account, cursors and leases in the store.

The fetchers (mailgate/intake/imap.py) know only the ``CursorStore`` and
``LeaseStore`` protocols; ``StoreCursors`` implements both over the store, with
a connection of its own per fetcher thread (a store connection is not shared
between threads). ``mailgate.intake.imap`` (and imapclient) is imported only
when an account is configured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from mailgate import clock, health
from mailgate.config import Config
from mailgate.store import Store

if TYPE_CHECKING:
    from mailgate.spooler import Spooler


class StoreCursors:
    """IMAP cursors kept in the store; one connection per fetcher thread."""

    def __init__(self, open_db: Callable[[], Store]) -> None:
        self.open_db = open_db
        self._local = threading.local()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.open_db()
        return store

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        return self._store().imap_cursor(account, folder)

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        self._store().set_imap_cursor(account, folder, uidvalidity, last_uid, clock.now())

    def take_imap_lease(self, account: str, node: str, seconds: float) -> str | None:
        now = clock.now()
        return self._store().imap_lease_take(account, node, now, now + timedelta(seconds=seconds))

    def release_imap_lease(self, account: str, node: str) -> None:
        self._store().imap_lease_release(account, node)


def start_fetchers(config: Config, spooler: Spooler, open_db: Callable[[], Store],
                   states: health.ImapStates, node: str,
                   stop: threading.Event) -> list[threading.Thread]:
    """One started thread per IMAP account; each hands mail to the same spooler as SMTP."""
    if not config.imap:
        return []
    from mailgate.intake.imap import ImapFetcher

    cursors = StoreCursors(open_db)
    threads = []
    for account in config.imap:
        fetcher = ImapFetcher(account, spooler, cursors, log=states.logger(account.name),
                              leases=cursors, node=node,
                              max_message_size=config.smtp.max_message_size)
        thread = threading.Thread(target=fetcher.run, args=(stop,),
                                  name=f"mailgate-imap-{account.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
