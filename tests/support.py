"""Waiting with a deadline and picking a free port: shared by the tests and the benchmark.

Nothing here sleeps to "let things settle": ``wait_until`` polls something only another
thread or process can change (a port, a database, a file) and fails at its deadline.
Standard library only, so ``bench/`` can import it too.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
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
