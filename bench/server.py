"""The servers under test as subprocesses: ``mailgate serve`` and the no-op sink.

Each runs in its own process (its own GIL), on a free loopback port. The
mailgate daemon gets a fresh folder with a config file and a copy of the
repository's templates, the outbox in folder mode and logging at warning, as
a production install would run it. The benchmark watches it only from the
outside: SMTP, a read-only look at its SQLite database, and /proc.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from load import wait_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
BIN = Path(sys.executable).parent

if str(ROOT) not in sys.path:  # tests/ is not installed; appended, so it shadows nothing
    sys.path.append(str(ROOT))

from mailgate.defaults import TEMPLATES  # noqa: E402
from tests.configs import merge, toml_text  # noqa: E402
from tests.support import free_port  # noqa: E402

# The daemon as a production install runs it (none of the tests' short polls and timeouts,
# the processor in its own process): tests.configs' writer, not its test defaults.
CONFIG: dict[str, Any] = {
    "gateway": {
        "name": "Example Support",
        "addresses": ["support@example.com"],
        "reference_prefix": "SUP",
        "reference_width": 6,
    },
    "smtp": {"host": "127.0.0.1", "port": 0, "max_message_size": 32 * 1024 * 1024},
    "outbound": {"mode": "folder", "folder": "outbox"},
    "templates": {"directory": "templates"},
    "logging": {"format": "json", "level": "warning"},
}


def compile_tree() -> None:
    """Byte-compile ``mailgate/`` as an installed package is (pip compiles at install time).
    Where ``PYTHONDONTWRITEBYTECODE`` is set, every short-lived process (``ingest``, one per
    mail; the CLI) would otherwise compile each module it imports from source, every time,
    while the peer's packages, installed by pip, come compiled."""
    import compileall

    compileall.compile_dir(ROOT / "mailgate", quiet=1)


def installed_mailgate() -> Path:
    """A ``mailgate`` command that imports as an installed (wheel) mailgate does: a
    virtualenv under ``bench/out`` whose site-packages names this checkout and the checkout
    virtualenv's packages by plain path (a ``.pth`` file), without the import hook that
    ``pip install -e`` makes every process load (about 18 ms of CPU each here). For the
    per-process figures, as Roundup's pip install is measured; made once, reused."""
    import sysconfig
    import venv

    home = OUT / "installed-venv"
    script = home / "bin" / "mailgate"
    if not script.exists():
        venv.create(home, with_pip=False)
        [site] = (home / "lib").glob("python3.*/site-packages")
        (site / "mailgate-checkout.pth").write_text(
            f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n", encoding="utf-8")
        script.write_text(f"#!{home / 'bin' / 'python'}\nimport sys\n"
                          "from mailgate.cli import main\nsys.exit(main())\n", encoding="utf-8")
        script.chmod(0o755)
    return script


def config_text(port: int, max_size: int, store: dict[str, Any]) -> str:
    """The benchmark daemon's config: ``CONFIG`` listening on ``port``, ``store`` its
    ``[store]`` table."""
    return toml_text(merge(CONFIG, {"smtp": {"port": port, "max_message_size": max_size},
                                    "store": store}))


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (mailgate's processor and sender processes)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def child_env() -> dict[str, str]:
    """The environment of a server subprocess: ``mailgate`` imported from this tree, not
    from wherever the venv's editable install points (another git worktree)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS since start or the last reset) in KiB of ``pid`` and its
    children together (the daemon and its processor processes; the peak is the sum of
    each process's peak, an upper bound)."""
    fields = {"VmRSS": 0, "VmHWM": 0}
    for number in [pid, *children(pid)]:
        try:
            with open(f"/proc/{number}/status", encoding="ascii") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in fields:
                        fields[key] += int(value.split()[0])
        except OSError:
            if number == pid:
                raise
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (``clear_refs`` 5) of ``pid`` and its children;
    False if not allowed."""
    try:
        for number in [pid, *children(pid)]:
            with open(f"/proc/{number}/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
        return True
    except OSError:
        return False


class Process:
    """A server subprocess; stopped with SIGTERM (SIGKILL after a grace period)."""

    def __init__(self, argv: list[str], cwd: Path, log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=child_env())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def check(self) -> None:
        """Raise if the server exited (nothing to check when none was started)."""
        if getattr(self, "proc", None) is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {self.proc.returncode}:\n{tail}")


class Mailgate(Process):
    """``mailgate serve -c CONFIG`` in ``folder``; ``db`` is its database."""

    def __init__(self, folder: Path, *, db: Path | None = None,
                 max_size: int = 32 * 1024 * 1024, start: bool = True,
                 store: dict[str, Any] | None = None) -> None:
        """``store``: the config's ``[store]`` table (default: SQLite at ``db``; the
        read-only peeks below are SQLite's)."""
        self.folder = folder
        self.port = free_port()
        self.db = db or folder / "mailgate.db"
        self.outbox = folder / "outbox"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(TEMPLATES, folder / "templates", dirs_exist_ok=True)
        self.config = folder / "mailgate.toml"
        store = store or {"url": f"sqlite:///{self.db.resolve()}"}
        self.config.write_text(config_text(self.port, max_size, store), encoding="utf-8")
        if start:
            self.start()

    def start(self) -> None:
        super().__init__([str(BIN / "mailgate"), "serve", "-c", str(self.config)],
                         self.folder, self.folder / "daemon.log")
        try:
            asyncio.run(wait_port("127.0.0.1", self.port))
        except OSError:
            self.check()
            raise

    def connect(self) -> sqlite3.Connection:
        """A read-only connection to the daemon's database."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        conn.execute("PRAGMA query_only = 1")
        return conn

    def wait_drained(self, *, spool_from: int = 0, timeout: float = 600.0,
                     interval: float = 0.005) -> float:
        """Poll until no spool row after ``spool_from`` is 'new'; return the
        ``time.perf_counter()`` at which that was seen.

        A spool row leaves 'new' in the transaction that stores the ticket and
        queues the acknowledgement, so once every accepted row is processed the
        outbox is complete too (callers then count it, and the quarantine).
        """
        conn = self.connect()
        deadline = time.monotonic() + timeout
        try:
            while True:
                new = conn.execute("SELECT count(*) FROM spool WHERE state = 'new' AND id > ?",
                                   (spool_from,)).fetchone()[0]
                if new == 0:
                    return time.perf_counter()
                self.check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not drained after {timeout}s: {new} spool rows new")
                time.sleep(interval)
        finally:
            conn.close()

    def counts(self) -> dict[str, int]:
        """Spool rows by state, and outbox rows (all, and sent)."""
        conn = self.connect()
        try:
            out = {f"spool_{state}": n for state, n in conn.execute(
                "SELECT state, count(*) FROM spool GROUP BY state")}
            out["outbox"] = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            out["outbox_sent"] = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
            return out
        finally:
            conn.close()

    def wait_sent(self, timeout: float = 600.0) -> None:
        """Poll until no outbox row is pending (acks written to the folder)."""
        conn = self.connect()
        deadline = time.monotonic() + timeout
        try:
            while conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'"
                               ).fetchone()[0]:
                self.check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"outbox still pending after {timeout}s")
                time.sleep(0.01)
        finally:
            conn.close()

    def spool_row(self, spool_id: int) -> tuple[str, str | None, str | None]:
        """(state, processed_at, reason) of one spool row."""
        conn = self.connect()
        try:
            return conn.execute("SELECT state, processed_at, reason FROM spool WHERE id = ?",
                                (spool_id,)).fetchone()
        finally:
            conn.close()


class Sink(Process):
    """The no-op aiosmtpd sink of ``bench/sink.py``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        super().__init__([sys.executable, str(BENCH / "sink.py"), "--port", str(self.port)],
                         folder, folder / "sink.log")
        asyncio.run(wait_port("127.0.0.1", self.port))


def role_of(pid: int) -> str | None:
    """``processor`` or ``sender`` for one of mailgate's worker processes, else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return argv[argv.index(b"--role") + 1].decode()
    except (OSError, ValueError, IndexError):
        return None


def cpu_of(pids: list[int]) -> float:
    """User + system CPU time used so far by these live processes (all their threads)."""
    total = 0.0
    for number in pids:
        try:
            with open(f"/proc/{number}/stat", encoding="ascii") as handle:
                parts = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_seconds(pid: int, *, with_children: bool = True) -> float:
    """User + system CPU time used so far by ``pid`` (all threads), its live children and
    the children it has waited for (or ``pid`` alone)."""
    total = 0.0
    for number in [pid, *(children(pid) if with_children else [])]:
        try:
            with open(f"/proc/{number}/stat", encoding="ascii") as handle:
                parts = handle.read().rpartition(")")[2].split()
        except OSError:
            continue  # a child that exited meanwhile (its time is in cutime below)
        fields = [int(parts[11]), int(parts[12])]
        if number == pid and with_children:
            fields += [int(parts[13]), int(parts[14])]  # cutime, cstime
        total += sum(fields) / os.sysconf("SC_CLK_TCK")
    return total
