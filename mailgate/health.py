"""Health of a running daemon: the HTTP endpoint, IMAP account states, pid and reload files.

The HTTP endpoint (``[http]``, off by default) is a deliberately tiny
HTTP/1.0 server on the daemon's own event loop: ``GET /healthz`` (JSON, 200
or 503) and ``GET /metrics`` (Prometheus text format). It serves one request
per connection and closes it; anything the handlers need from the database
runs on a worker thread, so a slow disk never stalls the SMTP listener.

``/healthz`` answers 503 only for faults a restart or an admin on this host
can fix: the SMTP listener not serving, the database not answering, the
processor thread dead, or the daemon stopping (so a load balancer drains it).
IMAP servers being unreachable and mail waiting in the outbox are reported
(``"status": "degraded"``, still 200): they are remote troubles, and
restarting mailgate would not cure them. So are a failed config reload (until a
reload succeeds: the old config is in force) and an SMTP ``451`` (until the next
``250``; ``listener.last_451`` keeps its time, cause and client), which name their
cause for the admin where the client only sees a generic reply.

IMAP state comes from the fetchers' own log calls: each fetcher gets a logger
that notes its last connection event before passing it on, so the fetcher
needs no extra API. An account another node reads (it holds the account's
lease) is in ``standby`` here, with that node in ``lease_holder``: the normal
state of all but one node, so neither a problem nor a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from mailgate import clock
from mailgate.config import Config

log = structlog.get_logger("mailgate.http")

# -- files in the node's state folder (next to an SQLite database) ----------------------------


def pid_file(config: Config) -> Path:
    """Where ``mailgate serve`` writes its pid (``Config.state_dir``: next to the database)."""
    return config.state_dir / "mailgate.pid"


def reload_file(config: Config) -> Path:
    """Where the daemon writes the outcome of its last config reload (JSON)."""
    return config.state_dir / "mailgate.reload.json"


def write_json_atomically(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def looks_like_mailgate(pid: int) -> bool:
    """True unless /proc says ``pid`` is some other program (a stale, recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the pid file
    return b"mailgate" in cmdline


# -- IMAP account states ----------------------------------------------------------------------

_STATES = {
    "imap_connected": ("connected", True),
    "imap_idle_started": ("idle", True),
    "imap_message_accepted": ("connected", True),
    "imap_folder_created": ("connected", True),
    "imap_disconnected": ("disconnected", False),
    "imap_connect_failed": ("connect_failed", False),
    "imap_round_failed": ("error", False),
    "imap_reconnect_scheduled": ("reconnecting", False),
    "imap_standby": ("standby", False),
    "imap_lease_lost": ("lease_lost", False),
    "imap_lease_unavailable": ("lease_unavailable", False),
}
#: states of an account that are as they should be although it is not connected
IMAP_STANDBY = frozenset({"standby"})


class ImapStates:
    """Last known state of each IMAP account, updated from the fetchers' log calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, dict[str, Any]] = {}

    def add(self, account: str) -> None:
        with self._lock:
            self._accounts[account] = {"state": "starting", "connected": False,
                                       "since": clock.now().isoformat(), "last_event": None,
                                       "error": None, "lease_holder": None}

    def note(self, account: str, event: str, fields: dict[str, Any]) -> None:
        state = _STATES.get(event)
        with self._lock:
            entry = self._accounts.setdefault(account, {"state": "starting",
                                                        "connected": False, "error": None})
            entry["last_event"] = event
            if "holder" in fields:  # the lease events name who reads the account now
                entry["lease_holder"] = fields["holder"]
            if event == "imap_message_too_large":  # set aside unread: someone must look
                entry["too_large"] = entry.get("too_large", 0) + 1
                entry["too_large_last"] = {k: fields.get(k) for k in ("uid", "size", "limit",
                                                                       "moved_to")}
            if state is None:
                return
            name, connected = state
            if entry["state"] != name:
                entry["since"] = clock.now().isoformat()
            entry["state"], entry["connected"] = name, connected
            if not connected:
                reason = fields.get("reason") or fields.get("exc_info")
                if reason is not None:
                    entry["error"] = str(reason)
            elif name == "connected":
                entry["error"] = None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(entry) for name, entry in self._accounts.items()}

    def logger(self, account: str, inner: Any = None) -> _TrackingLogger:
        """A structlog-like logger for one fetcher that records state, then logs as usual."""
        self.add(account)
        return _TrackingLogger(self, account, inner or structlog.get_logger("mailgate.imap"))


class _TrackingLogger:
    def __init__(self, states: ImapStates, account: str, inner: Any) -> None:
        self._states, self._account, self._inner = states, account, inner

    def bind(self, **values: Any) -> _TrackingLogger:
        return _TrackingLogger(self._states, self._account, self._inner.bind(**values))

    def _log(self, level: str, event: str, **fields: Any) -> Any:
        with contextlib.suppress(Exception):  # bookkeeping must never break a fetcher
            self._states.note(self._account, event, fields)
        return getattr(self._inner, level)(event, **fields)

    def debug(self, event: str, **fields: Any) -> Any:
        return self._log("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> Any:
        return self._log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> Any:
        return self._log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> Any:
        return self._log("error", event, **fields)

    def exception(self, event: str, **fields: Any) -> Any:
        return self._log("exception", event, **fields)


# -- the health report ------------------------------------------------------------------------


def health_report(*, stopping: bool, listener: dict[str, Any], processor_up: bool,
                  database: dict[str, Any], imap: dict[str, dict[str, Any]],
                  reload: dict[str, Any] | None, now: datetime | None = None,
                  sender_up: bool = True) -> tuple[int, dict[str, Any]]:
    """The /healthz body and its HTTP status (see the module docstring for the policy)."""
    now = now or clock.now()
    failures = []
    if stopping:
        failures.append("daemon is stopping")
    if listener.get("enabled") and not listener.get("up"):
        failures.append("SMTP listener is not serving")
    if not database.get("ok"):
        failures.append(f"database: {database.get('error')}")
    if not processor_up:
        failures.append("spool processor is not running")
    warnings = [f"IMAP account {name}: {entry['state']}" for name, entry in sorted(imap.items())
                if not entry.get("connected") and entry.get("state") not in IMAP_STANDBY]
    for name, entry in sorted(imap.items()):
        if entry.get("too_large"):
            where = (entry.get("too_large_last") or {}).get("moved_to") or "the inbox"
            warnings.append(f"IMAP account {name}: {entry['too_large']} message(s) over the "
                            f"size limit set aside unread in {where} since the daemon "
                            "started (their senders got no answer)")
    if listener.get("refusing") and listener.get("last_451"):  # until the next 250
        refusal = listener["last_451"]
        warnings.append(f"SMTP intake answered 451 at {refusal['at']}: {refusal['cause']}")
    if reload is not None and not reload.get("ok", True):  # until a reload succeeds
        warnings.append(f"last config reload failed, the previous config stays in force: "
                        f"{reload.get('error')}")
    if not sender_up:  # mail is still taken in and queued; it goes out once it is back
        warnings.append("outbox sender is not running (restarting)")
    outbox_age = database.pop("oldest_pending_outbox", None)
    spool_age = database.pop("oldest_new_spool", None)
    if database.get("ok"):
        database["outbox_oldest_pending_age_seconds"] = (
            round((now - outbox_age).total_seconds(), 3) if outbox_age else 0.0)
        database["spool_oldest_new_age_seconds"] = (
            round((now - spool_age).total_seconds(), 3) if spool_age else 0.0)
        if database.get("outbox_last_error"):  # until the waiting mail goes out
            warnings.append(f"{database['outbox_pending']} outgoing mail(s) waiting; last "
                            f"error: {database['outbox_last_error']}")
        if database.get("outbox_failed"):
            warnings.append(f"{database['outbox_failed']} outgoing mail(s) failed "
                            "(mailgate outbox)")
        if database.get("quarantined"):
            warnings.append(f"{database['quarantined']} message(s) in quarantine "
                            "(mailgate quarantine list)")
    status = "fail" if failures else "degraded" if warnings else "ok"
    body = {
        "status": status,
        "checked_at": now.isoformat(),
        "problems": failures,
        "warnings": warnings,
        "listener": listener,
        "processor": {"up": processor_up},
        "sender": {"up": sender_up},
        "database": database,
        "imap": imap,
        "last_reload": reload,
    }
    return (503 if failures else 200), body


# -- the HTTP server --------------------------------------------------------------------------

Route = Callable[[str], Awaitable[tuple[int, str, bytes]]]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}
REQUEST_TIMEOUT = 10.0


class HttpServer:
    """GET-only HTTP/1.0 on the running loop; ``routes`` map a path to a coroutine."""

    def __init__(self, host: str, port: int, routes: dict[str, Route]) -> None:
        self.host, self.requested_port, self.routes = host, port, routes
        self.server: asyncio.base_events.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, self.host, self.requested_port,
                                                 limit=16384, reuse_address=True)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for task in list(self._clients):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)
        self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("http_request_failed")
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await _respond(writer, 400, "text/plain; charset=utf-8", b"bad request\n")
            return
        method, target, _version = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method not in ("GET", "HEAD"):
            await _respond(writer, 405, "text/plain; charset=utf-8", b"GET only\n",
                           extra="Allow: GET, HEAD\r\n")
            return
        route = self.routes.get(target.split("?", 1)[0])
        if route is None:
            known = ", ".join(sorted(self.routes))
            await _respond(writer, 404, "text/plain; charset=utf-8",
                           f"not found; try {known}\n".encode())
            return
        try:
            status, content_type, body = await route(headers.get("accept", ""))
        except Exception as exc:
            log.exception("http_handler_failed", path=target)
            status, content_type, body = (500, "text/plain; charset=utf-8",
                                          f"{type(exc).__name__}: {exc}\n".encode())
        await _respond(writer, status, content_type, body, head_only=method == "HEAD")


async def _respond(writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes,
                   *, head_only: bool = False, extra: str = "") -> None:
    head = (f"HTTP/1.0 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\nConnection: close\r\n{extra}\r\n")
    writer.write(head.encode("latin-1") + (b"" if head_only else body))
    await writer.drain()
