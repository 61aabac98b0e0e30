"""``mailgate drain``: process what waits in the spool, then exit.

Why: without a running daemon, ``mailgate ingest`` (one process per mail under
Postfix's ``pipe``) would have to load the config models and the pipeline for
every mail, about a second each. Instead it stores the mail with the quick
path and starts one detached drainer (``mailgate.cli.ingest.start_drainer``), which loads them
once and processes every waiting mail; ingests that arrive meanwhile only
store theirs and exit. An admin may run ``mailgate drain`` by hand too.

One drainer at a time per state folder: the drainer holds an flock on
``<state_dir>/drain.lock`` (taken before it loads the config models, so that
a burst of mail starts one drainer, not one per mail); an ingest that finds
it held starts none. No mail is stranded: such an ingest committed its row
before the drainer lets the lock go, and the drainer claims once more *after*
letting go, so it sees that row (and newer ones find the lock free and start a
drainer of their own; one started twice exits at once). Processing
correctness does not rest on the lock: spool rows are claimed with leases,
so a drainer and a daemon (or two drainers) never process one row twice.

A drainer that cannot load the config leaves ``<state_dir>/drain-failed``
(the error); while that file is newer than the config file, ``ingest`` takes
its full path, which validates the config and defers (exit 75) with the error
in the MTA's log, rather than storing mail nobody can process.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from mailgate.cli.common import EX_OK, AddCommand

if TYPE_CHECKING:
    from mailgate.config import Config
    from mailgate.processor import Processor

from mailgate.cli.ingest import DRAIN_FAILED, DRAIN_LOCK


def cmd_drain(args: argparse.Namespace) -> int:
    """Process the spool now (unless another drainer is at it), then exit."""
    from mailgate.cli.common import config_path, load
    from mailgate.cli.ingest import config_file, quick_settings
    from mailgate.errors import ConfigError

    path = config_file(config_path(args.config))
    quick = quick_settings(path) if path else None
    fd = _lock(quick.state_dir) if quick else None  # before the models: ~0.3 s
    if quick and fd is None:
        print("mailgate: another drainer is processing the spool", file=sys.stderr)
        return EX_OK
    try:
        config = load(args)
    except ConfigError as exc:
        if quick:
            with open(os.path.join(quick.state_dir, DRAIN_FAILED), "w",
                      encoding="utf-8") as file:
                file.write(f"{exc}\n")
        raise
    failed = os.path.join(config.state_dir, DRAIN_FAILED)
    if os.path.exists(failed):
        os.unlink(failed)
    if fd is None:
        fd = _lock(str(config.state_dir))
        if fd is None:
            print("mailgate: another drainer is processing the spool", file=sys.stderr)
            return EX_OK
    print(f"{drain_locked(config, fd)} message(s) processed")
    return EX_OK


def _lock(state_dir: str) -> int | None:
    """The drainers' lock, taken; None if another drainer holds it."""
    import fcntl

    os.makedirs(state_dir, exist_ok=True)
    fd = os.open(os.path.join(state_dir, DRAIN_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def drain_locked(config: Config, fd: int) -> int:
    """Process the spool holding the lock ``fd``; the rows processed (see the module
    docstring for the order of letting go and claiming once more)."""
    import fcntl

    processor = _processor(config)
    total = 0
    try:
        while True:
            total += processor.drain()
            fcntl.flock(fd, fcntl.LOCK_UN)
            late = processor.drain()  # mail stored while the lock was held
            total += late
            if not late:
                return total
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another drainer took over
                return total
    finally:
        processor.store.close()
        os.close(fd)


def _processor(config: Config) -> Processor:
    from mailgate.cli.common import cli_store
    from mailgate.logs import configure_logging
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    configure_logging(config.logging)  # (a detached drainer's stderr is /dev/null)
    store = cli_store(config)
    return Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))


def register(add: AddCommand) -> None:
    """Add ``drain`` to the command line."""
    add("drain", cmd_drain, "process the mail waiting in the spool, then exit (what ingest "
        "starts when no daemon runs)", "mailgate drain -c mailgate.toml")
