"""Shared fixtures: a config in a temp folder, and a real daemon on an ephemeral port.

The daemon runs on its own event loop in a background thread, exactly as
``mailgate serve`` runs it; tests talk to it with ``smtplib`` over loopback
and read the outbox folder and the database as a user would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from mailgate.config import Config, load_config
from mailgate.daemon import Daemon
from mailgate.logs import configure_logging
from mailgate.store import Store, open_store
from tests.imapserver import dovecot_fixture, make_dovecot_fixture  # noqa: F401
from tests.pgserver import pg_server, pg_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

BASE_CONFIG = """
[gateway]
name = "Example Support"
addresses = ["support@example.com"]
reference_prefix = "SUP"
reference_width = 6

[smtp]
host = "127.0.0.1"
port = 0
max_message_size = 200000

[store]
url = "sqlite:///var/mailgate.db"
busy_timeout = "1s"

[outbound]
mode = "folder"
folder = "var/outbox"

[templates]
directory = "templates"

[processing]
poll_interval = "0.2s"
# In-process tests look inside the daemon and freeze its clock: the processor is a thread
# here. Daemons run as subprocesses (faultkit.fault_config) use processor processes.
processes = 0

[logging]
format = "json"
level = "warning"
"""


# MAILGATE_TEST_STORE=postgresql runs every test that writes its config with write_config
# or fault_config on a fresh PostgreSQL database instead of SQLite (tests that reach into
# the SQLite file itself are marked sqlite_only and skip).
STORE_BACKEND = os.environ.get("MAILGATE_TEST_STORE", "sqlite")
_PG_SERVER: list[Any] = []


def with_store(text: str) -> str:
    """``text`` (a config based on BASE_CONFIG) on the store backend under test."""
    if STORE_BACKEND != "postgresql":
        return text
    assert _PG_SERVER, "the PostgreSQL server fixture is not running"
    server = _PG_SERVER[0]
    return text.replace('url = "sqlite:///var/mailgate.db"',
                        f'url = "{server.database()}"\n'
                        f'password_file = "{server.password_file}"')


@pytest.fixture(scope="session", autouse=STORE_BACKEND == "postgresql")
def _store_backend(request: pytest.FixtureRequest) -> None:
    if STORE_BACKEND == "postgresql":
        _PG_SERVER.append(request.getfixturevalue("pg_server"))


sqlite_only = pytest.mark.skipif(STORE_BACKEND != "sqlite",
                                 reason="reaches into the SQLite database file")


def write_config(folder: Path, extra: str = "") -> Path:
    """A config file in ``folder`` with a copy of the default templates."""
    shutil.copytree(ROOT / "templates", folder / "templates", dirs_exist_ok=True)
    path = folder / "mailgate.toml"
    path.write_text(with_store(BASE_CONFIG + extra), encoding="utf-8")
    return path


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
