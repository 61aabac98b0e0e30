"""Long lines and big headers: accepted over SMTP and by ``ingest``, stored byte for byte.

aiosmtpd's default refuses a line over 1,000 octets with ``500 Line too long``; the
sending MTA then bounces the customer's mail. Lines up to the size limit are taken.
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
from email import policy
from pathlib import Path

from mailgate.config import load_config
from mailgate.store import Store, open_store
from tests.conftest import RunningDaemon, make_mail
from tests.support import wait_processed
from tests.test_cli import ENV

LONG_SUBJECT = "Export fails " + "with error code E4711 and more words " * 82  # ~3,000
LONG_LINE = "2026-01-05T09:30:00 ERROR " + "x" * 4974  # one body line of 5,000 characters


def long_mail() -> bytes:
    """A mail with a 5,000-character body line and a ~3,000-character Subject on one line,
    as generated mail has them (no folding)."""
    assert len(LONG_LINE) == 5000 and len(LONG_SUBJECT) > 3000
    return (b"From: Casey Customer <customer@example.org>\r\n"
            b"To: support@example.com\r\n"
            + f"Subject: {LONG_SUBJECT}\r\n".encode()
            + b"Date: Mon, 05 Jan 2026 09:30:00 +0000\r\n"
            b"Message-ID: <long-lines-1@example.org>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"The log line:\r\n" + LONG_LINE.encode() + b"\r\nRegards, Casey\r\n")


def check_ticket(store: Store, spool_id: int, raw: bytes) -> None:
    """The exact bytes are stored; the ticket has the body line whole and the Subject's
    first 998 characters (one line of display text, as every header we copy)."""
    assert store.spool_raw(spool_id) == raw
    [ticket] = store.tickets()
    assert ticket["subject"] == LONG_SUBJECT[:998]
    [message] = [m for m in store.messages(1) if m["direction"] == "in"]
    assert LONG_LINE in message["body_text"]
    assert [m["kind"] for m in store.messages(1)] == ["customer", "ack"]


def test_long_lines_accepted_over_smtp_and_stored_byte_exact(daemon: RunningDaemon) -> None:
    raw = long_mail()
    code, text = daemon.send(raw)
    assert code == 250, text  # aiosmtpd's default answers 500 Line too long
    spool_id = int(text.decode().rsplit(" ", 1)[1])
    assert daemon.wait_processed(spool_id) == "done"
    check_ticket(daemon.store(), spool_id, raw)


def test_long_lines_accepted_by_ingest(config_path: Path) -> None:
    raw = long_mail()
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path),
                             "-f", "customer@example.org"], input=raw, capture_output=True,
                            timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    wait_processed(config_path)  # (by the drainer ingest started)
    store = open_store(load_config(config_path), migrate=False)
    try:
        [row] = store.spool_rows_of_message("<long-lines-1@example.org>")
        check_ticket(store, row["id"], raw)
    finally:
        store.close()


def test_line_longer_than_the_size_limit_is_refused_as_too_big(daemon: RunningDaemon) -> None:
    """The only line too long is one over the message size limit: refused for good (aiosmtpd
    says 500 Line too long, a client that declared SIZE gets 552 at MAIL), nothing stored."""
    raw = long_mail().replace(LONG_LINE.encode(), b"y" * 250_000)
    try:
        code, _ = daemon.send(raw)
    except smtplib.SMTPDataError as exc:
        code = exc.smtp_code
    assert code == 500
    assert daemon.store().spool_counts() == {}


def test_huge_headers_make_a_ticket_with_the_field_cut(daemon: RunningDaemon) -> None:
    """A field folded over thousands of lines and thousands of References (and a byte-order
    mark before the headers): a ticket, the cut noted on it, the raw bytes kept whole."""
    refs = "References:" + "".join(f"\r\n <ref-{i}@lists.example>" for i in range(3000))
    folded = "X-Trace: start" + "".join(f"\r\n hop {i}" for i in range(5000))
    raw = (b"\xef\xbb\xbf" + make_mail("Big headers").as_bytes(policy=policy.SMTP)
           .replace(b"\r\n\r\n", f"\r\n{refs}\r\n{folded}\r\n\r\n".encode(), 1))
    code, text = daemon.send(raw)
    assert code == 250, text
    spool_id = int(text.decode().rsplit(" ", 1)[1])
    assert daemon.wait_processed(spool_id) == "done"
    store = daemon.store()
    assert store.spool_raw(spool_id) == raw
    [ticket] = store.tickets()
    assert ticket["subject"] == "Big headers"
    [cut] = [e["detail"] for e in store.events(1) if e["kind"] == "headers_cut"]
    assert "References (" in cut and "X-Trace (" in cut


def test_mail_we_send_about_it_keeps_to_998_octet_lines(tmp_path: Path) -> None:
    """The acknowledgement (998-character subject, tagged) and the team's notification (the
    5,000-character line in its text) go out with no line over RFC 5322's 998 octets: the
    subject folded, the text quoted-printable, the long line whole once decoded."""
    from email import message_from_bytes

    from mailgate.logs import configure_logging
    from tests.configs import write_config

    config = load_config(write_config(tmp_path, {"team": {"address": "team@example.com"}}))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    try:
        code, text = running.send(long_mail())
        assert code == 250, text
        assert running.wait_processed(int(text.decode().rsplit(" ", 1)[1])) == "done"
        running.wait_outbox_idle()
        sent = [p.read_bytes() for p in sorted(running.outbox_dir.glob("*.eml"))]
    finally:
        running.stop()
    assert len(sent) == 2
    for raw in sent:
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = [message_from_bytes(raw, policy=policy.default) for raw in sent]
    [notice] = [m for m in parsed if "team@example.com" in str(m["To"])]
    assert LONG_LINE in notice.get_body(("plain",)).get_content()
    assert all(str(m["Subject"]).startswith("[SUP-000001] Export fails") for m in parsed)
