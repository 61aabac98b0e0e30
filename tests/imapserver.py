"""A real Dovecot IMAP server for tests, run from a private config in a tmp dir.

Mocked IMAP servers agree with whatever the client does; the bugs that matter
for a fetcher (UID ranges, ``*`` artefacts, IDLE wake-ups, a server dying
between FETCH and STORE, UIDVALIDITY changes) only show against a real one.
Each :class:`DovecotServer` has its own config, base_dir, state_dir, passwd-file
and Maildir, listens on 127.0.0.1 on a free port and runs in the foreground
(``dovecot -F -c CONF``) as a child process, so it can be stopped, restarted on
the same port with the same mail store, and is always reaped at teardown. As
root, mail belongs to ``nobody`` and the served tree sits outside pytest's 0700
tmp dirs (see ``DovecotServer.__init__``).

Use the ``dovecot`` fixture (one started server per test, killed at teardown) or ``make_dovecot``
(a factory taking the :class:`DovecotServer` keyword arguments). When the
``dovecot`` binary is missing the tests are skipped, except under CI (the
``CI`` environment variable is set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support import free_port

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

_CONF_23 = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {state_dir}
instance_name = {instance}
log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{extra}
"""

# Dovecot 2.4 rewrote the configuration syntax; this is the same setup.
_CONF_24 = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {state_dir}
instance_name = {instance}
log_path = {log}
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_driver = maildir
mail_path = ~/Maildir
passdb passwd-file {{
  passwd_file_path = {passwd}
}}
userdb static {{
  fields {{
    uid = {uid}
    gid = {gid}
    home = {mail}/%{{user}}
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{extra}
"""


def dovecot_binary() -> str | None:
    """The path of the ``dovecot`` binary (also looked for in sbin dirs off PATH)."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot", "/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_dovecot() -> str:
    """Return the binary; skip the test locally, fail it under CI, when it is missing."""
    binary = dovecot_binary()
    if binary is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(message + " but CI is set", pytrace=False)
        pytest.skip(message)
    return binary


def dovecot_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.match(r"(\d+)\.(\d+)", out.stdout.strip())
    if not match:
        raise RuntimeError(f"cannot parse dovecot --version output {out.stdout!r}")
    return int(match[1]), int(match[2])


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class DovecotServer:
    """One private Dovecot instance with one user; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        user: str = "support",
        password: str = "secret",
        capabilities: str | None = None,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or require_dovecot()
        self.version = dovecot_version(self.binary)
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = user
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None
        self.conf = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        # What Dovecot's unprivileged processes open (sockets, passwd-file, Maildir)
        # must be reachable by them. As root, pytest's tmp dirs do not qualify: they
        # are 0700 and every pytest session (ours or a concurrent one) resets
        # pytest-of-root to 0700. So the served tree lives in its own /tmp dir
        # (removed by close()); config and logs stay in the pytest tmp dir.
        self._private = os.geteuid() == 0
        self.home = Path(tempfile.mkdtemp(prefix="mailgate-dovecot-")) if self._private else root
        self.maildir = self.home / "mail" / user / "Maildir"
        try:
            self._write_config(capabilities)
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------

    def _write_config(self, capabilities: str | None) -> None:
        if self._private:
            # Mail processes never run as root: they run as nobody.
            uid, gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
            with contextlib.suppress(KeyError):
                gid = grp.getgrnam("nogroup").gr_gid
            login = "dovenull" if _user_exists("dovenull") else "nobody"
            internal = "dovecot" if _user_exists("dovecot") else "nobody"
        else:
            uid, gid = os.getuid(), os.getgid()
            login = internal = pwd.getpwuid(uid).pw_name
        extra = ""
        if capabilities is not None:
            if self.version >= (2, 4):
                pytest.skip("capability override is only wired up for Dovecot 2.3")
            extra = f"imap_capability = {capabilities}"
        (self.home / "run").mkdir(exist_ok=True)
        (self.home / "state").mkdir(exist_ok=True)
        self.maildir.mkdir(parents=True, exist_ok=True)
        passwd = self.home / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        template = _CONF_24 if self.version >= (2, 4) else _CONF_23
        self.conf.write_text(template.format(
            base_dir=self.home / "run", state_dir=self.home / "state", log=self.log,
            instance=f"mailgate-test-{self.port}", login_user=login, internal_user=internal,
            uid=uid, gid=gid, passwd=passwd, mail=self.home / "mail", port=self.port,
            extra=extra,
        ))
        if self._private:
            self.home.chmod(0o755)
            passwd.chmod(0o644)
            for path in (self.home / "mail", *(self.home / "mail").rglob("*")):
                os.chown(path, uid, gid)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start in the foreground; return once the IMAP port answers with a greeting."""
        if self.running:
            return
        out = open(self.root / "dovecot.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            self._proc = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.conf)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._greets():
            if self._proc.poll() is not None:
                code = self._proc.returncode
                raise RuntimeError(f"dovecot exited with {code}:\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not answer in time:\n{self.diagnostics()}")
            time.sleep(0.02)  # polling a port: there is no event to wait on

    def _greets(self) -> bool:
        """Ready means the greeting: imap-login is up and has its auth connection."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.makefile("rb").readline().startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); connected clients are cut off."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
        # Reap stragglers of our own session (the master normally takes them down).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill the server and remove the served tree if it lives outside ``root``.

        SIGKILL to its whole process group, not ``stop``: nothing is kept for a restart, and
        Dovecot's orderly shutdown took a second per test."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)
        if self._private:
            shutil.rmtree(self.home, ignore_errors=True)

    def diagnostics(self) -> str:
        parts = []
        for path in (self.root / "dovecot.out", self.log):
            if path.exists():
                parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    # -- mailbox helpers ---------------------------------------------------

    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient on this server (logged out afterwards)."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: Sequence[bytes | str] = ()) -> int:
        """APPEND ``raw`` to ``folder`` (created if missing); returns the new UID."""
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags))
        match = re.search(rb"APPENDUID \d+ (\d+)", response)
        return int(match[1]) if match else -1

    def folders(self) -> list[str]:
        with self.client() as client:
            return sorted(name for _flags, _sep, name in client.list_folders())

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            return client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]

    def list_uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags of every message in ``folder``."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.get_flags(uids) if uids else {}
            return {uid: tuple(flags) for uid, flags in sorted(fetched.items())}

    def messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> raw bytes of every message in ``folder`` (fetched without setting \\Seen)."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
            return {uid: data[b"BODY[]"] for uid, data in sorted(fetched.items())}

    def set_uidvalidity_change(self, folder: str = "INBOX") -> None:
        """Force a new UIDVALIDITY on ``folder``, keeping its messages (and their flags).

        Stops the server, drops the folder's dovecot-uidlist and index files, and
        starts it again: Dovecot then assigns a fresh UIDVALIDITY and renumbers
        the messages from UID 1, as after a server-side mailbox rebuild.
        """
        was_running = self.running
        self.stop()
        directory = self.maildir if folder.upper() == "INBOX" else self.maildir / f".{folder}"
        for path in directory.iterdir():
            if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                path.unlink()
        if was_running:
            self.start()


@pytest.fixture(name="make_dovecot")
def make_dovecot_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., DovecotServer]]:
    """Factory fixture: ``make_dovecot(**kwargs)`` starts a new server; all stopped at teardown."""
    servers: list[DovecotServer] = []

    def make(**kwargs: object) -> DovecotServer:
        binary = require_dovecot()
        server = DovecotServer(tmp_path_factory.mktemp("dovecot"), binary=binary, **kwargs)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture(name="dovecot")
def dovecot_fixture(make_dovecot: Callable[..., DovecotServer]) -> DovecotServer:
    """A started :class:`DovecotServer` with one user (``support``/``secret``)."""
    return make_dovecot()
