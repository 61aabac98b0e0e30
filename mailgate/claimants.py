"""Who holds a claim, named exactly, and which claimants are certainly dead.

Spool, outbox, reminder and IMAP-lease rows are claimed with the claimant's
name and a lease. When a process dies (kill -9, a crash, a reboot) its claims
must be freed at once, not when the lease ends, or customers wait minutes for
their acknowledgement. A claim is freed early only when its holder is certainly
gone; other hosts' claims always wait for their lease (several nodes on one
PostgreSQL database).

Names: with ``[gateway] node_name`` the daemon is that name and its children
``<name>/<role letter><index>`` ("node-a/p0", "node-a/s0"): a daemon starting
under the same name knows every such claim was its predecessor's. Without it,
``host:pid:boot:start``: the host name, the pid, the first eight hex digits of
the kernel's boot id and the process's start time in clock ticks since boot,
so neither a reused pid nor a reboot makes a dead holder look alive. Names of
the older form ``host:pid`` are still understood (a live pid keeps its claim).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailgate.config import Config

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip().replace("-", "")[:8]
    except OSError:
        return "noboot"


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot; None if it is gone (a
    zombie, killed but not yet reaped, is gone: it holds no claim it could still use)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields count from the last ")"
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def node_name(config: Config) -> str:
    """A name for this daemon in claim columns: configured, else this process's exact name."""
    return config.gateway.node_name or process_name()


def process_name(pid: int | None = None) -> str:
    """The exact name of process ``pid`` (default: this one) on this host."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_boot_id()}:{_start_ticks(pid) or 'gone'}"


def is_dead(claimant: str, node_name: str | None = None) -> bool:
    """True only when ``claimant`` certainly no longer runs: a child or predecessor under
    our fixed ``node_name``, or a process of this host that is gone (or not the same
    process: another boot, another start time), such as a drainer (``mailgate drain``
    claims in its process name also where the daemon has a fixed one)."""
    if node_name and (claimant == node_name or claimant.startswith(f"{node_name}/")):
        return True
    host, _, rest = claimant.partition(":")
    if host != socket.gethostname():
        return False  # another host's: its lease decides
    pid_text, _, identity = rest.partition(":")
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    pid = int(pid_text)
    if not identity:  # an older "host:pid" name: alive if the pid is
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    boot, _, start = identity.partition(":")
    return boot != _boot_id() or _start_ticks(pid) != start


def dead_claimants(claimants: Iterable[str], node_name: str | None = None) -> list[str]:
    """The claimants among ``claimants`` that are certainly dead (see ``is_dead``)."""
    return sorted(c for c in claimants if is_dead(c, node_name))
