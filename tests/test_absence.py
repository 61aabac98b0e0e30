"""An out-of-office written in the reply's text only (no Auto-Submitted, X-Autoreply or
Precedence header, a plain "Re:" subject) keeps the ticket as it is (issue #16,
``mailgate.replies.absence``): a closed ticket stays closed, an ``awaiting_reply`` one
keeps waiting and its auto-close still falls due, nobody is answered or told, and the
ticket records why. Text that says more than the absence ("I'm out until Monday, but the
export still fails") is the customer's reply as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from mailgate import autoclose
from mailgate.config import load_config
from mailgate.inspect import explain
from mailgate.logs import configure_logging
from mailgate.replies import Understanding
from mailgate.replies.absence import absence_notice
from tests.configs import write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_conversation import TEAM, body, deliver, mails, reply
from tests.test_lang import AUTO_CLOSE, _to_awaiting_reply, fired
from tests.test_sla import REAL_TIME

LEXICON = Understanding.load(judge=False).lexicon

#: body-only absence notices as people's mail clients send them, one or more a language
ABSENT = [
    "Estou fora do escritório até 14/12. Em caso de urgência contacte a Maria Santos "
    "(maria.santos@empresa.pt).",
    "Thank you for your email. I am out of the office until Monday 14 December with limited "
    "access to email. For urgent matters please contact my colleague John Smith at "
    "john.smith@acme.com.\n\nBest regards,\nKarin Lund\nAcme AB\n+46 8 555 123",
    "I am currently on parental leave and will return on 1 March 2027. Your message will "
    "not be forwarded. In urgent cases, please contact support@acme.com.",
    "Guten Tag,\n\nvielen Dank für Ihre E-Mail. Ich bin vom 01.12. bis einschließlich "
    "14.12.2026 nicht im Hause und habe keinen Zugriff auf meine E-Mails. Ihre Nachricht "
    "wird nicht weitergeleitet. In dringenden Fällen wenden Sie sich bitte an unsere "
    "Zentrale unter 0711 123 456.\n\nMit freundlichen Grüßen\ni. A. Sabine Keller",
    "Ich bin ab sofort in Elternzeit und ab dem 1. März 2027 wieder erreichbar.",
    "Bonjour,\n\nJe suis actuellement en congés jusqu'au lundi 14 décembre inclus. Votre "
    "message ne sera pas transféré. En cas d'urgence, vous pouvez contacter le standard au "
    "01 40 00 00 00.\n\nBien cordialement",
    "Buenos días,\n\nMe encuentro de vacaciones hasta el 14 de diciembre. Durante mi "
    "ausencia no tendré acceso al correo. Para temas urgentes puede escribir a "
    "soporte@empresa.es.\n\nSaludos cordiales",
    "Estoy de baja por maternidad hasta el 1 de marzo.",
    "Grazie per il messaggio. Sarò in ferie fino al 14 dicembre e al mio rientro risponderò "
    "alla sua email.",
    "Beste,\n\nIk ben met vakantie tot en met vrijdag 14 december en heb beperkte toegang "
    "tot mijn e-mail. Voor dringende zaken kunt u contact opnemen met mijn collega Pieter "
    "(pieter@bedrijf.nl).\n\nMet vriendelijke groet,\nAnouk",
    "Hej! Jag är föräldraledig till 1 mars. Ditt mejl vidarebefordras inte. Kontakta gärna "
    "support@firma.se.",
    "Jeg er på ferie til og med 14. december. I hastende tilfælde kontakt venligst Mette "
    "Hansen.",
    "Jeg er på ferie til og med 14. desember. Ved hastesaker, kontakt Ola Nordmann.",
    "Hei, olen vuosilomalla 14.12. saakka. Kiireellisissä asioissa ota yhteyttä kollegaani "
    "Liisa Korhoseen.",
    "Olen sairauslomalla 14.12. asti.",
    "Dzień dobry, jestem na urlopie macierzyńskim do marca 2027. W pilnych sprawach proszę "
    "kontaktować się z p. Anną Nowak.",
    "Dobrý den, jsem mimo kancelář do 14. 12. V naléhavých případech kontaktujte prosím "
    "kolegyni Janu Dvořákovou.",
    "Здравствуйте! Я нахожусь в командировке до 14 декабря. По срочным вопросам "
    "обращайтесь к Ирине Смирновой.",
    "Я на больничном до пятницы.",
    "Добрий день! Я перебуваю у відпустці до 14 грудня. З термінових питань звертайтесь до "
    "колеги Андрія Шевченка.",
    "Merhaba, 14 Aralık'a kadar yıllık izindeyim. Acil konular için Mehmet Demir'e "
    "ulaşabilirsiniz.",
    "مرحبا، أنا في إجازة حتى 14 ديسمبر. سأرد على رسالتك عند عودتي.",
    "お世話になっております。12月14日まで出張のため不在にしております。戻り次第ご連絡いたします。",
    "您好，我目前正在休假，12月15日返回。如有紧急事宜，请联系张伟。",
    "안녕하세요. 현재 휴가 중이며 12월 15일에 복귀합니다. "
    "급한 용무는 김민수에게 연락 부탁드립니다.",
    "いつもお世話になっております。\n誠に勝手ながら、12月7日から12月14日まで休暇をいただいております。\n"
    "期間中はメールの確認ができません。\nお急ぎの場合は、佐藤（sato@kaisha.co.jp）までご連絡ください。",
    "I am out of the office until 14 December and will not be able to respond to emails "
    "during this time.",
    "您好，我12月7日至12月14日休假，期间无法及时回复邮件。如有急事请联系王芳。",
    "안녕하세요. 12월 14일까지 휴가 중이라 답변이 늦어질 수 있습니다. 양해 부탁드립니다.",
    "현재 부재중입니다. 12월 15일에 복귀 예정입니다.",
    "您好，我目前休假中，將於12月15日返回辦公室。",
    "Děkuji za zprávu. Jsem na dovolené do 14. 12. a po návratu se vám ozvu.",
    "Спасибо за письмо. Я в отпуске до 14 декабря, отвечу после возвращения.",
    "Olen poissa toimistolta 14.12. asti, enkä lue sähköpostia.",
    "Tak for din mail. Jeg er på barsel frem til 1. marts.",
    "Takk for e-posten. Jeg er sykmeldt til og med fredag.",
    "Olá! Estou em férias até 14/12 e responderei sua mensagem no meu retorno.",
    "Ich bin derzeit nicht im Büro. Ab dem 14.12. bin ich wieder für Sie da.",
]
#: a changed contact: no longer there, write to someone else
LEFT = [
    "I no longer work at Acme. Please write to anna.berg@acme.com instead.",
    "Bonjour,\n\nJe ne travaille plus chez Durand Logistique depuis le 1er décembre. Merci "
    "d'écrire désormais à mon successeur, Paul Girard (p.girard@durand-logistique.fr).\n\n"
    "Cordialement,\nClaire Petit",
    "您好，我已离职，请联系李娜（lina@company.cn）。",
    "您好，我已经离职了，请联系李娜（lina@company.cn）。",
    "I have left the company. Please contact sales@acme.com.",
]
#: more than an absence: a problem, a question, a request, "but", thanks for a fix, or the
#: writer was away and is back
REPLY = [
    "Estou fora do escritório até 14/12, mas o relatório continua a dar erro.",
    "I'm out until Monday, but the export still fails",
    "I'm on leave until Monday, could you reset my password?",
    "I'm on maternity leave until September. Jane will check the invoice and get back to "
    "you.",
    "Ich bin bis 14.12. im Urlaub, der Drucker druckt aber immer noch nicht.",
    "Ich bin ab morgen im Urlaub. Bitte schicken Sie die Rechnung an meine Kollegin.",
    "Estoy de vacaciones, pero el error sigue apareciendo.",
    "Je suis en congés mais l'imprimante ne marche toujours pas.",
    "Sono in ferie, ma la stampante non funziona ancora.",
    "Olen lomalla, mutta tulostin ei vieläkään toimi.",
    "Я в отпуске, но ошибка всё ещё появляется.",
    "Ofis dışındayım ama sorun devam ediyor.",
    "休暇中ですが、まだエラーが出ます。",
    "我在休假，但是打印机还是不能用。",
    "휴가 중인데 프린터가 아직도 안 됩니다.",
    "Thanks, it works now! I'm on vacation from tomorrow anyway.",
    "I'm on holiday next week so please call me on my mobile to fix the printer today.",
    "Please close the ticket, I am away until Monday and will test then.",
    "Sorry, I was out of the office yesterday",
    "Ich antworte für Frau Kessler, sie ist bis Montag im Urlaub",
    "The server is not reachable since yesterday.",
    "I'm on vacation until the 14th. The VPN still drops every hour.",
    "Jsem na dovolené, ale tiskárna pořád netiskne.",
    "Olen lomalla. Voitteko lähettää laskun uudelleen?",
    "Jestem na urlopie, proszę wysłać fakturę do księgowości.",
    "Tack för ditt mejl. Jag är tjänstledig till 14 december. Skrivaren skriver fortfarande "
    "ut tomma sidor.",
    "我上周休假了，现在打印机还是不能用。",
    "Die Webseite ist wieder erreichbar",
    "I no longer work at Acme but the licence is still in my name, can you move it?",
]


def _notice(text: str) -> str | None:
    found = absence_notice(text, lambda: LEXICON)
    return found.kind if found is not None else None


@pytest.mark.parametrize("text", ABSENT)
def test_an_absence_notice_in_any_language_is_recognised(text: str) -> None:
    assert _notice(text) == "away"


@pytest.mark.parametrize("text", LEFT)
def test_no_longer_working_there_is_a_changed_contact(text: str) -> None:
    assert _notice(text) == "left"


@pytest.mark.parametrize("text", REPLY)
def test_text_that_says_more_than_the_absence_is_a_reply(text: str) -> None:
    assert _notice(text) is None


def test_the_reason_names_the_sentence_that_decided() -> None:
    found = absence_notice("Olá,\n\nEstou fora do escritório até 14/12. Em caso de urgência "
                           "contacte a Maria.\n\nOn Mon, Jan 5, 2026 Support wrote:\n> Hi",
                           lambda: LEXICON)
    assert found is not None
    assert found.reason == ("absence notice in the reply's text: "
                            "'Estou fora do escritório até 14/12.'")


def test_quoted_history_does_not_make_a_reply_an_absence() -> None:
    """Our own mail quoted below ("I'm out of the office", said by the engineer) is not the
    customer's text."""
    text = ("The export still fails.\n\nOn Mon, Jan 5, 2026 Support wrote:\n"
            "> I am out of the office until Monday.\n")
    assert _notice(text) is None


# -- through the SMTP listener -----------------------------------------------------------

PT_ABSENCE = ("Estou fora do escritório até 14/12. Em caso de urgência contacte "
              "Maria Santos (maria.santos@empresa.pt).")
DE_ABSENCE = ("Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 14.03. nicht im "
              "Büro. In dringenden Fällen wenden Sie sich bitte an Frau Müller "
              "(mueller@firma.de).\n\nMit freundlichen Grüßen\nJörg Weber")


def test_a_body_only_absence_keeps_a_closed_ticket_closed(tmp_path: Path) -> None:
    """No header, a "Re:" subject, only the text says it: the ticket stays closed, nobody
    hears of it, and its event (and ``mailgate explain``) says why."""
    config = load_config(write_config(tmp_path, TEAM))
    configure_logging(config.logging)
    desk = RunningDaemon(config).start()
    try:
        deliver(desk, make_mail("Relatório mensal não exporta",
                                sender="Ana Costa <ana@empresa.pt>"))
        [notice] = mails(desk, "team@example.com")
        deliver(desk, reply(notice, "#close\nResolvido.", sender="alice@example.com"))
        [relay] = [m for m in mails(desk, "ana@empresa.pt") if "Resolvido." in body(m)]
        before = len(mails(desk))
        absence = reply(relay, PT_ABSENCE, sender="Ana Costa <ana@empresa.pt>")
        dry = explain(config, desk.store(), absence.as_bytes())
        deliver(desk, absence)
        store = desk.store()
        assert store.ticket(1).status == "closed"
        [event] = [e for e in store.events(1) if e["kind"] == "automatic_mail"]
        assert len(mails(desk)) == before  # no acknowledgement, no notice to the team
    finally:
        desk.stop()
    assert "absence notice" in event["detail"]
    assert "Estou fora do escritório até 14/12." in event["detail"]
    [route] = [s["decided"] for s in dry["steps"] if s["step"] == "route"]
    assert route.startswith("automatic: absence notice") and "fora do escritório" in route


def test_a_body_only_absence_leaves_the_auto_close_of_a_waiting_ticket(
        tmp_path: Path) -> None:
    """awaiting_reply with auto_close_after = 7d: the customer's out-of-office is no answer;
    the ticket keeps waiting, nobody is told, and it still closes when the period ends."""
    config = load_config(write_config(tmp_path, AUTO_CLOSE))
    configure_logging(config.logging)
    with freeze_time("2026-03-02 09:00:00", ignore=REAL_TIME) as frozen:
        daemon = RunningDaemon(config).start()
        try:
            _to_awaiting_reply(daemon, "Jörg Weber <joerg@example.de>")
            before = len(mails(daemon))
            frozen.move_to("2026-03-02 09:05:00")
            deliver(daemon, make_mail("Re: [SUP-000001] Drucker druckt leere Seiten",
                                      sender="Jörg Weber <joerg@example.de>",
                                      body=DE_ABSENCE + "\n"))
            store = daemon.store()
            assert store.ticket(1).status == "awaiting_reply"
            assert len(mails(daemon)) == before
            assert "automatic_mail" in [e["kind"] for e in store.events(1)]
            frozen.move_to("2026-03-10 09:00:00")
            assert autoclose.CLOSE in fired(daemon)
            assert daemon.store().ticket(1).status == "closed"
        finally:
            daemon.stop()


def test_an_absence_with_a_problem_still_answers_the_waiting_ticket(tmp_path: Path) -> None:
    """Mixed text: the customer is away but says the printer still fails: it is their
    answer (reopened, auto-close cancelled), as before."""
    config = load_config(write_config(tmp_path, AUTO_CLOSE))
    configure_logging(config.logging)
    with freeze_time("2026-03-02 09:00:00", ignore=REAL_TIME):
        daemon = RunningDaemon(config).start()
        try:
            _to_awaiting_reply(daemon, "Jörg Weber <joerg@example.de>")
            deliver(daemon, make_mail("Re: [SUP-000001] Drucker druckt leere Seiten",
                                      sender="Jörg Weber <joerg@example.de>",
                                      body="Ich bin bis 14.03. im Urlaub, aber der Drucker "
                                           "druckt immer noch leere Seiten.\n"))
            store = daemon.store()
            assert store.ticket(1).status == "open"
            assert not [r for r in store.reminders(1) if r["kind"] == autoclose.KIND]
        finally:
            daemon.stop()
