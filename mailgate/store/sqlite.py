"""The SQLite backend: the embedded default, one host, one writer at a time.

The database runs in WAL mode, and ``Store.transaction()`` returns only once
its commit is on disk (the log is fsynced right after COMMIT, see
``_make_durable``), so a commit survives power loss; readers (the CLI) never
block the writers. ``BEGIN IMMEDIATE``
takes the write lock up front; a lock held longer than ``busy_timeout`` is a
``StoreError`` (451 / exit 75). With one writer at a time, claims need no row
locks and the shared queries (the groups of :class:`~mailgate.store.facade.Store`)
run as they are.

Waiting for the write lock: SQLite's own busy handler sleeps 1, 2, 5, 10, 15,
20, 25 ... ms between tries, so a writer arriving just after another took the
lock wakes up to 10-25 ms after it was freed again. The spooler answers SMTP
``250`` only after its commit, so ``BEGIN IMMEDIATE`` is retried here every
0.1-0.25 ms instead (the busy handler still covers every other statement). A
waiting writer holds a shared ``flock`` on ``<db>-writers``; the processor,
which writes transaction after transaction, looks at that file between two
(``writer_turn``, one system call) and pauses while someone waits, so that the
spooler gets its turn instead of losing the race for the lock again and again.

Several processor processes (``[processing] processes``) take turns among themselves
first (``take_turns``): an exclusive ``flock`` on ``<db>-processors`` around each of their
transactions. One parses its next messages while the other writes, and the one that
waits for the other looks at that lock every 0.5 ms (one system call) instead of
retrying ``BEGIN IMMEDIATE`` every 0.1-0.25 ms against the other's write lock.

Every writer also holds ``<db>-writing`` exclusively while it holds the write lock
(``lite.Writing``): one that waits sleeps until that is let go, one wake-up, instead of
trying again every 0.1-0.25 ms (about 25 us of CPU a try, mostly the sleep itself).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar

from mailgate.errors import ConfigError, StoreError
from mailgate.store.base import Cursor
from mailgate.store.facade import Store, register_sqlite
from mailgate.store.lite import Writing, begin_immediate


def _set_wal(conn: sqlite3.Connection, busy_timeout: float) -> bool:
    """Switch to WAL; False if the database cannot use it (then SQLite journals as before).
    Two processes creating the file at once: SQLite answers "locked" at once here (its
    busy handler is not used for this lock), so retry within the timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return bool(row) and str(row[0]).lower() == "wal"
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_owner(path: Path) -> None:
    """Refuse (ConfigError) to create the database, or its ``-wal``/``-shm`` files, as
    another user than the one owning its folder: a file root creates there (``mailgate
    tickets`` run with sudo on a fresh state folder) cannot be written by the daemon's
    user, which would then answer every mail with 451 for ever. Only creating is refused:
    with all three files present (the daemon running) any user may open them."""
    euid = os.geteuid()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders that would be created belong to us
    try:
        owner = folder.stat().st_uid
    except OSError:
        return  # unreadable: opening fails with its own error
    if owner == euid:
        return
    missing = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if not p.exists()]
    if missing:
        name = _user_name(owner)
        raise ConfigError(
            f"refusing to create {missing[0]} as {_user_name(euid)}: its folder {folder} "
            f"belongs to {name}, who could then not write to it; run the command as {name} "
            f"(sudo -u {name} mailgate ...)")


#: ``wal_autocheckpoint`` of a connection that leaves checkpoints to others (SQLite's
#: default is 1,000 pages): a bound on the log should nobody else commit for a while
LEFT_CHECKPOINT_PAGES = 10_000


class SqliteStore(Store):
    """A :class:`Store` on one SQLite connection."""

    dialect: ClassVar[str] = "sqlite"
    BEGIN: ClassVar[str] = "BEGIN IMMEDIATE"
    _YIELD = (0.0001, 0.005)  # a long writer's step and longest pause while others wait
    _TURN_POLL = 0.0005  # how often a processor looks whether its turn has come

    def __init__(self, conn: sqlite3.Connection, path: Path, busy_timeout: float = 5.0,
                 ) -> None:
        super().__init__()
        self._conn = conn
        self.path = path
        self.busy_timeout = busy_timeout
        self._waiting_fd: int | None = None  # "<db>-writers": writers waiting hold it shared
        self._sync_log = False  # fsync the WAL after each COMMIT (see _make_durable)
        self._log_inode: int | None = None  # the WAL file whose folder entry is synced
        self._changes_at_begin = -1  # rows changed on this connection when BEGIN ran
        self._turns_fd: int | None = None  # "<db>-processors", see take_turns
        self._turn_held = False
        self._writing = Writing(str(path))  # "<db>-writing": held with the write lock

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, retried every 0.1-0.25 ms up to ``busy_timeout`` (see above),
        with a shared lock on ``<db>-writers`` held while waiting, so that a long writer
        between two transactions (``writer_turn``) sees someone is waiting."""
        self._changes_at_begin = self._conn.total_changes
        self._wait_turn()
        try:
            begin_immediate(self._conn, self.busy_timeout, self._flock, self._writing)
        except BaseException:
            self._end_transaction()
            raise
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        self._writing.announce()

    def take_turns(self) -> None:
        try:
            self._turns_fd = os.open(f"{self.path}-processors", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            self._turns_fd = None  # a read-only folder: the processors race as before

    def _wait_turn(self) -> None:
        """Take ``<db>-processors`` (see ``take_turns``), waiting while another processor's
        transaction runs, at most ``busy_timeout`` (then BEGIN's own wait says why)."""
        if self._turns_fd is None:
            return
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                fcntl.flock(self._turns_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._turn_held = True
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(self._TURN_POLL)
            except OSError:
                return

    def _end_transaction(self) -> None:
        self._writing.release()
        if self._turn_held and self._turns_fd is not None:
            self._turn_held = False
            with suppress(OSError):
                fcntl.flock(self._turns_fd, fcntl.LOCK_UN)

    def writer_waiting(self) -> bool:
        """Whether a writer waits for the write lock (it holds ``<db>-writers`` shared
        while it waits, see ``begin_immediate``): two ``flock`` calls, ~2 us."""
        if not self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
            return self._waiting_fd is not None
        self._flock(fcntl.LOCK_UN)
        return False

    def writer_turn(self) -> None:
        """Between two transactions of a long writer (the processor): while another writer
        waits for the lock, pause (up to 5 ms) so that it gets it, instead of taking the lock
        again at once; without a waiter, go on."""
        until = time.monotonic() + self._YIELD[1]
        while time.monotonic() < until and not self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
            time.sleep(self._YIELD[0])
        self._flock(fcntl.LOCK_UN)

    def _flock(self, operation: int) -> bool:
        """flock ``<db>-writers``; False if it is taken (or cannot be used: no fairness)."""
        try:
            if self._waiting_fd is None:
                self._waiting_fd = os.open(f"{self.path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._waiting_fd, operation)
            return True
        except OSError:
            return False

    @classmethod
    def open_path(cls, path: str | Path, *, busy_timeout: float = 5.0,
                  migrate: bool = True) -> SqliteStore:
        """Open (and by default create or upgrade) the database at ``path``."""
        path = Path(path)
        check_owner(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout,
                                   check_same_thread=False)  # handed over, never shared
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            wal = _set_wal(conn, busy_timeout)
            # WAL: COMMIT writes the log without fsync and the store fsyncs it right after,
            # with the write lock free (see _make_durable); otherwise SQLite's own FULL
            conn.execute(f"PRAGMA synchronous = {'NORMAL' if wal else 'FULL'}")
            conn.execute("PRAGMA foreign_keys = ON")
            # a message's savepoint needs a statement journal: in memory, not a temp file
            # created and unlinked in /var/tmp for every transaction
            conn.execute("PRAGMA temp_store = MEMORY")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        store = cls(conn, path, busy_timeout)
        store._sync_log = wal
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        self._conn.close()
        self._writing.close()
        if self._waiting_fd is not None:
            os.close(self._waiting_fd)
            self._waiting_fd = None
        if self._turns_fd is not None:
            os.close(self._turns_fd)
            self._turns_fd = None

    def _make_durable(self) -> None:
        """fsync the WAL after COMMIT, once the write lock is free again.

        SQLite's ``synchronous = FULL`` fsyncs the log inside COMMIT, while it still holds
        the one write lock, so every other writer (the processor, the sender, another
        group of the spooler) waits for the disk too. Here COMMIT appends the frames
        (``synchronous = NORMAL``) and the caller is answered only after this fsync of the
        log file: the same frames on disk, the lock free meanwhile. The log's frames are
        checksummed in a chain, so after a power cut recovery keeps a prefix: a later
        commit (the processor's) never survives without the earlier ones it built on.
        A new log file gets its folder entry synced once."""
        if not self._sync_log or self._conn.total_changes == self._changes_at_begin:
            return  # (a transaction that only read has nothing to make durable)
        log = f"{self.path}-wal"
        try:
            fd = os.open(log, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fdatasync(fd)
                inode = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            if inode != self._log_inode:
                folder = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
                self._log_inode = inode
        except OSError as exc:
            raise StoreError(f"commit not known to be durable: fsync {log}: {exc}") from exc

    def _reserve_id(self, table: str) -> int | None:
        """Inside a transaction (the write lock is held) the next AUTOINCREMENT id is the
        table's ``sqlite_sequence`` entry plus one; an INSERT with it moves the entry on."""
        if not self._depth:
            return None
        row = self._x("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        return int(row[0]) + 1 if row else 1

    def synced_with(self, folder: Path) -> bool:
        try:
            return os.stat(self.path).st_dev == os.stat(folder).st_dev
        except OSError:
            return False

    def leave_checkpoints(self) -> None:
        """SQLite copies the log back into the database file (a checkpoint: hundreds of
        pages and an fsync of the database, often 5-40 ms here) inside the COMMIT that
        takes the log past ``wal_autocheckpoint`` pages, whichever connection's it is: the
        spooler's group then waits for it before its ``250``s, and a processor holds its
        ``<db>-writing`` (and ``<db>-processors``) meanwhile, which a waiting spooler sleeps
        on. Here that threshold is ten times the default, a bound for when no other
        connection commits; the sender's commits (its own thread or process, off both
        paths; the default threshold) do the checkpoints."""
        self._x(f"PRAGMA wal_autocheckpoint = {LEFT_CHECKPOINT_PAGES}")

    def relax_durability(self) -> None:
        super().relax_durability()
        self._x("PRAGMA synchronous = NORMAL")  # WAL: no fsync at commit, only at checkpoints

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        return self._conn.execute(sql, params)

    def _classify(self, exc: BaseException) -> str | None:
        if isinstance(exc, sqlite3.IntegrityError):
            return "integrity"
        if isinstance(exc, sqlite3.Error):
            return "error"
        return None

    def tables(self) -> list[str]:
        return [r[0] for r in self._x(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()]

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return self._conn.executemany(sql, rows).rowcount


register_sqlite(SqliteStore.open_path)
