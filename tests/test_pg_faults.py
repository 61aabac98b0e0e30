"""PostgreSQL going away under load (issue #10): a retry, never a lost message.

A daemon (``mailgate serve`` in a subprocess) on PostgreSQL takes mail from clients that
behave like sending MTAs (anything but 2xx is retried). Mid-load the database server is
restarted, or stopped until the daemon has answered with 451s and then started again.
Afterwards every mail is stored once, every ticket has one acknowledgement, nothing waits
in the spool or the outbox, and the same daemon process did it all: no restart of
mailgate. ``mailgate ingest`` exits 75 (EX_TEMPFAIL: the MTA retries) while the database
is down, and stores the mail once it is back.

These tests stop and start a PostgreSQL cluster of their own, not the session's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faultkit import Mta, numbered_mails, wait_until
from tests.pgserver import PgServer, find_bindir, unavailable
from tests.test_nodes import Cluster


@pytest.fixture(scope="module")
def own_server() -> Iterator[PgServer]:
    """A cluster only these tests stop and start (the session's is shared by every test)."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("initdb/pg_ctl not found (apt-get install postgresql)")
    assert bindir is not None
    server = PgServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path: Path, own_server: PgServer) -> Iterator[Cluster]:
    made = Cluster(tmp_path, own_server, own_server.database())
    yield made
    for node in made.nodes:
        node.cleanup()


@pytest.mark.parametrize("fault", ["restart", "outage"])
def test_database_lost_under_load_loses_nothing(cluster: Cluster, own_server: PgServer,
                                                fault: str) -> None:
    """PostgreSQL restarted (or down until mail is refused) under load: each mail once,
    each ack once, and the daemon carried on by itself."""
    node = cluster.node("a")
    node.start()
    mails = numbered_mails(f"pg{fault}", 150)
    mta = Mta(node.port, mails, sessions=6, retry_delay=0.1)
    mta.start()
    try:
        mta.wait_accepted(40, timeout=30)
        assert mta.outstanding > 0, "the load was over before the fault"
        own_server.halt()  # every connection of the daemon is cut
        try:
            if fault == "outage":
                # Down until the daemon has refused mail with "451 try again later" a few
                # times: the sending MTAs keep their mail and retry.
                wait_until(lambda: mta.codes()[451] >= 5, 20, interval=0.05,
                           message=lambda: f"no 451 while PostgreSQL was down: {mta.codes()}")
        finally:
            own_server.resume()
        mta.join(timeout=60)
    finally:
        mta.halt()
    codes = mta.codes()
    assert not [c for c in codes if c is not None and c >= 500], codes
    cluster.wait_drained(60)
    assert node.running and node.starts == 1, "the daemon had to be restarted"
    assert node.terminate()[0] == 0
    cluster.assert_each_once(mails)


def test_ingest_exits_75_while_the_database_is_down(cluster: Cluster,
                                                     own_server: PgServer) -> None:
    """`mailgate ingest` while PostgreSQL is down: exit 75, nothing stored; later: stored."""
    node = cluster.node("pipe")  # its config; no daemon runs
    [(mid, raw)] = numbered_mails("pipe", 1).items()

    def ingest() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "mailgate", "ingest", "-c", str(node.config_path),
             "-f", "customer0@example.org"],
            input=raw, capture_output=True, timeout=60, cwd=node.config_path.parent)

    own_server.halt()
    try:
        down = ingest()
    finally:
        own_server.resume()
    assert down.returncode == 75, down.stderr.decode(errors="replace")
    assert b"retry later" in down.stderr
    up = ingest()
    assert up.returncode == 0, up.stderr.decode(errors="replace")
    assert cluster.query("SELECT message_id FROM messages WHERE direction = 'in'") == [(mid,)]
    assert cluster.query("SELECT state, COUNT(*) FROM spool GROUP BY state") == [("done", 1)]
    assert cluster.query("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'") == [(1,)]
