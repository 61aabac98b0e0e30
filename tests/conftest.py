"""Shared fixtures: a config in a temp folder, and a real daemon on an ephemeral port.

The daemon runs on its own event loop in a background thread, exactly as
``mailgate serve`` runs it; tests talk to it with ``smtplib`` over loopback
and read the outbox folder and the database as a user would.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import shutil
import smtplib
import sys
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mailgate.config import Config, load_config
from mailgate.daemon import Daemon
from mailgate.logs import configure_logging
from mailgate.store import Store, open_store
from tests.configs import STORE_BACKEND, use_pg_server, write_config
from tests.imapserver import dovecot_fixture, make_dovecot_fixture  # noqa: F401
from tests.pgserver import MEMORY_DIR, pg_server, pg_url  # noqa: F401

if TYPE_CHECKING:  # tests.faultkit imports this module
    from tests.faultkit import DaemonProcess

DATA = Path(__file__).resolve().parent / "data"
PACKAGE = Path(__file__).resolve().parent.parent / "mailgate"


MEMORY_NEEDED = 1 << 30  # bytes free in the memory file system before tmp_path goes there


def pytest_configure(config: pytest.Config) -> None:
    """``tmp_path`` folders in memory (``/dev/shm``) when there is one with room to spare,
    unless ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` (pytest's documented setting) says
    where: every SQLite commit fsyncs its log, a few thousand in a run, and on a busy disk
    each costs milliseconds to tens of milliseconds. Nothing tested depends on the disk
    (the disk-full test mounts a tmpfs of its own), and pytest keeps its usual last three
    runs' folders there."""
    if config.option.basetemp or "PYTEST_DEBUG_TEMPROOT" in os.environ:
        return
    try:
        room = shutil.disk_usage(MEMORY_DIR).free
    except OSError:
        return
    if room >= MEMORY_NEEDED and os.access(MEMORY_DIR, os.W_OK):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(MEMORY_DIR)


def pytest_sessionstart(session: pytest.Session) -> None:
    """With PYTHONDONTWRITEBYTECODE (common in container images, CI's too) every Python the
    tests start (``mailgate`` commands, subprocess daemons and their worker processes: several
    hundred) would compile mailgate's modules from source again, about 0.2 s of CPU each:
    compile them once, here (only what changed since is compiled)."""
    if sys.dont_write_bytecode:
        compileall.compile_dir(PACKAGE, quiet=1)


@pytest.fixture(scope="session", autouse=STORE_BACKEND == "postgresql")
def _store_backend(request: pytest.FixtureRequest) -> None:
    """MAILGATE_TEST_STORE=postgresql: configs from tests.configs get a fresh database on the
    session's server (tests that reach into the SQLite file are marked sqlite_only, skipped)."""
    if STORE_BACKEND == "postgresql":
        use_pg_server(request.getfixturevalue("pg_server"))


sqlite_only = pytest.mark.skipif(STORE_BACKEND != "sqlite",
                                 reason="reaches into the SQLite database file")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


class RunningDaemon:
    """A daemon serving in a thread; ``port`` is its SMTP port."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.daemon = Daemon(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.daemon.serve(handle_signals=False))
        except BaseException as exc:
            self.error = exc
            self.daemon.started.set()

    def start(self) -> RunningDaemon:
        self.thread.start()
        assert self.daemon.started.wait(10), "daemon did not start"
        if self.error:
            raise self.error
        return self

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(15)
        assert not self.thread.is_alive(), "daemon did not stop"
        if self.error:
            raise self.error

    def run_reminders(self) -> int:
        """Run one reminder pass on the daemon's loop and return how many were queued."""
        import asyncio

        assert self.daemon.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.daemon.run_reminders(), self.daemon.loop)
        return future.result(10)

    @property
    def port(self) -> int:
        return self.daemon.listener.port

    @property
    def outbox_dir(self) -> Path:
        return self.config.path(self.config.outbound.folder)

    def store(self) -> Store:
        return open_store(self.config, migrate=False)

    def send(self, raw: bytes | EmailMessage, *, mail_from: str = "customer@example.org",
             rcpt: tuple[str, ...] = ("support@example.com",)) -> tuple[int, bytes]:
        """Send one message with smtplib; return the DATA reply (code, text)."""
        data = raw.as_bytes(policy=policy.SMTP) if isinstance(raw, EmailMessage) else raw
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("client.example.org")
            code, text = client.mail(mail_from)
            assert code == 250, text
            for address in rcpt:
                code, text = client.rcpt(address)
                if code != 250:
                    return code, text
            return client.data(data)

    def wait_processed(self, spool_id: int, timeout: float = 10) -> str:
        """Block until the processor has finished a spool row (no sleeping)."""
        return self.daemon.spooler.outcome(spool_id, timeout)

    def wait_outbox_idle(self, timeout: float = 10) -> None:
        """Block until no outgoing mail is pending."""
        import time

        store = self.store()
        deadline = time.monotonic() + timeout
        try:
            while store.outbox(("pending",)):
                assert time.monotonic() < deadline, "outbox did not drain"
                self.daemon.spooler.changed.acquire()
                self.daemon.spooler.changed.wait(0.05)
                self.daemon.spooler.changed.release()
        finally:
            store.close()


@pytest.fixture
def daemon(config: Config) -> Iterator[RunningDaemon]:
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def make_mail(subject: str = "Printer prints blank pages", *,
              sender: str = "Casey Customer <customer@example.org>",
              to: str = "support@example.com", body: str = "Hello, the printer is broken.\n",
              message_id: str | None = None, **headers: str) -> EmailMessage:
    """A plain customer mail as a mail client would send it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    msg["Message-ID"] = message_id or make_msgid(domain="example.org")
    msg.set_content(body)  # before the extra headers: it drops Content-* headers
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Subprocess daemons (``tests.faultkit.DaemonProcess``) a test started; any still
    running are killed afterwards."""
    started: list[DaemonProcess] = []
    yield started
    for proc in started:
        proc.cleanup()
