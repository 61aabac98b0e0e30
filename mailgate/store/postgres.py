"""The PostgreSQL backend: several daemons (nodes) sharing one database.

What differs from SQLite, and nothing else, lives here:

- connections come from a small per-process pool (psycopg_pool), one held by
  each ``PgStore`` (one per thread, as with SQLite); a connection found
  broken (server restart, network cut) is given back and replaced at the next
  use outside a transaction, and the failure itself was a ``StoreError``
  (451 / exit 75), so nothing is lost meanwhile;
- the SQL is written with ``?`` and translated to psycopg's ``%s`` once per
  statement text;
- transactions are ``BEGIN`` (read committed) on an autocommit connection;
  ``lock_timeout`` is the configured ``busy_timeout``, as SQLite's busy
  timeout, so a lock held too long is a ``StoreError`` too; TCP keepalives and
  ``idle_in_transaction_session_timeout`` make a vanished node's locks and a
  vanished server's connections go away in a minute, not hours;
- claims add ``FOR UPDATE SKIP LOCKED``, a ticket read in a transaction adds
  ``FOR NO KEY UPDATE``, decisions on the absence of a row take an advisory lock, and
  ticket numbers are reserved from the sequence (see :mod:`mailgate.store.base`);
- errors: integrity violations stay integrity violations; connection,
  serialization, deadlock, lock-timeout and resource errors are ``StoreError``;
  anything else (a malformed value) passes through, so the processor
  quarantines the one message instead of retrying it for ever.

Text columns cannot hold NUL characters in PostgreSQL; a NUL in decoded text
(never in the raw bytes, which are ``BYTEA``) is stored as U+FFFD.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import re
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

from mailgate.errors import StoreError
from mailgate.store.base import Cursor
from mailgate.store.facade import Store

IDLE_IN_TX_MS = 60_000  # our transactions never sit idle for long
# Detect a dead server or network instead of waiting on a half-open connection for the
# kernel's retransmission timeout (about 15 minutes); a URL that sets these wins.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 60_000}
POOL_MAX = 64  # a cap, not a size: a daemon holds one per thread that uses the database


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``?`` placeholders to ``%s``, and literal ``%`` doubled (also inside quotes)."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
            out.append(char)
        elif char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def _clean(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value \
        else value


def lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id for ``key`` (the same on every node)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big",
                          signed=True)


def redact(url: str) -> str:
    """The URL without a password, for messages and logs."""
    return re.sub(r"^([a-z]+://[^:/@]*):[^@/]*@", r"\1@", url)


class _Pools:
    """One pool per (conninfo, timeout) in this process, closed when its last store closes.

    A store dropped without ``close()`` is an *orphan*: its ``__del__`` only queues its
    connection and pool reference here, and the next ``acquire``, store ``close`` or
    transaction of any store gives them back. ``__del__`` runs wherever the cyclic garbage
    collector happens to run: in the middle of ``acquire`` on this very thread, holding
    ``_lock`` (giving back there waited for that lock for ever: a daemon hung at start), or
    in a pool's own worker thread (which cannot join itself when the pool closes).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, float], tuple[ConnectionPool, int]] = {}
        self.orphans: collections.deque[
            tuple[str, float, ConnectionPool, psycopg.Connection[Any] | None]] = \
            collections.deque()

    def orphan(self, conninfo: str, busy_timeout: float, pool: ConnectionPool,
               conn: psycopg.Connection[Any] | None) -> None:
        """Queue a dropped store's connection and pool reference (never blocks)."""
        self.orphans.append((conninfo, busy_timeout, pool, conn))

    def reap(self) -> None:
        """Give back what dropped stores held (from ordinary code, never from ``__del__``)."""
        while True:
            try:
                conninfo, busy_timeout, pool, conn = self.orphans.popleft()
            except IndexError:
                return
            if conn is not None:
                try:
                    pool.putconn(conn)  # rolled back, or discarded if broken
                except Exception:
                    with contextlib.suppress(Exception):
                        conn.close()
            self.release(conninfo, busy_timeout)

    def acquire(self, conninfo: str, busy_timeout: float) -> ConnectionPool:
        self.reap()
        key = (conninfo, busy_timeout)
        with self._lock:
            pool, refs = self._pools.get(key, (None, 0))
            if pool is None:
                lock_ms = max(int(busy_timeout * 1000), 1)

                def configure(conn: psycopg.Connection[Any]) -> None:
                    conn.execute(f"SET lock_timeout = {lock_ms}")
                    # A node that vanished mid-transaction (no FIN: power, partition) must
                    # not hold its row locks until TCP notices hours later.
                    conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TX_MS}")

                pool = ConnectionPool(
                    conninfo, min_size=0, max_size=POOL_MAX, open=True, name="mailgate",
                    kwargs={"autocommit": True}, configure=configure,
                    check=ConnectionPool.check_connection,
                    timeout=busy_timeout,
                )
            self._pools[key] = (pool, refs + 1)
            return pool

    def release(self, conninfo: str, busy_timeout: float) -> None:
        key = (conninfo, busy_timeout)
        with self._lock:
            pool, refs = self._pools[key]
            if refs > 1:
                self._pools[key] = (pool, refs - 1)
                return
            del self._pools[key]
        pool.close()


POOLS = _Pools()


class PgStore(Store):
    """A :class:`Store` on one pooled PostgreSQL connection."""

    dialect: ClassVar[str] = "postgresql"
    BEGIN: ClassVar[str] = "BEGIN"
    SKIP_LOCKED: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    # NO KEY UPDATE: serialises work on a ticket, yet lets other transactions insert rows
    # that reference it (their foreign-key checks take KEY SHARE, which it does not block).
    LOCK_ROW: ClassVar[str] = " FOR NO KEY UPDATE"
    #: a relaxed connection's transactions (``relax_durability``): one round trip, two
    #: statements (the simple query protocol, as no parameters are passed)
    RELAXED_BEGIN: ClassVar[str] = "BEGIN; SET LOCAL synchronous_commit = off"

    def __init__(self, conninfo: str, url: str, busy_timeout: float) -> None:
        super().__init__()
        self.url = redact(url)
        self._conninfo = conninfo
        self._busy_timeout = busy_timeout
        self._pool: ConnectionPool | None = POOLS.acquire(conninfo, busy_timeout)
        self._conn: psycopg.Connection[Any] | None = None

    @classmethod
    def open_url(cls, url: str, *, password: str | None = None, busy_timeout: float = 5.0,
                 migrate: bool = True, application_name: str = "mailgate") -> PgStore:
        """Connect to ``url`` (the password apart, never in the URL) and by default migrate."""
        try:
            given = psycopg.conninfo.conninfo_to_dict(url)
            extra: dict[str, Any] = {k: v for k, v in KEEPALIVES.items() if k not in given}
            if password is not None:
                extra["password"] = password
            conninfo = psycopg.conninfo.make_conninfo(
                url, **extra, application_name=application_name[:63],
                connect_timeout=max(int(busy_timeout), 2))
        except psycopg.Error as exc:
            raise StoreError(f"bad database URL {redact(url)}: {exc}") from exc
        store = cls(conninfo, url, busy_timeout)
        try:
            store._connection()
            if migrate:
                store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    # -- the connection -------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is not None and not self._depth and (conn.broken or conn.closed):
            self._give_back()
            conn = None
        if conn is None:
            if self._pool is None:
                raise StoreError("the store is closed")
            try:
                conn = self._conn = self._pool.getconn()
            except psycopg.Error as exc:  # PoolTimeout included
                raise StoreError(f"cannot connect to the database {self.url}: {exc}") from exc
        return conn

    def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pool is not None:
            try:
                self._pool.putconn(conn)  # a broken one is discarded by the pool
            except Exception:  # a connection of a closed pool: it is gone anyway
                conn.close()

    def _before_transaction(self) -> None:
        if POOLS.orphans:
            POOLS.reap()
        conn = self._connection()
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            self._rollback()  # left over by a failure; start clean

    def close(self) -> None:
        self._give_back()
        if self._pool is not None:
            self._pool = None
            POOLS.release(self._conninfo, self._busy_timeout)
        POOLS.reap()

    def __del__(self) -> None:
        # A store dropped without close() gives its connection back, as an SQLite
        # connection closes when it is collected; otherwise the pool would run dry. Not
        # here and now, though: see _Pools.
        pool = getattr(self, "_pool", None)
        if pool is not None:
            self._pool = None
            POOLS.orphan(self._conninfo, self._busy_timeout, pool, self._conn)
            self._conn = None

    # -- statements -----------------------------------------------------------------

    def _begin(self) -> None:
        self._execute(self.RELAXED_BEGIN if self._relaxed else self.BEGIN, ())

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        conn = self._connection()
        if not params:  # BEGIN, COMMIT, SAVEPOINT...: never as prepared statements
            return conn.execute(sql, prepare=False)
        return conn.execute(translate(sql), [_clean(p) for p in params])

    def _classify(self, exc: BaseException) -> str | None:
        if isinstance(exc, psycopg.IntegrityError):
            return "integrity"
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError
                      | psycopg.InternalError):
            return "error"
        return None

    def _has_table(self, name: str) -> bool:
        return self._x("SELECT to_regclass(?)", (name,)).fetchone()[0] is not None

    def tables(self) -> list[str]:
        return [r[0] for r in self._x(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " ORDER BY tablename").fetchall()]

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._connection().cursor() as cur:
            cur.executemany(translate(sql), [[_clean(v) for v in row] for row in rows])
            return cur.rowcount

    def _sync_sequence(self, table: str) -> None:
        self._x(f"SELECT setval(pg_get_serial_sequence(?, 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table}), 1),"
                f" (SELECT COUNT(*) > 0 FROM {table}))", (table,)).fetchall()

    def _lock_key(self, key: str) -> None:
        self._x("SELECT pg_advisory_xact_lock(?)", (lock_id(key),)).fetchall()

    def _rows_under_lock(self, key: str, sql: str, params: Sequence[Any]) -> list[Any]:
        """The advisory lock and the query it protects in one round trip (pipeline mode):
        still two statements, so the query's snapshot is taken once the lock is granted and
        sees what its last holder committed. A failure of either surfaces here."""
        if not self._depth or not psycopg.Pipeline.is_supported():  # (libpq < 14)
            return super()._rows_under_lock(key, sql, params)
        conn = self._connection()
        self.statements += 1
        try:
            with conn.pipeline():
                conn.execute(translate("SELECT pg_advisory_xact_lock(?)"), [lock_id(key)])
                cur = conn.execute(translate(sql), [_clean(p) for p in params])
            return cur.fetchall()
        except Exception as exc:
            self._raise_mapped(exc)
            raise

    def _reserve_id(self, table: str) -> int | None:
        row = self._x("SELECT nextval(pg_get_serial_sequence(?, 'id'))", (table,)).fetchone()
        return int(row[0])

    def migrate(self) -> list[int]:
        """As :meth:`Store.migrate`; a node waits as long as another node's migration takes."""
        self._x("SET lock_timeout = 0")
        try:
            return super().migrate()
        finally:
            with contextlib.suppress(StoreError):  # a lost connection is replaced anyway
                self._x(f"SET lock_timeout = {max(int(self._busy_timeout * 1000), 1)}")
