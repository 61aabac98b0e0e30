"""The store: every SQL statement mailgate runs lives in this package.

``Store`` holds every query, written once in the SQL that SQLite and
PostgreSQL share, with ``?`` placeholders. The backends (``sqlite.py``,
``postgres.py``) add only what differs: how a connection is made, the
placeholder style, how a transaction begins, how claims skip rows another
node holds, how ids are reserved and how driver errors map to ours.

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

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mailgate import clock
from mailgate.clock import from_db, to_db
from mailgate.errors import NotFoundError, SchemaError, StoreError
from mailgate.store import schema
from mailgate.store.rows import OutboxItem, SpoolItem, Ticket


class DuplicateMessageError(Exception):
    """A message with this Message-ID is already stored (raised inside a transaction)."""


class IntegrityViolation(Exception):
    """A constraint of the schema refused a write (a bug or a race the caller handles)."""


class Cursor(Protocol):
    """What both drivers' cursors offer (DB-API)."""

    rowcount: int
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


_TICKET_COLUMNS = (
    "id, reference, status, subject, requester, requester_name, sla_level, "
    "first_response_due, merged_into, created_at, updated_at, closed_at"
)


# The plain ticket columns callers may set (create_ticket, touch_ticket).
_TICKET_FIELDS = frozenset({
    "status", "subject", "sla_level", "first_response_due", "first_response_at", "closed_at",
    "resolution_due", "assignee", "priority", "category", "queue", "merged_into", "language",
    "correlation_key"})


def _ticket(row: Sequence[Any]) -> Ticket:
    return Ticket(
        id=row[0], reference=row[1], status=row[2], subject=row[3], requester=row[4],
        requester_name=row[5], sla_level=row[6], first_response_due=from_db(row[7]),
        merged_into=row[8], created_at=from_db(row[9]), updated_at=from_db(row[10]),
        closed_at=from_db(row[11]),
    )


class Store:
    """Typed access to the database; see the module docstring for the rules.

    ``Store.open(path)`` opens an SQLite database (the embedded default);
    ``mailgate.store.open_store(config)`` opens whichever ``[store] url`` names.
    """

    dialect: ClassVar[str] = ""
    #: how a write transaction begins
    BEGIN: ClassVar[str] = "BEGIN"
    #: run after BEGIN when ``relax_durability`` was called (None: nothing per transaction)
    RELAXED_COMMIT: ClassVar[str | None] = None
    #: appended to the row selection of a claim
    SKIP_LOCKED: ClassVar[str] = ""
    #: appended to a ticket read inside a transaction
    LOCK_ROW: ClassVar[str] = ""

    def __init__(self) -> None:
        self._depth = 0
        self._relaxed = False

    def _begin(self) -> None:
        """Start a transaction (a backend may wait for the write lock its own way)."""
        self._execute(self.BEGIN, ())

    def writer_turn(self) -> None:
        """Called by a writer between two of its transactions; a backend with one lock for
        the whole database lets a waiting writer go first (row locks need nothing)."""

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
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = 5.0, migrate: bool = True,
             ) -> Store:
        """Open (and by default create or upgrade) the SQLite database at ``path``."""
        from mailgate.store.sqlite import SqliteStore

        return SqliteStore.open_path(path, busy_timeout=busy_timeout, migrate=migrate)

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
        for version, title, _sql in schema.MIGRATIONS:
            with self.transaction():
                # Two nodes starting at once: the second waits here for the first's
                # migration, then sees it applied and skips it.
                self._lock_key("mailgate:migrate")
                if self._x("SELECT 1 FROM schema_migrations WHERE version = ?",
                           (version,)).fetchone():
                    continue
                for statement in schema.statements(version, self.dialect):
                    self._x(statement)
                self._x("INSERT INTO schema_migrations (version, title, applied_at)"
                        " VALUES (?, ?, ?)", (version, title, to_db(clock.now())))
                applied.append(version)
        return applied

    def _check_not_newer(self) -> None:
        row = self._x("SELECT MAX(version) FROM schema_migrations").fetchone()
        found = int(row[0] or 0)
        if found > schema.LATEST:
            raise SchemaError(
                f"the database schema is at version {found}, newer than this mailgate knows "
                f"({schema.LATEST}): another node was upgraded; upgrade mailgate here too")

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
        try:
            self._begin()
        except Exception as exc:
            if self._classify(exc) is None:
                raise
            raise StoreError(f"database busy or unavailable: {exc}") from exc
        self._depth = 1
        try:
            if self._relaxed and self.RELAXED_COMMIT:
                self._x(self.RELAXED_COMMIT)
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
        if not self._relaxed:
            self._make_durable()

    def _make_durable(self) -> None:
        """After a COMMIT, with the write lock already released: make the transaction
        durable, if the backend's COMMIT did not (see SqliteStore)."""

    def _rollback(self) -> None:
        with suppress(Exception):  # the connection may be gone, and the transaction with it
            self._execute("ROLLBACK", ())

    @contextmanager
    def savepoint(self, name: str = "item") -> Iterator[None]:
        """A nested unit inside a transaction: roll back just this part on error."""
        self._x(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._x(f"ROLLBACK TO SAVEPOINT {name}")
            self._x(f"RELEASE SAVEPOINT {name}")
            raise
        self._x(f"RELEASE SAVEPOINT {name}")

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement; a constraint violation is ``IntegrityViolation``, any other
        driver error ``StoreError``."""
        try:
            return self._execute(sql, params)
        except Exception as exc:
            self._raise_mapped(exc)
            raise

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

    # -- spool ---------------------------------------------------------------

    def spool_add(
        self, raw: bytes, *, channel: str, received_at: datetime, source: str | None = None,
        mail_from: str | None = None, rcpt_tos: Iterable[str] = (), state: str = "new",
        reason: str | None = None,
    ) -> int:
        """Append one raw message to the spool (inside a transaction)."""
        spool_id = self._insert(
            "INSERT INTO spool (received_at, channel, source, mail_from, rcpt_tos, raw, size,"
            " state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (to_db(received_at), channel, source, mail_from, json.dumps(list(rcpt_tos)),
             raw, len(raw), state, reason),
        )
        assert spool_id is not None
        return spool_id

    def spool_claim(self, node: str, now: datetime, lease_until: datetime, limit: int,
                    only: int | None = None) -> list[SpoolItem]:
        """Claim up to ``limit`` unprocessed rows (oldest first, or just row ``only``).

        Each claim counts an attempt. A row that was claimed before and never finished
        (a crash, or a hang past its lease) is claimed alone, so that a message which
        crashes the daemon is charged for its own attempts and not its batch-mates'.
        """
        with self.transaction():
            where, params = ("", []) if only is None else (" AND id = ?", [only])
            rows = self._x(
                "SELECT id, attempts FROM spool WHERE state = 'new'"
                f" AND (lease_until IS NULL OR lease_until < ?){where} ORDER BY id LIMIT ?"
                f"{self.SKIP_LOCKED}",
                (to_db(now), *params, limit),
            ).fetchall()
            if rows and rows[0][1] > 0:
                rows = rows[:1]
            ids = [r[0] for r in rows]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(
                f"UPDATE spool SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
                f" WHERE id IN ({marks})",
                (node, to_db(lease_until), *ids),
            )
            rows = self._x(
                f"SELECT id, received_at, channel, source, mail_from, rcpt_tos, size, attempts"
                f" FROM spool WHERE id IN ({marks}) ORDER BY id", ids,
            ).fetchall()
        return [
            SpoolItem(id=r[0], received_at=from_db(r[1]), channel=r[2], source=r[3],
                      mail_from=r[4], rcpt_tos=json.loads(r[5]), size=r[6], attempts=r[7])
            for r in rows
        ]

    def spool_raw(self, spool_id: int) -> bytes:
        row = self._x("SELECT raw FROM spool WHERE id = ?", (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return bytes(row[0])

    def spool_finish(self, spool_id: int, *, state: str, now: datetime,
                     message_id: str | None = None, ticket_id: int | None = None,
                     reason: str | None = None) -> None:
        """Record the outcome of processing one spool row (inside a transaction)."""
        self._x(
            "UPDATE spool SET state = ?, processed_at = ?, message_id = ?, ticket_id = ?,"
            " reason = ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
            (state, to_db(now), message_id, ticket_id, reason, spool_id),
        )

    def spool_state(self, spool_id: int) -> str:
        row = self._x("SELECT state FROM spool WHERE id = ?", (spool_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no spool row {spool_id}")
        return str(row[0])

    def spool_release(self, node: str) -> None:
        """Give back this node's unfinished claims (clean shutdown)."""
        with self.transaction():
            self._x("UPDATE spool SET claimed_by = NULL, lease_until = NULL,"
                    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                    " WHERE claimed_by = ? AND state = 'new'",
                    (node,))

    def spool_counts(self) -> dict[str, int]:
        return dict(self._x("SELECT state, COUNT(*) FROM spool GROUP BY state").fetchall())

    def quarantine(self) -> list[dict[str, Any]]:
        """Rows that could not be processed, with their reason."""
        cur = self._x(
            "SELECT id, received_at, channel, mail_from, size, reason, message_id FROM spool"
            " WHERE state = 'quarantined' ORDER BY id"
        )
        keys = ("id", "received_at", "channel", "mail_from", "size", "reason", "message_id")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def spool_requeue(self, spool_id: int) -> None:
        """Put a quarantined row back in the queue (after a fix)."""
        with self.transaction():
            cur = self._x("UPDATE spool SET state = 'new', attempts = 0, reason = NULL,"
                          " claimed_by = NULL, lease_until = NULL"
                          " WHERE id = ? AND state = 'quarantined'", (spool_id,))
            if cur.rowcount != 1:
                raise NotFoundError(f"no quarantined message {spool_id}")

    # -- tickets and messages --------------------------------------------------

    def create_ticket(self, *, reference_of: Any, status: str, subject: str, requester: str,
                      requester_name: str | None, sla_level: str | None,
                      now: datetime, first_response_due: datetime | None = None,
                      **fields: Any) -> Ticket:
        """Insert a ticket; ``reference_of(id)`` turns the sequence number into its reference.

        ``fields``: more of the plain columns ``touch_ticket`` sets, written by the same
        INSERT. The Ticket returned is built from the values written (no read back)."""
        bad = set(fields) - _TICKET_FIELDS
        if bad:
            raise ValueError(f"not a ticket column: {sorted(bad)}")
        extra = {k: to_db(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        values = (status, subject, requester, requester_name, sla_level,
                  to_db(first_response_due), to_db(now), to_db(now), *extra.values())
        columns = ", ".join(["status", "subject", "requester", "requester_name", "sla_level",
                             "first_response_due", "created_at", "updated_at", *extra])
        marks = ", ".join("?" * len(values))
        reserved = self._reserve_id("tickets")
        if reserved is not None:  # the number known first: one INSERT, no placeholder
            ticket_id, reference = reserved, reference_of(reserved)
            self._x(f"INSERT INTO tickets (id, reference, {columns}) VALUES (?, ?, {marks})",
                    (ticket_id, reference, *values))
        else:
            inserted = self._insert(f"INSERT INTO tickets (reference, {columns})"
                                    f" VALUES ('', {marks}) RETURNING id", values)
            assert inserted is not None
            ticket_id, reference = inserted, reference_of(inserted)
            self._x("UPDATE tickets SET reference = ? WHERE id = ?", (reference, ticket_id))
        due, at = first_response_due, now.astimezone(UTC)  # as from_db reads them back
        return Ticket(id=ticket_id, reference=reference, status=status, subject=subject,
                      requester=requester, requester_name=requester_name, sla_level=sla_level,
                      first_response_due=due.astimezone(UTC) if due else None,
                      merged_into=None, created_at=at, updated_at=at, closed_at=None)

    def _locking(self) -> str:
        return self.LOCK_ROW if self._depth else ""

    def ticket(self, ticket_id: int) -> Ticket:
        """The ticket; inside a transaction it stays locked to it (see the module docstring)."""
        row = self._x(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = ?{self._locking()}",
                      (ticket_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        return _ticket(row)

    def ticket_by_reference(self, reference: str) -> Ticket:
        row = self._x(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE reference = ?"
                      f"{self._locking()}", (reference.upper(),)).fetchone()
        if row is None:
            raise NotFoundError(f"no ticket {reference}")
        return _ticket(row)

    def live_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket, following merges to the survivor; None if there is none."""
        seen: set[int] = set()
        while ticket_id not in seen:
            seen.add(ticket_id)
            try:
                ticket = self.ticket(ticket_id)
            except NotFoundError:
                return None
            if ticket.merged_into is None:
                return ticket
            ticket_id = ticket.merged_into
        return None

    def ticket_of_message_ids(self, message_ids: Sequence[str]) -> tuple[int, str] | None:
        """The ticket holding the most recent of ``message_ids`` (ours or theirs)."""
        if not message_ids:
            return None
        marks = ",".join("?" * len(message_ids))
        row = self._x(
            f"SELECT ticket_id, message_id FROM messages WHERE message_id IN ({marks})"
            f" ORDER BY id DESC LIMIT 1", list(message_ids),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def message_exists(self, message_id: str) -> tuple[int, str] | None:
        """(ticket id, direction) of a stored message with this Message-ID, else None."""
        row = self._x("SELECT ticket_id, direction FROM messages WHERE message_id = ?",
                      (message_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def add_message(self, *, ticket_id: int, message_id: str, direction: str, kind: str,
                    now: datetime, spool_id: int | None = None, outbox_id: int | None = None,
                    from_addr: str | None = None, from_name: str | None = None,
                    to_addrs: Sequence[str] = (), cc_addrs: Sequence[str] = (),
                    date: datetime | None = None, subject: str | None = None,
                    body_text: str | None = None, in_reply_to: str | None = None) -> int:
        """Store one message of a ticket; raises DuplicateMessageError on a replay."""
        # ON CONFLICT instead of catching the violation: on PostgreSQL a violation aborts
        # the whole transaction. A concurrent insert of the same Message-ID by another
        # node makes this one wait for that node's commit, then insert nothing.
        row = self._insert(
            "INSERT INTO messages (ticket_id, message_id, direction, kind, spool_id,"
            " outbox_id, from_addr, from_name, to_addrs, cc_addrs, date, subject,"
            " body_text, in_reply_to, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING id",
            (ticket_id, message_id, direction, kind, spool_id, outbox_id, from_addr,
             from_name, json.dumps(list(to_addrs)), json.dumps(list(cc_addrs)),
             to_db(date), subject, body_text, in_reply_to, to_db(now)),
        )
        if row is None:
            raise DuplicateMessageError(message_id)
        return row

    def add_attachment(self, *, message_row: int, filename: str, content_type: str,
                       data: bytes, sha256: str) -> None:
        """Keep an attachment content-addressed: equal files are stored once."""
        self._x("INSERT INTO blobs (sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (sha256, data))
        self._x("INSERT INTO attachments (message_row, filename, content_type, size, sha256)"
                " VALUES (?, ?, ?, ?, ?)", (message_row, filename, content_type, len(data),
                                            sha256))

    def add_participant(self, ticket_id: int, address: str, name: str | None, role: str,
                        now: datetime) -> bool:
        """Add an address to a ticket; False if it was already there."""
        cur = self._x(
            "INSERT INTO participants (ticket_id, address, name, role, added_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ticket_id, address.lower(), name, role, to_db(now)),
        )
        return cur.rowcount == 1

    def remove_participant(self, ticket_id: int, address: str) -> bool:
        cur = self._x("DELETE FROM participants WHERE ticket_id = ? AND address = ?"
                      " AND role != 'requester'", (ticket_id, address.lower()))
        return cur.rowcount == 1

    def participants(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT address, name, role FROM participants WHERE ticket_id = ?"
                      " ORDER BY added_at, address", (ticket_id,))
        return [{"address": a, "name": n, "role": r} for a, n, r in cur]

    def touch_ticket(self, ticket_id: int, now: datetime, **fields: Any) -> None:
        """Update ``updated_at`` and any of the given plain columns."""
        bad = set(fields) - _TICKET_FIELDS
        if bad:
            raise ValueError(f"not a ticket column: {sorted(bad)}")
        values = {k: to_db(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        values["updated_at"] = to_db(now)
        assignments = ", ".join(f"{k} = ?" for k in values)
        self._x(f"UPDATE tickets SET {assignments} WHERE id = ?", (*values.values(), ticket_id))

    def add_event(self, ticket_id: int, kind: str, *, actor: str, now: datetime,
                  detail: str = "", message_id: str | None = None) -> None:
        self._x("INSERT INTO events (ticket_id, at, actor, kind, detail, message_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (ticket_id, to_db(now), actor, kind, detail, message_id))

    def record_auto_replies(self, addresses: Sequence[str], now: datetime) -> None:
        """Note automatic mail queued to ``addresses`` (what the loop cap counts)."""
        self._many("INSERT INTO auto_replies (address, sent_at) VALUES (?, ?)",
                   [(a.lower(), to_db(now)) for a in addresses])

    def count_auto_replies(self, address: str, since: datetime) -> int:
        """Automatic mail queued to ``address`` since ``since`` (an index range, no scan)."""
        row = self._x("SELECT COUNT(*) FROM auto_replies WHERE address = ? AND sent_at >= ?",
                      (address.lower(), to_db(since))).fetchone()
        return int(row[0])

    def prune_auto_replies(self, before: datetime) -> int:
        """Forget automatic mail older than the cap's window."""
        return self._x("DELETE FROM auto_replies WHERE sent_at < ?", (to_db(before),)).rowcount

    def thread_ids(self, ticket_id: int, limit: int = 20) -> list[str]:
        """The ticket's latest Message-IDs, oldest first (for References)."""
        rows = self._x("SELECT message_id FROM messages WHERE ticket_id = ?"
                       " ORDER BY id DESC LIMIT ?", (ticket_id, limit)).fetchall()
        return [r[0] for r in reversed(rows)]

    def latest_inbound(self, ticket_id: int, exclude: Sequence[str] = ()) -> str | None:
        """Message-ID of the ticket's newest incoming customer message."""
        for message_id, from_addr in self._x(
                "SELECT message_id, from_addr FROM messages WHERE ticket_id = ?"
                " AND direction = 'in' AND kind = 'customer' ORDER BY id DESC LIMIT 20",
                (ticket_id,)):
            if from_addr not in exclude:
                return str(message_id)
        return None

    def duplicate_candidates(self, *, requester: str | None, domain: str | None,
                             since: datetime) -> list[dict[str, Any]]:
        """Open tickets of a requester (or a domain) created since ``since``, with first text.

        Inside a transaction the requester (or domain) stays locked until the commit, so a
        report that arrives on two nodes at once is seen as a duplicate by the second.
        """
        if self._depth:
            self._lock_key(f"duplicates:{requester or domain}")
        if requester:
            where, param = "t.requester = ?", requester
        else:
            where, param = "t.requester LIKE ?", f"%@{domain}"
        cur = self._x(
            f"SELECT t.id, t.subject, (SELECT m.body_text FROM messages m WHERE m.ticket_id ="
            f" t.id AND m.direction = 'in' ORDER BY m.id LIMIT 1) FROM tickets t"
            f" WHERE {where} AND t.status != 'closed' AND t.merged_into IS NULL"
            f" AND t.created_at >= ? ORDER BY t.id DESC LIMIT 20", (param, to_db(since)),
        )
        return [{"id": i, "subject": s, "text": b or ""} for i, s, b in cur]

    def open_ticket_by_key(self, key: str) -> int | None:
        """The open ticket of an alert correlation key, if any.

        Inside a transaction the key stays locked until the commit, so two nodes handling
        alerts of one key at once cannot both open a ticket for it.
        """
        if self._depth:
            self._lock_key(f"alert:{key}")
        row = self._x("SELECT id FROM tickets WHERE correlation_key = ? AND status != 'closed'"
                      " AND merged_into IS NULL ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        return int(row[0]) if row else None

    def is_participant(self, ticket_id: int, address: str) -> bool:
        row = self._x("SELECT 1 FROM participants WHERE ticket_id = ? AND address = ?",
                      (ticket_id, address.lower())).fetchone()
        return row is not None

    def add_time(self, ticket_id: int, minutes: int) -> int:
        """Add logged work time (minutes) to a ticket; return the new total."""
        self._x("UPDATE tickets SET time_spent = time_spent + ? WHERE id = ?",
                (minutes, ticket_id))
        row = self._x("SELECT time_spent FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return int(row[0])

    # -- outbox ----------------------------------------------------------------

    def outbox_add(self, *, ticket_id: int | None, message_id: str, kind: str, mail_from: str,
                   rcpt_tos: Sequence[str], raw: bytes, now: datetime) -> int:
        outbox_id = self._insert(
            "INSERT INTO outbox (ticket_id, message_id, kind, mail_from, rcpt_tos, raw,"
            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ticket_id, message_id, kind, mail_from, json.dumps(list(rcpt_tos)), raw,
             to_db(now), to_db(now)),
        )
        assert outbox_id is not None
        return outbox_id

    def outbox_claim(self, node: str, now: datetime, lease_until: datetime, limit: int,
                     ) -> list[OutboxItem]:
        """Claim due mail, oldest first, never overtaking an earlier mail of the same ticket."""
        with self.transaction():
            ids = [r[0] for r in self._x(
                "SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
                " AND (o.lease_until IS NULL OR o.lease_until < ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.ticket_id = o.ticket_id"
                "   AND p.id < o.id AND p.state = 'pending')"
                f" ORDER BY o.id LIMIT ?{self.SKIP_LOCKED}",
                (to_db(now), to_db(now), limit),
            )]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(f"UPDATE outbox SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
                    f" WHERE id IN ({marks})", (node, to_db(lease_until), *ids))
            rows = self._x(
                f"SELECT id, ticket_id, message_id, kind, mail_from, rcpt_tos, attempts,"
                f" created_at FROM outbox WHERE id IN ({marks}) ORDER BY id", ids,
            ).fetchall()
        return [OutboxItem(id=r[0], ticket_id=r[1], message_id=r[2], kind=r[3], mail_from=r[4],
                           rcpt_tos=json.loads(r[5]), attempts=r[6], created_at=from_db(r[7]))
                for r in rows]

    def outbox_release(self, node: str) -> None:
        """Give back this node's unsent claims (clean shutdown)."""
        with self.transaction():
            self._x("UPDATE outbox SET claimed_by = NULL, lease_until = NULL,"
                    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                    " WHERE claimed_by = ? AND state = 'pending'",
                    (node,))

    def outbox_raw(self, outbox_id: int) -> bytes:
        row = self._x("SELECT raw FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no outbox row {outbox_id}")
        return bytes(row[0])

    def outbox_raws(self, outbox_ids: Sequence[int]) -> dict[int, bytes]:
        """The bytes of several outbox rows at once (a claimed batch)."""
        if not outbox_ids:
            return {}
        marks = ",".join("?" * len(outbox_ids))
        rows = self._x(f"SELECT id, raw FROM outbox WHERE id IN ({marks})", tuple(outbox_ids))
        return {int(r[0]): bytes(r[1]) for r in rows.fetchall()}

    def outbox_done(self, outbox_id: int, *, state: str, now: datetime,
                    error: str | None = None, next_attempt_at: datetime | None = None) -> None:
        """Record a send attempt: ``sent``, ``failed`` (for good) or ``pending`` (retry later)."""
        with self.transaction():
            self._x(
                "UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error),"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
                " next_attempt_at = COALESCE(?, next_attempt_at),"
                " claimed_by = NULL, lease_until = NULL WHERE id = ?",
                (state, error, state, to_db(now), to_db(next_attempt_at), outbox_id),
            )

    def outbox(self, states: Sequence[str] = ("pending", "failed")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        cur = self._x(
            f"SELECT o.id, t.reference, o.kind, o.rcpt_tos, o.state, o.attempts,"
            f" o.next_attempt_at, o.last_error, o.created_at, o.sent_at FROM outbox o"
            f" LEFT JOIN tickets t ON t.id = o.ticket_id WHERE o.state IN ({marks})"
            f" ORDER BY o.id", list(states),
        )
        keys = ("id", "ticket", "kind", "to", "state", "attempts", "next_attempt_at",
                "last_error", "created_at", "sent_at")
        out = [dict(zip(keys, r, strict=True)) for r in cur]
        for row in out:
            row["to"] = json.loads(row["to"])
        return out

    def outbox_retry(self, outbox_id: int | None, now: datetime) -> int:
        """Make failed mail (one row, or all when ``outbox_id`` is None) due again."""
        with self.transaction():
            where, params = ("state = 'failed'", []) if outbox_id is None else (
                "state IN ('failed', 'pending') AND id = ?", [outbox_id])
            cur = self._x(f"UPDATE outbox SET state = 'pending', next_attempt_at = ?,"
                          f" claimed_by = NULL, lease_until = NULL WHERE {where}",
                          [to_db(now), *params])
            return cur.rowcount

    # -- reads for the CLI -----------------------------------------------------

    def tickets(self, status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        cur = self._x(
            f"SELECT id, reference, status, subject, requester, sla_level, created_at,"
            f" updated_at, first_response_due, merged_into FROM tickets {where}"
            f" ORDER BY id DESC LIMIT ?", [*params, limit],
        )
        keys = ("id", "reference", "status", "subject", "requester", "sla_level", "created_at",
                "updated_at", "first_response_due", "merged_into")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def ticket_record(self, ticket_id: int) -> dict[str, Any]:
        cur = self._x("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def messages(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x(
            "SELECT id, message_id, direction, kind, from_addr, from_name, to_addrs, cc_addrs,"
            " date, subject, body_text, spool_id, outbox_id, created_at FROM messages"
            " WHERE ticket_id = ? ORDER BY id", (ticket_id,),
        )
        keys = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            item = dict(zip(keys, r, strict=True))
            item["to_addrs"] = json.loads(item["to_addrs"])
            item["cc_addrs"] = json.loads(item["cc_addrs"])
            out.append(item)
        return out

    def attachments(self, message_row: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT filename, content_type, size, sha256 FROM attachments"
                      " WHERE message_row = ? ORDER BY id", (message_row,))
        return [{"filename": f, "content_type": c, "size": s, "sha256": h} for f, c, s, h in cur]

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT at, actor, kind, detail, message_id FROM events"
                      " WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m}
                for a, ac, k, d, m in cur]

    # -- IMAP cursors ----------------------------------------------------------

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        row = self._x("SELECT uidvalidity, last_uid FROM imap_cursors"
                      " WHERE account = ? AND folder = ?", (account, folder)).fetchone()
        return (row[0], row[1]) if row else (None, 0)

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int,
                        now: datetime) -> None:
        with self.transaction():
            self._x(
                "INSERT INTO imap_cursors (account, folder, uidvalidity, last_uid, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET"
                " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
                " updated_at = excluded.updated_at",
                (account, folder, uidvalidity, last_uid, to_db(now)),
            )

    # -- SLA clocks and reminders --------------------------------------------------

    def set_ticket_fields(self, ticket_id: int, fields: dict[str, str], now: datetime) -> None:
        self._x("UPDATE tickets SET fields = ?, updated_at = ? WHERE id = ?",
                (json.dumps(fields, ensure_ascii=False), to_db(now), ticket_id))

    def clock(self, ticket_id: int, kind: str) -> dict[str, Any] | None:
        cur = self._x("SELECT * FROM sla_clocks WHERE ticket_id = ? AND kind = ?",
                      (ticket_id, kind))
        row = cur.fetchone()
        if row is None:
            return None
        record = dict(zip([d[0] for d in cur.description], row, strict=True))
        for key in ("started_at", "paused_at", "due_at", "stopped_at", "breached_at"):
            record[key] = from_db(record[key])
        return record

    def clocks(self, ticket_id: int) -> list[dict[str, Any]]:
        kinds = [r[0] for r in self._x("SELECT kind FROM sla_clocks WHERE ticket_id = ?"
                                       " ORDER BY kind", (ticket_id,))]
        return [c for c in (self.clock(ticket_id, k) for k in kinds) if c is not None]

    def save_clock(self, ticket_id: int, kind: str, **values: Any) -> None:
        """Insert or update one SLA clock of a ticket."""
        values = {k: to_db(v) if isinstance(v, datetime) else v for k, v in values.items()}
        updates = ", ".join(f"{k} = ?" for k in values)
        cur = self._x(f"UPDATE sla_clocks SET {updates} WHERE ticket_id = ? AND kind = ?",
                      (*values.values(), ticket_id, kind))
        if cur.rowcount == 0:
            columns = ", ".join(["ticket_id", "kind", *values])
            marks = ", ".join("?" * (len(values) + 2))
            self._x(f"INSERT INTO sla_clocks ({columns}) VALUES ({marks})",
                    (ticket_id, kind, *values.values()))

    def add_clock(self, ticket_id: int, kind: str, *, started_at: datetime,
                  due_at: datetime | None, reminders: Sequence[tuple[float, datetime]]) -> None:
        """A new ticket's running clock and its planned reminders (nothing to replace)."""
        self._x("INSERT INTO sla_clocks (ticket_id, kind, started_at, paused_seconds, due_at,"
                " state) VALUES (?, ?, ?, 0, ?, 'running')",
                (ticket_id, kind, to_db(started_at), to_db(due_at)))
        if due_at is not None and reminders:
            self._many("INSERT INTO reminders (ticket_id, kind, point, fire_at, due_at)"
                       " VALUES (?, ?, ?, ?, ?)",
                       [(ticket_id, kind, point, to_db(fire_at), to_db(due_at))
                        for point, fire_at in reminders])

    def open_clocks(self) -> list[tuple[int, str]]:
        """(ticket id, kind) of every clock still running or paused."""
        return [(r[0], r[1]) for r in self._x(
            "SELECT ticket_id, kind FROM sla_clocks WHERE state IN ('running', 'paused')")]

    def replace_reminders(self, ticket_id: int, kind: str,
                          plan: Sequence[tuple[float, datetime]], due_at: datetime | None,
                          ) -> None:
        """Drop the clock's pending reminders and plan ``plan`` (point, fire_at) afresh,
        skipping points that were already sent for the same deadline."""
        self._x("DELETE FROM reminders WHERE ticket_id = ? AND kind = ? AND state = 'pending'",
                (ticket_id, kind))
        if due_at is None:
            return
        sent = {r[0] for r in self._x(
            "SELECT point FROM reminders WHERE ticket_id = ? AND kind = ? AND state = 'sent'"
            " AND due_at = ?", (ticket_id, kind, to_db(due_at)))}
        for point, fire_at in plan:
            if point in sent:
                continue
            self._x("INSERT INTO reminders (ticket_id, kind, point, fire_at, due_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (ticket_id, kind, point, to_db(fire_at), to_db(due_at)))

    def claim_reminders(self, node: str, now: datetime, lease_until: datetime,
                        limit: int = 50) -> list[dict[str, Any]]:
        with self.transaction():
            ids = [r[0] for r in self._x(
                "SELECT id FROM reminders WHERE state = 'pending' AND fire_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY fire_at, id LIMIT ?"
                f"{self.SKIP_LOCKED}",
                (to_db(now), to_db(now), limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(f"UPDATE reminders SET claimed_by = ?, lease_until = ? WHERE id IN ({marks})",
                    (node, to_db(lease_until), *ids))
            cur = self._x(f"SELECT id, ticket_id, kind, point, fire_at, due_at FROM reminders"
                          f" WHERE id IN ({marks}) ORDER BY fire_at, id", ids)
            keys = ("id", "ticket_id", "kind", "point", "fire_at", "due_at")
            rows = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
        for row in rows:
            row["fire_at"], row["due_at"] = from_db(row["fire_at"]), from_db(row["due_at"])
        return rows

    def finish_reminder(self, reminder_id: int, state: str, now: datetime) -> bool:
        """Mark a claimed reminder sent or dropped; False if it was replanned meanwhile."""
        if self._depth and self.LOCK_ROW:  # the lock order: the ticket before its reminders
            self._x(f"SELECT id FROM tickets WHERE id = (SELECT ticket_id FROM reminders"
                    f" WHERE id = ?){self.LOCK_ROW}", (reminder_id,)).fetchall()
        cur = self._x("UPDATE reminders SET state = ?, sent_at = ?, claimed_by = NULL,"
                      " lease_until = NULL WHERE id = ? AND state = 'pending'",
                      (state, to_db(now), reminder_id))
        return cur.rowcount == 1

    def add_reminder(self, ticket_id: int, kind: str, point: float, fire_at: datetime,
                     due_at: datetime) -> None:
        self._x("INSERT INTO reminders (ticket_id, kind, point, fire_at, due_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (ticket_id, kind, point, to_db(fire_at), to_db(due_at)))

    def next_reminder_at(self) -> datetime | None:
        row = self._x("SELECT MIN(fire_at) FROM reminders WHERE state = 'pending'").fetchone()
        return from_db(row[0]) if row and row[0] else None

    def reminders(self, ticket_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE r.ticket_id = ?", [ticket_id]) if ticket_id else ("", [])
        cur = self._x(f"SELECT r.id, t.reference, r.kind, r.point, r.fire_at, r.due_at,"
                      f" r.state, r.sent_at FROM reminders r JOIN tickets t ON t.id = r.ticket_id"
                      f" {where} ORDER BY r.fire_at, r.id", params)
        keys = ("id", "ticket", "kind", "point", "fire_at", "due_at", "state", "sent_at")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def sla_report(self, now: datetime) -> list[dict[str, Any]]:
        """Clock counts per level and kind: met, breached, running, running past due."""
        cur = self._x(
            "SELECT t.sla_level, c.kind,"
            " SUM(CASE WHEN c.state = 'met' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state = 'breached' OR (c.state IN ('running', 'paused')"
            "   AND c.breached_at IS NOT NULL) THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state IN ('running', 'paused') THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN c.state = 'running' AND c.due_at < ? THEN 1 ELSE 0 END)"
            " FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id"
            " GROUP BY t.sla_level, c.kind ORDER BY t.sla_level, c.kind", (to_db(now),))
        keys = ("level", "kind", "met", "breached", "running", "overdue")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def forget_imap_cursor(self, account: str, folder: str) -> None:
        """Make the next round rescan the folder (dedupe keeps it idempotent)."""
        with self.transaction():
            self._x("DELETE FROM imap_cursors WHERE account = ? AND folder = ?",
                    (account, folder))

    # -- claims of dead processes -----------------------------------------------------

    _CLAIMED = ("spool", "outbox", "reminders", "imap_leases")

    def claimants(self) -> set[str]:
        """Every node name that holds a claim right now."""
        found: set[str] = set()
        for table in self._CLAIMED:
            found.update(r[0] for r in self._x(
                f"SELECT DISTINCT claimed_by FROM {table} WHERE claimed_by IS NOT NULL"))
        return found

    def release_claims(self, nodes: Sequence[str]) -> int:
        """Free the claims of nodes known to be dead (their attempts still count)."""
        if not nodes:
            return 0
        marks = ",".join("?" * len(nodes))
        released = 0
        with self.transaction():
            for table in self._CLAIMED:
                cur = self._x(f"UPDATE {table} SET claimed_by = NULL, lease_until = NULL"
                              f" WHERE claimed_by IN ({marks})", list(nodes))
                released += cur.rowcount
        return released

    # -- IMAP account leases ------------------------------------------------------------

    def imap_lease_take(self, account: str, node: str, now: datetime,
                        lease_until: datetime) -> str | None:
        """Take the lease on reading ``account``, or renew it, until ``lease_until``.

        Taken when it is free (never held, or given back), expired, or ``node``'s already;
        one statement, so two nodes asking at once cannot both get it. Returns the holder
        afterwards: ``node`` when taken or renewed, else the node that holds it.
        """
        with self.transaction():
            taken = self._x(
                "INSERT INTO imap_leases (account, claimed_by, lease_until, acquired_at,"
                " renewed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
                " claimed_by = excluded.claimed_by, lease_until = excluded.lease_until,"
                " acquired_at = CASE WHEN imap_leases.claimed_by = excluded.claimed_by"
                " THEN imap_leases.acquired_at ELSE excluded.acquired_at END,"
                " renewed_at = excluded.renewed_at"
                " WHERE imap_leases.claimed_by IS NULL OR imap_leases.claimed_by = ?"
                " OR imap_leases.lease_until IS NULL OR imap_leases.lease_until < ?"
                " RETURNING claimed_by",
                (account, node, to_db(lease_until), to_db(now), to_db(now), node, to_db(now)),
            ).fetchall()  # fetch all: SQLite finishes the statement
            if taken:
                return node
            row = self._x("SELECT claimed_by FROM imap_leases WHERE account = ?",
                          (account,)).fetchone()
        return row[0] if row else None

    def imap_lease_release(self, account: str, node: str) -> bool:
        """Give the lease on ``account`` back if ``node`` holds it (clean stop); True if so."""
        with self.transaction():
            cur = self._x("UPDATE imap_leases SET claimed_by = NULL, lease_until = NULL"
                          " WHERE account = ? AND claimed_by = ?", (account, node))
            return cur.rowcount == 1

    def imap_leases(self) -> list[dict[str, Any]]:
        """Every account's lease: holder (None when free), until, held since, last renewal."""
        cur = self._x("SELECT account, claimed_by, lease_until, acquired_at, renewed_at"
                      " FROM imap_leases ORDER BY account")
        return [{"account": a, "holder": h, "lease_until": from_db(u),
                 "acquired_at": from_db(s), "renewed_at": from_db(r)}
                for a, h, u, s, r in cur.fetchall()]
