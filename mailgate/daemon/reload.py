"""Config reload (SIGHUP, ``mailgate reload``) without dropping mail.

Re-read the config file and the templates, validate them exactly as
``check-config`` does, and switch over between two messages: the processor
thread takes ``self.pipeline`` afresh for every message, and an attribute
assignment is atomic, so a message is handled wholly by the old or wholly by
the new config; processor processes finish their message and are started
again on the validated files. The listener keeps running throughout (no mail
is refused); it takes the new recipient policy and size limit for new
sessions, but a changed address, database, IMAP account list, HTTP endpoint
or node name needs a restart (logged as ``reload_restart_needed``, compared with what
the daemon started with, so reloading the same changed file again still says so). An
invalid file is logged with its error and the old config stays in force (``/healthz``
says ``degraded`` until a reload succeeds). One reload runs at a time: a SIGHUP
during one queues one more, and SIGHUPs while that one waits are merged into it;
worker processes are restarted one set at a time (``WorkerProcesses.restart``).
When the SLA section changed, the deadlines and reminder plans of open
tickets are recomputed (in batches of a few tickets per transaction, so
intake never waits long for the write lock). The outcome of each reload is
written to ``mailgate.reload.json`` next to the database, which
``mailgate reload`` reads back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from mailgate import clock, clocks, health
from mailgate.config import Config, load_config
from mailgate.errors import ConfigError
from mailgate.outbound import check_folder
from mailgate.pipeline import Pipeline
from mailgate.render import Renderer, freeze_templates, needed_templates
from mailgate.store import Store, ops

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from mailgate.intake.smtp import Listener
    from mailgate.outbound import Sender
    from mailgate.processor import Processor
    from mailgate.workers import WorkerProcesses

log = structlog.get_logger("mailgate.daemon")

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
    """The keys whose value in ``new`` differs from the one running (``old``: the config
    the daemon started with), which only a restart puts in force."""
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


def load_candidate(config: Config) -> tuple[Config, Renderer, Pipeline]:
    """Load and validate ``config``'s file and templates again, as ``check-config`` does."""
    source = config.source
    new = Config(base_dir=config.base_dir) if source == "(defaults)" else load_config(source)
    renderer = checked_templates(new)
    check_folder(new)
    return new, renderer, Pipeline(new, renderer)


def checked_templates(config: Config) -> Renderer:
    """A snapshot of ``config``'s templates, rendered as ``check-config`` renders them
    (at start and at each reload): a ConfigError naming each file and line if any fails."""
    folder = config.templates_dir
    renderer = freeze_templates(Renderer(folder))
    needed = needed_templates(config)
    problems = renderer.check(needed)  # the snapshot that will be used is what gets checked
    if problems:  # the files on disk name file and line more precisely
        problems = Renderer(folder).check(needed) or problems
        raise ConfigError("; ".join(["templates have errors", *problems]))
    return renderer


class Reloading:
    """The ``Daemon``'s reload (a mixin: it switches the daemon's own components)."""

    # provided by the Daemon
    config: Config
    renderer: Renderer
    pipeline: Pipeline
    processor: Processor | None
    workers: WorkerProcesses | None
    sender_worker: WorkerProcesses | None
    sender: Sender
    listener: Listener
    scheduler: AsyncIOScheduler
    _reminder_executor: ThreadPoolExecutor
    _reminder_db: Callable[[], Store]
    _arm_reminders: Callable[[], None]

    def _init_reload(self) -> None:
        self._reload_lock: asyncio.Lock | None = None
        self._reload_waiting = False  # a SIGHUP's reload waits for the one running
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_reload: ReloadResult | None = None
        # what the listener, store, IMAP threads, HTTP endpoint and worker count run with:
        # the restart-needed list compares a new file with this, not with the last reload
        self.started_config = self.config
        self.reloads = {"success": 0, "failure": 0}

    def _on_sighup(self) -> None:
        """One reload at a time: a SIGHUP while one runs queues one more (the files may
        have changed after the running one read them); further SIGHUPs while that one
        still waits are merged into it, as it has not read the files yet."""
        if self._reload_waiting:
            log.info("reload_requested", signal="SIGHUP", merged=True)
            return
        log.info("reload_requested", signal="SIGHUP")
        self._reload_waiting = True
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
            self._reload_waiting = False  # from here on the files are read afresh
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
                                  restart_needed=restart_needed(self.started_config, new),
                                  sla_changed=_dump(old.sla) != _dump(new.sla))
            restarts = self._apply(new, renderer, pipeline)
            # answered once the processes that handle mail run what was validated: a mail
            # sent after `mailgate reload` returned never meets the old templates
            await asyncio.gather(*restarts)
            if result.restart_needed:
                log.warning("reload_restart_needed", keys=result.restart_needed,
                            detail="these settings keep their old values until a restart")
            if result.sla_changed:
                await self._follow_sla(new, result)
            log.info("reload_done", config=new.source, restart_needed=result.restart_needed,
                     sla_changed=result.sla_changed, recomputed_clocks=result.recomputed_clocks)
            return await self._finish_reload(result)

    def _load_candidate(self) -> tuple[Config, Renderer, Pipeline]:
        return load_candidate(self.config)

    async def _follow_sla(self, new: Config, result: ReloadResult) -> None:
        """The SLA section changed: move open tickets' deadlines, look at reminders again."""
        loop = asyncio.get_running_loop()
        try:
            result.recomputed_clocks = await loop.run_in_executor(
                self._reminder_executor, self._recompute_deadlines, new)
        except Exception as exc:  # the config is in force; deadlines follow later
            log.exception("reload_recompute_failed")
            result.error = f"deadlines not recomputed: {exc}"
        self._arm_reminders()

    def _apply(self, new: Config, renderer: Renderer, pipeline: Pipeline) -> list[Any]:
        """Switch every component over; each takes the new objects at its next message.
        Returns the restarts of the worker processes, for the caller to await."""
        restarts: list[Any] = []
        logging_changed = _dump(new.logging) != _dump(self.config.logging)
        self.config, self.renderer, self.pipeline = new, renderer, pipeline
        if self.processor is not None:
            self.processor.config = new
            self.processor.pipeline = pipeline
        for workers, count in ((self.workers, 0), (self.sender_worker, 1)):
            if workers is not None:  # restarted with what was just validated
                workers.validated(new, renderer)
                restarts.append(workers.restart(count or workers.count))
        self.sender.config, self.sender.renderer = new, renderer
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
        return restarts

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
