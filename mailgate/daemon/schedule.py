"""The clock of SLA reminders in the daemon: APScheduler on the daemon's loop.

The database holds the plan (``reminders``); the scheduler only decides when
to look at it: a job at the next planned reminder (``sla-next``) and a
periodic sweep (``sla-sweep``), and a sweep at startup fires, once, every
reminder that fell due while the daemon was down. The same thread runs the
hourly retention pass of ``[store] keep_raw_for`` (``raw-purge``). Passes run on a thread of
their own (``mailgate-sla``) with their own store connection, so the event
loop never waits for the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

# Imported here, not by name at run time: a module first imported inside a test's
# freezegun window would keep freezegun's datetime for good.
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mailgate import clock, privacy, reminders
from mailgate.config import Config
from mailgate.render import Renderer
from mailgate.store import Store

log = structlog.get_logger("mailgate.daemon")
ARM_DELAY = 5.0  # seconds: new reminders are looked at within this time
PURGE_EVERY = 3600  # seconds between two passes of [store] keep_raw_for (the first after one)
PURGE_BUDGET = 10.0  # seconds a pass may hold the SLA thread


class ReminderSchedule:
    """The ``Daemon``'s SLA reminder jobs (a mixin: it shares the daemon's state)."""

    # provided by the Daemon
    config: Config
    renderer: Renderer
    node: str
    open_db: Callable[[], Store]
    _wake_sender: Callable[[], None]

    def _init_schedule(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._reminder_executor = ThreadPoolExecutor(1, thread_name_prefix="mailgate-sla")
        self._reminder_store: Store | None = None
        self._armed_at = float("-inf")
        self._purge_after = 0  # where the next retention pass starts (a ticket id)

    def _start_schedule(self) -> None:
        """Start the scheduler with the periodic sweep (on the daemon's loop)."""
        self.scheduler.start()
        self.scheduler.add_job(self.run_reminders, id="sla-sweep", trigger=IntervalTrigger(
                               seconds=self.config.processing.reminder_sweep.total_seconds(),
                               timezone=UTC), misfire_grace_time=None, coalesce=True)
        self.scheduler.add_job(self.run_purge, id="raw-purge", trigger=IntervalTrigger(
                               seconds=PURGE_EVERY, timezone=UTC),
                               misfire_grace_time=None, coalesce=True)

    def _close_schedule(self) -> None:
        """After the scheduler stopped: end the SLA thread and close its connection."""
        self._reminder_executor.shutdown()
        if self._reminder_store is not None:
            self._reminder_store.close()

    def _reminder_db(self) -> Store:
        """The SLA thread's own connection (reminder passes and deadline recomputes)."""
        if self._reminder_store is None:
            self._reminder_store = self.open_db()
        return self._reminder_store

    def _reminder_pass(self) -> tuple[int, datetime | None]:
        store = self._reminder_db()
        queued = reminders.fire_due(self.config, store, self.renderer, self.node, clock.now())
        return queued, store.next_reminder_at()

    async def run_reminders(self) -> int:
        """Fire due reminders now (the scheduler's job; also called at startup)."""
        loop = asyncio.get_running_loop()
        try:
            queued, next_at = await loop.run_in_executor(self._reminder_executor,
                                                         self._reminder_pass)
        except asyncio.CancelledError:  # shutdown; the plan is in the database
            return 0
        except Exception:
            log.exception("sla_reminders_failed")
            return 0
        if queued:
            self._wake_sender()
        self._schedule_next(next_at)
        return queued

    def _purge_pass(self) -> privacy.PurgeResult | None:
        keep = self.config.store.keep_raw_for  # read each time: a reload may change it
        if keep is None:
            return None
        return privacy.purge_raw(self._reminder_db(), keep, clock.now(),
                                 after=self._purge_after, seconds=PURGE_BUDGET)

    async def run_purge(self) -> None:
        """Purge raw mail of tickets closed longer than ``keep_raw_for`` (hourly). Every
        node runs it: each ticket is purged under its lock, once, so nodes share the work.
        A pass runs on the SLA thread for at most PURGE_BUDGET seconds; a backlog (the first
        pass on a large database) goes on PURGE_BUDGET * 3 seconds later, where it stopped."""
        loop = asyncio.get_running_loop()
        try:
            done = await loop.run_in_executor(self._reminder_executor, self._purge_pass)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("raw_purge_failed")
            return
        if done is None:
            return
        if done.tickets:
            log.info("raw_purged", tickets=done.tickets, raw=done.raw,
                     attachments=done.attachments, more=done.resume_after is not None)
        self._purge_after = done.resume_after or 0
        if done.resume_after is not None and self.scheduler.running:
            self.scheduler.add_job(self.run_purge, DateTrigger(
                run_date=clock.now() + timedelta(seconds=PURGE_BUDGET * 3)),
                id="raw-purge-more", replace_existing=True, misfire_grace_time=None)

    def _schedule_next(self, next_at: datetime | None) -> None:
        if next_at is None or not self.scheduler.running:
            return
        run_at = max(next_at, clock.now())
        self.scheduler.add_job(self.run_reminders, DateTrigger(run_date=run_at), id="sla-next",
                               replace_existing=True, misfire_grace_time=None)

    def _arm_reminders(self) -> None:
        """New tickets may have planned earlier reminders: look again soon, but at most one
        pass per ARM_DELAY (a pass per queued ack made the SLA thread fight the processor
        and the spooler for the write lock under load)."""
        now = time.monotonic()
        if not self.scheduler.running or now - self._armed_at < ARM_DELAY:
            return
        self._armed_at = now
        self.scheduler.add_job(self.run_reminders, id="sla-next", trigger=DateTrigger(
                               run_date=clock.now() + timedelta(seconds=ARM_DELAY)),
                               replace_existing=True, misfire_grace_time=None)
