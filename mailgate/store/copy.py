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
from mailgate.store.facade import Store
from mailgate.store.schema import LATEST

# (table, primary key, rows per batch) in an order that satisfies the foreign keys.
TABLES: list[tuple[str, tuple[str, ...], int]] = [
    ("spool", ("id",), 500),
    ("spool_raw", ("id",), 50),  # raw mail: up to the size limit each
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
    ("ratings", ("ticket_id",), 1000),
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


def source_counts(source: Store) -> dict[str, int]:
    """Rows per table in ``source`` (the totals of a progress display)."""
    return {table: source.row_count(table) for table, _key, _batch in TABLES}


def copy_database(source: Store, target: Store, *,
                  progress: Progress = lambda table, rows: None) -> CopyReport:
    """Copy every row of ``source`` missing from ``target``; verify the counts."""
    for name, store in (("source", source), ("target", target)):
        version = store.schema_version()
        if version != LATEST:
            raise CopyError(f"the {name} database is at schema version {version}, not "
                            f"{LATEST}: run `mailgate db migrate` on it first")
    report = CopyReport()
    with source.transaction():  # one snapshot of the source (SQLite: no writer meanwhile)
        known = set(source.tables()) - {"schema_migrations"}
        missing = known - {table for table, _key, _batch in TABLES} - NOT_COPIED
        if missing:
            raise CopyError(f"do not know how to copy table(s) {', '.join(sorted(missing))}")
        report.source = source_counts(source)
        for table, key, batch in TABLES:
            columns = source.table_columns(table)
            if table == "tickets":  # merged_into may point forwards: set in a later pass
                columns = [c for c in columns if c != "merged_into"]
            report.copied[table] = _copy_table(source, target, table, columns, key, batch,
                                               progress)
        _copy_merges(source, target)
        for table, key, _batch in TABLES:
            if key == ("id",):
                target.sync_id_sequence(table)
    report.target = {table: target.row_count(table) for table, _key, _batch in TABLES}
    return report


def _copy_table(source: Store, target: Store, table: str, columns: list[str],
                key: tuple[str, ...], batch: int, progress: Progress) -> int:
    at = [columns.index(k) for k in key]
    after: tuple[object, ...] | None = None
    if key == ("id",):  # resume after what an earlier run copied
        last = target.max_id(table)
        after = (last,)
        progress(table, source.row_count(table, up_to_id=last))
    # Others start over: re-inserting a row that is there already changes nothing.
    copied = 0
    while True:
        rows = source.rows_after(table, columns, key, after, batch)
        if not rows:
            return copied
        with target.transaction():
            copied += target.insert_rows(table, columns, rows)
        after = tuple(rows[-1][i] for i in at)
        progress(table, len(rows))


def _copy_merges(source: Store, target: Store) -> None:
    merges = source.ticket_merges()
    with target.transaction():
        target.set_ticket_merges(merges)
