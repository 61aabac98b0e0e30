"""Mail loops are bounded: robots that answer everything, and two gateways answering each other.

Real SMTP both ways: mailgate's ``[outbound] mode = "smtp"`` points at an aiosmtpd server
in the test (a vacation responder, a header-stripping relay, or the other gateway), which
sends its answers back to mailgate's listener. Mails are counted where they arrive.
"""

from __future__ import annotations

import asyncio
import email
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.support import free_port

CAP = 3
QUIET = 1.5  # seconds of silence that show a loop has stopped (the only deliberate wait)


def gateway_config(folder: Path, *, address: str, prefix: str, listen: int,
                   smarthost: int, cap: int = CAP) -> Path:
    """A config sending by SMTP to ``smarthost``, always on SQLite, with the processor as
    one process (the default)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder, {
        "gateway": {"name": f"Support {prefix}", "addresses": [address],
                    "reference_prefix": prefix},
        "smtp": {"port": listen},
        "store": {"url": "sqlite:///var/mailgate.db"},
        "outbound": {"mode": "smtp", "host": "127.0.0.1", "port": smarthost, "timeout": "5s",
                     "retry_initial": "0.2s", "retry_max": "0.5s"},
        "processing": {"processes": 1},
        "conversation": {"auto_reply_cap": cap},
    })


def start_gateway(folder: Path, **kwargs: Any) -> RunningDaemon:
    config = load_config(gateway_config(folder, **kwargs))
    configure_logging(config.logging)
    return RunningDaemon(config).start()


class Counter:
    """Mails seen by a test server, with a condition to wait on (no sleeping)."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.sent = 0
        self.changed = threading.Condition()

    def add(self, msg: EmailMessage | None = None, sent: int = 0) -> None:
        with self.changed:
            if msg is not None:
                self.mails.append(msg)
            self.sent += sent
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def quiet(self, seconds: float = QUIET) -> bool:
        """True when nothing at all arrives for ``seconds``: the loop has stopped."""
        with self.changed:
            before = (len(self.mails), self.sent)
            return not self.changed.wait_for(lambda: (len(self.mails), self.sent) != before,
                                             seconds)


class Server:
    """An aiosmtpd server on loopback running ``handler`` in its own thread."""

    def __init__(self, handler: Any) -> None:
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port,
                                     decode_data=False)

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def deliver(port: int, raw: bytes, mail_from: str, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(mail_from, [rcpt], raw)


class VacationResponder:
    """The mailbox of vacation@responder.example: answers every mail it gets, even ours.

    ``marked`` answers carry ``Auto-Submitted: auto-replied`` (RFC 3834); unmarked ones
    look like a person's new mail: own subject, no In-Reply-To, no robot header.
    """

    address = "vacation@responder.example"

    def __init__(self, marked: bool) -> None:
        self.marked = marked
        self.counter = Counter()
        self.gateway_port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.counter.add(msg)
        asyncio.get_running_loop().run_in_executor(None, self.answer, msg)
        return "250 2.0.0 OK"

    def answer(self, original: EmailMessage) -> None:
        reply = EmailMessage()
        reply["From"] = f"Vic Vacation <{self.address}>"
        reply["To"] = str(original["Reply-To"] or original["From"])
        reply["Message-ID"] = make_msgid(domain="responder.example")
        if self.marked:
            reply["Subject"] = f"Auto: {original['Subject']}"
            reply["In-Reply-To"] = original["Message-ID"]
            reply["Auto-Submitted"] = "auto-replied"
        else:
            reply["Subject"] = "Away until Monday"
        reply.set_content("I am away until Monday and will read your mail then.\n")
        deliver(self.gateway_port, reply.as_bytes(policy=policy.SMTP), self.address,
                "support@example.com")
        self.counter.add(sent=1)


def settled(daemon: RunningDaemon) -> bool:
    """Everything received is processed and nothing waits in the outbox."""
    store = daemon.store()
    try:
        return "new" not in store.spool_counts() and not store.outbox(("pending",))
    finally:
        store.close()


def wait_settled(counter: Counter, gateways: list[RunningDaemon],
                 predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    assert counter.wait_for(predicate, timeout), "the expected mails never arrived"
    while not all(settled(g) for g in gateways):
        assert time.monotonic() < deadline, "the gateways did not settle"
        counter.wait_for(lambda: False, 0.05)


def events(daemon: RunningDaemon, kind: str) -> list[str]:
    store = daemon.store()
    try:
        return [e["detail"] for t in store.tickets() for e in store.events(t["id"])
                if e["kind"] == kind]
    finally:
        store.close()


@pytest.mark.parametrize("marked", [True, False], ids=["auto-submitted", "no-marker"])
def test_vacation_responder_loop_is_bounded(tmp_path: Path, marked: bool) -> None:
    """A responder answering everything gets 1 ack if it marks replies; if it does not, its
    answers are new mail: the ack of the first, the ack of its first answer (a new
    subject: a new ticket), one "joined your open ticket" notice for its second answer
    (the same subject: a repeat report); its third answer joins quietly (the notice is
    sent once per ticket, RFC 3834) and the loop stops there, long before the cap."""
    responder = VacationResponder(marked)
    with Server(responder) as server:
        gateway = start_gateway(tmp_path / "gw", address="support@example.com", prefix="SUP",
                                listen=0, smarthost=server.port, cap=20)
        try:
            responder.gateway_port = gateway.port
            first = make_mail("Printer broken", sender=f"Vic <{responder.address}>")
            code, text = gateway.send(first, mail_from=responder.address)
            assert code == 250, text
            rounds = 1 if marked else 3
            wait_settled(responder.counter, [gateway], lambda: responder.counter.sent >= rounds)
            assert responder.counter.quiet(), "mail kept flowing: the loop did not stop"
            settled_mails = len(responder.counter.mails)
        finally:
            gateway.stop()
    assert settled_mails == rounds  # from mailgate to the responder
    assert responder.counter.sent == rounds  # and back
    assert events(gateway, "auto_reply_capped") == []
    if marked:  # stopped by Auto-Submitted: recorded, nobody answered
        [detail] = events(gateway, "automatic_mail")
        assert "Auto-Submitted: auto-replied" in detail
    else:  # stopped by telling a sender only once that their mail joined the ticket
        assert events(gateway, "automatic_mail") == []
        assert len(events(gateway, "duplicate_merged")) == 2
        [skipped] = events(gateway, "merged_notice_skipped")
        assert f"{responder.address} was told at" in skipped
        assert "the team is not told" in skipped
    assert all(m["Auto-Submitted"] == "auto-replied" for m in responder.counter.mails)


class StrippingRelay:
    """A smarthost that removes every loop marker, then passes the mail on (store and forward).

    It stands for a list server or a misconfigured MTA between two gateways.
    """

    STRIP = (b"auto-submitted:", b"x-auto-response-suppress:", b"x-mailgate-loop:",
             b"precedence:")

    def __init__(self) -> None:
        self.counter = Counter()
        self.target = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content
        head, sep, body = raw.partition(b"\r\n\r\n")
        kept: list[bytes] = []
        dropping = False
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t"):
                if not dropping:
                    kept.append(line)
                continue
            dropping = line.lower().startswith(self.STRIP)
            if not dropping:
                kept.append(line)
        stripped = b"\r\n".join(kept) + sep + body
        self.counter.add(email.message_from_bytes(stripped, policy=policy.default))
        await asyncio.get_running_loop().run_in_executor(
            None, deliver, self.target, stripped, envelope.mail_from, envelope.rcpt_tos[0])
        self.counter.add(sent=1)
        return "250 2.0.0 OK"


Gateways = Callable[..., tuple[RunningDaemon, RunningDaemon]]


@pytest.fixture
def two_gateways(tmp_path: Path) -> Iterator[Gateways]:
    started: list[RunningDaemon] = []

    def start(a_smarthost: int | None = None, b_smarthost: int | None = None,
              ) -> tuple[RunningDaemon, RunningDaemon]:
        a_port, b_port = free_port(), free_port()
        a = start_gateway(tmp_path / "a", address="support@a.example", prefix="AAA", listen=a_port,
                          smarthost=a_smarthost or b_port)
        started.append(a)
        b = start_gateway(tmp_path / "b", address="support@b.example", prefix="BBB", listen=b_port,
                          smarthost=b_smarthost or a_port)
        started.append(b)
        return a, b

    yield start
    for daemon in started:
        daemon.stop()


def outgoing(daemon: RunningDaemon) -> list[dict[str, Any]]:
    store = daemon.store()
    try:
        return store.outbox(("pending", "sent", "failed"))
    finally:
        store.close()


def received(daemon: RunningDaemon) -> int:
    store = daemon.store()
    try:
        return sum(store.spool_counts().values())
    finally:
        store.close()


def test_two_gateways_answering_each_other_stop_at_auto_submitted(two_gateways: Gateways,
                                                                  ) -> None:
    """Two gateways exchange two mails: B records A's ack as Auto-Submitted and answers nothing."""
    a, b = two_gateways()
    first = make_mail("Hello from B", sender="Support B <support@b.example>",
                      to="support@a.example")
    code, text = a.send(first, mail_from="support@b.example", rcpt=("support@a.example",))
    assert code == 250, text
    watch = Counter()
    deadline = time.monotonic() + 20
    while received(b) < 1 or not (settled(a) and settled(b)):
        assert time.monotonic() < deadline, "A's acknowledgement never reached B"
        watch.wait_for(lambda: False, 0.05)
    # bounded silence: neither gateway sends anything more
    assert watch.wait_for(lambda: received(a) > 1 or received(b) > 1, QUIET) is False
    assert [(m["kind"], m["state"]) for m in outgoing(a)] == [("ack", "sent")]
    assert outgoing(b) == []
    assert (received(a), received(b)) == (1, 1)
    [detail] = events(b, "automatic_mail")
    assert "Auto-Submitted: auto-replied" in detail


def test_two_gateways_behind_a_marker_stripping_relay_stop_at_the_tag(two_gateways: Gateways,
                                                                      ) -> None:
    """With loop markers stripped, three mails: A threads B's ack by its tag and stays silent."""
    to_b, to_a = StrippingRelay(), StrippingRelay()
    with Server(to_b) as relay_b, Server(to_a) as relay_a:
        a, b = two_gateways(a_smarthost=relay_b.port, b_smarthost=relay_a.port)
        to_b.target, to_a.target = b.port, a.port
        first = make_mail("Hello from B", sender="Support B <support@b.example>",
                          to="support@a.example")
        code, text = a.send(first, mail_from="support@b.example", rcpt=("support@a.example",))
        assert code == 250, text
        wait_settled(to_a.counter, [a, b], lambda: to_a.counter.sent >= 1)
        # bounded silence on both relays: the loop has stopped
        assert to_a.counter.quiet() and to_b.counter.sent == 1
    assert [m["kind"] for m in outgoing(a)] == ["ack"]
    assert [m["kind"] for m in outgoing(b)] == ["ack"]
    [b_ack] = to_a.counter.mails
    assert b_ack["Auto-Submitted"] is None and "[AAA-000001]" in b_ack["Subject"]
    store = a.store()
    try:
        assert len(store.tickets()) == 1
        threaded = [e["detail"] for e in store.events(1) if e["kind"] == "threaded"]
        assert threaded and "subject tag [AAA-000001]" in threaded[0]
    finally:
        store.close()
