"""The composition root: config -> logs -> store -> spooler, processor, sender, listener.

Threads and tasks, and why:
- the asyncio loop runs the SMTP listener (network I/O); the outbox sender runs in a
  child process of its own at a lower CPU priority (mailgate/workers.py), or with
  ``processes = 0`` as a task on this loop;
- the spooler thread commits accepted mail in groups (disk I/O off the loop);
- the processor parses and threads spooled mail (CPU and DB off the loop): in
  ``[processing] processes`` child processes (mailgate/workers.py: the second
  core), or with ``processes = 0`` in a thread of the daemon;
- each IMAP account gets a thread (imapclient is synchronous);
- APScheduler is the clock of SLA reminders: a job at the next planned
  reminder and a periodic sweep; the database holds the plan, and a sweep at
  startup fires, once, every reminder that fell due while the daemon was down.

SIGTERM/SIGINT: stop accepting (new sessions refused, DATA in flight gets
committed or a 421), drain the spool writer, let the processor finish its
current message, give back claims, exit 0. SIGUSR1 (from ``mailgate ingest``):
new mail in the spool, wake the processor.

SIGHUP (``mailgate reload``): re-read the config file and the templates,
validate them exactly as ``check-config`` does, and switch over between two
messages: the processor thread takes ``self.pipeline`` afresh for every
message, and an attribute assignment is atomic, so a message is handled wholly
by the old or wholly by the new config; processor processes finish their
message and are started again on the validated files. The listener keeps running throughout (no mail
is refused); it takes the new recipient policy and size limit for new
sessions, but a changed address, database, IMAP account list, HTTP endpoint
or node name needs a restart (logged as ``reload_restart_needed``). An
invalid file is logged with its error and the old config stays in force.
When the SLA section changed, the deadlines and reminder plans of open
tickets are recomputed (in batches of a few tickets per transaction, so
intake never waits long for the write lock). The outcome of each reload is
written to ``mailgate.reload.json`` next to the database, which
``mailgate reload`` reads back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, timedelta
from functools import partial
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

# Imported here, not by name at run time: a module first imported inside a test's
# freezegun window would keep freezegun's datetime for good.
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mailgate import clock, clocks, health, reminders
from mailgate.config import Config, load_config
from mailgate.errors import ConfigError
from mailgate.intake.smtp import Listener
from mailgate.outbound import Sender
from mailgate.pipeline import Pipeline
from mailgate.processor import Processor, dead_claimants, node_name
from mailgate.render import Renderer, freeze_templates
from mailgate.spooler import Spooler
from mailgate.store import Store, open_store, ops
from mailgate.workers import WorkerProcesses

log = structlog.get_logger("mailgate.daemon")
ARM_DELAY = 5.0  # seconds: new reminders are looked at within this time

RECOMPUTE_BATCH = 50  # tickets per transaction when a reload moves SLA deadlines

# Settings read once at startup: a reload that changes them is logged as needing a restart.
RESTART_KEYS = (
    ("smtp", ("enabled", "host", "port")),
    ("store", None),
    ("imap", None),
    ("http", None),
    ("gateway", ("node_name",)),
    ("processing", ("poll_interval", "processes")),
)


@dataclass
class ReloadResult:
    """The outcome of one config reload (also written to ``mailgate.reload.json``)."""

    ok: bool
    config: str
    at: str = field(default_factory=lambda: clock.now().isoformat())
    error: str | None = None
    restart_needed: list[str] = field(default_factory=list)
    sla_changed: bool = False
    recomputed_clocks: int = 0
    pid: int = field(default_factory=os.getpid)
    generation: int = 0


def restart_needed(old: Config, new: Config) -> list[str]:
    """The changed keys that only take effect after a restart."""
    changed = []
    for section, keys in RESTART_KEYS:
        before, after = getattr(old, section), getattr(new, section)
        if keys is None:
            if _dump(before) != _dump(after):
                changed.append(section)
            continue
        changed.extend(f"{section}.{key}" for key in keys
                       if getattr(before, key) != getattr(after, key))
    return changed


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump() if hasattr(value, "model_dump") else value


class StoreCursors:
    """IMAP cursors kept in the store; one connection per fetcher thread."""

    def __init__(self, open_db: Callable[[], Store]) -> None:
        self.open_db = open_db
        self._local = threading.local()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.open_db()
        return store

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        return self._store().imap_cursor(account, folder)

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        self._store().set_imap_cursor(account, folder, uidvalidity, last_uid, clock.now())

    def take_imap_lease(self, account: str, node: str, seconds: float) -> str | None:
        now = clock.now()
        return self._store().imap_lease_take(account, node, now, now + timedelta(seconds=seconds))

    def release_imap_lease(self, account: str, node: str) -> None:
        self._store().imap_lease_release(account, node)


class Daemon:
    """One running gateway; ``serve`` runs until ``stop`` (or a signal)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.node = node_name(config)
        self.database = describe_database(config)
        # Every thread opens its own connection with this (SQLite file or PostgreSQL pool).
        self.open_db: Callable[[], Store] = partial(
            open_store, config, migrate=False, application_name=f"mailgate {self.node}")
        with closing(open_store(config, application_name=f"mailgate {self.node}")) as store:
            # created or upgraded; the dead are this host's crashed predecessors
            dead = dead_claimants(config, store.claimants())
            if dead:  # a crashed predecessor's work is ours now, not after its lease
                log.info("dead_claims_released", nodes=dead,
                         rows=store.release_claims(dead))
        self.renderer = freeze_templates(Renderer(config.path(config.templates.directory)))
        self.pipeline = Pipeline(config, self.renderer)
        self.stop_threads = threading.Event()
        self.sender = Sender(config, self.open_db, self.node)
        self.spooler = Spooler(self.open_db, on_commit=self._spooled)
        # The processor: in worker processes (mailgate/workers.py), or a thread of ours.
        self.workers: WorkerProcesses | None = None
        self.sender_worker: WorkerProcesses | None = None  # the sender, as a child process
        self.processor_store: Store | None = None
        self.processor: Processor | None = None
        if config.processing.processes:
            self.workers = WorkerProcesses(
                config.source, config.base_dir, self.node, config.processing.processes,
                on_outbox=self._outbox_filled, on_processed=self.spooler.notify_processed,
                release=self._release_claims)
            self.workers.node_fixed = bool(config.gateway.node_name)
            # with worker processes the sender is one too, at a lower CPU priority
            self.sender_worker = WorkerProcesses(
                config.source, config.base_dir, self.node, 1, on_outbox=lambda: None,
                on_processed=lambda: None, release=self._release_claims, role="sender")
            self.sender_worker.node_fixed = bool(config.gateway.node_name)
        else:
            self.processor_store = self.open_db()
            self.processor_store.relax_durability()  # see Store.relax_durability
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
        self._armed_at = float("-inf")
        self.imap_states = health.ImapStates()
        self._reload_lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_reload: ReloadResult | None = None
        self.reloads = {"success": 0, "failure": 0}
        self.http: health.HttpServer | None = None
        self._http_executor: ThreadPoolExecutor | None = None
        self._http_store: Store | None = None
        self._pid_written = False
        from mailgate.metrics import build_registry

        self.metrics = build_registry(self._metrics_snapshot, self._local_metrics)

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
        """A worker process died: its claims are free now, not after their lease."""
        with suppress(Exception), closing(self.open_db()) as store:
            log.info("dead_claims_released", nodes=nodes, rows=store.release_claims(nodes))

    # -- SLA reminders -------------------------------------------------------------

    def _reminder_db(self) -> Store:
        """The SLA thread's own connection (reminder passes and deadline recomputes)."""
        if self._reminder_store is None:
            self._reminder_store = self.open_db()
        return self._reminder_store

    def _reminder_pass(self) -> tuple[int, object]:
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

    def _schedule_next(self, next_at: object) -> None:
        if next_at is None or not self.scheduler.running:
            return
        run_at = max(next_at, clock.now())  # type: ignore[type-var]
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

    async def serve(self, *, handle_signals: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self._reload_lock = asyncio.Lock()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.loop.add_signal_handler(sig, self.stopping.set)
            self.loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            # `mailgate ingest` stored mail in the spool: process it now, not at the next poll
            self.loop.add_signal_handler(signal.SIGUSR1, self._spooled)
            self._write_pid_file()
        self.spooler.start()
        worker = threading.Thread(target=self._run_processor, name="mailgate-processor",
                                  daemon=True)
        worker.start()  # with worker processes, it returns at once
        self._threads.append(worker)
        if self.workers is not None:
            self.workers.start(self.loop)
        self._start_imap()
        if self.sender_worker is not None:
            self.sender_worker.start(self.loop)
            sender_task = asyncio.create_task(self.stopping.wait())
        else:
            sender_task = asyncio.create_task(self.sender.run(self.stopping))
        if self.config.smtp.enabled:
            await self.listener.start()
            log.info("listening", host=self.config.smtp.host, port=self.listener.port)
        if self.config.http.enabled:
            await self._start_http()
        self.scheduler.start()
        self.scheduler.add_job(self.run_reminders, id="sla-sweep", trigger=IntervalTrigger(
                               seconds=self.config.processing.reminder_sweep.total_seconds(),
                               timezone=UTC), misfire_grace_time=None, coalesce=True)
        await self.run_reminders()  # catch up on what fell due while we were down
        log.info("daemon_started", node=self.node, database=self.database)
        self.started.set()
        await self.stopping.wait()
        log.info("daemon_stopping")
        for task in list(self._tasks):  # a reload in progress finishes first
            with suppress(Exception):
                await task
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
        self._reminder_executor.shutdown()
        if self._reminder_store is not None:
            self._reminder_store.close()
        if self._http_executor is not None:
            if self._http_store is not None:
                self._http_executor.submit(self._http_store.close).result()
            self._http_executor.shutdown()
        if self.processor_store is not None:
            self.processor_store.close()
        self._remove_pid_file()
        log.info("daemon_stopped")

    def _start_imap(self) -> None:
        """One thread per IMAP account; each hands mail to the same spooler as SMTP."""
        if not self.config.imap:
            return
        from mailgate.intake.imap import ImapFetcher

        cursors = StoreCursors(self.open_db)
        for account in self.config.imap:
            fetcher = ImapFetcher(account, self.spooler, cursors,
                                  log=self.imap_states.logger(account.name),
                                  leases=cursors, node=self.node)
            thread = threading.Thread(target=fetcher.run, args=(self.stop_threads,),
                                      name=f"mailgate-imap-{account.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

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

    # -- reload (SIGHUP) -------------------------------------------------------------

    def _on_sighup(self) -> None:
        log.info("reload_requested", signal="SIGHUP")
        self._spawn(self.reload())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> ReloadResult:
        """Re-read config and templates; switch to them if valid, else keep the old ones.

        Runs on the daemon's loop (SIGHUP, or ``run_coroutine_threadsafe`` in tests);
        file reading and template checks run on a worker thread.
        """
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            old = self.config
            try:
                new, renderer, pipeline = await asyncio.to_thread(self._load_candidate)
            except Exception as exc:
                message = str(exc) if isinstance(exc, ConfigError) else \
                    f"{type(exc).__name__}: {exc}"
                result = ReloadResult(ok=False, config=old.source, error=message)
                log.error("reload_failed", config=old.source, error=message,
                          kept="the running configuration stays in force")
                return await self._finish_reload(result)
            result = ReloadResult(ok=True, config=new.source,
                                  restart_needed=restart_needed(old, new),
                                  sla_changed=_dump(old.sla) != _dump(new.sla))
            self._apply(new, renderer, pipeline)
            if result.restart_needed:
                log.warning("reload_restart_needed", keys=result.restart_needed,
                            detail="these settings keep their old values until a restart")
            if result.sla_changed:
                loop = asyncio.get_running_loop()
                try:
                    result.recomputed_clocks = await loop.run_in_executor(
                        self._reminder_executor, self._recompute_deadlines, new)
                except Exception as exc:  # the config is in force; deadlines follow later
                    log.exception("reload_recompute_failed")
                    result.error = f"deadlines not recomputed: {exc}"
                self._arm_reminders()
            log.info("reload_done", config=new.source, restart_needed=result.restart_needed,
                     sla_changed=result.sla_changed, recomputed_clocks=result.recomputed_clocks)
            return await self._finish_reload(result)

    def _load_candidate(self) -> tuple[Config, Renderer, Pipeline]:
        """Load and validate the config and templates, as ``check-config`` does."""
        source = self.config.source
        if source == "(defaults)":
            new = Config(base_dir=self.config.base_dir)
        else:
            new = load_config(source)
        folder = new.path(new.templates.directory)
        renderer = freeze_templates(Renderer(folder))
        problems = renderer.check()  # the snapshot that will be used is what gets checked
        if problems:  # the files on disk name file and line more precisely
            problems = Renderer(folder).check() or problems
            raise ConfigError("; ".join(["templates have errors", *problems]))
        return new, renderer, Pipeline(new, renderer)

    def _apply(self, new: Config, renderer: Renderer, pipeline: Pipeline) -> None:
        """Switch every component over; each takes the new objects at its next message."""
        logging_changed = _dump(new.logging) != _dump(self.config.logging)
        self.config, self.renderer, self.pipeline = new, renderer, pipeline
        if self.processor is not None:
            self.processor.config = new
            self.processor.pipeline = pipeline
        if self.workers is not None:  # they read the validated files again when they start
            self._spawn(self.workers.restart(self.workers.count))
        if self.sender_worker is not None:
            self._spawn(self.sender_worker.restart(1))
        self.sender.config = new
        self.listener.config = new
        self.listener.handler.config = new
        if logging_changed:
            from mailgate.logs import configure_logging

            configure_logging(new.logging)
        if self.scheduler.running:
            with suppress(Exception):
                self.scheduler.reschedule_job(
                    "sla-sweep", trigger="interval",
                    seconds=new.processing.reminder_sweep.total_seconds())

    def _recompute_deadlines(self, config: Config) -> int:
        """New deadlines and reminder plans for every open clock (on the SLA thread)."""
        store = self._reminder_db()
        tickets = ops.open_clock_tickets(store)
        count = 0
        for start in range(0, len(tickets), RECOMPUTE_BATCH):
            now = clock.now()
            with store.transaction():
                for ticket_id in tickets[start:start + RECOMPUTE_BATCH]:
                    count += clocks.recompute_ticket(config, store, ticket_id, now)
        return count

    async def _finish_reload(self, result: ReloadResult) -> ReloadResult:
        self.reloads["success" if result.ok else "failure"] += 1
        result.generation = sum(self.reloads.values())
        self.last_reload = result
        try:
            await asyncio.to_thread(health.write_json_atomically, health.reload_file(self.config),
                                    asdict(result))
        except OSError as exc:
            log.warning("reload_status_not_written", error=str(exc))
        return result

    # -- pid file ---------------------------------------------------------------------

    def _write_pid_file(self) -> None:
        path = health.pid_file(self.config)
        try:
            other = int(path.read_text().strip())
        except (OSError, ValueError):
            other = None
        if other and other != os.getpid() and health.process_alive(other) \
                and health.looks_like_mailgate(other):
            log.warning("pid_file_taken", pid_file=str(path), other_pid=other,
                        detail="another daemon uses this database folder; "
                               "`mailgate reload` will signal this one")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(f"{os.getpid()}\n")
            os.replace(tmp, path)
            self._pid_written = True
        except OSError as exc:
            log.warning("pid_file_not_written", pid_file=str(path), error=str(exc))

    def _remove_pid_file(self) -> None:
        if not self._pid_written:
            return
        path = health.pid_file(self.config)
        with suppress(OSError, ValueError):
            if int(path.read_text().strip()) == os.getpid():
                path.unlink()

    # -- HTTP: /healthz and /metrics ------------------------------------------------------

    async def _start_http(self) -> None:
        http = self.config.http
        self._http_executor = ThreadPoolExecutor(1, thread_name_prefix="mailgate-http")
        self.http = health.HttpServer(http.host, http.port, {
            "/healthz": self._healthz, "/metrics": self._metrics_route})
        await self.http.start()
        log.info("http_listening", host=http.host, port=self.http.port)

    def _http_conn(self) -> Store:
        """The HTTP thread's own read connection, opened on first use."""
        if self._http_store is None:
            self._http_store = self.open_db()
        return self._http_store

    def _http_db(self, fn: Any) -> Any:
        assert self._http_executor is not None
        return asyncio.get_running_loop().run_in_executor(self._http_executor, fn)

    async def _healthz(self, _accept: str) -> tuple[int, str, bytes]:
        import json

        try:
            database = await asyncio.wait_for(
                self._http_db(lambda: _health_figures(self._http_conn())), 5)
        except Exception as exc:
            database = {"ok": False, "error": str(exc) or type(exc).__name__}
        status, body = health.health_report(
            stopping=self.stopping.is_set(), listener=self._listener_state(),
            processor_up=self._processor_up(), database=database,
            imap=self.imap_states.snapshot(),
            reload=asdict(self.last_reload) if self.last_reload else None,
            sender_up=self.sender_worker is None or self.sender_worker.alive())
        return status, "application/json", json.dumps(body, indent=1, default=str).encode()

    async def _metrics_route(self, accept: str) -> tuple[int, str, bytes]:
        from mailgate.metrics import exposition

        body, content_type = await self._http_db(lambda: exposition(self.metrics, accept))
        return 200, content_type, body

    def _metrics_snapshot(self) -> dict[str, Any]:
        return ops.metrics_snapshot(self._http_conn())  # on the HTTP thread

    def _local_metrics(self) -> dict[str, Any]:
        return {
            "reloads_success": self.reloads["success"],
            "reloads_failure": self.reloads["failure"],
            "last_reload_success": None if self.last_reload is None else self.last_reload.ok,
            "listener_up": self._listener_state().get("up", False),
            "processor_up": self._processor_up(),
            "imap": self.imap_states.snapshot(),
        }

    def _listener_state(self) -> dict[str, Any]:
        if not self.config.smtp.enabled and self.listener.server is None:
            return {"enabled": False, "up": False}
        server = self.listener.server
        up = server is not None and server.is_serving()
        address = server.sockets[0].getsockname() if up and server.sockets else (None, None)
        return {"enabled": True, "up": up, "host": address[0], "port": address[1]}

    def _processor_up(self) -> bool:
        if self.workers is not None:
            return self.workers.alive()
        return bool(self._threads) and self._threads[0].is_alive()


def describe_database(config: Config) -> str:
    """The database for logs: the SQLite file, or the PostgreSQL URL (no password in it)."""
    if config.store.backend == "sqlite":
        return str(config.database_path)
    from mailgate.store.postgres import redact

    return redact(config.store.url)


def _health_figures(store: Store) -> dict[str, Any]:
    store.ping()
    return {"ok": True, **ops.health_snapshot(store)}

