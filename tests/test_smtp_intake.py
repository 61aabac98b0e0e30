"""The walking gateway over SMTP: a real smtplib client against the running daemon."""

from __future__ import annotations

import asyncio
import email
import smtplib
import sqlite3
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from mailgate import clock, locales
from mailgate.config import load_config
from mailgate.inspect import trace
from mailgate.intake.paths import split_path
from mailgate.intake.smtp import Connection
from tests.conftest import RunningDaemon, make_mail, sqlite_only


def sent_mails(daemon: RunningDaemon) -> list[email.message.EmailMessage]:
    folder = daemon.outbox_dir
    if not folder.exists():
        return []
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(folder.glob("*.eml"))]


def accepted(daemon: RunningDaemon, msg, **kw) -> int:
    code, text = daemon.send(msg, **kw)
    assert code == 250, text
    spool_id = int(text.decode().rsplit(" ", 1)[1])
    assert daemon.wait_processed(spool_id) in ("done", "duplicate")
    return spool_id


def test_new_mail_becomes_ticket_and_is_acknowledged(daemon: RunningDaemon) -> None:
    """A new mail opens SUP-000001; the ack gives tag, level and due time."""
    accepted(daemon, make_mail("Printer prints blank pages"))
    daemon.wait_outbox_idle()
    store = daemon.store()
    [ticket] = store.tickets()
    assert ticket["reference"] == "SUP-000001"
    assert ticket["status"] == "open"
    assert ticket["requester"] == "customer@example.org"
    [ack] = sent_mails(daemon)
    assert ack["Subject"] == "[SUP-000001] Printer prints blank pages"
    assert ack["To"] == "Casey Customer <customer@example.org>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    body = ack.get_body(("plain",)).get_content()
    assert "SUP-000001" in body and "standard" in body
    due = clock.from_db(ticket["first_response_due"])  # the default level: 8 h, 24x7, UTC
    # every hour counts on 24x7: "8 hours", not "8 working hours"
    assert f"within 8 hours, by {locales.when(due, 'en')}" in body
    assert ack.get_body(("html",)) is not None


def test_reply_with_tag_joins_ticket(daemon: RunningDaemon) -> None:
    """A reply keeping the tag (any prefix, case or spacing) threads into the same ticket."""
    accepted(daemon, make_mail("VPN is down"))
    for subject in ("Re: [SUP-000001] VPN is down", "AW: SV: [ sup - 1 ] VPN is down",
                    "Ответ: Fwd: VPN [Sup-000001] still down"):
        accepted(daemon, make_mail(subject))
    store = daemon.store()
    assert len(store.tickets()) == 1
    assert len([m for m in store.messages(1) if m["direction"] == "in"]) == 4


def test_reply_by_in_reply_to_to_our_ack_joins_ticket(daemon: RunningDaemon) -> None:
    """A reply that lost the tag but answers our acknowledgement's Message-ID threads by header."""
    accepted(daemon, make_mail("Invoice question"))
    daemon.wait_outbox_idle()
    [ack] = sent_mails(daemon)
    reply = make_mail("Re: my question", In_Reply_To=ack["Message-ID"])
    accepted(daemon, reply)
    store = daemon.store()
    assert len(store.tickets()) == 1
    events = [e["kind"] for e in store.events(1)]
    assert "threaded" in events
    assert any("in-reply-to" in e["detail"] for e in store.events(1))


def test_reply_by_references_only_joins_ticket(daemon: RunningDaemon) -> None:
    """References pointing at the customer's first message thread the reply."""
    first = make_mail("Disk full")
    accepted(daemon, first)
    accepted(daemon, make_mail("more info", References=f"<other@x> {first['Message-ID']}"))
    assert len(daemon.store().tickets()) == 1


def test_unrelated_mail_opens_new_ticket(daemon: RunningDaemon) -> None:
    """Mail with no tag and no known references is a new ticket."""
    accepted(daemon, make_mail("First problem"))
    accepted(daemon, make_mail("Re: Second problem", In_Reply_To="<unknown@example.org>"))
    assert [t["reference"] for t in daemon.store().tickets()] == ["SUP-000002", "SUP-000001"]


def test_duplicate_delivery_is_stored_once_and_still_accepted(daemon: RunningDaemon) -> None:
    """The same Message-ID delivered twice is accepted twice, stored once, acknowledged once."""
    msg = make_mail("Same mail twice")
    accepted(daemon, msg)
    accepted(daemon, msg)
    daemon.wait_outbox_idle()
    store = daemon.store()
    assert len(store.tickets()) == 1
    assert len([m for m in store.messages(1) if m["direction"] == "in"]) == 1
    assert store.spool_counts() == {"done": 1, "duplicate": 1}
    assert len(sent_mails(daemon)) == 1


def test_reused_message_id_with_new_text_is_stored(daemon: RunningDaemon,
                                                    tmp_path: Path) -> None:
    """A client reusing a Message-ID for a new mail: the same mail again through another relay
    (an added Received: line) stays a duplicate; the new text is stored and answered, and the
    ticket says the id was reused; `mailgate trace` of its spool id or its file tells its own
    story, not the first mail's."""
    first = make_mail("Printer prints blank pages", message_id="<reused@client.example>")
    first_id = accepted(daemon, first)
    relayed = make_mail("Printer prints blank pages", message_id="<reused@client.example>")
    relayed["Received"] = "from mx2.example.org by mx.example.com; Mon, 05 Jan 2026 09:31 +0000"
    accepted(daemon, relayed)
    other = make_mail("Invoice address for March", message_id="<reused@client.example>",
                      body="Please send the March invoice to Storgatan 4, Göteborg.\n")
    other_id = accepted(daemon, other)
    daemon.wait_outbox_idle()
    store = daemon.store()
    assert store.spool_counts() == {"done": 2, "duplicate": 1}
    (tmp_path / "other.eml").write_bytes(other.as_bytes())
    for what, ticket in ((str(other_id), "SUP-000002"), (str(tmp_path / "other.eml"),
                                                          "SUP-000002"),
                         (str(first_id), "SUP-000001")):
        story = trace(store, what)
        assert story["ticket"]["reference"] == ticket, what
        assert [d["id"] for d in story["deliveries"]][:1] == (
            [other_id] if ticket == "SUP-000002" else [first_id]), what
    bodies = [m["body_text"] for t in store.tickets() for m in store.messages(t["id"])
              if m["direction"] == "in"]
    assert sorted(b.strip() for b in bodies) == [
        "Hello, the printer is broken.", "Please send the March invoice to Storgatan 4, Göteborg."]
    assert "message_id_reused" in [e["kind"] for e in store.events(2)]
    assert len(sent_mails(daemon)) == 2  # one acknowledgement per mail, none for the relay


def test_duplicate_without_message_id_detected_by_content(daemon: RunningDaemon) -> None:
    """A message without Message-ID delivered twice is recognised by its content."""
    msg = make_mail("No id here")
    del msg["Message-ID"]
    accepted(daemon, msg)
    accepted(daemon, msg)
    assert daemon.store().spool_counts() == {"done": 1, "duplicate": 1}


def test_relay_refused(daemon: RunningDaemon) -> None:
    """Mail for an address that is not ours is refused at RCPT with 550: no open relay."""
    code, _ = daemon.send(make_mail(), rcpt=("someone@elsewhere.example",))
    assert code == 550
    assert daemon.store().spool_counts() == {}


def test_oversized_message_refused_with_552(daemon: RunningDaemon) -> None:
    """A message over smtp.max_message_size gets 552 and nothing is stored."""
    big = make_mail(body=("x" * 70 + "\n") * 3500)
    try:
        code, _ = daemon.send(big)
    except smtplib.SMTPSenderRefused as exc:  # SIZE declared too big in MAIL FROM
        code = exc.smtp_code
    except smtplib.SMTPDataError as exc:
        code = exc.smtp_code
    assert code == 552
    assert daemon.store().spool_counts() == {}


def test_esmtp_extensions_advertised(daemon: RunningDaemon) -> None:
    """EHLO advertises SIZE (with our limit), 8BITMIME and SMTPUTF8."""
    with smtplib.SMTP("127.0.0.1", daemon.port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "200000"
        assert "8bitmime" in client.esmtp_features
        assert "smtputf8" in client.esmtp_features


def test_listener_knows_the_same_commands_as_stock_aiosmtpd(daemon: RunningDaemon) -> None:
    """The per-connection protocol (built faster, see intake.smtp.Connection) has stock
    aiosmtpd's commands, AUTH mechanisms and hooks; HELP over the wire lists them."""
    arguments = ["<a@example.org>", "<a@example.org> SIZE=4096 BODY=8BITMIME", "a@example.org",
                 "<>", "", "<\"quoted local\"@example.org>", "<@relay.example:a@example.org>",
                 "<a@[192.0.2.1]>", "<broken", "no-at-sign", "<" + "x" * 80 + "@example.org>",
                 "<a@example.org", "  <a@example.org>  X=1", "<a@b@c>", "<ünï@例え.jp>"]

    async def tables() -> list[tuple[list[str], list[str], list[str], list[object]]]:
        handler = daemon.daemon.listener.handler
        return [(sorted(p._smtp_methods), sorted(p._auth_methods), sorted(p._handle_hooks),
                 [p._getaddr(a) for a in arguments])
                for p in (SMTP(handler, hostname="x"), Connection(handler, hostname="x"))]

    stock, ours = asyncio.run(tables())
    assert ours == stock and "DATA" in ours[0] and ours[2] == ["DATA", "RCPT"]
    with smtplib.SMTP("127.0.0.1", daemon.port) as client:
        code, text = client.docmd("HELP")
    assert code == 250 and all(c in text.decode() for c in ("EHLO", "MAIL", "RCPT", "DATA"))


@pytest.mark.parametrize(("argument", "expected"), [
    ("<a@example.org>", ("a@example.org", "")),
    ("<a@example.org> SIZE=4096 BODY=8BITMIME", ("a@example.org", "SIZE=4096 BODY=8BITMIME")),
    ("<>", ("<>", "")),
    ("<postmaster>", ("postmaster", "")),
    ("<@one.example,@two.example:a@example.org>", ("a@example.org", "")),
    ("<a..b.@docomo.example>", ("a..b.@docomo.example", "")),  # real carrier addresses
    ('<"support"@example.com>', ("support@example.com", "")),  # quotes it need not have
    ('<"a b"@example.org>', ('"a b"@example.org', "")),
    ("<a@[IPv6:2001:db8::1]>", ("a@[IPv6:2001:db8::1]", "")),
    ("<jürgen@exämple.org>", ("jürgen@exämple.org", "")),
    ("<=?utf-8?q?support?=@example.com>", ("=?utf-8?q?support?=@example.com", "")),
    ("<a(comment)@example.org>", None), ("<a @ example.org>", None),
    ("<a@example.org>SIZE=1", None), ("<a@b,c>", None), ('<a"b@c>', None),
    ("<a@example..org>", None), ("<@example.org>", None), ("<Name <a@b.example>>", None),
])
def test_smtp_paths_are_read_by_rfc_5321(argument: str, expected: tuple[str, str] | None,
                                         ) -> None:
    """MAIL FROM / RCPT TO arguments are RFC 5321 paths (no comments, no encoded words, no
    spaces around the @), with the leniency real senders need."""
    assert split_path(argument) == expected


def test_encoded_word_recipient_is_not_our_address(daemon: RunningDaemon) -> None:
    """An encoded word is not decoded in an envelope address (aiosmtpd's RFC 5322 reading
    made ``=?utf-8?q?support?=@example.com`` our support address); quotes a plain local
    part does not need are, as RFC 5321 says, the same address."""
    with smtplib.SMTP("127.0.0.1", daemon.port) as client:
        client.ehlo("client.example.org")
        assert client.mail("customer@example.org")[0] == 250
        assert client.docmd("RCPT TO:<=?utf-8?q?support?=@example.com>")[0] == 550
        assert client.docmd("RCPT TO:<support(c)@example.com>")[0] == 553
        assert client.docmd('RCPT TO:<"support"@example.com>')[0] == 250


@sqlite_only
def test_storage_failure_answers_451_and_writes_nothing(daemon: RunningDaemon) -> None:
    """While another writer holds the database lock past the busy timeout, DATA gets 451."""
    blocker = sqlite3.connect(daemon.config.database_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        code, text = daemon.send(make_mail("During lock"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert code == 451, text
    assert daemon.store().spool_counts() == {}
    # The daemon recovers by itself once the lock is gone.
    accepted(daemon, make_mail("After lock"))
    assert len(daemon.store().tickets()) == 1


def test_unparsable_message_is_quarantined_not_lost(daemon: RunningDaemon) -> None:
    """Bytes that are not a mail are accepted, kept verbatim, quarantined with a reason."""
    raw = b"this is not an email message at all\r\n"
    code, text = daemon.send(raw)
    assert code == 250
    spool_id = int(text.decode().rsplit(" ", 1)[1])
    assert daemon.wait_processed(spool_id) == "quarantined"
    store = daemon.store()
    [row] = store.quarantine()
    assert "no headers" in row["reason"]
    assert store.spool_raw(spool_id).rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    assert store.tickets() == []


def test_processing_failure_after_acceptance_quarantines(config_path: Path) -> None:
    """A failure while processing (a template that breaks on this mail only) quarantines
    the accepted mail with the reason and rolls back the half-made ticket; nothing is lost."""
    template = config_path.parent / "templates" / "ack.txt.j2"
    template.write_text(template.read_text() + '{% if message.subject == "Breaks the '
                        'template" %}{{ 1 // 0 }}{% endif %}\n')
    config = load_config(config_path)
    running = RunningDaemon(config).start()
    try:
        code, text = running.send(make_mail("Breaks the template"))
        assert code == 250
        spool_id = int(text.decode().rsplit(" ", 1)[1])
        assert running.wait_processed(spool_id) == "quarantined"
    finally:
        running.stop()
    store = running.store()
    [row] = store.quarantine()
    assert "ZeroDivisionError" in row["reason"]
    assert store.tickets() == []  # the half-done ticket was rolled back
    assert store.spool_raw(spool_id).startswith(b"From: ")


def test_automatic_mail_gets_no_acknowledgement(daemon: RunningDaemon) -> None:
    """Auto-Submitted, bulk and mailer-daemon mail become tickets but get no acknowledgement."""
    accepted(daemon, make_mail("Auto reply", Auto_Submitted="auto-replied"))
    accepted(daemon, make_mail("Newsletter", Precedence="bulk"))
    accepted(daemon, make_mail("Bounce", sender="MAILER-DAEMON@example.org"))
    accepted(daemon, make_mail("Null sender"), mail_from="<>")
    daemon.wait_outbox_idle()
    assert sent_mails(daemon) == []
    events = [e["kind"] for t in range(1, 5) for e in daemon.store().events(t)]
    assert events.count("automatic_mail") == 4


def test_attachments_are_kept_and_listed(daemon: RunningDaemon) -> None:
    """A screenshot attachment is stored with its name, type and size."""
    msg = make_mail("Screenshot attached")
    msg.add_attachment(b"\x89PNG fake image" * 10, maintype="image", subtype="png",
                       filename="../../etc/screen\u202eshot.png")
    accepted(daemon, msg)
    store = daemon.store()
    [message] = [m for m in store.messages(1) if m["direction"] == "in"]
    [attachment] = store.attachments(message["id"])
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == 150
    assert "/" not in attachment["filename"] and "\u202e" not in attachment["filename"]


def test_html_only_mail_becomes_readable_text(daemon: RunningDaemon) -> None:
    """An HTML-only mail's ticket text is readable plain text, not markup."""
    msg = make_mail("HTML only")
    msg.set_content("<html><body><p>The <b>server</b> is down.</p></body></html>",
                    subtype="html")
    accepted(daemon, msg)
    [message] = [m for m in daemon.store().messages(1) if m["direction"] == "in"]
    assert "server" in message["body_text"] and "<b>" not in message["body_text"]


def test_reply_to_closed_ticket_reopens_it(daemon: RunningDaemon) -> None:
    """A customer reply to a closed ticket reopens it, with an event saying why."""
    accepted(daemon, make_mail("Closed soon"))
    from mailgate import clock

    store = daemon.store()
    with store.transaction():
        store.touch_ticket(1, clock.now(), status="closed", closed_at=clock.now())
    accepted(daemon, make_mail("Re: [SUP-000001] Closed soon", body="It broke again."))
    assert daemon.store().ticket(1).status == "open"
    assert any(e["kind"] == "status_changed" for e in daemon.store().events(1))


def test_thank_you_does_not_reopen_but_thanks_but_does(daemon: RunningDaemon) -> None:
    """A bare "thank you" to a closed ticket does not reopen it; "thanks, but ..." does."""
    from mailgate import clock

    accepted(daemon, make_mail("Fixed soon"))
    store = daemon.store()
    with store.transaction():
        store.touch_ticket(1, clock.now(), status="closed", closed_at=clock.now())
    quoted = ("Thank you so much!\n\nOn Mon, Jan 5, 2026 at 9:30 AM Example Support "
              "<support@example.com> wrote:\n> It fails again\n")
    accepted(daemon, make_mail("Re: [SUP-000001] Fixed soon", body=quoted))
    assert daemon.store().ticket(1).status == "closed"
    [event] = [e for e in daemon.store().events(1) if e["kind"] == "thanks_suppressed"]
    assert "thank you" in event["detail"].lower()
    accepted(daemon, make_mail("Re: [SUP-000001] Fixed soon",
                               body="Спасибо, но ошибка осталась.\n"))
    assert daemon.store().ticket(1).status == "open"


def test_header_injection_in_subject_cannot_add_headers(daemon: RunningDaemon) -> None:
    """An encoded CR/LF in the customer's subject does not become a header of our reply."""
    raw = (b"From: customer@example.org\r\nTo: support@example.com\r\n"
           b"Subject: =?utf-8?q?Help=0D=0ABcc=3A_victim=40example=2Ecom?=\r\n"
           b"Message-ID: <inj@example.org>\r\n\r\nbody\r\n")
    accepted(daemon, raw)
    daemon.wait_outbox_idle()
    [ack] = sent_mails(daemon)
    assert ack["Bcc"] is None
    assert "victim@example.com" in ack["Subject"]
