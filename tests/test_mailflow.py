"""Files and Cc over SMTP with the folder outbound: what engineers and customers receive.

A customer's screenshot reaches the engineers inside the notification (inline, its
Content-ID kept); an engineer's file reaches the customers inside the relay; what is too
big or can run code is listed and fetched with ``mailgate attachment``. Relays put the
requester in To: and everyone else in Cc:, and an engineer's Cc: adds a participant.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_cli import ENV
from tests.test_conversation import CUSTOMER, TEAM, body, deliver, events, mails, reply

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 KB of "screenshot"
PROGRAM = b"MZ\x90\x00" + b"\x00" * 2000


def start(tmp_path: Path, *overrides: dict) -> RunningDaemon:
    config = load_config(write_config(tmp_path, TEAM, *overrides))
    configure_logging(config.logging)
    return RunningDaemon(config).start()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[RunningDaemon]:
    running = start(tmp_path)
    yield running
    running.stop()


def with_screenshot(msg: EmailMessage) -> EmailMessage:
    """An HTML mail showing a screenshot inline (cid:), as mail clients send a pasted image,
    plus an executable attached."""
    msg.add_alternative('<p>See the error:</p><img src="cid:shot1@customer.example">',
                        subtype="html")
    msg.get_payload()[1].add_related(PNG, maintype="image", subtype="png",
                                     cid="<shot1@customer.example>", filename="error.png",
                                     disposition="inline")
    msg.add_attachment(PROGRAM, maintype="application", subtype="octet-stream",
                       filename="fixer.exe")
    return msg


def files_of(msg: EmailMessage) -> dict[str, EmailMessage]:
    return {str(p.get_filename()): p for p in msg.walk() if p.get_filename()}


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mailgate", *args], capture_output=True,
                          timeout=60, env=ENV, cwd=cwd)


def test_screenshot_travels_inline_in_the_notification(desk: RunningDaemon,
                                                       tmp_path: Path) -> None:
    deliver(desk, with_screenshot(make_mail("Export crashes", sender=CUSTOMER)))
    [notice] = mails(desk, "team@example.com")
    found = files_of(notice)
    shot = found["error.png"]
    assert shot.get_content() == PNG  # the same bytes
    assert shot.get_content_disposition() == "inline"
    assert shot["Content-ID"] == "<shot1@customer.example>"
    assert "fixer.exe" not in found  # a program is never passed on
    text = body(notice)
    assert "mailgate attachment SUP-000001 N" in text
    assert "2. fixer.exe (2004 bytes" in text and ".exe files can run code" in text
    # ... but the engineer can fetch it by its number
    out = tmp_path / "fixer.bin"
    result = run_cli("attachment", "-c", str(tmp_path / "mailgate.toml"), "SUP-000001", "2",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == PROGRAM
    missing = run_cli("attachment", "-c", str(tmp_path / "mailgate.toml"), "SUP-000001", "3")
    assert missing.returncode != 0 and b"has 2 attachment(s); no number 3" in missing.stderr
    piped = run_cli("attachment", "-c", str(tmp_path / "mailgate.toml"), "SUP-000001", "1",
                    "-o", "-")
    assert piped.returncode == 0 and piped.stdout == PNG
    here = tmp_path / "downloads"
    here.mkdir()
    config = str(tmp_path / "mailgate.toml")
    assert run_cli("attachment", "-c", config, "SUP-000001", "1", cwd=here).returncode == 0
    assert (here / "error.png").read_bytes() == PNG  # its stored name, in the current folder
    again = run_cli("attachment", "-c", config, "SUP-000001", "1", cwd=here)
    assert again.returncode != 0 and b"exists" in again.stderr  # never overwritten


def test_files_over_the_limit_are_listed_not_attached(tmp_path: Path) -> None:
    running = start(tmp_path, {"outbound": {"max_attachment_bytes": 12_000}})
    try:
        msg = make_mail("Two logs", sender=CUSTOMER)
        msg.add_attachment(b"a" * 9_000, maintype="text", subtype="plain", filename="one.log")
        msg.add_attachment(b"b" * 9_000, maintype="text", subtype="plain", filename="two.log")
        msg.add_attachment(b"c" * 2_000, maintype="text", subtype="plain", filename="three.log")
        deliver(running, msg)
        [notice] = mails(running, "team@example.com")
        found = files_of(notice)
        assert sorted(found) == ["one.log", "three.log"]  # 11,000 bytes of 12,000
        assert found["three.log"].get_content() == "c" * 2_000
        assert "2. two.log (9000 bytes, text/plain): not attached: over " \
               "outbound.max_attachment_bytes" in body(notice)
    finally:
        running.stop()


def test_engineer_file_reaches_the_customer_in_the_relay(desk: RunningDaemon) -> None:
    first = make_mail("VPN drops", sender=CUSTOMER,
                      to="support@example.com, Tech Contact <tech@example.org>")
    deliver(desk, first)
    [notice] = mails(desk, "team@example.com")
    answer = reply(notice, "Please apply the attached patch.",
                   sender="Alice Engineer <alice@example.com>")
    patch = b"--- a/vpn.conf\n+++ b/vpn.conf\n@@ -1 +1 @@\n-mtu 1500\n+mtu 1400\n"
    answer.add_attachment(patch, maintype="text", subtype="x-diff", filename="vpn-mtu.patch")
    answer.add_attachment(b"%PDF-1.7 manual", maintype="application", subtype="pdf",
                          filename="Manual.pdf")
    answer.add_attachment(b"#!/bin/sh\nreboot\n", maintype="application", subtype="x-sh",
                          filename="fix.sh")
    deliver(desk, answer)
    [relay] = [m for m in mails(desk) if "Alice Engineer" in str(m["From"])]
    found = files_of(relay)
    assert found["vpn-mtu.patch"].get_content() == patch.decode()
    assert found["Manual.pdf"].get_content() == b"%PDF-1.7 manual"
    assert "fix.sh" not in found
    assert "Please apply the attached patch." in body(relay)
    [withheld] = [e for e in desk.store().events(1) if e["kind"] == "attachments_withheld"]
    assert "fix.sh" in withheld["detail"]


def test_relay_addresses_requester_in_to_and_others_in_cc(desk: RunningDaemon) -> None:
    """The requester in To:, a colleague in Cc:; an engineer's Cc: of a customer-side
    address adds them (they get the next relay), the team's own address does not."""
    first = make_mail("Printer offline", sender=CUSTOMER,
                      to="support@example.com, Tech Contact <tech@example.org>")
    deliver(desk, first)
    [notice] = mails(desk, "team@example.com")
    answer = reply(notice, "Looping in your network admin.",
                   sender="Alice Engineer <alice@example.com>",
                   Cc="Nina Admin <nina@example.org>, team@example.com, bob@example.com")
    deliver(desk, answer)
    [relay] = [m for m in mails(desk) if "Alice Engineer" in str(m["From"])]
    assert [a.addr_spec for a in relay["To"].addresses] == ["customer@example.org"]
    assert sorted(a.addr_spec for a in relay["Cc"].addresses) == ["nina@example.org",
                                                                  "tech@example.org"]
    people = {p["address"] for p in desk.store().participants(1)}
    assert people == {"customer@example.org", "tech@example.org", "nina@example.org"}
    assert "participant_added" in events(desk)


def test_customer_cc_in_an_engineer_note_adds_nobody(desk: RunningDaemon) -> None:
    """Only a mail that counts as the engineer's public answer adds its Cc: a #note does not."""
    deliver(desk, make_mail("Disk full", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#note\nAsking nina off the record.",
                        sender="Alice Engineer <alice@example.com>", Cc="nina@example.org"))
    assert {p["address"] for p in desk.store().participants(1)} == {"customer@example.org"}


def test_thanks_with_a_file_stays_closed_and_the_team_gets_the_file(desk: RunningDaemon) -> None:
    deliver(desk, make_mail("Printer jam", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    deliver(desk, reply(notice, "#close\nCleared the jam.", sender="Alice Engineer "
                        "<alice@example.com>"))
    [relay] = [m for m in mails(desk, "customer@example.org") if "Cleared" in body(m)]
    thanks = reply(relay, "Thank you! Here is the photo of the printer working.")
    thanks.add_attachment(PNG, maintype="image", subtype="png", filename="working.png")
    deliver(desk, thanks)
    assert desk.store().ticket_record(1)["status"] == "closed"
    notices = mails(desk, "team@example.com")
    assert len(notices) == 2
    assert files_of(notices[-1])["working.png"].get_content() == PNG


def test_both_composers_pass_files_on_alike() -> None:
    """The fast writer and the ``email`` API (SMTPUTF8 addresses) carry the same files:
    bytes, names (RFC 2231 when not ASCII), disposition and Content-ID, with Cc: kept."""
    from datetime import UTC, datetime
    from email import message_from_bytes, policy

    from mailgate.compose import compose, compose_email_api
    from mailgate.message import Attachment

    sent = [Attachment("screen shot.png", "image/png", PNG, "<shot@x.example>", True),
            Attachment("Relatório " + "x" * 150 + ".pdf", "application/pdf", b"%PDF" * 9000),
            Attachment("forwarded.eml", "message/rfc822", b"Subject: hi\r\n\r\nbody\r\n"),
            Attachment("empty.txt", "text/plain", b"")]
    common = dict(from_addr="support@example.com", from_name="Alice (Support)",
                  to=[("Casey", "customer@example.org")], cc=[("Tech", "tech@example.org")],
                  subject="[SUP-000001] Files", text="See the files.\n", html="<p>See</p>",
                  message_id="<m@example.com>", date=datetime(2026, 1, 5, tzinfo=UTC),
                  loop_id="support@example.com", attachments=sent)
    for build in (compose, compose_email_api):
        raw = build(**common)  # type: ignore[arg-type]
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        msg = message_from_bytes(raw, policy=policy.default)
        assert [a.addr_spec for a in msg["Cc"].addresses] == ["tech@example.org"]
        assert msg.get_body(("plain",)).get_content().strip() == "See the files."
        got = list(msg.iter_attachments())
        assert [p.get_filename() for p in got] == [a.filename for a in sent]
        assert [p.get_content_disposition() for p in got] == ["inline", "attachment",
                                                              "attachment", "attachment"]
        assert got[0]["Content-ID"] == "<shot@x.example>"
        assert got[2].get_content_type() == "application/octet-stream"  # not base64-able
        for part, attachment in zip(got, sent, strict=True):
            assert part.get_payload(decode=True) == attachment.data, build.__name__


def test_an_engineers_smime_signature_does_not_travel_with_the_relay(
        desk: RunningDaemon) -> None:
    """An S/MIME-signed answer (multipart/signed with smime.p7s) reaches the customer with
    its PDF but without the signature part: it signs the engineer's mail, not the relay,
    and clients show it as a broken file (user6). The original stays stored, signed."""
    import email
    from email import policy
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    deliver(desk, make_mail("Printer queue stuck", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    answer = reply(notice, "Fixed: the queue was paused. Manual attached.",
                   sender="Bob Engineer <bob@example.com>")
    content = EmailMessage()
    content.set_content("Fixed: the queue was paused. Manual attached.\n")
    content.add_attachment(b"%PDF-1.7 manual", maintype="application", subtype="pdf",
                           filename="Manual.pdf")
    signed = MIMEMultipart("signed", protocol="application/pkcs7-signature",
                           micalg="sha-256")
    for name, value in answer.items():
        if not name.lower().startswith(("content-", "mime-")):
            signed[name] = value
    signed.attach(content)
    signature = MIMEApplication(b"0\x82\x06\x1b\x06\t*\x86H\x86\xf7\r\x01\x07\x02",
                                "pkcs7-signature", name="smime.p7s")
    signature.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    signed.attach(signature)
    deliver(desk, email.message_from_bytes(signed.as_bytes(), policy=policy.default))
    [relay] = [m for m in mails(desk) if "Bob Engineer" in str(m["From"])]
    found = files_of(relay)
    assert found["Manual.pdf"].get_content() == b"%PDF-1.7 manual"
    assert "smime.p7s" not in found and "smime.p7s" not in body(relay)
    assert "the queue was paused" in body(relay)


def test_a_zipped_program_does_not_travel_but_a_zip_of_logs_does(desk: RunningDaemon) -> None:
    """A .exe inside a ZIP is the oldest way past an extension list: the archive stays
    behind like the program would (listed, fetchable); a ZIP of logs travels."""
    import io
    import zipfile

    def zipped(*names: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in names:
                archive.writestr(name, b"data of " + name.encode())
        return buffer.getvalue()

    msg = make_mail("Logs and a tool", sender=CUSTOMER)
    msg.add_attachment(zipped("logs/app.log", "logs/db.log"), maintype="application",
                       subtype="zip", filename="logs.zip")
    msg.add_attachment(zipped("readme.txt", "tools/Fixer.EXE"), maintype="application",
                       subtype="zip", filename="fixer.zip")
    deliver(desk, msg)
    [notice] = mails(desk, "team@example.com")
    found = files_of(notice)
    assert "logs.zip" in found and "fixer.zip" not in found
    assert "the archive holds tools/Fixer.EXE, which can run code" in body(notice)
