"""Tickets from the command line: list, show, the SLA report, and the desk's changes.

Status, assignment and merges go through ``mailgate.desk``, the service layer
mail commands use too, so the events and SLA clocks come out the same; the
actor recorded is ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from mailgate import clock
from mailgate.cli.common import (
    EX_OK,
    AddCommand,
    cli_store,
    load,
    print_json,
    read_store,
    table,
)
from mailgate.errors import MailgateError

if TYPE_CHECKING:  # (not at run time: the read commands start without the config models)
    from datetime import datetime

    from mailgate.config import Config
    from mailgate.store import Store


def cmd_tickets(args: argparse.Namespace) -> int:
    """List tickets (``--status`` for one status) as a table, or ``--json`` for scripts;
    when ``--limit`` cut the list, say so on stderr (stdout stays the list)."""
    from mailgate.statuses import STATUSES  # (not mailgate.config: no config models here)
    from mailgate.views import ticket_summary

    if args.status is not None and args.status not in STATUSES:
        raise MailgateError(f"unknown status {args.status!r}; one of {', '.join(STATUSES)}")
    if args.limit < 1:
        raise MailgateError("--limit must be 1 or more")
    paused: list[str] = []
    assignee = args.assignee
    if args.overdue or (assignee and "@" not in assignee):
        config = load(args)  # the pause statuses; an engineer's short name (as `assign`)
        paused = list(config.sla.pause_statuses) if args.overdue else []
        if assignee and "@" not in assignee:
            assignee = config.team.engineer_address(assignee)
            if assignee is None:
                raise MailgateError(f"no engineer {args.assignee!r} in [team] engineers; "
                                    "give a short name from there or an address")
    store = read_store(args)
    narrowed = any(v is not None for v in (args.assignee, args.requester, args.level)) \
        or args.overdue
    rows = [ticket_summary(r) for r in store.tickets(
        args.status, args.limit, assignee=assignee, requester=args.requester,
        level=args.level, overdue_at=clock.now() if args.overdue else None, paused=paused)]
    if len(rows) == args.limit and not narrowed:
        counts = store.ticket_counts()
        total = counts.get(args.status, 0) if args.status else sum(counts.values())
        if total > len(rows):
            print(f"showing the newest {len(rows)} of {total} tickets; use --limit {total} "
                  "for all", file=sys.stderr)
    if args.json:
        print_json(rows)
        return EX_OK
    table("Tickets", ["reference", "status", "subject", "requester", "sla", "assignee",
                      "updated"],
          [[r["reference"], r["status"], r["subject"][:60], r["requester"], r["sla_level"],
            r["assignee"] or "", r["updated_at"][:19]] for r in rows])
    return EX_OK


def cmd_show(args: argparse.Namespace) -> int:
    """One ticket with its messages and events, for a reader or ``--json``."""
    from mailgate.views import ticket_detail

    store = read_store(args)
    detail = ticket_detail(store, store.ticket_by_reference(args.reference))
    if args.json:
        print_json(detail)
        return EX_OK
    print(f"{detail['reference']}  [{detail['status']}]  {detail['subject']}")
    print(f"requester: {detail['requester']}   SLA: {detail['sla_level']}   "
          f"first response due: {detail['first_response_due']}")
    if detail["rating"]:
        print(f"rating: {detail['rating']['rating']} of 5 ({detail['rating']['how']}, "
              f"{detail['rating']['rated_at'][:16]})")
    if detail["participants"]:
        print("participants: " + ", ".join(p["address"] for p in detail["participants"]))
    for m in detail["messages"]:
        arrow = "<-" if m["direction"] == "in" else "->"
        print(f"\n{arrow} {m['date'] or m['received_at']}  {m['from']}  ({m['kind']})")
        print(f"   {m['subject'] if m['subject'] is not None else '(erased)'}")
        for a in m["attachments"]:
            print(f"   attachment {a['number']}: {a['filename']} ({a['content_type']}, "
                  f"{a['size']} bytes)")
    print("\nevents:")
    for e in detail["events"]:
        print(f"  {e['at'][:19]}  {e['kind']:<18} {e['actor']}: {e['detail']}")
    return EX_OK


def cmd_attachment(args: argparse.Namespace) -> int:
    """Write file N of a ticket (numbered as ``show`` and the notifications list them) to
    ``-o FILE``, ``-o -`` (stdout), or by default its stored name in the current folder."""
    import sys
    from pathlib import Path

    store = cli_store(load(args))
    ticket = store.ticket_by_reference(args.reference)
    found = store.ticket_attachments(ticket.id)
    if not 1 <= args.number <= len(found):
        raise MailgateError(f"{ticket.reference} has {len(found)} attachment(s); "
                            f"no number {args.number}")
    wanted = found[args.number - 1]
    data = store.blob(wanted["sha256"])
    if data is None:
        raise MailgateError(f"the bytes of attachment {args.number} are missing")
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EX_OK
    target = Path(args.output or wanted["filename"])
    try:
        with open(target, "wb" if args.output else "xb") as out:
            out.write(data)
    except FileExistsError as exc:
        raise MailgateError(f"{target} exists; name another with -o FILE") from exc
    except OSError as exc:
        raise MailgateError(f"cannot write {target}: {exc.strerror}") from exc
    print(f"{target}: {len(data)} bytes ({wanted['content_type']})", file=sys.stderr)
    return EX_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Change a ticket's status through the same service layer as mail commands."""
    from mailgate import desk

    config = load(args)
    store = cli_store(config)
    status = {"close": "closed", "reopen": "open"}.get(args.command, getattr(args, "status", ""))
    with store.transaction():
        ticket = store.ticket_by_reference(args.reference)
        now = clock.now()
        changed = desk.set_status(config, store, ticket, status, actor=f"cli:{_user()}",
                                  why=args.reason or "changed from the command line", now=now)
        if changed and status == "closed":
            _resolved_mail(config, store, ticket.id, now)
    print(f"{ticket.reference}: {ticket.status} -> {status}" if changed
          else f"{ticket.reference} is already {status}")
    return EX_OK


def _resolved_mail(config: Config, store: Store, ticket_id: int, now: datetime) -> None:
    """The resolved mail (``[conversation] resolved_mail``), queued as a mail command would."""
    from mailgate import resolution
    from mailgate.mailer import Mailer
    from mailgate.render import Renderer

    mailer = Mailer(config, Renderer(config.templates_dir))
    resolution.send_resolved(config, store, mailer, store.ticket(ticket_id), now)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def cmd_sla(args: argparse.Namespace) -> int:
    """Per level: clocks met, breached, running (at risk: past the first reminder point)."""
    config = load(args)
    store = cli_store(config)
    report = store.sla_report(clock.now())
    upcoming = [r for r in store.reminders() if r["state"] == "pending"][:args.limit]
    ratings = _satisfaction(store)
    if args.json:
        print_json({"levels": report, "next_reminders": upcoming, "satisfaction": ratings})
        return EX_OK
    table("SLA by level", ["level", "clock", "met", "breached", "running", "overdue now",
                           "closed unanswered"],
          [[r["level"], r["kind"], r["met"], r["breached"], r["running"], r["overdue"],
            r["unanswered"]]
           for r in report])
    table("Next reminders", ["ticket", "clock", "point", "fires at", "due"],
          [[r["ticket"], r["kind"], f"{min(r['point'], 1):.0%}", r["fire_at"][:16],
            r["due_at"][:16]] for r in upcoming])
    table("Satisfaction", ["asked", "rated", "average", *map(str, range(1, 6))],
          [[ratings["requested"], ratings["rated"], ratings["average"] or "-",
            *ratings["counts"].values()]])
    return EX_OK


def _satisfaction(store: Store) -> dict[str, Any]:
    """Tickets asked for a rating, rated, the average and the count per rating (latest
    rating of each ticket)."""
    counts = store.rating_counts()
    rated = sum(counts.values())
    average = round(sum(v * n for v, n in counts.items()) / rated, 2) if rated else None
    return {"requested": store.ratings_requested(), "rated": rated, "average": average,
            "counts": {str(v): n for v, n in counts.items()}}


def cmd_assign(args: argparse.Namespace) -> int:
    """Assign a ticket to an engineer of ``[team]``, or unassign it."""
    from mailgate import desk

    if not args.who and not args.unassign:
        raise MailgateError("give an engineer (short name or address) or --unassign")
    config = load(args)
    store = cli_store(config)
    with store.transaction():
        ticket = store.ticket_by_reference(args.reference)
        address = desk.assign(config, store, ticket, None if args.unassign else args.who,
                              actor=f"cli:{_user()}", now=clock.now())
    if args.json:
        print_json({"reference": ticket.reference, "assignee": address})
    else:
        print(f"{ticket.reference} assigned to {address}" if address
              else f"{ticket.reference} unassigned")
    return EX_OK


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge one ticket into another, so mail citing either reaches the survivor."""
    from mailgate import desk

    config = load(args)
    store = cli_store(config)
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
        print_json({"source": source.reference, "target": survivor.reference})
    else:
        print(f"{source.reference} merged into {survivor.reference}")
    return EX_OK


def register(add: AddCommand) -> None:
    """Add ``tickets``, ``show``, ``attachment``, ``status``, ``close``, ``reopen``, ``sla``."""
    p = add("tickets", cmd_tickets, "list tickets",
            "mailgate tickets --status open --json\n  mailgate tickets --overdue --assignee "
            "alice@example.com")
    p.add_argument("--status", help="only tickets in this status (open, in_progress, "
                   "awaiting_reply, on_hold, planned, acceptance, waiting_for_deploy, closed)")
    p.add_argument("--assignee", help="only tickets assigned to this engineer (a short name "
                   "of [team] engineers, or an address)")
    p.add_argument("--requester", help="only tickets of this requester address")
    p.add_argument("--level", help="only tickets of this SLA level")
    p.add_argument("--overdue", action="store_true",
                   help="only tickets past a deadline now (first response or resolution), "
                        "neither closed nor paused")
    p.add_argument("--limit", type=int, default=200,
                   help="show at most this many, newest first (default 200; a cut list is "
                        "said on stderr)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("show", cmd_show, "show one ticket with its messages and events",
            "mailgate show SUP-000123 --json")
    p.add_argument("reference")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add("attachment", cmd_attachment, "save file N of a ticket (numbered as in show)",
            "mailgate attachment SUP-000123 2 -o screenshot.png\n"
            "  mailgate attachment SUP-000123 3 -o - | less")
    p.add_argument("reference")
    p.add_argument("number", type=int, help="the file's number on the ticket (see show)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write it; '-' for stdout (default: its name, here, "
                        "never overwriting)")
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


def register_desk(add: AddCommand) -> None:
    """Add ``assign`` and ``merge`` (listed after the operations commands in --help)."""
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
