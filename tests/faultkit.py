"""Helpers for the fault tests: a validated config, a daemon in a subprocess, SMTP clients
that retry like a real MTA, a smarthost we control, and read-only database peeks.

Everything talks over loopback. Nothing here sleeps to "let things settle": waits are
``tests.support.wait_until`` with a deadline (polling a port or the database is the only
way to observe another process), and retry delays are those a real MTA would use.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email
import os
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate.config import load_config
from tests.configs import write_config
from tests.conftest import make_mail
from tests.support import wait_until

MAIL_FROM = "customer@example.org"
RCPT_TO = "support@example.com"


# -- configuration ------------------------------------------------------------------------


def fault_config(folder: Path, *settings: Mapping[str, Any]) -> Path:
    """A config file in ``folder`` (with the default templates), validated before use.

    ``settings`` merge as in ``tests.configs.write_config``; as deployed, the processor runs
    in a process of its own unless they say otherwise.
    """
    path = write_config(folder, {"processing": {"processes": 1}}, *settings)
    load_config(path)  # a typo in a test's settings fails here, not as a daemon that won't start
    return path


# -- the daemon as a separate process -------------------------------------------------------


def smtp_ready(port: int) -> bool:
    """True when something on ``port`` answers with an SMTP 220 greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.settimeout(2)
            banner = sock.recv(512)
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


class DaemonProcess:
    """``mailgate serve -c CONFIG`` in a subprocess on a fixed port; stderr goes to a file."""

    def __init__(self, config_path: Path, port: int) -> None:
        self.config_path = config_path
        self.port = port
        self.log_path = config_path.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 20) -> DaemonProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailgate", "serve", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.config_path.parent,
            )
        proc = self.proc
        wait_until(lambda: proc.poll() is not None or smtp_ready(self.port), timeout,
                   message=lambda: f"daemon did not listen on {self.port}:\n{self.log()}")
        assert proc.poll() is None, f"daemon exited with {proc.returncode}:\n{self.log()}"
        return self

    def pids(self) -> list[int]:
        """The daemon's pid and its children's (its processor and sender processes)."""
        assert self.proc is not None
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def children(self, role: str) -> list[int]:
        """The daemon's worker processes of ``role`` (``processor`` or ``sender``)."""
        found = []
        for pid in self.pids()[1:]:
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"mailgate.workers" in argv and \
                        argv[argv.index(b"--role") + 1].decode() == role:
                    found.append(pid)
        return found

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds until the process was gone)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"daemon did not exit {timeout}s after SIGTERM:\n"
                                 f"{self.log()}") from None
        return code, time.monotonic() - began

    def cleanup(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def log(self, tail: int | None = 4000) -> str:
        """The daemon's stderr so far (its last ``tail`` characters, for failure messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return text if tail is None else text[-tail:]

    def logged(self, event: str) -> bool:
        """True when the daemon logged ``event`` (structlog's "event" key)."""
        return f'"event": "{event}"' in self.log(tail=None)


# -- reading the database without writing to it ---------------------------------------------


@contextlib.contextmanager
def read_only(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with read_only(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def drained(db_path: Path) -> bool:
    """No spool row waits for processing and no outgoing mail waits for sending."""
    try:
        with read_only(db_path) as conn:
            new = conn.execute("SELECT COUNT(*) FROM spool WHERE state = 'new'").fetchone()[0]
            pending = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    except sqlite3.Error:
        return False
    return new == 0 and pending == 0


def backlog(db_path: Path) -> str:
    """What still waits, and who holds it: for the failure message of a drain that timed out."""
    spool = query(db_path, "SELECT state, COUNT(*), MIN(id), MAX(attempts), claimed_by,"
                           " MAX(lease_until) FROM spool GROUP BY state, claimed_by")
    outbox = query(db_path, "SELECT state, COUNT(*), claimed_by, MAX(lease_until),"
                            " MAX(attempts), MAX(next_attempt_at), MAX(last_error) FROM outbox"
                            " GROUP BY state, claimed_by")
    return f"spool (state, n, min id, attempts, claimed by, lease): {spool}; " \
           f"outbox (state, n, claimed by, lease, attempts, next attempt, error): {outbox}"


def message_id_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.default)
    return str(msg["Message-ID"]).strip()


def numbered_mails(prefix: str, count: int, *, body: str = "Something is broken.\n",
                   ) -> dict[str, bytes]:
    """``count`` distinct new-ticket mails, keyed by their Message-ID."""
    mails = {}
    for n in range(count):
        mid = f"<{prefix}-{n:04d}@example.org>"
        # One sender each (per prefix too): the per-address cap on automatic mail (a loop
        # breaker) would rightly hold back acknowledgements to a single address sending
        # hundreds of mails, and two mails of one sender about "problem number 3" within
        # minutes are rightly one repeat report.
        msg = make_mail(f"{prefix} problem number {n}", message_id=mid, body=body,
                        sender=f"customer{n}.{prefix}@example.org")
        mails[mid] = msg.as_bytes(policy=policy.SMTP)
    return mails


# -- clients that behave like a sending MTA ---------------------------------------------------


@dataclass
class Attempt:
    message_id: str
    code: int | None  # the reply that decided the attempt; None for a connection error
    error: str = ""


@dataclass
class Mta:
    """Several concurrent SMTP sessions delivering ``mails``; anything but 2xx is retried.

    A session is reused for many transactions, as MTAs do; after any failure it is dropped
    and a new one opened after ``retry_delay``. ``accepted`` maps each Message-ID to the
    spool ids of every 250 it got (more than one if a 250 was lost and the mail re-sent).
    """

    port: int
    mails: dict[str, bytes]
    sessions: int = 6
    retry_delay: float = 0.05
    timeout: float = 10
    accepted: dict[str, list[int]] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._queue: collections.deque[str] = collections.deque(self.mails)
        self._outstanding = len(self.mails)
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    # the public face

    def start(self) -> Mta:
        for n in range(self.sessions):
            thread = threading.Thread(target=self._session, name=f"mta-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self, timeout: float) -> None:
        """Wait until every mail is accepted (or ``stop`` was set); fail at the deadline."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        if any(t.is_alive() for t in self._threads):
            self.stop.set()
            for thread in self._threads:
                thread.join(self.timeout + 2)
            raise AssertionError(f"clients did not finish in {timeout}s: "
                                 f"{self.outstanding} of {len(self.mails)} not accepted")

    def halt(self) -> None:
        self.stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(self.timeout + 2)

    @property
    def outstanding(self) -> int:
        with self._cond:
            return self._outstanding

    def accepted_count(self) -> int:
        with self._cond:
            return len(self.accepted)

    def wait_accepted(self, count: int, timeout: float) -> None:
        """Block until at least ``count`` distinct mails got a 250 (an event, not a sleep)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.accepted) >= count or self.stop.is_set(),
                                     timeout)
        assert ok, f"only {self.accepted_count()} of {count} mails accepted in {timeout}s"

    def codes(self) -> collections.Counter[int | None]:
        with self._cond:
            return collections.Counter(a.code for a in self.attempts)

    # the sessions

    def _take(self) -> str | None:
        with self._cond:
            while not self.stop.is_set():
                if self._queue:
                    return self._queue.popleft()
                if self._outstanding == 0:
                    return None
                self._cond.wait(0.1)  # another session may put a failed mail back
            return None

    def _record(self, mid: str, code: int | None, text: str = "", spool_id: int | None = None,
                ) -> None:
        with self._cond:
            self.attempts.append(Attempt(mid, code, text))
            if spool_id is not None:
                if mid not in self.accepted:
                    self._outstanding -= 1
                self.accepted.setdefault(mid, []).append(spool_id)
            else:
                self._queue.append(mid)
            self._cond.notify_all()

    def _transaction(self, client: smtplib.SMTP, raw: bytes) -> tuple[int, str]:
        for code, text in (client.mail(MAIL_FROM), client.rcpt(RCPT_TO)):
            if code != 250:
                return code, text.decode(errors="replace")
        code, text = client.data(raw)
        return code, text.decode(errors="replace")

    def _session(self) -> None:
        client: smtplib.SMTP | None = None
        while (mid := self._take()) is not None:
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", self.port, timeout=self.timeout)
                    client.ehlo("mta.example.org")
                code, text = self._transaction(client, self.mails[mid])
            except smtplib.SMTPResponseException as exc:
                code, text = exc.smtp_code, exc.smtp_error.decode(errors="replace")
            except (OSError, smtplib.SMTPException) as exc:
                self._record(mid, None, f"{type(exc).__name__}: {exc}")
                client = _drop(client)
                self.stop.wait(self.retry_delay)
                continue
            if code == 250:
                self._record(mid, code, text, int(text.rsplit(" ", 1)[1]))
                continue
            self._record(mid, code, text)
            client = _drop(client)
            self.stop.wait(self.retry_delay)
        _drop(client)


def send_once(port: int, raw: bytes, timeout: float = 10) -> int | None:
    """One delivery attempt; the reply code that decided it, None if the connection failed."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
            client.ehlo("mta.example.org")
            for code, _text in (client.mail(MAIL_FROM), client.rcpt(RCPT_TO)):
                if code != 250:
                    return code
            return client.data(raw)[0]
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code
    except (OSError, smtplib.SMTPException):
        return None


def _drop(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()


# -- a smarthost we control -------------------------------------------------------------------


@dataclass
class Delivery:
    message_id: str
    rcpt_tos: list[str]
    raw: bytes
    ehlo: str = ""  # the name the client gave in EHLO/HELO


class RelayHandler:
    """451 for the first ``fail_first`` DATA commands, 550 for ``reject`` recipients.

    With ``hold`` given, the first DATA waits (``arrived`` is set) until ``hold`` is set
    before answering 250: the test decides what happens while the sender waits. With
    ``delay``, every DATA takes that long (a slow smarthost widens the window a kill hits).
    """

    def __init__(self, fail_first: int = 0, reject: frozenset[str] = frozenset(),
                 hold: threading.Event | None = None, delay: float = 0.0) -> None:
        self.delay = delay  # seconds each DATA takes before its answer
        self.fail_first = fail_first
        self.reject = reject
        self.hold = hold
        self.arrived = threading.Event()
        self.data_attempts = 0
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold is not None and not self.arrived.is_set():
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
        with self.lock:
            self.data_attempts += 1
            if self.data_attempts <= self.fail_first:
                return "451 4.3.0 Smarthost busy, try again later"
            raw = bytes(envelope.original_content or b"")
            self.deliveries.append(Delivery(message_id_of(raw), list(envelope.rcpt_tos), raw,
                                            session.host_name or ""))
        return "250 2.0.0 OK"

    def delivered(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


class Relay:
    """An aiosmtpd smarthost on 127.0.0.1:``port`` in its own thread; ``smtputf8=False``
    one without SMTPUTF8, ``size`` one that announces and enforces that size limit
    (None: none announced)."""

    def __init__(self, port: int, handler: RelayHandler, *, smtputf8: bool = True,
                 size: int | None = 33554432) -> None:
        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=port,
                                     decode_data=False, enable_SMTPUTF8=smtputf8,
                                     data_size_limit=size)

    def __enter__(self) -> Relay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# -- faults of the file system ------------------------------------------------------------------


def can_chattr(probe_dir: Path) -> str | None:
    """None when ``chattr +i`` works in ``probe_dir``, else why not: a write through a file
    opened before (as the daemon has its database open) must fail too, which tmpfs, for
    one, does not enforce."""
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    probe = probe_dir / ".chattr-probe"
    probe.write_bytes(b"x")
    try:
        with open(probe, "ab", buffering=0) as handle:
            result = subprocess.run(["chattr", "+i", str(probe)], capture_output=True,
                                    text=True)
            if result.returncode != 0:
                return f"chattr +i failed here: {result.stderr.strip()}"
            try:
                handle.write(b"y")
            except PermissionError:
                return None
        return "chattr +i did not make an open file read-only"
    finally:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
        probe.unlink()


def chattr(flag: str, *paths: Path) -> None:
    existing = [str(p) for p in paths if p.exists()]
    subprocess.run(["chattr", flag, *existing], check=True, capture_output=True)


def fill_disk(folder: Path) -> Path:
    """Write a file in ``folder`` until the file system reports ENOSPC; return it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size) == size:
                    written += size
                    assert written < 256 * 2**20, f"{folder} does not fill up"
        os.fsync(fd)
    finally:
        os.close(fd)
    return filler
