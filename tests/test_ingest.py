"""``mailgate ingest`` as Postfix's pipe(8) runs it: argv, exit codes, what it prints.

The documented ``master.cf`` line (``config/postfix-master.cf.example``, also in
the README) is expanded here as pipe(8) expands it: ``${sender}`` to the envelope
sender (empty for the null sender with ``null_sender=``), and the argument
``${recipient}`` to as many arguments as there are recipients (``-r a b``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgate import clock, health
from mailgate.cli.ingest import (
    DEFAULT_BUSY_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_STORE_URL,
    PID_NAME,
    STORE_KEYS,
    parse_args,
)
from mailgate.config import SmtpSection, StoreSection, load_config
from tests.conftest import make_mail, sqlite_only
from tests.faultkit import DaemonProcess, fault_config, query
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def master_cf_argv() -> list[str]:
    """The ``argv=`` of the documented master.cf entry, split as Postfix splits it."""
    text = (ROOT / "config" / "postfix-master.cf.example").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    entry = " ".join(line.strip() for line in lines)  # continuation lines start with space
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert " ".join(entry.split()) in readme, "README's master.cf entry differs from the example"
    assert entry.startswith("mailgate  unix") and "flags=Rq" in entry
    return entry.split("argv=", 1)[1].split()


def pipe_argv(config: Path, sender: str, recipients: list[str]) -> list[str]:
    """What pipe(8) runs for one delivery: the macros expanded, our interpreter for the
    installed program, the test's config for /etc/mailgate/mailgate.toml."""
    argv: list[str] = []
    for word in master_cf_argv():
        if word == "${recipient}":
            argv += recipients
        elif word == "${sender}":
            argv.append(sender)
        elif word == "/etc/mailgate/mailgate.toml":
            argv.append(str(config))
        else:
            argv.append(word)
    assert argv[0].endswith("/bin/mailgate")
    return [sys.executable, "-m", "mailgate", *argv[1:]]


@pytest.fixture
def daemon_proc(tmp_path: Path) -> Iterator[DaemonProcess]:
    port = free_port()
    proc = DaemonProcess(fault_config(tmp_path, {"smtp": {"port": port},
                                                 "processing": {"poll_interval": "60s"}}), port)
    yield proc
    proc.cleanup()


def spool_rows(folder: Path) -> list[tuple[str, list[str], str]]:
    return [(r[0], json.loads(r[1]), r[2]) for r in query(
        folder / "var" / "mailgate.db", "SELECT mail_from, rcpt_tos, state FROM spool")]


@sqlite_only
@pytest.mark.parametrize("beside_daemon", [False, True], ids=["alone", "beside-daemon"])
@pytest.mark.parametrize("recipients", [["support@example.com"],
                                        ["support@example.com", "support+x7@example.com"]],
                         ids=["one-recipient", "two-recipients"])
def test_the_documented_master_cf_line_stores_the_mail_once(
        tmp_path: Path, daemon_proc: DaemonProcess, recipients: list[str],
        beside_daemon: bool) -> None:
    """Postfix's pipe runs the README's line: exit 0, nothing printed (it would land in
    Postfix's log), one spool row with every recipient, one ticket and its ack."""
    if beside_daemon:
        daemon_proc.start()
    raw = make_mail("Piped by Postfix").as_bytes()
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                      recipients),
                            input=raw, capture_output=True, timeout=60, env=ENV)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    db = daemon_proc.config_path.parent / "var" / "mailgate.db"
    wait_until(lambda: [r for r in spool_rows(tmp_path) if r[2] != "new"], 20,
               message=lambda: str(spool_rows(tmp_path)))  # (the daemon processes it)
    assert spool_rows(tmp_path) == [("customer@example.org", recipients, "done")]
    assert query(db, "SELECT subject FROM tickets") == [("Piped by Postfix",)]
    assert query(db, "SELECT kind FROM outbox") == [("ack",)]


@sqlite_only
def test_a_bounce_from_the_null_sender_is_taken(tmp_path: Path,
                                                daemon_proc: DaemonProcess) -> None:
    """``null_sender=`` makes pipe pass an empty ``${sender}``: stored with an empty sender."""
    daemon_proc.start()
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "", ["support@example.com"]),
                            input=make_mail("Undelivered").as_bytes(), capture_output=True,
                            timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    assert [row[:2] for row in spool_rows(tmp_path)] == [("", ["support@example.com"])]


@pytest.mark.parametrize("argv", [["--bogus"], ["-c"], ["-f", "a@example.org", "stray"]])
def test_a_usage_error_defers_the_mail_with_one_short_line(config_path: Path,
                                                          argv: list[str]) -> None:
    """A wrong master.cf line must not bounce customer mail: exit 75 (Postfix retries) and
    one readable line on stderr for Postfix's log, no traceback."""
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", *argv],
                            input=make_mail().as_bytes(), capture_output=True, timeout=60,
                            env=ENV, cwd=config_path.parent)
    assert result.returncode == 75
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("mailgate ingest: ") and "usage: mailgate ingest" in line


@sqlite_only
def test_a_config_broken_while_the_daemon_runs_defers(tmp_path: Path,
                                                      daemon_proc: DaemonProcess) -> None:
    """A TOML syntax error is not guessed around: the full path reports it, exit 75."""
    daemon_proc.start()
    daemon_proc.config_path.write_text(daemon_proc.config_path.read_text() + "\n[store\n")
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                      ["support@example.com"]),
                            input=make_mail().as_bytes(), capture_output=True, timeout=60,
                            env=ENV)
    assert result.returncode == 75
    assert str(daemon_proc.config_path).encode() in result.stderr
    assert spool_rows(tmp_path) == []


@sqlite_only
def test_a_stale_pid_file_does_not_hand_the_mail_to_nobody(config_path: Path) -> None:
    """A pid file naming a live process that is not ``mailgate serve`` (a recycled pid):
    ingest processes the mail itself instead of signalling that process."""
    assert subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)],
                          input=make_mail("First").as_bytes(), timeout=60,
                          env=ENV).returncode == 0
    (config_path.parent / "var" / "mailgate.pid").write_text(f"{os.getpid()}\n")
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)],
                            input=make_mail("Second").as_bytes(), capture_output=True,
                            timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    states = query(config_path.parent / "var" / "mailgate.db", "SELECT state FROM spool")
    assert states == [("done",), ("done",)]


@sqlite_only
def test_beside_a_daemon_ingest_loads_no_config_models_nor_pipeline(
        tmp_path: Path, daemon_proc: DaemonProcess) -> None:
    """The quick path's point: what a per-mail process imports. Stored, exit 0, and none of
    pydantic, the pipeline, structlog, rich, asyncio or jinja2 loaded."""
    daemon_proc.start()
    probe = ("import sys\nfrom mailgate.cli import main\ncode = main(sys.argv[1:])\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
             "('pydantic', 'structlog', 'rich', 'asyncio', 'jinja2')} | {m for m in "
             "sys.modules if m.startswith(('mailgate.pipeline', 'mailgate.config'))})\n"
             "print(code, heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe, "ingest", "-c",
                             str(daemon_proc.config_path)], input=make_mail().as_bytes(),
                            capture_output=True, timeout=60, env=ENV, text=False)
    assert result.stdout.decode().strip() == "0 []", result.stderr
    assert [row[1:] for row in spool_rows(tmp_path)] in ([([], "new")], [([], "done")])
    # the instant is written in the store's one text form (it sorts as text)
    [(received_at,)] = query(tmp_path / "var" / "mailgate.db", "SELECT received_at FROM spool")
    assert clock.to_db(clock.from_db(received_at)) == received_at


def test_recipients_as_postfix_and_people_write_them() -> None:
    """``-r a b`` (pipe's ``${recipient}`` for two recipients), ``-r a -r b``, ``-ra``,
    ``--recipient=a``; an option's value is taken even if it starts with a dash."""
    for argv in (["-r", "a@x", "b@x"], ["-r", "a@x", "-r", "b@x"], ["-ra@x", "--recipient=b@x"]):
        args = parse_args(argv)
        assert args is not None and args.recipients == ["a@x", "b@x"], argv
    args = parse_args(["-f", "-odd@x", "-c", "m.toml"])
    assert args is not None and (args.sender, args.config) == ("-odd@x", "m.toml")


def test_the_quick_path_defaults_are_the_config_models_defaults() -> None:
    """The quick path reads the file without the models; its defaults must not drift."""
    assert StoreSection().url == DEFAULT_STORE_URL
    assert StoreSection().busy_timeout.total_seconds() == DEFAULT_BUSY_TIMEOUT
    assert SmtpSection().max_message_size == DEFAULT_MAX_MESSAGE_SIZE
    assert health.pid_file(load_config(None)).name == PID_NAME
    assert set(StoreSection.model_fields) == STORE_KEYS


@sqlite_only
def test_beside_a_daemon_a_locked_database_defers(tmp_path: Path,
                                                  daemon_proc: DaemonProcess) -> None:
    """The quick path waits ``busy_timeout`` for the write lock, then exits 75 (retry) with
    one line, and nothing is stored."""
    daemon_proc.start()
    blocker = sqlite3.connect(tmp_path / "var" / "mailgate.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                          ["support@example.com"]),
                                input=make_mail().as_bytes(), capture_output=True, timeout=60,
                                env=ENV)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 75
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("mailgate ingest: message not stored, retry later")
    assert spool_rows(tmp_path) == []
