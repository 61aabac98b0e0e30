"""The composition root: config -> logs -> store -> spooler, processor, sender, listener.

Threads and tasks, and why:
- the asyncio loop runs the SMTP listener and the outbox sender (network I/O);
- the spooler thread commits accepted mail in groups (disk I/O off the loop);
- the processor thread parses and threads spooled mail (CPU and DB off the loop);
- each IMAP account gets a thread (imapclient is synchronous).

SIGTERM/SIGINT: stop accepting (new sessions refused, DATA in flight gets
committed or a 421), drain the spool writer, let the processor finish its
current message, give back claims, exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from contextlib import suppress

import structlog

from mailgate.config import Config
from mailgate.intake.smtp import Listener
from mailgate.outbound import Sender
from mailgate.pipeline import Pipeline
from mailgate.processor import Processor, node_name
from mailgate.render import Renderer
from mailgate.spooler import Spooler
from mailgate.store import Store

log = structlog.get_logger("mailgate.daemon")


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

    def _spooled(self) -> None:
        self.processor.wake.set()

    def _outbox_filled(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.sender.wake.set)

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
        sender_task = asyncio.create_task(self.sender.run(self.stopping))
        if self.config.smtp.enabled:
            await self.listener.start()
            log.info("listening", host=self.config.smtp.host, port=self.listener.port)
        log.info("daemon_started", node=self.node, database=str(self.db_path))
        self.started.set()
        await self.stopping.wait()
        log.info("daemon_stopping")
        await self.listener.stop()
        self.spooler.stop()
        self.stop_threads.set()
        self.processor.wake.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        with suppress(asyncio.CancelledError):
            await sender_task
        self.sender.close()
        self.processor_store.close()
        log.info("daemon_stopped")

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
