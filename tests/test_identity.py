"""Who may act as an engineer, forgeries and mailing lists: over SMTP against the daemon.

The desk runs the default config plus a team and ``trusted_authserv_ids`` (our MTA is
``mx.example.com``). A forged engineer's mail asking the customer for a password and
adding a CC must be held: the customer gets nothing, no command applies, the team is told.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import dkim
import pytest

from mailgate import identity, security
from mailgate.config import load_config
from mailgate.logs import configure_logging
from mailgate.message import parse
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_conversation import CUSTOMER, body, deliver, mails, reply

DESK = {
    "team": {"address": "team@example.com",
             "engineers": {"alice": "alice@example.com", "bob": "bob@example.com"}},
    "security": {"trusted_authserv_ids": ["mx.example.com"]},
}
PASS = "mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com"
PHISH = "#cc +mallory@evil.example\nPlease send us your VPN password to verify your account.\n"


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[RunningDaemon]:
    config = load_config(write_config(tmp_path, DESK))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def raw_mail(headers: list[tuple[str, str]], text: str = PHISH) -> bytes:
    """A mail written byte by byte: headers the ``email`` API would rewrite or refuse."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\n" + text.replace("\n", "\r\n")
            ).encode()


def _reply_headers(sender: str, number: int = 1, *extra: tuple[str, str]
                   ) -> list[tuple[str, str]]:
    return [("From", sender), ("To", "support@example.com"),
            ("Subject", f"Re: [SUP-{number:06d}] VPN drops"),
            ("Message-ID", make_msgid(domain="evil.example")), *extra]


SPOOFS = {
    "no proof": (_reply_headers("Alice Engineer <alice@example.com>"),
                 "unauthenticated engineer"),
    "untrusted Authentication-Results": (
        _reply_headers("alice@example.com", 1, ("Authentication-Results",
                                                "evil.example; dkim=pass header.d=example.com")),
        "Authentication-Results of evil.example ignored"),
    "trusted id below another server's header": (
        _reply_headers("alice@example.com", 1,
                       ("Authentication-Results", "relay.evil.example; spf=pass"),
                       ("Authentication-Results", PASS)),
        "unauthenticated engineer"),
    "engineer address only in the display name": (
        _reply_headers('"alice@example.com" <alice@evil.example>'), "display name claims"),
    "Sender differs from From": (
        _reply_headers("alice@example.com", 1, ("Sender", "mallory@evil.example"),
                       ("Authentication-Results", PASS)), "Sender mallory@evil.example"),
    "IDN homoglyph of the desk's domain": (
        _reply_headers("Alice <alice@xn--exmple-4nf.com>"), "imitates example.com"),
    "route address": (
        _reply_headers("<@evil.example:alice@example.com>", 1,
                       ("Authentication-Results", PASS)), "route address"),
    "two From headers": (
        [("From", "alice@example.com"), *_reply_headers("bob@example.com", 1,
                                                        ("Authentication-Results", PASS))],
        "several From headers"),
}


def _customer_ticket(desk: RunningDaemon) -> EmailMessage:
    """Ticket SUP-000001 from the customer; the team's notice about it."""
    deliver(desk, make_mail("VPN drops", sender=CUSTOMER))
    [notice] = mails(desk, "team@example.com")
    return notice


@pytest.mark.parametrize("name", SPOOFS)
def test_spoof_is_held_and_relays_nothing(desk: RunningDaemon, name: str) -> None:
    """Each forgery is quarantined with its reason: nothing reaches the customer, its #cc is
    not applied, and the team gets a notice saying it was held."""
    _customer_ticket(desk)
    headers, reason = SPOOFS[name]
    deliver(desk, raw_mail(headers), mail_from="alice@example.com",
            expect=("quarantined",))
    store = desk.store()
    [held] = store.quarantine()
    assert reason in held["reason"]
    assert [m["Subject"] for m in mails(desk, "customer@example.org")] == [
        "[SUP-000001] VPN drops"]  # the acknowledgement only: no relay
    assert mails(desk, "mallory@evil.example") == []
    assert [p["address"] for p in store.participants(1)] == ["customer@example.org"]
    assert store.ticket(1).first_response_at is None
    notices = mails(desk, "team@example.com")
    assert len(notices) == 2 and "HELD" in body(notices[1]) and reason in body(notices[1])
    assert "mail_held" in [e["kind"] for e in store.events(1)]


def test_engineer_gets_held_text_through_by_answering_the_notice(desk: RunningDaemon) -> None:
    """Alice's own mail without proof is held; answering the HELD notice (its Reply-To is her
    per-engineer address) relays it."""
    _customer_ticket(desk)
    deliver(desk, make_mail("Re: [SUP-000001] VPN drops", sender="alice@example.com",
                            body="Update the client to 5.2.\n"), expect=("quarantined",))
    held_notice = mails(desk, "team@example.com")[-1]
    assert "HELD" in body(held_notice)
    deliver(desk, reply(held_notice, "Update the client to 5.2.", sender="alice@example.com"))
    assert any("5.2" in body(m) for m in mails(desk, "customer@example.org"))


def test_held_mail_passes_no_file_on(desk: RunningDaemon) -> None:
    """A forged engineer's attachment reaches nobody: the HELD notice carries no file."""
    _customer_ticket(desk)
    forged = make_mail("Re: [SUP-000001] VPN drops", sender="alice@example.com", body=PHISH)
    forged.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image",
                          subtype="png", filename="new-bank-account.png")
    deliver(desk, forged, expect=("quarantined",))
    held_notice = mails(desk, "team@example.com")[-1]
    assert "HELD" in body(held_notice)
    assert [part.get_filename() for part in held_notice.iter_attachments()] == []
    assert all(not list(m.iter_attachments()) for m in mails(desk, "customer@example.org"))


def test_authenticated_engineer_is_relayed(desk: RunningDaemon) -> None:
    """Our MTA's DKIM pass for the engineer's domain: relayed, first response met."""
    _customer_ticket(desk)
    answer = make_mail("Re: [SUP-000001] VPN drops", sender="Alice Engineer <alice@example.com>",
                       body="Please update the client to 5.2.\n", Authentication_Results=PASS)
    deliver(desk, answer)
    [relay] = [m for m in mails(desk, "customer@example.org") if "5.2" in body(m)]
    assert relay["From"].addresses[0].addr_spec == "support@example.com"
    assert desk.store().ticket(1).first_response_at is not None


def test_dmarc_pass_of_another_domain_is_no_proof(desk: RunningDaemon) -> None:
    """A trusted pass, but for evil.example, does not make alice@example.com's mail hers."""
    _customer_ticket(desk)
    deliver(desk, make_mail("Re: [SUP-000001] VPN drops", sender="alice@example.com",
                            body=PHISH, Authentication_Results=(
                                "mx.example.com; dkim=pass header.d=evil.example; "
                                "dmarc=pass header.from=evil.example")), expect=("quarantined",))
    assert len(mails(desk, "customer@example.org")) == 1


def test_reply_through_the_engineer_reply_address_is_relayed(desk: RunningDaemon) -> None:
    """Answering the notification (its per-engineer Reply-To) is proof; the same address
    from a customer's copy of another ticket is not."""
    notice = _customer_ticket(desk)
    token_address = notice["Reply-To"].addresses[0].addr_spec
    assert token_address.startswith("support+sup-000001.")
    deliver(desk, reply(notice, "#priority high\nRestart the router, please.",
                        sender="bob@example.com"))
    [relay] = [m for m in mails(desk, "customer@example.org") if "router" in body(m)]
    assert "Restart the router" in body(relay)
    assert desk.store().ticket(1).priority == "high"
    # ticket 2's answer sent to ticket 1's engineer address proves nothing for ticket 2
    deliver(desk, make_mail("Printer", sender="other@example.org"))
    deliver(desk, make_mail("Re: [SUP-000002] Printer", sender="bob@example.com",
                            to=token_address, body=PHISH), expect=("quarantined",))
    assert len(mails(desk, "other@example.org")) == 1


def test_a_reply_address_copied_to_the_customer_is_retired(desk: RunningDaemon) -> None:
    """The review's attack: an engineer answers the notification and copies the customer, so
    the customer's copy shows the per-engineer reply address. Her answer is relayed, but a
    forged mail to that address afterwards (anyone holding the copy could send it) is held:
    nothing reaches the customer, no command applies. The next notification carries a new
    address, and answering it is proof again."""
    notice = _customer_ticket(desk)
    token_address = notice["Reply-To"].addresses[0].addr_spec
    deliver(desk, reply(notice, "Restart the router, please.", sender="alice@example.com",
                        Cc=CUSTOMER))
    assert any("Restart the router" in body(m) for m in mails(desk, CUSTOMER))
    events = [e["kind"] for e in desk.store().events(1)]
    assert "reply_token_exposed" in events
    forged = make_mail("Re: [SUP-000001] VPN drops", sender="alice@example.com",
                       to=token_address, body=PHISH)
    deliver(desk, forged, expect=("quarantined",))
    [held] = desk.store().quarantine()
    assert "retired" in held["reason"]
    assert not any("VPN password" in body(m) for m in mails(desk, CUSTOMER))
    assert "mallory@evil.example" not in {p["address"] for p in desk.store().participants(1)}
    deliver(desk, reply(notice, "Still dropping.", sender=CUSTOMER))
    newest = mails(desk, "team@example.com")[-1]
    fresh = newest["Reply-To"].addresses[0].addr_spec
    assert fresh != token_address and fresh.startswith("support+sup-000001.")
    deliver(desk, reply(newest, "#priority high\nNew firmware is on its way.",
                        sender="alice@example.com"))
    assert any("New firmware" in body(m) for m in mails(desk, CUSTOMER))
    assert desk.store().ticket(1).priority == "high"


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A locally generated RSA key (PEM) and its public half (DER); made once per module,
    as generating one takes a noticeable moment."""
    key = tmp_path_factory.mktemp("dkim") / "dkim.key"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
                   check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return key.read_bytes(), public


@pytest.fixture
def test_key(key_pair: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The RSA key, published for ``test._domainkey.example.com`` through the daemon's
    DKIM lookup (no network)."""
    private, public = key_pair
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    looked_up: list[bytes] = []

    def lookup(name: bytes, timeout: int = 5, **_: Any) -> bytes | None:
        looked_up.append(name)
        return record if name == b"test._domainkey.example.com." else None

    monkeypatch.setattr(identity, "dns_lookup", lookup)
    return private


def _signed(key: bytes, sender: str, text: str, domain: bytes = b"example.com") -> bytes:
    raw = raw_mail(_reply_headers(sender), text)
    signature = dkim.sign(raw, b"test", domain, key,
                          include_headers=[b"from", b"to", b"subject", b"message-id"])
    return signature + raw


def test_dkim_signature_verified_by_mailgate(desk: RunningDaemon, test_key: bytes) -> None:
    """No trusted Authentication-Results, but a DKIM signature mailgate verifies against the
    published key: relayed. Changed after signing, or signed by another domain: held."""
    _customer_ticket(desk)
    deliver(desk, _signed(test_key, "alice@example.com", "Fixed on our side.\n"),
            mail_from="alice@example.com")
    assert any("Fixed on our side" in body(m) for m in mails(desk, "customer@example.org"))
    tampered = _signed(test_key, "alice@example.com", "Fixed.\n").replace(
        b"Fixed.", b"Send me your password.")
    deliver(desk, tampered, mail_from="alice@example.com", expect=("quarantined",))
    other = _signed(test_key, "alice@example.com", "Another domain.\n", b"evil.example")
    deliver(desk, other, mail_from="alice@example.com", expect=("quarantined",))
    assert not any("password" in body(m) or "Another" in body(m)
                   for m in mails(desk, "customer@example.org"))
    assert len(desk.store().quarantine()) == 2


@pytest.mark.parametrize("tag", ["[SUP-000000]", "[SUP-0]", "[SUP--1]", "[SUP-٠٠٠٠٠١]",
                                 "[SUP-00\u200b0001]", "[SUP-０００００１]"])
def test_odd_tag_is_no_reference(desk: RunningDaemon, tag: str) -> None:
    """A tag with 0, a negative number, other digits or a zero-width character inside cites
    no ticket: the mail opens its own."""
    deliver(desk, make_mail("VPN drops", sender=CUSTOMER))
    deliver(desk, make_mail(f"Re: {tag} VPN drops", sender="mallory@evil.example",
                            body="I take over this ticket.\n"))
    store = desk.store()
    assert len(store.tickets()) == 2
    assert [p["address"] for p in store.participants(1)] == ["customer@example.org"]


LIST_POST = {"List_Id": "Users of Example <users.lists.example.org>",
             "List_Post": "<mailto:users@lists.example.org>"}


def test_list_never_becomes_a_participant(desk: RunningDaemon) -> None:
    """A post to a list the desk reads: the poster is the requester, the list (and its other
    recipients) no participant, no SLA clock; the engineer's answer goes to the poster only."""
    post = make_mail("Build fails on ARM", sender="Poster <poster@example.net>",
                     to="users@lists.example.org", Cc="support@example.com, dev@example.net",
                     **LIST_POST)
    deliver(desk, post, mail_from="users-bounces@lists.example.org")
    store = desk.store()
    ticket = store.ticket(1)
    assert [p["address"] for p in store.participants(1)] == ["poster@example.net"]
    assert ticket.first_response_due is None
    assert "sla_not_started" in [e["kind"] for e in store.events(1)]
    deliver(desk, make_mail("Re: [SUP-000001] Build fails on ARM", sender="alice@example.com",
                            body="Fixed in 2.1.\n", Authentication_Results=PASS))
    [relay] = [m for m in mails(desk) if "Fixed in 2.1" in body(m)]
    assert [a.addr_spec for a in relay["To"].addresses] == ["poster@example.net"]


def test_list_address_as_author_is_no_participant(desk: RunningDaemon) -> None:
    """A list that rewrites From to its own address: nobody to relay to, not the list."""
    post = make_mail("Digest", sender="Poster via Users <users@lists.example.org>",
                     to="users@lists.example.org", **LIST_POST)
    deliver(desk, post)
    deliver(desk, make_mail("Re: [SUP-000001] Digest", sender="alice@example.com",
                            body="Noted.\n", Authentication_Results=PASS))
    store = desk.store()
    assert store.participants(1) == []
    assert not any("Noted." in body(m) for m in mails(desk))
    assert mails(desk, "users@lists.example.org") == []


def test_check_config_warns_without_proof(tmp_path: Path) -> None:
    """Engineers but no trusted authserv-id: a warning; trust_from_header: called unsafe."""
    plain = write_config(tmp_path / "plain", {"team": DESK["team"]})
    lab = write_config(tmp_path / "lab", DESK, {"security": {"trust_from_header": True}})
    good = write_config(tmp_path / "good", DESK)
    said = {name: subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c",
                                  str(path)], capture_output=True, text=True)
            for name, path in (("plain", plain), ("lab", lab), ("good", good))}
    assert all(r.returncode == 0 for r in said.values())
    assert "no proof of engineers configured" in said["plain"].stderr
    assert "UNSAFE" in said["lab"].stderr
    assert "warning" not in said["good"].stderr


def test_import_holds_a_forged_engineer_and_tells_nobody(tmp_path: Path) -> None:
    """`mailgate import` of old mail: the forged engineer reply is quarantined like live mail,
    and the team's notice of it is cancelled with the acknowledgements (nothing is sent)."""
    import json
    import mailbox

    from mailgate.store import open_store

    path = write_config(tmp_path, DESK)
    box = mailbox.mbox(tmp_path / "old.mbox")
    box.add(make_mail("VPN drops", sender=CUSTOMER, message_id="<old-1@example.org>").as_bytes())
    box.add(make_mail("Re: [SUP-000001] VPN drops", sender="alice@example.com", body=PHISH,
                      message_id="<old-2@evil.example>").as_bytes())
    box.flush()
    box.close()
    result = subprocess.run([sys.executable, "-m", "mailgate", "import", "-c", str(path),
                             str(tmp_path / "old.mbox"), "--json"], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["found"] == 2
    store = open_store(load_config(path), migrate=False)
    try:
        [held] = store.quarantine()
        assert "unauthenticated engineer" in held["reason"]
        assert {state for _kind, state, _n in store.outbox_counts_by_kind()} == {"cancelled"}
        assert "mail_held" in [e["kind"] for e in store.events(1)]
    finally:
        store.close()


# -- the decisions themselves, without a daemon ----------------------------------------------


@pytest.fixture
def desk_config(tmp_path: Path) -> Any:
    return load_config(write_config(tmp_path, DESK, {"team": {"domains": ["ops.example.com"]}}))


@pytest.mark.parametrize(("domain", "imitated"), [
    ("exаmple.com", "example.com"),  # Cyrillic а, as UTF-8
    ("xn--exmple-4nf.com", "example.com"),  # the same, as punycode
    ("exαmple.com", "example.com"),  # Greek alpha
    ("exämple.com", "example.com"),  # an accent
    ("οps.example.com", "ops.example.com"),  # an engineers' domain, Greek omicron
    ("example.com", None), ("bücher.de", None), ("examp1e.com", None),
])
def test_homoglyph(desk_config: Any, domain: str, imitated: str | None) -> None:
    """Other scripts' look-alike letters of our domains are caught; real or unrelated
    domains are not (ASCII look-alikes such as examp1e.com are out of scope)."""
    assert identity.homoglyph(desk_config, domain) == imitated


def test_encoded_display_name_is_read_decoded(desk_config: Any) -> None:
    """An engineer's address hidden in an RFC 2047 display name is still a forgery."""
    from mailgate.message import parse

    raw = raw_mail([("From", "=?utf-8?b?YWxpY2VAZXhhbXBsZS5jb20=?= <alice@evil.example>"),
                    ("Subject", "Hi")])
    inbound = parse(raw)
    assert "display name claims alice@example.com" in (
        identity.forgery(desk_config, inbound) or "")


@pytest.mark.parametrize(("results", "proven"), [
    (["mx.example.com; dkim=pass header.i=@example.com"], True),
    (["mx.example.com; dmarc=pass (p=reject) header.from=example.com"], True),
    (["mx.example.com; dkim=pass header.d=example.com.evil.example"], False),
    (["mx.example.com; spf=pass smtp.mailfrom=example.com"], False),  # SPF: no proof
    (["mx.example.com; dkim=fail header.d=example.com",  # the topmost result decides
      "mx.example.com; dkim=pass header.d=example.com"], False),
    (["MX.Example.COM; DKIM=Pass header.d=Example.com"], True),
    (["mx.example.com; dkim=none",  # ours found no signature: a lower "pass" is forged
      "mx.example.com; dkim=pass header.d=example.com"], False),
    (["mx.example.com; dkim=pass header.d=mailer.example; dkim=pass header.d=example.com"],
     True),  # one header, several signatures
])
def test_trusted_pass(desk_config: Any, results: list[str], proven: bool) -> None:
    """What counts as our MTA's proof for alice@example.com."""
    from mailgate import security
    from mailgate.message import parse

    raw = raw_mail([("From", "alice@example.com"), ("Subject", "Hi"),
                    *(("Authentication-Results", r) for r in results)])
    assert (security.trusted_pass(desk_config, parse(raw).msg, "example.com") is not None) \
        is proven


def test_dkim_signature_of_a_parent_domain_aligns(desk_config: Any, test_key: bytes) -> None:
    """d=example.com signs for bob@ops.example.com; a body-length limit (l=) proves nothing."""
    from mailgate.message import parse

    good = parse(_signed(test_key, "bob@ops.example.com", "Done.\n"))
    assert identity.verified_dkim(good.msg, good.raw, "ops.example.com")
    raw = raw_mail(_reply_headers("bob@ops.example.com"), "Done.\n")
    limited = dkim.sign(raw, b"test", b"example.com", test_key, length=True,
                        include_headers=[b"from", b"subject"]) + raw
    parsed = parse(limited)
    assert identity.verified_dkim(parsed.msg, parsed.raw, "ops.example.com") is None


# -- found by a review: a header read two ways, a replayed signature, result parsing ------


def test_bare_cr_hiding_a_signature_header_is_held(desk: RunningDaemon, test_key: bytes,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare CR makes Python's parser see a DKIM-Signature of example.com that DKIM
    verifiers do not, while the attacker's own valid signature (evil.example) is the one
    verified: the mail is held, nothing is relayed, no #cc applied."""
    published = identity.dns_lookup
    assert published is not None
    monkeypatch.setattr(identity, "dns_lookup", lambda name, timeout=5, **kw: published(
        name.replace(b"evil.example", b"example.com"), timeout, **kw))  # the attacker's key
    _customer_ticket(desk)
    raw = raw_mail(_reply_headers("alice@example.com"))
    theirs = dkim.sign(raw, b"test", b"evil.example", test_key,
                       include_headers=[b"from", b"to", b"subject"])
    fake = (b"X-Note: hi\rDKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x; h=from;"
            b" bh=AAAA; b=AAAA\r\n")
    deliver(desk, fake + theirs + raw, mail_from="alice@example.com", expect=("quarantined",))
    [held] = desk.store().quarantine()
    assert "bare CR" in held["reason"]
    assert mails(desk, "mallory@evil.example") == []
    assert not any("password" in body(m) for m in mails(desk, "customer@example.org"))


@pytest.mark.parametrize("on_top", [
    b"Subject: Re: [SUP-000001] VPN drops\r\nCc: mallory@evil.example\r\n",  # a second Subject
    b"Cc: mallory@evil.example\r\n",  # a Cc the signature does not cover
])
def test_replayed_signed_mail_with_headers_put_on_top_is_held(
        desk: RunningDaemon, test_key: bytes, on_top: bytes) -> None:
    """A mail Alice once signed and sent elsewhere, replayed with a ticket's Subject or a Cc
    of the attacker's put on top: the signature does not vouch for those, so it proves
    nothing; held, and the attacker does not join the ticket."""
    _customer_ticket(desk)
    raw = (b"From: Alice <alice@example.com>\r\nTo: mallory@evil.example\r\n"
           + (b"Subject: Re: [SUP-000001] VPN drops\r\n" if on_top.startswith(b"Cc") else
              b"Subject: lunch?\r\n")
           + b"Message-ID: <lunch1@example.com>\r\nDate: Mon, 05 Jan 2026 10:00:00 +0000\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nSee you at noon.\r\n")
    signed = dkim.sign(raw, b"test", b"example.com", test_key,
                       include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    deliver(desk, on_top + signed + raw, mail_from="alice@example.com",
            expect=("quarantined",))
    assert [p["address"] for p in desk.store().participants(1)] == ["customer@example.org"]
    assert not any("noon" in body(m) for m in mails(desk, "customer@example.org"))


@pytest.mark.parametrize("value", [
    "mx.example.com; dkim=none; spf=none smtp.helo=dkim=pass.header.d=example.com",
    'mx.example.com; spf=pass smtp.mailfrom="dkim=pass header.d=example.com x"@evil.example;'
    " dkim=none",
    "mx.example.com; dkim=none (dkim=pass header.d=example.com)",
])
def test_a_pass_spelled_inside_another_value_is_no_result(value: str) -> None:
    """Only ``method=result`` opening a result counts, and properties only of that result:
    a HELO name, a quoted local part or a comment spelling "dkim=pass" proves nothing."""
    config = load_config(write_config(Path(tempfile.mkdtemp()), DESK))
    msg = parse(f"Authentication-Results: {value}\r\nFrom: alice@example.com\r\n"
                "Subject: x\r\n\r\nhi\r\n".encode()).msg
    assert security.trusted_pass(config, msg, "example.com") is None
    assert security.results_of("mx.example.com; dkim=pass header.d=example.com; dmarc=pass"
                               " header.from=example.com") == [
        ("dkim", "pass", [("header.d", "example.com")]),
        ("dmarc", "pass", [("header.from", "example.com")])]


def test_reply_addresses_signed_before_a_secret_was_configured_keep_working(
        tmp_path: Path) -> None:
    """An admin who sets ``token_secret_file`` (for signed rating links, or several nodes)
    does not break every notification already in the engineers' inboxes: an address signed
    with the random secret mailgate made before is still proof while that secret's file is
    kept, new ones are signed with the configured secret, and deleting the old file revokes
    what it signed."""
    before = load_config(write_config(tmp_path, DESK))
    old = security.engineer_reply_address(before, 20, "SUP-000020", "alice@example.com")
    (tmp_path / "token-secret").write_text("a-configured-secret-for-tests\n")
    after = load_config(write_config(tmp_path, DESK,
                                     {"security": {"token_secret_file": "token-secret"}}))
    new = security.engineer_reply_address(after, 20, "SUP-000020", "alice@example.com")
    assert new != old
    for address in (old, new):
        assert security.ticket_of_engineer_token(after, "alice@example.com", [address]) == (
            20, 0), address
    (after.state_dir / security.SECRET_FILE).unlink()
    assert security.ticket_of_engineer_token(after, "alice@example.com", [old]) is None
    assert security.ticket_of_engineer_token(after, "alice@example.com", [new]) == (20, 0)
