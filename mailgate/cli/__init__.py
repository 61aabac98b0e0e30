"""The ``mailgate`` command line.

Every command exits non-zero with a one-line error on bad input (unknown
ticket, bad config path), never a traceback. ``ingest`` follows sendmail's
exit codes so Postfix's ``pipe`` and procmail do the right thing: 0 once the
message is durably stored, 75 (EX_TEMPFAIL) when it must be retried, 65
(EX_DATAERR) for input that can never be a message (empty or over the size
limit), which the MTA bounces to its sender.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mailgate import __version__, clock
from mailgate.config import Config, load_config
from mailgate.errors import (
    ConfigError,
    MailgateError,
    NotFoundError,
    SchemaError,
    TransientError,
)

EX_OK, EX_USAGE, EX_DATAERR, EX_SOFTWARE, EX_TEMPFAIL, EX_CONFIG = 0, 64, 65, 70, 75, 78

EXAMPLES = """\
examples:
  mailgate init /etc/mailgate
  mailgate serve -c /etc/mailgate/mailgate.toml
  mailgate reload -c /etc/mailgate/mailgate.toml
  mailgate ingest -c /etc/mailgate/mailgate.toml < message.eml
  mailgate check-config -c mailgate.toml
  mailgate tickets --status open
  mailgate show SUP-000123 --json
  mailgate assign SUP-000123 alice
  mailgate trace '<CAF123@mail.example.org>'
  mailgate explain message.eml
  mailgate templates preview ack --ticket SUP-000123
  mailgate quarantine list
"""


def _config_path(arg: str | None) -> str | None:
    if arg:
        return arg
    if os.environ.get("MAILGATE_CONFIG"):
        return os.environ["MAILGATE_CONFIG"]
    return "mailgate.toml" if Path("mailgate.toml").exists() else None


def _load(args: argparse.Namespace) -> Config:
    return load_config(_config_path(args.config))


def _store(config: Config) -> Any:
    from mailgate.store import open_store

    return open_store(config, application_name="mailgate cli")


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines otherwise (for grep and cut)."""
    if not sys.stdout.isatty():
        print("\t".join(columns))
        for row in rows:
            print("\t".join("" if v is None else str(v) for v in row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


# -- commands -------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from mailgate.daemon import Daemon
    from mailgate.logs import configure_logging

    config = _load(args)
    configure_logging(config.logging)
    daemon = Daemon(config)
    asyncio.run(daemon.serve())
    return EX_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    """Store one message from stdin durably; then wake the daemon serving this config to
    process it, or, with no daemon running, process it right here.

    An MTA's pipe transport starts one process per mail, so what this process loads
    counts: with a daemon up it never loads the pipeline or compiles templates (about
    half of its time), the daemon's warm processor does the work at once."""
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"mailgate ingest: {exc}", file=sys.stderr)
        return EX_TEMPFAIL  # the admin's mistake must not bounce the customer's mail
    raw = sys.stdin.buffer.read(config.smtp.max_message_size + 1)
    if not raw.strip():
        print("mailgate ingest: empty input, no message to store", file=sys.stderr)
        return EX_DATAERR
    if len(raw) > config.smtp.max_message_size:
        print(f"mailgate ingest: message larger than smtp.max_message_size "
              f"({config.smtp.max_message_size} bytes)", file=sys.stderr)
        return EX_DATAERR
    from mailgate.logs import configure_logging

    configure_logging(config.logging)
    try:
        store = _store(config)
        with store.transaction():
            spool_id = store.spool_add(raw, channel="pipe", received_at=clock.now(),
                                       source="pipe:stdin", mail_from=args.sender,
                                       rcpt_tos=args.recipient or [])
    except (TransientError, OSError, ConfigError, SchemaError) as exc:
        # The store unreachable, its password missing, its schema newer than this node:
        # the admin's to fix, the customer's mail must wait, not bounce.
        print(f"mailgate ingest: message not stored, retry later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    if _wake_daemon(config):
        return EX_OK
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    try:
        processor = Processor(config, store, Pipeline(config, Renderer(
            config.path(config.templates.directory))))
        processor.drain(only=spool_id)
    except Exception as exc:
        print(f"mailgate ingest: stored as spool {spool_id}; processing deferred: {exc}",
              file=sys.stderr)
    return EX_OK


def _wake_daemon(config: Config) -> bool:
    """Tell the daemon serving ``config`` (its pid file) that the spool has new mail
    (SIGUSR1); False when none runs or it cannot be signalled (then the caller processes;
    two processors claiming the same row is safe, each takes it under a lease)."""
    import signal

    from mailgate import health

    try:
        pid = int(health.pid_file(config).read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        # a `mailgate serve` (SIGUSR1 would end any other program, e.g. a recycled pid)
        if pid == os.getpid() or b"serve" not in argv or \
                not any(b"mailgate" in arg for arg in argv):
            return False
        os.kill(pid, signal.SIGUSR1)
    except (OSError, ValueError):
        return False
    return True


def cmd_check_config(args: argparse.Namespace) -> int:
    from mailgate.render import Renderer

    config = _load(args)
    problems = Renderer(config.path(config.templates.directory)).check()
    if problems:
        raise ConfigError("\n".join(["templates have errors:", *problems]))
    print(f"{config.source}: OK ({len(config.sla.levels)} SLA level(s), "
          f"templates in {config.path(config.templates.directory)})")
    return EX_OK


def cmd_db(args: argparse.Namespace) -> int:
    """Schema migrations, and the move from SQLite to PostgreSQL."""
    if args.action == "copy":
        return cmd_db_copy(args)
    from mailgate.store import open_store, schema

    config = _load(args)
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
        _print_json(result)
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
    from mailgate.store.copy import TABLES, copy_database, source_counts

    config = _load(args)
    source_url = args.source or (config.store.url if config.store.backend == "sqlite" else None)
    target_url = args.target or (config.store.url if config.store.backend != "sqlite"
                                 else None)
    if not source_url or not target_url:
        raise MailgateError("give --from sqlite:///PATH and --to postgresql://USER@HOST/DB "
                            "(either may default to the config's store.url)")
    if source_url == target_url:
        raise MailgateError("--from and --to name the same database")

    def with_url(url: str, base: Path) -> Config:
        if url.startswith("sqlite:///") and not Path(url[10:]).is_absolute():
            url = f"sqlite:///{(base / url[10:]).resolve()}"  # a relative PATH: from here
        store = type(config.store).model_validate({**config.store.model_dump(), "url": url,
                                                   **({"password_env": None,
                                                       "password_file": None}
                                                      if url.startswith("sqlite") else {})})
        return config.model_copy(update={"store": store})

    def base(given: str | None) -> Path:  # a URL from the config is relative to its folder
        return Path.cwd() if given else Path(config.base_dir)

    source = open_store(with_url(source_url, base(args.source)),
                        application_name="mailgate db copy")
    target = open_store(with_url(target_url, base(args.target)),
                        application_name="mailgate db copy")
    try:
        totals = source_counts(source)
        progress = _progress_bars(counts=True)
        tasks = {table: progress.add_task(table, total=totals[table] or None)
                 for table, _key, _batch in TABLES} if progress is not None else {}

        def advance(table: str, rows: int) -> None:
            if progress is not None:
                progress.update(tasks[table], advance=rows)

        try:
            report = copy_database(source, target, progress=advance)
            for table, task in tasks.items():  # empty tables show as done, not as 0%
                progress.update(task, total=totals[table], completed=totals[table])
        finally:
            if progress is not None:
                progress.stop()
    finally:
        source.close()
        target.close()
    if args.json:
        _print_json({"ok": report.ok, "source": report.source, "copied": report.copied,
                     "target": report.target})
    else:
        _table("Copied", ["table", "source rows", "copied now", "target rows"],
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


def cmd_tickets(args: argparse.Namespace) -> int:
    from mailgate.views import ticket_summary

    store = _store(_load(args))
    rows = [ticket_summary(r) for r in store.tickets(args.status, args.limit)]
    if args.json:
        _print_json(rows)
        return EX_OK
    _table("Tickets", ["reference", "status", "subject", "requester", "sla", "updated"],
           [[r["reference"], r["status"], r["subject"][:60], r["requester"], r["sla_level"],
             r["updated_at"][:19]] for r in rows])
    return EX_OK


def cmd_show(args: argparse.Namespace) -> int:
    from mailgate.views import ticket_detail

    store = _store(_load(args))
    detail = ticket_detail(store, store.ticket_by_reference(args.reference))
    if args.json:
        _print_json(detail)
        return EX_OK
    print(f"{detail['reference']}  [{detail['status']}]  {detail['subject']}")
    print(f"requester: {detail['requester']}   SLA: {detail['sla_level']}   "
          f"first response due: {detail['first_response_due']}")
    if detail["participants"]:
        print("participants: " + ", ".join(p["address"] for p in detail["participants"]))
    for m in detail["messages"]:
        arrow = "<-" if m["direction"] == "in" else "->"
        print(f"\n{arrow} {m['date'] or m['received_at']}  {m['from']}  ({m['kind']})")
        print(f"   {m['subject']}")
        for a in m["attachments"]:
            print(f"   attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)")
    print("\nevents:")
    for e in detail["events"]:
        print(f"  {e['at'][:19]}  {e['kind']:<18} {e['actor']}: {e['detail']}")
    return EX_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Change a ticket's status through the same service layer as mail commands."""
    from mailgate import desk

    config = _load(args)
    store = _store(config)
    status = {"close": "closed", "reopen": "open"}.get(args.command, getattr(args, "status", ""))
    with store.transaction():
        ticket = store.ticket_by_reference(args.reference)
        changed = desk.set_status(config, store, ticket, status, actor=f"cli:{_user()}",
                                  why=args.reason or "changed from the command line",
                                  now=clock.now())
    print(f"{ticket.reference}: {ticket.status} -> {status}" if changed
          else f"{ticket.reference} is already {status}")
    return EX_OK


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def cmd_sla(args: argparse.Namespace) -> int:
    """Per level: clocks met, breached, running (at risk: past the first reminder point)."""
    config = _load(args)
    store = _store(config)
    report = store.sla_report(clock.now())
    upcoming = [r for r in store.reminders() if r["state"] == "pending"][:args.limit]
    if args.json:
        _print_json({"levels": report, "next_reminders": upcoming})
        return EX_OK
    _table("SLA by level", ["level", "clock", "met", "breached", "running", "overdue now"],
           [[r["level"], r["kind"], r["met"], r["breached"], r["running"], r["overdue"]]
            for r in report])
    _table("Next reminders", ["ticket", "clock", "point", "fires at", "due"],
           [[r["ticket"], r["kind"], f"{min(r['point'], 1):.0%}", r["fire_at"][:16],
             r["due_at"][:16]] for r in upcoming])
    return EX_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    store = _store(_load(args))
    if args.action == "list":
        rows = store.quarantine()
        if args.json:
            _print_json(rows)
        else:
            _table("Quarantine", ["id", "received", "channel", "from", "size", "reason"],
                   [[r["id"], r["received_at"][:19], r["channel"], r["mail_from"], r["size"],
                     r["reason"]] for r in rows])
    elif args.action == "show":
        sys.stdout.buffer.write(store.spool_raw(_need_id(args)))
    elif args.action == "release":
        store.spool_requeue(_need_id(args))
        print(f"spool {args.id} queued for processing again")
    elif args.action == "delete":
        from mailgate.store import ops

        spool_id = _need_id(args)
        row = ops.spool_row(store, spool_id)
        if row["state"] != "quarantined":
            raise NotFoundError(f"spool {spool_id} is not quarantined (state {row['state']})")
        if not args.yes:
            raise MailgateError(f"add --yes to delete spool {spool_id} for good (from "
                                f"{row['mail_from'] or '<>'}, {row['size']} bytes: "
                                f"{row['reason']})")
        ops.quarantine_delete(store, spool_id)
        print(f"spool {spool_id} deleted")
    return EX_OK


def cmd_outbox(args: argparse.Namespace) -> int:
    store = _store(_load(args))
    if args.action == "retry":
        if args.id is None and not args.all:
            raise MailgateError("give an outbox id or --all")
        count = store.outbox_retry(None if args.all else args.id, clock.now())
        print(f"{count} message(s) due again")
        return EX_OK
    rows = store.outbox()
    if args.json:
        _print_json(rows)
    else:
        _table("Outbox", ["id", "ticket", "kind", "to", "state", "attempts", "last error"],
               [[r["id"], r["ticket"], r["kind"], ", ".join(r["to"]), r["state"],
                 r["attempts"], r["last_error"]] for r in rows])
    return EX_OK


# -- operations: reload, init, assign, merge, trace, explain, templates, import -------------


def cmd_reload(args: argparse.Namespace) -> int:
    """Validate the config, SIGHUP the daemon, and report what it made of it."""
    import signal
    import time

    from mailgate import health
    from mailgate.render import Renderer

    config = _load(args)
    problems = Renderer(config.path(config.templates.directory)).check()
    if problems:
        raise ConfigError("; ".join(["not reloaded, templates have errors", *problems]))
    path = health.pid_file(config)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        raise NotFoundError(f"no pid file {path}: is `mailgate serve` running with this "
                            "config?") from None
    if not health.process_alive(pid) or not health.looks_like_mailgate(pid):
        raise NotFoundError(f"the daemon of {path} (pid {pid}) is not running")
    status_path = health.reload_file(config)
    before = health.read_json(status_path)
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        raise MailgateError(f"not allowed to signal pid {pid}: run as the daemon's user") \
            from None
    if args.no_wait:
        print(f"sent SIGHUP to pid {pid}")
        return EX_OK
    deadline = time.monotonic() + args.timeout
    after = before
    while time.monotonic() < deadline:
        after = health.read_json(status_path)
        if after != before and after is not None and after.get("pid") == pid:
            break
        time.sleep(0.1)
    else:
        raise TransientError(f"sent SIGHUP to pid {pid}, no answer within {args.timeout:g}s; "
                             "see the daemon's log")
    assert after is not None
    if args.json:
        _print_json(after)
    if not after["ok"]:
        if not args.json:
            print(f"mailgate: reload refused, old config still in force: {after['error']}",
                  file=sys.stderr)
        return EX_CONFIG
    if not args.json:
        print(f"reloaded {after['config']} (pid {pid})"
              + (f"; SLA changed, {after['recomputed_clocks']} open clock(s) recomputed"
                 if after["sla_changed"] else ""))
        if after["restart_needed"]:
            print(f"restart needed for: {', '.join(after['restart_needed'])} "
                  "(old values stay in force until then)")
        if after.get("error"):
            print(f"warning: {after['error']}", file=sys.stderr)
    return EX_OK


def _source_root() -> Path:
    import mailgate

    root = Path(mailgate.__file__).resolve().parent.parent
    if not (root / "mailgate.toml.example").is_file():
        raise MailgateError(f"example files not found next to {root}; run `mailgate init` from "
                            "an installation of the source tree")
    return root


def cmd_init(args: argparse.Namespace) -> int:
    """Write a working config, the templates and the SLA presets into DIR."""
    import shutil

    from mailgate.render import Renderer

    root = _source_root()
    folder = Path(args.dir)
    config_file = folder / "mailgate.toml"
    targets = [config_file, folder / "templates", folder / "sla-presets"]
    taken = [str(t) for t in targets if t.exists()]
    if taken:
        raise MailgateError(f"refusing to overwrite {', '.join(taken)}")
    if folder.exists() and not folder.is_dir():
        raise MailgateError(f"{folder} is not a folder")
    text = (root / "mailgate.toml.example").read_text(encoding="utf-8")
    if args.address:
        old = 'addresses = ["support@localhost"]'
        text = text.replace(old, f"addresses = {json.dumps(args.address)}", 1)
    if args.state:
        state = Path(args.state).absolute()
        text = text.replace('url = "sqlite:///var/mailgate.db"',
                            f'url = "sqlite:///{state / "mailgate.db"}"', 1)
        text = text.replace('folder = "var/outbox"', f'folder = "{state / "outbox"}"', 1)
        # pid and reload status stay there when the store moves to PostgreSQL
        text = text.replace('# state_dir = "var"', f'state_dir = "{state}"', 1)
    text = (f"# Written by `mailgate init` on {clock.now():%Y-%m-%d}: every key shown with its"
            " default.\n" + text)
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config_file.write_text(text, encoding="utf-8")
        written.append(config_file)
        shutil.copytree(root / "templates", folder / "templates")
        written.append(folder / "templates")
        shutil.copytree(root / "config" / "sla-presets", folder / "sla-presets")
        written.append(folder / "sla-presets")
        config = load_config(config_file)
        problems = Renderer(config.path(config.templates.directory)).check()
        if problems:
            raise ConfigError("; ".join(problems))
    except BaseException:
        for path in reversed(written):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    shown = str(config_file)
    print(f"wrote {shown}, {folder / 'templates'}/ and {folder / 'sla-presets'}/")
    print(f"""
next:
  1. edit {shown}:
     [gateway] addresses   the support address(es) customers write to{
         ' (set)' if args.address else ''}
     [outbound] mode       "smtp" and the smarthost, to send acknowledgements for real
     [sla]                 your service levels (see {folder / 'sla-presets'}/)
  2. edit the acknowledgement in {folder / 'templates' / 'ack.txt.j2'}, then preview it:
     mailgate templates preview ack -c {shown}
  3. mailgate check-config -c {shown}
  4. mailgate serve -c {shown}       (or install config/mailgate.service)
  5. point your MTA at the listener (README, "Deployment")""")
    return EX_OK


def cmd_assign(args: argparse.Namespace) -> int:
    from mailgate import desk

    if not args.who and not args.unassign:
        raise MailgateError("give an engineer (short name or address) or --unassign")
    config = _load(args)
    store = _store(config)
    with store.transaction():
        ticket = store.ticket_by_reference(args.reference)
        address = desk.assign(config, store, ticket, None if args.unassign else args.who,
                              actor=f"cli:{_user()}", now=clock.now())
    if args.json:
        _print_json({"reference": ticket.reference, "assignee": address})
    else:
        print(f"{ticket.reference} assigned to {address}" if address
              else f"{ticket.reference} unassigned")
    return EX_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from mailgate import desk

    config = _load(args)
    store = _store(config)
    with store.transaction():
        source = store.ticket_by_reference(args.source)
        target = store.ticket_by_reference(args.target)
        if source.merged_into is not None:
            raise MailgateError(f"{source.reference} is already merged into "
                                f"{store.ticket(source.merged_into).reference}")
        survivor = desk.merge(config, store, source, target, actor=f"cli:{_user()}",
                              why=args.reason or "merged from the command line",
                              now=clock.now())
    if args.json:
        _print_json({"source": source.reference, "target": survivor.reference})
    else:
        print(f"{source.reference} merged into {survivor.reference}")
    return EX_OK


def cmd_trace(args: argparse.Namespace) -> int:
    from mailgate import inspect

    story = inspect.trace(_store(_load(args)), args.what)
    if args.json:
        _print_json(story)
    else:
        inspect.print_trace(story)
    return EX_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from mailgate import inspect

    config = _load(args)
    raw = _read_input(args.file)
    result = inspect.explain(config, _store(config), raw, mail_from=args.sender,
                             rcpt_tos=args.recipient, channel=args.channel)
    if args.json:
        _print_json(result)
    else:
        inspect.print_explain(result, show_mail=args.show_mail)
    return EX_OK


def _read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise MailgateError(f"{name}: cannot read: {exc.strerror}") from None


def cmd_templates(args: argparse.Namespace) -> int:
    from mailgate import inspect
    from mailgate.render import TEMPLATES, Renderer

    config = _load(args)
    if args.action == "list":
        renderer = Renderer(config.path(config.templates.directory))
        rows = []
        for path in sorted(renderer.directory.glob("*.j2")):
            name = path.name.removesuffix(".j2")
            rows.append({"file": str(path), "template": name.rsplit(".", 1)[0],
                         "part": name.rsplit(".", 1)[-1],
                         "used": name.rsplit(".", 1)[0] in TEMPLATES})
        if args.json:
            _print_json(rows)
        else:
            _table("Templates", ["template", "part", "file"],
                   [[r["template"], r["part"], r["file"]] for r in rows])
        return EX_OK
    if not args.name:
        raise MailgateError("give the template name, e.g. `mailgate templates preview ack`")
    store = _store(config) if args.ticket else None
    raw = inspect.preview(config, store, args.name, args.ticket)
    if args.raw:
        sys.stdout.buffer.write(raw)
    elif args.json:
        from email import policy
        from email.parser import BytesParser

        msg = BytesParser(policy=policy.default).parsebytes(raw)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        _print_json({"headers": [[k, str(v)] for k, v in msg.items()],
                     "subject": str(msg["Subject"]),
                     "text": text.get_content() if text is not None else None,
                     "html": html.get_content() if html is not None else None})
    else:
        sys.stdout.write(inspect.readable(raw, html=args.html))
    return EX_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Spool every message of an mbox file or a Maildir; skip what is already stored."""
    import mailbox

    from mailgate.logs import configure_logging
    from mailgate.message import ParseError, content_id, parse
    from mailgate.store import ops

    config = _load(args)
    configure_logging(config.logging)
    source = Path(args.source)
    if source.is_dir():
        if not (source / "cur").is_dir() and not (source / "new").is_dir():
            raise MailgateError(f"{source} is a folder but not a Maildir (no cur/ or new/)")
        box: mailbox.Mailbox = mailbox.Maildir(source, factory=None, create=False)
    elif source.is_file():
        box = mailbox.mbox(source, factory=None, create=False)
    else:
        raise NotFoundError(f"{source}: no such mbox file or Maildir")
    store = _store(config)
    processor = None if args.no_process else _import_processor(config, store, ack=args.ack)
    keys = list(box.keys())
    label = f"import:{source.name}"
    counts = {"found": len(keys), "imported": 0, "skipped": 0, "too_large": 0}
    imported: list[int] = []
    progress, task = _progress(len(keys), f"importing {source.name}")
    try:
        for start in range(0, len(keys), 200):
            batch, unparsable = [], set()
            for key in keys[start:start + 200]:
                raw = box.get_bytes(key)
                try:
                    message_id = parse(raw).message_id
                except ParseError:  # it will be quarantined, without a Message-ID
                    message_id = content_id(raw)
                    unparsable.add(message_id)
                batch.append((message_id, raw))
            known = ops.known_message_ids(store, [m for m, _ in batch])
            known.update(m for m, raw in batch if m in unparsable and ops.spool_has_raw(store, raw))
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
        _print_json(counts)
    else:
        print(f"{counts['imported']} imported, {counts['skipped']} already stored, "
              f"{counts['too_large']} over smtp.max_message_size, of {counts['found']}"
              + ("" if args.no_process else
                 "" if args.ack else "; acknowledgements not sent (--ack to send them)"))
    return EX_OK


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
    """Pipeline wrapper for imports: mail it would send is cancelled in the same transaction."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def prepare(self, item: Any, inbound: Any, now: Any = None) -> Any:
        return self.inner.prepare(item, inbound, now)

    def handle(self, store: Any, item: Any, inbound: Any, now: Any, facts: Any = None) -> Any:
        from mailgate.store import ops

        mark = ops.high_water(store)["outbox"]  # we hold the write lock: rows above are ours
        outcome = self.inner.handle(store, item, inbound, now, facts)
        ops.hold_outbox(store, [row["id"] for row in ops.outbox_since(store, mark)],
                        "not sent: imported by `mailgate import`")
        outcome.outbox_ids = []
        return outcome


def _import_processor(config: Config, store: Any, *, ack: bool) -> Any:
    """A processor for imported mail, built before anything is spooled (config errors first)."""
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    pipeline: Any = Pipeline(config, Renderer(config.path(config.templates.directory)))
    return Processor(config, store, pipeline if ack else _HoldAcks(pipeline))

def _need_id(args: argparse.Namespace) -> int:
    if args.id is None or not str(args.id).isdigit():
        raise MailgateError("give the quarantine id (see 'mailgate quarantine list')")
    return int(args.id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailgate", description="Email-to-ticket gateway daemon.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailgate {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", help="config file (default: $MAILGATE_CONFIG, "
                        "./mailgate.toml, else the embedded defaults)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text,
                           epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    add("serve", cmd_serve, "run the daemon (SMTP listener, processor, outbox sender)",
        "mailgate serve -c mailgate.toml")
    p = add("ingest", cmd_ingest, "store one message read from stdin (for Postfix pipe, "
            "procmail, fetchmail)", "mailgate ingest -c mailgate.toml -f \"$sender\" < m.eml")
    p.add_argument("-f", "--sender", help="envelope sender (Postfix: ${sender})")
    p.add_argument("-r", "--recipient", action="append", help="envelope recipient")
    add("check-config", cmd_check_config, "validate the config and render every template",
        "mailgate check-config -c mailgate.toml")
    p = add("tickets", cmd_tickets, "list tickets", "mailgate tickets --status open --json")
    p.add_argument("--status", help="only tickets in this status")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("show", cmd_show, "show one ticket with its messages and events",
            "mailgate show SUP-000123 --json")
    p.add_argument("reference")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("status", cmd_status, "set a ticket's status (events and SLA clocks follow)",
            "mailgate status SUP-000123 on_hold --reason 'waiting for the vendor'")
    p.add_argument("reference")
    p.add_argument("status")
    p.add_argument("--reason")
    for name, text in (("close", "close a ticket"), ("reopen", "reopen a closed ticket")):
        p = add(name, cmd_status, text, f"mailgate {name} SUP-000123")
        p.add_argument("reference")
        p.add_argument("--reason")
    p = add("sla", cmd_sla, "SLA report: per level met, breached, running; next reminders",
            "mailgate sla --json")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p = add("quarantine", cmd_quarantine, "list, show, release or delete messages that could "
            "not be processed", "mailgate quarantine release 42\n  mailgate quarantine delete 42 "
            "--yes")
    p.add_argument("action", choices=["list", "show", "release", "delete"])
    p.add_argument("id", nargs="?")
    p.add_argument("--yes", action="store_true", help="confirm `delete`")
    p.add_argument("--json", action="store_true")
    p = add("outbox", cmd_outbox, "list pending and failed outgoing mail, or retry it",
            "mailgate outbox retry --all")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p = add("reload", cmd_reload, "make the running daemon re-read its config and templates "
            "(SIGHUP to the pid in var/mailgate.pid next to the database)",
            "mailgate reload -c /etc/mailgate/mailgate.toml")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the daemon's answer (default 10)")
    p.add_argument("--no-wait", action="store_true", help="signal and return at once")
    p.add_argument("--json", action="store_true")
    p = add("init", cmd_init, "write a working config, the templates and SLA presets into DIR",
            "mailgate init /etc/mailgate --address support@example.com "
            "--state /var/lib/mailgate")
    p.add_argument("dir")
    p.add_argument("--address", action="append",
                   help="the support address customers write to (repeat for more)")
    p.add_argument("--state", metavar="STATE_DIR",
                   help="folder for the database and outbox (default: var/ next to the "
                        "config; /var/lib/mailgate for the systemd unit)")
    p = add("assign", cmd_assign, "assign a ticket to an engineer ([team] engineers)",
            "mailgate assign SUP-000123 alice\n  mailgate assign SUP-000123 --unassign")
    p.add_argument("reference")
    p.add_argument("who", nargs="?", help="short name or address of an engineer")
    p.add_argument("--unassign", action="store_true")
    p.add_argument("--json", action="store_true")
    p = add("merge", cmd_merge, "merge ticket SOURCE into TARGET (SOURCE is closed; mail citing "
            "either reaches TARGET)", "mailgate merge SUP-000124 SUP-000123 --reason 'same outage'")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--reason")
    p.add_argument("--json", action="store_true")
    p = add("trace", cmd_trace, "the story of one message: how and when it came, its ticket, "
            "events, and what we sent in answer",
            "mailgate trace '<CAF123@mail.example.org>'\n  mailgate trace 42      "
            "(a spool id)\n  mailgate trace message.eml")
    p.add_argument("what", metavar="MESSAGE-ID|FILE.eml|SPOOL-ID")
    p.add_argument("--json", action="store_true")
    p = add("explain", cmd_explain, "dry run: what processing a message now would do, and why "
            "(nothing is stored or sent)", "mailgate explain message.eml -f customer@example.org")
    p.add_argument("file", metavar="FILE.eml", help="the message ('-' for stdin)")
    p.add_argument("-f", "--sender", help="envelope sender (default: none)")
    p.add_argument("-r", "--recipient", action="append",
                   help="envelope recipient (default: the first gateway address)")
    p.add_argument("--channel", default="smtp", choices=["smtp", "pipe", "imap"])
    p.add_argument("--show-mail", action="store_true", help="print the text of mail it sends")
    p.add_argument("--json", action="store_true")
    p = add("templates", cmd_templates, "list templates, or preview one exactly as it would be "
            "sent (headers included)",
            "mailgate templates preview ack --ticket SUP-000123\n  mailgate templates list")
    p.add_argument("action", choices=["list", "preview"])
    p.add_argument("name", nargs="?", help="template name: ack, reminder, ...")
    p.add_argument("--ticket", metavar="REF", help="use this ticket's data (default: samples)")
    p.add_argument("--html", action="store_true", help="print the HTML part too")
    p.add_argument("--raw", action="store_true", help="print the exact bytes (MIME)")
    p.add_argument("--json", action="store_true")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, SchemaError) as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_CONFIG
    except NotFoundError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return 1
    except TransientError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except MailgateError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EX_OK
