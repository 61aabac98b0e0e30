"""The composition root: config -> logs -> store -> spooler, processor, sender, listener.

Threads and tasks, and why:
- the asyncio loop runs the SMTP listener (network I/O); the outbox sender runs in a
  child process of its own at a lower CPU priority (mailgate/workers.py), or with
  ``processes = 0`` as a task on this loop;
- the spooler thread commits accepted mail in groups (disk I/O off the loop);
- the processor parses and threads spooled mail (CPU and DB off the loop): in
  ``[processing] processes`` child processes (mailgate/workers.py: the second
  core), or with ``processes = 0`` in a thread of the daemon;
- each IMAP account gets a thread (imapclient is synchronous; ``fetchers``);
- APScheduler is the clock of SLA reminders (``schedule``): a job at the next
  planned reminder and a periodic sweep; the database holds the plan, and a
  sweep at startup fires, once, every reminder that fell due while the daemon
  was down.

SIGTERM/SIGINT: stop accepting (new sessions refused, DATA in flight gets
committed or a 421), drain the spool writer, let the processor finish its
current message, give back claims, exit 0. SIGUSR1 (from ``mailgate ingest``):
new mail in the spool, wake the processor. SIGHUP (``mailgate reload``): re-read
and validate the config and templates, and switch over between two messages
(``reload``).

The ``Daemon`` class is assembled here from mixins that each own one
responsibility and share the daemon's state: ``Reloading`` (reload.py),
``ReminderSchedule`` (schedule.py) and ``HttpEndpoint`` (http.py).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from contextlib import closing, suppress
from functools import partial

import structlog

from mailgate import health
from mailgate.claimants import dead_claimants, node_name
from mailgate.config import Config
from mailgate.daemon.fetchers import start_fetchers
from mailgate.daemon.http import HttpEndpoint
from mailgate.daemon.pidfile import remove_pid_file, write_pid_file
from mailgate.daemon.reload import Reloading, checked_templates
from mailgate.daemon.schedule import ReminderSchedule
from mailgate.errors import MailgateError
from mailgate.intake.smtp import Listener
from mailgate.outbound import Sender, check_folder
from mailgate.pipeline import Pipeline
from mailgate.processor import Processor
from mailgate.spooler import Spooler
from mailgate.store import Store, open_store
from mailgate.workers import WorkerProcesses

log = structlog.get_logger("mailgate.daemon")


class Daemon(Reloading, ReminderSchedule, HttpEndpoint):
    """One running gateway; ``serve`` runs until ``stop`` (or a signal)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.node = node_name(config)
        self.database = describe_database(config)
        # the templates check-config renders, or no start (a ConfigError naming file:line)
        self.renderer = checked_templates(config)
        check_folder(config)  # outbound.folder: created and writable, or no start
        # Every thread opens its own connection with this (SQLite file or PostgreSQL pool).
        self.open_db: Callable[[], Store] = partial(
            open_store, config, migrate=False, application_name=f"mailgate {self.node}")
        self._prepare_store()
        self.pipeline = Pipeline(config, self.renderer)
        self.stop_threads = threading.Event()
        self.sender = Sender(config, self.open_db, self.node, self.renderer)
        self.spooler = Spooler(self.open_db, on_commit=self._spooled)
        self._init_processing()
        self.listener = Listener(config, self.spooler)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = asyncio.Event()
        self.started = threading.Event()
        self._threads: list[threading.Thread] = []  # the processor thread first
        self._init_schedule()
        self.imap_states = health.ImapStates()
        self._init_reload()
        self._pid_written = False
        self._init_http()

    def _prepare_store(self) -> None:
        """Create or upgrade the schema; free the claims of this host's crashed predecessors."""
        config = self.config
        with closing(open_store(config, application_name=f"mailgate {self.node}")) as store:
            dead = dead_claimants(store.claimants(), config.gateway.node_name)
            if dead:  # a crashed predecessor's work is ours now, not after its lease
                log.info("dead_claims_released", nodes=dead,
                         rows=store.release_claims(dead))

    def _init_processing(self) -> None:
        """The processor: in worker processes (mailgate/workers.py), or a thread of ours."""
        config = self.config
        self.workers: WorkerProcesses | None = None
        self.sender_worker: WorkerProcesses | None = None  # the sender, as a child process
        self.processor_store: Store | None = None
        self.processor: Processor | None = None
        if config.processing.process_count:
            self.workers = WorkerProcesses(
                config.source, config.base_dir, self.node, config.processing.process_count,
                on_outbox=self._outbox_filled, on_processed=self.spooler.notify_processed,
                release=self._release_claims)
            self.workers.node_fixed = bool(config.gateway.node_name)
            # with worker processes the sender is one too, at a lower CPU priority
            self.sender_worker = WorkerProcesses(
                config.source, config.base_dir, self.node, 1, on_outbox=lambda: None,
                on_processed=lambda: None, release=self._release_claims, role="sender")
            self.sender_worker.node_fixed = bool(config.gateway.node_name)
            for workers in (self.workers, self.sender_worker):
                workers.validated(config, self.renderer)
        else:
            self.processor_store = self.open_db()
            self.processor_store.relax_durability()  # see Store.relax_durability
            self.processor_store.leave_checkpoints()  # see Store.leave_checkpoints
            self.processor = Processor(config, self.processor_store, self.pipeline,
                                       on_outbox=self._outbox_filled,
                                       on_processed=self.spooler.notify_processed)

    def _spooled(self) -> None:
        if self.workers is not None:
            self.workers.wake()
        elif self.processor is not None:
            self.processor.wake.set()

    def _outbox_filled(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake_sender)
            self.loop.call_soon_threadsafe(self._arm_reminders)

    def _wake_sender(self) -> None:
        """Mail was queued: wake the sender (its process, or its task here)."""
        if self.sender_worker is not None:
            self.sender_worker.wake()
        else:
            self.sender.wake.set()

    def _release_claims(self, nodes: list[str]) -> None:
        """A worker process died: its claims, and those of any other dead process of this
        host, are free now, not after their lease."""
        with suppress(Exception), closing(self.open_db()) as store:
            dead = sorted({*nodes, *dead_claimants(store.claimants(),
                                                   self.config.gateway.node_name)})
            log.info("dead_claims_released", nodes=dead, rows=store.release_claims(dead))

    # -- running -----------------------------------------------------------------------

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Start everything, run until ``stop`` or a signal, then stop in order."""
        self.loop = asyncio.get_running_loop()
        self._reload_lock = asyncio.Lock()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.loop.add_signal_handler(sig, self.stopping.set)
            self.loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            # `mailgate ingest` stored mail in the spool: process it now, not at the next poll
            self.loop.add_signal_handler(signal.SIGUSR1, self._spooled)
        sender_task = await self._start(self.loop)
        try:
            await self._open_intake()
        except MailgateError:  # the address is taken: stop what runs, say it in one line
            self.stopping.set()
            await self._shutdown(sender_task)
            raise
        if handle_signals:  # only now: a start refused (a second daemon started by
            # mistake beside the running one) must leave the running one's pid file alone
            self._pid_written = write_pid_file(self.config)
        self._start_schedule()
        await self.run_reminders()  # catch up on what fell due while we were down
        log.info("daemon_started", node=self.node, database=self.database)
        self.started.set()
        await self.stopping.wait()
        log.info("daemon_stopping")
        await self._shutdown(sender_task)
        log.info("daemon_stopped")

    async def _start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[object]:
        """Start the components behind intake; the sender's task."""
        self.spooler.start()
        worker = threading.Thread(target=self._run_processor, name="mailgate-processor",
                                  daemon=True)
        worker.start()  # with worker processes, it returns at once
        self._threads.append(worker)
        if self.workers is not None:
            self.workers.start(loop)
        self._threads.extend(start_fetchers(self.config, self.spooler, self.open_db,
                                            self.imap_states, self.node, self.stop_threads))
        # what the sender's task returns is never used: it is only awaited at shutdown
        sender_task: asyncio.Task[object]
        if self.sender_worker is not None:
            self.sender_worker.start(loop)
            sender_task = asyncio.create_task(self.stopping.wait())
        else:
            sender_task = asyncio.create_task(self.sender.run(self.stopping))
        return sender_task

    async def _open_intake(self) -> None:
        """Listen for SMTP and HTTP (a TransientError naming the setting if an address
        cannot be bound)."""
        if self.config.smtp.enabled:
            await self.listener.start()
            log.info("listening", host=self.config.smtp.host, port=self.listener.port)
        if self.config.http.enabled:
            await self._start_http()

    async def _shutdown(self, sender_task: asyncio.Task[object]) -> None:
        """Stop intake first, then drain: spool writer, processors, sender; close the rest."""
        for workers in (self.workers, self.sender_worker):
            if workers is not None:
                workers.closing = True  # a restart under way stops its children only
        for task in list(self._tasks):  # a reload in progress finishes first
            with suppress(Exception):
                await task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.listener.stop()
        if self.http is not None:
            await self.http.stop()
        self.stop_threads.set()  # IMAP fetchers finish their message and log out
        for thread in self._threads[1:]:
            await asyncio.to_thread(thread.join)
        self.spooler.stop()
        if self.workers is not None:
            await self.workers.stop()
        if self.sender_worker is not None:  # after the processors: it sends what they queued
            await self.sender_worker.stop()
        if self.processor is not None:
            self.processor.wake.set()
        await asyncio.to_thread(self._threads[0].join)
        with suppress(asyncio.CancelledError):
            await sender_task
        self.sender.close()
        self._close_schedule()
        self._close_http()
        if self.processor_store is not None:
            self.processor_store.close()
        if self._pid_written:
            remove_pid_file(self.config)

    def _run_processor(self) -> None:
        if self.processor is None:
            return
        try:
            self.processor.run(self.stop_threads)
        finally:
            with suppress(Exception):
                self.processor.release()

    def stop(self) -> None:
        """Ask a running daemon to stop (thread-safe)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)


def describe_database(config: Config) -> str:
    """The database for logs: the SQLite file, or the PostgreSQL URL (no password in it)."""
    if config.store.backend == "sqlite":
        return str(config.database_path)
    from mailgate.store.postgres import redact

    return redact(config.store.url)
