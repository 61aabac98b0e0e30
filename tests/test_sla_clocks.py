"""SLA clocks across pauses, closes, reopens and reloads, and the reminders they plan.

Calendar of ``tests.test_sla.SLA``: Moscow, Mon-Fri 05:00-14:00 MSK (UTC+3), standard level
8 h first response, 40 h resolution, reminders at 75 % and 100 %. Every ticket here is created
Tue 2026-03-10 09:00 MSK (06:00 UTC), so its first response is due Wed 08:00 MSK.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from mailgate import clock, clocks, desk
from mailgate.clock import from_db
from mailgate.config import Config, load_config
from mailgate.logs import configure_logging
from mailgate.store import Store, base, open_store, schema
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.support import wait_until
from tests.test_sla import REAL_TIME, SLA, _accept, _sent

CREATED = "2026-03-10 06:00:00"  # Tue 09:00 MSK


def _config(tmp_path: Path, *extra: dict[str, Any]) -> Config:
    config = load_config(write_config(tmp_path, SLA, *extra))
    configure_logging(config.logging)
    return config


@contextmanager
def _ticket(config: Config, subject: str = "Printer broken", message_id: str | None = None,
            ) -> Iterator[tuple[RunningDaemon, Any]]:
    """A running daemon at CREATED (time frozen) with ticket 1 created by a customer's mail."""
    with freeze_time(CREATED, ignore=REAL_TIME) as frozen:
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail(subject, message_id=message_id))
            yield daemon, frozen
        finally:
            daemon.stop()


def _set(config: Config, store: Store, status: str) -> None:
    with store.transaction():
        desk.set_status(config, store, store.ticket(1), status, actor="agent@example.com",
                        why="test", now=clock.now())


def _answer(config: Config, store: Store) -> None:
    """What conversation does on an engineer's first public reply."""
    with store.transaction():
        clocks.stop(config, store, 1, "first_response", clock.now(), "first reply")


def _sent_points(store: Store, kind: str = "first_response") -> list[float]:
    return [r["point"] for r in store.reminders(1) if r["state"] == "sent" and r["kind"] == kind]


def _kinds(store: Store) -> list[str]:
    return [e["kind"] for e in store.events(1)]


def test_closing_after_a_long_wait_for_the_customer_is_met(tmp_path: Path) -> None:
    """Answered, 1 h used, then ten days awaiting the customer, then closed: both clocks
    met, no breach in the history or the SLA report, and the deadline moved by the wait."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")  # Tue 10:00 MSK
        _answer(config, store)
        _set(config, store, "awaiting_reply")
        frozen.move_to("2026-03-20 07:00:00")  # Fri 10:00 MSK, ten days later
        _set(config, store, "closed")
        report = store.sla_report(clock.now())
    assert {c["kind"]: c["state"] for c in store.clocks(1)} == {
        "first_response": "met", "resolution": "met"}
    assert "sla_breached" not in _kinds(store)
    assert all(r["breached"] == 0 and r["met"] == 1 for r in report)
    # 39 h of resolution left at the pause: Fri 10:00 MSK + 39 working hours (9 a day) =
    # Thu 13:00 MSK
    assert store.ticket(1).resolution_due == datetime(2026, 3, 26, 10, 0, tzinfo=UTC)


def test_closing_an_unanswered_ticket_is_not_a_met_first_response(tmp_path: Path) -> None:
    """Closed in time without any response (an engineer closes it, or it closes itself):
    the SLA report counts the first response "closed unanswered", neither met nor breached;
    the customer writing again reopens it and the clock runs again, the closed days not
    counted."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")  # Tue 10:00 MSK, 1 h used
        _set(config, store, "closed")
        report = {r["kind"]: r for r in store.sla_report(clock.now())}
        assert store.clock(1, "first_response")["state"] == "unanswered"
        assert report["first_response"]["unanswered"] == 1
        assert report["first_response"]["met"] == report["first_response"]["breached"] == 0
        assert report["resolution"]["met"] == 1
        assert "sla_unanswered" in _kinds(store) and "sla_breached" not in _kinds(store)
        frozen.move_to("2026-03-16 07:00:00")  # Mon 10:00 MSK
        _set(config, store, "open")
        assert store.clock(1, "first_response")["state"] == "running"
    # 7 h left at the close: Mon 10:00 MSK + 7 working hours = Mon 17:00 -> Tue 08:00 MSK
    assert store.ticket(1).first_response_due == datetime(2026, 3, 17, 5, 0, tzinfo=UTC)


def test_closing_an_unanswered_ticket_late_is_a_breach(tmp_path: Path) -> None:
    """Closed without a response after its first response deadline: breached, as ever."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-12 07:00:00")  # Thu, past Wed 08:00 MSK
        _set(config, store, "closed")
    assert store.clock(1, "first_response")["state"] == "breached"


def test_first_reply_while_on_hold_is_met(tmp_path: Path) -> None:
    """The first public reply sent while the ticket is on hold, after the deadline it had
    before the hold, meets the first response."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")
        _set(config, store, "on_hold")
        frozen.move_to("2026-03-12 07:00:00")  # past Wed 08:00 MSK
        with store.transaction():  # what conversation does on an engineer's first reply
            clocks.stop(config, store, 1, "first_response", clock.now(), "first reply")
    assert store.clock(1, "first_response")["state"] == "met"


def test_auto_close_of_a_waiting_ticket_records_no_breach(tmp_path: Path) -> None:
    """auto_close_after = 7d: the ticket closes after a week awaiting the customer; its
    clocks are met, no sla_breached event."""
    config = _config(tmp_path, {"conversation": {"auto_close_after": "7d"}})
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")
        _answer(config, store)
        _set(config, store, "awaiting_reply")
        frozen.move_to("2026-03-17 07:05:00")
        daemon.run_reminders()
    assert store.ticket(1).status == "closed" and "auto_closed" in _kinds(store)
    assert [c["state"] for c in store.clocks(1)] == ["met", "met"]
    assert "sla_breached" not in _kinds(store)


def test_reopen_counts_the_wait_before_the_close(tmp_path: Path) -> None:
    """awaiting_reply 2 h, closed, reopened 6 working hours later: the resolution deadline
    moves by all 8 hours, the wait before the close included."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        # 40 working hours from Tue 09:00 MSK: Mon 16 March 13:00 MSK.
        assert store.ticket(1).resolution_due == datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
        frozen.move_to("2026-03-10 07:00:00")  # Tue 10:00 MSK
        _set(config, store, "awaiting_reply")
        frozen.move_to("2026-03-10 09:00:00")  # Tue 12:00 MSK: 2 h waited
        _set(config, store, "closed")
        frozen.move_to("2026-03-11 06:00:00")  # Wed 09:00 MSK: 2 h + 4 h closed
        _set(config, store, "open")
    # Mon 13:00 MSK + 8 h: Mon 13:00-14:00, Tue 05:00-12:00 MSK.
    assert store.ticket(1).resolution_due == datetime(2026, 3, 17, 9, 0, tzinfo=UTC)
    assert store.clock(1, "resolution")["state"] == "running"


def test_reminder_after_a_long_hold_comes_at_its_share_of_the_target(tmp_path: Path) -> None:
    """1 h of 8 used, a week on hold: the 75 % reminder is planned where 6 h are used (5 more
    working hours after the hold), and nothing is sent when the hold ends."""
    config = _config(tmp_path)
    with _ticket(config) as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")  # Tue 10:00 MSK
        _set(config, store, "on_hold")
        frozen.move_to("2026-03-17 07:00:00")  # Tue 10:00 MSK, a week later
        _set(config, store, "open")
        daemon.run_reminders()
        pending = {r["point"]: from_db(r["fire_at"]) for r in store.reminders(1)
                   if r["kind"] == "first_response" and r["state"] == "pending"}
        assert _sent_points(store) == []
        # Tue 10:00-14:00 MSK is 4 h, then Wed 05:00 + 1 h.
        assert pending[0.75] == datetime(2026, 3, 18, 3, 0, tzinfo=UTC)
        frozen.move_to("2026-03-18 02:59:00")
        daemon.run_reminders()
        assert _sent_points(store) == []
        frozen.move_to("2026-03-18 03:00:00")
        daemon.run_reminders()
        assert _sent_points(store) == [0.75]


def test_pause_and_resume_never_send_a_reminder_twice(tmp_path: Path) -> None:
    """75 % sent, three short holds, then the breach, then another hold: the team gets the
    75 % mail once and the breach mail once."""
    config = _config(tmp_path)
    with _ticket(config, "Cycles") as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-11 03:30:00")  # Wed 06:30 MSK: 6.5 h used, past 75 %
        daemon.run_reminders()
        for _ in range(3):  # three holds of 10 working minutes
            _set(config, store, "on_hold")
            frozen.tick(600)
            _set(config, store, "open")
            daemon.run_reminders()
            frozen.tick(60)
        frozen.move_to("2026-03-11 06:00:00")  # past the deadline, moved by 30 min
        daemon.run_reminders()
        _set(config, store, "on_hold")
        frozen.tick(3600)
        _set(config, store, "open")
        frozen.tick(60)
        daemon.run_reminders()
        daemon.wait_outbox_idle()
        assert _sent_points(store) == [0.75, 1.0]
        subjects = [m["Subject"].split(":")[0] for m in _sent(daemon) if "SLA" in m["Subject"]]
    assert subjects == ["[SUP-000001] SLA first response 75% of target",
                        "[SUP-000001] SLA first response breached"]
    assert _kinds(store).count("sla_breached") == 1


def test_breach_repeats_go_on_after_a_reload(tmp_path: Path) -> None:
    """repeat_after_breach = 1h: a reload's recompute keeps the repeats coming, an hour apart."""
    config = _config(tmp_path, {"sla": {"levels": {"standard": {"repeat_after_breach": "1h"}}}})
    with _ticket(config, "Repeat") as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-11 05:30:00")  # past due (Wed 08:00 MSK)
        daemon.run_reminders()
        assert _sent_points(store) == [0.75, 1.0]
        with store.transaction():  # what a reload after an [sla] edit does for open clocks
            clocks.recompute_ticket(config, store, 1, clock.now())
        frozen.move_to("2026-03-11 06:29:00")
        daemon.run_reminders()
        assert _sent_points(store) == [0.75, 1.0]
        frozen.move_to("2026-03-11 06:30:00")
        daemon.run_reminders()
        assert _sent_points(store) == [0.75, 1.0, 2.0]
        with store.transaction():
            clocks.recompute_ticket(config, store, 1, clock.now())
        frozen.move_to("2026-03-11 07:30:00")
        daemon.run_reminders()
        assert _sent_points(store) == [0.75, 1.0, 2.0, 3.0]


def test_reload_moves_deadlines_without_touching_updated_at(tmp_path: Path) -> None:
    """A recompute (reload) on an idle ticket keeps its "last updated"; a changed target moves
    the deadline column all the same."""
    config = _config(tmp_path)
    with _ticket(config, "Quiet ticket") as (daemon, frozen):
        store = daemon.store()
        before = store.ticket(1).updated_at
        frozen.move_to("2026-03-12 06:00:00")
        with store.transaction():
            clocks.recompute_ticket(config, store, 1, clock.now())
        assert store.ticket(1).updated_at == before
        stricter = _config(tmp_path / "b", {"sla": {"levels": {"standard": {
            "first_response": "4h"}}}})
        with store.transaction():
            clocks.recompute_ticket(stricter, store, 1, clock.now())
        assert store.ticket(1).updated_at == before
        assert store.ticket(1).first_response_due == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_clock_starts_when_the_mail_was_accepted(tmp_path: Path) -> None:
    """A mail committed to the spool Fri 13:30 MSK and processed Mon 09:00 MSK: the first
    response is due Mon 12:30 MSK (8 working hours from acceptance), the ticket was created
    at acceptance."""
    config = _config(tmp_path)
    accepted = datetime(2026, 3, 13, 10, 30, tzinfo=UTC)
    store = open_store(config)
    with store.transaction():  # as `mailgate ingest` commits before it exits 0
        store.spool_add(make_mail("Sent on Friday").as_bytes(), channel="pipe",
                        received_at=accepted, mail_from="customer@example.org",
                        rcpt_tos=["support@example.com"])
    store.close()
    with freeze_time("2026-03-16 06:00:00", ignore=REAL_TIME):  # Mon 09:00 MSK
        daemon = RunningDaemon(config).start()
        try:
            store = daemon.store()
            wait_until(lambda: store.spool_state(1) == "done", 20)
        finally:
            daemon.stop()
    ticket = store.ticket(1)
    assert ticket.first_response_due == datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
    assert ticket.created_at == accepted
    assert store.clock(1, "first_response")["started_at"] == accepted


def test_thanks_while_awaiting_reply_keeps_the_auto_close(tmp_path: Path) -> None:
    """A customer's bare thank-you keeps the ticket awaiting_reply (issue 16) and the waiting
    period starts again from it: the ticket auto-closes 7 days after the thanks, not never."""
    config = _config(tmp_path, {"conversation": {"auto_close_after": "7d"}})
    with _ticket(config, message_id="<first@example.org>") as (daemon, frozen):
        store = daemon.store()
        frozen.move_to("2026-03-10 07:00:00")
        _set(config, store, "awaiting_reply")
        frozen.move_to("2026-03-11 07:00:00")
        _accept(daemon, make_mail("Re: [SUP-000001] Printer broken", body="Thank you!\n",
                                  In_Reply_To="<first@example.org>"))
        assert "thanks_suppressed" in _kinds(store)
        assert store.ticket(1).status == "awaiting_reply"
        frozen.move_to("2026-03-18 06:59:00")  # a week after the request, not after the thanks
        daemon.run_reminders()
        assert store.ticket(1).status == "awaiting_reply"
        frozen.move_to("2026-03-18 07:00:00")
        daemon.run_reminders()
    assert store.ticket(1).status == "closed" and "auto_closed" in _kinds(store)
    assert "sla_breached" not in _kinds(store)


def test_migration_remembers_reminders_sent_before_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that sent the 75 % reminder before sla_clocks remembered sent points: the
    upgrade takes the point from the sent rows, and a later hold does not send it again."""
    config = _config(tmp_path)
    older = [m for m in schema.MIGRATIONS if m[0] < 11]
    monkeypatch.setattr(base, "MIGRATIONS", older)
    monkeypatch.setattr(base, "LATEST", older[-1][0])
    with freeze_time(CREATED, ignore=REAL_TIME):
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail("Before the upgrade"))
        finally:
            daemon.stop()
    store = daemon.store()
    with store.transaction():  # the old code sent it: a sent row, nothing on the clock
        store._x("UPDATE reminders SET state = 'sent', sent_at = ? WHERE point = 0.75"
                 " AND kind = 'first_response'", ("2026-03-11T03:00:00.000000+00:00",))
    store.close()
    monkeypatch.undo()
    store = open_store(config)  # the upgrade
    assert store.clock(1, "first_response")["last_point"] == 0.75
    assert store.clock(1, "resolution")["last_point"] is None
    with freeze_time("2026-03-11 03:30:00"):
        _set(config, store, "on_hold")
        _set(config, store, "open")
    pending = [r["point"] for r in store.reminders(1)
               if r["kind"] == "first_response" and r["state"] == "pending"]
    assert pending == [1.0]


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "less than a minute"), (11.977067, "less than a minute"), (12 * 60 + 5, "12 min"),
    (3 * 3600, "3 h"), (3 * 3600 + 5 * 60, "3 h 5 min"), (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
])
def test_time_spans_read_as_people_write_them(seconds: float, shown: str) -> None:
    """Events and reminders say "3 h 5 min", never "0:00:11.977067"."""
    from mailgate.clocks import span

    assert span(timedelta(seconds=seconds)) == shown
