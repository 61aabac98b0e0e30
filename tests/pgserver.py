"""A real PostgreSQL server on loopback for the tests, started once per test session.

``initdb`` makes a cluster in a temporary folder and ``pg_ctl`` starts it on a free
127.0.0.1 port (no Unix socket), with ``fsync=off``: a crash of the test machine is not
a case we test (``synchronous_commit`` keeps its default, on: the processor's relaxed
commits are tested against it). For the same reason the cluster lives in memory
(``/dev/shm``) where there is one: a database per test is a few hundred files, and on a busy
disk creating them cost a quarter of a second each and removing a session's worth at the
end over a minute. The superuser ``postgres`` has a password
(scram-sha-256 over TCP), so the tests exercise ``store.password_file`` /
``password_env`` as a deployment would. Each test gets a fresh database from ``pg_url``.

Run as root (CI containers), the server runs as the ``postgres`` user through
``runuser``. Without the binaries the tests skip locally; with ``CI`` set they fail,
so a CI image that lost PostgreSQL cannot pass silently.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, wait_until

PASSWORD_ENV = "MAILGATE_TEST_PG_PASSWORD"
MEMORY_DIR = Path("/dev/shm")  # a tmpfs on Linux


def cluster_parent() -> str | None:
    """Where a test cluster's folder goes: a memory file system if there is one, else the
    default temporary folder."""
    return str(MEMORY_DIR) if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK) else None


def find_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


class PgServer:
    """One running cluster; ``database()`` makes a fresh database and returns its URL."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable  # fsync and synchronous commit as a production server has
        # a durable server (the benchmark's) is measured on disk
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-pg-",
                                          dir=None if durable else cluster_parent()))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.password_file = self.root / "password"
        self._as: list[str] = []
        self._counter = itertools.count(1)
        self.options = ""

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as, *args], capture_output=True, text=True, check=check,
                              cwd=self.root, timeout=60)

    def start(self) -> PgServer:
        self.password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:  # the server refuses to run as root
            if shutil.which("runuser") is None:
                raise RuntimeError("running as root without runuser")
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            os.chown(self.password_file, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.password_file.chmod(0o600)
        result = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                           "--auth-local=trust", "--auth-host=scram-sha-256",
                           f"--pwfile={self.password_file}", "--locale=C", "--encoding=UTF8",
                           "--no-sync", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        # synchronous_commit keeps its default (on): the processor's relaxed commits are
        # tested against it
        unsafe = "" if self.durable else "-c fsync=off -c full_page_writes=off "
        self.options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                        f"-c unix_socket_directories='' {unsafe}-c max_connections=200 "
                        "-c deadlock_timeout=200ms")
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.root / "server.log"), "-o", self.options, "-w", "-t",
                           "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr or result.stdout}\n"
                               f"{self.log()}")
        return self

    def log(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database``, without the password (as a config would have it)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(self.url(), password=self.password, autocommit=True)

    def database(self) -> str:
        """A new empty database; its URL."""
        name = f"mailgate_test_{os.getpid()}_{next(self._counter)}"
        with self.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def query(self, url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
        """Run one statement on the database at ``url`` (a peek from outside mailgate)."""
        import psycopg

        with psycopg.connect(url, password=self.password, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []

    def restart(self) -> None:
        """Stop the server (fast: connections cut) and start it again on the same port."""
        self.halt()
        self.resume()

    def halt(self) -> None:
        """Stop the server (fast: every connection cut), keeping its data for ``resume``."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "stop")

    def resume(self) -> None:
        """Start the halted server again on the same port; return once it takes logins."""
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.root / "server.log"), "-o", self.options, "-w", "-t",
                           "60", "start", check=False)
        assert result.returncode == 0, result.stderr
        import psycopg

        def up() -> bool:
            try:
                psycopg.connect(self.url(), password=self.password, connect_timeout=2).close()
            except psycopg.Error:
                return False
            return True

        wait_until(up, 30, interval=0.1, message="PostgreSQL did not come back")


def start_server() -> PgServer:
    """A new cluster, started; skips (locally) or fails (CI) when PostgreSQL is missing."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("initdb/pg_ctl not found (apt-get install postgresql)")
    assert bindir is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed")
    server = PgServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable(str(exc))
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (started on first use, stopped at the end)."""
    server = start_server()
    os.environ[PASSWORD_ENV] = server.password
    try:
        yield server
    finally:
        os.environ.pop(PASSWORD_ENV, None)
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server; its URL (no password in it)."""
    return pg_server.database()
