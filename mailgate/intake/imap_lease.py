"""The IMAP account lease: which of several nodes reads an account (see mailgate/intake/imap.py).

Kept apart from the fetching: the lease is about the store shared by the nodes,
not about the mailbox. The fetcher asks ``keep`` before every step that must
not happen once another node reads (accepting, flagging, moving the cursor),
and waits in slices no longer than ``renewal_in`` so a renewal is never late.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

LEASE_RETRY_MAX = 5.0  # seconds between a standby node's attempts to take the lease


class LeaseStore(Protocol):
    """Which node reads which account: a lease in the store shared by the nodes."""

    def take_imap_lease(self, account: str, node: str, seconds: float) -> str | None:
        """Take or renew the lease for ``seconds`` if free, expired or ``node``'s; return
        the holder afterwards (``node`` when it is ours)."""
        ...

    def release_imap_lease(self, account: str, node: str) -> None:
        ...


class LeaseLost(Exception):
    """The account's lease is another node's now, or could not be renewed: stop reading."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class AccountLease:
    """One account's lease as seen by one node; without a store it is always ours."""

    def __init__(self, leases: LeaseStore | None, account: str, node: str, seconds: float,
                 log: Any) -> None:
        self._leases, self._account, self.node = leases, account, node
        self._lease = seconds
        self._log = log
        self._renewed: float | None = None  # monotonic start of the last renewal; None: not ours
        self._standby_for: str | None = None  # the holder last reported while waiting

    def _take(self) -> str | None:
        """Ask the store once; the holder afterwards. Store errors propagate."""
        assert self._leases is not None
        began = time.monotonic()
        holder = self._leases.take_imap_lease(self._account, self.node, self._lease)
        if holder == self.node:
            if self._renewed is None:
                self._log.info("imap_lease_acquired", holder=self.node,
                               lease_seconds=self._lease)
            self._renewed, self._standby_for = began, None
        else:
            self._renewed = None
        return holder

    def renewal_in(self) -> float:
        """Seconds until the lease is due for renewal (infinite without a lease store)."""
        if self._leases is None:
            return float("inf")
        if self._renewed is None:
            return 0.0
        return max(0.0, self._renewed + self._lease / 3 - time.monotonic())

    def keep(self) -> None:
        """Renew the lease when a third of it has passed; LeaseLost if it is not ours."""
        if self.renewal_in() > 0:
            return
        try:
            holder = self._take()
        except Exception as exc:
            self._renewed = None  # we cannot know that no one else has it now
            raise LeaseLost(f"the lease could not be renewed: {why(exc)}") from exc
        if holder != self.node:
            raise LeaseLost(f"the lease is held by {holder}", holder)

    def wait(self, stop: threading.Event) -> bool:
        """Return once the lease is ours (True), or when ``stop`` is set (False)."""
        if self._leases is None or self._renewed is not None:
            return not stop.is_set()
        retry = min(LEASE_RETRY_MAX, self._lease / 3)
        while not stop.is_set():
            try:
                holder = self._take()
            except Exception as exc:
                self._log.warning("imap_lease_unavailable", reason=why(exc), retry_in=retry)
                self._standby_for = None
                stop.wait(retry)
                continue
            if holder == self.node:
                return True
            if holder != self._standby_for:
                self._standby_for = holder
                self._log.info("imap_standby", holder=holder, retry_in=round(retry, 2))
            stop.wait(retry)
        return False

    def release(self, reason: str) -> None:
        """Give the lease back, if ours, so another node may take it at once (best effort)."""
        if self._leases is None or self._renewed is None:
            return
        self._renewed = None
        try:
            self._leases.release_imap_lease(self._account, self.node)
        except Exception as exc:  # it runs out by itself
            self._log.warning("imap_lease_not_released", reason=why(exc))
            return
        self._log.info("imap_lease_released", holder=None, why=reason)

    def sleep(self, stop: threading.Event, seconds: float) -> None:
        """``stop.wait(seconds)``, cut into slices so that the lease is renewed on time."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            stop.wait(min(left, self.renewal_in()))
            self.keep()


def why(exc: BaseException) -> str:
    """An exception for a log line: its type, and its message when it has one."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
