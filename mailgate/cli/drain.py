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

A drainer that cannot start (the config or its templates broken, the store
unreachable) leaves ``<state_dir>/drain-failed`` (the error). While it is
there, ``ingest`` takes a validating path: the config and the pipeline are
loaded as a drainer loads them, and on failure it defers (exit 75) with the
error in the MTA's log, rather than storing mail nobody can process; once they
load, the note goes and the mail is stored and handed over as usual.

A drainer killed mid-batch leaves its claims; the next drainer (or a daemon)
on this host frees them at its start, as the claimant is certainly dead. With
no more mail and no daemon, nothing starts one: like mail in a stopped
daemon's spool, it waits for the next mail or ``mailgate serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import suppress
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

    path = config_file(config_path(args.config))
    quick = quick_settings(path) if path else None
    state_dir, fd = (quick.state_dir, _lock(quick.state_dir)) if quick else (None, None)
    if quick and fd is None:  # (the lock before the models: they take ~0.3 s)
        print("mailgate: another drainer is processing the spool", file=sys.stderr)
        return EX_OK
    try:
        config = load(args)
        if fd is None:
            state_dir = str(config.state_dir)
            fd = _lock(state_dir)
            if fd is None:
                print("mailgate: another drainer is processing the spool", file=sys.stderr)
                return EX_OK
        processor = _processor(config)
    except Exception as exc:  # nothing can be processed: ingest is to validate and defer
        if state_dir:
            _note_failure(state_dir, exc)
        raise
    with suppress(FileNotFoundError):
        os.unlink(os.path.join(config.state_dir, DRAIN_FAILED))
    print(f"{drain_locked(processor, fd)} message(s) processed")
    return EX_OK


def _note_failure(state_dir: str, exc: Exception) -> None:
    """Leave ``drain-failed`` (see the module docstring) unless it cannot be written."""
    with suppress(OSError), open(os.path.join(state_dir, DRAIN_FAILED), "w",
                                 encoding="utf-8") as file:
        file.write(f"{type(exc).__name__}: {exc}\n")


def _lock(state_dir: str) -> int | None:
    """The drainers' lock, taken; None if another drainer holds it. Refused (ConfigError)
    when the state folder belongs to another user: a drainer run as root would leave files
    the daemon's user cannot use. Opened read-only (flock needs no more), readable by all,
    so a lock file created by another user still works."""
    import fcntl

    from mailgate.errors import ConfigError

    os.makedirs(state_dir, exist_ok=True)
    owner = os.stat(state_dir).st_uid
    if owner != os.geteuid():
        raise ConfigError(f"refusing to drain as uid {os.geteuid()}: the state folder "
                          f"{state_dir} belongs to uid {owner}; run the command as that user")
    fd = os.open(os.path.join(state_dir, DRAIN_LOCK), os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC,
                 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def drain_locked(processor: Processor, fd: int) -> int:
    """Process the spool holding the lock ``fd``; the rows processed (see the module
    docstring for the order of letting go and claiming once more). Claims of dead
    processes of this host (a drainer killed mid-batch) are freed first."""
    import fcntl

    from mailgate.claimants import dead_claimants

    store = processor.store
    total = 0
    try:
        dead = dead_claimants(store.claimants())  # (processes only: never a daemon's node)
        if dead:
            store.release_claims(dead)
        while True:
            total += _drain(processor)
            fcntl.flock(fd, fcntl.LOCK_UN)
            late = _drain(processor)  # mail stored while the lock was held
            total += late
            if not late:
                return total
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another drainer took over
                return total
    finally:
        store.close()
        os.close(fd)


def _drain(processor: Processor, tries: int = 6) -> int:
    """``processor.drain()``, waiting out a busy or unreachable store (0.5 s, doubling)."""
    from mailgate.errors import TransientError

    for attempt in range(tries):
        try:
            return processor.drain()
        except TransientError:
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * 2 ** attempt)
    return 0


def _processor(config: Config) -> Processor:
    from mailgate.claimants import process_name
    from mailgate.cli.common import cli_store
    from mailgate.logs import configure_logging
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer

    configure_logging(config.logging)  # (a detached drainer's stderr is /dev/null)
    store = cli_store(config)
    store.take_turns()  # with the daemon's processor processes (see Store.take_turns)
    try:  # claims in this process's own name: never a daemon's (its node_name, its children)
        return Processor(config, store, Pipeline(config, Renderer(config.templates_dir)),
                         node=process_name())
    except BaseException:
        store.close()
        raise


def register(add: AddCommand) -> None:
    """Add ``drain`` to the command line."""
    add("drain", cmd_drain, "process the mail waiting in the spool, then exit (what ingest "
        "starts when no daemon runs)", "mailgate drain -c mailgate.toml")
