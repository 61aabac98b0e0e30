"""IMAP intake: fetch new mail from one mailbox folder into the spool.

Why it works this way:

* What is new is decided by a UID cursor (UIDVALIDITY, last processed UID) kept
  in the store, not by IMAP flags: people read, unread and move mail in the
  same mailbox with their own clients. The after-action (``\\Seen``, move,
  delete) is tidying up for humans and happens only once ``Acceptor.accept``
  has returned, i.e. the raw bytes are durably in the spool. A crash between
  the two means the message is accepted again on the next run, which the
  downstream dedupe (Message-ID / content hash) absorbs; the opposite order
  could lose mail.
* ``after = "seen"``: on the very first run of an account (no cursor yet),
  messages already ``\\Seen`` are skipped, since a human has dealt with them
  before mailgate was switched on. The first run is fixed when it starts: unread
  mail up to the highest UID then; that mark is stored (as the negative cursor
  ``-N``) and kept until the run has finished, so a run cut short resumes as a
  first run. From then on only the UID cursor decides, so a message somebody
  opens before we get to it is still taken.
* A UIDVALIDITY change means the server renumbered the folder: it is logged
  once and the folder is rescanned from UID 1 (dedupe keeps that idempotent).
  In ``seen`` mode the rescan is a first run again: only unread mail is taken
  (what we took is ``\\Seen``; the folder's read history is never emptied).
* Size: ``RFC822.SIZE`` is fetched first. A message over ``max_message_size``
  (the daemon passes ``smtp.max_message_size``, the limit of SMTP and pipe) is
  never downloaded: it is moved whole to ``error_folder`` and reported once
  (``imap_message_too_large``); the raw bytes stay on the server, intact. A
  batch holds ``batch_size`` messages and at most that limit in bytes, so
  memory stays bounded by one maximal message however the mailbox looks.
* ``accept`` raising :class:`~mailgate.errors.TransientError` (spool busy)
  leaves the message alone and ends the round; it is retried next round. Any
  other exception is a problem with that one message: it stays on the server
  untouched, the cursor moves past it so it cannot block the queue, and it is
  retried with a backoff (1 min doubling to 1 h) while this process runs.
* imapclient is synchronous: the daemon gives :meth:`ImapFetcher.run` a thread.
* Several nodes may be configured with the same account: only the holder of the
  account's lease in the store reads it (``LeaseStore``; without one, as in a
  single process's tests, there is no lease). The lease is taken before
  connecting and renewed whenever a third of it has passed: before each message,
  between rounds, and while waiting in IDLE or between polls (the wait is cut
  into slices for that). A renewal that fails, because another node holds the
  lease or the store cannot be reached, stops the reading at once: the fetcher
  logs out and goes back to waiting for the lease. A node without the lease
  waits in standby and asks again every few seconds, so it takes over within
  ``lease`` plus that retry interval once the holder stops renewing (a kill -9,
  a power cut). A clean stop gives the lease back at once, and so does a
  connection failure: another node may reach the server when this one cannot.
  Mail a holder had accepted but not yet flagged when it lost the lease is
  fetched again by the next holder and recorded as a duplicate, as after a crash.

The lease itself is in mailgate/intake/imap_lease.py, the IMAP conversation (connect,
login, IDLE) in mailgate/intake/imap_client.py; this module keeps the bookkeeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from mailgate.config import ImapAccount
from mailgate.errors import TransientError
from mailgate.intake import Acceptor
from mailgate.intake.imap_client import connect, idle_until, shutdown
from mailgate.intake.imap_lease import AccountLease, LeaseLost, LeaseStore, why

__all__ = ["CursorStore", "ImapFetcher", "LeaseLost", "LeaseStore"]

SEEN = b"\\Seen"
OUTCOME_TIMEOUT = 2.0  # how long a batch waits for the processor's verdicts
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 300.0  # reconnects
STALL_RETRY = 10.0  # after a TransientError from the spool
FAILED_RETRY_INITIAL, FAILED_RETRY_MAX = 60.0, 3600.0  # messages accept() choked on
DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024  # the daemon passes smtp.max_message_size
IDLE_MAX = 29 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
CONNECTION_ERRORS = (IMAPClientError, OSError)


class CursorStore(Protocol):
    """Where the fetcher remembers how far it got in each folder."""

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        """Return (uidvalidity, last processed uid); (None, 0) when unknown.

        A negative ``-N`` marks a first run in seen mode still under way (up to UID N).
        """
        ...

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        ...


class ImapFetcher:
    """Moves new mail of ``account.folder`` into the spool; see the module docstring.

    ``password`` is the already resolved secret (the password, or the OAuth2
    access token for an ``oauth2_*`` account); when None it is read from the
    account's source at every connect, so rotated secrets are picked up.
    With ``leases`` the fetcher reads only while ``node`` holds the account's lease.
    Messages over ``max_message_size`` bytes are set aside, not fetched.
    """

    def __init__(
        self,
        account: ImapAccount,
        acceptor: Acceptor,
        cursors: CursorStore,
        *,
        password: str | None = None,
        log: Any = None,
        outcome_timeout: float = OUTCOME_TIMEOUT,
        leases: LeaseStore | None = None,
        node: str = "",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.account = account
        self._acceptor = acceptor
        self._cursors = cursors
        self._secret = password
        self._outcome_timeout = outcome_timeout
        self._log = (log or structlog.get_logger("mailgate.imap")).bind(
            account=account.name, folder=account.folder
        )
        self._client: IMAPClient | None = None
        self._caps: frozenset[bytes] = frozenset()
        self._folders: set[str] = set()
        self._retry: dict[int, tuple[int, float]] = {}  # uid -> (failures, due on monotonic)
        self._left: set[int] = set()  # oversized and could not be moved: left where they are
        self._max_size = max_message_size
        self._stalled = False
        self.node = node
        self.lease = AccountLease(leases, account.name, node, account.lease.total_seconds(),
                                  self._log)

    # -- public ------------------------------------------------------------

    def run_once(self) -> int:
        """Connect if needed and accept everything new; return how many were accepted.

        Connection errors propagate (after dropping the connection, so the next
        call reconnects). With a lease store, :class:`LeaseLost` is raised when the
        lease is not (or no longer) ours; the connection is then left to :meth:`close`.
        """
        self.lease.keep()
        client = self._client or self._connect()
        total = 0
        try:
            # Mail arriving while we work is announced during our own commands,
            # not in the next IDLE: search again until a round finds nothing.
            while True:
                count, more = self._round(client)
                total += count
                if not more:
                    return total
        except LeaseLost:
            raise
        except Exception as exc:
            self._drop(exc)
            raise

    def run(self, stop: threading.Event) -> None:
        """Fetch, then IDLE (or sleep ``poll_interval``), until ``stop`` is set.

        With a lease store: only while holding the account's lease (module docstring).
        """
        backoff = 0.0
        try:
            while self.lease.wait(stop):
                try:
                    self.run_once()
                    self._wait(stop)
                    backoff = 0.0
                except LeaseLost as exc:
                    self._log.warning("imap_lease_lost", node=self.node, holder=exc.holder,
                                      reason=str(exc))
                    self.close(reason="lease lost")
                except Exception as exc:
                    self._drop(exc)
                    if not isinstance(exc, CONNECTION_ERRORS):
                        self._log.error("imap_round_failed", exc_info=exc)
                    self.lease.release("connection failed")
                    backoff = min(BACKOFF_MAX, max(BACKOFF_INITIAL, backoff * 2))
                    delay = round(random.uniform(backoff / 2, backoff), 1)
                    self._log.info("imap_reconnect_scheduled", in_seconds=delay)
                    stop.wait(delay)
        finally:
            self.close()
            self.lease.release("stopped")

    def close(self, reason: str = "closed") -> None:
        """Log out (best effort) and forget the connection."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                shutdown(client)
            self._log.info("imap_disconnected", reason=reason)

    # -- connection --------------------------------------------------------

    def _connect(self) -> IMAPClient:
        client, self._caps = connect(self.account, self._secret, self._log)
        self._client, self._folders = client, {self.account.folder}
        return client

    def _drop(self, reason: BaseException) -> None:
        client, self._client = self._client, None
        if client is not None:
            shutdown(client)
            self._log.warning("imap_disconnected", reason=why(reason))

    # -- one round ---------------------------------------------------------

    def _round(self, client: IMAPClient) -> tuple[int, bool]:
        """One SELECT + SEARCH + processing; returns (accepted, whether to search again)."""
        self._stalled = False
        self.lease.keep()
        validity = int(client.select_folder(self.account.folder)[b"UIDVALIDITY"])
        last = self._position(client, validity)
        count = 0
        due = sorted(uid for uid, (_, at) in self._retry.items() if at <= time.monotonic())
        if due:
            count += self._process(client, validity, due, None)
            if self._stalled:
                return count, False
        if last < 0:
            return count + self._first_run(client, validity, -last), not self._stalled
        # "n:*" always matches the highest UID, even when it is below n: filter it out.
        uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        count += self._process(client, validity, uids, uids[-1] if uids else last)
        return count, bool(uids) and not self._stalled

    def _position(self, client: IMAPClient, validity: int) -> int:
        """The cursor's last UID for this round, starting (or restarting) the folder if needed.

        Negative, ``-N``: a first run in seen mode is under way, taking only unread mail up
        to UID N. That mark is stored before the run starts and kept until it has finished,
        so a run cut short (spool busy, connection lost, restart) resumes as a first run
        instead of taking the read mail after the last message it got to. A UIDVALIDITY
        change starts the folder afresh the same way: in seen mode what is \\Seen stays
        (taken by us, or read by a person), the rest is taken and dedupe absorbs repeats.
        """
        acc = self.account
        known, last = self._cursors.imap_cursor(acc.name, acc.folder)
        if known == validity:
            return last
        if known is not None:
            self._log.warning("imap_uidvalidity_changed", old=known, new=validity)
            self._retry.clear()
            self._left.clear()
        last = 0
        if acc.after == "seen":
            last = -max([0, *client.search(["UID", "*"])])
        self._cursors.set_imap_cursor(acc.name, acc.folder, validity, last)
        return last

    def _first_run(self, client: IMAPClient, validity: int, mark: int) -> int:
        """Take the unread mail up to ``mark``; the cursor moves to ``mark`` only at the end.

        Progress within the run is in the flags: what we took is \\Seen by then (a crash
        before the flag means it is taken again, a duplicate). Messages waiting for a retry
        or left behind are skipped here; the retry timer brings the former back.
        """
        acc = self.account
        uids = sorted(uid for uid in client.search(["UID", f"1:{mark}", "UNSEEN"])
                      if uid <= mark and uid not in self._retry and uid not in self._left)
        count = self._process(client, validity, uids, None)
        if not self._stalled:
            self._cursors.set_imap_cursor(acc.name, acc.folder, validity, mark)
        return count

    def _process(self, client: IMAPClient, validity: int, uids: list[int],
                 high: int | None) -> int:
        """Accept ``uids`` batch by batch; advance the cursor unless ``high`` is None."""
        acc = self.account
        if not uids:
            return 0
        # After a message the cursor may skip to just below the next candidate.
        ends = dict(zip(uids, [nxt - 1 for nxt in uids[1:]] + [high or 0], strict=True))
        count = 0
        for start in range(0, len(uids), acc.batch_size):
            for batch in self._batches(client, uids[start:start + acc.batch_size]):
                taken = self._accept_batch(client, validity, batch)
                deadline = time.monotonic() + self._outcome_timeout  # one wait per batch
                for uid, spool_id in taken:
                    self.lease.keep()  # no flag or cursor move once another node reads
                    if spool_id is not None:
                        self._acknowledge(client, uid, spool_id, deadline)
                        count += 1
                    if high is not None:
                        self._cursors.set_imap_cursor(acc.name, acc.folder, validity, ends[uid])
                if self._stalled:
                    return count
        return count

    def _batches(self, client: IMAPClient, chunk: list[int]) -> Iterator[dict[int, int]]:
        """Split ``chunk`` into batches (uid -> RFC822.SIZE) of at most the size limit in
        total, so one batch never holds more than one maximal message; oversized messages
        are not fetched at all and cost nothing here."""
        sizes = client.fetch(chunk, [b"RFC822.SIZE"])
        batch: dict[int, int] = {}
        total = 0
        for uid in chunk:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))  # 0: expunged meanwhile
            cost = size if size <= self._max_size else 0
            if batch and total + cost > self._max_size:
                yield batch
                batch, total = {}, 0
            batch[uid] = size
            total += cost
        if batch:
            yield batch

    def _accept_batch(self, client: IMAPClient, validity: int,
                      batch: dict[int, int]) -> list[tuple[int, int | None]]:
        """Fetch and accept one batch; (uid, spool id or None when not taken) per message."""
        acc = self.account
        wanted = [uid for uid, size in batch.items() if size <= self._max_size]
        fetched = client.fetch(wanted, [b"BODY.PEEK[]"]) if wanted else {}
        taken: list[tuple[int, int | None]] = []
        for uid, size in batch.items():
            raw = fetched.pop(uid, {}).get(b"BODY[]")
            if size > self._max_size or (raw is not None and len(raw) > self._max_size):
                self._set_aside(client, uid, max(size, len(raw or b"")))
                taken.append((uid, None))
                continue
            if raw is None:  # expunged by someone else meanwhile
                self._retry.pop(uid, None)
                taken.append((uid, None))
                continue
            source = f"imap:{acc.name}/{acc.folder};UIDVALIDITY={validity}/;UID={uid}"
            self.lease.keep()
            try:
                spool_id = self._acceptor.accept(raw, channel="imap", source=source)
            except TransientError as exc:
                self._log.warning("imap_accept_deferred", uid=uid, reason=str(exc))
                self._stalled = True
                break
            except Exception as exc:
                failures = self._retry.get(uid, (0, 0.0))[0] + 1
                delay = min(FAILED_RETRY_MAX, FAILED_RETRY_INITIAL * 2 ** (failures - 1))
                self._retry[uid] = (failures, time.monotonic() + delay)
                self._log.error("imap_accept_failed", uid=uid, failures=failures,
                                retry_in=delay, exc_info=exc)
                taken.append((uid, None))
                continue
            self._retry.pop(uid, None)
            taken.append((uid, spool_id))
        return taken

    def _acknowledge(self, client: IMAPClient, uid: int, spool_id: int, deadline: float) -> None:
        acc = self.account
        try:
            state = self._acceptor.outcome(spool_id, timeout=max(0.0, deadline - time.monotonic()))
        except Exception as exc:
            self._log.warning("imap_outcome_failed", uid=uid, spool_id=spool_id, exc_info=exc)
            state = "new"
        if state == "quarantined":
            self._move(client, uid, acc.error_folder)
            self._log.warning("imap_message_quarantined", uid=uid, spool_id=spool_id,
                              moved_to=acc.error_folder)
            return
        if acc.after == "seen":
            client.add_flags([uid], [SEEN], silent=True)
        elif acc.after == "move":
            self._move(client, uid, acc.move_to)
        else:
            client.delete_messages([uid], silent=True)
            self._expunge(client, uid)
        self._log.info("imap_message_accepted", uid=uid, spool_id=spool_id, outcome=state,
                       action=acc.after)

    def _set_aside(self, client: IMAPClient, uid: int, size: int) -> None:
        """An oversized message goes, untouched and whole, to ``error_folder``; when even
        that fails (no right to create it) it stays where it is. Either way it is reported
        once and not fetched again: the cursor passes it, and ``_left`` keeps a first run
        from finding it again."""
        acc = self.account
        self._retry.pop(uid, None)
        try:
            self._move(client, uid, acc.error_folder)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            self._left.add(uid)
            self._log.error("imap_message_too_large", uid=uid, size=size,
                            limit=self._max_size, moved_to=None, reason=str(exc))
            return
        self._log.error("imap_message_too_large", uid=uid, size=size, limit=self._max_size,
                        moved_to=acc.error_folder)

    def _move(self, client: IMAPClient, uid: int, folder: str) -> None:
        if folder not in self._folders:
            if not client.folder_exists(folder):
                try:
                    client.create_folder(folder)
                except IMAPClientError:
                    if not client.folder_exists(folder):  # lost a race: fine; else a real error
                        raise
                self._log.info("imap_folder_created", created=folder)
            self._folders.add(folder)
        if b"MOVE" in self._caps:
            client.move([uid], folder)
        else:
            client.copy([uid], folder)
            client.delete_messages([uid], silent=True)
            self._expunge(client, uid)

    def _expunge(self, client: IMAPClient, uid: int) -> None:
        if b"UIDPLUS" in self._caps:
            client.uid_expunge([uid])
        else:  # without UIDPLUS only a plain EXPUNGE (of every \Deleted message) exists
            client.expunge()

    # -- waiting -----------------------------------------------------------

    def _wait(self, stop: threading.Event) -> None:
        acc = self.account
        client = self._client
        idle = acc.idle and b"IDLE" in self._caps and client is not None and not self._stalled
        if idle:
            limit = min(acc.idle_timeout.total_seconds(), IDLE_MAX)
        else:
            limit = acc.poll_interval.total_seconds()
            if self._stalled:
                limit = min(limit, STALL_RETRY)
        if self._retry:
            due = min(at for _, at in self._retry.values()) - time.monotonic()
            limit = min(limit, max(due, 0.0))
        if idle and client is not None:
            idle_until(client, stop, limit, self.lease, self._log)
        else:
            self.lease.sleep(stop, limit)

