"""IMAP through the whole daemon: a real Dovecot mailbox becomes tickets, once each."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.policy import SMTP
from pathlib import Path

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests import support
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.imapserver import DovecotServer


def imap_config(tmp_path: Path, server: DovecotServer, after: str = "move",
                *overrides: dict) -> Path:
    os.environ["MAILGATE_TEST_IMAP_PASSWORD"] = server.password
    return write_config(tmp_path, *overrides, {"imap": [{
        "name": "support-mailbox", "host": server.host, "port": server.port,
        "security": "plain", "username": server.user,
        "password_env": "MAILGATE_TEST_IMAP_PASSWORD", "after": after, "move_to": "Processed",
        "poll_interval": "1s", "queue": "mailbox-queue"}]})


def wait_until(daemon: RunningDaemon, done: Callable[[], bool], what: str,
               timeout: float = 20) -> None:
    """Wait for ``done()``, woken by each processor commit rather than sleeping blindly."""

    def woken(seconds: float) -> None:
        with daemon.daemon.spooler.changed:
            daemon.daemon.spooler.changed.wait(seconds)

    support.wait_until(done, timeout, interval=0.1, message=f"waiting for {what}", pause=woken)


def wait_tickets(daemon: RunningDaemon, count: int) -> list[dict]:
    store = daemon.store()
    wait_until(daemon, lambda: len(store.tickets()) >= count, f"{count} tickets")
    return store.tickets()


def test_mailbox_mail_becomes_ticket_and_is_moved(tmp_path: Path,
                                                  dovecot: DovecotServer) -> None:
    """Mail in INBOX becomes a ticket with the mailbox's queue, an ack, and moves to Processed."""
    dovecot.append(make_mail("From the mailbox").as_bytes())
    config = load_config(imap_config(tmp_path, dovecot))
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        [ticket] = wait_tickets(daemon, 1)
        daemon.wait_outbox_idle()
        # A reply appended later (IDLE wakes the fetcher) threads into the same ticket.
        dovecot.append(make_mail("Re: [SUP-000001] From the mailbox").as_bytes())
        store = daemon.store()
        wait_until(daemon, lambda: len(store.messages(1)) >= 3, "the reply to thread")
    finally:
        daemon.stop()
    assert ticket["subject"] == "From the mailbox"
    assert daemon.store().ticket_record(1)["queue"] == "mailbox-queue"
    assert len(daemon.store().tickets()) == 1
    assert dovecot.list_uids("INBOX") == []
    assert len(dovecot.list_uids("Processed")) == 2
    assert len(list(daemon.outbox_dir.glob("*.eml"))) == 1


def test_refetch_after_lost_flag_is_not_duplicated(tmp_path: Path,
                                                   dovecot: DovecotServer) -> None:
    """If the cursor is lost after commit (crash before the flag), the re-fetch is a duplicate."""
    dovecot.append(make_mail("Only once").as_bytes())
    config = load_config(imap_config(tmp_path, dovecot, after="seen"))
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        wait_tickets(daemon, 1)
    finally:
        daemon.stop()
    # Simulate the crash window: forget that it was flagged and where the cursor was.
    daemon.store().forget_imap_cursor("support-mailbox", "INBOX")
    with dovecot.client() as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search("ALL"), [b"\\Seen"])
    daemon = RunningDaemon(config).start()
    try:
        store = daemon.store()
        wait_until(daemon, lambda: store.spool_counts().get("duplicate", 0) >= 1,
                   "the message to be fetched again")
    finally:
        daemon.stop()
    assert len(daemon.store().tickets()) == 1
    assert daemon.store().spool_counts() == {"done": 1, "duplicate": 1}


def test_mail_over_the_smtp_size_limit_is_set_aside_in_the_mailbox(tmp_path: Path,
                                                                  dovecot: DovecotServer) -> None:
    """IMAP applies smtp.max_message_size as SMTP and pipe do: the large mail gets no ticket
    and waits whole in error_folder; the small one after it becomes a ticket."""
    large = make_mail("Scan of the whole archive",
                      body=("y" * 76 + "\n") * 60).as_bytes(policy=SMTP)
    dovecot.append(large)
    dovecot.append(make_mail("Small one").as_bytes())
    config = load_config(imap_config(tmp_path, dovecot, "seen",
                                     {"smtp": {"max_message_size": 2048}}))
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        [ticket] = wait_tickets(daemon, 1)
        support.wait_until(lambda: dovecot.list_uids("mailgate-errors") == [1], 10,
                           message="the large mail in error_folder")
    finally:
        daemon.stop()
    assert ticket["subject"] == "Small one"
    [kept] = dovecot.messages("mailgate-errors").values()
    assert kept == large
    assert daemon.store().spool_counts() == {"done": 1}
