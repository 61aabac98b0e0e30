"""The two queues an operator tends by hand: quarantined mail and the outbox."""

from __future__ import annotations

import argparse
import sys

from mailgate import clock
from mailgate.cli.common import EX_OK, AddCommand, cli_store, load, print_json, table
from mailgate.errors import MailgateError, NotFoundError


def cmd_quarantine(args: argparse.Namespace) -> int:
    """List, show, release or delete mail that could not be processed."""
    store = cli_store(load(args))
    if args.action == "list":
        rows = store.quarantine()
        if args.json:
            print_json(rows)
        else:
            table("Quarantine", ["id", "received", "channel", "from", "size", "reason"],
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


def _need_id(args: argparse.Namespace) -> int:
    if args.id is None or not str(args.id).isdigit():
        raise MailgateError("give the quarantine id (see 'mailgate quarantine list')")
    return int(args.id)


def cmd_outbox(args: argparse.Namespace) -> int:
    """List pending and failed outgoing mail, or make it (all of it waiting, with --all) due now."""
    store = cli_store(load(args))
    if args.action == "retry":
        if args.id is None and not args.all:
            raise MailgateError("give an outbox id or --all")
        count = store.outbox_retry(None if args.all else args.id, clock.now())
        print(f"{count} message(s) due again")
        return EX_OK
    if args.action == "dismiss":  # a mistyped customer address: stop counting it as failed
        if args.id is None and not args.all:
            raise MailgateError("give an outbox id or --all")
        count = store.outbox_dismiss(None if args.all else args.id,
                                     f"dismissed by an operator at {clock.now():%Y-%m-%d %H:%M}")
        print(f"{count} failed message(s) dismissed")
        return EX_OK
    rows = store.outbox()
    if args.json:
        print_json(rows)
    else:
        table("Outbox", ["id", "ticket", "kind", "to", "state", "attempts", "last error"],
              [[r["id"], r["ticket"], r["kind"], ", ".join(r["to"]), r["state"],
                r["attempts"], r["last_error"]] for r in rows])
    return EX_OK


def register(add: AddCommand) -> None:
    """Add ``quarantine`` and ``outbox``."""
    p = add("quarantine", cmd_quarantine, "list, show, release or delete messages that could "
            "not be processed", "mailgate quarantine release 42\n  mailgate quarantine delete 42 "
            "--yes")
    p.add_argument("action", choices=["list", "show", "release", "delete"])
    p.add_argument("id", nargs="?")
    p.add_argument("--yes", action="store_true", help="confirm `delete`")
    p.add_argument("--json", action="store_true")
    p = add("outbox", cmd_outbox, "list pending and failed outgoing mail, retry it, or dismiss "
            "failed mail (it stops counting as failed in /healthz)",
            "mailgate outbox retry --all\n  mailgate outbox dismiss 17")
    p.add_argument("action", nargs="?", choices=["list", "retry", "dismiss"], default="list")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
