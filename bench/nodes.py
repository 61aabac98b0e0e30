"""Section 6 (issue #10): intake end to end on PostgreSQL, one node and two nodes.

A throwaway PostgreSQL cluster on loopback (``tests/pgserver.py``: ``initdb`` and
``pg_ctl`` in a temporary folder, through ``runuser -u postgres`` as root), with
fsync and synchronous commit on, as a production server runs (the test suite's
cluster turns them off). Each scenario gets a fresh database, ``mailgate db
migrate`` first, then the same load as section 1: N distinct 4 KB mails over 8
sessions, a new connection per mail, the clock stopped when no spool row of the
run is ``new`` in the database (250 + ticket + ack queued):

- ``sqlite``: one node on SQLite, the reference for the ratios (same client, same run);
- ``pg1``: one node on PostgreSQL;
- ``pg2``: two nodes (two ``mailgate serve`` processes, same machine) on one database,
  session i talking to node i % 2.

Each scenario is then checked: every mail stored once, one ticket each, one ack per
ticket, every spool row of the run ``done``, no client error. Without the PostgreSQL
binaries the section is skipped.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from load import make_mail, run_closed
from peer import Skipped
from server import BIN, ROOT, Mailgate, child_env, children, cpu_of, cpu_seconds, role_of

HOST = "127.0.0.1"
SESSIONS = 8
WARMUP = 50


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rpartition(")")[2].split()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``, of its live children, and of the children it waited for
    (PostgreSQL's postmaster: every backend, checkpointer, WAL writer...)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parts = _stat(pid)
    total = sum(int(v) for v in parts[11:15])  # utime, stime, cutime, cstime
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(int(entry.name))
        except OSError:
            continue  # gone meanwhile
        if int(child[1]) == pid:
            total += int(child[11]) + int(child[12])
    return total / ticks


def start_postgres() -> Any:
    """A running durable ``tests.pgserver.PgServer``; ``Skipped`` when there is none."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401

        from tests.pgserver import PgServer, find_bindir
    except ImportError as exc:
        raise Skipped(f"{exc} (pip install -e '.[test]')") from None
    bindir = find_bindir()
    if bindir is None:
        raise Skipped("PostgreSQL binaries (initdb, pg_ctl) not found "
                      "(apt-get install postgresql)")
    server = PgServer(bindir, durable=True)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        raise Skipped(f"PostgreSQL did not start: {exc}") from None
    return server


class Peek:
    """Read-only look at one database (SQLite or PostgreSQL), SQL without parameters."""

    def __init__(self, connect: Callable[[], Any], nodes: list[Mailgate]) -> None:
        self.conn = connect()
        self.nodes = nodes

    def close(self) -> None:
        self.conn.close()

    def one(self, sql: str) -> Any:
        return self.conn.execute(sql).fetchone()[0]

    def all(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql).fetchall())

    def wait_drained(self, spool_from: int = 0, timeout: float = 600.0) -> float:
        """Poll every 5 ms until no spool row after ``spool_from`` is 'new'; the
        ``time.perf_counter()`` at which that was seen."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.one(f"SELECT count(*) FROM spool WHERE state = 'new'"
                           f" AND id > {int(spool_from)}")
            if new == 0:
                return time.perf_counter()
            for node in self.nodes:
                node.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"not drained after {timeout}s: {new} spool rows new")
            time.sleep(0.005)


def _check(peek: Peek, run: str, mails: int, spool_from: int, tickets_before: int,
           errors: int) -> str:
    """'ok', or what is wrong with the run's mails in the database."""
    wrong = []
    if errors:
        wrong.append(f"{errors} client errors")
    stored = Counter(r[0] for r in peek.all(
        f"SELECT message_id FROM messages WHERE direction = 'in'"
        f" AND message_id LIKE '<bench.{run}.%'"))
    expected = {f"<bench.{run}.{i}@example.org>" for i in range(mails)}
    if set(stored) != expected:
        wrong.append(f"{len(expected - set(stored))} mails missing, "
                     f"{len(set(stored) - expected)} unexpected")
    twice = [m for m, n in stored.items() if n != 1]
    if twice:
        wrong.append(f"{len(twice)} mails stored more than once")
    tickets = peek.one("SELECT count(*) FROM tickets") - tickets_before
    if tickets != mails:
        wrong.append(f"{tickets} tickets for {mails} mails")
    acks = Counter(r[0] for r in peek.all(
        f"SELECT o.ticket_id FROM outbox o WHERE o.kind = 'ack' AND o.ticket_id IN"
        f" (SELECT ticket_id FROM messages WHERE direction = 'in'"
        f" AND message_id LIKE '<bench.{run}.%')"))
    if len(acks) != mails or any(n != 1 for n in acks.values()):
        wrong.append(f"{sum(acks.values())} acks for {len(acks)} of {mails} tickets")
    states = dict(peek.all(f"SELECT state, count(*) FROM spool WHERE id > {int(spool_from)}"
                           f" GROUP BY state"))
    if states != {"done": mails}:
        wrong.append(f"spool rows of the run: {states}")
    return "ok" if not wrong else "; ".join(wrong)


def _measure(name: str, nodes: list[Mailgate], peek: Peek, mails_n: int, tag: str,
             pg_cpu: Callable[[], float] | None) -> dict[str, Any]:
    """Warm each node up, then the measured run; figures prefixed with ``name``."""
    for i, node in enumerate(nodes):
        # senders of their own: a measured mail from a warm-up mail's sender would be
        # compared with its open ticket and merged (the repeat step), one ticket short
        warm = [make_mail(f"{tag}-{name}w{i}", n, sender=f"warmup{i}.{n}@example.net")
                for n in range(WARMUP)]
        result = asyncio.run(run_closed(HOST, node.port, warm, SESSIONS))
        if result.errors:
            raise RuntimeError(f"{name} warm-up failed: {result.errors[0].error}")
    peek.wait_drained()
    before = peek.one("SELECT coalesce(max(id), 0) FROM spool")
    tickets_before = peek.one("SELECT count(*) FROM tickets")
    run_tag = f"{tag}-{name}"
    mails = [make_mail(run_tag, i) for i in range(mails_n)]
    senders = [p for n in nodes for p in children(n.pid) if role_of(p) == "sender"]
    cpu0 = sum(cpu_seconds(n.pid) for n in nodes)
    own0 = sum(cpu_seconds(n.pid, with_children=False) for n in nodes)
    sender0 = cpu_of(senders)
    db0 = pg_cpu() if pg_cpu else 0.0
    run = asyncio.run(run_closed(HOST, [n.port for n in nodes], mails, SESSIONS))
    drained = peek.wait_drained(spool_from=before)
    cpu = sum(cpu_seconds(n.pid) for n in nodes) - cpu0
    own = sum(cpu_seconds(n.pid, with_children=False) for n in nodes) - own0
    sender = cpu_of(senders) - sender0
    db = (pg_cpu() - db0) if pg_cpu else None
    out: dict[str, Any] = {
        f"{name}_nodes": len(nodes),
        f"{name}_msgs_per_s": round(mails_n / (drained - run.started), 1),
        f"{name}_intake_msgs_per_s": round(mails_n / run.seconds, 1),
        f"{name}_daemon_cpu_ms_per_msg": round(cpu / mails_n * 1000, 3),
        # apart: the daemon process (listener, spooler), its processors, its sender (the
        # sender is not waited for: what it did until the spool was drained)
        f"{name}_intake_cpu_ms_per_msg": round(own / mails_n * 1000, 3),
        f"{name}_processors_cpu_ms_per_msg": round((cpu - own - sender) / mails_n * 1000, 3),
        f"{name}_sender_cpu_ms_per_msg": round(sender / mails_n * 1000, 3),
        f"{name}_errors": len(run.errors),
        f"{name}_quarantined": peek.one(f"SELECT count(*) FROM spool WHERE id > {before}"
                                        f" AND state = 'quarantined'"),
        f"{name}_check": _check(peek, run_tag, mails_n, before, tickets_before,
                                len(run.errors)),
    }
    if db is not None:
        out[f"{name}_postgres_cpu_ms_per_msg"] = round(db / mails_n * 1000, 3)
    if run.errors:
        out[f"{name}_first_error"] = run.errors[0].error
    return out


def _migrate(config: Path) -> None:
    result = subprocess.run([str(BIN / "mailgate"), "db", "migrate", "-c", str(config)],
                            capture_output=True, text=True, timeout=120, env=child_env())
    if result.returncode != 0:
        raise RuntimeError(f"mailgate db migrate failed ({result.returncode}): "
                           f"{result.stderr or result.stdout}")


def _pg_scenario(work: Path, server: Any, name: str, count: int, messages: int, tag: str,
                 ) -> dict[str, Any]:
    import psycopg

    url = server.database()
    store = {"url": url, "password_file": str(server.password_file)}
    nodes = [Mailgate(work / f"{name}-node{i}", store=store, start=False) for i in range(count)]
    _migrate(nodes[0].config)
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    peek = None
    try:
        for node in nodes:
            node.start()
        peek = Peek(lambda: psycopg.connect(url, password=server.password, autocommit=True),
                    nodes)
        return _measure(name, nodes, peek, messages, tag,
                        lambda: tree_cpu_seconds(postmaster))
    finally:
        if peek is not None:
            peek.close()
        for node in nodes:
            if getattr(node, "proc", None) is not None:
                node.stop()


def postgres(work: Path, messages: int, tag: str) -> dict[str, Any]:
    """SQLite one node, PostgreSQL one node, PostgreSQL two nodes: rates, CPU, checks."""
    server = start_postgres()
    try:
        out: dict[str, Any] = {"messages": messages, "sessions": SESSIONS, "size": 4096,
                               "postgresql": _server_version(server),
                               "postgresql_settings": "fsync, synchronous_commit on"}
        mg = Mailgate(work / "sqlite")
        peek = None
        try:
            peek = Peek(mg.connect, [mg])
            out.update(_measure("sqlite", [mg], peek, messages, tag, None))
        finally:
            if peek is not None:
                peek.close()
            mg.stop()
        out.update(_pg_scenario(work, server, "pg1", 1, messages, tag))
        out.update(_pg_scenario(work, server, "pg2", 2, messages, tag))
    finally:
        server.stop()
    base = out["sqlite_msgs_per_s"]
    for name in ("pg1", "pg2"):
        out[f"{name}_ratio_to_sqlite"] = round(out[f"{name}_msgs_per_s"] / base, 3)
    out["pg2_over_pg1"] = round(out["pg2_msgs_per_s"] / out["pg1_msgs_per_s"], 3)
    out["correct"] = all(out[f"{n}_check"] == "ok" for n in ("sqlite", "pg1", "pg2"))
    return out


def _server_version(server: Any) -> str:
    result = subprocess.run([str(server.bindir / "postgres"), "--version"],
                            capture_output=True, text=True, timeout=10)
    found = re.search(r"\d+(\.\d+)+", result.stdout)  # "postgres (PostgreSQL) 15.18 (...)"
    return found[0] if found else result.stdout.strip()


def summary_lines(p: dict[str, Any], table: Callable[[list[tuple[str, Any, str]]], str],
                  ) -> list[str]:
    """Section 6 of run.py's table."""
    if "skipped" in p:
        return [f"6. PostgreSQL: skipped: {p['skipped']}"]
    if "pg2_msgs_per_s" not in p:
        return []
    rows: list[tuple[str, Any, str]] = []
    for name, label in (("sqlite", "SQLite, one node"), ("pg1", "PostgreSQL, one node"),
                        ("pg2", "PostgreSQL, two nodes")):
        note = f"intake alone {p[f'{name}_intake_msgs_per_s']}/s"
        if name != "sqlite":
            note += f"; ratio to SQLite {p[f'{name}_ratio_to_sqlite']}"
        rows.append((f"{label}, msgs/s", p[f"{name}_msgs_per_s"], note))
        cpu = f"{p[f'{name}_daemon_cpu_ms_per_msg']}"
        if f"{name}_postgres_cpu_ms_per_msg" in p:
            cpu += f" + {p[f'{name}_postgres_cpu_ms_per_msg']}"
        rows.append((f"  CPU per mail, ms (daemon{' + postgres' if name != 'sqlite' else ''})",
                     cpu, f"intake {p.get(f'{name}_intake_cpu_ms_per_msg')}, processors "
                          f"{p.get(f'{name}_processors_cpu_ms_per_msg')}, sender "
                          f"{p.get(f'{name}_sender_cpu_ms_per_msg')}"))
        rows.append(("  correctness", p[f"{name}_check"],
                     f"errors {p[f'{name}_errors']}, quarantined {p[f'{name}_quarantined']}"))
    return [f"6. PostgreSQL {p['postgresql']} ({p['messages']:,} distinct 4 KB mails, "
            f"{p['sessions']} sessions, end to end; fsync on)", table(rows)]
