"""The daemon's HTTP endpoint: ``/healthz`` and ``/metrics``.

Both read the database on one thread of their own (``mailgate-http``) with a
connection of its own, so a slow query never holds the event loop and a scrape
never waits for a connection pool. ``mailgate.metrics`` (prometheus_client) is
imported only here, when the daemon builds its registry.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import structlog

from mailgate import health
from mailgate.config import Config
from mailgate.errors import TransientError
from mailgate.store import Store, ops

if TYPE_CHECKING:
    from mailgate.daemon.reload import ReloadResult
    from mailgate.intake.smtp import Listener
    from mailgate.workers import WorkerProcesses

log = structlog.get_logger("mailgate.daemon")


class HttpEndpoint:
    """The ``Daemon``'s health and metrics routes (a mixin: they report the daemon's state)."""

    # provided by the Daemon
    config: Config
    open_db: Callable[[], Store]
    stopping: asyncio.Event
    listener: Listener
    workers: WorkerProcesses | None
    sender_worker: WorkerProcesses | None
    imap_states: health.ImapStates
    last_reload: ReloadResult | None
    reloads: dict[str, int]
    _threads: list[threading.Thread]

    def _init_http(self) -> None:
        self.http: health.HttpServer | None = None
        self._http_executor: ThreadPoolExecutor | None = None
        self._http_store: Store | None = None
        from mailgate.metrics import build_registry

        self.metrics = build_registry(self._metrics_snapshot, self._local_metrics)

    async def _start_http(self) -> None:
        http = self.config.http
        self._http_executor = ThreadPoolExecutor(1, thread_name_prefix="mailgate-http")
        self.http = health.HttpServer(http.host, http.port, {
            "/healthz": self._healthz, "/metrics": self._metrics_route})
        try:
            await self.http.start()
        except OSError as exc:
            raise TransientError(
                f"cannot listen on {http.host}:{http.port} (http.host/http.port in "
                f"{self.config.source}): {os.strerror(exc.errno) if exc.errno else exc}") from None
        log.info("http_listening", host=http.host, port=self.http.port)

    def _close_http(self) -> None:
        """After the server stopped: close the HTTP thread's connection, on that thread."""
        if self._http_executor is not None:
            if self._http_store is not None:
                self._http_executor.submit(self._http_store.close).result()
            self._http_executor.shutdown()

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
        sockets = server.sockets if server is not None and up else ()
        address = sockets[0].getsockname() if sockets else (None, None)
        handler = self.listener.handler
        return {"enabled": True, "up": up, "host": address[0], "port": address[1],
                "refusing": handler.refusing, "last_451": handler.last_refusal}

    def _processor_up(self) -> bool:
        if self.workers is not None:
            return self.workers.alive()
        return bool(self._threads) and self._threads[0].is_alive()


def _health_figures(store: Store) -> dict[str, Any]:
    store.ping()
    return {"ok": True, **ops.health_snapshot(store)}
