"""Which claims a daemon frees at once: only those of processes that are certainly gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from mailgate.claimants import dead_claimants, is_dead, process_name


def test_a_fixed_node_name_frees_its_predecessor_and_all_its_children() -> None:
    """With [gateway] node_name every claim of that name or of its children (processors
    /p<i>, the sender /s0) was the crashed predecessor's; other names are left alone."""
    held = {"node-a", "node-a/p0", "node-a/p1", "node-a/s0", "node-b", "node-b/s0",
            "node-ab/p0"}
    assert dead_claimants(held, "node-a") == ["node-a", "node-a/p0", "node-a/p1", "node-a/s0"]


def test_beside_a_fixed_node_name_a_drainers_process_name_is_checked_as_a_process() -> None:
    """A drainer (``mailgate drain``) claims in its own process name even where the daemon
    has a fixed node name: alive, it keeps its claims when the daemon starts; dead, it
    loses them at once."""
    alive = process_name(1)  # (init: alive, and not this process)
    base, _, start = alive.rpartition(":")
    dead = f"{base}:{int(start) + 1}"  # the same pid with another start time
    assert dead_claimants({"node-a/p0", alive, dead}, "node-a") == sorted(["node-a/p0", dead])


def test_exact_names_tell_a_live_process_from_a_dead_or_reused_pid() -> None:
    """A live process's exact name is alive; the same pid with another start time (a reused
    pid) or another boot is dead; a process that exited is dead; another host waits."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # alive until we close its stdin
    try:
        alive = process_name(child.pid)
        host, pid, boot, start = alive.split(":")
        assert not is_dead(alive)
        assert is_dead(f"{host}:{pid}:{boot}:{int(start) + 1}")  # the pid, reused later
        assert is_dead(f"{host}:{pid}:00000000:{start}")  # before a reboot
        assert not is_dead(f"elsewhere.example:{pid}:{boot}:{start}")
        assert not is_dead(process_name())  # this very process
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    assert is_dead(alive)
    assert not is_dead(f"{socket.gethostname()}:{os.getpid()}")  # older form, alive


def test_older_host_pid_names_are_dead_once_the_pid_is_gone() -> None:
    """Claims written by an earlier version ("host:pid") are freed when that pid is gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert is_dead(f"{socket.gethostname()}:{child.pid}")
