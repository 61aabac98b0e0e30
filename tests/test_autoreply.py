"""Tests for mailgate.autoreply: automatic-mail classification and bounce parsing."""

from __future__ import annotations

import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.autoreply import (
    Automatic,
    Bounce,
    classify_automatic,
    is_out_of_office,
    parse_bounce,
)

DATA = Path(__file__).parent / "data" / "auto"
OWN_IDS = frozenset({"helpdesk.example.com"})
OWN_ADDRESSES = frozenset({"support@helpdesk.example.com"})


def parse(raw: bytes | str) -> EmailMessage:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def load(name: str) -> EmailMessage:
    return parse((DATA / name).read_bytes())


def simple(headers: str, body: str = "Hello,\n\nplease help.\n") -> EmailMessage:
    base = "Date: Fri, 22 Mar 2024 09:14:20 +0100\nMessage-ID: <t1@customer.example>\n"
    if "From:" not in headers:
        base += "From: Jane Doe <jane.doe@customer.example>\n"
    if "Subject:" not in headers:
        base += "Subject: Printer broken\n"
    return parse(base + headers + "\n" + body)


def classify(msg: EmailMessage, mail_from: str | None = None) -> Automatic | None:
    return classify_automatic(
        msg, mail_from, own_addresses=OWN_ADDRESSES, own_domain_ids=OWN_IDS
    )


def kind(msg: EmailMessage, mail_from: str | None = None) -> str | None:
    result = classify(msg, mail_from)
    return result.kind if result else None


# --- fixtures -------------------------------------------------------------------------------

FIXTURE_KINDS = [
    ("postfix_dsn_rfc822.eml", "bounce"),
    ("postfix_dsn_delayed_headers.eml", "bounce"),
    ("exim_bounce.eml", "bounce"),
    ("qmail_bounce.eml", "bounce"),
    ("exchange_ndr.eml", "bounce"),
    ("gmail_dsn.eml", "bounce"),
    ("outlook_oof.eml", "out-of-office"),
    ("gmail_vacation.eml", "out-of-office"),
    ("mailing_list_post.eml", "list"),
    ("newsletter_bulk.eml", "bulk"),
    ("customer_normal.eml", None),
    ("customer_ooo_sentence.eml", None),
    ("customer_auto_submitted_no.eml", None),
]


@pytest.mark.parametrize(("name", "expected"), FIXTURE_KINDS)
def test_fixture_kind(name: str, expected: str | None) -> None:
    """Each realistic fixture is classified as the expected kind of automatic mail (or human)."""
    assert kind(load(name)) == expected


@pytest.mark.parametrize(("name", "expected"), FIXTURE_KINDS)
def test_fixture_kind_with_envelope(name: str, expected: str | None) -> None:
    """Passing the SMTP envelope sender instead of relying on Return-Path gives the same kind."""
    msg = load(name)
    rp = str(msg.get("Return-Path", "")).strip()
    assert kind(msg, rp) == expected


BOUNCES = [
    # name, original id, recipients, status, action, permanent
    ("postfix_dsn_rfc822.eml", "<171023490412.4711.1@helpdesk.example.com>",
     ("j.smith@customer.example",), "5.1.1", "failed", True),
    ("postfix_dsn_delayed_headers.eml", "<171040714302.4802.3@helpdesk.example.com>",
     ("ops@slow.example.net",), "4.4.1", "delayed", False),
    ("exim_bounce.eml", "<171032054901.4750.2@helpdesk.example.com>",
     ("nobody@oldhost.example.org",), "5.1.1", "failed", True),
    ("qmail_bounce.eml", "<171017544000.4690.1@helpdesk.example.com>",
     ("ghost@legacy.example.net",), "5.1.1", "failed", True),
    ("exchange_ndr.eml", "<171049146801.4812.1@helpdesk.example.com>",
     ("jdoe@contoso.com",), "5.1.10", "failed", True),
    ("gmail_dsn.eml", "<171075676300.4870.1@helpdesk.example.com>",
     ("nosuchuser.typo@gmail.com",), "5.1.1", "failed", True),
]


@pytest.mark.parametrize(("name", "msgid", "rcpts", "status", "action", "permanent"), BOUNCES)
def test_fixture_bounce_fields(
    name: str, msgid: str, rcpts: tuple[str, ...], status: str, action: str, permanent: bool
) -> None:
    """Every bounce fixture yields the original Message-ID, failed recipients, status and action."""
    bounce = parse_bounce(load(name), None)
    assert bounce is not None
    assert bounce.original_message_id == msgid
    assert bounce.recipients == rcpts
    assert bounce.status == status
    assert bounce.action == action
    assert bounce.permanent is permanent
    assert bounce.diagnostic


@pytest.mark.parametrize("name", [n for n, k in FIXTURE_KINDS if k != "bounce"])
def test_fixture_not_bounce(name: str) -> None:
    """Out-of-office replies, lists, newsletters and customer mail are not bounces."""
    assert parse_bounce(load(name), None) is None


@pytest.mark.parametrize(
    ("name", "expected"), [(n, k == "out-of-office") for n, k in FIXTURE_KINDS]
)
def test_fixture_out_of_office(name: str, expected: bool) -> None:
    """Only the Outlook and Gmail vacation fixtures are out-of-office replies."""
    assert is_out_of_office(load(name)) is expected


def test_diagnostic_strips_type_and_unfolds() -> None:
    """The Diagnostic-Code loses its 'smtp;' type prefix and folded lines are joined."""
    bounce = parse_bounce(load("postfix_dsn_rfc822.eml"), "")
    assert bounce is not None
    assert bounce.diagnostic == (
        "550 5.1.1 <j.smith@customer.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )


def test_bounce_reason_in_classification() -> None:
    """A bounce's classification reason names the action and status for the event log."""
    result = classify(load("qmail_bounce.eml"), "")
    assert result == Automatic("bounce", "delivery status notification: failed 5.1.1")


# --- header rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["auto-replied", "auto-generated", "Auto-Notified", "auto-replied; owner-email=a@b.c"]
)
def test_auto_submitted_values(value: str) -> None:
    """Auto-Submitted with any value other than 'no' marks the mail automatic."""
    result = classify(simple(f"Auto-Submitted: {value}\n"))
    assert result is not None
    assert result.kind == "auto-submitted"
    assert result.reason == f"Auto-Submitted: {value}"


@pytest.mark.parametrize("value", ["no", "No", "NO ; comment=human", ""])
def test_auto_submitted_no(value: str) -> None:
    """Auto-Submitted: no (any case, with parameters) or empty means written by a human."""
    assert classify(simple(f"Auto-Submitted: {value}\n")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Precedence: bulk", "bulk"),
        ("Precedence: JUNK", "bulk"),
        ("Precedence: list", "list"),
        ("List-Id: <users.lists.example.org>", "list"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "list"),
        ("List-Post: <mailto:users@lists.example.org>", "list"),
        ("X-Auto-Response-Suppress: All", "auto-submitted"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "auto-submitted"),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", "auto-submitted"),
        ("X-Autoreply: yes", "autoreply"),
        ("X-Autorespond: Thank you", "autoreply"),
        ("X-Auto-Reply: true", "autoreply"),
        ("X-Autogenerated: Reply", "autoreply"),
        ("X-MS-Exchange-Inbox-Rules-Loop: anna.berg@fabrikam.example", "autoreply"),
        ("X-Mailer: Vacation autoresponder 1.2", "autoreply"),
        ("Content-Type: multipart/report; report-type=disposition-notification; boundary=x",
         "auto-submitted"),
    ],
)
def test_header_hints(header: str, expected: str) -> None:
    """Each automatic-mail header marks the message with its kind."""
    assert kind(simple(header + "\n")) == expected


@pytest.mark.parametrize(
    "header", ["Precedence: first-class", "X-Mailer: Microsoft Outlook 16.0", "X-Loop: foo"]
)
def test_harmless_headers(header: str) -> None:
    """Ordinary client headers do not make a customer mail automatic."""
    assert classify(simple(header + "\n")) is None


# --- senders --------------------------------------------------------------------------------


@pytest.mark.parametrize("mail_from", ["", "<>", " <> "])
def test_null_envelope_sender(mail_from: str) -> None:
    """The null envelope sender marks the mail automatic."""
    result = classify(simple(""), mail_from)
    assert result == Automatic("null-sender", "envelope sender is <>")


def test_return_path_fallback_when_envelope_unknown() -> None:
    """Without an envelope (pipe/IMAP intake) a Return-Path of <> counts as the null sender."""
    msg = simple("Return-Path: <>\n")
    assert kind(msg, None) == "null-sender"
    assert kind(msg, "jane.doe@customer.example") is None
    assert kind(simple(""), None) is None


@pytest.mark.parametrize(
    "address",
    [
        "MAILER-DAEMON@mx.example.net",
        "Mailer-Daemon@mx.example.net",
        "mailer_daemon@mx.example.net",
        "postmaster@example.net",
        "noreply@shop.example",
        "no-reply@shop.example",
        "no_reply@shop.example",
        "NoReply-123@shop.example",
        "noreply123@shop.example",
        "do-not-reply@bank.example",
        "donotreply@bank.example",
        "do_not_reply@bank.example",
        "bounce@mailer.example",
        "bounces+jane=customer.example@lists.example.org",
        "users-bounces@lists.example.org",
        "prvs=1234abcd=bounces@shop.example",
        "mailer@host.example",
        "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com",
    ],
)
def test_robot_senders(address: str) -> None:
    """Robot local parts are recognised in the From address and in the envelope sender."""
    assert kind(simple(f"From: Robot <{address}>\n")) == "robot-sender"
    assert kind(simple(""), address) == "robot-sender"
    assert kind(simple(""), f"<{address}>") == "robot-sender"


@pytest.mark.parametrize(
    "address",
    [
        "norman.mailer@books.example",
        "bouncer@club.example",
        "replies@example.com",
        "noreen@example.com",
        "mailroom@example.com",
        "postman@example.com",
        "jane.doe@noreply.example",
    ],
)
def test_human_senders(address: str) -> None:
    """Look-alike human addresses are not robots (whole tokens of the local part only)."""
    assert classify(simple(f"From: Someone <{address}>\n"), address) is None


# --- own mail -------------------------------------------------------------------------------


def test_own_loop_header() -> None:
    """Our X-Mailgate-Loop stamp with one of our domain ids marks our own mail coming back."""
    result = classify(simple("X-Mailgate-Loop: Helpdesk.Example.com\n"))
    assert result is not None
    assert result.kind == "own-mail"
    assert "X-Mailgate-Loop" in result.reason


def test_foreign_loop_header_is_not_own() -> None:
    """A loop stamp of another mailgate installation is not our own mail."""
    assert classify(simple("X-Mailgate-Loop: other.example.org\n")) is None


def test_own_from_address() -> None:
    """A From address that is one of ours (any case) marks our own mail."""
    msg = simple("From: Example Support <Support@Helpdesk.Example.com>\n")
    assert kind(msg) == "own-mail"


def test_own_mail_wins_over_other_hints() -> None:
    """Own mail is reported as such even when it also carries Auto-Submitted."""
    msg = simple("X-Mailgate-Loop: helpdesk.example.com\nAuto-Submitted: auto-replied\n")
    assert kind(msg, "") == "own-mail"


# --- out of office --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: [#4711] Printer",
        "Auto-Reply: Your message",
        "Out of Office AutoReply: Printer",
        "Automatische Antwort: Drucker",
        "Autosvar: Skrivare",
        "Automatisch antwoord: Printer",
        "Réponse automatique : Imprimante",
        "Respuesta automática: Impresora",
        "Автоматический ответ: Принтер",
        "Автоответ: Принтер",
        "=?utf-8?b?0JDQstGC0L7QvtGC0LLQtdGCOiDQn9GA0LjQvdGC0LXRgA==?=",
        # old-style rules of local clients, no header (found by a review)
        "Out of Office: [SUP-000046] Database down",
        "Abwesenheitsnotiz: Drucker",
        "Fuera de la oficina: Impresora",
        "Fuori ufficio: Stampante",
        "Afwezig: Printer",
        "Frånvaro: Skrivare",
        "Poza biurem: Drukarka",
        "自动回复: 打印机",
        "自動応答：プリンター",
        "자동 응답: 프린터",
        "Otomatik yanıt: Yazıcı",
        "Автовідповідь: Принтер",
        # Outlook's own strings in more languages, and absence words (a user's run: each
        # reopened a closed ticket)
        "Automatiskt svar: [SUP-000003] Skrivaren",
        "Automatisk svar: Printer",
        "자동 회신: [SUP-000003] 프린터",
        "رد تلقائي: [SUP-000003] الطابعة",
        "自動回覆: [SUP-000003] 印表機",
        "Automatyczna odpowiedź: Drukarka",
        "Ausência temporária: Re: Impressora",
        "Fora do escritório: Re: Impressora",
        "Fuori sede: Re: Stampante",
        "부재중: Re: 프린터",
        "خارج المكتب: Re: الطابعة",
        "Автоматична відповідь: Принтер",
    ],
)
def test_unambiguous_prefix_alone_is_out_of_office(subject: str) -> None:
    """An autoresponder prefix at the start of the subject is out-of-office without any header."""
    msg = simple(f"Subject: {subject}\n")
    assert is_out_of_office(msg)
    assert kind(msg) == "out-of-office"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office",
        "Out of the office until Monday",
        "Abwesenheitsnotiz",
        "Autosvar",
        "Réponse automatique",
        "Respuesta automática",
        "Автоответ",
        "I am on vacation",
        "Fuori sede domani, chi mi sostituisce?",
        "부재중 처리 문의",
    ],
)
def test_ambiguous_subject_needs_header_hint(subject: str) -> None:
    """A looser out-of-office phrase counts only together with a header hint or null sender."""
    assert not is_out_of_office(simple(f"Subject: {subject}\n"))
    assert classify(simple(f"Subject: {subject}\n"), "jane.doe@customer.example") is None
    assert is_out_of_office(simple(f"Subject: {subject}\nAuto-Submitted: auto-replied\n"))
    assert is_out_of_office(simple(f"Subject: {subject}\nPrecedence: junk\n"))
    assert is_out_of_office(simple(f"Subject: {subject}\n"), "<>")
    assert kind(simple(f"Subject: {subject}\nX-Autoreply: yes\n")) == "out-of-office"


def test_reply_to_an_autoreply_is_human() -> None:
    """A human answering an auto-reply ('Re: Automatic reply: ...') is not automatic."""
    assert classify(simple("Subject: Re: Automatic reply: [#4711] Printer\n")) is None


def test_list_hint_does_not_make_out_of_office() -> None:
    """A list post about being out of office is a list message, not an out-of-office reply."""
    msg = simple("Subject: Out of office etiquette\nList-Id: <talk.lists.example.org>\n")
    assert not is_out_of_office(msg)
    assert kind(msg) == "list"


# --- DSN details ----------------------------------------------------------------------------

DSN = """\
From: MAILER-DAEMON@mx.example.net
To: support@helpdesk.example.com
Subject: Delivery report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

Report.
--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

{recipients}
--BB
Content-Type: text/rfc822-headers

Message-ID: {msgid}
Subject: x

--BB--
"""


def dsn(recipients: str, msgid: str = "<orig@helpdesk.example.com>") -> EmailMessage:
    return parse(DSN.format(recipients=recipients, msgid=msgid))


def test_dsn_only_failed_recipients_in_order() -> None:
    """Only failed recipients are reported, de-duplicated and in report order."""
    msg = dsn(
        "Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n\n"
        "Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.2.2\n\n"
        "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.2.2\n"
    )
    bounce = parse_bounce(msg, "")
    assert bounce is not None
    assert bounce.recipients == ("b@example.org", "a@example.org")
    assert bounce.status == "5.2.2"
    assert bounce.permanent


def test_dsn_prefers_original_recipient() -> None:
    """Original-Recipient (the address we wrote to) wins over the rewritten Final-Recipient."""
    msg = dsn(
        "Original-Recipient: rfc822;sales@customer.example\n"
        "Final-Recipient: rfc822; anna@internal.customer.example\nAction: failed\nStatus: 5.1.1\n"
    )
    bounce = parse_bounce(msg, "")
    assert bounce is not None
    assert bounce.recipients == ("sales@customer.example",)


def test_success_dsn_is_not_bounce_but_automatic() -> None:
    """A DSN whose recipients were all delivered is no bounce, yet never auto-answered."""
    msg = dsn("Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n")
    assert parse_bounce(msg, "") is None
    assert kind(msg, "") == "auto-submitted"


def test_dsn_without_action_uses_status() -> None:
    """A DSN block missing Action but with a 5.x.x Status is a permanent failure."""
    bounce = parse_bounce(dsn("Final-Recipient: rfc822; x@example.org\nStatus: 5.7.1\n"), "")
    assert bounce is not None
    assert (bounce.action, bounce.status, bounce.permanent) == ("failed", "5.7.1", True)


def test_failed_with_transient_status_is_permanent() -> None:
    """Action: failed means the MTA gave up, so the bounce is permanent even with a 4.x.x status."""
    msg = dsn("Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 4.4.7\n")
    bounce = parse_bounce(msg, "")
    assert bounce is not None
    assert bounce.permanent


def test_message_id_without_brackets_is_normalised() -> None:
    """An original Message-ID quoted without angle brackets gets them added."""
    msg = parse(
        load("postfix_dsn_rfc822.eml").as_bytes().replace(
            b"Message-ID: <171023490412.4711.1@helpdesk.example.com>",
            b"Message-ID: 171023490412.4711.1@helpdesk.example.com",
        )
    )
    bounce = parse_bounce(msg, "")
    assert bounce is not None
    assert bounce.original_message_id == "<171023490412.4711.1@helpdesk.example.com>"


def test_in_reply_to_and_references_fallback() -> None:
    """Without an attached or quoted original, In-Reply-To, then the last References id is used."""
    base = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
        "Subject: Mail delivery failed: returning message to sender\n{extra}\n"
        "This message was created automatically by mail delivery software.\n\n"
        "  x@example.org\n    550 5.1.1 unknown user\n"
    )
    msg = parse(base.format(extra="In-Reply-To: <a@helpdesk.example.com>\n"
                                  "References: <z@x> <b@helpdesk.example.com>"))
    assert parse_bounce(msg, "").original_message_id == "<a@helpdesk.example.com>"
    msg = parse(base.format(extra="References: <z@x>\n <b@helpdesk.example.com>"))
    assert parse_bounce(msg, "").original_message_id == "<b@helpdesk.example.com>"
    msg = parse(base.format(extra="X-Nothing: 1"))
    assert parse_bounce(msg, "").original_message_id is None


def test_bounce_subject_from_human_is_not_bounce() -> None:
    """A customer whose subject merely reads like a bounce is neither a bounce nor automatic."""
    msg = simple("Subject: Undeliverable: parcel 4711 came back\n",
                 "Hi, our parcel was undeliverable, can you resend?\n")
    assert parse_bounce(msg, "jane.doe@customer.example") is None
    assert classify(msg, "jane.doe@customer.example") is None


def test_forwarded_bounce_is_not_bounce() -> None:
    """A customer forwarding a bounce as an attachment sent a human message, not a bounce."""
    inner = (DATA / "postfix_dsn_rfc822.eml").read_bytes()
    outer = EmailMessage()
    outer["From"] = "jane.doe@customer.example"
    outer["To"] = "support@helpdesk.example.com"
    outer["Subject"] = "Fwd: Undelivered Mail Returned to Sender"
    outer.set_content("Why did this bounce?")
    outer.add_attachment(parse(inner))
    msg = parse(outer.as_bytes())
    assert parse_bounce(msg, "jane.doe@customer.example") is None
    assert classify(msg, "jane.doe@customer.example") is None


def test_delayed_non_standard_bounce() -> None:
    """A plain-text delay warning is a bounce with action 'delayed' and permanent=False."""
    msg = parse(
        "From: MAILER-DAEMON@mx.example.net\n"
        "Subject: Warning: could not send message for past 4 hours\n"
        "\nThe original message was received at Mon, 11 Mar 2024 10:00:00 +0100\n"
        "   ----- Transcript of session follows -----\n<x@slow.example.org>... Deferred: 4.4.1\n"
    )
    bounce = parse_bounce(msg, "")
    assert bounce is not None
    assert (bounce.action, bounce.permanent, bounce.status) == ("delayed", False, "4.4.1")


# --- hostile input --------------------------------------------------------------------------

HOSTILE = [
    b"From: =?utf-8?b?////?= <\xff\xfe@\x00>\nSubject: =?x-unknown?q?=FF?=\nTo: ,,,<<>>\n\nx",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\n\n--\n--",
    b"Content-Type: text/plain; charset=\"rot13\"\nAuto-Submitted: \xff\n\nUndeliverable",
    b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n!!!notb64",
    b"Content-Type: message/global-delivery-status\n\nFinal-Recipient: rfc822; a@b\nAction: failed",
    b"Message-ID: <<<<>>>>\nIn-Reply-To: <\nReferences: >>>\nReturn-Path: <<<\n\n",
    b"Content-Type: message/rfc822\n\n",
    b"From: MAILER-DAEMON@x\nSubject: failure notice\nContent-Type: text/plain; charset=utf-7\n"
    b"\n+AGEAYQ-\n",
    b"X-Mailgate-Loop: \xff\xfe\nFrom: \"unterminated <a@b\nSubject: \x00\n\n",
    b"Message-ID: <\nFrom: <\nTo: a@[\nIn-Reply-To: <\nSubject: Automatic reply: x\n\n",
    b"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status;"
    b" boundary=Q\n\n--Q\nContent-Type: message/delivery-status\n\nFinal-Recipient: <\n"
    b"Action: failed\n\n--Q\nContent-Type: message/rfc822\n\nMessage-ID: <\nFrom: <\n\n--Q--\n",
    b"",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_messages_never_raise(raw: bytes) -> None:
    """Malformed headers, charsets and MIME structures never make the functions raise."""
    msg = parse(raw)
    for mail_from in (None, "", "<>", "\xff<"):
        result = classify(msg, mail_from)
        assert result is None or isinstance(result, Automatic)
        bounce = parse_bounce(msg, mail_from)
        assert bounce is None or isinstance(bounce, Bounce)
        assert isinstance(is_out_of_office(msg), bool)


def test_unparseable_header_reads_as_absent() -> None:
    """A header the email package cannot parse (it raises) is treated as absent, not fatal."""
    msg = parse(HOSTILE[-3])
    assert kind(msg) == "out-of-office"
    bounce = parse_bounce(parse(HOSTILE[-2]), "")
    assert bounce is not None
    assert bounce.original_message_id is None
    assert bounce.action == "failed"


def test_deeply_nested_and_huge_input_is_not_a_hang() -> None:
    """Deep nesting, many parts and pathological lines are scanned without blowing up: the
    bound is a hang guard against catastrophic backtracking (which takes minutes on these
    inputs), not a speed figure; speed is measured in bench/."""
    nested = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(200)
    )
    many = "Content-Type: multipart/mixed; boundary=z\n\n" + "--z\n\nx\n" * 5000 + "--z--\n"
    spaces = (
        "From: MAILER-DAEMON@x\nSubject: failure notice\n\n"
        "a@b.example" + " " * 200_000 + "x\n" + "-" * 100_000 + "\n" + "<" * 100_000
    )
    started = time.monotonic()
    for raw in (nested, many, spaces):
        msg = parse(raw)
        classify(msg, "")
        parse_bounce(msg, "")
    assert time.monotonic() - started < 60


HEADER_NAMES = [
    "From", "Subject", "Return-Path", "Auto-Submitted", "Precedence", "List-Id",
    "Content-Type", "Content-Transfer-Encoding", "Message-ID", "In-Reply-To", "References",
    "X-Mailgate-Loop", "X-Auto-Response-Suppress", "X-Mailer", "X-Autogenerated",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(
        st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=80)), max_size=10
    ),
    body=st.binary(max_size=400),
    mail_from=st.one_of(st.none(), st.text(max_size=30)),
)
def test_never_raises_on_arbitrary_headers(
    headers: list[tuple[str, bytes]], body: bytes, mail_from: str | None
) -> None:
    """classify_automatic, parse_bounce and is_out_of_office never raise on arbitrary input."""
    raw = b"".join(name.encode() + b": " + value + b"\n" for name, value in headers)
    msg = parse(raw + b"\n" + body)
    result = classify_automatic(msg, mail_from, own_domain_ids=OWN_IDS)
    assert result is None or isinstance(result, Automatic)
    bounce = parse_bounce(msg, mail_from)
    assert bounce is None or isinstance(bounce, Bounce)
    assert isinstance(is_out_of_office(msg, mail_from), bool)


@settings(max_examples=100, deadline=None)
@given(
    ds=st.text(alphabet=st.sampled_from("Final-Recipient:Action;Status 5.1.1 failed\n@<>x"),
               max_size=300),
    attached=st.binary(max_size=200),
)
def test_never_raises_on_arbitrary_reports(ds: str, attached: bytes) -> None:
    """parse_bounce never raises on a delivery report with arbitrary status and attachment."""
    raw = (
        b"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status;"
        b" boundary=QQ\n\n--QQ\nContent-Type: message/delivery-status\n\n"
        + ds.encode() + b"\n--QQ\nContent-Type: message/rfc822\n\n" + attached + b"\n--QQ--\n"
    )
    msg = parse(raw)
    bounce = parse_bounce(msg, None)
    assert bounce is None or isinstance(bounce, Bounce)
    result = classify_automatic(msg, None)
    assert result is None or isinstance(result, Automatic)
