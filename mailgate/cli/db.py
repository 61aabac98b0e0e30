"""The database as a whole: schema migrations, the move from SQLite to PostgreSQL,
and importing an mbox file or a Maildir.

Copy and import are resumable (what is already there is skipped) and show
progress bars on a terminal, since both may run for a long time.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailgate import clock
from mailgate.cli.common import (
    EX_OK,
    AddCommand,
    cli_store,
    load,
    print_json,
    require_database_file,
    table,
)
from mailgate.errors import MailgateError, NotFoundError

if TYPE_CHECKING:
    import mailbox
    from collections.abc import Callable
    from datetime import datetime

    from mailgate.config import Config
    from mailgate.message import Inbound
    from mailgate.pipeline import Facts, Outcome, Pipeline
    from mailgate.processor import Processor
    from mailgate.store import SpoolItem, Store
    from mailgate.store.copy import CopyReport

BATCH = 200  # messages an import spools per transaction


def cmd_db(args: argparse.Namespace) -> int:
    """Schema migrations, and the move from SQLite to PostgreSQL."""
    if args.action == "copy":
        return cmd_db_copy(args)
    from mailgate.store import open_store, schema

    config = load(args)
    if args.action != "migrate":
        require_database_file(config)
    store = open_store(config, migrate=False, application_name="mailgate db")
    try:
        before = store.schema_version()
        applied = store.migrate() if args.action == "migrate" else []
        after = store.schema_version()
    finally:
        store.close()
    result = {"backend": config.store.backend, "version_before": before, "version": after,
              "applied": applied, "latest": schema.LATEST}
    if args.json:
        print_json(result)
    elif applied:
        print(f"schema migrated from version {before} to {after} "
              f"(applied {', '.join(map(str, applied))})")
    elif after < schema.LATEST:
        print(f"schema at version {after}; {schema.LATEST} is the latest: "
              "run `mailgate db migrate`")
    else:
        print(f"schema up to date at version {after}")
    return EX_OK


def cmd_db_copy(args: argparse.Namespace) -> int:
    """Copy the SQLite database into PostgreSQL (resumable; counts verified at the end)."""
    from mailgate.store import open_store
    from mailgate.store.copy import TABLES

    config = load(args)
    source_url = args.source or (config.store.url if config.store.backend == "sqlite" else None)
    target_url = args.target or (config.store.url if config.store.backend != "sqlite"
                                 else None)
    if not source_url or not target_url:
        raise MailgateError("give --from sqlite:///PATH and --to postgresql://USER@HOST/DB "
                            "(either may default to the config's store.url)")
    if source_url == target_url:
        raise MailgateError("--from and --to name the same database")
    source = cli_store(_with_url(config, source_url, args.source))
    target = open_store(_with_url(config, target_url, args.target),
                        application_name="mailgate db copy")
    try:
        report = _copy_with_progress(source, target)
    finally:
        source.close()
        target.close()
    if args.json:
        print_json({"ok": report.ok, "source": report.source, "copied": report.copied,
                    "target": report.target})
    else:
        table("Copied", ["table", "source rows", "copied now", "target rows"],
              [[t, report.source[t], report.copied[t], report.target[t]]
               for t, _key, _batch in TABLES])
    if not report.ok:
        differ = [t for t in report.source if report.source[t] != report.target.get(t)]
        print(f"mailgate db copy: row counts differ after the copy in: {', '.join(differ)} "
              "(was the target in use, or the source written to meanwhile?)", file=sys.stderr)
        return 1
    if not args.json:
        print("copy complete: every table has the same number of rows in both databases")
    return EX_OK


def _with_url(config: Config, url: str, given: str | None) -> Config:
    """The config with its store at ``url``. A relative sqlite PATH is from here when
    given on the command line, from the config's folder when it is the config's own."""
    base = Path.cwd() if given else Path(config.base_dir)
    if url.startswith("sqlite:///") and not Path(url[10:]).is_absolute():
        url = f"sqlite:///{(base / url[10:]).resolve()}"
    store = type(config.store).model_validate({**config.store.model_dump(), "url": url,
                                               **({"password_env": None,
                                                   "password_file": None}
                                                  if url.startswith("sqlite") else {})})
    return config.model_copy(update={"store": store})


def _copy_with_progress(source: Store, target: Store) -> CopyReport:
    """Copy every table, with a bar per table on a terminal; the copy's report."""
    from mailgate.store.copy import TABLES, copy_database, source_counts

    totals = source_counts(source)
    progress = _progress_bars(counts=True)
    tasks = {name: progress.add_task(name, total=totals[name] or None)
             for name, _key, _batch in TABLES} if progress is not None else {}

    def advance(name: str, rows: int) -> None:
        if progress is not None:
            progress.update(tasks[name], advance=rows)

    try:
        report = copy_database(source, target, progress=advance)
        for name, task in tasks.items():  # empty tables show as done, not as 0%
            progress.update(task, total=totals[name], completed=totals[name])
    finally:
        if progress is not None:
            progress.stop()
    return report


def cmd_import(args: argparse.Namespace) -> int:
    """Spool every message of an mbox file or a Maildir; skip what is already stored."""
    from mailgate.logs import configure_logging

    config = load(args)
    configure_logging(config.logging)
    source = Path(args.source)
    box = _open_mailbox(source)
    store = cli_store(config, create=True)  # an intake, like ingest: it may create
    processor = None if args.no_process else _import_processor(config, store, ack=args.ack)
    keys = list(box.keys())
    label = f"import:{source.name}"
    counts: dict[str, int | list[int]] = {"found": len(keys), "imported": 0, "skipped": 0,
                                          "too_large": 0}
    imported: list[int] = []
    progress, task = _progress(len(keys), f"importing {source.name}")
    try:
        for start in range(0, len(keys), BATCH):
            batch = keys[start:start + BATCH]
            imported += _spool_batch(config, store, box, batch, label, counts)
            if progress is not None:
                progress.update(task, advance=len(batch))
        if processor is not None:
            task = progress.add_task("processing", total=len(imported)) if progress else None
            for spool_id in imported:  # one at a time: a running daemon may take some too
                processor.drain(only=spool_id)
                if progress is not None:
                    progress.update(task, advance=1)
    finally:
        if progress is not None:
            progress.stop()
    counts["spool_ids"] = [imported[0], imported[-1]] if imported else []
    if args.json:
        print_json(counts)
    else:
        print(f"{counts['imported']} imported, {counts['skipped']} already stored, "
              f"{counts['too_large']} over smtp.max_message_size, of {counts['found']}"
              + ("" if args.no_process else
                 "" if args.ack else "; acknowledgements not sent (--ack to send them)"))
    return EX_OK


def _open_mailbox(source: Path) -> mailbox.Mailbox:
    """The Maildir (a folder with cur/ or new/) or the mbox file at ``source``."""
    import mailbox

    if source.is_dir():
        if not (source / "cur").is_dir() and not (source / "new").is_dir():
            raise MailgateError(f"{source} is a folder but not a Maildir (no cur/ or new/)")
        return mailbox.Maildir(source, factory=None, create=False)
    if source.is_file():
        return mailbox.mbox(source, factory=None, create=False)
    raise NotFoundError(f"{source}: no such mbox file or Maildir")


def _spool_batch(config: Config, store: Any, box: mailbox.Mailbox, keys: list[Any],
                 label: str, counts: dict[str, Any]) -> list[int]:
    """Spool the messages of ``keys`` not stored yet, in one transaction (tallied in
    ``counts``); their spool ids."""
    from mailgate.message import ParseError, content_id, parse
    from mailgate.store import ops

    batch, unparsable = [], set()
    for key in keys:
        raw = box.get_bytes(key)
        try:
            message_id = parse(raw).message_id
        except ParseError:  # it will be quarantined, without a Message-ID
            message_id = content_id(raw)
            unparsable.add(message_id)
        batch.append((message_id, raw))
    known = ops.known_message_ids(store, [m for m, _ in batch])
    known.update(m for m, raw in batch if m in unparsable and ops.spool_has_raw(store, raw))
    imported: list[int] = []
    with store.transaction():
        for message_id, raw in batch:
            if message_id in known:
                counts["skipped"] += 1
                continue
            if len(raw) > config.smtp.max_message_size:
                counts["too_large"] += 1
                continue
            known.add(message_id)
            imported.append(ops.spool_add_imported(store, raw, message_id, source=label,
                                                   received_at=clock.now()))
            counts["imported"] += 1
    return imported


def _progress(total: int, text: str) -> tuple[Any, Any]:
    progress = _progress_bars()
    return (None, None) if progress is None else (progress, progress.add_task(text, total=total))


def _progress_bars(*, counts: bool = False) -> Any:
    """A started rich Progress on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress

    columns = [*Progress.get_default_columns(), MofNCompleteColumn()] if counts else []
    progress = Progress(*columns, console=Console(stderr=True), transient=False)
    progress.start()
    return progress


class _HoldAcks:
    """Pipeline wrapper for imports: mail it would send is cancelled in the same transaction,
    and the mail is handled as history (``channel = "history"``: a ticket it opens starts no
    SLA clock; old mail answered nobody could be told of would reach the team as breaches)."""

    def __init__(self, inner: Pipeline) -> None:
        self.inner = inner

    def prepare(self, item: SpoolItem, inbound: Inbound, now: datetime | None = None) -> Facts:
        from mailgate.pipeline import HISTORY

        return self.inner.prepare(replace(item, channel=HISTORY), inbound, now)

    def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
               facts: Facts | None = None) -> Outcome:
        from mailgate.pipeline import HISTORY, Quarantine
        from mailgate.store import ops

        item = replace(item, channel=HISTORY)
        mark = ops.high_water(store)["outbox"]  # we hold the write lock: rows above are ours
        try:
            outcome = self.inner.handle(store, item, inbound, now, facts)
        except Quarantine as exc:  # the team's notice of a held mail is held too
            if exc.notice is not None:
                exc.notice = _held_notice(exc.notice)
            raise
        ops.hold_outbox(store, [row["id"] for row in ops.outbox_since(store, mark)],
                        "not sent: imported by `mailgate import`")
        outcome.outbox_ids = []
        return outcome


def _held_notice(notice: Callable[[Store], None]) -> Callable[[Store], None]:
    """``notice``, its mail cancelled in the same transaction (an import tells nobody)."""
    from mailgate.store import ops

    def held(store: Store) -> None:
        mark = ops.high_water(store)["outbox"]
        notice(store)
        ops.hold_outbox(store, [row["id"] for row in ops.outbox_since(store, mark)],
                        "not sent: imported by `mailgate import`")
    return held


def _import_processor(config: Config, store: Store, *, ack: bool) -> Processor:
    """A processor for imported mail, built before anything is spooled (config errors first)."""
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    pipeline = Pipeline(config, Renderer(config.templates_dir))
    return Processor(config, store, pipeline if ack else _HoldAcks(pipeline))


def register(add: AddCommand) -> None:
    """Add ``db`` and ``import``."""
    p = add("db", cmd_db, "the database: `migrate` applies pending schema migrations (each in "
            "a transaction; safe while other nodes start), `status` shows the version, `copy` "
            "moves an SQLite database into PostgreSQL",
            "mailgate db migrate -c mailgate.toml\n  mailgate db copy -c mailgate.toml "
            "--from sqlite:///var/mailgate.db --to postgresql://mailgate@db1/mailgate")
    p.add_argument("action", choices=["migrate", "status", "copy"])
    p.add_argument("--from", dest="source", metavar="URL",
                   help="copy: the SQLite database to read (sqlite:///PATH)")
    p.add_argument("--to", dest="target", metavar="URL",
                   help="copy: the PostgreSQL database to fill (default: the config's url)")
    p.add_argument("--json", action="store_true")
    p = add("import", cmd_import, "import an mbox file or a Maildir (resumable: what is already "
            "stored is skipped); acknowledgements are not sent unless --ack",
            "mailgate import -c mailgate.toml old-support.mbox")
    p.add_argument("source", metavar="MBOX|MAILDIR")
    p.add_argument("--ack", action="store_true",
                   help="send acknowledgements for the imported mail (default: cancelled)")
    p.add_argument("--no-process", action="store_true",
                   help="only spool; the daemon processes them (and sends acknowledgements)")
    p.add_argument("--json", action="store_true")
