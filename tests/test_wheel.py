"""mailgate installed from its wheel, as pip, pipx, a Debian package or a container build
would install it: no source tree, no editable install.

The wheel is built from a copy of the sources (so no stale ``build/`` folder of the
checkout can slip files in) with ``--no-build-isolation`` (offline: setuptools comes from
the test extras). It is installed into a fresh venv without pip, by this interpreter's pip;
the dependencies come from this interpreter's site-packages through a ``.pth`` line, which
adds that folder to ``sys.path`` after the venv's own without running its ``.pth`` files,
so the editable install of the checkout stays out and ``import mailgate`` is the wheel's.
Then ``init``, ``check-config`` and ``serve`` run in empty folders.
"""

from __future__ import annotations

import shutil
import signal
import smtplib
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.configs import ROOT
from tests.faultkit import smtp_ready
from tests.support import free_port, wait_until

pytestmark = pytest.mark.timeout(180)


def _run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` folder of a fresh venv with only the wheel installed into it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "mailgate", source / "mailgate",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("mailgate-*.whl"))
    env = work / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=work).stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    where = _run(python, "-c", "import mailgate; print(mailgate.__file__)", cwd=work)
    assert where.stdout.startswith(str(site)), where  # the wheel's, not the checkout's
    return env / "bin"


def test_init_then_check_config_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """``init DIR`` writes config, templates, SLA presets and the systemd unit (the wheel has
    them all); ``check-config`` passes."""
    empty = tmp_path / "cwd"
    empty.mkdir()
    made = _run(installed / "mailgate", "init", "site", "--address", "help@example.com",
                cwd=empty)
    assert made.returncode == 0, made.stderr
    assert (empty / "site" / "templates" / "ack.txt.j2").is_file()
    assert (empty / "site" / "sla-presets" / "russian-vendor.toml").is_file()
    assert "ExecReload" in (empty / "site" / "deploy" / "mailgate.service").read_text()
    checked = _run(installed / "mailgate", "check-config", "-c", "site/mailgate.toml", cwd=empty)
    assert checked.returncode == 0, checked.stderr
    assert f"templates in {empty / 'site' / 'templates'}" in checked.stdout


def test_check_config_without_a_config_uses_the_shipped_templates(installed: Path,
                                                                  tmp_path: Path) -> None:
    """In an empty folder the embedded defaults and the templates in the package pass."""
    checked = _run(installed / "mailgate", "check-config", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "(defaults): OK" in checked.stdout
    assert "site-packages" in checked.stdout


def test_serve_from_the_wheel_acknowledges_a_mail(installed: Path, tmp_path: Path) -> None:
    """``serve`` in a folder with only a two-line config (its port): a mail sent over SMTP
    gets its acknowledgement written to the outbox folder, and SIGTERM stops it cleanly."""
    port = free_port()
    (tmp_path / "mailgate.toml").write_text(f"[smtp]\nport = {port}\n")
    with open(tmp_path / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([str(installed / "mailgate"), "serve"], cwd=tmp_path,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_until(lambda: daemon.poll() is not None or smtp_ready(port), 30,
                   message=lambda: (tmp_path / "daemon.log").read_text())
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("you@example.org", ["support@localhost"],
                            b"From: you@example.org\r\nTo: support@localhost\r\n"
                            b"Subject: Printer broken\r\nMessage-ID: <wheel-1@example.org>\r\n"
                            b"\r\nIt does not print.\r\n")
        acks = wait_until(lambda: list((tmp_path / "var" / "outbox").glob("*.eml")), 30,
                          message=lambda: (tmp_path / "daemon.log").read_text())
        assert b"[SUP-000001] Printer broken" in acks[0].read_bytes()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
