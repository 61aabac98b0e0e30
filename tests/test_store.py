"""The store's promises, checked on both backends: SQLite (one writer) and PostgreSQL
(several nodes writing at once).

Each test gets ``open_db``: a function that opens a new connection (a new ``Store``) to
one fresh database, so a test can play two nodes. Time is passed in explicitly (leases
expire because the test says "later", not because it waited).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mailgate import clock
from mailgate.clock import from_db
from mailgate.errors import SchemaError, StoreError
from mailgate.store import DuplicateMessageError, IntegrityViolation, Store, Ticket
from mailgate.store import schema as schema_module
from tests.conftest import sqlite_only
from tests.pgserver import PgServer
from tests.support import wait_until

Opener = Callable[[], Store]
REF = "SUP-{:06d}".format


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens connections to one fresh database of the backend under test."""
    opened: list[Store] = []
    if backend == "sqlite":
        path = tmp_path / "mailgate.db"

        def opener() -> Store:
            opened.append(Store.open(path, busy_timeout=5))
            return opened[-1]
    else:
        from mailgate.store.postgres import PgStore

        server = request.getfixturevalue("pg_server")
        url = server.database()

        def opener() -> Store:
            opened.append(PgStore.open_url(url, password=server.password, busy_timeout=5))
            return opened[-1]
    yield opener
    for store in opened:
        store.close()


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Run ``fn`` in a thread; its result (or exception) lands in the returned dict."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def spool(store: Store, count: int) -> list[int]:
    with store.transaction():
        return [store.spool_add(f"mail {n}".encode(), channel="smtp", received_at=clock.now(),
                                mail_from="a@example.org", rcpt_tos=["support@example.com"])
                for n in range(count)]


def new_ticket(store: Store, subject: str = "Printer broken") -> int:
    with store.transaction():
        return store.create_ticket(reference_of=REF, status="open", subject=subject,
                                   requester="a@example.org", requester_name=None,
                                   sla_level=None, first_response_due=None,
                                   now=clock.now()).id


# -- spool ------------------------------------------------------------------------------------


def test_spool_add_claim_finish(open_db: Opener) -> None:
    """Spooled mail is claimed oldest first with an attempt counted, and finished for good."""
    store = open_db()
    ids = spool(store, 3)
    now = clock.now()
    claimed = store.spool_claim("node-a", now, now + timedelta(minutes=1), 2)
    assert [c.id for c in claimed] == ids[:2]
    assert [c.attempts for c in claimed] == [1, 1]
    assert claimed[0].rcpt_tos == ["support@example.com"]
    assert store.spool_raw(ids[0]) == b"mail 0"
    with store.transaction():
        store.spool_finish(ids[0], state="done", now=now, message_id="<m0@x>")
    assert store.spool_state(ids[0]) == "done"
    # The rest of the lease-held batch is not claimable; the third row is.
    assert [c.id for c in store.spool_claim("node-a", now, now, 10)] == [ids[2]]
    assert store.spool_counts() == {"done": 1, "new": 2}


def test_claim_lease_expires_and_another_node_takes_over(open_db: Opener) -> None:
    """A node that dies holding mail delays it only until its lease ends; then another takes it."""
    a, b = open_db(), open_db()
    [spool_id] = spool(a, 1)
    now = clock.now()
    assert [c.id for c in a.spool_claim("node-a", now, now + timedelta(minutes=5), 10)] == \
        [spool_id]
    assert b.spool_claim("node-b", now + timedelta(minutes=1), now, 10) == []
    later = now + timedelta(minutes=6)
    [taken] = b.spool_claim("node-b", later, later + timedelta(minutes=5), 10)
    assert (taken.id, taken.attempts) == (spool_id, 2)
    assert a.claimants() == {"node-b"}


def test_mail_whose_claim_ran_out_is_claimed_alone(open_db: Opener) -> None:
    """A mail claimed before and never finished (its processor crashed on it, or hung past
    the lease) is claimed alone next time, so that it is charged only for its own
    attempts; the mail behind it is claimed together again once it is done."""
    a, b = open_db(), open_db()
    ids = spool(a, 4)
    now = clock.now()
    assert len(a.spool_claim("node-a", now, now + timedelta(minutes=5), 2)) == 2
    with a.transaction():
        a.spool_finish(ids[1], state="done", now=now)
    later = now + timedelta(minutes=6)
    [alone] = b.spool_claim("node-b", later, later + timedelta(minutes=5), 10)
    assert (alone.id, alone.attempts) == (ids[0], 2)
    with b.transaction():
        b.spool_finish(ids[0], state="done", now=later)
    rest = b.spool_claim("node-b", later, later + timedelta(minutes=5), 10)
    assert [(c.id, c.attempts) for c in rest] == [(ids[2], 1), (ids[3], 1)]
    assert b.spool_claim("node-b", later, later, 10) == []


def test_clean_shutdown_gives_claims_back_uncharged(open_db: Opener) -> None:
    """Mail a stopping node held is claimable at once by another, its attempt not counted."""
    a, b = open_db(), open_db()
    spool(a, 2)
    now = clock.now()
    assert len(a.spool_claim("node-a", now, now + timedelta(hours=1), 10)) == 2
    a.spool_release("node-a")
    assert [c.attempts for c in b.spool_claim("node-b", now, now + timedelta(hours=1), 10)] \
        == [1, 1]


def test_two_nodes_claiming_at_once_get_disjoint_mail(open_db: Opener, backend: str) -> None:
    """Two nodes claiming at the same instant never get the same mail (PostgreSQL: no waiting)."""
    a, b = open_db(), open_db()
    ids = spool(a, 6)
    now = clock.now()
    lease = now + timedelta(minutes=5)
    with a.transaction():  # node a's claim transaction is still open when b claims
        mine = a.spool_claim("node-a", now, lease, 3)
        thread, out = in_thread(lambda: b.spool_claim("node-b", now, lease, 10))
        if backend == "postgresql":  # SKIP LOCKED: b takes the other rows without waiting
            thread.join(10)
            assert not thread.is_alive(), "node b waited for node a's claim"
    thread.join(10)
    assert "error" not in out, out
    theirs = out["result"]
    assert isinstance(theirs, list)
    assert [c.id for c in mine] == ids[:3]
    assert sorted(c.id for c in theirs) == ids[3:]


def test_quarantine_and_requeue(open_db: Opener) -> None:
    """A quarantined message is listed with its reason and can be queued again."""
    store = open_db()
    [spool_id] = spool(store, 1)
    with store.transaction():
        store.spool_finish(spool_id, state="quarantined", now=clock.now(), reason="bad MIME")
    assert [(q["id"], q["reason"]) for q in store.quarantine()] == [(spool_id, "bad MIME")]
    store.spool_requeue(spool_id)
    assert store.spool_state(spool_id) == "new"


# -- tickets and messages ------------------------------------------------------------------


def test_ticket_references_come_from_the_sequence(open_db: Opener) -> None:
    """Ticket numbers follow the id sequence, also when two nodes create tickets at once."""
    a, b = open_db(), open_db()
    first = new_ticket(a)
    with a.transaction():
        mine = a.create_ticket(reference_of=REF, status="open", subject="mine",
                               requester="a@example.org", requester_name=None, sla_level=None,
                               first_response_due=None, now=clock.now())
        thread, out = in_thread(lambda: new_ticket(b, "theirs"))
        thread.join(0.5)  # PostgreSQL: done already; SQLite: waits for a's commit
    thread.join(10)
    assert "error" not in out, out
    theirs = b.ticket(int(out["result"]))  # type: ignore[call-overload]
    assert len({first, mine.id, theirs.id}) == 3
    for ticket in (a.ticket(first), a.ticket(mine.id), theirs):
        assert ticket.reference == REF(ticket.id)
        assert a.ticket_by_reference(ticket.reference.lower()).id == ticket.id


def test_new_ticket_is_written_whole_and_returned_as_read_back(open_db: Opener) -> None:
    """A ticket is created with its deadlines and plain columns in one go; what
    create_ticket returns is what reading it gives, and numbers go on after a rollback."""
    store = open_db()
    now = datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=1)))
    due = now + timedelta(hours=8)
    with store.transaction():
        made = store.create_ticket(reference_of=REF, status="open", subject="Disk full",
                                   requester="a@example.org", requester_name="Ann",
                                   sla_level="gold", now=now, first_response_due=due,
                                   resolution_due=due + timedelta(days=1), category="incident",
                                   priority="high", queue="ops", language="sv")
    assert made == store.ticket(made.id)
    assert made.first_response_due == due and made.created_at == now
    record = store.ticket_record(made.id)
    assert (record["category"], record["priority"], record["queue"], record["language"]) == \
        ("incident", "high", "ops", "sv")
    assert from_db(record["resolution_due"]) == due + timedelta(days=1)
    assert (made.category, made.priority, made.queue, made.language, made.resolution_due,
            made.assignee, made.fields, made.time_spent) == \
        ("incident", "high", "ops", "sv", due + timedelta(days=1), None, {}, 0)
    assert set(record) == {f.name for f in dataclasses.fields(Ticket)}  # every column typed
    assert hash(made) == hash(store.ticket(made.id))
    with pytest.raises(RuntimeError), store.transaction():
        store.create_ticket(reference_of=REF, status="open", subject="rolled back",
                            requester="a@example.org", requester_name=None, sla_level=None,
                            now=now)
        raise RuntimeError("crash")
    after = new_ticket(store)
    assert store.ticket(after).reference == REF(after)
    with pytest.raises(ValueError, match="not a ticket column"), store.transaction():
        store.create_ticket(reference_of=REF, status="open", subject="x", requester="a@b.c",
                            requester_name=None, sla_level=None, now=now, colour="red")


def test_same_message_id_is_stored_once(open_db: Opener) -> None:
    """A replayed Message-ID is refused without spoiling the rest of the transaction."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        store.add_message(ticket_id=ticket_id, message_id="<same@x>", direction="in",
                          kind="customer", now=now, body_text="first")
        with pytest.raises(DuplicateMessageError):
            store.add_message(ticket_id=ticket_id, message_id="<same@x>", direction="in",
                              kind="customer", now=now, body_text="second")
        store.add_event(ticket_id, "noted", actor="test", now=now)  # the transaction goes on
    assert [m["body_text"] for m in store.messages(ticket_id)] == ["first"]
    assert store.message_exists("<same@x>") == (ticket_id, "in")
    assert [e["kind"] for e in store.events(ticket_id)] == ["noted"]


def test_references_of_a_long_ticket_keep_its_first_message(open_db: Opener) -> None:
    """Our mail on a ticket of many messages names the first one (the customer's report,
    the thread's root) and the latest ones in References: mail clients keep it all in one
    thread (RFC 5322 3.6.4), however long the ticket grows."""
    store = open_db()
    ticket_id = new_ticket(store)
    with store.transaction():
        for n in range(30):
            store.add_message(ticket_id=ticket_id, message_id=f"<m{n}@x>", direction="in",
                              kind="customer", now=clock.now(), body_text=f"message {n}")
    refs = store.thread_ids(ticket_id)
    assert refs == ["<m0@x>", *[f"<m{n}@x>" for n in range(11, 30)]]
    short = new_ticket(store, "Short one")
    with store.transaction():
        store.add_message(ticket_id=short, message_id="<s0@x>", direction="in",
                          kind="customer", now=clock.now(), body_text="only one")
    assert store.thread_ids(short) == ["<s0@x>"]


def test_same_message_id_from_two_nodes_at_once(open_db: Opener) -> None:
    """Two nodes storing the same Message-ID at the same instant: one wins, the other is told."""
    a, b = open_db(), open_db()
    ticket_a, ticket_b = new_ticket(a), new_ticket(b)
    now = clock.now()

    def other_node() -> int:
        with b.transaction():
            return b.add_message(ticket_id=ticket_b, message_id="<race@x>", direction="in",
                                 kind="customer", now=now)

    with a.transaction():
        a.add_message(ticket_id=ticket_a, message_id="<race@x>", direction="in",
                      kind="customer", now=now)
        thread, out = in_thread(other_node)  # waits for a's commit on either backend
        thread.join(0.3)
        assert thread.is_alive(), "node b decided before node a committed"
    thread.join(10)
    assert isinstance(out.get("error"), DuplicateMessageError), out
    assert a.message_exists("<race@x>") == (ticket_a, "in")
    assert a.messages(ticket_b) == []


def test_ticket_read_in_a_transaction_holds_it_until_commit(open_db: Opener) -> None:
    """Work on one ticket from two nodes is serialised: the second sees the first's change."""
    a, b = open_db(), open_db()
    ticket_id = new_ticket(a)
    now = clock.now()

    def other_node() -> str:
        with b.transaction():
            status = b.ticket(ticket_id).status
            b.touch_ticket(ticket_id, now, status="in_progress")
            return status

    with a.transaction():
        a.ticket(ticket_id)
        thread, out = in_thread(other_node)
        thread.join(0.3)
        assert thread.is_alive(), "node b read the ticket node a is changing"
        a.touch_ticket(ticket_id, now, status="closed")
    thread.join(10)
    assert out.get("result") == "closed", out
    assert a.ticket(ticket_id).status == "in_progress"


def test_savepoint_rolls_back_only_its_part(open_db: Opener) -> None:
    """A failed step inside a savepoint, even a refused write, leaves the rest to commit."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        store.add_event(ticket_id, "kept", actor="test", now=now)
        with pytest.raises(RuntimeError), store.savepoint("step"):
            store.add_event(ticket_id, "undone", actor="test", now=now)
            raise RuntimeError("command failed")
        with pytest.raises(IntegrityViolation), store.savepoint("step"):
            store.add_event(ticket_id + 1000, "no such ticket", actor="test", now=now)
        store.add_event(ticket_id, "after", actor="test", now=now)
    assert [e["kind"] for e in store.events(ticket_id)] == ["kept", "after"]


def test_participants_attachments_and_fields(open_db: Opener) -> None:
    """Participants are added once, equal attachments stored once, custom fields kept."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        assert store.add_participant(ticket_id, "Bob@Example.org", "Bob", "participant", now)
        assert not store.add_participant(ticket_id, "bob@example.org", "Bob", "participant", now)
        row = store.add_message(ticket_id=ticket_id, message_id="<att@x>", direction="in",
                                kind="customer", now=now, body_text="nul\x00byte")
        for name in ("a.bin", "b.bin"):
            store.add_attachment(message_row=row, filename=name, content_type="x/y",
                                 data=b"\x00\x01", sha256="abc")
        store.set_ticket_fields(ticket_id, {"version": "8.3.1"}, now)
        assert store.add_time(ticket_id, 15) == 15
    assert store.is_participant(ticket_id, "BOB@example.org")
    assert [a["filename"] for a in store.attachments(row)] == ["a.bin", "b.bin"]
    assert store.ticket_record(ticket_id)["fields"] == '{"version": "8.3.1"}'
    ticket = store.ticket(ticket_id)
    assert (ticket.fields, ticket.time_spent) == ({"version": "8.3.1"}, 15)
    assert store.messages(ticket_id)[0]["body_text"].startswith("nul")


def test_ticket_attachments_are_numbered_across_its_messages(open_db: Opener) -> None:
    """Files are numbered in the order of the ticket's messages (``mailgate attachment REF
    N``), and their bytes read back exactly."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        for mid, names in (("<first@x>", ["a.png", "b.pdf"]), ("<second@x>", ["c.log"])):
            row = store.add_message(ticket_id=ticket_id, message_id=mid, direction="in",
                                    kind="customer", now=now)
            for name in names:
                data = name.encode() + b"\x00\xff"
                store.add_attachment(message_row=row, filename=name, content_type="x/y",
                                     data=data, sha256=f"sha-{name}")
    found = store.ticket_attachments(ticket_id)
    assert [(a["number"], a["filename"], a["message_id"]) for a in found] == [
        (1, "a.png", "<first@x>"), (2, "b.pdf", "<first@x>"), (3, "c.log", "<second@x>")]
    assert store.blob(found[2]["sha256"]) == b"c.log\x00\xff"
    assert store.blob("no-such-hash") is None


def test_alert_key_decided_by_one_node_at_a_time(open_db: Opener) -> None:
    """Two nodes asking for the open ticket of one alert key at once: the second waits."""
    a, b = open_db(), open_db()
    now = clock.now()

    def other_node() -> int | None:
        with b.transaction():
            return b.open_ticket_by_key("disk:web1")

    with a.transaction():
        assert a.open_ticket_by_key("disk:web1") is None
        thread, out = in_thread(other_node)
        thread.join(0.3)
        assert thread.is_alive(), "node b decided while node a was creating the ticket"
        ticket = a.create_ticket(reference_of=REF, status="open", subject="disk full",
                                 requester="nagios@example.org", requester_name=None,
                                 sla_level=None, first_response_due=None, now=now)
        a.touch_ticket(ticket.id, now, correlation_key="disk:web1")
    thread.join(10)
    assert out.get("result") == ticket.id, out
    assert a.ticket(ticket.id).correlation_key == "disk:web1"


# -- outbox -----------------------------------------------------------------------------------


def queue_mail(store: Store, ticket_id: int | None, n: int) -> int:
    with store.transaction():
        return store.outbox_add(ticket_id=ticket_id, message_id=f"<out-{n}@x>", kind="ack",
                                mail_from="support@example.com", rcpt_tos=["a@example.org"],
                                raw=b"mail", now=clock.now())


def test_outbox_keeps_order_within_a_ticket(open_db: Opener) -> None:
    """A ticket's second mail waits for its first, on every node; other tickets' mail goes on."""
    a, b = open_db(), open_db()
    t1, t2 = new_ticket(a), new_ticket(a)
    first, second, other = queue_mail(a, t1, 1), queue_mail(a, t1, 2), queue_mail(a, t2, 3)
    now = clock.now()
    lease = now + timedelta(minutes=5)
    assert [i.id for i in a.outbox_claim("node-a", now, lease, 10)] == [first, other]
    assert b.outbox_claim("node-b", now, lease, 10) == []
    a.outbox_done(first, state="sent", now=now)
    assert [i.id for i in b.outbox_claim("node-b", now, lease, 10)] == [second]
    b.outbox_done(second, state="sent", now=now)
    later = now + timedelta(minutes=6)  # node a died holding `other`: b takes it after the lease
    [taken] = b.outbox_claim("node-b", later, later + timedelta(minutes=5), 10)
    assert (taken.id, taken.attempts) == (other, 2)


def test_outbox_order_holds_only_among_mail_to_the_same_recipients(open_db: Opener) -> None:
    """A ticket's mail to the team does not wait behind its mail to the customer."""
    a, b = open_db(), open_db()
    ticket = new_ticket(a)
    to_customer = queue_mail(a, ticket, 1)
    with a.transaction():
        to_team = a.outbox_add(ticket_id=ticket, message_id="<out-2@x>", kind="notification",
                               mail_from="support@example.com", rcpt_tos=["team@example.com"],
                               raw=b"mail", now=clock.now())
    again = queue_mail(a, ticket, 3)
    now = clock.now()
    lease = now + timedelta(minutes=5)
    assert [i.id for i in a.outbox_claim("node-a", now, lease, 10)] == [to_customer, to_team]
    assert b.outbox_claim("node-b", now, lease, 10) == []  # `again` waits for the first
    a.outbox_done(to_customer, state="sent", now=now)
    assert [i.id for i in b.outbox_claim("node-b", now, lease, 10)] == [again]


def test_outbox_claim_lost_to_another_node_is_neither_renewed_nor_recorded(
        open_db: Opener) -> None:
    """Node a's lease ran out and node b took the row: a may not send it (no renewal) nor
    record a result over b's; b records it."""
    a, b = open_db(), open_db()
    mail = queue_mail(a, new_ticket(a), 1)
    now = clock.now()
    [taken] = a.outbox_claim("node-a", now, now + timedelta(seconds=1), 10)
    assert a.outbox_hold(mail, "node-a", now + timedelta(seconds=2))  # renewed while held
    later = now + timedelta(seconds=3)
    [again] = b.outbox_claim("node-b", later, later + timedelta(minutes=5), 10)
    assert taken.id == again.id == mail
    assert not a.outbox_hold(mail, "node-a", later + timedelta(minutes=5))
    assert not a.outbox_done(mail, state="failed", now=later, error="late", node="node-a")
    assert b.outbox_done(mail, state="sent", now=later, node="node-b")
    [row] = b.outbox(("sent", "failed", "pending"))
    assert (row["state"], row["last_error"]) == ("sent", None)
    assert not b.outbox_hold(mail, "node-b", later)  # done: nothing to hold


def test_outbox_mail_sent_without_its_files_keeps_the_smaller_bytes(open_db: Opener) -> None:
    """What a retry sends after the files were taken out; an erased mail stays erased."""
    store = open_db()
    kept, erased = queue_mail(store, None, 1), queue_mail(store, None, 2)
    with store.transaction():
        store.outbox_replace_raw(kept, b"smaller")
        store.outbox_replace_raw(erased, b"")
        store.outbox_replace_raw(erased, b"back again")
    assert store.outbox_raws([kept, erased]) == {kept: b"smaller", erased: b""}


def test_outbox_retry_and_listing(open_db: Opener) -> None:
    """Failed mail is listed with its error and made due again by a retry."""
    store = open_db()
    ticket_id = new_ticket(store)
    outbox_id = queue_mail(store, ticket_id, 1)
    store.outbox_done(outbox_id, state="failed", now=clock.now(), error="550 no such user")
    [row] = store.outbox()
    assert (row["id"], row["state"], row["last_error"], row["to"]) == \
        (outbox_id, "failed", "550 no such user", ["a@example.org"])
    assert store.outbox_retry(None, clock.now()) == 1
    assert store.outbox(("pending",))[0]["id"] == outbox_id


def test_outbox_retry_all_makes_mail_waiting_in_backoff_due_now(open_db: Opener) -> None:
    """After the smarthost is fixed, `mailgate outbox retry --all` sends what waits in backoff
    at once and counts it (it said "0 message(s) due again" and the mail waited up to an
    hour); a mail a worker is sending right now is left to that worker, not sent twice."""
    store = open_db()
    waiting, failed, sending = (queue_mail(store, new_ticket(store), n) for n in (1, 2, 3))
    now = clock.now()
    assert sorted(i.id for i in store.outbox_claim("node-a", now, now + timedelta(minutes=5),
                                                   10)) == [waiting, failed, sending]
    store.outbox_done(waiting, state="pending", now=now, error="connection refused",
                      next_attempt_at=now + timedelta(hours=1), node="node-a")
    store.outbox_done(failed, state="failed", now=now, error="550 no such user", node="node-a")
    assert store.outbox_claim("node-b", now, now + timedelta(minutes=5), 10) == []
    assert store.outbox_retry(None, now) == 2
    assert sorted(i.id for i in store.outbox_claim("node-b", now, now + timedelta(minutes=5),
                                                   10)) == [waiting, failed]


def test_dismissed_failed_mail_no_longer_counts_as_failed(open_db: Opener) -> None:
    """A mail to a mistyped address fails for good: `mailgate outbox dismiss` gives up on it,
    so /healthz is `ok` again instead of degraded for ever; pending mail is never dismissed."""
    from mailgate.store.ops import health_snapshot

    store = open_db()
    ticket_id = new_ticket(store)
    failed, pending = queue_mail(store, ticket_id, 1), queue_mail(store, ticket_id, 2)
    store.outbox_done(failed, state="failed", now=clock.now(), error="550 no such user")
    assert health_snapshot(store)["outbox_failed"] == 1
    assert store.outbox_dismiss(pending, "by hand") == 0
    assert store.outbox_dismiss(None, "dismissed by an operator") == 1
    assert health_snapshot(store)["outbox_failed"] == 0
    [row] = [r for r in store.outbox(("cancelled",)) if r["id"] == failed]
    assert row["last_error"] == "dismissed by an operator"
    assert [r["id"] for r in store.outbox(("pending",))] == [pending]



def test_outbox_last_error_is_the_reason_mail_still_waits(open_db: Opener) -> None:
    """/healthz shows why mail waits: the error of the pending row deferred last; none once
    that mail went out."""
    store = open_db()
    ticket_id = new_ticket(store)
    first, second = queue_mail(store, ticket_id, 1), queue_mail(store, ticket_id, 2)
    assert store.outbox_last_error() is None
    now = clock.now()
    store.outbox_done(first, state="pending", now=now, error="old: connection refused",
                      next_attempt_at=now + timedelta(seconds=30))
    store.outbox_done(second, state="pending", now=now, error="new: folder gone",
                      next_attempt_at=now + timedelta(seconds=60))
    assert store.outbox_last_error() == "new: folder gone"
    store.outbox_done(second, state="sent", now=now)
    assert store.outbox_last_error() == "old: connection refused"
    store.outbox_done(first, state="sent", now=now)
    assert store.outbox_last_error() is None


# -- reminders --------------------------------------------------------------------------------


def test_reminders_are_claimed_once_across_nodes(open_db: Opener) -> None:
    """Due reminders claimed by two nodes at the same moment go to exactly one of them."""
    a, b = open_db(), open_db()
    ticket_id = new_ticket(a)
    now = clock.now()
    with a.transaction():
        for n in range(6):
            a.add_reminder(ticket_id, "first_response", 0.5 + n / 10, now - timedelta(minutes=n),
                           now + timedelta(hours=1))
    lease = now + timedelta(minutes=2)
    with a.transaction():
        mine = a.claim_reminders("node-a", now, lease, limit=3)
        thread, out = in_thread(lambda: b.claim_reminders("node-b", now, lease))
        thread.join(0.5)
    thread.join(10)
    assert "error" not in out, out
    theirs = out["result"]
    assert isinstance(theirs, list)
    ids = [r["id"] for r in mine] + [r["id"] for r in theirs]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 6
    assert mine[0]["point"] == 1.0  # the oldest first
    # Points read back exactly: they are compared with the plan when it is rewritten.
    assert sorted(r["point"] for r in [*mine, *theirs]) == [0.5 + n / 10 for n in range(6)]
    with a.transaction():
        assert a.finish_reminder(mine[0]["id"], "sent", now)
        assert not a.finish_reminder(mine[0]["id"], "sent", now)
    assert b.next_reminder_at() is not None


def test_a_new_rating_replaces_the_ticket_s_rating(open_db: Opener) -> None:
    """The latest rating of a ticket counts (an upsert on both backends); counts per rating
    and the tickets asked come back for the report."""
    store = open_db()
    first, second = new_ticket(store), new_ticket(store, "Scanner jams")
    now = clock.now()
    with store.transaction():
        for ticket_id in (first, second):
            store.add_event(ticket_id, "rating_requested", actor="mailgate", now=now)
        store.set_rating(first, 2, how="digit", now=now, message_id="<a@x>")
        store.set_rating(first, 4, how="token", now=now + timedelta(minutes=5))
    assert store.rating(first)["rating"] == 4  # type: ignore[index]
    assert store.rating(first)["how"] == "token"  # type: ignore[index]
    assert store.rating(second) is None and store.rating_requested(second)
    assert store.rating_counts() == {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}
    assert store.ratings_requested() == 2


def test_clock_values_read_back_exactly(open_db: Opener) -> None:
    """SLA clock instants and paused seconds come back as they were saved."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        store.save_clock(ticket_id, "resolution", started_at=now, paused_seconds=0.1,
                         state="running", due_at=now + timedelta(hours=8))
        store.save_clock(ticket_id, "resolution", paused_seconds=1.7)
    saved = store.clock(ticket_id, "resolution")
    assert saved is not None
    assert (saved["started_at"], saved["paused_seconds"], saved["due_at"]) == \
        (now, 1.7, now + timedelta(hours=8))
    assert store.open_clocks() == [(ticket_id, "resolution")]


# -- IMAP account leases ----------------------------------------------------------------------


def test_imap_lease_is_held_renewed_and_taken_over_after_expiry(open_db: Opener) -> None:
    """One node holds an account's lease and renews it; another gets it only once it ran out."""
    a, b = open_db(), open_db()
    now = clock.now()
    minute = timedelta(minutes=1)
    assert a.imap_lease_take("desk", "node-a", now, now + minute) == "node-a"
    assert b.imap_lease_take("desk", "node-b", now, now + minute) == "node-a"
    later = now + timedelta(seconds=20)
    assert a.imap_lease_take("desk", "node-a", later, later + minute) == "node-a"  # renewed
    assert b.imap_lease_take("desk", "node-b", now + minute, now + 2 * minute) == "node-a"
    assert a.imap_lease_take("other", "node-a", now, now + minute) == "node-a"  # per account
    [desk, _other] = b.imap_leases()
    assert desk == {"account": "desk", "holder": "node-a", "lease_until": later + minute,
                    "acquired_at": now, "renewed_at": later}
    # node a stops renewing (killed): node b takes over once the lease has run out
    expired = later + minute + timedelta(microseconds=1)
    assert b.imap_lease_take("desk", "node-b", expired, expired + minute) == "node-b"
    assert a.imap_lease_take("desk", "node-a", expired, expired + minute) == "node-b"  # lost
    assert a.imap_leases()[0] == {"account": "desk", "holder": "node-b",
                                  "lease_until": expired + minute, "acquired_at": expired,
                                  "renewed_at": expired}


def test_imap_lease_given_back_is_free_at_once(open_db: Opener) -> None:
    """A clean stop gives the lease back; only its holder can, and another node takes it."""
    a, b = open_db(), open_db()
    now = clock.now()
    until = now + timedelta(hours=1)
    assert a.imap_lease_take("desk", "node-a", now, until) == "node-a"
    assert not b.imap_lease_release("desk", "node-b")
    assert b.imap_lease_take("desk", "node-b", now, until) == "node-a"
    assert a.imap_lease_release("desk", "node-a")
    assert not a.imap_lease_release("desk", "node-a")
    assert a.imap_leases()[0]["holder"] is None
    assert b.imap_lease_take("desk", "node-b", now, until) == "node-b"


def test_imap_lease_of_a_dead_node_is_released_with_its_claims(open_db: Opener) -> None:
    """A lease holder is a claimant: a restarted node frees its dead predecessor's lease."""
    a, b = open_db(), open_db()
    now = clock.now()
    until = now + timedelta(hours=1)
    assert a.imap_lease_take("desk", "host:111", now, until) == "host:111"
    assert b.claimants() == {"host:111"}
    assert b.release_claims(["host:111"]) == 1
    assert b.claimants() == set()
    assert b.imap_lease_take("desk", "host:222", now, until) == "host:222"


def test_imap_lease_asked_by_two_nodes_at_once_goes_to_one(open_db: Opener) -> None:
    """Two nodes taking a free lease at the same instant: the second sees the first's."""
    a, b = open_db(), open_db()
    now = clock.now()
    until = now + timedelta(minutes=1)
    with a.transaction():  # node a has taken it, not yet committed, when node b asks
        assert a.imap_lease_take("desk", "node-a", now, until) == "node-a"
        thread, out = in_thread(lambda: b.imap_lease_take("desk", "node-b", now, until))
        thread.join(0.3)
        assert thread.is_alive(), "node b decided before node a committed"
    thread.join(10)
    assert out == {"result": "node-a"}


# -- schema and failures ----------------------------------------------------------------------


def test_migrations_are_recorded_once_when_nodes_start_together(open_db: Opener) -> None:
    """Two nodes creating the schema at the same time both start; each version is applied once."""
    threads = [in_thread(open_db) for _ in range(2)]  # both on an empty database
    for thread, out in threads:
        thread.join(30)
        assert "error" not in out, out
    first = open_db()
    assert first.schema_version() == schema_module.LATEST
    rows = first._x("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m[0] for m in schema_module.MIGRATIONS]


def test_raw_mail_spooled_before_migration_10_is_kept_by_it(
        open_db: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mail spooled while the raw bytes lived in ``spool`` itself (schema 9) comes out of the
    upgrade byte for byte: processed, quarantined and still waiting alike."""
    import mailgate.store.base as base_module

    monkeypatch.setattr(base_module, "MIGRATIONS", schema_module.MIGRATIONS[:9])
    monkeypatch.setattr(base_module, "LATEST", 9)
    old = open_db()
    mails = {"new": b"From: a@example.org\r\n\r\nwaiting\r\n",
             "quarantined": b"\x00\xff not a mail",
             "done": b"From: b@example.org\r\n\r\n" + b"x" * 9000}
    with old.transaction():
        for state, raw in mails.items():
            old._x("INSERT INTO spool (received_at, channel, rcpt_tos, raw, size, state)"
                   " VALUES (?, 'smtp', '[]', ?, ?, ?)",
                   ("2026-01-01T00:00:00+00:00", raw, len(raw), state))
    monkeypatch.undo()
    store = open_db()
    assert store.schema_version() == schema_module.LATEST
    ids = {state: store._x("SELECT id FROM spool WHERE state = ?", (state,)).fetchone()[0]
           for state in mails}
    assert {state: store.spool_raw(ids[state]) for state in mails} == mails
    assert store.spool_raws(list(ids.values())) == {ids[s]: raw for s, raw in mails.items()}
    assert store.spool_has_raw(mails["done"])
    now = clock.now()
    [claimed] = store.spool_claim("node-a", now, now + timedelta(minutes=5), 10)
    assert claimed.id == ids["new"] and claimed.size == len(mails["new"])
    assert store.quarantine_delete(ids["quarantined"])["id"] == ids["quarantined"]
    assert store.spool_raws([ids["quarantined"]]) == {}


def test_a_messages_events_written_together_read_as_if_written_one_by_one(
        open_db: Opener) -> None:
    """Within ``rows_together`` (the processor, around one message) events are written by
    one statement, yet a read of the history in the middle sees those before it, a
    rolled-back savepoint takes its events with it, and a failure leaves none."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()

    def kinds() -> list[str]:
        return [e["kind"] for e in store.events(ticket_id)]

    with store.transaction(), store.rows_together():
        store.add_event(ticket_id, "one", actor="a", now=now)
        assert kinds() == ["one"]
        store.add_event(ticket_id, "two", actor="a", now=now, message_id="<m@x>")
        with pytest.raises(RuntimeError), store.savepoint("commands"):
            store.add_event(ticket_id, "rolled_back", actor="a", now=now)
            raise RuntimeError("a command failed")
        store.add_event(ticket_id, "three", actor="a", now=now, from_status="open")
        before = store.statements
    # one INSERT for two events, and the COMMIT (on PostgreSQL both in one round trip)
    assert store.statements - before == (1 if store.dialect == "postgresql" else 2)
    assert kinds() == ["one", "two", "three"]
    with pytest.raises(RuntimeError), store.transaction(), store.rows_together():
        store.add_event(ticket_id, "lost", actor="a", now=now)
        raise RuntimeError("the message failed")
    assert kinds() == ["one", "two", "three"]


def test_a_failed_write_of_a_message_is_raised_inside_its_savepoint(open_db: Opener) -> None:
    """A write that fails within ``rows_together`` (on PostgreSQL it is only sent with the
    next statement that needs an answer) still fails the message it belongs to, even when
    the message raised something else meanwhile, and the transaction goes on: the next
    message's rows are kept, the failed one's are not."""
    store = open_db()
    ticket_id = new_ticket(store)
    now = clock.now()
    with store.transaction():
        with pytest.raises(IntegrityViolation), store.savepoint("message"), \
                store.rows_together():
            store.add_event(ticket_id, "lost", actor="a", now=now)
            store.ensure_participant(999_999, "x@example.org", None, "participant", now)
            raise RuntimeError("a decision taken after the write")
        with store.savepoint("message"), store.rows_together():
            store.add_event(ticket_id, "kept", actor="a", now=now)
            store.add_clock(ticket_id, "agreed", started_at=now, due_at=None,
                            reminders=())
        with pytest.raises(IntegrityViolation), store.savepoint("message"), \
                store.rows_together():
            store.ensure_participant(999_999, "x@example.org", None, "participant", now)
            store.events(ticket_id)  # (a read: on PostgreSQL it sends the write first)
    assert [e["kind"] for e in store.events(ticket_id)] == ["kept"]
    assert store.clock(ticket_id, "agreed") is not None


def test_newer_schema_is_refused(open_db: Opener) -> None:
    """A node older than the database's schema refuses to start, saying why."""
    store = open_db()
    with store.transaction():
        store._x("INSERT INTO schema_migrations (version, title, applied_at) VALUES (?, ?, ?)",
                 (schema_module.LATEST + 1, "from the future", "2030-01-01T00:00:00+00:00"))
    with pytest.raises(SchemaError, match="newer than this mailgate knows"):
        open_db()


def test_lost_connection_is_transient_and_recovers(pg_server: PgServer) -> None:
    """A PostgreSQL connection cut mid-work is a retry-later error; the next call reconnects."""
    from mailgate.store.postgres import PgStore

    url = pg_server.database()
    store = PgStore.open_url(url, password=pg_server.password, busy_timeout=5)
    try:
        pid = store._x("SELECT pg_backend_pid()").fetchone()[0]
        pg_server.query(url, "SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError), store.transaction():
            store.spool_add(b"x", channel="smtp", received_at=clock.now())
        assert spool(store, 1)  # on a new connection from the pool
        assert store._x("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        store.close()


# -- the loop cap's ledger ----------------------------------------------------------------


def test_auto_reply_counts_per_address_within_the_window(open_db: Opener) -> None:
    """The cap counts automatic mail per address (any case) inside its window only, and
    pruning forgets what is older than the window, nothing newer."""
    store = open_db()
    now = clock.now()
    with store.transaction():
        store.record_auto_replies(["Anna@Example.org", "team@example.com"],
                                  now - timedelta(hours=2))
        store.record_auto_replies(["anna@example.org"], now - timedelta(minutes=5))
        store.record_auto_replies(["anna@example.org"], now)
    hour_ago = now - timedelta(hours=1)
    assert store.count_auto_replies("ANNA@example.org", hour_ago) == 2
    assert store.count_auto_replies("anna@example.org", now - timedelta(hours=3)) == 3
    assert store.count_auto_replies("bob@example.org", hour_ago) == 0
    with store.transaction():
        assert store.prune_auto_replies(hour_ago) == 2
    assert store.count_auto_replies("anna@example.org", now - timedelta(hours=3)) == 2
    assert store.count_auto_replies("team@example.com", now - timedelta(hours=3)) == 0


def test_relaxed_durability_only_for_the_connection_that_asks(
        open_db: Opener, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The processor's connection commits without waiting for the disk; every other
    connection (spooler, sender) has its commit on disk before ``transaction()`` returns:
    PostgreSQL by synchronous_commit, SQLite by an fsync of its log right after COMMIT
    (outside the write lock: another writer already has it meanwhile)."""
    relaxed, strict = open_db(), open_db()
    relaxed.relax_durability()
    if backend == "postgresql":
        with relaxed.transaction():
            seen_relaxed = tuple(relaxed._x("SHOW synchronous_commit").fetchone())
        with strict.transaction():
            seen_strict = tuple(strict._x("SHOW synchronous_commit").fetchone())
        assert (seen_relaxed, seen_strict) == (("off",), ("on",))
    else:
        synced: list[tuple[str, bool]] = []
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            real(fd)
            locked = _write_lock_taken(other)
            synced.append((os.readlink(f"/proc/self/fd/{fd}"), locked))

        other = open_db()
        monkeypatch.setattr(os, "fdatasync", fdatasync)
        spool(relaxed, 1)
        assert synced == []
        spool(strict, 1)
        assert synced == [(f"{strict.path}-wal", False)]  # once, after the lock was free
        with strict.transaction():  # a transaction that only reads has nothing to sync
            strict.spool_counts()
        assert len(synced) == 1
    spool(relaxed, 1)  # and both still commit
    assert strict.spool_counts() == {"new": 1 if backend == "postgresql" else 3}


def test_folder_sync_covers_only_an_sqlite_file_on_its_filesystem(
        open_db: Opener, backend: str, tmp_path: Path) -> None:
    """The sender may let the outbox folder's syncfs make its commits durable only when
    the database is a file on that same filesystem (never a PostgreSQL server)."""
    store = open_db()
    (tmp_path / "outbox").mkdir()
    assert store.synced_with(tmp_path / "outbox") == (backend == "sqlite")
    assert not store.synced_with(tmp_path / "missing")
    if backend == "sqlite" and os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev:
        assert not store.synced_with(Path("/dev/shm"))


@sqlite_only
def test_a_writer_waiting_for_the_write_lock_sleeps_until_it_is_let_go(tmp_path: Path) -> None:
    """While one connection holds SQLite's write lock (a processor's transaction), another
    writer waiting for it (the spooler, before its 250) sleeps until it is let go and gets
    it then, instead of trying again every 0.1-0.25 ms; a holder that does not say it holds
    it (another program) is still waited for, by trying again."""
    import sqlite3
    import time

    path = tmp_path / "mailgate.db"
    holder, waiter = Store.open(path, busy_timeout=5), Store.open(path, busy_timeout=5)
    other = sqlite3.connect(path, isolation_level=None)
    tries: list[str] = []
    waiter._conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: tries.append(sql) if sql == "BEGIN IMMEDIATE" else None)

    def tries_while_held(hold: Callable[[], object], release: Callable[[], object],
                         held: Callable[[], object]) -> int:
        tries.clear()
        hold()
        thread, out = in_thread(lambda: spool(waiter, 1))
        wait_until(lambda: len(tries) >= 1, 5, interval=0.001)
        held()  # the holder's long transaction
        assert out == {}, out  # still waiting
        release()
        thread.join(5)
        assert "result" in out, out
        return len(tries)

    def quiet_window() -> None:
        # not trying is only seen over time: a fixed hold is the scenario, not a wait
        time.sleep(0.3)

    held = holder.transaction()
    try:
        # tries in the first millisecond (lite.WATCH_AFTER), then one after the release
        assert 1 < tries_while_held(held.__enter__, lambda: held.__exit__(None, None, None),
                                    quiet_window) <= 15
        # a holder that does not say so: tried again and again (awaited, not slept)
        assert tries_while_held(lambda: other.execute("BEGIN IMMEDIATE"),
                                lambda: other.execute("COMMIT"),
                                lambda: wait_until(lambda: len(tries) > 100, 5)) > 100
        assert waiter.spool_counts() == {"new": 2}
    finally:
        other.close()
        holder.close()
        waiter.close()


def _write_lock_taken(store: Store) -> bool:
    """Whether another connection holds SQLite's write lock (BEGIN IMMEDIATE fails)."""
    conn = store._conn  # type: ignore[attr-defined]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except Exception:
        return True
    finally:
        conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("ROLLBACK")
    return False


# -- the hot path uses indexes ------------------------------------------------------------------


@sqlite_only  # SQLite's query plans; PostgreSQL's planner decides by its statistics
def test_processing_reads_and_writes_through_indexes_only(tmp_path: Path) -> None:
    """New tickets, tag replies, References replies, duplicates and the acknowledgements they
    queue: no statement on the way reads a whole table (SQLite's query plans), so the cost
    per message does not grow with the store."""
    from email import policy

    from mailgate.config import load_config
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer
    from mailgate.store import open_store
    from mailgate.store.sqlite import SqliteStore
    from tests.configs import write_config
    from tests.conftest import make_mail

    config = load_config(write_config(tmp_path))
    store = open_store(config)
    plans: dict[str, list[str]] = {}
    execute = SqliteStore._execute

    def planned(self: SqliteStore, sql: str, params: Sequence[Any]) -> Any:
        verb = sql.split(None, 1)[0].upper()
        if verb in ("SELECT", "UPDATE", "DELETE") and sql not in plans:
            plans[sql] = [r[-1] for r in
                          self._conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]
        return execute(self, sql, params)

    SqliteStore._execute = planned  # type: ignore[method-assign]
    try:
        processor = Processor(config, store, Pipeline(config, Renderer(
            config.templates_dir)))
        first = make_mail("Printer prints blank pages", message_id="<first@example.org>")
        mails = [first,
                 make_mail("[SUP-000001] still broken", message_id="<tag@example.org>"),
                 make_mail("Re: still broken", message_id="<ref@example.org>",
                           References="<first@example.org>"),
                 make_mail("Printer prints blank pages", message_id="<again@example.org>"),
                 make_mail("VPN down", sender="bob@example.net", message_id="<vpn@example.net>")]
        with store.transaction():
            for msg in mails:
                store.spool_add(msg.as_bytes(policy=policy.SMTP), channel="smtp",
                                received_at=clock.now(), mail_from="customer@example.org",
                                rcpt_tos=["support@example.com"])
        assert processor.drain() == len(mails)
    finally:
        SqliteStore._execute = execute  # type: ignore[method-assign]
        store.close()
    # sqlite_sequence holds one row per AUTOINCREMENT table (a handful, whatever the size
    # of the database): reading it for the next ticket number is no scan of the data
    scans = {sql: plan for sql, plan in plans.items()
             if any(step.startswith("SCAN") and " USING " not in step
                    and step != "SCAN sqlite_sequence" for step in plan)}
    assert len(plans) >= 10 and scans == {}  # the path reads a dozen distinct statements


def test_a_failing_mail_never_takes_its_group_mates_with_it(
        open_db: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group of claimed mail is handled as one unit; when one of its mails is held by
    policy and another crashes the pipeline, the group is rolled back and handled again
    mail by mail: each good mail gets exactly one ticket, one stored message and one
    acknowledgement, the two bad ones are quarantined with their reasons, and a later
    clean group is one unit again (no savepoint per mail)."""
    from email import policy

    from structlog.testing import capture_logs

    from mailgate import processor as processor_module
    from mailgate.config import load_config
    from mailgate.logs import configure_logging
    from mailgate.message import Inbound
    from mailgate.pipeline import Outcome, Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer
    from mailgate.store import SpoolItem
    from tests.configs import write_config
    from tests.conftest import make_mail

    class Buggy(Pipeline):
        """The real pipeline, but a bug strikes the mail whose subject says so."""

        def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
                   facts: Any = None) -> Outcome:
            if "bug" in inbound.subject:
                raise RuntimeError("a bug strikes")
            return super().handle(store, item, inbound, now, facts)

    config = load_config(write_config(tmp_path / "cfg"))
    store = open_db()
    processor = Processor(config, store, Buggy(config, Renderer(config.templates_dir)))
    subjects = [f"Problem {n}" for n in range(8)]
    subjects[2], subjects[5] = "Problem spam", "Problem bug"

    def spool_group(names: list[str]) -> list[int]:
        with store.transaction():
            return [store.spool_add(
                make_mail(name, message_id=f"<{name.replace(' ', '-')}@example.org>",
                          **({"X-Spam-Flag": "YES"} if "spam" in name else {}))
                .as_bytes(policy=policy.SMTP), channel="smtp", received_at=clock.now(),
                mail_from="customer@example.org", rcpt_tos=["support@example.com"])
                for name in names]

    monkeypatch.setattr(processor_module, "CAREFUL_GROUPS", 0)  # the next group: one unit
    ids = spool_group(subjects)
    # the info line below must pass whatever level an earlier test configured
    configure_logging(config.logging.model_copy(update={"level": "info"}))
    with capture_logs() as logs:
        assert processor.drain() == 8
    assert [e["messages"] for e in logs if e["event"] == "group_handled_again"] == [8]
    states = {row_id: store.spool_state(row_id) for row_id in ids}
    assert [states[i] for i in ids] == ["done", "done", "quarantined", "done", "done",
                                        "quarantined", "done", "done"]
    reasons = sorted(q["reason"] for q in store.quarantine())
    assert reasons[0].startswith("RuntimeError: a bug strikes")
    assert reasons[1].startswith("spam by upstream filter")
    good = [s for s in subjects if "spam" not in s and "bug" not in s]
    tickets = store.tickets()
    assert sorted(t["subject"] for t in tickets) == sorted(good)  # one each, none twice
    for ticket in tickets:
        assert [(m["direction"], m["kind"]) for m in store.messages(ticket["id"])] == \
            [("in", "customer"), ("out", "ack")]
    assert sorted(r["kind"] for r in store.outbox()) == ["ack"] * 6
    assert store.event_counts()["acknowledged"] == 6

    statements: list[str] = []
    execute = type(store)._execute

    def counted(self: Store, sql: str, params: Sequence[Any]) -> Any:
        statements.append(sql)
        return execute(self, sql, params)  # type: ignore[arg-type]

    type(store)._execute = counted  # type: ignore[method-assign]
    try:
        later = spool_group(["Later 1", "Later 2"])
        assert processor.drain() == 2
    finally:
        type(store)._execute = execute  # type: ignore[method-assign]
    assert [store.spool_state(i) for i in later] == ["done", "done"]
    assert not [sql for sql in statements if "SAVEPOINT" in sql]


def test_processors_taking_turns_leave_the_turn_free_however_a_transaction_ends(
        open_db: Opener) -> None:
    """Processor connections that take turns (``Store.take_turns``, SQLite: a lock file
    beside the database): a transaction that failed, one with a rolled-back savepoint and
    one committed each leave the turn free, so the other processor writes at once (a kept
    turn would hold it for its whole busy timeout, 5 s here)."""
    first, second = open_db(), open_db()
    first.take_turns()
    second.take_turns()

    def write() -> None:
        with second.transaction():
            second.spool_add(b"Subject: x\r\n\r\nx\r\n", channel="smtp",
                             received_at=clock.now(), mail_from="a@example.org",
                             rcpt_tos=["support@example.com"])

    def second_writes() -> None:
        _thread, out = in_thread(write)
        wait_until(lambda: "result" in out or "error" in out, 2.5, interval=0.01,
                   message="the second processor waited for a turn nobody held")
        assert "error" not in out, out

    with pytest.raises(RuntimeError), first.transaction():
        first.spool_add(b"Subject: y\r\n\r\ny\r\n", channel="smtp",
                        received_at=clock.now(), mail_from=None, rcpt_tos=[])
        raise RuntimeError("a bug in the middle of a message")
    second_writes()
    with first.transaction():
        with pytest.raises(RuntimeError), first.savepoint("message"):
            raise RuntimeError("one message fails")
        first.spool_add(b"Subject: z\r\n\r\nz\r\n", channel="smtp",
                        received_at=clock.now(), mail_from=None, rcpt_tos=[])
    second_writes()
    assert sum(first.spool_counts().values()) == 3  # the failed transaction wrote nothing


def test_a_mail_and_its_redelivery_in_one_group_make_one_ticket(
        open_db: Opener, tmp_path: Path) -> None:
    """The processor asks once for a group whether its Message-IDs are stored (not once a
    mail); a mail, its redelivery in the same group, and a mail stored earlier and
    delivered again still come out as before: one ticket and one acknowledgement for each
    mail, the redeliveries recorded as duplicates of it, every message stored once, and
    the events of each ticket in the order they happened; and the group is not rolled
    back and handled again mail by mail for it (a stale answer would make the second
    "one" fail on the unique Message-ID and cost the group a second pass)."""
    from email import policy

    from structlog.testing import capture_logs

    from mailgate.config import load_config
    from mailgate.logs import configure_logging
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer
    from tests.configs import write_config
    from tests.conftest import make_mail

    config = load_config(write_config(tmp_path / "cfg"))
    store = open_db()
    processor = Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))

    def spool(names: list[str]) -> list[int]:
        with store.transaction():
            return [store.spool_add(
                make_mail(f"Problem {name}", sender=f"{name}@example.org",
                          message_id=f"<{name}@example.org>").as_bytes(policy=policy.SMTP),
                channel="smtp", received_at=clock.now(), mail_from=f"{name}@example.org",
                rcpt_tos=["support@example.com"]) for name in names]

    spool(["early"])
    assert processor.drain() == 1
    ids = spool(["one", "two", "one", "early", "three"])
    configure_logging(config.logging.model_copy(update={"level": "info"}))
    with capture_logs() as logs:
        assert processor.drain() == 5
    assert not [e for e in logs if e["event"] == "group_handled_again"]
    assert [store.spool_state(i) for i in ids] == ["done", "done", "duplicate", "duplicate",
                                                   "done"]
    tickets = store.tickets()
    assert sorted(t["subject"] for t in tickets) == [
        "Problem early", "Problem one", "Problem three", "Problem two"]
    for ticket in tickets:
        assert [(m["direction"], m["kind"]) for m in store.messages(ticket["id"])] == \
            [("in", "customer"), ("out", "ack")]
        kinds = [e["kind"] for e in store.events(ticket["id"])]
        assert kinds[0] == "created" and "acknowledged" in kinds
    assert sorted(r["kind"] for r in store.outbox()) == ["ack"] * 4


def test_the_loop_cap_holds_within_one_group_of_mail(open_db: Opener, tmp_path: Path) -> None:
    """The processor reads the loop cap's count for a group's senders once (not once a
    mail); a robot whose mails arrive together still gets no more than ``auto_reply_cap``
    automatic mails in the window, counting those it got before the group, and each mail
    over the cap leaves an ``auto_reply_capped`` event on its ticket."""
    from email import policy

    from mailgate.config import load_config
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer
    from tests.configs import write_config
    from tests.conftest import make_mail

    config = load_config(write_config(tmp_path / "cfg", {"conversation": {"auto_reply_cap": 3}}))
    store = open_db()
    processor = Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))
    topics = ["Printer jams on tray 2", "VPN drops every hour", "Invoice 4411 is wrong",
              "Laptop battery swollen", "Cannot book room B12", "Badge does not open door"]

    def spool(senders_topics: list[tuple[str, str]]) -> None:
        with store.transaction():
            for sender, topic in senders_topics:
                store.spool_add(make_mail(topic, sender=sender, body=f"{topic}, since today.\n")
                                .as_bytes(policy=policy.SMTP), channel="smtp",
                                received_at=clock.now(), mail_from=sender,
                                rcpt_tos=["support@example.com"])

    def sent_to(address: str) -> int:
        return sum(address in r["to"] for r in store.outbox())

    spool([("robot@example.net", topics[0])])
    assert processor.drain() == 1
    assert sent_to("robot@example.net") == 1
    spool([("robot@example.net", t) for t in topics[1:5]] + [("person@example.org", topics[5])])
    assert processor.drain() == 5
    assert sent_to("robot@example.net") == 3
    assert sent_to("person@example.org") == 1
    capped = [e for t in store.tickets() for e in store.events(t["id"])
              if e["kind"] == "auto_reply_capped"]
    assert len(capped) == 2 and all("robot@example.net" in e["detail"] for e in capped)


@sqlite_only  # one write lock for the whole database; row locks make no writer wait so
def test_a_group_of_mail_ends_early_while_a_writer_waits_for_the_lock(tmp_path: Path) -> None:
    """While another writer waits for SQLite's write lock (the spooler, whose SMTP sessions
    wait for their ``250``: a waiting writer holds ``<db>-writers`` shared), the processor
    commits after each mail instead of after its group of up to 8, so the waiter goes
    first; every mail is still handled exactly once: one ticket and one ack each."""
    import fcntl
    from email import policy

    from mailgate.config import load_config
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.render import Renderer
    from tests.configs import write_config
    from tests.conftest import make_mail

    config = load_config(write_config(tmp_path / "cfg"))
    path = tmp_path / "mailgate.db"
    store = Store.open(path)
    processor = Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))
    commits: list[str] = []
    store._conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    topics = iter(["Printer jams", "VPN drops", "Invoice wrong", "Battery swollen",
                   "Room booking fails", "Badge broken", "Mail bounces", "Screen flickers",
                   "Keyboard sticky", "Disk full"])

    def drain_five() -> int:
        with store.transaction():
            for n in range(5):
                sender = f"user{len(commits)}.{n}@example.org"
                store.spool_add(make_mail(next(topics), sender=sender)
                                .as_bytes(policy=policy.SMTP), channel="smtp",
                                received_at=clock.now(), mail_from=sender,
                                rcpt_tos=["support@example.com"])
        commits.clear()
        assert processor.drain() == 5
        return len(commits)

    alone = drain_five()
    waiter = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(waiter, fcntl.LOCK_SH)  # as a writer waiting for the lock holds it
        waited = drain_five()
    finally:
        os.close(waiter)
    assert waited - alone == 4  # a commit after each of the 5 mails, not one for all
    tickets = store.tickets()
    assert len(tickets) == 10
    for ticket in tickets:
        assert [(m["direction"], m["kind"]) for m in store.messages(ticket["id"])] == \
            [("in", "customer"), ("out", "ack")]
    assert sorted(r["kind"] for r in store.outbox()) == ["ack"] * 10


@sqlite_only  # one write lock for the whole database; row locks make no writer wait so
def test_the_processor_parses_its_next_mails_before_it_gives_way_to_a_waiting_writer(
        tmp_path: Path) -> None:
    """Between two of its transactions the processor pauses while another writer waits for
    the lock (the spooler, whose SMTP sessions wait for their ``250``). It reads and parses
    the next group's mails first, which needs no lock, so the waiting writer takes the lock
    while the processor works rather than while it idles: between giving way and its next
    transaction it parses nothing. Every mail is still handled exactly once."""
    import fcntl
    from email import policy

    from mailgate.config import load_config
    from mailgate.pipeline import Pipeline
    from mailgate.processor import PREPARE, Prepared, Processor
    from mailgate.render import Renderer
    from mailgate.store import SpoolItem
    from tests.configs import write_config
    from tests.conftest import make_mail

    config = load_config(write_config(tmp_path / "cfg"))
    path = tmp_path / "mailgate.db"
    store = Store.open(path)
    processor = Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))
    mails = PREPARE + 4
    with store.transaction():
        for n in range(mails):
            sender = f"user{n}@example.org"
            store.spool_add(make_mail(f"Printer {n} jams", sender=sender)
                            .as_bytes(policy=policy.SMTP), channel="smtp",
                            received_at=clock.now(), mail_from=sender,
                            rcpt_tos=["support@example.com"])
    steps: list[str] = []
    prepare, writer_turn = processor.prepare, store.writer_turn

    def parse(item: SpoolItem, raw: bytes | None = None) -> Prepared:
        steps.append("parse")
        return prepare(item, raw)

    def give_way() -> None:
        steps.append("give way")
        writer_turn()

    processor.prepare = parse  # type: ignore[method-assign]
    store.writer_turn = give_way  # type: ignore[method-assign]
    store._conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: steps.append("begin") if sql == "BEGIN IMMEDIATE" else None)
    waiter = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(waiter, fcntl.LOCK_SH)  # as a writer waiting for the lock holds it
        assert processor.drain() == mails
    finally:
        os.close(waiter)
    assert steps.count("parse") == mails
    turns = [i for i, step in enumerate(steps) if step == "give way"]
    assert turns  # the groups ended early for the waiting writer: it was given way
    for turn in turns:
        assert steps[turn + 1] == "begin", steps[turn:turn + 3]
    tickets = store.tickets()
    assert len(tickets) == mails
    for ticket in tickets:
        assert [(m["direction"], m["kind"]) for m in store.messages(ticket["id"])] == \
            [("in", "customer"), ("out", "ack")]


@sqlite_only  # PostgreSQL has no log to copy back on a client's commit
def test_the_spooler_and_the_processors_leave_log_checkpoints_to_the_sender(
        tmp_path: Path) -> None:
    """SQLite copies its write-ahead log back into the database file (hundreds of pages and
    an fsync) inside the commit that takes the log past 1,000 pages, whoever commits: a
    spooler's group would wait for it before its ``250``s, and a waiting spooler for a
    processor's. Their connections leave that to the sender's (up to ten times the log),
    whose next commit copies it all back."""
    path = tmp_path / "mailgate.db"
    spooler, sender = Store.open(path), Store.open(path)
    spooler.leave_checkpoints()
    empty = path.stat().st_size
    raw = b"Subject: big\r\n\r\n" + b"x" * 40_000
    for _ in range(15):  # a group of ten 40 KB mails a commit: ~1,500 log pages in all
        with spooler.transaction():
            for _ in range(10):
                spooler.spool_add(raw, channel="smtp", received_at=clock.now(), state="done")
    assert path.stat().st_size == empty  # all of it still in the log: nothing copied back
    with sender.transaction():  # a commit of the sender's (recording a sent mail)
        sender.spool_add(b"Subject: s\r\n\r\nx", channel="smtp", received_at=clock.now(),
                         state="done")
    assert path.stat().st_size > 150 * 40_000  # copied back by the sender's commit
