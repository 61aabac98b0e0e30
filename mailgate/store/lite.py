"""SQLite with the standard library alone: what ``mailgate ingest`` needs to spool a mail.

``mailgate ingest`` runs once per mail under an MTA's pipe; beside a running
daemon all it has to do is append the raw bytes to the spool durably and wake
the daemon. The full store (``Store``, its query groups, the migrations) costs
tens of milliseconds to import; this module imports only ``sqlite3`` and
shares with the SQLite backend the two pieces that matter here: the spool's
INSERTs and the way ``BEGIN IMMEDIATE`` waits for the write lock.

It never creates, migrates or repairs a database: a file that is missing, not
in WAL mode, or not at this code's schema version raises :class:`NotQuick`
and the caller takes the full path (``open_store``), which does all that and
reports what is wrong. Durability: ``synchronous = FULL`` in WAL mode, so the
log is fsynced inside COMMIT and the caller exits 0 only after that.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time

from mailgate.errors import StoreError

TYPE_CHECKING = False  # (without importing typing, as mailgate.cli.ingest)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

SPOOL_INSERT = (
    "INSERT INTO spool (received_at, channel, source, mail_from, rcpt_tos, size,"
    " state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
RAW_INSERT = "INSERT INTO spool_raw (id, raw) VALUES (?, ?)"  # after SPOOL_INSERT, its id
POLL = (0.0001, 0.00025)  # first and longest wait between two tries of BEGIN IMMEDIATE
WATCH_AFTER = 0.001  # a wait this long already is behind a long transaction: sleep on it


class NotQuick(Exception):
    """This database is not one the quick path may write to; use the full store."""


def begin_immediate(conn: sqlite3.Connection, busy_timeout: float,
                    flock: Callable[[int], bool], writing: Writing | None = None) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``busy_timeout`` (SQLite's own busy handler sleeps
    up to 25 ms between tries), with ``flock(LOCK_SH)`` on ``<db>-writers`` held while
    waiting, so that a long writer (the processor) between two transactions sees someone
    waits and lets it in. While the holder of the lock says so on ``<db>-writing``
    (``Writing``) and the wait is past ``WATCH_AFTER`` (a short transaction is waited
    for more cheaply by trying again than by starting a watcher thread), sleep until it
    lets go; otherwise try again every 0.1-0.25 ms. The caller sets the busy timeout."""
    conn.execute("PRAGMA busy_timeout = 0")
    waiting = False
    try:
        started = time.monotonic()
        deadline = started + busy_timeout
        delay = POLL[0]
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            if not waiting:
                waiting = flock(fcntl.LOCK_SH)
            if writing is None or time.monotonic() < started + WATCH_AFTER \
                    or not writing.wait_free(deadline - time.monotonic()):
                time.sleep(delay)
                delay = min(delay * 1.5, POLL[1])
    finally:
        if waiting:
            flock(fcntl.LOCK_UN)


class Writing:
    """``<db>-writing``: a writer holds it exclusively while it holds SQLite's write lock
    (``announce`` after ``BEGIN IMMEDIATE``, ``release`` when the transaction ends), so that
    a writer waiting for that lock sleeps until it is let go, one wake-up, instead of trying
    again every 0.1-0.25 ms (each try ~25 us of CPU, nearly all of it the sleep: a wait
    behind the processor's 5-10 ms transaction cost the spooler about a millisecond). Only a
    hint: a holder that does not say so (another program, or a waiter looking at that very
    instant) is waited for by trying again, as before."""

    def __init__(self, path: str) -> None:
        self.path = f"{path}-writing"
        self._fd: int | None = None
        self._held = False
        self._watch: tuple[Any, Any] | None = None  # (thread, its threading.Event)

    def _file(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return None  # a read-only folder: waiters try again as before
        return self._fd

    def announce(self) -> None:
        """This connection holds the write lock now."""
        fd = self._file()
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._held = True
            except OSError:
                pass  # a waiter is looking right now: it tries again instead

    def release(self) -> None:
        """The transaction ended (the write lock is free)."""
        if self._held and self._fd is not None:
            self._held = False
            try:  # noqa: SIM105  (no contextlib: this module keeps its imports few)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass

    def wait_free(self, timeout: float) -> bool:
        """Sleep until the writer that announced itself lets go (True), at most ``timeout``
        (False); False at once when nobody announced (the caller tries again)."""
        fd = self._file()
        if fd is None or timeout <= 0:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # announced: wait for it below
        except OSError:
            return False
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        import threading  # (only when waiting: the quick path's import time stays small)

        watch = self._watch  # a watcher from an earlier timeout may still be on it
        if watch is None or watch[1].is_set() or not watch[0].is_alive():
            free = threading.Event()
            thread = threading.Thread(target=_watch_writing, args=(self.path, free),
                                      name="mailgate-writing", daemon=True)
            thread.start()
            self._watch = watch = (thread, free)
        return bool(watch[1].wait(timeout))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # (and the lock with it)
            self._fd, self._held = None, False


def _watch_writing(path: str, free: Any) -> None:
    """Block until ``path`` can be locked shared (the announced writer let go), then set
    ``free``: a blocking flock has no timeout, so it runs in a thread the waiter waits for
    with one (it ends when the writer lets go, however late)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)  # (the shared lock with it: the next writer may announce)
    except OSError:
        pass
    finally:
        free.set()


def append_spool(path: str, raw: bytes, *, schema_version: int, received_at: str,
                 channel: str, source: str | None, mail_from: str | None,
                 rcpt_tos: Iterable[str], busy_timeout: float) -> int:
    """Append one raw message to the spool of the SQLite database at ``path`` and return its
    id once the commit is on disk. ``NotQuick`` if the database is not ready for this path
    (nothing written); ``StoreError`` if the write failed (nothing written either)."""
    try:
        uri = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        conn = sqlite3.connect(f"file:{uri}?mode=rw", uri=True, isolation_level=None,
                               timeout=busy_timeout)
    except sqlite3.Error as exc:  # (no such file: never created here)
        raise NotQuick(f"cannot open {path}: {exc}") from exc
    lock_fd: list[int] = []
    writing = Writing(path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        _check_ready(conn, schema_version)
        conn.execute("PRAGMA synchronous = FULL")  # WAL: the log is fsynced in COMMIT
        begin_immediate(conn, busy_timeout, lambda op: _flock(f"{path}-writers", lock_fd, op),
                        writing)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        try:
            row = conn.execute(SPOOL_INSERT, (
                received_at, channel, source, mail_from, json_strings(rcpt_tos),
                len(raw), "new", None)).fetchone()
            conn.execute(RAW_INSERT, (row[0], raw))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(row[0])
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write to {path}: {exc}") from exc
    finally:
        conn.close()
        writing.close()
        for fd in lock_fd:
            os.close(fd)


#: what a JSON string must escape: the quote, the backslash, control characters
_ESCAPES = {**{i: f"\\u{i:04x}" for i in range(32)}, ord('"'): '\\"', ord("\\"): "\\\\"}


def json_strings(items: Iterable[str]) -> str:
    """A JSON array of strings, as the store writes ``rcpt_tos`` (without importing
    ``json``, which brings ``re``: a few ms in a per-mail process). Lone surrogates (bytes
    of an argv that is not UTF-8) are written as escapes, as ``json.dumps`` writes them."""
    quoted = []
    for item in items:
        text = item.translate(_ESCAPES)
        if not text.isascii():
            text = "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) < 0xE000 else c
                           for c in text)
        quoted.append(f'"{text}"')
    return f"[{', '.join(quoted)}]"


def _check_ready(conn: sqlite3.Connection, schema_version: int) -> None:
    mode = conn.execute("PRAGMA journal_mode").fetchone()
    if not mode or str(mode[0]).lower() != "wal":
        raise NotQuick("the database is not in WAL mode")
    try:
        found = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError as exc:  # (no such table: a database never migrated)
        raise NotQuick(str(exc)) from exc
    if not found or found[0] != schema_version:
        raise NotQuick(f"schema version {found and found[0]}, not {schema_version}")


def _flock(path: str, fds: list[int], operation: int) -> bool:
    """flock ``path`` (opened once, kept in ``fds``); False if it cannot be used."""
    try:
        if not fds:
            fds.append(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        fcntl.flock(fds[0], operation)
        return True
    except OSError:
        return False
