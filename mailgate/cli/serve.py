"""``serve`` runs the daemon; ``ingest`` is the MTA's pipe into it (``mailgate.cli.ingest``)."""

from __future__ import annotations

import argparse

from mailgate.cli.common import EX_OK, AddCommand, load


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the daemon until it is stopped."""
    import asyncio

    from mailgate.daemon import Daemon
    from mailgate.logs import configure_logging
    from mailgate.workers import set_aside_startup_objects

    config = load(args)
    configure_logging(config.logging)
    daemon = Daemon(config)
    set_aside_startup_objects()
    asyncio.run(daemon.serve())
    return EX_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    """Store one message from stdin (``mailgate.cli.ingest``; ``main`` hands ``ingest`` its
    arguments before this parser is even built, this serves callers of the parser)."""
    from mailgate.cli import ingest

    return ingest.run(ingest.Args(args.config, args.sender, args.recipient or []))


def register(add: AddCommand) -> None:
    """Add ``serve`` and ``ingest`` to the command line."""
    add("serve", cmd_serve, "run the daemon (SMTP listener, processor, outbox sender)",
        "mailgate serve -c mailgate.toml")
    p = add("ingest", cmd_ingest, "store one message read from stdin (for Postfix pipe, "
            "procmail, fetchmail)", "mailgate ingest -c mailgate.toml -f \"$sender\" < m.eml")
    p.add_argument("-f", "--sender", help="envelope sender (Postfix: ${sender})")
    p.add_argument("-r", "--recipient", action="extend", nargs="+",
                   help="envelope recipient(s) (Postfix: ${recipient}); repeatable")
