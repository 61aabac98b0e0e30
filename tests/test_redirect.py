"""An automatic notice that asks for action ("I have left the company, please write to Anna",
"this mailbox is no longer monitored", "please resend your message to X") is passed on to
the assignee (issue #16, ``mailgate.replies.redirect`` and ``mailgate.pipeline.notices``):
the ticket keeps its status, nobody outside is answered, the address it names is not
added, and the team gets an internal notification that names it. A plain out-of-office
("away until Monday; in urgent cases contact Anna") is recorded only, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.config import load_config
from mailgate.inspect import explain
from mailgate.logs import configure_logging
from mailgate.replies.redirect import redirect
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_absence import ABSENT
from tests.test_conversation import TEAM, body, deliver, mails, reply

#: (text, kind, the address it gives) in the 20 languages
ASKS = [
    ("Thank you for your email. I have moved to a new role. Please resend your message to "
     "my colleague Anna Berg <anna.berg@example.org>.", "resend", "anna.berg@example.org"),
    ("I have left the company. Please contact Anna Berg <anna@acme.com> instead.", "left",
     "anna@acme.com"),
    ("Dieses Postfach wird nicht mehr betreut. Bitte senden Sie Ihre Nachricht erneut an "
     "service@firma.de.", "unmonitored", "service@firma.de"),
    ("Bonjour, je ne travaille plus chez Durand. Merci d'écrire désormais à Paul Girard "
     "(p.girard@durand.fr).", "left", "p.girard@durand.fr"),
    ("Por favor, reenvíe su mensaje a soporte@empresa.es.", "resend", "soporte@empresa.es"),
    ("Questo indirizzo non è più attivo. Si prega di reinviare il messaggio a "
     "info@azienda.it.", "unmonitored", "info@azienda.it"),
    ("Por favor reenvie a sua mensagem para geral@empresa.pt.", "resend", "geral@empresa.pt"),
    ("Dit adres wordt niet meer gelezen. Stuur uw bericht opnieuw naar info@bedrijf.nl.",
     "unmonitored", "info@bedrijf.nl"),
    ("Skicka ditt meddelande igen till info@foretag.se.", "resend", "info@foretag.se"),
    ("Denne postkasse overvåges ikke længere. Send venligst din mail igen til "
     "support@firma.dk.", "unmonitored", "support@firma.dk"),
    ("Jeg har sluttet. Send fremover til kari@firma.no.", "left", "kari@firma.no"),
    ("Lähetä viestisi uudelleen osoitteeseen tuki@yritys.fi.", "resend", "tuki@yritys.fi"),
    ("Ta skrzynka nie jest już monitorowana. Proszę o ponowne wysłanie wiadomości na adres "
     "biuro@firma.pl.", "unmonitored", "biuro@firma.pl"),
    ("Zprávu prosím zašlete znovu na podpora@firma.cz.", "resend", "podpora@firma.cz"),
    ("Этот ящик больше не проверяется. Пожалуйста, отправьте письмо повторно на "
     "info@firma.ru.", "unmonitored", "info@firma.ru"),
    ("Надішліть лист повторно на info@firma.ua.", "resend", "info@firma.ua"),
    ("Lütfen mesajınızı destek@firma.com.tr adresine tekrar gönderin.", "resend",
     "destek@firma.com.tr"),
    ("لم أعد أعمل في الشركة. يرجى إعادة إرسال رسالتك إلى ali@example.sa", "left",
     "ali@example.sa"),
    ("お手数ですが、sato@example.jp まで再送をお願いいたします。", "resend", "sato@example.jp"),
    ("我已离职。今后请联系 wang@example.cn。", "left", "wang@example.cn"),
    ("퇴사하였습니다. 앞으로는 kim@example.kr 로 연락 주세요.", "left", "kim@example.kr"),
]

#: away notices whose contact is for urgent cases or the absence: recorded only
AWAY = [
    "I'm out of the office until Monday. In urgent cases please send your request to Anna "
    "<anna@acme.com>.",
    "I'm out of the office until 3 March. Your email will not be forwarded. For urgent "
    "matters, please resend your email to anna@acme.com.",
    "I'm on holiday until Monday. Please resend your message after my return.",
    "Out of office. During my absence please forward your requests to team@acme.com.",
    "Ich bin bis 14.03. nicht im Büro. In dringenden Fällen wenden Sie sich bitte an Frau "
    "Müller (mueller@firma.de).",
]


@pytest.mark.parametrize(("text", "kind", "address"), ASKS)
def test_a_notice_that_asks_names_its_contact(text: str, kind: str, address: str) -> None:
    found = redirect(text, "writer@sender.example")
    assert found is not None
    assert (found.kind, address in found.asks) == (kind, True)


@pytest.mark.parametrize("text", [*AWAY, *ABSENT])
def test_an_away_notice_asks_nothing(text: str) -> None:
    """Every absence notice of ``test_absence`` (20 languages) and the urgent-case contacts
    above: the writer is back on a date, nobody must act."""
    assert redirect(text, "writer@sender.example") is None


def test_the_senders_own_and_the_desks_addresses_are_no_contact() -> None:
    """"This mailbox (tom@...) is no longer monitored": Tom's own address is not whom to
    write to, nor ours quoted in the notice."""
    found = redirect("This mailbox (tom@acme.com) is no longer monitored. Your mail to "
                     "support@example.com was not read.", "tom@acme.com",
                     frozenset({"support@example.com"}))
    assert found is not None and found.contacts == ()
    assert found.asks == "automatic notice says this mailbox is no longer read"


def test_a_passed_on_notice_reaches_the_team_and_explain_says_so(tmp_path: Path) -> None:
    """Through the SMTP listener: the auto-reply on a closed ticket keeps it closed, the
    customer gets nothing, the team gets the notice naming the contact, the contact is not
    a participant, and ``mailgate explain`` shows the decision before it happens."""
    config = load_config(write_config(tmp_path, TEAM))
    configure_logging(config.logging)
    desk = RunningDaemon(config).start()
    try:
        deliver(desk, make_mail("Invoices rejected", sender="Tom Hale <tom@acme.com>"))
        [notice] = mails(desk, "team@example.com")
        deliver(desk, reply(notice, "#close\nFixed.", sender="alice@example.com"))
        [relay] = [m for m in mails(desk, "tom@acme.com") if "Fixed." in body(m)]
        to_tom = len(mails(desk, "tom@acme.com"))
        auto = reply(relay, "I have left Acme. Please resend your message to my colleague "
                            "Anna Berg <anna@acme.com>.", sender="Tom Hale <tom@acme.com>",
                     Auto_Submitted="auto-replied")
        dry = explain(config, desk.store(), auto.as_bytes())
        deliver(desk, auto)
        store = desk.store()
        assert store.ticket(1).status == "closed"
        assert [p["address"] for p in store.participants(1)] == ["tom@acme.com"]
        [event] = [e for e in store.events(1) if e["kind"] == "automatic_passed_on"]
        passed = mails(desk, "team@example.com")[-1]
        assert len(mails(desk, "tom@acme.com")) == to_tom
    finally:
        desk.stop()
    assert "Please resend your message to my colleague" in body(passed)
    assert "Automatic notice on" in body(passed)
    assert event["detail"].startswith(
        "automatic notice asks to contact Anna Berg <anna@acme.com>: passed to the team")
    [route] = [s["decided"] for s in dry["steps"] if s["step"] == "route"]
    assert "automatic notice asks to contact Anna Berg <anna@acme.com>: passed to the team" \
        in route
    assert [m["kind"] for m in dry["outbox"]] == ["notification"]
