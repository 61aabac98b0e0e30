"""A person's data from the command line: ``export``, ``erase``, and ``purge`` (retention).

Each is safe to run again: an export replaces the earlier one, an erasure finishes what
an interrupted one left, a purge skips what is purged. An address that matches nothing
is said so, with a non-zero exit, so a typo never passes for a done erasure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mailgate import clock
from mailgate.cli.common import (
    EX_OK,
    EX_TEMPFAIL,
    EX_USAGE,
    AddCommand,
    cli_store,
    load,
    print_json,
)
from mailgate.cli.tickets import _user

if TYPE_CHECKING:
    from mailgate.privacy import ErasePlan


def cmd_export(args: argparse.Namespace) -> int:
    """Write the person's tickets, mail, attachments and events with an index."""
    from mailgate import privacy

    store = cli_store(load(args))
    address = privacy.person_address(args.customer)
    now = clock.now()
    target = Path(args.output or f"mailgate-export-{address.replace('@', '_at_')}-"
                  f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    result = privacy.export_person(store, address, target, now)
    print(f"exported {address}: {result.tickets} tickets, {result.messages} messages, "
          f"{result.attachments} attachments, {result.quarantined} quarantined mails "
          f"-> {result.path} (index.json)")
    return EX_OK


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase the person (with ``--yes``); without it, say what would be erased."""
    from mailgate import privacy

    config = load(args)
    store = cli_store(config)
    if not args.yes:
        plan = privacy.erase_plan(store, args.customer)
        _print_plan(plan, args.json, dry=True)
        return EX_OK
    plan = privacy.erase_person(config, store, args.customer, actor=f"cli:{_user()}",
                                now=clock.now())
    _print_plan(plan, args.json, dry=False)
    return EX_TEMPFAIL if plan.left else EX_OK


def _print_plan(plan: ErasePlan, as_json: bool, *, dry: bool) -> None:
    if as_json:
        print_json({"customer": plan.address, "dry_run": dry,
                    "tickets": [{"reference": r, "role": role} for r, role in plan.tickets],
                    "without_ticket": plan.loose, "erased_before": plan.earlier,
                    "changed": plan.changed, "left": plan.left})
        return
    if plan.empty:
        print(f"nothing of {plan.address} is stored any more: erased before on "
              f"{plan.earlier[0][1][:10]} ({len(plan.earlier)} tickets anonymised)")
        return
    head = "would erase" if dry else "erased"
    refs = ", ".join(f"{r} ({role})" for r, role in plan.tickets) or "none"
    print(f"{head} {plan.address} from tickets: {refs}")
    loose = ", ".join(f"{k}: {v}" for k, v in plan.loose.items() if v and k != "waiting")
    if loose:
        print(f"{head} without a ticket: {loose}")
    if dry:
        if plan.loose.get("waiting"):
            print(f"{plan.loose['waiting']} mails of theirs wait to be processed: "
                  "run erase again once they are")
        print("nothing changed: run again with --yes to erase")
        return
    print("changed: " + ", ".join(f"{k} {v}" for k, v in plan.changed.items()))
    for what, items in plan.left.items():
        print(f"still stored ({what}, arrived meanwhile): {', '.join(items)}; run again")


def cmd_purge(args: argparse.Namespace) -> int:
    """Remove the raw mail and attachments of tickets closed longer than keep_raw_for."""
    from mailgate import privacy
    from mailgate.config.fields import parse_duration

    config = load(args)
    if args.older_than:
        try:
            keep = parse_duration(args.older_than)
        except ValueError as exc:
            print(f"mailgate: --older-than: {exc}", file=sys.stderr)
            return EX_USAGE
    elif config.store.keep_raw_for is None:
        print(f"mailgate: store.keep_raw_for is off in {config.source}: set it (for example"
              f' "180d") or give --older-than', file=sys.stderr)
        return EX_USAGE
    else:
        keep = config.store.keep_raw_for
    store = cli_store(config)
    done = privacy.purge_raw(store, keep, clock.now(), actor=f"cli:{_user()}",
                             dry_run=args.dry_run)
    if args.dry_run:
        print(f"would purge {done.tickets} tickets closed before "
              f"{datetime.now(UTC) - keep:%Y-%m-%d %H:%M} UTC; nothing changed")
    else:
        print(f"purged {done.tickets} tickets: {done.raw} raw mails, "
              f"{done.attachments} attachments ({done.blobs} files deleted)")
    return EX_OK


def register(add: AddCommand) -> None:
    p = add("export", cmd_export, "write everything of one customer into a folder or archive",
            "mailgate export --customer alice@example.org -o alice.zip")
    p.add_argument("--customer", required=True, metavar="ADDRESS")
    p.add_argument("-o", "--output", metavar="DIR|FILE.zip|FILE.tar.gz",
                   help="where to write (default: mailgate-export-ADDRESS-TIME in this folder)")
    p = add("erase", cmd_erase, "erase one customer's mail, texts, files and address",
            "mailgate erase --customer alice@example.org --yes")
    p.add_argument("--customer", required=True, metavar="ADDRESS")
    p.add_argument("--yes", action="store_true", help="really erase (without: show what)")
    p.add_argument("--json", action="store_true")
    p = add("purge", cmd_purge, "remove raw mail and attachments of tickets closed longer "
            "than store.keep_raw_for", "mailgate purge --dry-run")
    p.add_argument("--older-than", metavar="DURATION",
                   help="instead of store.keep_raw_for, e.g. 180d")
    p.add_argument("--dry-run", action="store_true", help="count, change nothing")
