"""Durable acceptance of raw messages with group commit.

All intake channels call ``accept`` (threads) or ``put`` (asyncio). One
writer thread owns a store connection, takes every message waiting in its
queue, inserts them in one transaction and commits it durably once: eight
SMTP sessions finishing DATA together cost one fsync, not eight, and the SMTP
event loop never waits on the disk. Each
caller is answered only after the commit that holds its message, with the
spool id, or with the ``TransientError`` that made the commit fail (the SMTP
handler answers 451, the pipe exits 75).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field

import structlog

from mailgate import clock
from mailgate.errors import StoreError, TransientError
from mailgate.store import Store

log = structlog.get_logger("mailgate.spooler")

MAX_GROUP = 256
MAX_GROUP_BYTES = 64 * 1024 * 1024


@dataclass
class _Job:
    raw: bytes
    channel: str
    mail_from: str | None
    rcpt_tos: list[str]
    source: str | None
    future: Future[int] = field(default_factory=Future)
    # an asyncio caller's future and its loop: a group's are settled in one hop to the loop
    waiter: asyncio.Future[int] | None = None
    loop: asyncio.AbstractEventLoop | None = None


class Spooler:
    """The process's one writer of new spool rows (see the module docstring)."""

    def __init__(self, open_db: Callable[[], Store], *,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.open_db = open_db  # a new connection to the store, for the calling thread
        self.on_commit = on_commit
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._local = threading.local()
        self.changed = threading.Condition()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mailgate-spooler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # -- callers -----------------------------------------------------------------

    def submit(self, raw: bytes, *, channel: str, mail_from: str | None = None,
               rcpt_tos: list[str] | None = None, source: str | None = None,
               loop: asyncio.AbstractEventLoop | None = None) -> _Job:
        if self._thread is None:
            raise TransientError("spool writer is not running")
        job = _Job(raw, channel, mail_from, list(rcpt_tos or ()), source)
        if loop is not None:
            job.loop, job.waiter = loop, loop.create_future()
        self._queue.put(job)
        return job

    async def put(self, raw: bytes, *, channel: str, mail_from: str | None = None,
                  rcpt_tos: list[str] | None = None, source: str | None = None) -> int:
        """Await the durable commit of one message (asyncio side)."""
        job = self.submit(raw, channel=channel, mail_from=mail_from, rcpt_tos=rcpt_tos,
                          source=source, loop=asyncio.get_running_loop())
        assert job.waiter is not None
        return await job.waiter

    def accept(self, raw: bytes, *, channel: str, mail_from: str | None = None,
               rcpt_tos: list[str] | None = None, source: str | None = None) -> int:
        """Block until the message is durably committed; return its spool id."""
        return self.submit(raw, channel=channel, mail_from=mail_from, rcpt_tos=rcpt_tos,
                           source=source).future.result()

    def outcome(self, spool_id: int, timeout: float) -> str:
        """Wait (bounded) for the processor to finish a spool row; return its state."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.open_db()
        deadline = clock.now().timestamp() + timeout
        while True:
            state = store.spool_state(spool_id)
            remaining = deadline - clock.now().timestamp()
            if state != "new" or remaining <= 0:
                return state
            with self.changed:
                self.changed.wait(min(remaining, 0.25))

    def notify_processed(self) -> None:
        """Called by the processor after each commit, to wake ``outcome`` waiters."""
        with self.changed:
            self.changed.notify_all()

    # -- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        store: Store | None = None
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs, size = [first], len(first.raw)
            while len(jobs) < MAX_GROUP and size < MAX_GROUP_BYTES:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                size += len(job.raw)
            try:
                if store is None:
                    store = self.open_db()
                    store.leave_checkpoints()  # no 250 waits for a checkpoint
                ids = self._write(store, jobs)
            except TransientError as exc:
                log.error("spool_write_failed", error=str(exc), messages=len(jobs))
                _settle(jobs, [exc] * len(jobs))
                if store is not None:
                    store.close()
                    store = None
                continue
            except Exception as exc:
                log.exception("spool_write_crashed", messages=len(jobs))
                _settle(jobs, [StoreError(f"spool write failed: {exc}")] * len(jobs))
                continue
            _settle(jobs, ids)
            self.on_commit()
        if store is not None:
            store.close()

    @staticmethod
    def _write(store: Store, jobs: list[_Job]) -> list[int]:
        """Insert a group in one transaction; the ids once it is durable."""
        now = clock.now()
        with store.transaction():
            return store.spool_add_many([
                (job.raw, {"channel": job.channel, "received_at": now, "source": job.source,
                           "mail_from": job.mail_from, "rcpt_tos": job.rcpt_tos})
                for job in jobs])


def _settle(jobs: list[_Job], results: Sequence[int | Exception]) -> None:
    """Answer every job of a group: thread callers through their Future, asyncio callers
    in one call on each event loop (one wake-up of the loop, not one per message)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, int | Exception]]] = {}
    for job, result in zip(jobs, results, strict=True):
        if job.loop is not None:
            by_loop.setdefault(job.loop, []).append((job, result))
        elif isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_waiters, settled)


def _settle_waiters(settled: list[tuple[_Job, int | Exception]]) -> None:
    for job, result in settled:
        waiter = job.waiter
        if waiter is None or waiter.done():  # the SMTP session went away meanwhile
            continue
        if isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)
