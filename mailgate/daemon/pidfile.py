"""The daemon's pid file, next to the database: how ``mailgate reload`` finds it.

Written only by a daemon that handles signals (one a person can reload), and
removed at exit only while it still names this process: a second daemon on the
same database folder may have taken it over meanwhile.
"""

from __future__ import annotations

import os
from contextlib import suppress

import structlog

from mailgate import health
from mailgate.config import Config

log = structlog.get_logger("mailgate.daemon")


def write_pid_file(config: Config) -> bool:
    """Write this process's pid atomically; whether it was written (else only logged)."""
    path = health.pid_file(config)
    try:
        other = int(path.read_text().strip())
    except (OSError, ValueError):
        other = None
    if other and other != os.getpid() and health.process_alive(other) \
            and health.looks_like_mailgate(other):
        log.warning("pid_file_taken", pid_file=str(path), other_pid=other,
                    detail="another daemon uses this database folder; "
                           "`mailgate reload` will signal this one")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("pid_file_not_written", pid_file=str(path), error=str(exc))
        return False
    return True


def remove_pid_file(config: Config) -> None:
    """Remove the pid file if it still names this process."""
    path = health.pid_file(config)
    with suppress(OSError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()
