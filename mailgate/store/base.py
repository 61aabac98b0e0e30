"""The store's core: one connection, its transactions and the helpers every query uses.

The store: every SQL statement mailgate runs lives in this package, written
once in the SQL that SQLite and PostgreSQL share, with ``?`` placeholders.
:class:`StoreBase` (here) runs statements and transactions and applies the
migrations; the queries are grouped by table in mixins built on it
(``spool.py``, ``tickets.py``, ``messages.py``, ``outbox.py``, ``sla.py``,
``imap.py``, ``claims.py``, ``bulk.py``, ``privacy.py``), composed into ``Store``
(``facade.py``). The backends (``sqlite.py``, ``postgres.py``) add only what
differs: how a connection is made, the placeholder style, how a transaction
begins, how claims skip rows another node holds, how ids are reserved and how
driver errors map to ours.

One ``Store`` wraps one connection and belongs to one thread (the SMTP group
committer, the processor, the sender and the CLI each open their own).

Transactions are explicit: ``with store.transaction():`` begins (SQLite:
``BEGIN IMMEDIATE``, the write lock up front, so a transaction never fails
half-way on a lock upgrade; PostgreSQL: ``BEGIN``, read committed) and
commits once at the end. Methods that write must be called inside one. Every
database failure that may pass (lock held too long, disk full, read-only
file, serialization failure, deadlock, connection lost) surfaces as
``StoreError``, a ``TransientError``: intake answers 451 / exit 75 and
nothing is half-written.

Work is claimed with a lease (``claimed_by``, ``lease_until``) rather than
assumed, so the same queries serve several daemons sharing one database. On
PostgreSQL, where several nodes write at once, three more rules hold:

- claims select their rows ``FOR UPDATE SKIP LOCKED``: two nodes claiming at
  the same instant get disjoint rows and neither waits;
- a ticket read inside a transaction is locked (``FOR NO KEY UPDATE``) until
  the commit, so work on one ticket is serialised across nodes as SQLite's write
  lock serialises it on one host; always take the ticket before its
  dependent rows (clocks, reminders) to keep the lock order;
- decisions that depend on the absence of a row (the open ticket of an alert
  key, the duplicate report of a requester) take a transaction-scoped
  advisory lock on that key first, so two nodes cannot both decide "none".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mailgate import clock
from mailgate.clock import to_db
from mailgate.errors import SchemaError, StoreError
from mailgate.store.schema import LATEST, MIGRATIONS, statements


class DuplicateMessageError(Exception):
    """A message with this Message-ID is already stored (raised inside a transaction)."""


class IntegrityViolation(Exception):
    """A constraint of the schema refused a write (a bug or a race the caller handles)."""


class Cursor(Protocol):
    """What both drivers' cursors offer (DB-API)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


def chunked(items: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` without repeats, ``size`` at a time: an ``IN (...)`` list stays short."""
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


class StoreBase:
    """One connection: transactions, savepoints, statement helpers and migrations.

    The query groups build on these helpers (``_x``, ``_many``, ``_insert``); a backend
    fills in the hooks below. See the module docstring for the rules.
    """

    dialect: ClassVar[str] = ""
    #: how a write transaction begins
    BEGIN: ClassVar[str] = "BEGIN"
    #: appended to the row selection of a claim
    SKIP_LOCKED: ClassVar[str] = ""
    #: appended to a ticket read inside a transaction
    LOCK_ROW: ClassVar[str] = ""
    #: round trips to the database this connection made (BEGIN and COMMIT included; two
    #: statements sent together count once): the benchmark's statements per mail
    statements: int = 0

    def __init__(self) -> None:
        self._depth = 0
        self._relaxed = False
        # rows kept by ``_insert_later`` inside ``rows_together``: INSERT text -> its rows
        self._later: dict[str, list[Sequence[Any]]] | None = None
        self._later_tables: set[str] = set()
        # statement text -> whether it names one of _later_tables (the set only grows
        # within rows_together, which forgets this when it grows or ends)
        self._naming: dict[str, bool] = {}
        # what a transaction read ahead for its later statements, forgotten when it ends:
        # Message-IDs known not to be stored (``MessageQueries.note_unstored``), automatic
        # mail queued to some addresses since ``_auto_since`` (``OutboxQueries.note_auto_replies``)
        self._unstored: set[str] = set()
        self._auto_sent: dict[str, list[str]] = {}
        self._auto_since = ""

    def _begin(self) -> None:
        """Start a transaction (a backend may wait for the write lock its own way, or
        set up a relaxed connection's transaction in the same round trip)."""
        self._execute(self.BEGIN, ())

    def leave_checkpoints(self) -> None:
        """Leave copying the write-ahead log back into the database to other connections
        (the sender's): for the writers whose commits someone waits for, the spooler (its
        sessions' ``250``) and the processors (a waiting spooler, and the processors' own
        pace, the daemon's bottleneck). A backend without such a log needs nothing."""

    def writer_turn(self) -> None:
        """Called by a writer between two of its transactions; a backend with one lock for
        the whole database lets a waiting writer go first (row locks need nothing)."""

    def writer_waiting(self) -> bool:
        """Whether another writer waits for the write lock this connection's transaction
        holds (a backend with one lock for the whole database; row locks: never)."""
        return False

    def take_turns(self) -> None:
        """Make this connection's write transactions take turns with those of the other
        connections that called this (the processor processes of one daemon): a backend with
        one lock for the whole database has them wait for each other asleep, instead of
        each retrying for the lock while the other holds it (row locks need nothing)."""

    def _end_transaction(self) -> None:
        """Called once the outermost transaction has ended, committed or not."""

    def synced_with(self, folder: Path) -> bool:
        """True when syncing ``folder``'s filesystem (``syncfs``) also makes this store's
        commits durable: an SQLite file on that same filesystem. False for a server."""
        return False

    def relax_durability(self) -> None:
        """Commit this connection's transactions without waiting for the disk.

        Only for a connection that writes state derived from rows already durable: the
        processor (tickets, messages, the acknowledgement in the outbox, the spool row's
        state). The log is written in order, so every later durable commit (the spooler's
        next group, the sender's claim before it sends anything) makes these durable too:
        a power cut can only undo processing whose mail is still ``new`` in the spool and
        whose acknowledgement was never claimed for sending, and it is simply done again.
        Saves the processor an fsync per message (SQLite ``synchronous = NORMAL``,
        PostgreSQL ``synchronous_commit = off`` for its transactions).
        """
        self._relaxed = True

    # -- what a backend provides ---------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        """Run one statement written with ``?`` placeholders; driver errors pass through."""
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> str | None:
        """``"integrity"`` for a constraint violation, ``"error"`` for any other driver
        error, None for an exception that is not the driver's."""
        raise NotImplementedError

    def _lock_key(self, key: str) -> None:
        """Hold a lock on ``key`` until the transaction ends (no-op with one writer)."""

    def _rows_under_lock(self, key: str, sql: str, params: Sequence[Any]) -> list[Any]:
        """``_lock_key(key)`` (inside a transaction), then the rows of a query whose answer
        the lock protects; a backend may send both in one round trip."""
        if self._depth:
            self._lock_key(key)
        return self._x(sql, params).fetchall()

    def _reserve_id(self, table: str) -> int | None:
        """The next id of ``table`` taken from its sequence, or None to let INSERT pick."""
        return None

    def _has_table(self, name: str) -> bool:
        return name in self.tables()

    def tables(self) -> list[str]:
        """The names of the tables in the database."""
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for each row; return the rows it changed."""
        raise NotImplementedError

    def _sync_sequence(self, table: str) -> None:
        """Move ``table``'s id sequence past its largest id (after rows were copied in)."""

    def _before_transaction(self) -> None:
        """Called before BEGIN: a backend may replace a lost connection here."""

    def close(self) -> None:
        """Give the connection back (SQLite: close it; PostgreSQL: return it to the pool)."""
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        if not self._has_table("schema_migrations"):
            return 0
        row = self._x("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return the versions applied.

        Refuses (``SchemaError``) a database whose schema is newer than this code: an
        older node must not write to tables it does not know the shape of.
        """
        applied: list[int] = []
        with self.transaction():
            self._lock_key("mailgate:migrate")
            self._x("CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, title TEXT NOT NULL, applied_at TEXT NOT NULL)")
            self._check_not_newer()
        for version, title, _sql in MIGRATIONS:
            with self.transaction():
                # Two nodes starting at once: the second waits here for the first's
                # migration, then sees it applied and skips it.
                self._lock_key("mailgate:migrate")
                if self._x("SELECT 1 FROM schema_migrations WHERE version = ?",
                           (version,)).fetchone():
                    continue
                for statement in statements(version, self.dialect):
                    self._x(statement)
                self._x("INSERT INTO schema_migrations (version, title, applied_at)"
                        " VALUES (?, ?, ?)", (version, title, to_db(clock.now())))
                applied.append(version)
        return applied

    def _check_not_newer(self) -> None:
        row = self._x("SELECT MAX(version) FROM schema_migrations").fetchone()
        found = int(row[0] or 0)
        if found > LATEST:
            raise SchemaError(
                f"the database schema is at version {found}, newer than this mailgate knows "
                f"({LATEST}): another node was upgraded; upgrade mailgate here too")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested use joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._before_transaction()
        self.statements += 1
        try:
            self._begin()
        except Exception as exc:
            if self._classify(exc) is None:
                raise
            raise StoreError(f"database busy or unavailable: {exc}") from exc
        self._depth = 1
        try:
            yield
            self._x("COMMIT")
        except BaseException as exc:
            self._rollback()
            kind = self._classify(exc)
            if kind == "error":
                raise StoreError(f"database error: {exc}") from exc
            if kind == "integrity":
                raise IntegrityViolation(str(exc)) from exc
            raise
        finally:
            self._depth = 0
            self._forget_read_ahead()
            self._end_transaction()
        if not self._relaxed:
            self._make_durable()

    def _forget_read_ahead(self) -> None:
        """Drop what was read ahead (the transaction ended, or a savepoint was rolled back:
        an automatic mail counted in it was never queued)."""
        self._unstored.clear()
        self._auto_sent.clear()
        self._auto_since = ""

    def _answer_later(self, sql: str, params: Sequence[Any],
                      use: Callable[[list[Any]], None]) -> None:
        """Run a query whose answer is needed only later: ``use`` gets its rows before
        anything reads what it fills in (``_settle``). Here at once; a backend may send the
        query with the next statement that needs an answer."""
        use(self._x(sql, params).fetchall())

    def _settle(self) -> None:
        """Hand the queries of ``_answer_later`` their rows, if that is still to do."""

    def _make_durable(self) -> None:
        """After a COMMIT, with the write lock already released: make the transaction
        durable, if the backend's COMMIT did not (see SqliteStore)."""

    def _rollback(self) -> None:
        with suppress(Exception):  # the connection may be gone, and the transaction with it
            self._execute("ROLLBACK", ())

    @contextmanager
    def savepoint(self, name: str = "item") -> Iterator[None]:
        """A nested unit inside a transaction: roll back just this part on error."""
        self._write_later()
        self._x(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self._later:
                self._later.clear()  # (kept since the savepoint began: rolled back with it)
            self._settle()
            self._forget_read_ahead()
            self._x(f"ROLLBACK TO SAVEPOINT {name}")
            self._x(f"RELEASE SAVEPOINT {name}")
            raise
        self._write_later()
        self._x(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def rows_together(self) -> Iterator[None]:
        """Inside a transaction: the rows ``_insert_later`` is given (a message's events, 3
        for a new ticket) are written by one statement (``executemany``) for each INSERT,
        when the block ends, before any statement that names their table, and at the edges
        of a savepoint (rolled back with it); an error drops them, as the caller's rollback
        would."""
        if self._later is not None:
            yield
            return
        self._later = {}
        try:
            yield
            self._write_later()
        finally:
            self._later = None
            self._later_tables.clear()
            self._naming.clear()

    def _insert_later(self, sql: str, params: Sequence[Any]) -> None:
        """``_x(sql, params)`` for an INSERT without a result, now or within ``rows_together``
        with the rows of the same statement."""
        if self._later is None:
            self._x(sql, params)
            return
        rows = self._later.get(sql)
        if rows is None:
            rows = self._later[sql] = []
            table = sql.split(None, 3)[2]  # INSERT INTO <table>
            if table not in self._later_tables:
                self._later_tables.add(table)
                self._naming.clear()
        rows.append(params)

    def _insert_many_later(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``_many(sql, rows)``, now or within ``rows_together`` with the rows of the same
        statement."""
        if self._later is None:
            self._many(sql, rows)
            return
        for params in rows:
            self._insert_later(sql, params)

    def _write_later(self) -> None:
        if self._later:
            later = list(self._later.items())
            self._later.clear()
            for sql, rows in later:
                self.statements += 1
                self._many(sql, rows)

    def _message_ids_in(self, table: str, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` rows of ``table`` (spool, messages) carry, 500 at a time."""
        assert table in ("spool", "messages")
        found: set[str] = set()
        for chunk in chunked(message_ids):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._x(
                f"SELECT message_id FROM {table} WHERE message_id IN ({marks})", chunk))
        return found

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement; a constraint violation is ``IntegrityViolation``, any other
        driver error ``StoreError``."""
        if self._later and self._names_later(sql):
            self._write_later()  # (a statement that may read or change those rows)
        self.statements += 1
        try:
            return self._execute(sql, params)
        except Exception as exc:
            self._raise_mapped(exc)
            raise

    def _names_later(self, sql: str) -> bool:
        """Whether ``sql`` names a table some of whose rows are kept for later (remembered
        per statement text: a group's statements are the same few dozen texts)."""
        found = self._naming.get(sql)
        if found is None:
            found = any(table in sql for table in self._later_tables)
            if len(self._naming) < 1024:
                self._naming[sql] = found
        return found

    def _raise_mapped(self, exc: Exception) -> None:
        """Raise the store's own error for a driver error (returns for anything else)."""
        kind = self._classify(exc)
        if kind == "integrity":
            raise IntegrityViolation(str(exc)) from exc
        if kind == "error":
            raise StoreError(f"database error: {exc}") from exc

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """``_x`` for many rows at once (bulk copies); the rows changed."""
        if not rows:
            return 0
        try:
            return self._execute_many(sql, rows)
        except Exception as exc:
            self._raise_mapped(exc)
            raise

    def _insert(self, sql: str, params: Sequence[Any]) -> int | None:
        """Run an ``INSERT ... RETURNING id``; the new id, or None if nothing was inserted."""
        rows = self._x(sql, params).fetchall()  # fetch all: SQLite finishes the statement
        return int(rows[0][0]) if rows else None

    def ping(self) -> None:
        """Raise StoreError if the database cannot be read."""
        self._x("SELECT 1").fetchone()

    def _locking(self) -> str:
        """The row lock a ticket read takes: only inside a transaction (see module docstring)."""
        return self.LOCK_ROW if self._depth else ""
