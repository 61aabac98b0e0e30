"""The composition root: config -> logs -> store -> spooler, processor, sender, listener.

Threads and tasks, and why:
- the asyncio loop runs the SMTP listener and the outbox sender (network I/O);
- the spooler thread commits accepted mail in groups (disk I/O off the loop);
- the processor thread parses and threads spooled mail (CPU and DB off the loop);
- each IMAP account gets a thread (imapclient is synchronous);
- APScheduler is the clock of SLA reminders: a job at the next planned
  reminder and a periodic sweep; the database holds the plan, and a sweep at
  startup fires, once, every reminder that fell due while the daemon was down.

SIGTERM/SIGINT: stop accepting (new sessions refused, DATA in flight gets
committed or a 421), drain the spool writer, let the processor finish its
current message, give back claims, exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailgate import clock, reminders
from mailgate.config import Config
from mailgate.intake.smtp import Listener
from mailgate.outbound import Sender
from mailgate.pipeline import Pipeline
from mailgate.processor import Processor, node_name
from mailgate.render import Renderer
from mailgate.spooler import Spooler
from mailgate.store import Store

log = structlog.get_logger("mailgate.daemon")


class StoreCursors:
    """IMAP cursors kept in the store; one connection per fetcher thread."""

    def __init__(self, db_path: object, busy_timeout: float) -> None:
        self.db_path = db_path
        self.busy_timeout = busy_timeout
        self._local = threading.local()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store.open(self.db_path, busy_timeout=self.busy_timeout,
                                                   migrate=False)  # type: ignore[arg-type]
        return store

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        return self._store().imap_cursor(account, folder)

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        self._store().set_imap_cursor(account, folder, uidvalidity, last_uid, clock.now())


class Daemon:
    """One running gateway; ``serve`` runs until ``stop`` (or a signal)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.node = node_name(config)
        self.db_path = config.database_path
        busy = config.store.busy_timeout.total_seconds()
        Store.open(self.db_path, busy_timeout=busy).close()  # create or migrate up front
        self.renderer = Renderer(config.path(config.templates.directory))
        self.pipeline = Pipeline(config, self.renderer)
        self.stop_threads = threading.Event()
        self.sender = Sender(config, self.db_path, self.node)
        self.spooler = Spooler(self.db_path, busy_timeout=busy, on_commit=self._spooled)
        self.processor_store = Store.open(self.db_path, busy_timeout=busy, migrate=False)
        self.processor = Processor(config, self.processor_store, self.pipeline,
                                   on_outbox=self._outbox_filled,
                                   on_processed=self.spooler.notify_processed)
        self.listener = Listener(config, self.spooler)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = asyncio.Event()
        self.started = threading.Event()
        self._threads: list[threading.Thread] = []
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._reminder_executor = ThreadPoolExecutor(1, thread_name_prefix="mailgate-sla")
        self._reminder_store: Store | None = None

    def _spooled(self) -> None:
        self.processor.wake.set()

    def _outbox_filled(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.sender.wake.set)
            self.loop.call_soon_threadsafe(self._arm_reminders)

    # -- SLA reminders -------------------------------------------------------------

    def _reminder_pass(self) -> tuple[int, object]:
        if self._reminder_store is None:
            self._reminder_store = Store.open(self.db_path, migrate=False)
        store = self._reminder_store
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
            self.sender.wake.set()
        self._schedule_next(next_at)
        return queued

    def _schedule_next(self, next_at: object) -> None:
        if next_at is None or not self.scheduler.running:
            return
        run_at = max(next_at, clock.now())  # type: ignore[type-var]
        self.scheduler.add_job(self.run_reminders, "date", run_date=run_at, id="sla-next",
                               replace_existing=True, misfire_grace_time=None)

    def _arm_reminders(self) -> None:
        """New tickets may have planned earlier reminders: look again soon."""
        if self.scheduler.running:
            self.scheduler.add_job(self.run_reminders, "date", id="sla-next",
                                   replace_existing=True, misfire_grace_time=None)

    async def serve(self, *, handle_signals: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.loop.add_signal_handler(sig, self.stopping.set)
        self.spooler.start()
        worker = threading.Thread(target=self._run_processor, name="mailgate-processor",
                                  daemon=True)
        worker.start()
        self._threads.append(worker)
        self._start_imap()
        sender_task = asyncio.create_task(self.sender.run(self.stopping))
        if self.config.smtp.enabled:
            await self.listener.start()
            log.info("listening", host=self.config.smtp.host, port=self.listener.port)
        self.scheduler.start()
        self.scheduler.add_job(self.run_reminders, "interval", id="sla-sweep",
                               seconds=self.config.processing.reminder_sweep.total_seconds(),
                               misfire_grace_time=None, coalesce=True)
        await self.run_reminders()  # catch up on what fell due while we were down
        log.info("daemon_started", node=self.node, database=str(self.db_path))
        self.started.set()
        await self.stopping.wait()
        log.info("daemon_stopping")
        self.scheduler.shutdown(wait=False)
        await self.listener.stop()
        self.stop_threads.set()  # IMAP fetchers finish their message and log out
        for thread in self._threads[1:]:
            await asyncio.to_thread(thread.join)
        self.spooler.stop()
        self.processor.wake.set()
        await asyncio.to_thread(self._threads[0].join)
        with suppress(asyncio.CancelledError):
            await sender_task
        self.sender.close()
        self._reminder_executor.shutdown()
        if self._reminder_store is not None:
            self._reminder_store.close()
        self.processor_store.close()
        log.info("daemon_stopped")

    def _start_imap(self) -> None:
        """One thread per IMAP account; each hands mail to the same spooler as SMTP."""
        if not self.config.imap:
            return
        from mailgate.intake.imap import ImapFetcher

        cursors = StoreCursors(self.db_path, self.config.store.busy_timeout.total_seconds())
        for account in self.config.imap:
            fetcher = ImapFetcher(account, self.spooler, cursors)
            thread = threading.Thread(target=fetcher.run, args=(self.stop_threads,),
                                      name=f"mailgate-imap-{account.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run_processor(self) -> None:
        try:
            self.processor.run(self.stop_threads)
        finally:
            with suppress(Exception):
                self.processor.release()

    def stop(self) -> None:
        """Ask a running daemon to stop (thread-safe)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
