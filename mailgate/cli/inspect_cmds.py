"""Looking without touching: ``trace`` a message that came, ``explain`` one that
might, ``templates`` list and preview. The work is in ``mailgate.inspect``; this
is the command line and the output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mailgate.cli.common import EX_OK, AddCommand, cli_store, load, print_json, table
from mailgate.errors import MailgateError


def cmd_trace(args: argparse.Namespace) -> int:
    """The story of one message (Message-ID, file or spool id), for a reader or ``--json``."""
    from mailgate import inspect

    story = inspect.trace(cli_store(load(args)), args.what)
    if args.json:
        print_json(story)
    else:
        inspect.print_trace(story)
    return EX_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """Dry-run the pipeline on a message and say what it would do, and why."""
    from mailgate import inspect

    config = load(args)
    raw = _read_input(args.file)
    result = inspect.explain(config, cli_store(config), raw, mail_from=args.sender,
                             rcpt_tos=args.recipient, channel=args.channel)
    if args.json:
        print_json(result)
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
    """List the templates, or preview one exactly as it would be sent."""
    from mailgate import inspect
    from mailgate.render import TEMPLATES, Renderer

    config = load(args)
    if args.action == "update":
        from mailgate import template_copies

        updated = template_copies.update_copies(config.templates_dir)
        print(f"{config.templates_dir}: " + (f"updated {', '.join(updated)}" if updated else
              "nothing to update (no unedited copy of an older packaged version)"))
        return EX_OK
    if args.action == "list":
        renderer = Renderer(config.templates_dir)
        rows = []
        for path in sorted(renderer.directory.glob("*.j2")):
            name = path.name.removesuffix(".j2")
            rows.append({"file": str(path), "template": name.rsplit(".", 1)[0],
                         "part": name.rsplit(".", 1)[-1],
                         "used": name.rsplit(".", 1)[0] in TEMPLATES})
        if args.json:
            print_json(rows)
        else:
            table("Templates", ["template", "part", "file"],
                  [[r["template"], r["part"], r["file"]] for r in rows])
        return EX_OK
    if not args.name:
        raise MailgateError("give the template name, e.g. `mailgate templates preview ack`")
    store = cli_store(config) if args.ticket else None
    raw = inspect.preview(config, store, args.name, args.ticket)
    if args.raw:
        sys.stdout.buffer.write(raw)
    elif args.json:
        from email import policy
        from email.parser import BytesParser

        msg = BytesParser(policy=policy.default).parsebytes(raw)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        print_json({"headers": [[k, str(v)] for k, v in msg.items()],
                    "subject": str(msg["Subject"]),
                    "text": text.get_content() if text is not None else None,
                    "html": html.get_content() if html is not None else None})
    else:
        sys.stdout.write(inspect.readable(raw, html=args.html))
    return EX_OK


def register(add: AddCommand) -> None:
    """Add ``trace``, ``explain`` and ``templates``."""
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
            "mailgate templates preview ack --ticket SUP-000123\n  mailgate templates list"
            "\n  mailgate templates update")
    p.add_argument("action", nargs="?", choices=["list", "preview", "update"], default="list",
                   help="list (the default), preview NAME, or update (copy this version's "
                        "packaged templates over unedited copies of older ones)")
    p.add_argument("name", nargs="?", help="template name: ack, reminder, ...")
    p.add_argument("--ticket", metavar="REF", help="use this ticket's data (default: samples)")
    p.add_argument("--html", action="store_true", help="print the HTML part too")
    p.add_argument("--raw", action="store_true", help="print the exact bytes (MIME)")
    p.add_argument("--json", action="store_true")
