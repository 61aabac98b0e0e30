"""Waiting with a deadline and picking a free port: shared by the tests and the benchmark.

Nothing here sleeps to "let things settle": ``wait_until`` polls something only another
thread or process can change (a port, a database, a file) and fails at its deadline.
Standard library only, so ``bench/`` can import it too.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10, *, interval: float = 0.05,
               message: str | Callable[[], str] = "condition not met",
               pause: Callable[[float], object] = time.sleep) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail with an
    AssertionError naming ``message`` after ``timeout`` seconds.

    ``pause(interval)`` runs between polls: ``time.sleep`` unless the caller has something
    better to wait on (a condition variable notified when the state may have changed).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.1f}s: {text}")
        pause(interval)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_processed(config_path: Path, timeout: float = 30) -> None:
    """Wait until what ``mailgate ingest`` stored is processed: with no daemon running, a
    drainer it started does that after it exits (``mailgate.cli.drain``). Done when no
    drainer holds its lock and nothing in the spool is still new."""
    from mailgate.cli.ingest import DRAIN_LOCK
    from mailgate.config import load_config
    from mailgate.store import open_store

    config = load_config(config_path)
    lock = Path(config.state_dir) / DRAIN_LOCK

    def idle() -> bool:
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    wait_until(idle, timeout, message="a drainer still runs")
    store = open_store(config, migrate=False)
    try:
        wait_until(lambda: not store.spool_backlog().get("new"), timeout,
                   message=lambda: f"spool: {store.spool_backlog()}")
    finally:
        store.close()
    # and the drainer has exited: after it lets go of its lock it looks at the spool once
    # more, so a row added while it still runs would be its (and not the test's) to claim
    wait_until(lambda: not _drainers(config_path), timeout,
               message=lambda: f"drainers still running: {_drainers(config_path)}")


def _drainers(config_path: Path) -> list[int]:
    """Pids of ``mailgate drain`` processes for this config file (from /proc)."""
    wanted = os.path.abspath(config_path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if b"drain" in argv and wanted in argv:
            found.append(int(entry.name))
    return found
