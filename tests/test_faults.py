"""Fault tests: crashes, clean shutdown, smarthost outages and database/disk faults.

Every test talks to a real daemon over loopback, either ``mailgate serve`` in a subprocess
(so it can be SIGKILLed or SIGTERMed) or the in-process ``RunningDaemon``. Clients behave
like a sending MTA: anything but a 2xx is retried. The promises checked are the README's:
nothing accepted is lost, nothing is duplicated, the daemon recovers by itself.
"""

from __future__ import annotations

import email
import json
import os
import random
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest

from mailgate import clock
from mailgate.claimants import process_name
from mailgate.config import load_config
from mailgate.defaults import TEMPLATES
from mailgate.logs import configure_logging
from mailgate.outbound import SMTP_CONCURRENCY
from mailgate.store import Store
from mailgate.store.sqlite import SqliteStore
from tests.conftest import RunningDaemon, make_mail, sqlite_only
from tests.faultkit import (
    MAIL_FROM,
    RCPT_TO,
    DaemonProcess,
    Mta,
    Relay,
    RelayHandler,
    backlog,
    can_chattr,
    chattr,
    drained,
    fault_config,
    fill_disk,
    message_id_of,
    numbered_mails,
    query,
    send_once,
    smtp_ready,
)
from tests.support import free_port, wait_until

SEED = 20261128

# These peek into and sabotage the SQLite file; tests/test_nodes.py does kill -9 on PostgreSQL.
pytestmark = sqlite_only


def subprocess_daemon(daemons: list[DaemonProcess], folder: Path,
                      settings: dict[str, dict[str, object]] | None = None) -> DaemonProcess:
    port = free_port()
    proc = DaemonProcess(fault_config(folder, {"smtp": {"port": port}}, settings or {}), port)
    daemons.append(proc)
    return proc


def db_of(folder: Path) -> Path:
    return folder / "var" / "mailgate.db"


def wait_drained(proc: DaemonProcess, timeout: float, what: str = "backlog") -> None:
    """Poll the database (read-only) until nothing waits for processing or sending."""
    db = db_of(proc.config_path.parent)
    wait_until(lambda: drained(db), timeout, interval=0.1,
               message=lambda: f"{what} not drained: {backlog(db)}\n--- daemon log:\n"
                               f"{proc.log(tail=3000)}")


def spool_states(db: Path) -> dict[str, int]:
    return dict(query(db, "SELECT state, COUNT(*) FROM spool GROUP BY state"))


def stored_message_ids(db: Path) -> Counter[str]:
    return Counter(r[0] for r in query(db, "SELECT message_id FROM messages"
                                           " WHERE direction = 'in'"))


def assert_acknowledged_once(folder: Path, outbox: str = "var/outbox") -> None:
    """Every ticket has exactly one sent ack row and exactly one whole .eml file for it."""
    db = db_of(folder)
    tickets = {r[0] for r in query(db, "SELECT id FROM tickets")}
    acks = query(db, "SELECT id, ticket_id, message_id, state, raw FROM outbox WHERE kind = 'ack'")
    per_ticket = Counter(r[1] for r in acks)
    assert set(per_ticket) == tickets
    assert [t for t, n in per_ticket.items() if n != 1] == []
    assert {r[3] for r in acks} == {"sent"}
    sent = query(db, "SELECT id FROM outbox WHERE state = 'sent'")
    files = sorted(p.name for p in (folder / outbox).iterdir())
    assert files == sorted(f"{r[0]:08d}.eml" for r in sent)  # one each, no .tmp leftovers
    for outbox_id, _ticket, message_id, _state, raw in acks:
        data = (folder / outbox / f"{outbox_id:08d}.eml").read_bytes()
        assert data == bytes(raw), f"ack {outbox_id} file is torn"
        assert message_id_of(data) == message_id


# -- 1. kill -9 under load --------------------------------------------------------------------


def test_sigkill_under_load_loses_and_duplicates_nothing(tmp_path: Path,
                                                          daemons: list[DaemonProcess]) -> None:
    """kill -9 again and again under load loses no mail, duplicates none, acks each ticket once."""
    rng = random.Random(SEED)
    proc = subprocess_daemon(daemons, tmp_path, {"processing": {"lease": "2s"},
                                                 "outbound": {"lease": "2s"}})
    # enough mail that the sessions are still sending at every kill on a fast machine too
    # (320 mails were all accepted before the 0-0.2 s phase ran out: no kill hit a session)
    mails = numbered_mails("kill", 1200)
    proc.start()
    mta = Mta(proc.port, mails, sessions=6, retry_delay=0.05).start()
    kills = sorted(rng.sample(range(30, 900), 4))
    try:
        for threshold in kills:
            mta.wait_accepted(threshold, timeout=30)
            time.sleep(rng.uniform(0, 0.03))  # a random phase: mid-DATA, mid-commit, mid-process
            proc.kill()
            proc.start()
        mta.join(timeout=40)
    finally:
        mta.halt()
    assert proc.starts == 5
    codes = mta.codes()
    assert not [c for c in codes if c is not None and c >= 500], codes
    assert codes[None] > 0, "the kills never hit a session; the test proves nothing"

    db = db_of(tmp_path)
    wait_drained(proc, 30)
    code, _ = proc.terminate()
    assert code == 0

    stored = stored_message_ids(db)
    assert set(stored) == set(mails)
    assert [m for m, n in stored.items() if n != 1] == []
    states = spool_states(db)
    assert set(states) <= {"done", "duplicate"}, states
    assert query(db, "SELECT COUNT(*) FROM tickets") == [(len(mails),)]
    assert_acknowledged_once(tmp_path)


def spool_directly(db: Path, mails: list[bytes]) -> list[int]:
    """Mail accepted by an earlier run and not yet processed, as its spooler committed it."""
    store = Store.open(db)
    try:
        with store.transaction():
            return [store.spool_add(raw, channel="smtp", received_at=clock.now(),
                                    mail_from=MAIL_FROM, rcpt_tos=[RCPT_TO],
                                    source="smtp:earlier-run") for raw in mails]
    finally:
        store.close()


def slow_mail(n: int) -> bytes:
    """An HTML-only mail of ~230 KB whose text conversion takes a few hundred milliseconds."""
    items = "".join(f"<li>item <i>{i}</i></li>" for i in range(9000))
    msg = make_mail(f"Long HTML report {n}", message_id=f"<slow-{n}@example.org>")
    msg.set_content(f"<html><body><ul>{items}</ul></body></html>", subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def claimed_by(db: Path, proc: DaemonProcess, spool_id: int | None = None) -> int:
    """How many unfinished spool rows (or whether row ``spool_id``) the daemon (or one of
    its processor processes) has claimed."""
    names = [process_name(pid) for pid in proc.pids()]
    sql = (f"SELECT COUNT(*) FROM spool WHERE state = 'new' AND claimed_by IN"
           f" ({','.join('?' * len(names))})")
    params: tuple[object, ...] = tuple(names)
    if spool_id is not None:
        sql, params = sql + " AND id = ?", (*params, spool_id)
    return int(query(db, sql, params)[0][0])


def test_crash_loop_quarantines_only_the_message_being_processed(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """A mail that crashes the daemon 3 times is quarantined alone; mail behind it gets tickets."""
    proc = subprocess_daemon(daemons, tmp_path, {"processing": {"lease": "1s"}})
    db = db_of(tmp_path)
    small = numbered_mails("behind", 5)
    [first, *_] = spool_directly(db, [slow_mail(1), slow_mail(2), *small.values()])
    for _crash in range(3):
        proc.start()
        # The daemon claims the first HTML mail (with the rest of the backlog at first, alone
        # after a crash) and spends a few hundred milliseconds converting it: it dies while
        # handling that mail.
        wait_until(lambda: claimed_by(db, proc, first), 10, interval=0.005,
                   message="the daemon did not claim the first mail")
        proc.kill()
    proc.start()
    wait_drained(proc, 20)
    assert proc.terminate()[0] == 0
    stored = stored_message_ids(db)
    quarantined = query(db, "SELECT id, reason FROM spool WHERE state = 'quarantined'")
    assert set(stored) == {"<slow-2@example.org>", *small}, quarantined
    assert [row_id for row_id, _reason in quarantined] == [first]
    assert "after 3 attempts" in quarantined[0][1]


# -- 2. smarthost outage ------------------------------------------------------------------------


def smarthost_daemon(tmp_path: Path, relay_port: int) -> RunningDaemon:
    path = fault_config(tmp_path, {"outbound": {
        "mode": "smtp", "host": "127.0.0.1", "port": relay_port, "timeout": "5s",
        "retry_initial": "0.2s", "retry_max": "0.5s"}})
    config = load_config(path)
    configure_logging(config.logging)
    return RunningDaemon(config).start()


def open_tickets(running: RunningDaemon, senders: list[str]) -> None:
    """One new ticket per sender, each processed (its ack is queued when this returns)."""
    for n, sender in enumerate(senders):
        code, text = running.send(make_mail(f"Outage ticket {n}", sender=sender),
                                  mail_from=sender)
        assert code == 250, text
        assert running.wait_processed(int(text.decode().rsplit(" ", 1)[1])) == "done"


def follow_up(ticket_id: int, n: int) -> tuple[str, bytes]:
    """A later outgoing mail of a ticket (as an agent's reply will be queued)."""
    msg = make_mail(f"[SUP-{ticket_id:06d}] update {n}", sender="support@example.com",
                    to="customer@example.org", message_id=f"<update-{ticket_id}-{n}@example.com>",
                    body=f"Update {n} on your ticket.\n")
    return str(msg["Message-ID"]), msg.as_bytes(policy=policy.SMTP)


def outbox_json(config_path: Path) -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-m", "mailgate", "outbox", "--json", "-c",
                             str(config_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_smarthost_outage_delivers_everything_once_in_order(tmp_path: Path) -> None:
    """A smarthost outage (refused, then 451) only delays mail: then each goes once, in order."""
    relay_port = free_port()
    running = smarthost_daemon(tmp_path, relay_port)
    try:
        open_tickets(running, ["a@example.org", "b@example.org", "c@example.org"])
        store = running.store()
        try:
            tickets = sorted(t["id"] for t in store.tickets())
            followups: dict[int, list[str]] = {}
            with store.transaction():
                for ticket_id in tickets:
                    for n in (1, 2):
                        mid, raw = follow_up(ticket_id, n)
                        store.outbox_add(ticket_id=ticket_id, message_id=mid, kind="reply",
                                         mail_from="support@example.com",  # to the requester:
                                         rcpt_tos=[store.ticket(ticket_id).requester],
                                         raw=raw, now=clock.now())  # kept behind the ack
                        followups.setdefault(ticket_id, []).append(mid)
        finally:
            store.close()

        def acks_deferred() -> bool:
            rows = [r for r in outbox_json(tmp_path / "mailgate.toml")
                    if r["kind"] == "ack"]
            return len(rows) == 3 and all(r["state"] == "pending" and r["attempts"]
                                          and r["last_error"] for r in rows)

        wait_until(acks_deferred, 15, interval=0.2, message="acks not deferred while down")
        listed = outbox_json(tmp_path / "mailgate.toml")
        assert len(listed) == 9 and {r["state"] for r in listed} == {"pending"}

        handler = RelayHandler(fail_first=3)
        with Relay(relay_port, handler):
            running.wait_outbox_idle(timeout=20)
            delivered = handler.delivered()
    finally:
        running.stop()

    store = running.store()
    try:
        rows = store.outbox(("pending", "failed", "sent"))
        assert {r["state"] for r in rows} == {"sent"}
        order = [d.message_id for d in delivered]
        assert Counter(order) == Counter(r[0] for r in query(
            running.config.database_path, "SELECT message_id FROM outbox"))
        assert len(order) == len(set(order)) == 9
        assert handler.data_attempts == 9 + 3
        for ticket_id in tickets:
            [ack] = [m["message_id"] for m in store.messages(ticket_id) if m["kind"] == "ack"]
            mine = [mid for mid in order if mid in (ack, *followups[ticket_id])]
            assert mine == [ack, *followups[ticket_id]], f"ticket {ticket_id} out of order"
            deferred = [e for e in store.events(ticket_id) if e["kind"] == "delivery_deferred"]
            assert deferred, f"ticket {ticket_id} has no delivery_deferred event"
        details = " ".join(e["detail"] for t in tickets for e in store.events(t))
        assert "451" in details
    finally:
        store.close()


def test_smarthost_550_fails_one_mail_and_delivers_the_others(tmp_path: Path) -> None:
    """A smarthost 550 fails that mail on its ticket; other tickets' mail still goes out."""
    relay_port = free_port()
    handler = RelayHandler(reject=frozenset({"blocked@example.org"}))
    with Relay(relay_port, handler):
        running = smarthost_daemon(tmp_path, relay_port)
        try:
            open_tickets(running, ["blocked@example.org", "b@example.org", "c@example.org"])
            running.wait_outbox_idle(timeout=20)
        finally:
            running.stop()
    store = running.store()
    try:
        by_ticket = {t["reference"]: t["id"] for t in store.tickets()}
        blocked = by_ticket["SUP-000001"]
        rows = {r["ticket"]: r for r in store.outbox(("pending", "failed", "sent"))}
        assert rows["SUP-000001"]["state"] == "failed"
        assert "550" in rows["SUP-000001"]["last_error"]
        assert rows["SUP-000002"]["state"] == rows["SUP-000003"]["state"] == "sent"
        failed = [e for e in store.events(blocked) if e["kind"] == "delivery_failed"]
        assert len(failed) == 1 and "550" in failed[0]["detail"]
        assert sorted(d.rcpt_tos[0] for d in handler.delivered()) == ["b@example.org",
                                                                      "c@example.org"]
    finally:
        store.close()
    listed = outbox_json(tmp_path / "mailgate.toml")
    assert [(r["ticket"], r["state"]) for r in listed] == [("SUP-000001", "failed")]


# -- 3. clean shutdown under load -------------------------------------------------------------


def test_sigterm_under_load_exits_0_and_keeps_every_accepted_mail(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """SIGTERM under load exits 0 within seconds and every mail that got 250 becomes a ticket."""
    # Claims must be given back at exit (checked below). The outbound lease is short because a
    # database-locked error under load strands the sender's batch until the lease expires
    # (test_database_lock_mid_send_delays_outgoing_mail_only_as_long_as_the_lock).
    proc = subprocess_daemon(daemons, tmp_path, {"outbound": {"lease": "2s"}})
    mails = numbered_mails("term", 400)
    proc.start()
    mta = Mta(proc.port, mails, sessions=5, retry_delay=0.05).start()
    try:
        mta.wait_accepted(60, timeout=30)
        code, took = proc.terminate(timeout=15)
    finally:
        mta.halt()
    assert code == 0, proc.log()
    assert took < 5, f"SIGTERM took {took:.1f}s"
    codes = mta.codes()
    assert set(codes) <= {250, 421, 451, None}, codes

    db = db_of(tmp_path)
    spooled = {row_id: message_id_of(bytes(raw))
               for row_id, raw in query(db, "SELECT id, raw FROM spool_raw")}
    for mid, spool_ids in mta.accepted.items():
        for spool_id in spool_ids:
            assert spooled.get(spool_id) == mid, f"250 for {mid} (spool {spool_id}) not kept"
    for table in ("spool", "outbox"):  # claims given back: the next start need not wait
        assert query(db, f"SELECT COUNT(*) FROM {table} WHERE claimed_by IS NOT NULL") == [(0,)]

    proc.start()
    rest = {mid: raw for mid, raw in mails.items() if mid not in mta.accepted}
    Mta(proc.port, rest, sessions=5).start().join(timeout=40)
    wait_drained(proc, 20, "after restart: backlog")
    assert proc.terminate()[0] == 0
    stored = stored_message_ids(db)
    assert set(stored) == set(mails)
    assert [m for m, n in stored.items() if n != 1] == []
    assert_acknowledged_once(tmp_path)


def test_sigterm_with_backlog_exits_within_seconds(tmp_path: Path,
                                                   daemons: list[DaemonProcess]) -> None:
    """SIGTERM with thousands of mails queued exits within seconds; the rest stays queued."""
    proc = subprocess_daemon(daemons, tmp_path)
    db = db_of(tmp_path)
    spool_directly(db, list(numbered_mails("backlog", 3000).values()))
    proc.start()
    wait_until(lambda: query(db, "SELECT COUNT(*) FROM spool WHERE state = 'done'")[0][0] > 0,
               10, interval=0.01, message="processing did not start")
    code, _took = proc.terminate(timeout=4)
    assert code == 0
    states = spool_states(db)
    assert sum(states.values()) == 3000 and states.get("new", 0) > 0
    for table in ("spool", "outbox"):
        assert query(db, f"SELECT COUNT(*) FROM {table} WHERE claimed_by IS NOT NULL") == [(0,)]


# -- 4. database and disk faults ------------------------------------------------------------------


def deliver_all(port: int, mails: dict[str, bytes], timeout: float = 20) -> Mta:
    mta = Mta(port, mails, sessions=2).start()
    mta.join(timeout)
    return mta


def test_database_lock_answers_451_and_daemon_catches_up_after(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """While another program locks the database new mail gets 451; afterwards all is processed."""
    proc = subprocess_daemon(daemons, tmp_path).start()
    db = db_of(tmp_path)
    before = numbered_mails("before-lock", 2)
    deliver_all(proc.port, before)
    wait_drained(proc, 10)
    held = numbered_mails("piped-during-lock", 5)
    refused = numbered_mails("smtp-during-lock", 1)
    blocker = sqlite3.connect(db, isolation_level=None, timeout=5)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        writer = SqliteStore(blocker, db)  # another writer (e.g. `mailgate ingest`) adds mail
        for raw in held.values():
            writer.spool_add(raw, channel="pipe", received_at=clock.now(), mail_from=MAIL_FROM,
                             rcpt_tos=[RCPT_TO])
        assert send_once(proc.port, next(iter(refused.values()))) == 451
        wait_until(lambda: proc.logged("processor_paused"), 10,
                   message="the processor never ran into the lock")
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    deliver_all(proc.port, refused)  # the sending MTA retries
    wait_drained(proc, 20, "after the lock: backlog")
    assert proc.terminate()[0] == 0
    stored = stored_message_ids(db)
    assert set(stored) == {*before, *held, *refused}
    assert set(stored.values()) == {1}
    assert_acknowledged_once(tmp_path)


def test_database_lock_mid_batch_delays_processing_only_as_long_as_the_lock(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """A database lock mid-backlog delays processing only as long as the lock, not the lease."""
    proc = subprocess_daemon(daemons, tmp_path)  # default processing.lease = 2 min
    db = db_of(tmp_path)
    spool_directly(db, [slow_mail(1), slow_mail(2), *numbered_mails("queued", 5).values()])
    proc.start()
    wait_until(lambda: claimed_by(db, proc) == 7, 10, interval=0.005,
               message="the daemon did not claim the backlog")
    blocker = sqlite3.connect(db, isolation_level=None, timeout=5)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # while the first HTML mail is being converted
        wait_until(lambda: proc.logged("processor_paused"), 10,
                   message="the processor never ran into the lock")
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    wait_drained(proc, 10, "after the lock: backlog")


def test_database_lock_mid_send_delays_outgoing_mail_only_as_long_as_the_lock(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """A database lock mid-send delays outgoing mail only as long as the lock, not the lease."""
    relay_port = free_port()
    proc = subprocess_daemon(daemons, tmp_path, {"outbound": {  # default outbound.lease = 5 min
        "mode": "smtp", "host": "127.0.0.1", "port": relay_port,
        "retry_initial": "0.2s", "retry_max": "0.5s"}})
    db = db_of(tmp_path)
    spool_directly(db, list(numbered_mails("acked", 5).values()))
    proc.start()
    # The smarthost is down at first: all five acks are queued and deferred, then due together.
    wait_until(lambda: query(db, "SELECT COUNT(*) FROM outbox WHERE attempts > 0"
                                 " AND state = 'pending'") == [(5,)], 15,
               message=lambda: f"acks not deferred: {backlog(db)}")
    acks = {r[0] for r in query(db, "SELECT message_id FROM outbox")}
    release = threading.Event()
    handler = RelayHandler(hold=release)
    with Relay(relay_port, handler):
        assert handler.arrived.wait(15), "the sender did not come back to the smarthost"
        blocker = sqlite3.connect(db, isolation_level=None, timeout=5)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            release.set()  # the first ack is accepted; recording it runs into the lock
            wait_until(lambda: proc.logged("outbox_paused"), 10,
                       message="the sender never ran into the lock")
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        wait_drained(proc, 8, "after the lock: outbox")
        delivered = Counter(d.message_id for d in handler.delivered())
    assert set(delivered) == acks
    # The mail whose 250 could not be recorded may go out twice (same Message-ID); no other.
    assert sum(delivered.values()) <= len(acks) + 1


@pytest.fixture
def disk_folder() -> Iterator[Path]:
    """A folder in the default temporary folder, not ``tmp_path``: that may be in memory
    (tests/conftest.py), where ``chattr +i`` does not stop writes to a file already open."""
    folder = Path(tempfile.mkdtemp(prefix="mailgate-faults-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_read_only_database_answers_451_and_recovers(disk_folder: Path,
                                                     daemons: list[DaemonProcess]) -> None:
    """A database turned read-only makes new mail get 451; once writable again, mail flows."""
    why_not = can_chattr(disk_folder)
    if why_not:
        # chmod cannot stand in: it does not affect files the daemon already has open.
        pytest.skip(f"cannot make the open database read-only: {why_not}")
    proc = subprocess_daemon(daemons, disk_folder).start()
    db = db_of(disk_folder)
    before = numbered_mails("before-ro", 1)
    deliver_all(proc.port, before)
    wait_drained(proc, 10)
    frozen = [db, db.with_name(db.name + "-wal"), db.parent]
    refused = numbered_mails("during-ro", 1)
    spooled = query(db, "SELECT COUNT(*) FROM spool")
    chattr("+i", *frozen)
    try:
        codes = [send_once(proc.port, raw) for raw in [*refused.values()] * 2]
        assert codes == [451, 451]
        assert query(db, "SELECT COUNT(*) FROM spool") == spooled
    finally:
        chattr("-i", *frozen)
    deliver_all(proc.port, refused)
    wait_drained(proc, 20, "after the fault: backlog")
    assert proc.terminate()[0] == 0
    stored = stored_message_ids(db)
    assert set(stored) == {*before, *refused}
    assert_acknowledged_once(disk_folder)


def test_disk_full_answers_451_and_recovers_when_space_is_freed(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """A full disk makes new mail get 451 and loses nothing; once space is freed, mail flows."""
    if shutil.which("mount") is None:
        pytest.skip("cannot mount a small tmpfs for the database: no mount command")
    var = tmp_path / "var"
    var.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(var)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the database: {mounted.stderr.strip()}")
    try:
        # The outbox folder is elsewhere: only the database's disk is full.
        proc = subprocess_daemon(daemons, tmp_path, {"outbound": {"folder": "outbox"}}).start()
        db = db_of(tmp_path)
        before = numbered_mails("before-full", 2)
        deliver_all(proc.port, before)
        wait_drained(proc, 10)
        refused = numbered_mails("during-full", 1)
        filler = fill_disk(var)
        try:
            codes = [send_once(proc.port, raw) for raw in [*refused.values()] * 2]
            assert codes == [451, 451]
        finally:
            filler.unlink()
        deliver_all(proc.port, refused)
        wait_drained(proc, 20, "after space was freed: backlog")
        assert proc.terminate()[0] == 0
        stored = stored_message_ids(db)
        assert set(stored) == {*before, *refused}
        assert set(stored.values()) == {1}
        assert_acknowledged_once(tmp_path, "outbox")
    finally:
        for started in daemons:
            started.cleanup()
        subprocess.run(["umount", "-l", str(var)], capture_output=True)


# -- 7. processor processes ---------------------------------------------------------------------


def processor_pids(proc: DaemonProcess) -> list[int]:
    return proc.children("processor")


def test_killed_processor_process_is_replaced_and_its_mail_processed_once(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """kill -9 of the processor process mid-message: the daemon keeps listening, starts a
    new one at once with the dead one's claims released, and every mail is stored once."""
    proc = subprocess_daemon(daemons, tmp_path)
    db = db_of(tmp_path)
    small = numbered_mails("after", 5)
    [first, *_] = spool_directly(db, [slow_mail(1), *small.values()])
    proc.start()
    wait_until(lambda: claimed_by(db, proc, first), 10, interval=0.005,
               message="no processor process claimed the first mail")
    [worker] = processor_pids(proc)
    os.kill(worker, signal.SIGKILL)
    during = numbered_mails("during", 1)
    assert send_once(proc.port, *during.values()) == 250  # the listener never noticed
    wait_drained(proc, 20)
    [replacement] = processor_pids(proc)
    assert replacement != worker
    assert "processor_died" in proc.log(tail=None)
    stored = stored_message_ids(db)
    assert set(stored) == {"<slow-1@example.org>", *small, *during}
    assert [m for m, n in stored.items() if n != 1] == []
    assert proc.terminate()[0] == 0


@pytest.mark.parametrize("processes", [2, "auto"])
def test_sigkill_of_the_daemon_takes_its_processor_processes_along(
        tmp_path: Path, daemons: list[DaemonProcess], processes: int | str) -> None:
    """No processor outlives its daemon: a restarted daemon never races an orphan
    (``"auto"``: one processor per core the daemon may use, at most 4)."""
    proc = subprocess_daemon(daemons, tmp_path, {"processing": {"processes": processes}})
    proc.start()
    workers = processor_pids(proc)
    [sender] = proc.children("sender")
    assert len(workers) == (2 if processes == 2 else min(len(os.sched_getaffinity(0)), 4))
    proc.kill()
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in [*workers, sender]),
               5, interval=0.01, message=lambda: f"worker processes {workers} or the sender"
                                                 f" {sender} outlived the daemon")


def test_two_processor_processes_share_the_spool_each_mail_once(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """``processes = 2`` on SQLite: a backlog and mail arriving meanwhile are processed by
    both processors taking turns, each mail stored and acknowledged once; the second one
    runs at a lower CPU priority than the first, so it only takes what intake leaves."""
    proc = subprocess_daemon(daemons, tmp_path, {"processing": {"processes": 2,
                                                                "batch_size": 4}})
    db = db_of(tmp_path)
    backlog = numbered_mails("backlog", 80)
    spool_directly(db, list(backlog.values()))
    proc.start()
    workers = processor_pids(proc)
    assert len(workers) == 2

    def nice(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])

    wait_until(lambda: sorted(nice(w) - nice(proc.pids()[0]) for w in workers) == [0, 5], 10,
               interval=0.01, message=lambda: f"processors at nice {[nice(w) for w in workers]}")
    arriving = numbered_mails("arriving", 20)
    for raw in arriving.values():
        assert send_once(proc.port, raw) == 250
    wait_drained(proc, 30)
    stored = stored_message_ids(db)
    assert set(stored) == {*backlog, *arriving}
    assert [m for m, n in stored.items() if n != 1] == []
    assert proc.terminate()[0] == 0
    assert_acknowledged_once(tmp_path)


def test_killed_sender_process_is_replaced_and_every_ack_written_once(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """kill -9 of the sender process while acknowledgements go out: the daemon starts a
    new one with the dead one's claims released; every ack ends up in the folder, once,
    and the sender runs at a lower CPU priority than the daemon (intake goes first)."""
    proc = subprocess_daemon(daemons, tmp_path)
    proc.start()
    [sender] = proc.children("sender")

    def nice(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])

    wait_until(lambda: nice(sender) == nice(proc.pids()[0]) + 10, 10, interval=0.01,
               message=lambda: f"sender at nice {nice(sender)}")
    mails = numbered_mails("sent", 40)
    for raw in mails.values():
        assert send_once(proc.port, raw) == 250
    os.kill(sender, signal.SIGKILL)
    wait_drained(proc, 20)
    wait_until(lambda: len(proc.children("sender")) == 1
               and proc.children("sender") != [sender], 10,
               message="no new sender process was started")
    outbox = tmp_path / "var" / "outbox"
    wait_until(lambda: query(db_of(tmp_path), "SELECT count(*) FROM outbox"
                                              " WHERE state != 'sent'")[0][0] == 0, 20,
               message="acknowledgements still unsent")
    acks = sorted(outbox.glob("*.eml"))
    assert len(acks) == len(mails)  # one file per ack: its outbox id is the name
    replied = sorted(m for ack in acks for m in mails if m.encode() in ack.read_bytes())
    assert replied == sorted(mails)
    assert "sender_died" in proc.log(tail=None)
    assert proc.terminate()[0] == 0


def test_kill_while_sending_repeats_at_most_one_mail_per_connection(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """kill -9 of the daemon while its sender hands acknowledgements to a slow smarthost
    (50 ms a DATA): restarted at once, with the default 5-minute lease, it frees the dead
    sender's claims and every ack reaches the smarthost within 10 s; the ones that reached
    it twice are at most the smarthost connections open at the kill (4)."""
    relay_port = free_port()
    handler = RelayHandler(delay=0.05)
    with Relay(relay_port, handler):
        proc = subprocess_daemon(daemons, tmp_path, {"outbound": {
            "mode": "smtp", "host": "127.0.0.1", "port": relay_port, "timeout": "5s"}})
        proc.start()
        mails = numbered_mails("slow", 60)
        for raw in mails.values():
            assert send_once(proc.port, raw) == 250
        wait_until(lambda: len(handler.delivered()) >= 12, 30, interval=0.01,
                   message="the smarthost got too few acks before the kill")
        proc.kill()
        proc.start()
        db = db_of(tmp_path)
        acks = {r[0] for r in query(db, "SELECT message_id FROM outbox WHERE kind = 'ack'")}
        assert len(acks) == len(mails)
        wait_until(lambda: {d.message_id for d in handler.delivered()} >= acks, 10,
                   interval=0.05, message=lambda: "acks still missing after the restart: "
                   f"{query(db, 'SELECT state, claimed_by, COUNT(*) FROM outbox GROUP BY 1, 2')}"
                   f"\n{proc.log(tail=3000)}")
        twice = [m for m, n in Counter(d.message_id for d in handler.delivered()).items()
                 if n > 1]
        assert len(twice) <= SMTP_CONCURRENCY, twice
        assert proc.terminate()[0] == 0


def test_killed_processor_delays_no_ack_and_repeats_none(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """kill -9 of the processor process alone while acks go to a slow smarthost (50 ms a
    DATA): its claimed mail is taken up by the replacement at once (not after the 5-minute
    lease), every ack reaches the smarthost within 10 s, and none twice (the sender, which
    holds the outbox claims, lives on)."""
    relay_port = free_port()
    handler = RelayHandler(delay=0.05)
    with Relay(relay_port, handler):
        proc = subprocess_daemon(daemons, tmp_path, {"outbound": {
            "mode": "smtp", "host": "127.0.0.1", "port": relay_port, "timeout": "5s"}})
        db = db_of(tmp_path)
        mails = numbered_mails("proc", 30)
        [first, *_] = spool_directly(db, [slow_mail(1), *mails.values()])
        proc.start()
        wait_until(lambda: claimed_by(db, proc, first), 10, interval=0.005,
                   message="no processor process claimed the first mail")
        [worker] = processor_pids(proc)
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: len({d.message_id for d in handler.delivered()}) == len(mails) + 1,
                   10, interval=0.05, message=lambda: "acks missing 10 s after the kill: "
                   f"{backlog(db)}\n{proc.log(tail=3000)}")
        assert time.monotonic() - killed_at < 10
        acks = {r[0] for r in query(db, "SELECT message_id FROM outbox WHERE kind = 'ack'")}
        delivered = Counter(d.message_id for d in handler.delivered())
        assert set(delivered) == acks
        assert [m for m, n in delivered.items() if n > 1] == []
        assert proc.terminate()[0] == 0


REMINDER_SLA = {"sla": {"team_address": "team@example.com", "default_level": "standard",
                        "levels": {"standard": {"first_response": "1h",
                                                "reminders": [0.5, 1.0]}}}}


def subject_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=policy.default)["Subject"])


def reminder_states(db: Path) -> dict[str, int]:
    return dict(query(db, "SELECT CASE WHEN state = 'pending' AND claimed_by IS NOT NULL"
                          " THEN 'claimed' ELSE state END, COUNT(*) FROM reminders GROUP BY 1"))


def test_kill_while_reminders_fire_sends_each_once_soon_after_restart(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """kill -9 of the daemon while it fires a backlog of SLA reminders (due while it was
    down): restarted at once, it frees its predecessor's claims (held for 2 minutes
    otherwise), every reminder is sent within 10 s, and each exactly once (a reminder is
    queued and marked sent in one transaction)."""
    proc = subprocess_daemon(daemons, tmp_path, REMINDER_SLA)
    db = db_of(tmp_path)
    spool_directly(db, list(numbered_mails("sla", 150).values()))
    proc.start()
    wait_drained(proc, 60)
    assert proc.terminate()[0] == 0
    with sqlite3.connect(db) as con:  # the daemon was down for the whole first response
        con.execute("UPDATE reminders SET fire_at = '2000-01-01T00:00:00.000000+00:00'"
                    " WHERE state = 'pending'")
    total = sum(reminder_states(db).values())
    assert total == 300
    for _attempt in range(5):  # until the kill catches claimed, unsent reminders
        proc.start()
        wait_until(lambda: reminder_states(db).get("sent", 0) > 0, 10, interval=0.002,
                   message=lambda: f"no reminder fired: {reminder_states(db)}")
        proc.kill()
        if reminder_states(db).get("claimed"):
            break
    states = reminder_states(db)
    assert states.get("claimed") and states["sent"] < total, states
    proc.start()
    wait_until(lambda: reminder_states(db).get("sent") == total, 10, interval=0.05,
               message=lambda: f"reminders unsent 10 s after the restart: {reminder_states(db)}"
               f"\n{proc.log(tail=6000)}")
    sent = Counter((ticket, "breached" in str(subject_of(bytes(raw)))) for ticket, raw in
                   query(db, "SELECT ticket_id, raw FROM outbox WHERE kind = 'reminder'"))
    assert len(sent) == total // 2 * 2 and set(sent.values()) == {1}  # 50 % and 100 %, once
    assert proc.terminate()[0] == 0


def test_ingest_beside_a_running_daemon_hands_the_mail_to_it(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """With `mailgate serve` up, `mailgate ingest` stores the mail durably, wakes the
    daemon (SIGUSR1) and exits 0 without processing the mail itself; the daemon, which here
    looks at the spool on its own only every 60 s, makes the ticket and the ack at once."""
    proc = subprocess_daemon(daemons, tmp_path, {"processing": {"poll_interval": "60s"},
                                                 "logging": {"level": "info"}})
    proc.start()
    [(mid, raw)] = numbered_mails("piped", 1).items()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mailgate", "ingest", "-c", str(proc.config_path), "-f",
         "customer@example.org"], input=raw, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    wait_drained(proc, 20)
    assert time.monotonic() - started < 30  # not the 60 s poll
    assert stored_message_ids(db_of(tmp_path)) == Counter({mid: 1})
    assert_acknowledged_once(tmp_path)
    # the config's log file is the daemon's and ingest's: the line names who processed it
    lines = [json.loads(x) for x in proc.log(tail=None).splitlines()
             if '"message_processed"' in x]
    [worker] = proc.children("processor")
    assert [line["node"].split(":")[1] for line in lines] == [str(worker)], lines
    assert proc.running and proc.terminate()[0] == 0


def test_reload_restarts_processor_processes_with_the_new_templates(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """After `mailgate reload`, acknowledgements use the edited template."""
    proc = subprocess_daemon(daemons, tmp_path)
    proc.start()
    template = tmp_path / "templates" / "ack.txt.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\nReloaded ack marker.\n",
                        encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mailgate", "reload", "-c",
                             str(proc.config_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert send_once(proc.port, *numbered_mails("reloaded", 1).values()) == 250
    wait_drained(proc, 20)
    [raw] = [bytes(r[0]) for r in query(db_of(tmp_path),
                                        "SELECT raw FROM outbox WHERE kind = 'ack'")]
    assert b"Reloaded ack marker." in raw
    assert proc.terminate()[0] == 0


def test_quickstart_serve_without_a_config_file(tmp_path: Path) -> None:
    """`mailgate serve` in an empty folder (the README's first command) runs on its defaults:
    its processor process starts too, and a mail gets a ticket and an acknowledgement file."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8025)) != 0, "port 8025 is taken: cannot test"
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "mailgate", "serve"], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_until(lambda: proc.poll() is not None or smtp_ready(8025), 20,
                   message=lambda: (tmp_path / "serve.log").read_text())
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        [(mid, raw)] = numbered_mails("quickstart", 1).items()
        with smtplib.SMTP("127.0.0.1", 8025, timeout=10) as client:
            client.sendmail("customer@example.org", ["support@localhost"], raw)
        outbox = tmp_path / "var" / "outbox"
        wait_until(lambda: outbox.is_dir() and any(outbox.glob("*.eml")), 20,
                   message=lambda: (tmp_path / "serve.log").read_text())
        [ack] = list(outbox.glob("*.eml"))
        assert mid.encode() in ack.read_bytes()  # In-Reply-To: the customer's mail
        assert "processor_died" not in (tmp_path / "serve.log").read_text()
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
        log.close()
