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
- round trips: statements whose answer is not needed yet are held and sent with the
  next one that needs an answer, in one pipeline (see ``PgStore._execute``);
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
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

from mailgate.clock import to_db
from mailgate.errors import StoreError
from mailgate.store.base import Cursor, DuplicateMessageError
from mailgate.store.facade import Store
from mailgate.store.lite import SPOOL_INSERT
from mailgate.store.messages import MESSAGE_COLUMNS, message_values
from mailgate.store.outbox import OUTBOX_INSERT, outbox_values
from mailgate.store.rows import SpoolItem
from mailgate.store.spool import spool_item, spool_values

IDLE_IN_TX_MS = 60_000  # our transactions never sit idle for long
# Detect a dead server or network instead of waiting on a half-open connection for the
# kernel's retransmission timeout (about 15 minutes); a URL that sets these wins.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 60_000}
CURSORS = 32  # kept per connection at most (a pipeline of more makes the rest anew)
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


# the row of an ``INSERT ... VALUES (...)``: placeholders, literals, no nested parentheses
_VALUES_ROW = re.compile(r" VALUES (\((?:[^()']|'[^']*')*\))")
MAX_PARAMS = 32_767  # per statement (the protocol's limit is 65,535)


@functools.lru_cache(maxsize=512)
def many_rows(sql: str, count: int) -> str | None:
    """``sql``, an ``INSERT ... VALUES (row)`` (and whatever follows, ``ON CONFLICT ...``),
    with its row written ``count`` times: the rows of an ``executemany`` in one statement.
    None for a statement of another shape (each row is then a statement of its own)."""
    if not sql.startswith("INSERT INTO ") or " RETURNING " in sql:
        return None
    found = _VALUES_ROW.search(sql)
    if found is None or _VALUES_ROW.search(sql, found.end()) is not None:
        return None
    row = found[1]
    return f"{sql[:found.start(1)]}{', '.join([row] * count)}{sql[found.end(1):]}"


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


class Rows:
    """A statement's answer, read at once, so that the cursor that ran it can run the next
    one: a new psycopg cursor costs about as much CPU as running a statement (~40 us)."""

    __slots__ = ("_next", "_rows", "description", "rowcount")

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.rowcount = cur.rowcount
        self.description = cur.description
        self._rows = cur.fetchall() if self.description is not None else []
        self._next = 0

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rows, self._next = self._rows[self._next:], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Later:
    """The answer of a statement held back (``PgStore._hold``): the first look at it
    sends the statement, with everything held before it, in one round trip."""

    def __init__(self, store: PgStore) -> None:
        self._store = store
        self.rows: Rows | None = None

    def _sent(self) -> Rows:
        if self.rows is None:
            self._store._send_held(count=True)
        assert self.rows is not None
        return self.rows

    @property
    def rowcount(self) -> int:
        return self._sent().rowcount

    @property
    def description(self) -> Any:
        return self._sent().description

    def fetchone(self) -> Any:
        return self._sent().fetchone()

    def fetchall(self) -> list[Any]:
        return self._sent().fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._sent())


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


#: the message row's values, its outbox id read from the outbox row written with it
_OUTBOX_ID_MARKS = ["(SELECT id FROM o)" if c == "outbox_id" else "?" for c in MESSAGE_COLUMNS]


class PgStore(Store):
    """A :class:`Store` on one pooled PostgreSQL connection."""

    dialect: ClassVar[str] = "postgresql"
    BEGIN: ClassVar[str] = "BEGIN"
    SKIP_LOCKED: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    # NO KEY UPDATE: serialises work on a ticket, yet lets other transactions insert rows
    # that reference it (their foreign-key checks take KEY SHARE, which it does not block).
    LOCK_ROW: ClassVar[str] = " FOR NO KEY UPDATE"
    #: set at the start of a relaxed connection's transactions (``relax_durability``)
    RELAXED: ClassVar[str] = "SET LOCAL synchronous_commit = off"
    #: statements without an answer that may wait for the next round trip
    #: (they fail only with the connection, or in a transaction that failed already)
    HOLDABLE: ClassVar[tuple[str, ...]] = ("BEGIN", "SET LOCAL ", "SAVEPOINT ",
                                           "RELEASE SAVEPOINT ", "SELECT pg_advisory_xact_lock")

    #: a spool row and its raw bytes in one statement (a data-modifying WITH)
    SPOOL_WITH_RAW: ClassVar[str] = (f"WITH s AS ({SPOOL_INSERT}) INSERT INTO spool_raw (id, raw)"
                                     " SELECT id, ? FROM s RETURNING id")

    #: an outgoing mail's outbox row and the message row naming it, in one statement
    QUEUE_WITH_MESSAGE: ClassVar[str] = (
        f"WITH o AS ({OUTBOX_INSERT} RETURNING id)"
        f" INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES"
        f" ({', '.join(_OUTBOX_ID_MARKS)}) ON CONFLICT (message_id) DO NOTHING RETURNING outbox_id")

    def __init__(self, conninfo: str, url: str, busy_timeout: float) -> None:
        super().__init__()
        self.url = redact(url)
        self._conninfo = conninfo
        self._busy_timeout = busy_timeout
        self._pool: ConnectionPool | None = POOLS.acquire(conninfo, busy_timeout)
        self._conn: psycopg.Connection[Any] | None = None
        # statements held back (``_hold``), sent in order with the next one that needs an
        # answer; ``_defer``: inside ``rows_together``, every statement may wait
        self._held: list[tuple[str, Sequence[Any], Later]] = []
        self._defer = 0
        # cursors kept for the next statements (``_run``), and the connection they are of
        self._cursors: list[psycopg.Cursor[Any]] = []
        self._cursors_of: psycopg.Connection[Any] | None = None
        # queries read ahead (``_answer_later``), each with what takes its rows
        self._pending: list[tuple[Cursor, Callable[[list[Any]], None]]] = []

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
        self._held.clear()
        self._cursors, self._cursors_of = [], None
        conn, self._conn = self._conn, None
        if conn is not None and self._pool is not None:
            try:
                self._pool.putconn(conn)  # a broken one is discarded by the pool
            except Exception:  # a connection of a closed pool: it is gone anyway
                conn.close()

    def _before_transaction(self) -> None:
        if POOLS.orphans:
            POOLS.reap()
        self._held.clear()  # (left over by a failure)
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
        # sent with the transaction's first statement: a failure to begin surfaces there,
        # as a StoreError all the same
        self.statements -= 1
        self._hold(self.BEGIN, ())
        if self._relaxed:
            self._hold(self.RELAXED, ())

    def _end_transaction(self) -> None:
        self._held.clear()  # (COMMIT sent them; after a ROLLBACK they are moot)
        self._pending.clear()
        super()._end_transaction()

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        """Run one statement, or hold it back: inside a transaction, a statement of
        ``HOLDABLE`` and, within ``rows_together``, any statement waits (a ``Later`` cursor)
        until one needs an answer; then all go in one round trip (pipeline mode), in order.
        A held statement's failure is raised by the statement that sent it (the caller
        never looks at a held INSERT's answer), and never outside its savepoint (see
        ``savepoint``). COMMIT and ROLLBACK are never held."""
        if sql == "ROLLBACK":
            self._held.clear()
        elif self._depth and sql != "COMMIT" and (
                self._defer or sql.startswith(self.HOLDABLE)):
            self.statements -= 1  # (no round trip yet)
            return self._hold(sql, params)
        elif self._held:
            later = self._hold(sql, params)
            self._send_held()
            assert later.rows is not None
            return later.rows
        cur = self._run(self._connection(), 0, sql, params)
        return Rows(cur)

    def _run(self, conn: psycopg.Connection[Any], slot: int, sql: str, params: Sequence[Any],
             ) -> psycopg.Cursor[Any]:
        """Run ``sql`` on this connection's cursor number ``slot`` (kept for the next
        statement: several in one pipeline need one each)."""
        if self._cursors_of is not conn:
            self._cursors, self._cursors_of = [], conn
        while len(self._cursors) <= min(slot, CURSORS - 1):
            self._cursors.append(conn.cursor())
        cur = self._cursors[slot] if slot < CURSORS else conn.cursor()
        if not params:  # BEGIN, COMMIT, SAVEPOINT...: never as prepared statements
            return cur.execute(sql, prepare=False)
        return cur.execute(translate(sql), [_clean(p) for p in params])

    def _hold(self, sql: str, params: Sequence[Any]) -> Later:
        later = Later(self)
        self._held.append((sql, params, later))
        return later

    def _answer_later(self, sql: str, params: Sequence[Any],
                      use: Callable[[list[Any]], None]) -> None:
        """As :meth:`StoreBase._answer_later`; within ``rows_together`` the query is held
        and goes with the next statement that needs an answer (one round trip for both)."""
        self._pending.append((self._x(sql, params), use))

    def _settle(self) -> None:
        while self._pending:
            cur, use = self._pending.pop(0)
            use(cur.fetchall())

    def _holds_work(self) -> bool:
        """True if a held statement is more than a transaction or savepoint edge."""
        return any(not sql.startswith(self.HOLDABLE) for sql, _p, _l in self._held)

    def _send_held(self, *, count: bool = False) -> None:
        """Send the held statements, in one round trip (pipeline mode) when there are several;
        a driver error is raised as the store's (``count``: a round trip of its own)."""
        held, self._held = self._held, []
        if not held:
            return
        if count:
            self.statements += 1
        conn = self._connection()
        try:
            if len(held) == 1 or not psycopg.Pipeline.is_supported():  # (libpq < 14)
                for sql, params, later in held:
                    later.rows = Rows(self._run(conn, 0, sql, params))
                return
            with conn.pipeline():
                curs = [self._run(conn, slot, sql, params)
                        for slot, (sql, params, _later) in enumerate(held)]
            for cur, (_sql, _params, later) in zip(curs, held, strict=True):
                later.rows = Rows(cur)
        except Exception as exc:
            self._raise_mapped(exc)
            raise

    @contextlib.contextmanager
    def rows_together(self) -> Iterator[None]:
        """As :meth:`StoreBase.rows_together`; here, besides, every statement of the block
        whose answer is not looked at waits for the next one that is (``_execute``): a new
        ticket's writes take a few round trips, not one each."""
        self._defer += 1
        try:
            with super().rows_together():
                yield
        finally:
            self._defer -= 1

    def _write_later(self) -> None:
        before = self.statements
        super()._write_later()
        if self._defer and self._depth:
            self.statements = before  # (held: no round trip yet)

    @contextlib.contextmanager
    def savepoint(self, name: str = "item") -> Iterator[None]:
        """As :meth:`StoreBase.savepoint`, with its edges held (``HOLDABLE``): what was held
        before it is sent first, and what is held inside it is sent before it is released,
        so a failure is raised inside the savepoint its statement belongs to and rolls
        back just that part."""
        self._write_later()
        if self._holds_work():
            self._send_held(count=True)
        self._x(f"SAVEPOINT {name}")
        try:
            yield
            self._write_later()
            if self._holds_work():
                self._send_held(count=True)
        except BaseException:
            if self._later:
                self._later.clear()  # (kept since the savepoint began: rolled back with it)
            failure = self._send_before_rollback()
            self._pending.clear()  # (answers read ahead: forgotten with the savepoint)
            self._forget_read_ahead()
            self._x(f"ROLLBACK TO SAVEPOINT {name}")
            self._x(f"RELEASE SAVEPOINT {name}")
            if failure is not None:
                # (what it would have raised had it been sent at once)
                raise failure from failure.__cause__
            raise
        self._x(f"RELEASE SAVEPOINT {name}")

    def _send_before_rollback(self) -> Exception | None:
        """Send what is held (the savepoint itself may be among it); its error, if any."""
        try:
            self._send_held(count=True)
        except Exception as exc:
            return exc
        return None

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
        if self._depth and self._defer:
            # held: one statement for all the rows of an INSERT (a group's events, reminders:
            # the server parses, plans and answers one, not one a row), else one a row
            width = max(len(rows[0]), 1)
            step = max(MAX_PARAMS // width, 1)
            for start in range(0, len(rows), step):
                chunk = rows[start:start + step]
                together = many_rows(sql, len(chunk)) if len(chunk) > 1 else None
                if together is None:
                    for row in chunk:
                        self._hold(sql, row)
                else:
                    self._hold(together, [value for row in chunk for value in row])
            return -1  # (held: not known yet; no caller within rows_together asks)
        self._send_held(count=True)
        with self._connection().cursor() as cur:
            cur.executemany(translate(sql), [[_clean(v) for v in row] for row in rows])
            return cur.rowcount

    def spool_finish_many(self, finished: Sequence[tuple[int, str, datetime, str | None,
                                                         int | None]]) -> None:
        """As :meth:`SpoolQueries.spool_finish_many`, in one statement (the rows' values as
        arrays): the server runs one UPDATE for the group, not one a row."""
        if len(finished) < 2:
            super().spool_finish_many(finished)
            return
        self._x("UPDATE spool SET state = v.state, processed_at = v.processed_at,"
                " message_id = v.message_id, ticket_id = v.ticket_id, reason = NULL,"
                " claimed_by = NULL, lease_until = NULL"
                " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[])"
                " AS v (id, state, processed_at, message_id, ticket_id) WHERE spool.id = v.id",
                ([f[0] for f in finished], [f[1] for f in finished],
                 [to_db(f[2]) for f in finished], [f[3] for f in finished],
                 [f[4] for f in finished]))

    def _sync_sequence(self, table: str) -> None:
        self._x(f"SELECT setval(pg_get_serial_sequence(?, 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table}), 1),"
                f" (SELECT COUNT(*) > 0 FROM {table}))", (table,)).fetchall()

    def _lock_key(self, key: str) -> None:
        """Inside a transaction, held (``HOLDABLE``): sent with the statement it protects,
        in one round trip; still two statements, so that statement's snapshot is taken once
        the lock is granted and sees what its last holder committed."""
        cur = self._x("SELECT pg_advisory_xact_lock(?)", (lock_id(key),))
        if not self._depth:
            cur.fetchall()

    def _add_spool_row(self, values: Sequence[Any], raw: bytes) -> int:
        """One round trip a mail on intake, not two."""
        spool_id = self._insert(self.SPOOL_WITH_RAW, (*values, raw))
        assert spool_id is not None
        return spool_id

    def queue_outgoing(self, *, ticket_id: int, message_id: str, kind: str, mail_from: str,
                       rcpt_tos: Sequence[str], raw: bytes, now: datetime,
                       from_name: str | None, to_addrs: Sequence[str],
                       cc_addrs: Sequence[str], subject: str, body_text: str,
                       in_reply_to: str | None) -> int:
        """As :meth:`MessageQueries.queue_outgoing`, in one round trip, not two (the outbox
        row in a data-modifying WITH, its id read by the message row's INSERT)."""
        self._settle()
        self._unstored.discard(message_id)
        message = list(message_values(
            ticket_id=ticket_id, message_id=message_id, direction="out", kind=kind, now=now,
            from_addr=mail_from, from_name=from_name, to_addrs=to_addrs, cc_addrs=cc_addrs,
            date=now, subject=subject, body_text=body_text, in_reply_to=in_reply_to))
        del message[MESSAGE_COLUMNS.index("outbox_id")]
        outbox_id = self._insert(self.QUEUE_WITH_MESSAGE, (*outbox_values(
            ticket_id, message_id, kind, mail_from, rcpt_tos, raw, now), *message))
        if outbox_id is None:  # the message row was not written: rolled back by the caller
            raise DuplicateMessageError(message_id)
        return outbox_id

    def spool_claim(self, node: str, now: datetime, lease_until: datetime, limit: int,
                    only: int | None = None) -> list[SpoolItem]:
        """As :meth:`SpoolQueries.spool_claim`, in one statement: the rows are chosen
        (``FOR UPDATE SKIP LOCKED``) and claimed by the same UPDATE, so a claim costs two
        round trips with its COMMIT, not three. A first row claimed before is claimed
        alone, as there."""
        where, params = ("", []) if only is None else (" AND id = ?", [only])
        with self.transaction():
            rows = self._x(
                # (MATERIALIZED: the rows are chosen and locked once, whoever reads them)
                "WITH c AS MATERIALIZED (SELECT id, attempts FROM spool WHERE state = 'new'"
                f" AND (lease_until IS NULL OR lease_until < ?){where} ORDER BY id LIMIT ?"
                f"{self.SKIP_LOCKED}), f AS (SELECT id, attempts FROM c ORDER BY id LIMIT 1)"
                " UPDATE spool SET claimed_by = ?, lease_until = ?,"
                " attempts = spool.attempts + 1 FROM c WHERE spool.id = c.id"
                " AND ((SELECT attempts FROM f) = 0 OR spool.id = (SELECT id FROM f))"
                " RETURNING spool.id, spool.received_at, spool.channel, spool.source,"
                " spool.mail_from, spool.rcpt_tos, spool.size, spool.attempts",
                (to_db(now), *params, limit, node, to_db(lease_until))).fetchall()
        return [spool_item(r) for r in sorted(rows)]

    def spool_add_many(self, mails: Sequence[tuple[bytes, dict[str, Any]]]) -> list[int]:
        """As :meth:`SpoolQueries.spool_add_many`; the rows go in one round trip (pipeline
        mode), not one each: the spooler's group costs two round trips with its COMMIT."""
        if not self._depth or len(mails) < 2:
            return super().spool_add_many(mails)
        self.statements += 1
        laters = [self._hold(self.SPOOL_WITH_RAW, (*spool_values(raw, **fields), raw))
                  for raw, fields in mails]
        self._send_held()
        return [int(later.fetchall()[0][0]) for later in laters]

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
