"""Copy a whole database into another (SQLite into PostgreSQL, for scaling out).

Table by table in foreign-key order, in batches, each batch one transaction on the
target. Resumable: a table with an ``id`` continues after the largest id the target
already has; the others (``blobs``, ``participants``, ``sla_clocks``, ``imap_cursors``)
are keyed by their primary key and inserted with ``ON CONFLICT DO NOTHING``, so running
the copy again after an interruption finishes it without duplicating anything.
``tickets.merged_into`` may point to a later ticket, so it is set in a pass of its own
once every ticket is there. The target's id sequences are then moved past the copied
ids, and the row counts of every table are compared. IMAP leases are not copied (see
``NOT_COPIED``).

The source is read inside one read transaction (one consistent snapshot); the daemon
should still be stopped, or mail it accepts meanwhile stays behind in the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailgate.errors import MailgateError
from mailgate.store import schema
from mailgate.store.facade import Store

# (table, primary key, rows per batch) in an order that satisfies the foreign keys.
TABLES: list[tuple[str, tuple[str, ...], int]] = [
    ("spool", ("id",), 50),  # raw mail: up to the size limit each
    ("tickets", ("id",), 500),
    ("messages", ("id",), 200),
    ("attachments", ("id",), 500),
    ("blobs", ("sha256",), 20),
    ("participants", ("ticket_id", "address"), 500),
    ("events", ("id",), 1000),
    ("outbox", ("id",), 50),
    ("imap_cursors", ("account", "folder"), 500),
    ("sla_clocks", ("ticket_id", "kind"), 500),
    ("reminders", ("id",), 1000),
    ("auto_replies", ("id",), 5000),
]

# Not copied: who reads which IMAP account now. A lease is held by a running node and
# expires within seconds of it stopping; copied, it would name a node of the old database
# and keep the account unread on the new one until it ran out. The cursors are copied.
NOT_COPIED = frozenset({"imap_leases"})

Progress = Callable[[str, int], None]


class CopyError(MailgateError):
    """The databases cannot be copied, or the copy does not match its source."""


@dataclass
class CopyReport:
    """Per table: rows in the source, rows copied now, rows in the target at the end."""

    source: dict[str, int] = field(default_factory=dict)
    copied: dict[str, int] = field(default_factory=dict)
    target: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.source == self.target


def _count(store: Store, table: str) -> int:
    return int(store._x(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _columns(store: Store, table: str) -> list[str]:
    cur = store._x(f"SELECT * FROM {table} LIMIT 1")
    cur.fetchall()
    return [d[0] for d in cur.description]


def source_counts(source: Store) -> dict[str, int]:
    """Rows per table in ``source`` (the totals of a progress display)."""
    return {table: _count(source, table) for table, _key, _batch in TABLES}


def copy_database(source: Store, target: Store, *,
                  progress: Progress = lambda table, rows: None) -> CopyReport:
    """Copy every row of ``source`` missing from ``target``; verify the counts."""
    for name, store in (("source", source), ("target", target)):
        version = store.schema_version()
        if version != schema.LATEST:
            raise CopyError(f"the {name} database is at schema version {version}, not "
                            f"{schema.LATEST}: run `mailgate db migrate` on it first")
    report = CopyReport()
    with source.transaction():  # one snapshot of the source (SQLite: no writer meanwhile)
        known = set(source.tables()) - {"schema_migrations"}
        missing = known - {table for table, _key, _batch in TABLES} - NOT_COPIED
        if missing:
            raise CopyError(f"do not know how to copy table(s) {', '.join(sorted(missing))}")
        report.source = source_counts(source)
        for table, key, batch in TABLES:
            columns = _columns(source, table)
            if table == "tickets":  # merged_into may point forwards: set in a later pass
                columns = [c for c in columns if c != "merged_into"]
            report.copied[table] = _copy_table(source, target, table, columns, key, batch,
                                               progress)
        _copy_merges(source, target)
        for table, key, _batch in TABLES:
            if key == ("id",):
                target._sync_sequence(table)
    report.target = {table: _count(target, table) for table, _key, _batch in TABLES}
    return report


def _copy_table(source: Store, target: Store, table: str, columns: list[str],
                key: tuple[str, ...], batch: int, progress: Progress) -> int:
    names = ", ".join(columns)
    insert = (f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
              " ON CONFLICT DO NOTHING")
    order = ", ".join(key)
    at = [columns.index(k) for k in key]
    after: tuple[object, ...] | None = None
    if key == ("id",):  # resume after what an earlier run copied
        last = int(target._x(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
        after = (last,)
        progress(table, int(source._x(f"SELECT COUNT(*) FROM {table} WHERE id <= ?",
                                      (last,)).fetchone()[0]))
    # Others start over: re-inserting a row that is there already changes nothing.
    copied = 0
    while True:
        where = "" if after is None else \
            f" WHERE ({order}) > ({', '.join('?' * len(key))})"
        rows = source._x(f"SELECT {names} FROM {table}{where} ORDER BY {order} LIMIT ?",
                         (*(after or ()), batch)).fetchall()
        if not rows:
            return copied
        with target.transaction():
            copied += target._many(insert, [tuple(r) for r in rows])
        after = tuple(rows[-1][i] for i in at)
        progress(table, len(rows))


def _copy_merges(source: Store, target: Store) -> None:
    merges = source._x("SELECT id, merged_into FROM tickets WHERE merged_into IS NOT NULL"
                       " ORDER BY id").fetchall()
    with target.transaction():
        target._many("UPDATE tickets SET merged_into = ? WHERE id = ?",
                     [(into, ticket_id) for ticket_id, into in merges])
