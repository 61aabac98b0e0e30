"""Several nodes on one PostgreSQL database: nothing lost, nothing done twice.

Two ``mailgate serve`` subprocesses, each with its own config folder and SMTP port, share
one database (and one outbox folder, as they would share one smarthost). Clients behave
like sending MTAs (anything but 2xx is retried). One node is SIGKILLed under load and
restarted; two nodes receive the same message at the same instant; two nodes configured
with the same IMAP account (a real Dovecot) take turns reading it, one at a time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mailgate import clock
from mailgate.claimants import process_name
from mailgate.config import load_config
from mailgate.store import open_store
from tests.configs import merge
from tests.faultkit import (
    DaemonProcess,
    Mta,
    fault_config,
    message_id_of,
    numbered_mails,
    send_once,
)
from tests.imapserver import DovecotServer
from tests.pgserver import PgServer
from tests.support import free_port, wait_until

SEED = 20261129


class Cluster:
    """Nodes sharing the database at ``url``; reads go through ``server.query``."""

    def __init__(self, root: Path, server: PgServer, url: str) -> None:
        self.root = root
        self.server = server
        self.url = url
        self.outbox = root / "outbox"
        self.nodes: list[DaemonProcess] = []

    def node(self, name: str, settings: dict[str, Any] | None = None) -> DaemonProcess:
        """A node's config folder and process (not started); ``settings`` override the
        cluster's shared database, outbox folder and leases."""
        folder = self.root / name
        folder.mkdir()
        password_file = folder / "db-password"
        password_file.write_text(self.server.password + "\n")
        port = free_port()
        path = fault_config(folder, merge({
            "smtp": {"port": port},
            "store": {"url": self.url, "password_file": str(password_file)},
            "outbound": {"folder": str(self.outbox), "lease": "10s"},
            "processing": {"lease": "10s"},
        }, settings or {}))
        proc = DaemonProcess(path, port)
        self.nodes.append(proc)
        return proc

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.server.query(self.url, sql, params)

    def wait_blocked(self, count: int) -> None:
        """Until ``count`` mailgate sessions wait for a lock (an event seen by polling)."""
        sql = ("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
               " AND wait_event_type = 'Lock' AND application_name LIKE 'mailgate%%'")
        wait_until(lambda: self.query(sql)[0][0] >= count, 20, interval=0.02,
                   message=lambda: f"{count} nodes not blocked: {self.backlog()}")

    def drained(self) -> bool:
        [(new, pending)] = self.query(
            "SELECT (SELECT COUNT(*) FROM spool WHERE state = 'new'),"
            " (SELECT COUNT(*) FROM outbox WHERE state = 'pending')")
        return new == 0 and pending == 0

    def backlog(self) -> str:
        spool = self.query("SELECT state, claimed_by, COUNT(*) FROM spool GROUP BY 1, 2")
        outbox = self.query("SELECT state, claimed_by, COUNT(*) FROM outbox GROUP BY 1, 2")
        logs = "\n".join(n.log(tail=1500) for n in self.nodes)
        return f"spool {spool}, outbox {outbox}\n{logs}"

    def wait_drained(self, timeout: float) -> None:
        wait_until(self.drained, timeout, interval=0.1,
                   message=lambda: f"not drained: {self.backlog()}")

    def assert_each_once(self, mails: dict[str, bytes]) -> None:
        """Every mail stored once, one ticket each, each acknowledged once (one whole file)."""
        stored = Counter(r[0] for r in self.query(
            "SELECT message_id FROM messages WHERE direction = 'in'"))
        assert set(stored) == set(mails)
        assert [m for m, n in stored.items() if n != 1] == []
        assert self.query("SELECT COUNT(*) FROM tickets") == [(len(mails),)]
        states = dict(self.query("SELECT state, COUNT(*) FROM spool GROUP BY state"))
        assert set(states) <= {"done", "duplicate"}, states
        acks = self.query("SELECT id, ticket_id, message_id, state, raw FROM outbox"
                          " WHERE kind = 'ack'")
        per_ticket = Counter(r[1] for r in acks)
        assert len(per_ticket) == len(mails)
        assert [t for t, n in per_ticket.items() if n != 1] == []
        assert {r[3] for r in acks} == {"sent"}
        sent = self.query("SELECT id FROM outbox WHERE state = 'sent'")
        files = sorted(p.name for p in self.outbox.iterdir())
        assert files == sorted(f"{r[0]:08d}.eml" for r in sent)  # one each, no .tmp left
        for outbox_id, _ticket, message_id, _state, raw in acks:
            data = (self.outbox / f"{outbox_id:08d}.eml").read_bytes()
            assert data == bytes(raw), f"ack {outbox_id} file is torn"
            assert message_id_of(data) == message_id


@pytest.fixture
def cluster(tmp_path: Path, pg_server: PgServer, pg_url: str) -> Iterator[Cluster]:
    made = Cluster(tmp_path, pg_server, pg_url)
    yield made
    for node in made.nodes:
        node.cleanup()


def test_two_nodes_share_load_and_survive_a_kill(cluster: Cluster) -> None:
    """Two nodes under SMTP load, one kill -9'd and restarted: every mail once, every ack once."""
    rng = random.Random(SEED)
    a, b = cluster.node("a"), cluster.node("b")
    a.start()
    b.start()
    mails = numbered_mails("node", 240)
    ids = list(mails)
    to_a = Mta(a.port, {m: mails[m] for m in ids[0::2]}, sessions=4, retry_delay=0.05)
    to_b = Mta(b.port, {m: mails[m] for m in ids[1::2]}, sessions=4, retry_delay=0.05)
    to_a.start()
    to_b.start()
    try:
        to_a.wait_accepted(rng.randint(30, 70), timeout=40)
        time.sleep(rng.uniform(0, 0.02))  # a random phase: mid-DATA, mid-commit, mid-process
        # (short: a node takes its half of the mails in well under a second)
        a.kill()
        # Node b goes on alone meanwhile; its clients never notice.
        to_b.wait_accepted(min(to_b.accepted_count() + 10, len(to_b.mails)), timeout=30)
        a.start()
        to_a.join(timeout=60)
        to_b.join(timeout=60)
    finally:
        to_a.halt()
        to_b.halt()
    codes = to_a.codes() + to_b.codes()
    assert not [c for c in codes if c is not None and c >= 500], codes
    assert to_a.codes()[None] > 0, "the kill never hit a session; the test proves nothing"
    # Node b's clients may see a timeout while the machine is busy (they retry, as an MTA
    # does); what must hold is that b never refused mail for good and took all of it.
    assert to_b.accepted_count() == len(to_b.mails), to_b.codes()

    cluster.wait_drained(60)
    for node in (a, b):
        assert node.terminate()[0] == 0
    cluster.assert_each_once(mails)


@pytest.mark.parametrize("duplicate_scope", ["sender", "off"])
def test_same_message_at_two_nodes_at_once_is_stored_once(cluster: Cluster,
                                                         duplicate_scope: str) -> None:
    """The same Message-ID processed by two nodes at the same instant: one ticket message."""
    settings = {"store": {"busy_timeout": "30s"},
                "conversation": {"duplicate_scope": duplicate_scope}}
    a, b = cluster.node("a", settings), cluster.node("b", settings)
    a.start()
    b.start()
    mails = numbered_mails("race", 3)
    import psycopg

    for raw in mails.values():
        # Hold back every insert of a ticket message, so that both nodes are mid-way through
        # the same message (its ticket decided, not yet stored) when the race is let go.
        with psycopg.connect(cluster.url, password=cluster.server.password) as blocker:
            blocker.execute("LOCK TABLE messages IN SHARE MODE")
            assert send_once(a.port, raw) == 250
            cluster.wait_blocked(1)  # node a processes its copy, waits at the insert
            assert send_once(b.port, raw) == 250
            # node b: at the insert too, or (duplicate_scope = "sender") waiting for node a's
            # verdict on the same sender
            cluster.wait_blocked(2)
        # the lock is gone: node a stores the message, node b is refused at the insert,
        # handles it once more and finds it stored (the same content: a duplicate)
        cluster.wait_drained(30)
    for node in (a, b):
        assert node.terminate()[0] == 0
    cluster.assert_each_once(mails)
    spool = cluster.query("SELECT state, ticket_id IS NULL, COUNT(*) FROM spool"
                          " GROUP BY 1, 2 ORDER BY 1")
    # "duplicate" of the ticket its first copy is on: after losing the race at the insert,
    # the second handling compared it with the stored copy (not dropped unseen)
    assert spool == [("done", False, len(mails)), ("duplicate", False, len(mails))]


# -- one IMAP account configured on both nodes ---------------------------------------------------

IMAP_LEASE = 2.0  # seconds: short, so that the takeover is quick to watch
LEASE_RETRY = IMAP_LEASE / 3  # a standby node's attempts (LEASE_RETRY_MAX caps it at 5 s)


def imap_account(server: DovecotServer, password_file: Path) -> dict[str, Any]:
    return {"imap": [{
        "name": "shared-desk", "host": server.host, "port": server.port, "security": "plain",
        "username": server.user, "password_file": str(password_file), "after": "move",
        "move_to": "Processed", "lease": f"{IMAP_LEASE}s"}]}


def healthz(port: int) -> dict[str, Any]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return dict(json.load(answer))
    except urllib.error.HTTPError as exc:  # 503: the body says why
        return dict(json.load(exc))


def test_shared_imap_account_is_read_by_one_node_and_taken_over_after_a_kill(
        cluster: Cluster, dovecot: DovecotServer) -> None:
    """Both nodes have the account; the lease holder alone reads it, the other stands by (and
    says so in /healthz). kill -9 the holder while mail is being appended: the other takes
    over within the lease, and every appended mail becomes one ticket with one ack."""
    import threading

    password_file = cluster.root / "imap-password"
    password_file.write_text(dovecot.password + "\n")
    http = {"a": free_port(), "b": free_port()}
    nodes = {name: cluster.node(name, merge({
        "gateway": {"node_name": f"node-{name}"},
        "http": {"enabled": True, "port": http[name]},
        "logging": {"level": "info"},
        # short claims: the mail and acks the killed node held are free again soon
        "processing": {"lease": "4s"}, "outbound": {"lease": "4s"},
    }, imap_account(dovecot, password_file))) for name in ("a", "b")}
    a, b = nodes["a"], nodes["b"]

    def holder() -> str | None:
        rows = cluster.query("SELECT claimed_by FROM imap_leases WHERE account = 'shared-desk'")
        return rows[0][0] if rows else None

    def imap_spooled() -> int:
        return cluster.query("SELECT COUNT(*) FROM spool WHERE channel = 'imap'")[0][0]

    a.start()
    wait_until(lambda: holder() == "node-a", 20, message=lambda: a.log())
    b.start()

    def standing_by() -> dict[str, Any] | None:
        report = healthz(http["b"])
        return report if report["imap"]["shared-desk"]["state"] == "standby" else None

    report = wait_until(standing_by, 20, message=lambda: b.log())
    assert report["status"] == "ok", report  # standby is no problem, not even a warning
    assert report["imap"]["shared-desk"]["lease_holder"] == "node-a"
    assert report["database"]["imap_leases"]["shared-desk"]["holder"] == "node-a"

    first = numbered_mails("imap-first", 5)
    for raw in first.values():
        dovecot.append(raw)
    wait_until(lambda: imap_spooled() >= len(first), 20, message=cluster.backlog)
    assert holder() == "node-a"
    assert not b.logged("imap_connected"), "the standby node read the mailbox"

    # Mail keeps arriving; node a is killed part-way through, the rest arrives after.
    second = numbered_mails("imap-second", 16)
    killed = threading.Event()

    def deliver() -> None:
        for n, raw in enumerate(second.values()):
            if n == len(second) // 2:
                killed.wait(30)
            dovecot.append(raw)

    appender = threading.Thread(target=deliver, daemon=True)
    appender.start()
    wait_until(lambda: imap_spooled() >= len(first) + 3, 20, interval=0.01,
               message=cluster.backlog)
    a.kill()
    killed_at = time.monotonic()
    killed.set()
    wait_until(lambda: holder() == "node-b", IMAP_LEASE + LEASE_RETRY + 10, interval=0.02,
               message=lambda: b.log())
    takeover = time.monotonic() - killed_at
    # The lease runs out at most IMAP_LEASE after the kill (a renewed it every third of
    # that), and node b asks again every LEASE_RETRY; a second of slack for a busy machine.
    assert takeover < IMAP_LEASE + LEASE_RETRY + 1.5, f"takeover took {takeover:.1f}s"
    appender.join(30)
    assert not appender.is_alive()

    mails = {**first, **second}
    wait_until(lambda: dovecot.list_uids("INBOX") == [], 30, interval=0.2,
               message=lambda: f"INBOX {dovecot.list_uids('INBOX')}\n{cluster.backlog()}")
    cluster.wait_drained(30)
    assert len(dovecot.list_uids("Processed")) == len(mails)
    assert b.logged("imap_lease_acquired")
    assert b.terminate()[0] == 0
    assert holder() is None  # given back at the clean stop
    cluster.assert_each_once(mails)


# -- claims after a crash --------------------------------------------------------------------


def test_a_node_frees_only_claims_of_its_own_hosts_dead_processes(cluster: Cluster) -> None:
    """When node a starts, and again when its processor dies, it frees the claim of a dead
    process of this host at once; node b's claim (alive) and another host's claim stay
    theirs, and the other host's mail is processed only once its lease has run out."""
    a, b = cluster.node("a", {"logging": {"level": "info"}}), cluster.node("b")
    b.start()
    mails = numbered_mails("claims", 3)
    with closing(open_store(load_config(a.config_path))) as store, store.transaction():
        ids = [store.spool_add(raw, channel="smtp", received_at=clock.now(),
                               mail_from="customer@example.org", rcpt_tos=["support@example.com"],
                               state="held") for raw in mails.values()]
    gone = subprocess.Popen(["true"])
    gone.wait()
    elsewhere = "elsewhere.example:4242:0badb007:12345"
    claimants = {ids[0]: elsewhere, ids[1]: process_name(gone.pid),
                 ids[2]: process_name(b.pids()[0])}
    lease_end = clock.now() + timedelta(seconds=12)
    for spool_id, name in claimants.items():  # all three at once: node b must not take them
        cluster.query("UPDATE spool SET state = 'new', claimed_by = %s, lease_until = %s"
                      " WHERE id = %s", (name, clock.to_db(lease_end), spool_id))

    def spool(spool_id: int) -> tuple[str, str | None, str | None]:
        [row] = cluster.query("SELECT state, claimed_by, processed_at FROM spool WHERE id = %s",
                              (spool_id,))
        return row

    a.start()
    wait_until(lambda: spool(ids[1])[0] == "done", 10, message=lambda: cluster.backlog())
    [worker] = a.children("processor")
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: a.children("processor") not in ([], [worker]), 10,
               message="node a started no new processor")
    wait_until(lambda: a.log(None).count('"dead_claims_released"') == 2, 10,
               message=lambda: a.log())  # at the start, and when the processor died
    assert clock.now() < lease_end, "too slow to tell an early release from a lease's end"
    assert spool(ids[0])[:2] == ("new", elsewhere)
    assert spool(ids[2])[:2] == ("new", claimants[ids[2]])
    wait_until(lambda: spool(ids[0])[0] == "done", 30, message=lambda: cluster.backlog())
    processed_at = spool(ids[0])[2]
    assert processed_at is not None and clock.from_db(processed_at) >= lease_end
    for node in (a, b):
        assert node.terminate()[0] == 0
