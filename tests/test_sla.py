"""Classification rules and SLA clocks: levels, business-time deadlines, pauses, reminders."""

from __future__ import annotations

import email
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from freezegun import freeze_time

from mailgate import clock
from mailgate.config import load_config
from mailgate.defaults import SLA_PRESETS
from mailgate.logs import configure_logging
from mailgate.message import parse
from mailgate.sla import classify
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail

# Threads of the daemon keep real monotonic time; only wall-clock "now" is frozen.
REAL_TIME = ["asyncio", "apscheduler", "aiosmtpd", "concurrent", "threading", "queue",
             "selectors", "socket", "smtplib", "sqlite3", "psycopg", "psycopg_pool",
             "tests.conftest"]

WORKDAY = ["05:00-14:00"]
SLA = {"sla": {
    "default_level": "standard",
    "team_address": "team@example.com",
    "trust_stated_priority": True,
    "calendars": {"moscow": {
        "timezone": "Europe/Moscow",
        "hours": {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays_country": "RU",
    }},
    "levels": {
        "standard": {"calendar": "moscow", "first_response": "8h", "resolution": "40h",
                     "reminders": [0.75, 1.0]},
        "urgent": {"calendar": "moscow", "first_response": "6h"},
    },
    "rules": [
        {"name": "ACME contract", "from_addresses": ["acme.example"], "level": "urgent",
         "category": "incident"},
        {"name": "outage keyword", "keywords": ["outage"], "level": "urgent",
         "priority": "urgent"},
    ],
    "fields": [{"name": "version", "pattern": r"Version:\s*([0-9][\w.]*)"}],
}}


@pytest.fixture
def sla_config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, SLA)


def test_rules_first_match_wins(sla_config_path: Path) -> None:
    """A contract customer's domain gives level urgent and category incident."""
    config = load_config(sla_config_path)
    decided = classify(config, parse(make_mail(sender="bob@ops.acme.example").as_bytes()))
    assert (decided.level, decided.category, decided.rule) == ("urgent", "incident",
                                                               "ACME contract")
    plain = classify(config, parse(make_mail().as_bytes()))
    assert plain.level == "standard" and plain.rule is None


def test_keyword_rule_and_stated_priority(sla_config_path: Path) -> None:
    """Keywords match whole words; a stated priority is used when trusted."""
    config = load_config(sla_config_path)
    outage = classify(config, parse(make_mail("Total OUTAGE since 9:00").as_bytes()))
    assert (outage.level, outage.priority) == ("urgent", "urgent")
    stated = classify(config, parse(make_mail(body="Приоритет: высокий\nVersion: 8.3.1\n")
                                    .as_bytes()))
    assert stated.priority == "high"
    assert stated.fields == {"version": "8.3.1"}
    assert classify(config, parse(make_mail("outages report").as_bytes())).level == "standard"


def test_preset_loads_and_passes_check_config(tmp_path: Path) -> None:
    """The shipped Russian-vendor SLA preset is a valid config with its four levels and 24x7."""
    preset = SLA_PRESETS / "russian-vendor.toml"
    config = load_config(preset)
    assert {"consultation", "standard", "urgent", "development", "critical-24x7"} <= set(
        config.sla.levels)
    assert str(config.sla.levels["development"].resolution) == "24wd"


def test_check_config_rejects_unknown_calendar_and_country(tmp_path: Path) -> None:
    """A level naming an unknown calendar, or an unknown holiday country, is refused by name."""
    bad = write_config(tmp_path, {"sla": {
        "calendars": {"x": {"holidays_country": "XX", "hours": {"mon": ["09:00-17:00"]}}},
        "levels": {"standard": {"calendar": "nowhere"}}}})
    result = subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78
    assert "sla.calendars.x" in result.stderr and "XX" in result.stderr


def test_check_config_rejects_calendar_without_working_time(tmp_path: Path) -> None:
    """A calendar with no working hours at all is refused."""
    bad = write_config(tmp_path, {"sla": {"calendars": {"never": {"hours": {}}}}})
    with pytest.raises(Exception, match="no working time"):
        load_config(bad)


def _sent(daemon: RunningDaemon) -> list[email.message.EmailMessage]:
    folder = daemon.outbox_dir
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def _accept(daemon: RunningDaemon, msg) -> None:
    code, text = daemon.send(msg)
    assert code == 250, text
    assert daemon.wait_processed(int(text.decode().rsplit(" ", 1)[1])) == "done"


def test_ack_states_business_deadline_in_calendar_zone(sla_config_path: Path) -> None:
    """Friday 13:30 Moscow + 8 working hours: the ack promises Monday 12:30 MSK, working hours."""
    config = load_config(sla_config_path)
    configure_logging(config.logging)
    with freeze_time("2026-03-13 10:30:00", ignore=REAL_TIME):
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail("Reports are slow"))
            daemon.wait_outbox_idle()
            [ack] = _sent(daemon)
        finally:
            daemon.stop()
    body = ack.get_body(("plain",)).get_content()
    assert "within 8 working hours, by Monday 16 March 2026, 12:30 MSK" in body
    assert "only our working hours count" in body and "Europe/Moscow" in body


def test_explain_prints_due_times_in_the_calendar_zone_named(
        sla_config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mailgate explain` printed "first response due 2026-03-16T09:30" (UTC, unmarked) above
    "due 2026-03-16 12:30 MSK": an admin read two due times. Both lines now name the zone."""
    from contextlib import closing

    from mailgate.inspect import explain, print_explain
    from mailgate.store import open_store

    config = load_config(sla_config_path)
    with closing(open_store(config)) as store:
        result = explain(config, store, make_mail("Reports are slow").as_bytes(),
                         now=datetime(2026, 3, 13, 10, 30, tzinfo=UTC))
    print_explain(result)
    text = capsys.readouterr().out
    assert re.search(r"first response due 2026-03-16 12:30 MSK, resolution due "
                     r"2026-03-\d\d \d\d:\d\d MSK\n", text), text
    assert "due 2026-03-16 12:30 MSK" in text.split("decisions:")[1]
    assert "09:30" not in text


def test_pause_moves_deadline_by_paused_working_time(sla_config_path: Path) -> None:
    """awaiting_reply for 2 working hours moves the first-response deadline by 2 hours."""
    config = load_config(sla_config_path)
    configure_logging(config.logging)
    cli = [sys.executable, "-m", "mailgate"]
    with freeze_time("2026-03-10 06:00:00", ignore=REAL_TIME) as frozen:  # Tue 09:00 MSK
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail("Pause me"))
        finally:
            daemon.stop()
        store = daemon.store()
        # Tue 09:00-14:00 is 5h, Wed 05:00 + 3h: due Wed 08:00 MSK.
        assert store.ticket(1).first_response_due.isoformat() == "2026-03-11T05:00:00+00:00"
        from mailgate import desk

        with store.transaction():
            desk.set_status(config, store, store.ticket(1), "awaiting_reply", actor="t",
                            why="asked the customer", now=clock.now())
        frozen.move_to("2026-03-10 08:00:00")  # two working hours later
        with store.transaction():
            desk.set_status(config, store, store.ticket(1), "open", actor="t",
                            why="customer answered", now=clock.now())
    assert store.ticket(1).first_response_due.isoformat() == "2026-03-11T07:00:00+00:00"
    kinds = [e["kind"] for e in store.events(1)]
    assert kinds.count("sla_paused") == 2 and kinds.count("sla_resumed") == 2
    shown = json.loads(subprocess.run([*cli, "show", "-c", str(sla_config_path), "SUP-000001",
                                       "--json"], capture_output=True, timeout=60).stdout)
    assert shown["first_response_due"].startswith("2026-03-11T07:00")
    assert {"category", "priority", "queue", "fields"} <= set(shown)


def test_reminders_fire_once_each_across_restart(sla_config_path: Path) -> None:
    """75% and 100% reminders are written once each, also when due while the daemon was down."""
    config = load_config(sla_config_path)
    configure_logging(config.logging)
    with freeze_time("2026-03-10 06:00:00", ignore=REAL_TIME) as frozen:  # Tue 09:00 MSK
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail("Remind me"))

            def sent_after_pass() -> int:
                daemon.run_reminders()  # the scheduler may have run it already: count rows
                return len([r for r in daemon.store().reminders() if r["state"] == "sent"])

            frozen.move_to("2026-03-10 09:00:00")  # 3h of 8: nothing due yet
            assert sent_after_pass() == 0
            frozen.move_to("2026-03-11 02:30:00")  # Wed 05:30 MSK: 5.5h used, under 75%
            assert sent_after_pass() == 0
            frozen.move_to("2026-03-11 03:30:00")  # Wed 06:30 MSK: 6.5h used, past 75%
            assert sent_after_pass() == 1
            assert sent_after_pass() == 1
        finally:
            daemon.stop()
        frozen.move_to("2026-03-11 05:30:00")  # past 100% (due 08:00 MSK) while down
        daemon = RunningDaemon(config).start()  # startup catch-up fires the 100% reminder
        try:
            assert sent_after_pass() == 2
            daemon.wait_outbox_idle()
        finally:
            daemon.stop()
    reminders = [m for m in _sent(daemon) if "SLA" in m["Subject"]]
    assert [m["Subject"].split(":")[0] for m in reminders] == [
        "[SUP-000001] SLA first response 75% of target",
        "[SUP-000001] SLA first response breached",
    ]
    assert all(m["To"] == "team@example.com" for m in reminders)
    assert reminders[0]["Auto-Submitted"] == "auto-generated"
    kinds = [e["kind"] for e in daemon.store().events(1)]
    assert kinds.count("sla_reminder") == 2 and kinds.count("sla_breached") == 1


def test_closed_ticket_drops_pending_reminders(sla_config_path: Path) -> None:
    """Closing a ticket stops its clocks: no reminder fires afterwards."""
    config = load_config(sla_config_path)
    configure_logging(config.logging)
    with freeze_time("2026-03-10 06:00:00", ignore=REAL_TIME) as frozen:
        daemon = RunningDaemon(config).start()
        try:
            _accept(daemon, make_mail("Close me"))
            store = daemon.store()
            from mailgate import desk

            with store.transaction():
                desk.set_status(config, store, store.ticket(1), "closed", actor="t",
                                why="done", now=clock.now())
            frozen.move_to("2026-03-12 06:00:00")
            assert daemon.run_reminders() == 0
        finally:
            daemon.stop()
    # (closed in time without a response: see test_sla_clocks)
    assert [c["state"] for c in daemon.store().clocks(1)] == ["unanswered", "met"]


def test_reminder_without_sla_team_address_reaches_the_team_and_threads(
        tmp_path: Path) -> None:
    """Only `[team] address` set: the 75 % reminder still reaches the team, joins the
    ticket's thread (In-Reply-To, References) and carries the engineers' reply address, so
    an answer to it threads and proves itself as a notification's answer does."""
    desk = {"team": {"address": "desk@example.com",
                     "engineers": {"alice": "alice@example.com"}}}
    sla = {"sla": {k: v for k, v in SLA["sla"].items() if k != "team_address"}}
    config = load_config(write_config(tmp_path, sla, desk))
    configure_logging(config.logging)
    with freeze_time("2026-03-10 06:00:00", ignore=REAL_TIME) as frozen:  # Tue 09:00 MSK
        daemon = RunningDaemon(config).start()
        try:
            mail = make_mail("Remind the desk")
            _accept(daemon, mail)
            frozen.move_to("2026-03-11 03:30:00")  # past 75 % of 8 working hours
            daemon.run_reminders()
            daemon.wait_outbox_idle()
        finally:
            daemon.stop()
    [reminder] = [m for m in _sent(daemon) if " SLA " in m["Subject"]]
    assert reminder["To"] == "desk@example.com"
    assert reminder["In-Reply-To"] == reminder["References"].split()[-1]  # the latest
    assert reminder["References"].split()[0] == mail["Message-ID"]  # the thread's root
    assert reminder["Reply-To"].addresses[0].username.startswith("support+sup-000001.")


def test_check_config_warns_when_reminders_reach_nobody(tmp_path: Path) -> None:
    """A level notifying "team" with no team address anywhere: check-config says so."""
    sla = {"sla": {k: v for k, v in SLA["sla"].items() if k != "team_address"}}
    nobody = write_config(tmp_path / "nobody", sla)
    team = write_config(tmp_path / "team", sla, {"team": {"address": "desk@example.com"}})
    said = {name: subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c",
                                  str(path)], capture_output=True, text=True)
            for name, path in (("nobody", nobody), ("team", team))}
    assert all(r.returncode == 0 for r in said.values())
    assert "sla level 'standard' notifies team" in said["nobody"].stderr
    assert "notifies" not in said["team"].stderr


def test_a_reminder_to_an_outside_address_carries_no_engineers_token(tmp_path: Path) -> None:
    """The engineers' reply token (an answer with it is believed as an engineer's) goes
    only on a reminder whose every recipient is an engineer or the team address; one also
    sent to an escalation address, which may be anyone's, gets none."""
    from mailgate.reminders import _reply_to

    config = load_config(write_config(tmp_path, {"team": {
        "address": "desk@example.com", "engineers": {"alice": "alice@example.com"}}}))
    outside = ["desk@example.com", "lead@partner.example"]
    assert _reply_to(config, None, None, outside) is None  # type: ignore[arg-type]
