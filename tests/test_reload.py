"""Reload and what an operator reads about it, on real daemons in subprocesses: one reload
(and one set of worker processes) at a time, the restart-needed list against what is
running, and /healthz after a failed reload or a 451."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.configs import update_config
from tests.conftest import sqlite_only
from tests.faultkit import DaemonProcess, fault_config, numbered_mails, send_once, smtp_ready
from tests.support import free_port, wait_until

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    """``mailgate serve`` in a subprocess: one processor process and the sender process,
    logging at info, /healthz on a port of its own."""
    port, http = free_port(), free_port()
    proc = DaemonProcess(fault_config(tmp_path, {"smtp": {"port": port}},
                                      {"logging": {"level": "info"},
                                       "http": {"enabled": True, "port": http}}), port)
    proc.http_port = http  # type: ignore[attr-defined]
    try:
        yield proc.start()
        assert proc.terminate()[0] == 0
    finally:
        proc.cleanup()


def reload_cli(proc: DaemonProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailgate", "reload", "-c",
                           str(proc.config_path)], capture_output=True, text=True, timeout=30,
                          env=ENV)


def events(proc: DaemonProcess) -> list[str]:
    """The daemon's log events, in order."""
    found = []
    for line in proc.log(tail=None).splitlines():
        if line.startswith("{") and line.endswith("}"):  # not a line still being written
            found.append(json.loads(line).get("event", ""))
    return found


def healthz(proc: DaemonProcess) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{proc.http_port}/healthz"  # type: ignore[attr-defined]
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sighups_in_a_row_leave_one_processor_and_one_sender(daemon: DaemonProcess) -> None:
    """Two SIGHUPs at once, then `mailgate reload`: the reloads run one after the other and
    the worker processes are restarted one set at a time, so afterwards the daemon has
    exactly one processor and one sender child (/proc), both new, and mail still flows."""
    before = set(daemon.pids()[1:])
    assert len(before) == 2
    os.kill(daemon.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
    os.kill(daemon.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
    assert reload_cli(daemon).returncode == 0

    def settled() -> bool:  # every request answered (a reload ends with its restarts)
        log = [e for e in events(daemon) if e in ("reload_requested", "reload_done")]
        return bool(log) and log[-1] == "reload_done" and \
            len(daemon.children("processor")) == 1 and len(daemon.children("sender")) == 1

    wait_until(settled, 30, interval=0.1, message=lambda: f"children {daemon.pids()}\n"
                                                          f"{daemon.log()}")
    children = daemon.pids()[1:]
    assert len(children) == 2 and not set(children) & before, (children, before)
    assert 1 <= events(daemon).count("reload_done") <= 3  # SIGHUPs while one waits merge
    log = events(daemon)  # each reload is done once its worker processes are new
    assert log.index("processor_restarted") < log.index("reload_done")
    assert send_once(daemon.port, *numbered_mails("after-reloads", 1).values()) == 250


def test_restart_needed_is_said_while_the_old_port_is_bound(daemon: DaemonProcess) -> None:
    """A changed listener port needs a restart; reloading the same file again still says so
    (the old port is still the one bound); putting the old port back clears it."""
    old_port = daemon.port
    update_config(daemon.config_path, {"smtp": {"port": free_port()}})
    for _ in range(2):
        result = reload_cli(daemon)
        assert result.returncode == 0, result.stderr
        assert "restart needed for: smtp.port" in result.stdout, result.stdout
        assert smtp_ready(old_port)
    update_config(daemon.config_path, {"smtp": {"port": old_port}})
    result = reload_cli(daemon)
    assert result.returncode == 0 and "restart needed" not in result.stdout, result.stdout


def test_failed_reload_is_degraded_until_a_good_one(daemon: DaemonProcess) -> None:
    """A SIGHUP with a broken file (as `systemctl reload` sends it, unchecked) keeps the old
    config and makes /healthz 'degraded', naming the error; the next good reload clears it."""
    assert healthz(daemon)[1]["status"] == "ok"
    good = daemon.config_path.read_text()
    status_file = daemon.config_path.parent / "var" / "mailgate.reload.json"

    def sighup_and_wait() -> dict[str, Any]:
        before = status_file.read_text() if status_file.exists() else ""
        os.kill(daemon.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
        wait_until(lambda: status_file.exists() and status_file.read_text() != before,
                   interval=0.05)
        return dict(json.loads(status_file.read_text()))

    daemon.config_path.write_text(good + "\n[gatway]\nname = \"typo\"\n")
    assert sighup_and_wait()["ok"] is False
    code, report = healthz(daemon)
    assert code == 200 and report["status"] == "degraded", report
    assert any("last config reload failed" in w and "gatway: unknown key" in w
               for w in report["warnings"]), report["warnings"]
    daemon.config_path.write_text(good)
    assert sighup_and_wait()["ok"] is True
    assert healthz(daemon)[1]["status"] == "ok"


@sqlite_only
def test_451_names_its_cause_in_the_log_and_healthz(daemon: DaemonProcess) -> None:
    """While another program holds the database, a mail gets 451; the log line and /healthz
    say why (the client only gets the generic reply) and from whom; the next 250 clears the
    warning, the last 451 stays on record."""
    blocker = sqlite3.connect(daemon.config_path.parent / "var" / "mailgate.db",
                              isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        assert send_once(daemon.port, *numbered_mails("locked-out", 1).values()) == 451
    finally:
        blocker.close()
    [line] = [json.loads(x) for x in daemon.log(tail=None).splitlines()
              if '"message_refused_temporarily"' in x]
    assert "locked" in line["cause"] and line["peer"].startswith("127.0.0.1:"), line
    code, report = healthz(daemon)
    assert code == 200 and report["status"] == "degraded", report
    refusal = report["listener"]["last_451"]
    assert refusal["cause"] == line["cause"] and report["listener"]["refusing"]
    assert f"SMTP intake answered 451 at {refusal['at']}: {line['cause']}" in report["warnings"]
    assert send_once(daemon.port, *numbered_mails("after-lock", 1).values()) == 250
    code, report = healthz(daemon)
    assert report["listener"]["refusing"] is False and report["listener"]["last_451"]
    assert not any("451" in w for w in report["warnings"]), report
