"""Whole conversations through the SMTP listener: customers, engineers, commands, reopen, merge."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from freezegun import freeze_time

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests.configs import merge, write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_sla import REAL_TIME

TEAM = {
    "team": {"address": "team@example.com",
             "engineers": {"alice": "alice@example.com", "bob": "bob@example.com"}},
    "conversation": {"reopen_window": "30d", "auto_reply_cap": 3},
    "security": {"trusted_authserv_ids": ["mx.example.com"]},  # our MTA (tests/test_identity.py)
}
# What our MTA stamps on an engineer's mail it verified: the proof an engineer's mail needs.
OUR_MTA_PASS = "mx.example.com; dkim=pass header.d=example.com"

CUSTOMER = "Casey Customer <customer@example.org>"


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[RunningDaemon]:
    config = load_config(write_config(tmp_path, TEAM))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def deliver(daemon: RunningDaemon, msg: EmailMessage, mail_from: str | None = None,
            expect: tuple[str, ...] = ("done", "duplicate")) -> None:
    """Send over SMTP, wait until processed (state in ``expect``) and the outbox drained."""
    sender = mail_from if mail_from is not None else email.utils.parseaddr(msg["From"])[1]
    code, text = daemon.send(msg, mail_from=sender)
    assert code == 250, text
    assert daemon.wait_processed(int(text.decode().rsplit(" ", 1)[1])) in expect
    daemon.wait_outbox_idle()


def mails(daemon: RunningDaemon, to: str | None = None) -> list[EmailMessage]:
    folder = daemon.outbox_dir
    found = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in sorted(folder.glob("*.eml"))] if folder.exists() else []
    return [m for m in found if to is None or to in str(m["To"])]


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def events(daemon: RunningDaemon, ticket: int = 1) -> list[str]:
    return [e["kind"] for e in daemon.store().events(ticket)]


def reply(to: EmailMessage, text: str, *, sender: str = CUSTOMER, **headers: str) -> EmailMessage:
    """A reply as a mail client makes it: to the Reply-To, Re: subject, In-Reply-To, quoted
    history (an engineer answering a notification proves it is theirs by its per-engineer
    Reply-To)."""
    quoted = "\n".join("> " + line for line in body(to).splitlines())
    address = to["Reply-To"].addresses[0].addr_spec if to["Reply-To"] else "support@example.com"
    return make_mail(f"Re: {to['Subject']}", sender=sender, to=address,
                     In_Reply_To=to["Message-ID"],
                     References=to["Message-ID"], body=f"{text}\n\nOn Mon, Jan 5, 2026 at "
                     f"9:30 AM Support <support@example.com> wrote:\n{quoted}\n", **headers)


def test_full_conversation(desk: RunningDaemon) -> None:
    """Customer writes with a CC; engineer answers with commands; customer and CC reply."""
    first = make_mail("VPN drops every hour", sender=CUSTOMER,
                      to="support@example.com, Tech Contact <tech@example.org>")
    deliver(desk, first)
    assert len(mails(desk, "customer@example.org")) == 1  # the acknowledgement
    [notice] = mails(desk, "team@example.com")
    assert notice["Subject"] == "[SUP-000001] VPN drops every hour"
    # answers come back here, to the address only a notified engineer knows
    assert notice["Reply-To"].addresses[0].addr_spec.startswith("support+sup-000001.")
    assert body(notice).startswith("Hello, the printer is broken.")  # the new text on top

    engineer = reply(notice, "#priority high\n#assign bob\n\nPlease send us the VPN log.",
                     sender="Alice Engineer <alice@example.com>")
    deliver(desk, engineer)
    relays = [m for m in mails(desk) if "Alice Engineer" in str(m["From"])]
    assert len(relays) == 1
    [relay] = relays
    assert [a.addr_spec for a in relay["To"].addresses] == ["customer@example.org"]
    assert [a.addr_spec for a in relay["Cc"].addresses] == ["tech@example.org"]
    assert relay["From"].addresses[0].addr_spec == "support@example.com"
    assert "alice@example.com" not in str(relay)  # the engineer's address stays private
    assert "Please send us the VPN log." in body(relay)
    assert "#priority" not in body(relay) and "printer is broken" not in body(relay)
    assert relay["Auto-Submitted"] is None
    # the customer's thread: their mail and our ack, never the engineer's own Message-ID
    # (it names their mail host) nor the team's notice
    refs = str(relay["References"]).split()
    assert first["Message-ID"] in refs
    assert engineer["Message-ID"] not in refs and notice["Message-ID"] not in refs
    shown = desk.store().ticket_record(1)
    assert (shown["priority"], shown["assignee"]) == ("high", "bob@example.com")
    assert shown["first_response_at"] is not None
    assert "sla_met" in events(desk)

    deliver(desk, reply(relay, "Here is the log: timeout after 3600s."))
    [notice2] = [m for m in mails(desk, "bob@example.com")]  # the assignee now, not the team
    assert "timeout after 3600s" in body(notice2)
    deliver(desk, reply(relay, "It also happens at our branch office.",
                        sender="Tech Contact <tech@example.org>"))
    ticket_messages = desk.store().messages(1)
    assert [m["from_addr"] for m in ticket_messages if m["direction"] == "in"] == [
        "customer@example.org", "alice@example.com", "customer@example.org", "tech@example.org"]
    assert len(desk.store().tickets()) == 1


def test_invalid_command_relays_nothing_and_answers_engineer(desk: RunningDaemon) -> None:
    """A typo in a command applies nothing, relays nothing and tells the engineer why."""
    deliver(desk, make_mail("Printer jam", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#close\n#stauts on_hold\nFixed it.",
                        sender="alice@example.com"))
    [error] = mails(desk, "alice@example.com")
    assert "#stauts" in body(error) and "nothing was" in body(error).replace("\n", " ")
    assert desk.store().ticket(1).status == "open"  # #close was not applied either
    assert not [m for m in mails(desk, "customer@example.org") if "Fixed it" in body(m)]
    # answering the error with the corrected command is the engineer's again (its Reply-To)
    deliver(desk, reply(error, "#status on_hold", sender="alice@example.com"))
    assert desk.store().ticket(1).status == "on_hold"


def test_note_is_internal(desk: RunningDaemon) -> None:
    """#note keeps the rest of the mail on the ticket and away from the customer."""
    deliver(desk, make_mail("Slow database", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#note customer is on the old plan, upsell?",
                        sender="alice@example.com"))
    assert len(mails(desk, "customer@example.org")) == 1  # just the ack
    assert "note" in events(desk)


def test_commands_from_non_engineer_are_plain_text(desk: RunningDaemon) -> None:
    """A customer (or a forged From) writing #close does not close anything."""
    deliver(desk, make_mail("Need help", sender=CUSTOMER))
    [ack] = mails(desk, "customer@example.org")
    deliver(desk, reply(ack, "#close\n#assign alice"))
    record = desk.store().ticket_record(1)
    assert (record["status"], record["assignee"]) == ("open", None)


def test_thanks_does_not_reopen_substantive_does(desk: RunningDaemon) -> None:
    """After close, 'thank you' stays closed and silent; 'thanks, but...' reopens and notifies."""
    deliver(desk, make_mail("Mail not syncing", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#close\nShould be fixed now.", sender="alice@example.com"))
    assert desk.store().ticket(1).status == "closed"
    [relay] = [m for m in mails(desk, "customer@example.org") if "fixed now" in body(m)]
    before = len(mails(desk))
    deliver(desk, reply(relay, "Tack så mycket!"))
    assert desk.store().ticket(1).status == "closed"
    assert "thanks_suppressed" in events(desk)
    assert len(mails(desk)) == before  # no acknowledgement, no notification
    deliver(desk, reply(relay, "Thanks, but it still fails on my laptop."))
    assert desk.store().ticket(1).status == "open"
    assert len(mails(desk, "team@example.com")) == 2


def test_late_reply_opens_linked_ticket(desk: RunningDaemon) -> None:
    """A reply after the reopen window opens a new ticket linked to the old one."""
    with freeze_time("2026-01-05 09:00:00", ignore=REAL_TIME) as frozen:
        deliver(desk, make_mail("Old problem", sender=CUSTOMER))
        [notice] = mails(desk, "team@example.com")
        deliver(desk, reply(notice, "#close", sender="alice@example.com"))
        [ack] = mails(desk, "customer@example.org")
        frozen.move_to("2026-03-01 09:00:00")
        deliver(desk, reply(ack, "It is back again after two months."))
    assert [t["reference"] for t in desk.store().tickets()] == ["SUP-000002", "SUP-000001"]
    assert desk.store().ticket(1).status == "closed"
    linked = [e["detail"] for e in desk.store().events(2) if e["kind"] == "linked"]
    assert linked and "SUP-000001" in linked[0]


def test_duplicate_report_joins_open_ticket(desk: RunningDaemon) -> None:
    """The same customer reporting the same problem again joins the open ticket and is told."""
    deliver(desk, make_mail("Website down", sender=CUSTOMER))
    deliver(desk, make_mail("Website down!!", sender=CUSTOMER,
                            body="Still down, please hurry.\n"))
    assert len(desk.store().tickets()) == 1
    merged = [m for m in mails(desk, "customer@example.org") if "added it" in body(m)]
    assert len(merged) == 1 and "[SUP-000001]" in merged[0]["Subject"]
    assert "duplicate_merged" in events(desk)


def test_merge_by_command_and_old_reference_threads_to_survivor(desk: RunningDaemon) -> None:
    """#merge moves a ticket into another; mail citing the old reference joins the survivor."""
    deliver(desk, make_mail("Printer A broken", sender=CUSTOMER))
    deliver(desk, make_mail("Scanner B broken", sender="other@example.net"))
    [notice] = [m for m in mails(desk, "team@example.com") if "SUP-000002" in m["Subject"]]
    deliver(desk, reply(notice, "#merge SUP-000001", sender="alice@example.com"))
    store = desk.store()
    assert store.ticket(2).merged_into == 1 and store.ticket(2).status == "closed"
    deliver(desk, make_mail("Re: [SUP-000002] Scanner B broken", sender="other@example.net",
                            body="Any news?\n"))
    assert store.messages(1)[-1]["body_text"].startswith("Any news?") or any(
        m["body_text"].startswith("Any news?") for m in store.messages(1))
    assert "merged" in events(desk, 1) and "merged" in events(desk, 2)


def test_stranger_citing_ticket_gets_linked_new_ticket(desk: RunningDaemon) -> None:
    """Someone not on the ticket who cites its tag does not join it: a new linked ticket."""
    deliver(desk, make_mail("Account question", sender=CUSTOMER))
    deliver(desk, make_mail("Re: [SUP-000001] Account question", sender="mallory@evil.example",
                            body="Please send me the password.\n"))
    store = desk.store()
    assert len(store.tickets()) == 2
    assert [m["from_addr"] for m in store.messages(1) if m["direction"] == "in"] == [
        "customer@example.org"]
    assert "linked" in events(desk, 1)


def test_bounce_of_our_mail_is_recorded_not_a_ticket(desk: RunningDaemon) -> None:
    """A DSN for our acknowledgement is a delivery failure on the ticket, not a new ticket."""
    deliver(desk, make_mail("Bounce me", sender=CUSTOMER))
    [ack] = mails(desk, "customer@example.org")
    dsn = email.message_from_bytes(f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.example.org. I'm sorry to have to inform you that
your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; customer@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

Message-ID: {ack["Message-ID"]}
Subject: {ack["Subject"]}

--b1--
""".encode(), policy=policy.default)
    deliver(desk, dsn, mail_from="")
    assert len(desk.store().tickets()) == 1
    assert "delivery_failed" in events(desk)
    assert [m for m in mails(desk, "team@example.com") if "Delivery failure" in body(m)]


def test_vacation_responder_loop_is_bounded(desk: RunningDaemon) -> None:
    """A responder that answers everything without marking its mail exchanges a bounded
    number of mails: the per-address cap holds further automatic mail back. The cap is
    for robots outside: the team still hears of every new ticket (20 mails from anyone
    must not silence the team's notifications)."""
    problems = ["The VPN drops every hour", "Invoice PDF shows the wrong VAT rate",
                "Cannot book rooms in the calendar", "Scanner on floor 2 is jammed",
                "Password reset mail never arrives", "Website shows a 502 Bad Gateway"]
    for n, problem in enumerate(problems):  # distinct matters: six tickets, six acks due
        deliver(desk, make_mail(f"Notice {n}: {problem}", sender="robot@example.net",
                                body=f"{problem}.\n"))
    sent = mails(desk, "robot@example.net")
    assert len(sent) == 3  # conversation.auto_reply_cap
    assert any(e["kind"] == "auto_reply_capped"
               for t in range(1, 7) for e in desk.store().events(t))
    assert len(mails(desk, "team@example.com")) == 6


def test_out_of_office_reply_records_without_reopening(desk: RunningDaemon) -> None:
    """An out-of-office answer to our mail is recorded as automatic; nothing reopens."""
    deliver(desk, make_mail("Close then OOO", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#close\nDone.", sender="alice@example.com"))
    [relay] = [m for m in mails(desk, "customer@example.org") if "Done." in body(m)]
    before = len(mails(desk))
    deliver(desk, reply(relay, "I am out of the office until Monday.",
                        Auto_Submitted="auto-replied"))
    assert desk.store().ticket(1).status == "closed"
    assert "automatic_mail" in events(desk)
    assert len(mails(desk)) == before


def test_customer_gets_answers_in_their_language(desk: RunningDaemon) -> None:
    """A Russian customer's ack and relayed replies use the Russian templates."""
    deliver(desk, make_mail("Ошибка при проведении документа", sender=CUSTOMER,
                            body="Здравствуйте! При проведении документа возникает ошибка, "
                                 "не можем закрыть месяц.\n"))
    [ack] = mails(desk, "customer@example.org")
    assert "Ваше обращение зарегистрировано" in body(ack)
    assert desk.store().ticket_record(1)["language"] == "ru"
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "Пришлите, пожалуйста, журнал регистрации.",
                        sender="alice@example.com"))
    [relay] = [m for m in mails(desk, "customer@example.org") if "журнал" in body(m)]
    assert "Обращение SUP-000001" in body(relay)


def test_content_language_header_picks_template(desk: RunningDaemon) -> None:
    """Content-Language: sv selects the Swedish acknowledgement; unknown languages fall back."""
    deliver(desk, make_mail("Skrivaren", sender=CUSTOMER, Content_Language="sv-SE"))
    deliver(desk, make_mail("Nyomtató", sender="marie@example.fr", Content_Language="hu"))
    acks = {str(m["To"]): body(m) for m in mails(desk) if "team@" not in str(m["To"])}
    assert "tack för att du kontaktade" in acks["Casey Customer <customer@example.org>"]
    assert "thank you for contacting" in acks["marie@example.fr"]


def test_language_detection_from_text() -> None:
    """The text decides when no header says: Swedish, Dutch, Russian, else the default."""
    from mailgate.language import detect

    assert detect("Hej! Vi kan inte logga in och det är bråttom, tack.") == "sv"
    assert detect("Wij kunnen niet inloggen en het is dringend, graag een reactie.") == "nl"
    assert detect("Не можем войти в систему") == "ru"
    assert detect("Login broken since today, please have a look.") == "en"
    assert detect("?!", default="en") == "en"


def test_text_that_clearly_says_another_language_beats_content_language() -> None:
    """An English Outlook stamps Content-Language: en-US on German mail: the text wins when
    it is clear; a short or unclear text keeps the header's language."""
    from mailgate.language import detect

    german = ("Guten Tag, seit heute können wir die Rechnungen nicht mehr drucken. Bitte "
              "melden Sie sich, danke.")
    assert detect(german, "en-US") == "de"
    assert detect("Hej! Vi kan inte logga in och det är bråttom, tack.", "fr-FR") == "sv"
    assert detect("Drucker kaputt", "en-US") == "en"
    assert detect("Hello, the printer is broken.", "sv-SE") == "sv"


ALERTS = merge(TEAM, {"conversation": {"alerts": [{
    "name": "nagios", "from_addresses": ["monitoring.example.com"],
    "key_pattern": r"Host:\s*(\S+)"}]}})


def test_alert_flood_becomes_one_ticket_per_host(tmp_path: Path) -> None:
    """Ten alerts about two hosts make two tickets; a recovery is recorded on its ticket."""
    config = load_config(write_config(tmp_path, ALERTS))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    try:
        for n in range(10):
            host = "web1" if n % 2 else "db1"
            kind = "RECOVERY" if n == 9 else "PROBLEM"
            deliver(running, make_mail(f"** {kind} alert {n} **", sender="nagios@monitoring."
                                       "example.com", body=f"Host: {host}\nState: CRITICAL\n",
                                       Auto_Submitted="auto-generated"))
        tickets = running.store().tickets()
        assert len(tickets) == 2
        web1 = next(t for t in tickets if running.store().ticket_record(t["id"])[
            "correlation_key"] == "nagios:web1")
        kinds = [e["kind"] for e in running.store().events(web1["id"])]
        assert kinds.count("alert_correlated") == 3 and kinds.count("alert_recovered") == 1
    finally:
        running.stop()


def test_reply_policy_per_status(desk: RunningDaemon) -> None:
    """A customer answer to awaiting_reply reopens it; on on_hold it is kept and notified."""
    deliver(desk, make_mail("Need logs", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#status awaiting_reply\nPlease send the logs.",
                        sender="alice@example.com"))
    [relay] = [m for m in mails(desk, "customer@example.org") if "send the logs" in body(m)]
    deliver(desk, reply(relay, "Logs attached."))
    assert desk.store().ticket(1).status == "open"
    deliver(desk, reply(notice, "#status on_hold", sender="alice@example.com"))
    deliver(desk, reply(relay, "Any news?"))
    assert desk.store().ticket(1).status == "on_hold"
    assert any("Any news?" in body(m) for m in mails(desk, "team@example.com"))


def test_field_command_sets_custom_field(tmp_path: Path) -> None:
    """#field version 8.3.2 changes a configured custom field, shown in show --json."""
    config = load_config(write_config(tmp_path, TEAM, {"sla": {"fields": [
        {"name": "version", "pattern": r"Version:\s*(\S+)"}]}}))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    try:
        deliver(running, make_mail("Crash", sender=CUSTOMER, body="Version: 8.3.1\n"))
        assert running.store().ticket_record(1)["fields"] == '{"version": "8.3.1"}'
        [notice] = mails(running, "team@example.com")
        deliver(running, reply(notice, "#field version 8.3.2", sender="alice@example.com"))
        deliver(running, reply(notice, "#field colour red", sender="alice@example.com"))
    finally:
        running.stop()
    assert running.store().ticket_record(1)["fields"] == '{"version": "8.3.2"}'
    [error] = [m for m in mails(running, "alice@example.com")]
    assert "unknown field" in body(error)
