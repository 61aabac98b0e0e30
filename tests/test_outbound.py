"""The sender against a real smarthost (aiosmtpd over loopback, ``tests.faultkit.Relay``):
what happens to a mail when the smarthost refuses some of it.

Each test queues outbox rows in a real store, runs the real ``Sender`` (the code the
daemon's sender runs) and looks at what the smarthost received, the rows and the events.
"""

from __future__ import annotations

import asyncio
import email
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from freezegun import freeze_time

from mailgate import clock
from mailgate.compose import compose
from mailgate.config import Config, load_config
from mailgate.message.attachments import Attachment
from mailgate.outbound import Sender
from mailgate.store import Store, open_store
from tests.configs import write_config
from tests.faultkit import Relay, RelayHandler
from tests.support import free_port, wait_until


class Refusing(RelayHandler):
    """A smarthost answering RCPT for some addresses with a given reply (4xx or 5xx)."""

    def __init__(self, answers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        answer = self.answers.get(address.lower())
        if answer:
            return answer
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture()
def port() -> int:
    return free_port()


@pytest.fixture()
def config(tmp_path: Path, port: int) -> Config:
    return load_config(write_config(tmp_path, {"outbound": {
        "mode": "smtp", "host": "127.0.0.1", "port": port, "timeout": "5s",
        "retry_initial": "1m", "retry_max": "1h"}}))


@pytest.fixture()
def store(config: Config) -> Iterator[Store]:
    opened = open_store(config)
    yield opened
    opened.close()


def new_ticket(store: Store, requester: str = "req@example.org") -> int:
    with store.transaction():
        return store.create_ticket(reference_of=lambda n: f"SUP-{n:06d}", status="open",
                                   subject="Printer", requester=requester,
                                   requester_name=None, sla_level=None, now=clock.now()).id


def queue(store: Store, ticket_id: int | None, kind: str, rcpt_tos: Sequence[str],
          name: str, body: bytes = b"hello\r\n") -> int:
    """Queue a small mail (Message-ID ``<name@example.com>``); its outbox id."""
    head = (f"From: support@example.com\r\nTo: {rcpt_tos[0]}\r\n"
            + (f"Cc: {', '.join(rcpt_tos[1:])}\r\n" if rcpt_tos[1:] else "")
            + f"Subject: [SUP-000001] Printer\r\nMessage-ID: <{name}@example.com>\r\n\r\n")
    with store.transaction():
        return store.outbox_add(ticket_id=ticket_id, message_id=f"<{name}@example.com>",
                                kind=kind, mail_from="support@example.com", rcpt_tos=rcpt_tos,
                                raw=head.encode() + body, now=clock.now())


def drain(config: Config, node: str = "n1") -> int:
    """One sender drains everything due now; the rows it attempted."""
    async def run() -> int:
        sender = Sender(config, lambda: open_store(config, migrate=False), node)
        try:
            return await sender.drain()
        finally:
            sender.close()
    return asyncio.run(run())


def row(store: Store, outbox_id: int) -> dict[str, Any]:
    [found] = [r for r in store.outbox(("pending", "failed", "sent")) if r["id"] == outbox_id]
    return found


def events(store: Store, ticket_id: int, kind: str) -> list[str]:
    return [e["detail"] for e in store.events(ticket_id) if e["kind"] == kind]


# -- 1. one recipient refused -------------------------------------------------------------------


def test_a_refused_recipient_waits_or_fails_alone_and_the_others_get_the_mail_once(
        config: Config, store: Store, port: int) -> None:
    """A Cc the smarthost defers (450) waits alone; one it refuses (550) fails with an event
    naming it; the requester has the mail once, also after the retry."""
    ticket = new_ticket(store)
    handler = Refusing({"cc@example.org": "450 4.2.2 Mailbox full, try later",
                        "gone@example.org": "550 5.1.1 No such user"})
    oid = queue(store, ticket, "relay", ["req@example.org", "cc@example.org",
                                         "gone@example.org"], "r1")
    with Relay(port, handler):
        drain(config)
        first = row(store, oid)
        handler.answers.clear()  # the Cc's mailbox has room again
        store.outbox_retry(oid, clock.now())  # as `mailgate outbox retry` makes it due
        drain(config)
    assert first["state"] == "pending" and first["to"] == ["cc@example.org"]
    assert "450" in first["last_error"]
    assert [d.rcpt_tos for d in handler.delivered()] == [["req@example.org"],
                                                         ["cc@example.org"]]
    assert row(store, oid)["state"] == "sent"
    [failed] = events(store, ticket, "delivery_failed")
    assert "gone@example.org" in failed and "550" in failed and "cc@" not in failed
    [deferred] = events(store, ticket, "delivery_deferred")
    assert "cc@example.org" in deferred and "req@" not in deferred


def test_every_recipient_refused_for_good_fails_the_mail_with_an_event_each(
        config: Config, store: Store, port: int) -> None:
    ticket = new_ticket(store)
    handler = RelayHandler(reject=frozenset({"req@example.org", "cc@example.org"}))
    oid = queue(store, ticket, "relay", ["req@example.org", "cc@example.org"], "r2")
    with Relay(port, handler):
        drain(config)
    assert handler.delivered() == []
    assert row(store, oid)["state"] == "failed"
    failed = events(store, ticket, "delivery_failed")
    assert sorted(f.split(" to ")[1].split(":")[0] for f in failed) == [
        "cc@example.org", "req@example.org"]


# -- 2. order kept among mail to the same recipients only ---------------------------------------


def test_a_customers_deferred_ack_holds_back_their_later_mail_but_not_the_teams(
        config: Config, store: Store, port: int) -> None:
    """The ack to a full mailbox waits; the team's notice of the same ticket goes at once, and
    the relay to the same customer stays behind the ack (their thread keeps its order)."""
    ticket = new_ticket(store, "full@example.org")
    handler = Refusing({"full@example.org": "452 4.2.2 Mailbox full"})
    ack = queue(store, ticket, "ack", ["full@example.org"], "a1")
    with Relay(port, handler):
        drain(config)
        notice = queue(store, ticket, "notification", ["team@example.com"], "n1")
        relay = queue(store, ticket, "relay", ["full@example.org"], "r1")
        store.outbox_retry(relay, clock.now())  # due now: only the order holds it
        drain(config)
        held = row(store, relay)
        handler.answers.clear()
        store.outbox_retry(ack, clock.now())
        drain(config)
    assert row(store, notice)["state"] == "sent"
    assert held["state"] == "pending" and held["attempts"] == 0
    assert [d.message_id for d in handler.delivered()] == [
        "<n1@example.com>", "<a1@example.com>", "<r1@example.com>"]


# -- 3. a mail over the smarthost's size limit --------------------------------------------------


def mail_with_file(name: str, size: int) -> bytes:
    """A notification carrying one file of ``size`` random bytes, as the processor builds it."""
    return compose(from_addr="support@example.com", from_name="Support",
                   to=[(None, "team@example.com")], subject="[SUP-000001] Printer",
                   text="New ticket: the printer jams, trace attached.", html=None,
                   message_id=f"<{name}@example.com>", date=clock.now(),
                   loop_id="support@example.com",
                   attachments=[Attachment("trace.zip", "application/zip", os.urandom(size),
                                           None, False)])


class TooBig(RelayHandler):
    """A smarthost that announces no SIZE but answers 552 5.3.4 to a mail over ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if len(envelope.original_content or b"") > self.limit:
            return "552 5.3.4 Message size exceeds fixed limit"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("announced", [True, False], ids=["size-in-ehlo", "552-after-data"])
def test_a_mail_too_large_for_the_smarthost_goes_without_its_files_listed_as_withheld(
        config: Config, store: Store, port: int, announced: bool) -> None:
    """The team still gets the notice: its text, and the file named as not attached."""
    ticket = new_ticket(store)
    raw = mail_with_file("big", 150_000)  # about 200 kB with base64, over the 100 kB limit
    with store.transaction():
        oid = store.outbox_add(ticket_id=ticket, message_id="<big@example.com>",
                               kind="notification", mail_from="support@example.com",
                               rcpt_tos=["team@example.com"], raw=raw, now=clock.now())
    handler = RelayHandler() if announced else TooBig(100_000)
    with Relay(port, handler, size=100_000 if announced else None):
        drain(config)
    [delivery] = handler.delivered()
    got = email.message_from_bytes(delivery.raw, policy=policy.default)
    assert isinstance(got, EmailMessage)
    assert [p.get_content_type() for p in got.walk() if not p.is_multipart()] == [
        "text/plain", "text/plain"]  # the text, and the list of what stayed behind
    text = "\n".join(str(p.get_content()) for p in got.walk() if p.get_content_type()
                     == "text/plain")
    assert "the printer jams" in text
    assert "Not attached" in text and "trace.zip (150000 bytes)" in text
    assert got["Message-ID"] == "<big@example.com>"
    assert row(store, oid)["state"] == "sent"
    [withheld] = events(store, ticket, "attachments_withheld")
    assert "trace.zip" in withheld and "too large" in withheld


def test_a_mail_without_files_too_large_fails_for_good(
        config: Config, store: Store, port: int) -> None:
    ticket = new_ticket(store)
    oid = queue(store, ticket, "relay", ["req@example.org"], "long", b"long text\r\n" * 12_000)
    handler = TooBig(100_000)
    with Relay(port, handler, size=None):
        drain(config)
    assert handler.delivered() == []
    assert row(store, oid)["state"] == "failed"
    [failed] = events(store, ticket, "delivery_failed")
    assert "552" in failed


# -- 5. several nodes: a batch longer than the lease --------------------------------------------


def test_a_batch_outlasting_its_lease_is_never_sent_twice_by_a_second_node(
        tmp_path: Path, port: int) -> None:
    """A slow smarthost makes one node's batch outlast its lease; a second node starting
    then takes over what the first has not sent, and no mail goes out twice."""
    config = load_config(write_config(tmp_path, {"outbound": {
        "mode": "smtp", "host": "127.0.0.1", "port": port, "timeout": "5s", "lease": "1s"}}))
    store = open_store(config)
    try:
        for n in range(16):
            queue(store, None, "ack", [f"c{n}@example.org"], f"m{n}")
    finally:
        store.close()
    handler = RelayHandler(delay=0.4)  # 4 rounds of 4 connections: 1.6 s, over the lease

    async def second_node_after(count: int) -> int:
        await asyncio.to_thread(wait_until, lambda: len(handler.delivered()) >= count, 15)
        return await node("n2")

    async def node(name: str) -> int:
        sender = Sender(config, lambda: open_store(config, migrate=False), name)
        try:
            return await sender.drain()
        finally:
            sender.close()

    async def both() -> list[int]:
        return list(await asyncio.gather(node("n1"), second_node_after(12)))

    with Relay(port, handler):
        asyncio.run(both())
    sent = Counter(d.message_id for d in handler.delivered())
    assert sorted(sent) == sorted(f"<m{n}@example.com>" for n in range(16))
    assert [mid for mid, times in sent.items() if times > 1] == []


# -- 6. a non-ASCII recipient on a smarthost without SMTPUTF8 -----------------------------------


def test_a_non_ascii_recipient_without_smtputf8_fails_alone_and_the_others_get_the_mail(
        config: Config, store: Store, port: int) -> None:
    ticket = new_ticket(store)
    oid = queue(store, ticket, "relay", ["req@example.org", "jürgen@example.org"], "u1")
    handler = RelayHandler()
    with Relay(port, handler, smtputf8=False):
        drain(config)
    assert [d.rcpt_tos for d in handler.delivered()] == [["req@example.org"]]
    assert row(store, oid)["state"] == "sent"
    [failed] = events(store, ticket, "delivery_failed")
    assert "jürgen@example.org" in failed and "SMTPUTF8" in failed
    assert events(store, ticket, "delivery_deferred") == []


def test_only_non_ascii_recipients_without_smtputf8_fail_at_once_not_retried(
        config: Config, store: Store, port: int) -> None:
    ticket = new_ticket(store)
    oid = queue(store, ticket, "ack", ["jürgen@example.org"], "u2")
    handler = RelayHandler()
    with Relay(port, handler, smtputf8=False):
        drain(config)
    assert handler.delivered() == []
    assert row(store, oid)["state"] == "failed"
    assert len(events(store, ticket, "delivery_failed")) == 1
    assert events(store, ticket, "delivery_deferred") == []


def test_a_non_ascii_recipient_gets_the_mail_where_the_smarthost_offers_smtputf8(
        config: Config, store: Store, port: int) -> None:
    ticket = new_ticket(store)
    queue(store, ticket, "relay", ["req@example.org", "jürgen@example.org"], "u3")
    handler = RelayHandler()
    with Relay(port, handler):
        drain(config)
    assert [d.rcpt_tos for d in handler.delivered()] == [["req@example.org",
                                                          "jürgen@example.org"]]


# -- 8. the team hears of a customer's mail that failed for good --------------------------------


@pytest.fixture()
def team_config(tmp_path: Path, port: int) -> Config:
    return load_config(write_config(tmp_path, {
        "team": {"address": "team@example.com"},
        "outbound": {"mode": "smtp", "host": "127.0.0.1", "port": port, "timeout": "5s",
                     "retry_initial": "1m", "give_up_after": "1h"}}))


def test_a_relay_refused_for_good_tells_the_team_who_did_not_get_it(
        team_config: Config, port: int) -> None:
    store = open_store(team_config)
    try:
        ticket = new_ticket(store)
        queue(store, ticket, "relay", ["req@example.org", "gone@example.org"], "r8")
        handler = RelayHandler(reject=frozenset({"gone@example.org"}))
        with Relay(port, handler):
            drain(team_config)
        [relay, notice] = handler.delivered()
        assert relay.rcpt_tos == ["req@example.org"] and notice.rcpt_tos == [
            "team@example.com"]
        text = email.message_from_bytes(notice.raw, policy=policy.default)
        assert isinstance(text, EmailMessage)
        body = str(text.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        assert "gone@example.org" in body and "550" in body and "req@" not in body
        assert "Delivery failure on SUP-000001" in body
        assert text["In-Reply-To"] == "<r8@example.com>"
    finally:
        store.close()


def test_a_mail_given_up_after_give_up_after_tells_the_team(
        team_config: Config, port: int) -> None:
    store = open_store(team_config)
    try:
        ticket = new_ticket(store)
        with freeze_time(clock.now() - timedelta(hours=2)):
            queue(store, ticket, "ack", ["full@example.org"], "a8")
        handler = Refusing({"full@example.org": "452 4.2.2 Mailbox full"})
        with Relay(port, handler):
            drain(team_config)
        [notice] = handler.delivered()
        assert notice.rcpt_tos == ["team@example.com"]
        assert b"full@example.org" in notice.raw and b"gave up" in notice.raw
    finally:
        store.close()


def test_the_teams_own_mail_failing_tells_nobody(team_config: Config, port: int) -> None:
    """A notice to the team that fails is recorded, never answered by another (a loop)."""
    store = open_store(team_config)
    try:
        ticket = new_ticket(store)
        oid = queue(store, ticket, "notification", ["team@example.com"], "n8")
        handler = RelayHandler(reject=frozenset({"team@example.com"}))
        with Relay(port, handler):
            drain(team_config)
        assert handler.delivered() == []
        assert [r["id"] for r in store.outbox(("pending", "failed", "sent"))] == [oid]
        assert len(events(store, ticket, "delivery_failed")) == 1
    finally:
        store.close()
