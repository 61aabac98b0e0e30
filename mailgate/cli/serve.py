"""``serve`` runs the daemon; ``ingest`` is the MTA's pipe into it.

``ingest`` follows sendmail's exit codes so Postfix's ``pipe`` and procmail do
the right thing: 0 once the message is durably stored, 75 (EX_TEMPFAIL) when
it must be retried, 65 (EX_DATAERR) for input that can never be a message.
It runs once per mail, so the pipeline is imported only when it must process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from mailgate import clock
from mailgate.cli.common import EX_DATAERR, EX_OK, EX_TEMPFAIL, AddCommand, cli_store, load
from mailgate.config import Config
from mailgate.errors import ConfigError, SchemaError, TransientError


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the daemon until it is stopped."""
    from mailgate.daemon import Daemon
    from mailgate.logs import configure_logging

    config = load(args)
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
        config = load(args)
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
        store = cli_store(config, create=True)  # an intake, like serve: it may create
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
            config.templates_dir)))
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


def register(add: AddCommand) -> None:
    """Add ``serve`` and ``ingest`` to the command line."""
    add("serve", cmd_serve, "run the daemon (SMTP listener, processor, outbox sender)",
        "mailgate serve -c mailgate.toml")
    p = add("ingest", cmd_ingest, "store one message read from stdin (for Postfix pipe, "
            "procmail, fetchmail)", "mailgate ingest -c mailgate.toml -f \"$sender\" < m.eml")
    p.add_argument("-f", "--sender", help="envelope sender (Postfix: ${sender})")
    p.add_argument("-r", "--recipient", action="append", help="envelope recipient")
