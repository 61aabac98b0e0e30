"""ImapFetcher against a real Dovecot (see tests/imapserver.py)."""

from __future__ import annotations

import email
import logging
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import structlog

from mailgate import clock
from mailgate.config import ImapAccount
from mailgate.daemon import StoreCursors
from mailgate.errors import TransientError
from mailgate.health import ImapStates, health_report
from mailgate.intake import imap
from mailgate.intake.imap import ImapFetcher
from mailgate.store import Store
from tests.imapserver import DovecotServer, dovecot_fixture, make_dovecot_fixture  # noqa: F401
from tests.support import wait_until

SEEN = b"\\Seen"
WAIT = 15.0  # generous upper bound for anything awaited on an event


def message(n: int, subject: str | None = None) -> bytes:
    return (
        f"From: customer{n}@example.com\r\nTo: support@example.com\r\n"
        f"Subject: {subject or f'Ticket {n}'}\r\nMessage-ID: <m{n}@example.com>\r\n"
        f"Date: Mon, 03 Jun 2024 10:00:00 +0000\r\n\r\nBody {n}\r\n"
    ).encode()


def subject(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Subject"])


class ListAcceptor:
    """Mimics the durable Acceptor contract: once accept() returns, the message is kept.

    ``before(raw, attempt)`` may return an exception to raise before anything is
    recorded; ``after(spool_id, raw)`` runs once it is recorded (and may raise,
    simulating a crash after the commit).
    """

    def __init__(
        self,
        before: Callable[[bytes, int], BaseException | None] | None = None,
        after: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self.before, self.after = before, after
        self.accepted: list[tuple[bytes, str | None]] = []
        self.attempts: dict[bytes, int] = {}
        self._cond = threading.Condition()

    def accept(self, raw, *, channel, mail_from=None, rcpt_tos=None, source=None) -> int:
        assert channel == "imap"
        with self._cond:
            self.attempts[raw] = self.attempts.get(raw, 0) + 1
            attempt = self.attempts[raw]
        error = self.before(raw, attempt) if self.before else None
        if error is not None:
            raise error
        with self._cond:
            self.accepted.append((raw, source))
            spool_id = len(self.accepted)
            self._cond.notify_all()
        if self.after:
            self.after(spool_id, raw)
        return spool_id

    def outcome(self, spool_id: int, timeout: float) -> str:
        raw = self.accepted[spool_id - 1][0]
        return "quarantined" if b"POISON" in raw else "done"

    def subjects(self) -> list[str]:
        with self._cond:
            return [subject(raw) for raw, _ in self.accepted]

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: predicate([subject(raw) for raw, _ in self.accepted]), timeout
            )


class DictCursors:
    """The CursorStore protocol over a dict, with a way to await a cursor value."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], tuple[int, int]] = {}
        self._cond = threading.Condition()

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        with self._cond:
            return self.data.get((account, folder), (None, 0))

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        with self._cond:
            self.data[(account, folder)] = (uidvalidity, last_uid)
            self._cond.notify_all()

    def wait_for_uid(self, last_uid: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: any(last >= last_uid for _, last in self.data.values()), timeout
            )


class Events:
    """A structlog logger that records events and lets a test await one."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._cond = threading.Condition()
        self.logger = structlog.wrap_logger(
            structlog.ReturnLogger(), processors=[self._record],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        )

    def _record(self, _logger, _method, event_dict):
        with self._cond:
            self.records.append(dict(event_dict))
            self._cond.notify_all()
        raise structlog.DropEvent

    def count(self, name: str) -> int:
        with self._cond:
            return sum(r["event"] == name for r in self.records)

    def wait_for(self, name: str, count: int = 1, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count(name) >= count, timeout)


@pytest.fixture
def make_fetcher(dovecot: DovecotServer) -> Iterator[Callable[..., ImapFetcher]]:
    made: list[ImapFetcher] = []

    def make(acceptor, cursors, *, server: DovecotServer | None = None, log=None, leases=None,
             node="", max_message_size=imap.DEFAULT_MAX_MESSAGE_SIZE, **fields):
        server = server or dovecot
        account = ImapAccount(
            name="support", host=server.host, port=server.port, security="plain",
            username=server.user, password_env="MAILGATE_TEST_UNUSED", **fields,
        )
        fetcher = ImapFetcher(account, acceptor, cursors, password=server.password, log=log,
                              leases=leases, node=node, max_message_size=max_message_size)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def run_in_thread(fetcher: ImapFetcher) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=fetcher.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def stop_thread(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(5)
    assert not thread.is_alive(), "run() did not return promptly after stop was set"


def test_new_mail_is_accepted_in_uid_order_and_marked_seen(dovecot, make_fetcher):
    """New messages are accepted in arrival order, in batches, marked \\Seen, and only once."""
    for n in range(1, 6):
        dovecot.append(message(n))
    acceptor, cursors = ListAcceptor(), DictCursors()
    fetcher = make_fetcher(acceptor, cursors, batch_size=2)

    assert fetcher.run_once() == 5
    assert acceptor.subjects() == [f"Ticket {n}" for n in range(1, 6)]
    validity = dovecot.uidvalidity()
    assert acceptor.accepted[0][1] == f"imap:support/INBOX;UIDVALIDITY={validity}/;UID=1"
    assert all(SEEN in flags for flags in dovecot.flags().values())
    assert cursors.imap_cursor("support", "INBOX") == (validity, 5)
    assert fetcher.run_once() == 0
    dovecot.append(message(6))
    assert fetcher.run_once() == 1
    assert len(acceptor.accepted) == 6


def test_mail_arriving_during_a_round_is_taken_in_the_same_run(dovecot, make_fetcher):
    """Mail announced while a round is busy is searched for again before run_once returns."""
    dovecot.append(message(1))

    def deliver_another(spool_id: int, raw: bytes) -> None:
        if spool_id == 1:
            dovecot.append(message(2))

    acceptor = ListAcceptor(after=deliver_another)
    assert make_fetcher(acceptor, DictCursors()).run_once() == 2
    assert acceptor.subjects() == ["Ticket 1", "Ticket 2"]


def test_first_run_in_seen_mode_skips_already_read_mail(dovecot, make_fetcher):
    """The first run skips messages already \\Seen; afterwards the UID cursor alone decides."""
    dovecot.append(message(1), flags=[SEEN])
    dovecot.append(message(2))
    dovecot.append(message(3), flags=[SEEN])
    acceptor, cursors = ListAcceptor(), DictCursors()
    fetcher = make_fetcher(acceptor, cursors)

    assert fetcher.run_once() == 1
    assert acceptor.subjects() == ["Ticket 2"]
    assert cursors.imap_cursor("support", "INBOX")[1] == 3
    dovecot.append(message(4), flags=[SEEN])  # read by a human before we got to it
    assert fetcher.run_once() == 1
    assert acceptor.subjects() == ["Ticket 2", "Ticket 4"]


def test_move_mode_moves_to_folder_created_on_demand(dovecot, make_fetcher):
    """after=move files accepted messages into move_to (created if missing) with MOVE."""
    dovecot.append(message(1))
    dovecot.append(message(2))
    fetcher = make_fetcher(ListAcceptor(), DictCursors(), after="move", move_to="Processed")

    assert fetcher.run_once() == 2
    assert dovecot.list_uids("INBOX") == []
    assert [subject(raw) for raw in dovecot.messages("Processed").values()] == [
        "Ticket 1", "Ticket 2"
    ]


def test_move_without_move_capability_uses_copy_delete_expunge(make_dovecot, make_fetcher):
    """Without MOVE (and IDLE) the fetcher copies, flags \\Deleted, UID EXPUNGEs, and polls."""
    server = make_dovecot(capabilities="IMAP4rev1 LITERAL+ UIDPLUS")
    server.append(message(1))
    server.append(message(2), flags=[b"\\Flagged"])
    acceptor = ListAcceptor()
    fetcher = make_fetcher(acceptor, DictCursors(), server=server, after="move",
                           move_to="Processed", poll_interval=3600)

    stop, thread = run_in_thread(fetcher)
    assert acceptor.wait_for(lambda subjects: len(subjects) == 2)
    stop_thread(stop, thread)
    assert server.list_uids("INBOX") == []
    assert [b"\\Flagged" in flags for flags in server.flags("Processed").values()] == [False, True]


def test_delete_mode_expunges(dovecot, make_fetcher):
    """after=delete removes accepted messages from the folder."""
    dovecot.append(message(1))
    dovecot.append(message(2))
    acceptor = ListAcceptor()
    fetcher = make_fetcher(acceptor, DictCursors(), after="delete")

    assert fetcher.run_once() == 2
    assert dovecot.list_uids("INBOX") == []
    assert dovecot.folders() == ["INBOX"]
    assert acceptor.subjects() == ["Ticket 1", "Ticket 2"]


def test_idle_wakes_up_on_new_mail(dovecot, make_fetcher):
    """A message appended while run() is in IDLE is accepted within seconds, and stop is prompt."""
    acceptor, events = ListAcceptor(), Events()
    fetcher = make_fetcher(acceptor, DictCursors(), log=events.logger, poll_interval=3600)

    stop, thread = run_in_thread(fetcher)
    assert events.wait_for("imap_idle_started")
    dovecot.append(message(1))
    assert acceptor.wait_for(lambda subjects: subjects == ["Ticket 1"], timeout=5)
    stop_thread(stop, thread)
    assert events.count("imap_connected") == 1


def test_server_restart_during_batch(dovecot, make_fetcher):
    """Dovecot dying mid-batch: every message is accepted at least once and all end up \\Seen."""
    for n in range(1, 6):
        dovecot.append(message(n))
    stopped = threading.Event()

    def kill_server_after_second(spool_id: int, raw: bytes) -> None:
        if spool_id == 2:
            dovecot.stop()
            stopped.set()

    acceptor, cursors = ListAcceptor(after=kill_server_after_second), DictCursors()
    events = Events()
    fetcher = make_fetcher(acceptor, cursors, log=events.logger, batch_size=1)

    stop, thread = run_in_thread(fetcher)
    assert stopped.wait(WAIT)
    dovecot.start()
    assert cursors.wait_for_uid(5)
    stop_thread(stop, thread)
    assert set(acceptor.subjects()) == {f"Ticket {n}" for n in range(1, 6)}
    assert all(SEEN in flags for flags in dovecot.flags().values())
    assert events.count("imap_disconnected") == 2  # the crash, then the final close
    assert events.count("imap_connected") == 2
    assert events.count("imap_reconnect_scheduled") <= 3  # backoff, not a tight loop


def test_killed_between_commit_and_flag(dovecot, make_fetcher):
    """A crash after the spool commit but before \\Seen: the next run accepts again, then flags."""
    dovecot.append(message(1))

    def crash(spool_id: int, raw: bytes) -> None:
        if spool_id == 1:
            raise SystemExit("killed")

    acceptor, cursors = ListAcceptor(after=crash), DictCursors()
    first = make_fetcher(acceptor, cursors)
    with pytest.raises(SystemExit):
        first.run_once()
    first.close()
    assert SEEN not in dovecot.flags()[1]
    # still the first run (unread mail up to UID 1): the restart resumes it
    assert cursors.imap_cursor("support", "INBOX") == (dovecot.uidvalidity(), -1)

    assert make_fetcher(acceptor, cursors).run_once() == 1
    assert acceptor.subjects() == ["Ticket 1", "Ticket 1"]  # downstream dedupe drops the copy
    assert SEEN in dovecot.flags()[1]


def test_poison_message_goes_to_error_folder(dovecot, make_fetcher):
    """A message the processor quarantines is moved to error_folder; the next still goes through."""
    dovecot.append(message(1))
    dovecot.append(message(2, subject="POISON"))
    dovecot.append(message(3))
    acceptor = ListAcceptor()
    fetcher = make_fetcher(acceptor, DictCursors(), error_folder="mailgate-errors")

    assert fetcher.run_once() == 3
    assert [subject(raw) for raw in dovecot.messages("mailgate-errors").values()] == ["POISON"]
    inbox = dovecot.messages("INBOX")
    assert [subject(raw) for raw in inbox.values()] == ["Ticket 1", "Ticket 3"]
    assert all(SEEN in flags for flags in dovecot.flags().values())


def test_transient_error_leaves_message_and_ends_the_round(dovecot, make_fetcher):
    """TransientError from accept leaves that message untouched and retries it next round."""
    for n in range(1, 4):
        dovecot.append(message(n))

    def spool_busy_once(raw: bytes, attempt: int) -> BaseException | None:
        return TransientError("database is locked") if b"Ticket 2" in raw and attempt == 1 else None

    acceptor, cursors = ListAcceptor(before=spool_busy_once), DictCursors()
    fetcher = make_fetcher(acceptor, cursors)

    assert fetcher.run_once() == 1
    assert [SEEN in flags for flags in dovecot.flags().values()] == [True, False, False]
    assert cursors.imap_cursor("support", "INBOX")[1] == -3  # the first run is not over
    assert fetcher.run_once() == 2
    assert acceptor.subjects() == ["Ticket 1", "Ticket 2", "Ticket 3"]
    assert cursors.imap_cursor("support", "INBOX")[1] == 3


def test_failing_message_does_not_block_the_queue(dovecot, make_fetcher):
    """A message accept() chokes on is left alone, later ones go through, no immediate retry."""
    for n in range(1, 4):
        dovecot.append(message(n))

    def broken(raw: bytes, attempt: int) -> BaseException | None:
        return ValueError("cannot store this") if b"Ticket 2" in raw else None

    acceptor, cursors, events = ListAcceptor(before=broken), DictCursors(), Events()
    fetcher = make_fetcher(acceptor, cursors, log=events.logger)

    assert fetcher.run_once() == 2
    assert acceptor.subjects() == ["Ticket 1", "Ticket 3"]
    assert [SEEN in flags for flags in dovecot.flags().values()] == [True, False, True]
    assert fetcher.run_once() == 0
    assert acceptor.attempts[message(2)] == 1
    assert events.count("imap_accept_failed") == 1


def test_failing_message_is_retried_with_backoff(dovecot, make_fetcher, monkeypatch):
    """run() retries a failed message once its backoff expires, not in a tight loop."""
    monkeypatch.setattr(imap, "FAILED_RETRY_INITIAL", 0.5)
    dovecot.append(message(1))

    def fails_first(raw: bytes, attempt: int) -> BaseException | None:
        return ValueError("hiccup") if attempt == 1 else None

    acceptor = ListAcceptor(before=fails_first)
    fetcher = make_fetcher(acceptor, DictCursors(), poll_interval=3600)

    stop, thread = run_in_thread(fetcher)
    assert acceptor.wait_for(lambda subjects: subjects == ["Ticket 1"])
    stop_thread(stop, thread)
    assert acceptor.attempts[message(1)] == 2
    assert SEEN in dovecot.flags()[1]


def test_uidvalidity_change_rescans(dovecot, make_fetcher):
    """after=move: a new UIDVALIDITY is logged once and the folder is rescanned from UID 1."""
    dovecot.append(message(1))
    dovecot.append(message(2))

    def fails_once(raw: bytes, attempt: int) -> BaseException | None:
        return ValueError("hiccup") if b"Ticket 1" in raw and attempt == 1 else None

    acceptor, cursors, events = ListAcceptor(before=fails_once), DictCursors(), Events()
    fetcher = make_fetcher(acceptor, cursors, log=events.logger, after="move")
    assert fetcher.run_once() == 1  # Ticket 1 stays in INBOX, waiting for its retry
    old = dovecot.uidvalidity()

    fetcher.close()
    dovecot.set_uidvalidity_change("INBOX")
    new = dovecot.uidvalidity()
    assert new != old

    assert fetcher.run_once() == 1
    assert fetcher.run_once() == 0
    assert acceptor.subjects() == ["Ticket 2", "Ticket 1"]
    assert acceptor.accepted[-1][1] == f"imap:support/INBOX;UIDVALIDITY={new}/;UID=1"
    assert events.count("imap_uidvalidity_changed") == 1
    assert cursors.imap_cursor("support", "INBOX") == (new, 1)
    assert dovecot.list_uids("INBOX") == []


def test_uidvalidity_change_in_seen_mode_takes_only_unread_mail(dovecot, make_fetcher):
    """after=seen: a renumbered folder is read again like a first run, unread mail only: what
    a person had read before mailgate stays put; what we took but had not yet flagged (a
    crash) comes again, for dedupe."""
    dovecot.append(message(1), flags=[SEEN])  # dealt with by a person before mailgate
    dovecot.append(message(2))
    dovecot.append(message(3))
    acceptor, cursors, events = ListAcceptor(), DictCursors(), Events()
    fetcher = make_fetcher(acceptor, cursors, log=events.logger)
    assert fetcher.run_once() == 2
    fetcher.close()
    with dovecot.client() as client:  # a crash between the commit of Ticket 3 and its flag
        client.select_folder("INBOX")
        client.remove_flags([3], [SEEN])
    dovecot.append(message(4))
    dovecot.set_uidvalidity_change("INBOX")

    assert fetcher.run_once() == 2
    assert fetcher.run_once() == 0
    assert acceptor.subjects() == ["Ticket 2", "Ticket 3", "Ticket 3", "Ticket 4"]
    assert events.count("imap_uidvalidity_changed") == 1
    assert cursors.imap_cursor("support", "INBOX") == (dovecot.uidvalidity(), 4)
    assert all(SEEN in flags for flags in dovecot.flags().values())


def test_first_run_cut_short_resumes_as_a_first_run(dovecot, make_fetcher):
    """after=seen: a first run stopped early (spool busy, then a restart) still skips the mail
    that was already read when it started; afterwards the cursor alone decides again."""
    dovecot.append(message(1))
    dovecot.append(message(2))  # unread: the spool is busy when we get to it
    dovecot.append(message(3), flags=[SEEN])  # read by people before mailgate was set up
    dovecot.append(message(4), flags=[SEEN])
    dovecot.append(message(5))

    def spool_busy_once(raw: bytes, attempt: int) -> BaseException | None:
        return TransientError("database is locked") if b"Ticket 2" in raw and attempt == 1 else None

    acceptor, cursors = ListAcceptor(before=spool_busy_once), DictCursors()
    assert make_fetcher(acceptor, cursors).run_once() == 1
    restarted = make_fetcher(acceptor, cursors)
    assert restarted.run_once() == 2
    assert acceptor.subjects() == ["Ticket 1", "Ticket 2", "Ticket 5"]
    assert cursors.imap_cursor("support", "INBOX")[1] == 5
    dovecot.append(message(6), flags=[SEEN])  # opened by somebody before we got to it
    assert restarted.run_once() == 1
    assert acceptor.subjects()[-1] == "Ticket 6"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_first_run_mark_survives_a_restart_in_the_store(dovecot, make_fetcher, request,
                                                       tmp_path, backend):
    """The first run's mark is kept in the database of either backend: after the daemon is
    restarted part-way (a new connection), the run goes on, read mail still skipped."""
    if backend == "sqlite":
        def open_db() -> Store:
            return Store.open(tmp_path / "mailgate.db")
    else:
        from mailgate.store.postgres import PgStore

        server = request.getfixturevalue("pg_server")
        url = server.database()

        def open_db() -> Store:
            return PgStore.open_url(url, password=server.password)
    dovecot.append(message(1))
    dovecot.append(message(2), flags=[SEEN])
    dovecot.append(message(3))

    def spool_busy_once(raw: bytes, attempt: int) -> BaseException | None:
        return TransientError("database is locked") if b"Ticket 3" in raw and attempt == 1 else None

    acceptor, first = ListAcceptor(before=spool_busy_once), StoreCursors(open_db)
    assert make_fetcher(acceptor, first).run_once() == 1
    first._store().close()
    again = StoreCursors(open_db)
    assert again.imap_cursor("support", "INBOX") == (dovecot.uidvalidity(), -3)
    assert make_fetcher(acceptor, again).run_once() == 1
    assert acceptor.subjects() == ["Ticket 1", "Ticket 3"]
    assert again.imap_cursor("support", "INBOX") == (dovecot.uidvalidity(), 3)
    again._store().close()


def big_message(n: int, size: int) -> bytes:
    """Message ``n`` padded with 78-byte lines to about ``size`` bytes."""
    return message(n, f"Big {n}") + (b"B" * 76 + b"\r\n") * (size // 78)


def test_oversized_message_is_set_aside_whole_and_reported_once(dovecot, make_fetcher):
    """A message over the size limit is not downloaded: it is moved, byte for byte, to
    error_folder and reported once; the mail around it goes through; nothing loops."""
    big = big_message(2, 8000)
    dovecot.append(message(1))
    dovecot.append(big)
    dovecot.append(message(3))
    acceptor, events, states = ListAcceptor(), Events(), ImapStates()
    fetcher = make_fetcher(acceptor, DictCursors(), log=states.logger("support", events.logger),
                           max_message_size=4096)

    assert fetcher.run_once() == 2
    assert acceptor.subjects() == ["Ticket 1", "Ticket 3"]
    # what an admin watches says so, not only the log: /healthz degraded, /metrics counts it
    status, body = health_report(stopping=False, listener={"enabled": False},
                                 processor_up=True, database={"ok": True},
                                 imap=states.snapshot(), reload=None)
    assert status == 200 and body["status"] == "degraded"
    assert "1 message(s) over the size limit set aside unread in mailgate-errors" in \
        body["warnings"][0]
    assert list(dovecot.messages("mailgate-errors").values()) == [big]
    [report] = [r for r in events.records if r["event"] == "imap_message_too_large"]
    assert (report["uid"], report["size"], report["limit"], report["moved_to"]) == (
        2, len(big), 4096, "mailgate-errors")
    dovecot.append(big_message(4, 5000))  # after the first run too
    assert fetcher.run_once() == 0
    assert fetcher.run_once() == 0
    assert events.count("imap_message_too_large") == 2
    assert len(dovecot.list_uids("mailgate-errors")) == 2
    assert dovecot.list_uids("INBOX") == [1, 3]


# -- one node at a time: the account's lease ------------------------------------------------------


@pytest.fixture
def lease_db(tmp_path) -> Iterator[Callable[[], StoreCursors]]:
    """Cursors and leases in one real (SQLite) store, as the daemon keeps them; one per node."""
    opened: list[Store] = []

    def open_db() -> Store:
        opened.append(Store.open(tmp_path / "mailgate.db"))
        return opened[-1]

    yield lambda: StoreCursors(open_db)
    for store in opened:
        store.close()


def lease_row(cursors: StoreCursors) -> dict:
    [row] = cursors._store().imap_leases()
    return row


def test_only_the_lease_holder_reads_and_a_clean_stop_hands_over(dovecot, make_fetcher,
                                                                 lease_db):
    """Two fetchers of one account: one reads (renewing in IDLE), the other waits in standby
    and takes over at once when the first stops cleanly and gives the lease back."""
    db_a, db_b = lease_db(), lease_db()
    acceptor_a, acceptor_b, events_a, events_b = ListAcceptor(), ListAcceptor(), Events(), Events()
    fetcher_a = make_fetcher(acceptor_a, db_a, leases=db_a, node="node-a", log=events_a.logger,
                             lease="2s", poll_interval=3600)
    fetcher_b = make_fetcher(acceptor_b, db_b, leases=db_b, node="node-b", log=events_b.logger,
                             lease="2s", poll_interval=3600)
    stop_a, thread_a = run_in_thread(fetcher_a)
    assert events_a.wait_for("imap_idle_started")
    stop_b, thread_b = run_in_thread(fetcher_b)
    try:
        assert events_b.wait_for("imap_standby")
        assert [r["holder"] for r in events_b.records if r["event"] == "imap_standby"] == \
            ["node-a"]
        for n in (1, 2, 3):
            dovecot.append(message(n))
        assert acceptor_a.wait_for(lambda subjects: len(subjects) == 3)
        # node a renews while in IDLE: its lease outlives several lease periods
        first = lease_row(db_a)
        wait_until(lambda: lease_row(db_a)["renewed_at"] > first["acquired_at"]
                   + timedelta(seconds=3), 10, message="the lease was not renewed in IDLE")
        assert lease_row(db_a)["holder"] == "node-a"
        assert events_b.count("imap_connected") == 0 and acceptor_b.accepted == []
        stop_thread(stop_a, thread_a)  # a clean stop gives the lease back
        assert events_a.count("imap_lease_released") == 1
        assert events_b.wait_for("imap_idle_started", timeout=5)
        dovecot.append(message(4))
        assert acceptor_b.wait_for(lambda subjects: subjects == ["Ticket 4"])
    finally:
        stop_a.set()
        stop_thread(stop_b, thread_b)
    assert acceptor_a.subjects() == ["Ticket 1", "Ticket 2", "Ticket 3"]
    assert acceptor_b.subjects() == ["Ticket 4"]  # the cursor is shared: nothing read twice
    assert lease_row(db_b)["holder"] is None


def test_lost_lease_stops_reading_and_logs_out(dovecot, make_fetcher, lease_db):
    """A fetcher whose lease another node took (it was paused past its lease) notices at its
    next renewal, even between polls, logs out and waits in standby, shown in the health."""
    db_a, thief = lease_db(), lease_db()
    states, events, acceptor = ImapStates(), Events(), ListAcceptor()
    fetcher = make_fetcher(acceptor, db_a, leases=db_a, node="node-a", lease="2s", idle=False,
                           poll_interval=3600, log=states.logger("support", events.logger))
    stop, thread = run_in_thread(fetcher)
    try:
        assert events.wait_for("imap_connected")
        assert states.snapshot()["support"]["lease_holder"] == "node-a"
        # node x takes the lease as if it had expired: its "now" lies past node a's lease
        later = clock.now() + timedelta(hours=1)
        assert thief._store().imap_lease_take("support", "node-x", later, later) == "node-x"
        assert events.wait_for("imap_standby", timeout=5)
        assert [(r["event"], r.get("holder"), r.get("reason")) for r in events.records
                if r["event"] in ("imap_lease_lost", "imap_disconnected", "imap_standby")] == [
            ("imap_lease_lost", "node-x", "the lease is held by node-x"),
            ("imap_disconnected", None, "lease lost"),
            ("imap_standby", "node-x", None)]
        state = states.snapshot()["support"]
        assert (state["state"], state["lease_holder"]) == ("standby", "node-x")
        assert health_report(stopping=False, listener={"enabled": False}, processor_up=True,
                             database={"ok": True}, imap=states.snapshot(), reload=None,
                             )[1]["status"] == "ok"  # standby is how it should be
        dovecot.append(message(1))
        assert thief._store().imap_lease_release("support", "node-x")  # node x stops
        assert acceptor.wait_for(lambda subjects: subjects == ["Ticket 1"])
    finally:
        stop_thread(stop, thread)
    assert events.count("imap_connected") == 2


def test_oversized_message_that_cannot_be_moved_is_left_and_reported_once(dovecot,
                                                                           make_fetcher):
    """When error_folder cannot be made (here an invalid name) the oversized message stays in
    INBOX, unread and untouched, reported once: neither the first run nor a restart loops on
    it."""
    dovecot.append(big_message(1, 8000))
    dovecot.append(message(2))
    acceptor, cursors, events = ListAcceptor(), DictCursors(), Events()
    fetcher = make_fetcher(acceptor, cursors, log=events.logger, max_message_size=4096,
                           error_folder="~nowhere")

    assert fetcher.run_once() == 1
    assert fetcher.run_once() == 0
    assert make_fetcher(acceptor, cursors, max_message_size=4096,
                        error_folder="~nowhere").run_once() == 0
    assert acceptor.subjects() == ["Ticket 2"]
    [report] = [r for r in events.records if r["event"] == "imap_message_too_large"]
    assert (report["uid"], report["moved_to"]) == (1, None)
    assert "Invalid mailbox name" in report["reason"]
    assert [SEEN in flags for flags in dovecot.flags().values()] == [False, True]


class SubjectAcceptor:
    """Accepts everything and keeps only the subjects, so the test's own memory stays flat."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    def accept(self, raw, *, channel, mail_from=None, rcpt_tos=None, source=None) -> int:
        self.subjects.append(subject(raw.partition(b"\r\n\r\n")[0]))  # parse the head only
        return len(self.subjects)

    def outcome(self, spool_id: int, timeout: float) -> str:
        return "done"


def test_a_batch_holds_at_most_the_size_limit_in_bytes(dovecot, make_fetcher):
    """Memory is bounded by the size limit, not by batch_size times the largest mail: eight
    1 MiB messages under a 1.5 MiB limit are fetched one by one (Python's peak while reading
    them stays near one message's worth, however many fit the count)."""
    limit, size = 1536 * 1024, 1024 * 1024
    with dovecot.client() as client:
        for n in range(1, 9):
            client.append("INBOX", big_message(n, size))
    acceptor = SubjectAcceptor()
    fetcher = make_fetcher(acceptor, DictCursors(), max_message_size=limit, batch_size=50)
    tracemalloc.start()
    try:
        assert fetcher.run_once() == 8
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert acceptor.subjects == [f"Big {n}" for n in range(1, 9)]
    assert peak < 4 * size, f"peak {peak / size:.1f} MiB"
