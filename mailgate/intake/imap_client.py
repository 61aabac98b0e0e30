"""The IMAP conversation itself for mailgate/intake/imap.py: connect, log in, IDLE.

Apart from the fetcher's bookkeeping (cursors, retries, acknowledgements) so that
the protocol details (TLS modes, secrets read at every connect, how IDLE notices
a dead server) can be read in one place.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from imapclient import IMAPClient, SocketTimeout

from mailgate.config import ImapAccount
from mailgate.errors import ConfigError
from mailgate.intake.imap_lease import AccountLease, why

IDLE_CHECK = 1.0  # seconds between looks at the stop event while in IDLE


def connect(acc: ImapAccount, secret: str | None, log: Any) -> tuple[IMAPClient, frozenset[bytes]]:
    """A logged-in client with ``acc.folder`` selected, and the server's capabilities."""
    implicit = acc.security == "tls"
    context = ssl.create_default_context()
    port = acc.port or (993 if implicit else 143)
    try:
        client = IMAPClient(acc.host, port, ssl=implicit, ssl_context=context,
                            timeout=SocketTimeout(connect=30, read=120))
        try:
            if acc.security == "starttls":
                client.starttls(context)
            if acc.oauth2_token_command or acc.oauth2_token_file:
                client.oauth2_login(acc.username, credential(acc, secret))
            else:
                client.login(acc.username, credential(acc, secret))
            caps = frozenset(bytes(c).upper() for c in client.capabilities())
            client.select_folder(acc.folder)
        except BaseException:
            shutdown(client)
            raise
    except Exception as exc:
        log.warning("imap_connect_failed", host=acc.host, port=port, reason=why(exc))
        raise
    log.info("imap_connected", host=acc.host, port=port, security=acc.security,
             idle=b"IDLE" in caps, move=b"MOVE" in caps)
    return client, caps


def credential(acc: ImapAccount, secret: str | None) -> str:
    """``secret`` if given, else read from its source now, so rotated secrets are picked up."""
    if secret is not None:
        return secret
    if acc.password_env:
        value = os.environ.get(acc.password_env)
        if value is None:
            raise ConfigError(f"imap account {acc.name!r}: ${acc.password_env} is not set")
        return value
    if acc.password_file:
        return Path(acc.password_file).read_text().rstrip("\r\n")
    if acc.oauth2_token_file:
        return Path(acc.oauth2_token_file).read_text().strip()
    assert acc.oauth2_token_command is not None  # the config validator wants exactly one
    done = subprocess.run(shlex.split(acc.oauth2_token_command), capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip()


def idle_until(client: IMAPClient, stop: threading.Event, timeout: float, lease: AccountLease,
         log: Any) -> None:
    """IDLE until new mail, ``timeout`` (the re-issue point), ``stop`` or a dead server."""
    deadline = time.monotonic() + timeout
    client.idle()
    log.debug("imap_idle_started", timeout=timeout)
    try:
        while not stop.is_set():
            lease.keep()  # LeaseLost ends IDLE (DONE below) and the reading
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = min(IDLE_CHECK, left, lease.renewal_in())
            began = time.monotonic()
            responses = client.idle_check(timeout=wait)
            if any(r[:1] == (b"BYE",) or r[1:2] == (b"EXISTS",) for r in responses):
                break
            if not responses and time.monotonic() - began < wait / 2:
                break  # readable but no line: EOF; DONE will raise if the server is gone
    finally:
        client.idle_done()


def shutdown(client: IMAPClient) -> None:
    """Close the socket without a LOGOUT (the connection is broken or unwanted)."""
    with contextlib.suppress(Exception):  # the socket may already be gone
        client.shutdown()
