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
from mailgate.errors import ConfigError, MailgateError, NotFoundError, TransientError

EX_OK, EX_USAGE, EX_DATAERR, EX_SOFTWARE, EX_TEMPFAIL, EX_CONFIG = 0, 64, 65, 70, 75, 78

EXAMPLES = """\
examples:
  mailgate serve -c /etc/mailgate/mailgate.toml
  mailgate ingest -c /etc/mailgate/mailgate.toml < message.eml
  mailgate check-config -c mailgate.toml
  mailgate tickets --status open
  mailgate show SUP-000123 --json
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
    from mailgate.store import Store

    return Store.open(config.database_path, busy_timeout=config.store.busy_timeout
                      .total_seconds())


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
    """Store one message from stdin, then process it right away (the daemon may be down)."""
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
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    configure_logging(config.logging)
    try:
        store = _store(config)
        with store.transaction():
            spool_id = store.spool_add(raw, channel="pipe", received_at=clock.now(),
                                       source="pipe:stdin", mail_from=args.sender,
                                       rcpt_tos=args.recipient or [])
    except (TransientError, OSError) as exc:
        print(f"mailgate ingest: message not stored, retry later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        processor = Processor(config, store, Pipeline(config, Renderer(
            config.path(config.templates.directory))))
        processor.drain(only=spool_id)
    except Exception as exc:
        print(f"mailgate ingest: stored as spool {spool_id}; processing deferred: {exc}",
              file=sys.stderr)
    return EX_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from mailgate.render import Renderer

    config = _load(args)
    problems = Renderer(config.path(config.templates.directory)).check()
    if problems:
        raise ConfigError("\n".join(["templates have errors:", *problems]))
    print(f"{config.source}: OK ({len(config.sla.levels)} SLA level(s), "
          f"templates in {config.path(config.templates.directory)})")
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


def _need_id(args: argparse.Namespace) -> int:
    if args.id is None:
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
    p = add("quarantine", cmd_quarantine, "list, show or release messages that could not be "
            "processed", "mailgate quarantine release 42")
    p.add_argument("action", choices=["list", "show", "release"])
    p.add_argument("id", nargs="?")
    p.add_argument("--json", action="store_true")
    p = add("outbox", cmd_outbox, "list pending and failed outgoing mail, or retry it",
            "mailgate outbox retry --all")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
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
