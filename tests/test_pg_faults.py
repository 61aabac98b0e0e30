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

import gc
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faultkit import Mta, numbered_mails
from tests.pgserver import PgServer, start_server
from tests.support import wait_processed, wait_until
from tests.test_nodes import Cluster


@pytest.fixture(scope="module")
def own_server() -> Iterator[PgServer]:
    """A cluster only these tests stop and start (the session's is shared by every test)."""
    server = start_server()
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
    """`mailgate ingest` while PostgreSQL is down: exit 75, nothing stored; later: stored
    and processed (by the drainer it starts: no daemon runs)."""
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
    wait_processed(node.config_path)  # (by the drainer ingest started)
    assert cluster.query("SELECT message_id FROM messages WHERE direction = 'in'") == [(mid,)]
    assert cluster.query("SELECT state, COUNT(*) FROM spool GROUP BY state") == [("done", 1)]
    assert cluster.query("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'") == [(1,)]


def test_store_collected_while_a_pool_is_made_does_not_hang(pg_server: PgServer, pg_url: str,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    """A store dropped without close() inside a reference cycle (a daemon's thread-local
    store, say) is freed by the cyclic garbage collector wherever it runs: here while the
    next store's pool is being made. Opening must not wait for itself (the whole-suite
    PostgreSQL pass hung so: a daemon waiting at start, then an unraisable error in
    ``PgStore.__del__``)."""
    from mailgate.store import postgres

    class MadeThenCollected(postgres.ConnectionPool):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            gc.collect()  # as any allocation while the pool is made could trigger it

    monkeypatch.setattr(postgres, "ConnectionPool", MadeThenCollected)
    dropped = postgres.PgStore.open_url(pg_url, password=pg_server.password, migrate=False)
    dropped.cycle = dropped  # type: ignore[attr-defined]  # only the collector can free it
    del dropped
    other_url = pg_server.database()  # another database: another pool is made
    opened: list[object] = []
    thread = threading.Thread(target=lambda: opened.append(postgres.PgStore.open_url(
        other_url, password=pg_server.password, migrate=False)), daemon=True)
    thread.start()
    thread.join(10)
    assert opened, "opening a store hung while a dropped store was collected"
    opened[0].close()  # type: ignore[attr-defined]
    # the dropped store's connection went back, and both pools were closed with their
    # last store
    assert not postgres.POOLS.orphans
    names = [f"dbname={url.rsplit('/', 1)[1]}" for url in (pg_url, other_url)]
    assert [key for key in postgres.POOLS._pools if any(n in key[0] for n in names)] == []
