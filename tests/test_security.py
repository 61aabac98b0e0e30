"""Spam and authentication policy, reply tokens, forged commands — through the SMTP listener."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_conversation import CUSTOMER, body, deliver, mails, reply

SECURE = {
    "team": {"address": "team@example.com", "engineers": {"alice": "alice@example.com"}},
    "security": {
        "trusted_authserv_ids": ["mx.example.com"],
        "require_auth": ["dmarc"],
        "commands_require": "auth_or_token",
        "reply_tokens": True,
        "token_secret_env": "MAILGATE_TEST_TOKEN_SECRET",
    },
}


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[RunningDaemon]:
    os.environ["MAILGATE_TEST_TOKEN_SECRET"] = "test-secret-not-for-production"
    config = load_config(write_config(tmp_path, SECURE))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def test_spam_is_quarantined_without_acknowledgement(secure: RunningDaemon) -> None:
    """Mail the upstream filter flagged becomes no ticket and gets no answer (no backscatter)."""
    deliver(secure, make_mail("Cheap pills", sender="victim@example.org", X_Spam_Flag="YES"),
            expect=("quarantined",))
    store = secure.store()
    assert store.tickets() == [] and mails(secure) == []
    [held] = store.quarantine()
    assert "X-Spam-Flag" in held["reason"]


def test_dmarc_failure_from_trusted_server_is_quarantined(secure: RunningDaemon) -> None:
    """A DMARC fail stamped by our MTA quarantines; the same header from elsewhere is ignored."""
    deliver(secure, make_mail("Invoice", sender="ceo@example.org", Authentication_Results=(
        "mx.example.com; spf=fail smtp.mailfrom=example.org; dmarc=fail header.from=example.org")),
        expect=("quarantined",))
    deliver(secure, make_mail("Invoice 2", sender="ceo@example.org", Authentication_Results=(
        "evil.example; dmarc=fail header.from=example.org")))
    store = secure.store()
    assert [t["subject"] for t in store.tickets()] == ["Invoice 2"]
    assert "dmarc=fail" in store.quarantine()[0]["reason"]


def test_reply_token_address_lets_a_new_address_join(secure: RunningDaemon) -> None:
    """Replying to the ack's tokenised Reply-To joins the ticket even from another address."""
    deliver(secure, make_mail("Printer", sender=CUSTOMER))
    [ack] = mails(secure, "customer@example.org")
    token_address = ack["Reply-To"].addresses[0].addr_spec
    assert token_address.startswith("support+sup-000001.") and token_address.endswith(
        "@example.com")
    colleague = make_mail("Re: Printer", sender="colleague@example.org", to=token_address,
                          body="Same problem on my floor.\n")
    deliver(secure, colleague)
    store = secure.store()
    assert len(store.tickets()) == 1
    assert "colleague@example.org" in [p["address"] for p in store.participants(1)]


def test_guessed_tag_without_token_does_not_hijack(secure: RunningDaemon) -> None:
    """A stranger citing [SUP-000001] without our reply address gets a new, linked ticket."""
    deliver(secure, make_mail("Account", sender=CUSTOMER))
    forged_token = "support+sup-000001.aaaaaaaa@example.com"
    deliver(secure, make_mail("Re: [SUP-000001] Account", sender="mallory@evil.example",
                              to=forged_token, body="Send me the invoice copy.\n"))
    store = secure.store()
    assert len(store.tickets()) == 2
    assert "mallory@evil.example" not in [p["address"] for p in store.participants(1)]


def test_forged_engineer_cannot_command(secure: RunningDaemon) -> None:
    """#close from an engineer's address without DKIM/DMARC pass or token is held: the
    ticket stays open, the forger gets no answer, the team is told."""
    deliver(secure, make_mail("Server down", sender=CUSTOMER))
    forged = make_mail("Re: [SUP-000001] Server down", sender="alice@example.com",
                       body="#close\n")
    deliver(secure, forged, expect=("quarantined",))
    assert secure.store().ticket(1).status == "open"
    assert "unauthenticated engineer" in secure.store().quarantine()[0]["reason"]
    assert mails(secure, "alice@example.com") == []
    assert "HELD" in body(mails(secure, "team@example.com")[-1])


def test_authenticated_engineer_commands_apply(secure: RunningDaemon) -> None:
    """The same #close with a DKIM pass from our MTA, or via the reply token, is applied."""
    deliver(secure, make_mail("Disk full", sender=CUSTOMER))
    deliver(secure, make_mail("Re: [SUP-000001] Disk full", sender="alice@example.com",
                              body="#status on_hold\n", Authentication_Results=(
                                  "mx.example.com; dkim=pass header.d=example.com")))
    assert secure.store().ticket(1).status == "on_hold"
    [notice] = mails(secure, "team@example.com")
    via_token = reply(notice, "#close", sender="alice@example.com",)
    del via_token["To"]
    via_token["To"] = notice["Reply-To"]
    deliver(secure, via_token)
    assert secure.store().ticket(1).status == "closed"
