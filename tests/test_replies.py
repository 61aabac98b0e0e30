"""Thanks-only detection on replies to closed tickets: quote stripping, lexicon, labelled set.

The floor that matters: no substantive reply may be classed as thanks-only
(a lost reopen); recall of thank-yous only has to stay high.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mailgate.errors import ConfigError
from mailgate.message.body import html_to_text
from mailgate.quotes import MAX_INPUT, new_text, reply_parts
from mailgate.replies import (
    JUDGE_WORDS,
    Understanding,
    Verdict,
    judge,
    judge_parts,
    unseen_history,
)
from mailgate.replies.model import SentenceModel, to_bytes

LABELLED = Path(__file__).parent / "data" / "thanks" / "labelled.jsonl"
GMAIL = "On Mon, 3 Jun 2024 at 10:15, Acme Support <support@acme.example> wrote:"


class Detector:
    """The reply-understanding step as the route step runs it, on a plain body."""

    def __init__(self, understanding: Understanding) -> None:
        self.understanding = understanding

    def classify(self, body: str, sender: str | None = None) -> Verdict:
        return judge(self.understanding, reply_parts(body), sender)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(Understanding.load())


def pipeline(detector: Detector, body: str) -> Verdict:
    return detector.classify(body)


THANKS = [
    ("en", "Thank you!"),
    ("en", "ok thanks"),
    ("en", "Thanks!!! 🙏"),
    ("en", "Big thanks to the whole team, have a nice weekend"),
    ("en", "Thanks, works now"),
    ("en", "Thanks John, much appreciated!"),
    ("sv", "Tack så mycket!"),
    ("sv", "Tack för hjälpen, nu fungerar det. /Erik"),
    ("sv", "Hej! Tusen tack, allt funkar nu.\n\nMvh\nKarin Ek\nTel: 070-123 45 67"),
    ("ru", "Спасибо большое, всё работает."),
    ("ru", "Здравствуйте! Огромное спасибо за помощь.\n\nС уважением,\nИван Петров"),
    ("nl", "Bedankt, het werkt weer!"),
    ("nl", "Hartelijk dank voor de snelle hulp. Groetjes, Sanne"),
    ("de", "Danke schön, Problem gelöst."),
    ("de", "Vielen Dank und ein schönes Wochenende!\nLG Tom"),
    ("fr", "Merci beaucoup, ça marche maintenant !"),
    ("fr", "Je vous remercie, c'est réglé."),
    ("es", "¡Muchas gracias, ya funciona!"),
    ("es", "Gracias por la ayuda.\nUn saludo,\nMarta"),
    # "I only wanted to say", "since yesterday": an "only" and a "yesterday" that qualify nothing
    ("de", "Guten Morgen,\n\nich wollte nur kurz Rückmeldung geben: seit Ihrem Eingriff gestern "
           "läuft der Drucker ohne Probleme. Herzlichen Dank!"),
    ("de", "Danke! Seit gestern keine Abbrüche mehr."),
    ("nl", "Bedankt! Ik wilde even laten weten dat alles werkt."),
    ("cs", "Díky, jen jsem chtěla dát vědět, že to funguje."),
    ("ru", "Спасибо, со вчера всё работает."),
    ("uk", "Дякую, пошта знову приходить."),
    ("ru", "Спасибо, сканирует."),
    ("nl", "Bedankt, de planners zijn blij!"),
    ("uk", "Дякуємо, дуже приємно з вами працювати!"),
    ("cs", "Děkuji, tabule v 5.B už reaguje."),  # "5.B" is one word, not two clauses
    ("da", "Tusind tak! Dyrlægerne kan se billederne igen."),
    ("nb", "Takk, akkurat i tide til vinterferien!"),
    # a problem noun under "no more" (jams, flicker, hitches, forced log-outs): it is over
    ("pl", "Dziękuję, od wczoraj żadnych zacięć."),
    ("it", "Grazie, adesso niente più sfarfallio sul monitor."),
    ("it", "Grazie! Ieri cassa tutto il giorno senza un intoppo."),
    ("tr", "Teşekkürler, artık kağıt sıkışması yok."),
    ("ko", "감사합니다. 이제 용지 걸림이 없습니다."),
    ("zh", "谢谢！现在不会再被踢出系统了。"),
    ("ja", "ありがとうございます。強制ログアウトはもう起きていません。"),
]

SUBSTANTIVE = [
    # "broke again" in words another language's lexicon reads as success or thanks
    ("ko", "감사합니다. 사이트가 다시 다운됐어요."), ("ko", "감사합니다. 계정이 다시 잠겼습니다."),
    ("fi", "Kiitos. Järjestelmä takkuaa taas."), ("tr", "Teşekkürler. İnternet yine gitti."),
    ("da", "Tak. Mailen kommer retur igen."), ("nb", "Takk. E-posten kommer i retur igjen."),
    ("en", "Thanks, but it still fails"),
    ("en", "thanks! one more question: can we also export to CSV"),
    ("en", "Thank you. The error is still there."),
    ("en", "Thanks, works now?"),
    ("en", "Thanks in advance, we need this by Friday."),
    ("en", "Thanks. Didn't help."),
    ("en", "Thanks 👎"),
    ("sv", "tack för hjälpen, men det fungerar fortfarande inte"),
    ("sv", "Tack. Tyvärr kraschar det igen."),
    ("ru", "спасибо, но ошибка осталась"),
    ("ru", "Спасибо, не помогло."),
    ("nl", "bedankt, maar het werkt nog steeds niet"),
    ("nl", "Alvast bedankt voor de hulp."),
    ("de", "Danke, aber der Fehler ist immer noch da."),
    ("de", "Danke im Voraus!"),
    ("fr", "merci mais ça plante toujours"),
    ("fr", "Merci d'avance !"),
    ("es", "gracias pero sigue sin funcionar"),
    ("es", "Gracias. ¿Y la factura de abril?"),
    ("en", "The export broke again."),
    # found by a review of the structural reader (each was once read as a thank-you)
    ("en", "Thanks. The scanner stopped working."),
    ("de", "Danke. Der Drucker funktioniert nicht mehr."),
    ("en", "Thanks, the crashes are gone and now the export fails every time."),
    ("en", "Thanks, it works!\nBest regards\nAnna\n\nP.S. Could you also reset my password?"),
    ("en", "Works on the laptop, the desktop shows a black screen."),
    ("en", "Thanks. Screen flickers."),
    ("en", "Thanks, works. Nobody in accounting can log in."),
    # the same problem nouns, not over
    ("pl", "Dziękuję, ale dalej są zacięcia papieru."), ("it", "Grazie. Lo sfarfallio è tornato."),
    ("tr", "Teşekkürler. Yazıcıda yine kağıt sıkışması var."), ("zh", "谢谢。今天又被踢出了。"),
    ("ja", "ありがとうございます。今朝また強制ログアウトされました。"),
    ("en", "Thanks. My workstation shows a black screen."),
    ("en", "Thanks, works on my PC.\nUser: anna@example.com\nTime: 12.03.2024 10:15\n"
           "Error: access denied on the share"),
    ("en", "Thanks, works for me.\nSince 12.03.2024 10:15 anna@example.com gets this:\n"
           "Access denied (0x5), please check"),
    ("ru", "Спасибо. Принтер больше не работает."),
    ("it", "Grazie. La stampante non funziona più."),
    ("en", "Thanks. Printer is fixed and now the scanner shows an error."),
    # a closing line with three clauses once made the signature start three lines too late
    ("de", "Danke, Gruß, LG\nDer Drucker druckt leere Seiten.\nTom"),
    ("de", "Ich wollte nur wissen, ob die Rechnung schon raus ist. Danke"),
    ("pl", "Dziękuję, chciałam tylko zapytać o fakturę"),
    ("pt", "Obrigado! Só queria saber quando chega a fatura"),
    ("de", "Danke. Lief bis gestern."),
    ("de", "Danke, gestern lief es noch."),
    ("nl", "Bedankt, het werkte even."),
    ("de", "Danke, seit gestern geht es nur teilweise."),
    ("ru", "Спасибо. Ошибка снова приходит"),
    ("ru", "Спасибо, письма снова не приходят"),
    ("de", "Danke. Ich wäre froh, wenn Sie das prüfen."),
    ("nl", "Bedankt. We zouden blij zijn als jullie het rapport sturen."),
    ("da", "Tak, men jeg kan ikke se billederne."),
    ("nb", "Takk, vi kan se feilen igjen."),
    ("de", "Danke.Drucker defekt."),
    # French "ne ... plus" / spoken "... plus" is "no longer": a success verb it follows is
    # gone, not confirmed ("marche" alone says "works"; a user's VPN outage was kept closed)
    ("fr", "Bonjour,\n\nle VPN ne marche plus depuis hier soir.\n\nCordialement,\nClaire"),
    ("fr", "Ça marche plus."), ("fr", "Le VPN ne fonctionne plus depuis ce matin."),
    ("fr", "Merci. Le scanner ne se connecte plus au wifi."),
    # a closing word inside a sentence closes nothing (Portuguese "Att." is Swedish "to"):
    # the wish below it is still the body
    ("sv", "Hej Erik!\n\nTack, nu är det mycket lättare att skriva offerter till kunderna."
           "\n\nDet vore bra om "
           "Jonas och Elin på kontoret i Malmö också fick varsin extra skärm.\n\nHälsningar"
           "\nSofia"),
    # folded hands after a request say "please", not "thanks"
    ("ja", "ありがとうございます！佐藤さんのパソコンの分もお願いできればと思います🙏"),
    ("tr", "Teşekkürler! Depodaki bilgisayara da aynı program lazım 🙏"),
    ("en", "Thanks! Same setup for the laptop in room 4 🙏"),
    # "nothing happens" reports a fault ("nothing" does not negate a problem here)
    ("en", "Nothing happens when I press Save."),
    ("en", "Thanks. Nothing happened after the reboot."),
    ("es", "Gracias. Cuando pulso Enviar no pasa nada."),
    ("it", "Grazie. Quando premo Invia non succede nulla."),
    ("nl", "Bedankt. Als ik op Opslaan klik gebeurt er niets."),
    ("pl", "Dzięki. Po kliknięciu Zapisz nic się nie dzieje."),
    # an abbreviation a sign-off list holds ("KR", kind regards) inside a sentence is none:
    # "0 kr" is kronor
    ("sv", "Hej Ali,\n\nTack. Fakturan till Brf Björken visar 0 kr på alla rader.\n\nPer"),
    # below the signature, a long sentence saying something no longer works is the
    # customer's, not a firm's notice
    ("en", "Thanks Mark, the kitchen printer prints again.\n\nAnna\n\nAnna Berg\nCafe Lind\n"
           "Storgatan 4, Malmo\n040-123 45 67\n\nThe old direct line of our kitchen manager "
           "for weekend emergencies is no longer working since the move to Lund."),
    # a time of day is no greeting: "again" there is the fault coming back
    ("en", "Thanks. The monitor went dark again this morning."),
]


@pytest.mark.parametrize(("lang", "text"), THANKS)
def test_thanks_only_per_language(detector: Detector, lang: str, text: str) -> None:
    """Pure gratitude (with greetings, pleasantries, names and signatures) is thanks-only."""
    verdict = detector.classify(text, "Tom")
    assert verdict.thanks_only, (lang, verdict)
    assert verdict.matched and verdict.reason.startswith("only ")


@pytest.mark.parametrize(("lang", "text"), SUBSTANTIVE)
def test_substantive_per_language(detector: Detector, lang: str, text: str) -> None:
    """Gratitude followed by a problem, a question or a request is substantive."""
    verdict = detector.classify(text)
    assert not verdict.thanks_only, (lang, verdict)


@pytest.mark.parametrize(
    "text",
    ["Thanks, the login works fine now.", "Tack, inloggningen fungerar igen!",
     "Спасибо, вход работает.", "Bedankt, het inloggen lukt weer!",
     "Danke, die Anmeldung klappt wieder!", "Merci, la connexion fonctionne de nouveau !",
     "Gracias, ya puedo entrar otra vez."],
)
def test_success_clause_accepts_its_subject(detector: Detector, text: str) -> None:
    """A clause saying something works again may name what works ("the login")."""
    assert detector.classify(text).thanks_only, detector.classify(text)


@pytest.mark.parametrize(
    "text",
    ["Thanks, it works on the test server.", "Thanks, it worked yesterday", "Thanks, works mostly",
     "Thanks, on staging it works", "Tack, det fungerade igår", "Спасибо, работает без VPN",
     "Bedankt, werkt zonder VPN", "Danke, hat gestern funktioniert", "Merci, ça marchait hier",
     "Gracias, funciona hasta reiniciar", "Thanks, works now. Invoices duplicated."],
)
def test_success_clause_rejects_qualified_success(detector: Detector, text: str) -> None:
    """Words after the success verb, or a qualifier before it, make a success claim partial."""
    assert not detector.classify(text).thanks_only, detector.classify(text)


@pytest.mark.parametrize(
    "text",
    ["Printed fine for a few minutes", "Das Login ging nur einmal", "Ça a marché une seule fois",
     "Funcionó solo una vez", "Ha stampato soltanto una volta",
     "Funcionou só uma vez", "Het werkte maar één keer", "Skrivaren fungerade bara en gång",
     "Printeren virker kun én gang efter opstart", "Tulostin toimi vain kerran",
     "Zadziałało tylko raz",
     "Fungovalo to jen jednou", "Сработало только один раз", "Спрацювало лише один раз",
     "Sadece bir kez çalıştı", "一回だけ動きました", "딱 한 번 연결됐어요"],
)
def test_a_success_bounded_to_once_reopens(detector: Detector, text: str) -> None:
    """A success that held once or a short while ("worked for about an hour", "funcionó
    una vez y ya") says the fault is back: never kept closed as a confirmation."""
    verdict = detector.classify(text)
    assert not verdict.thanks_only, verdict
    assert verdict.reason.startswith("a partial success"), verdict


@pytest.mark.parametrize(
    "text",
    ["Danke, seitdem ist der Drucker nicht einmal mehr hängen geblieben",
     "Merci, depuis lundi ça n'a pas planté une seule fois",
     "Grazie, da lunedì non si è bloccato neanche una volta",
     "Obrigado, desde segunda não travou uma única vez",
     "Děkuji, od pondělí ani jednou nezamrzla", "Teşekkürler, o günden beri bir kez bile donmadı"],
)
def test_a_once_under_a_negation_is_never(detector: Detector, text: str) -> None:
    """"Not even once" is no bounded success: the thank-you stays closed."""
    verdict = detector.classify(text)
    assert verdict.thanks_only, verdict


@pytest.mark.parametrize(
    "text",
    ["Thanks. The card reader beeps twice now and nothing registers",
     "Danke. Der Kartenleser piept jetzt zweimal und nichts wird gebucht",
     "Спасибо. Терминал теперь пищит дважды и ничего не списывает",
     "Dzięki. Terminal piszczy teraz dwa razy i nic nie nalicza",
     "Kiitos. Pääte piippaa nyt kaksi kertaa eikä mitään kirjaudu",
     "شكراً. الجهاز يصفّر مرتين وما يسجل شيء",
     "감사합니다. 단말기가 이제 두 번 울리고 결제가 안 들어가요"],
)
def test_a_negation_after_and_negates_its_own_verb(detector: Detector, text: str) -> None:
    """"beeps twice and nothing goes in" reports two faults: the "nothing" after the "and"
    negates its own verb, not the problem word before the "and" (which stays a problem)."""
    verdict = detector.classify(text)
    assert not verdict.thanks_only, verdict
    assert verdict.reason.startswith("a problem"), verdict


@pytest.mark.parametrize(
    "text",
    ["Grazie. Le prenotazioni arrivano di nuovo e niente più doppioni",
     "Dzięki, drukarka od rana nie zawiesiła się ani razu",
     "Danke, der Drucker hat keinen Stau mehr und nichts hängt"],
)
def test_a_negation_around_the_problem_still_clears_it(detector: Detector, text: str) -> None:
    """A pair of negations around the problem word ("nie zawiesił się ani razu") or one
    before it after the "and" ("e niente più doppioni") still says the problem is over."""
    verdict = detector.classify(text)
    assert verdict.thanks_only, verdict


def test_the_password_is_no_success_word(detector: Detector) -> None:
    """French "passe" (goes through) inside "mot de passe" (password) confirms nothing:
    "Outlook redemande le mot de passe" reports a fault; a thank-you saying the new
    password works still stays closed."""
    assert not detector.classify("Maintenant Outlook redemande le mot de passe").thanks_only
    assert not detector.classify("Depuis ce matin Outlook veut le mot de passe").thanks_only
    assert detector.classify("Merci, le nouveau mot de passe fonctionne").thanks_only


def test_verdict_names_the_clause_that_decided(detector: Detector) -> None:
    """The verdict says what the reply said, and quotes the clause that reopens."""
    verdict = detector.classify("Thank you!")
    assert verdict == Verdict(True, "only gratitude, pleasantry: 'Thank you'", ("Thank you",))
    verdict = detector.classify("Thanks, but it still fails")
    assert not verdict.thanks_only
    assert verdict.reason == "a 'but' or 'still': 'but it still fails'"


def test_empty_and_no_gratitude_are_substantive(detector: Detector) -> None:
    """No text or no gratitude phrase never counts as thanks-only."""
    for text in ("", "   \n", "ok", "👎", "😡\nJohn", "Best regards,\nJohn"):
        assert not detector.classify(text).thanks_only, text


def test_a_thumbs_up_or_folded_hands_alone_thanks(detector: Detector) -> None:
    """A gratitude sign with nothing else (the blind writers of two tuning parts label it
    a thank-you) keeps the ticket closed; beside a cue it does not."""
    for text in ("👍", "🙏\nThomas", "👍👍", "👍🏻", "👍\n鈴木"):
        assert detector.classify(text).thanks_only, text
    for text in ("👍?", "👍 but the printer hangs", "🙏 bitte nochmal prüfen"):
        assert not detector.classify(text).thanks_only, text


def test_gmail_top_posted_history_is_dropped() -> None:
    """A Gmail attribution line followed by '>' lines ends the new text."""
    body = f"Thanks, works now!\n\n{GMAIL}\n> Does the error still occur?\n> > It still fails!\n"
    assert new_text(body) == "Thanks, works now!"


def test_wrapped_attribution_line_is_recognised() -> None:
    """html2text wraps long attribution lines; both halves are recognised."""
    body = ("Thanks!\n\nOn Mon, 3 Jun 2024 at 10:15, Acme Support\n"
            "<support@acme.example> wrote:\n\n> Is it broken?")
    assert new_text(body) == "Thanks!"


@pytest.mark.parametrize(
    "header",
    [
        "Den mån 3 juni 2024 kl 10:15 skrev Acme Support <support@acme.example>:",
        "пн, 3 июн. 2024 г. в 10:15, Acme Support <support@acme.example>:",
        "3 июня 2024 г., в 10:15, Acme Support <support@acme.example> написал(а):",
        "Op ma 3 jun 2024 om 10:15 schreef Acme Support <support@acme.example>:",
        "Op 3 jun. 2024 om 10:15 heeft Acme Support <a@b.example> het volgende geschreven:",
        "Am Mo., 3. Juni 2024 um 10:15 Uhr schrieb Acme Support <support@acme.example>:",
        "Le lun. 3 juin 2024 à 10:15, Acme Support <support@acme.example> a écrit :",
        "El lun, 3 jun 2024 a las 10:15, Acme Support (<support@acme.example>) escribió:",
    ],
)
def test_translated_attribution_lines(header: str) -> None:
    """Attribution lines in sv, ru, nl, de, fr and es start the quoted history."""
    assert new_text(f"Tack!\n\n{header}\n> Fel 500, fungerar inte\n") == "Tack!"


@pytest.mark.parametrize(
    "header",
    [
        "Dne 17. 11. 26 v 08:49 Jan Novák | Podpora IT napsal(a):",
        "17.11.26 10:47, Підтримка «Дніпро ІТ-Сервіс» пише:",
        "W dniu 23.11.2026 o 14:42, Dział Wsparcia IT pisze:",
        "Em 16/11/2026 15:11, Suporte TI Conecta Serviços escreveu:",
        "30.11.2026 11:22 tarihinde Elif Şahin | Anadolu Bilişim Destek yazdı:",
        "Tukipalvelu – Saimaa IT Oy kirjoitti 1.12.2026 klo 14.34:",
        "2026-11-18 오후 1:44에 고객지원센터 (넥스트아이티) 이(가) 쓴 글:",
        "في 23/11/2026 10:59، كتب نورة الدوسري | فريق الدعم الفني:",
        "在 2026/11/26 15:18, 技术支持中心（云启信息科技） 写道:",
    ],
)
def test_attribution_lines_without_an_address(header: str) -> None:
    """Attribution lines with a date and a time but no address, in any language, start
    the quoted history when quoted lines follow; a sentence shaped like one is kept."""
    assert new_text(f"Díky!\n\n{header}\n> Chyba 500, nefunguje\n") == "Díky!"
    body = f"Díky!\n\n{header}\nChyba 500, nefunguje\n"
    assert "Chyba 500" in new_text(body)


def test_outlook_attribution_with_a_polish_verb() -> None:
    body = ('Dzięki!\n\nDnia 16 października 2024 13:09 "Krzysztof Mazur" '
            "<support@example.com> napisał(a):\nCzy problem nadal występuje?\n")
    assert new_text(body) == "Dzięki!"


@pytest.mark.parametrize(
    "block",
    [
        "-----Original Message-----\nFrom: Acme Support\nSent: Monday, June 3, 2024 10:15 AM",
        "________________________________\nFrån: Acme Support <a@b.example>\nSkickat: 3 juni 2024",
        "От: Acme Support <support@acme.example>\nОтправлено: 3 июня 2024 г. 10:15\nТема: Ошибка",
        "**Von:** Acme Support\n**Gesendet:** Montag, 3. Juni 2024 10:15\n**Betreff:** Fehler",
        "De : Acme Support\nEnvoyé : lundi 3 juin 2024 10:15\nObjet : Erreur",
        # no address, labels in other languages
        "Od: Podpora IT\nOdesláno: pondělí 17. listopadu 2026 10:47\nKomu: Jana\nPředmět: RE: X",
        "Від: Підтримка\nНадіслано: 17 листопада 2026 р. 10:47\nКому: Оксана\nТема: RE: X",
        "Od: Dział Wsparcia IT\nWysłano: poniedziałek, 17 listopada 2026 10:47\nDo: Anna\nTemat: X",
        "Lähettäjä: Tukipalvelu\nLähetetty: 17. marraskuuta 2026 10.47\nVastaanottaja: S\nAihe: X",
        "Fra: Support\nSendt: 17. november 2026 10:47\nTil: Lars\nEmne: SV: Printer",
        "Da: Assistenza\nInviato: lunedì 17 novembre 2026 10:47\nA: Elisa\nOggetto: R: X",
        "De: Suporte\nEnviada em: segunda-feira, 17 de novembro de 2026 10:47\nPara: P\nAssunto: X",
        "Kimden: Destek\nGönderildi: 17 Kasım 2026 Pazartesi 10:47\nKime: Can\nKonu: YNT: X",
        "差出人: サポート\n送信日時: 2026年11月17日 10:47\n宛先: 山本\n件名: RE: プリンター",
        "发件人: 技术支持\n发送时间: 2026年11月17日 10:47\n收件人: 李明\n主题: 回复: 打印机",
        "보낸 사람: 고객지원\n보낸 날짜: 2026년 11월 17일 10:47\n받는 사람: 김\n제목: X",
        "من: الدعم الفني\nأرسلت: الاثنين، 17 نوفمبر 2026 10:47 ص\nإلى: يوسف\nالموضوع: RE: X",
    ],
)
def test_outlook_history_blocks_are_cut(block: str) -> None:
    """Outlook separators and From:/Sent: blocks cut everything after them, unquoted or not."""
    body = f"Thanks, all good.\n\n{block}\n\nThe export still fails with error 500. Why?\n"
    assert new_text(body) == "Thanks, all good."


@pytest.mark.parametrize("body", [
    "Díky!\n\nOd: 8:00\nDo: 16:00\nV sobotu zavřeno, prosím o opravu do pátku.",
    "Dzięki!\n\nOd: poniedziałek\nDo: piątek\nTemat: drukarka w biurze 2 nie działa",
])
def test_label_lines_a_customer_types_are_kept(body: str) -> None:
    """ "From 8:00 to 16:00" as two lines, or labels with no time, are no header block."""
    assert new_text(body) == body


def test_bottom_posted_and_interleaved_replies_are_kept() -> None:
    """New text below or between quoted parts survives; the quotes do not."""
    body = (f"{GMAIL}\n> Does it still fail?\n\nYes, it still fails.\n\n"
            "> Anything else?\n\nThanks anyway.\n")
    assert new_text(body) == "Yes, it still fails.\n\nThanks anyway."


def test_signatures_and_mobile_footers_are_dropped() -> None:
    """The '-- ' signature and 'Sent from my iPhone' footers in all languages disappear."""
    footers = ["Sent from my iPhone", "Skickat från min iPhone", "Отправлено с iPhone",
               "Verzonden vanaf mijn iPhone", "Von meinem iPhone gesendet", "Envoyé de mon iPhone",
               "Enviado desde mi iPhone", "Get Outlook for iOS<https://aka.ms/o0ukef>"]
    for footer in footers:
        assert new_text(f"Thanks!\n\n{footer}\n\n> {GMAIL}\n> broken") == "Thanks!", footer
    assert new_text("Thanks!\n-- \nJohn Miller\n+44 20 7946 0958") == "Thanks!"
    assert new_text("Thanks!\n\n\\--  \nAnna") == "Thanks!"  # html2text escapes the delimiter


def test_disclaimer_is_dropped() -> None:
    """A trailing confidentiality notice is not part of the new text."""
    body = ("Thanks, works now.\n\nCONFIDENTIALITY NOTICE: This e-mail is confidential and "
            "intended solely for the addressee. If you are not the intended recipient, please "
            "delete it.")
    assert new_text(body) == "Thanks, works now."


@pytest.mark.parametrize("footer", [
    "Odesláno z iPhonu", "发自我的华为手机", "iPhoneから送信", "내 iPhone에서 보냄",
    "Wysłane z mojego iPhone'a", "Inviato da iPhone", "Enviado do meu iPhone",
    "Sendt fra min iPhone", "Lähetetty iPhonesta", "iPhone'umdan gönderildi",
    "أرسلت من iPhone", "Надіслано з iPhone"])
def test_mobile_footers_of_more_languages_are_dropped(footer: str) -> None:
    assert new_text(f"Thanks!\n\n{footer}\n\n> {GMAIL}\n> broken") == "Thanks!"


@pytest.mark.parametrize("notice", [
    "KONFIDENSIELT: Har du mottatt denne meldingen ved en feil, ber vi deg varsle avsender og"
    " slette den.",
    "AVISO DE CONFIDENCIALIDADE: Esta mensagem é confidencial. Se a recebeu por erro, queira"
    " informar o remetente e eliminá-la.",
    "KONFIDENTIALITET: Har du fått detta mejl av misstag, meddela avsändaren och radera det."
    " Vi ansvarar inte för fel i överföringen.",
])
def test_disclaimers_naming_the_sender_or_an_error_are_dropped(notice: str) -> None:
    """'If you received this in error, tell the sender and delete it' in any wording."""
    assert new_text(f"Takk, det virker.\n\n{notice}") == "Takk, det virker."


@pytest.mark.parametrize("text", [
    "ITサポートセンター御中\n\n鈴木建設株式会社の鈴木です。\n"
    "VPN、無事に接続できるようになりました。ありがとうございました。",
    "김대리님 안녕하세요.\n\nVPN 이제 정상적으로 접속됩니다. 감사합니다.\n\n"
    "이서연 대리 | 경영지원팀\n이서연 세무회계",
    "谢谢，问题已经解决了！\n\n陈静\n陈静会计事务所\n地址：上海市浦东新区张江路88号5楼",
    "Dziękuję, działa!\n\nAnna Nowak\nBiuro Rachunkowe Nowak\n"
    "NIP 123-456-78-90 | KRS 0000123456 | Kapitał zakładowy 50 000 zł",
])
def test_signature_lines_of_firms_titles_and_registers_are_not_content(
        detector: Detector, text: str) -> None:
    """A firm, a title, an address, a register number or "X社のYです" is who writes."""
    assert detector.classify(text).thanks_only, text


def test_a_tax_number_inside_a_sentence_is_content(detector: Detector) -> None:
    """Only a register line of a signature is skipped, not a request that quotes one."""
    text = ("Добрый день,\n\nспасибо за ответ.\n\nКорректировочный счёт выставлен не на ту "
            "организацию. Нужно на ООО «СтройИнвест», ИНН 5260123456.\n\nС уважением,\nЕлена")
    assert not detector.classify(text).thanks_only


def test_turkish_dotted_capital_i_reads_as_i(detector: Detector) -> None:
    """"İyi akşamlar" (good evening) is a pleasantry although "İ" casefolds to two chars."""
    assert detector.classify("Çok teşekkürler, sorun çözüldü. İyi akşamlar!").thanks_only


def test_footer_and_disclaimer_lookalikes_are_kept() -> None:
    """Customer sentences resembling a footer or a disclaimer are new text, not boilerplate."""
    footer = "Thanks!\n\nSent from my phone laptop still broken"
    assert new_text(footer) == footer
    data = ("Thanks!\n\nPlease delete my account, the confidential data was sent to the wrong "
            "recipient by your system.")
    assert new_text(data) == data


def test_text_after_thanks_is_never_treated_as_signature() -> None:
    """Unlike mailparser_reply's signature rules, "Thanks," and "- item" lines end nothing."""
    assert new_text("Hi,\nThanks,\nbut it still fails") == "Hi,\nThanks,\nbut it still fails"
    assert new_text("Thanks!\n- the import fails") == "Thanks!\n- the import fails"


def test_sentence_that_looks_like_an_attribution_is_kept() -> None:
    """"On 3 June it failed, as Anna wrote:" has no time or address, so nothing is cut."""
    body = "Thanks!\n\nOn 3 June it failed, as Anna wrote:\nplease check"
    assert new_text(body) == body


def test_new_text_never_raises_and_is_bounded() -> None:
    """Odd input types and huge hostile bodies return without an exception and without
    blowing up (the time bound is a hang guard against backtracking, not a speed figure)."""
    for odd in (None, 42, b"Thanks \xff", "\x00\ud800", "> only quote"):
        assert isinstance(new_text(odd), str)  # type: ignore[arg-type]
    hostile = ("On Mon 10:15 " + "x " * 90 + "x:\n") * 3000 + "On " + "a b " * 50_000
    start = time.perf_counter()
    out = new_text(hostile)
    assert time.perf_counter() - start < 30
    assert len(out) <= MAX_INPUT


def test_classify_bounded_on_huge_text(detector: Detector) -> None:
    """A huge new text is substantive, read only up to its bound (a hang guard)."""
    start = time.perf_counter()
    assert not detector.classify("thanks " * 100_000).thanks_only
    assert time.perf_counter() - start < 30


def test_extra_lexicon_file_is_merged(tmp_path: Path, detector: Detector) -> None:
    """An admin file ([conversation] gratitude_file) adds phrases to the packaged lists."""
    assert not detector.classify("Skålkram!").thanks_only
    extra = tmp_path / "extra.toml"
    extra.write_text('[sv]\ngratitude = ["skålkram"]\nproblem = ["fixat"]\n')
    custom = Detector(Understanding.load(extra_file=extra))
    assert custom.classify("Skålkram!").thanks_only
    assert custom.classify("Tack så mycket!").thanks_only
    assert not custom.classify("Tack, fixat").thanks_only  # its cue words count too


def test_a_word_holding_a_problem_word_is_not_that_problem(detector: Detector) -> None:
    """Korean is matched inside words: "출고장" (shipping area) holds "고장" (breakdown),
    and "the label printer of the shipping area vanished" is no "breakdown gone"."""
    assert not detector.classify(
        "감사합니다! 출고장 라벨 프린터가 어제부터 사라졌습니다.").thanks_only
    assert not detector.classify("감사합니다! 입고장 스캐너가 사라졌습니다.").thanks_only
    assert detector.classify("감사합니다! 프린터 고장이 사라졌습니다.").thanks_only
    # a longer entry still wins: "출고장애" is a shipping outage
    assert detector.classify("감사합니다! 출고장애가 사라졌습니다.").thanks_only
    assert not detector.classify("감사합니다! 출고장애가 또 발생했습니다.").thanks_only


def test_turkish_must_be_done_is_a_request() -> None:
    """Turkish "-malı/-meli" (must be done) asks for something: a blind writer's "Not: ...
    tanımlanmalı ve ... verilmeli" below a disclaimer was kept closed, since below the
    signature only a request, a question or a problem counts."""
    understanding = Understanding.load(judge=False)
    for text in ("Not: Depodaki yazıcıya da yeni sürücü yüklenmeli",
                 "Stajyerin hesabı da açılmalı", "Bunu yarına kadar halletmeliyiz"):
        assert "request" in understanding.clause(text).categories, text
    rules = Detector(understanding)
    assert not rules.classify("Teşekkürler. Yeni stajyerin hesabı da açılmalı.").thanks_only
    assert rules.classify("Teşekkürler, artık her şey çalışıyor.").thanks_only


def test_an_admin_exception_hides_an_entry_inside_a_word(tmp_path: Path,
                                                          detector: Detector) -> None:
    """A product named "エラーバスター" holds "エラー" (error); the admin file's exception
    list says it is a name, so "it can be used now" is a thank-you again."""
    text = "ありがとうございます。エラーバスターが使えるようになりました。"
    assert not detector.classify(text).thanks_only
    extra = tmp_path / "extra.toml"
    extra.write_text('[ja]\nexception = ["エラーバスター"]\n')
    custom = Detector(Understanding.load(extra_file=extra))
    assert custom.classify(text).thanks_only
    assert not custom.classify("ありがとうございます。エラーが出ます。").thanks_only


@pytest.mark.parametrize(
    ("content", "says"),
    [('[sv]\nthanks = ["x"]\n', "[sv] thanks: unknown list"),
     ('[sv]\ngratitude = "tack"\n', "[sv] gratitude: must be a list of strings"),
     ('sv = 1\n', "[sv] must be a table of lists"), ("x [", "cannot read")],
)
def test_invalid_extra_file_is_a_config_error(tmp_path: Path, content: str, says: str) -> None:
    """A malformed admin lexicon fails loudly at load time, naming the file and the key."""
    extra = tmp_path / "bad.toml"
    extra.write_text(content)
    with pytest.raises(ConfigError, match=r"bad\.toml") as raised:
        Understanding.load(extra_file=extra)
    assert says in str(raised.value)


def test_labelled_set_floor(detector: Detector) -> None:
    """On the first labelled set (now tuning data): no substantive reply classed as thanks,
    thanks recall >= 0.9. The figures that count are bench/thanks.py's on the evaluation
    part, which no test reads."""
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 150
    assert {r["lang"] for r in rows} == {"en", "sv", "ru", "nl", "de", "fr", "es"}
    false_thanks, hits, thanks = [], 0, 0
    for row in rows:
        verdict = pipeline(detector, row["body"])
        if row["label"] == "thanks":
            thanks += 1
            hits += verdict.thanks_only
        elif verdict.thanks_only:
            false_thanks.append((row["lang"], row["style"], row["body"][:80], verdict.reason))
    assert false_thanks == []
    assert hits / thanks >= 0.9


def test_unseen_history_keeps_only_words_no_ticket_message_holds() -> None:
    """History lines the ticket's messages hold (rewrapped or not), header fields and
    attribution lines are not new; a remark written into the history is."""
    known = ["Hi,\n\nSince this morning the monthly export to Excel fails with\n"
             '"Access denied (0x80070005)". Nothing changed on our side.\n\nKarin Lund']
    history = ("________________________________\nFrom: Karin Lund <karin@acme.se>\n"
               "Sent: Monday, 2 March 2026 08:58\nSubject: Export fails\n\n"
               "Since this morning the monthly export to Excel fails with \"Access denied\n"
               '(0x80070005)". Nothing changed on our side.\n\nKarin Lund\n\n'
               "On Mon, 2 Mar 2026 at 16:20, Anna wrote:\n"
               "The invoice should go to our new address now.")
    assert unseen_history(history, known) == "The invoice should go to our new address now."
    assert unseen_history(history, []) == ""  # no ticket to compare with: nothing is unseen


@pytest.mark.parametrize("text", [
    "Спасибо, почта снова приходит и Outlook с тех пор ни разу не упал.",
    "Díky, maily zase chodí a Outlook od té doby ani jednou nespadl.",
    "Dzięki, wszystko działa, a Outlook od tamtej pory ani razu się nie wysypał.",
    "Teşekkürler, e-postalar geliyor ve Outlook o zamandan beri bir kez bile çökmedi.",
])
def test_negative_concord_is_one_negation(detector: Detector, text: str) -> None:
    """"not once did it crash" said with two negations (Slavic, Turkish) is a success."""
    assert detector.classify(text).thanks_only, text


def test_concord_does_not_hide_a_real_negated_success(detector: Detector) -> None:
    assert not detector.classify("Спасибо, но ничего не работает.").thanks_only


def test_signature_starts_at_the_writers_own_name(detector: Detector) -> None:
    """With no closing formula above it, a line opening with the sender's name starts the
    signature: its title and firm are who writes, not content."""
    body = "Thanks, all good now!\n\nDave Kowalczyk | Dispatch Supervisor\nKestrel Freight Ltd"
    assert judge(detector.understanding, reply_parts(body), "Dave Kowalczyk").thanks_only
    # another sender: by the rules alone the lines are content (the sentence judge may
    # still read a title line as harmless)
    rules = Understanding(detector.understanding.lexicon)
    assert not judge(rules, reply_parts(body), "Eva Lind").thanks_only


@pytest.mark.parametrize("text", [
    "Takk. Utlogget igjen i dag",  # "again" alone is no success, "i dag" no greeting
    "شكراً. تم قفل الحساب مرة ثانية.",  # "تم" (was) is an auxiliary, not "done"
    "谢谢！\n\n如果周五前能给我们一份本月的备份报告就太好了。",  # "it would be great if"
])
def test_again_auxiliaries_and_polite_conditionals_are_not_thanks(
        detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize(("sender", "body"), [
    ("Ігор Бойко", "Добрий день.\n\nЗв'язок стабільний. Дякую.\n\nБойко І.П.\n"
                   "комерційний директор\nТОВ «Агро-Родина»\nПолтавська обл., смт Диканька"),
    ("Людмила Степаненко", "Добрий день!\n\nЖурнал відкривається. Дякую!\n\nЛ.М. Степаненко\n"
                           "заступник директора з НВР\nЛіцей №7, м. Вінниця"),
    ("Людмила Степаненко", "Дякую, все працює!\n\nЛюдмила Миколаївна\n\n"
                           "заступник директора з НВР\nЛіцей №7, м. Вінниця"),
    ("Klaus Hoffmann", "Hallo Herr Brückner,\n\nbesten Dank, alles sauber durchgelaufen.\n\n"
                       "i. A. Klaus Hoffmann\nDisposition / IT-Beauftragter\nHoffmann Logistik"),
    ("Florian Zeller", "Servus Stefan,\n\npasst, danke dir! Funktioniert tadellos.\n\n"
                       "LG Florian\n\nFlorian Zeller\nZeller Elektrotechnik GmbH\nFN 345678x"),
])
def test_signature_of_initials_patronymics_and_greeting_closings(
        detector: Detector, sender: str, body: str) -> None:
    """The writer's name with initials ("Бойко І.П."), with a patronymic, after "i. A."
    starts the signature; "Servus Stefan," opening a mail greets (it ends nothing)."""
    assert detector.classify(body, sender).thanks_only, body


@pytest.mark.parametrize(("sender", "body"), [
    ("Ігор Бойко", "Дякую!\n\nБойко І.П.\nПринтер знову не друкує, подивіться будь ласка"),
    ("Florian Zeller", "Servus Stefan,\n\ndanke dir. Scanner kaputt.\n\nLG Florian"),
    ("Klaus Hoffmann", "Danke!\n\ni. A. Klaus Hoffmann\nDer Export funktioniert nicht."),
])
def test_what_follows_a_signature_name_still_counts(
        detector: Detector, sender: str, body: str) -> None:
    """Below the name, a line saying something does not work still reopens."""
    assert not detector.classify(body, sender).thanks_only, body


@pytest.mark.parametrize(("sender", "body"), [
    ("山本 直子", "サポートデスク\n\n佐藤様\n\nお世話になっております。山本です。\n\n"
                 "問題なく印刷できるようになりました。ありがとうございました。\n\n"
                 "今後ともよろしくお願いいたします。"),
    ("中村 恵子", "鈴木様\n\nいつもお世話になっております。中村クリニックの中村です。\n"
                 "内線、正常に鳴るようになりました。\n迅速なご対応に感謝申し上げます。\n"
                 "今後ともよろしくお願い申し上げます。\n\n医療法人 中村クリニック\n"
                 "事務長 中村 恵子\nTEL 03-1234-5678"),
])
def test_japanese_addressee_self_introduction_and_title_lines(
        detector: Detector, sender: str, body: str) -> None:
    """A desk named above "様", "…の中村です" and a title before the writer's name are
    who writes to whom, not news."""
    assert detector.classify(body, sender).thanks_only, body


def test_a_problem_below_a_title_and_name_line_still_counts(detector: Detector) -> None:
    body = "ありがとうございました。\n\n事務長 中村 恵子\nプリンターが全く動きません。"
    assert not detector.classify(body, "中村 恵子").thanks_only


#: "thanks, <something> again" in one sentence: the thanks once lent the "again" clause an
#: anchor, and these were kept closed (25 of 30); only the clause's own thanks, success,
#: apology, greeting or closing makes "again" harmless ("thanks again", "Hallo nochmal")
AGAIN_AFTER_THANKS = [
    'Thanks, locked out again',
    'Takk, utlogget igjen i dag',
    'Tack, skrivaren krånglar igen',
    'Danke, er piept schon wieder',
    'Danke, wir sind wieder ausgesperrt',
    'Tack, kunderna ringer igen',
    'Danke, das Fenster kommt wieder',
    'Danke, sie ist wieder voll',
    'Bedankt, het scherm bevriest weer',
    'Дякую, знову вилетіло',
    'Thanks, the disk is full again',
    'Danke, das Popup erscheint wieder',
    'Thanks, the popup shows up again',
    'Kiitos, kassa herjaa taas',
    'Bedankt, de website ligt er weer uit',
    'Thanks, server cupboard is beeping again',
    'Tack, han har glömt lösenordet igen',
    'Bedankt, de pinautomaat weigert weer alle kaarten',
    'Tak, bøvl igen',
    'Takk, trøbbel igjen',
    'Danke, die Meldung kam heute Morgen wieder',
    'Grazie, il rack suona di nuovo',
    'Gracias, el mensaje ha vuelto a salir esta mañana',
    'Kiitos, kassa jumittui taas kesken maksun',
    'Díky, tak zase to nejede',
    'Dzięki, znowu pół dnia w plecy',
    'Tak, 16 gik det ned igen',
    'Merci, le message est revenu ce matin',
    'Obrigado, o alarme voltou a tocar',
    'Danke, Kunden rufen wieder an',
]


@pytest.mark.parametrize("text", AGAIN_AFTER_THANKS)
def test_something_again_after_thanks_reopens(detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize("text", [
    "Thanks again for the quick help!",
    "Hallo nochmal,\n\ndanke, es geht.",
    "Bedankt! Alle wagens synchroniseren weer.",
    "Tack! Alla bilar syns på kartan igen.",
    "Obrigada! O sistema está rápido de novo.",
    "Tausend Dank! Die ersten Bestellungen sind schon wieder reingekommen.",
])
def test_again_with_its_own_thanks_or_success_is_harmless(
        detector: Detector, text: str) -> None:
    assert detector.classify(text).thanks_only, text


# Bottom posting below Outlook's unmarked history: the old message, then the answer
_DE_OLD = ("________________________________\n"
           "Von: IT-Service <support@example.com>\n"
           "Gesendet: Dienstag, 1. Dezember 2026 09:12\n"
           "An: Jens Ohlsen <j.ohlsen@ohlsen-bau.example>\n"
           "Betreff: [SUP-000311] Drucker im Lager\n\n"
           "Hallo Herr Ohlsen,\n\n"
           "ich habe den Drucker im Lager neu eingebunden. Bei Fragen melden Sie sich.\n\n"
           "Viele Grüße\nKatja Brenner\nIT-Service | Example GmbH\nTel. +49 30 1234 567\n\n")
_ES_OLD = ("**De:** Soporte <support@example.com>\n"
           "**Enviado el:** martes, 1 de diciembre de 2026 9:40\n"
           "**Para:** Inés Robles <ines@robles.example>\n"
           "**Asunto:** [SUP-000312] Escáner\n\n\n\n"
           "Hola Inés,\n\n\n\nhe reinstalado el controlador del escáner.\n\n\n\n"
           "Un saludo,\n\nPablo Ruiz\n\n\n\n")
_ZH_OLD = ("-----原始邮件-----\n"
           "发件人: 技术支持 <support@example.com>\n"
           "发送时间: 2026年12月1日 10:05\n"
           "收件人: 周敏 <zhoumin@example.cn>\n"
           "主题: [SUP-000313] 打印机\n\n"
           "周经理，您好：\n\n已经重新安装了打印机驱动。\n\n孙磊\n\n")


@pytest.mark.parametrize(("sender", "body"), [
    ("Jens Ohlsen", _DE_OLD + "Hallo Frau Brenner,\n\ndruckt wieder, vielen Dank!\n\n"
                              "Jens Ohlsen\nOhlsen Bau GmbH"),
    ("Inés Robles", _ES_OLD + "Hola Pablo,\n\n\n\nya escanea, ¡muchas gracias!\n\n\n\nInés"),
    ("周敏", _ZH_OLD + "孙工，打印正常了，谢谢！\n\n周敏"),
])
def test_thanks_below_an_unmarked_quoted_message_is_read(
        detector: Detector, sender: str, body: str) -> None:
    """Nothing above the history: the answer after the old message's sign-off (a closing
    formula and a name, or a name alone) is the new text."""
    assert detector.classify(body, sender).thanks_only, body


@pytest.mark.parametrize(("sender", "body"), [
    ("Jens Ohlsen", _DE_OLD + "Hallo Frau Brenner,\n\ndanke. Der Scanner daneben geht aber "
                              "immer noch nicht, können Sie schauen?\n\nJens Ohlsen"),
    ("Inés Robles", _ES_OLD + "Hola Pablo,\n\n\n\ngracias. El escáner del almacén sigue sin "
                              "funcionar.\n\n\n\nInés"),
    ("周敏", _ZH_OLD + "孙工，谢谢！另外财务室的打印机还是卡纸，能帮忙看一下吗？\n\n周敏"),
    # no sign-off in the old message: where it ends is unknown, so the answer is unread
    ("Jens Ohlsen", _DE_OLD.replace("Viele Grüße\nKatja Brenner\n", "")
     .replace("IT-Service | Example GmbH\nTel. +49 30 1234 567\n\n", "")
     + "Danke, geht.\n\nJens Ohlsen"),
    # more history below the sign-off: the answer is not where the rule looks
    ("Jens Ohlsen", _DE_OLD + _DE_OLD + "Danke, geht.\n\nJens Ohlsen"),
])
def test_what_stands_below_an_unmarked_quoted_message_still_reopens(
        detector: Detector, sender: str, body: str) -> None:
    assert not detector.classify(body, sender).thanks_only, body


def test_the_senders_own_sign_off_does_not_end_the_old_message(detector: Detector) -> None:
    """The old message is the customer's own (no agent sign-off): their name below it does
    not make what follows an answer."""
    body = _DE_OLD.replace("Katja Brenner", "Jens Ohlsen").replace(
        "IT-Service | Example GmbH\nTel. +49 30 1234 567\n", "") + "Ohlsen Bau GmbH\nDanke"
    assert not detector.classify(body, "Jens Ohlsen").thanks_only


@pytest.mark.parametrize("header", [
    "---------- Původní e-mail ----------\nOd: Podpora <support@example.com>\n"
    "Komu: Jan Malý <jan@example.cz>\nDatum: 1. 12. 2026 10:18:30\nPředmět: Tiskárna\n",
    "--- Оригінальне повідомлення ---\nВід кого: \"Підтримка\" <support@example.com>\n"
    "Дата: 1 грудня 2026, 10:05:19\n",
    "Gesendet: Dienstag, 01. Dezember 2026 um 10:12 Uhr\nVon: \"IT\" <support@example.com>\n"
    "An: jan@example.de\nBetreff: Drucker\n",
])
def test_a_separator_or_date_first_header_above_quoted_lines_is_history(header: str) -> None:
    """A separator's own fields (any labels), and GMX's block that starts with the date,
    belong to the header: the quoted lines below them and the text after are told apart."""
    body = f"{header}\n> Der Drucker ist neu eingebunden.\n> Gruß, Katja\n\nDěkuji, funguje!"
    assert new_text(body) == "Děkuji, funguje!"


def test_header_fields_parted_by_blank_lines_are_one_block() -> None:
    """HTML mail turned to text puts a blank line between Outlook's fields: still a header."""
    body = ("Läuft wieder, danke!\n\n* * *\n\n________________________________\n\n"
            "Von: Service <support@example.com>\n\nGesendet: Montag, 7. Dezember 2026 10:12\n\n"
            "An: Uwe Kern <uwe@kern.example>\n\nBetreff: Kasse\n\nHallo Herr Kern,\n\n"
            "die Kasse startet wieder. Bitte melden Sie sich, falls etwas auffällt.")
    assert new_text(body) == "Läuft wieder, danke!"


@pytest.mark.parametrize("rule", ["----- 원본 메일 -----", "-----Oryginalna wiadomość-----",
                                  "------ Mensaxe orixinal ------"])
def test_a_titled_rule_with_address_fields_below_is_a_separator(rule: str) -> None:
    """A title between rules in a language no list holds: its "Label: value" lines with an
    address make it a history separator."""
    body = (f"감사합니다!\n\n{rule}\n보낸사람: \"헬프데스크\" <support@example.com>\n"
            "받는사람: <a@b.example>\n제목: 프린터\n\n프린터 드라이버를 다시 설치했습니다.")
    assert new_text(body) == "감사합니다!"
    assert new_text("Danke!\n\n--- Bitte beachten ---\nDer Drucker im 2. Stock fehlt noch.") \
        == "Danke!\n\n--- Bitte beachten ---\nDer Drucker im 2. Stock fehlt noch."


@pytest.mark.parametrize("notice", [
    "Diese E-Mail ist nur für den genannten Adressaten bestimmt. Jede Weitergabe oder "
    "Vervielfältigung ist unzulässig. Bitte benachrichtigen Sie in diesem Fall den Absender.",
    "E-posten er kun ment for adressaten og kan inneholde taushetsbelagt informasjon.",
    "FORTROLIGT: Denne meddelelse er fortrolig. Har du modtaget den ved en fejl, så kontakt "
    "afsender og slet den.",
])
def test_notices_in_the_signature_do_not_reopen(detector: Detector, notice: str) -> None:
    """Forbidden-to-copy, for-the-addressee and received-in-error notices are legal text."""
    body = f"Danke, alles gut.\n\nViele Grüße\nUwe Kern\nKern GmbH\n\n{notice}"
    assert detector.classify(body, "Uwe Kern").thanks_only, notice


def test_a_register_line_that_ends_like_a_sentence_is_the_firms() -> None:
    """Two register numbers in one line ("KRS …, NIP …") are the firm's, whatever follows."""
    detector = Detector(Understanding.load())
    body = ("Dziękuję, działa.\n\nZ poważaniem\nJan Nowak\n\nNowak Sp. z o.o., KRS 0000123456, "
            "NIP 5251234567, kapitał zakładowy 5 000 zł.")
    assert detector.classify(body, "Jan Nowak").thanks_only


_EN_OLD = ("Thanks, Priya!\n\n________________________________\nFrom: Priya <support@example.com>\n"
           "Sent: Monday, 7 December 2026 10:12\nTo: Tom <tom@shop.example>\n"
           "Subject: [SUP-000401] Till\n\nHi Tom,\n\n")


def test_text_below_the_old_messages_sign_off_counts(detector: Detector) -> None:
    """Below an unquoted old message, what follows its sign-off is the customer's: an
    "Update from me" there reopens; an "Update on [SUP-1]:" inside the old message (the
    desk's own wording) does not."""
    below = _EN_OLD + "The till works again.\n\nCheers,\nPriya\n\n" \
        "Update from me: the card reader now fails with error 12 again."
    assert not detector.classify(below, "Tom Berg").thanks_only
    inside = _EN_OLD + "Update on [SUP-000401]: the till failed because of an error in the " \
        "driver. It works again.\n\nCheers,\nPriya"
    assert detector.classify(inside, "Tom Berg").thanks_only


def test_a_remark_below_the_deepest_old_message_counts(detector: Detector) -> None:
    """Outlook's history of two old messages; the customer added a line below the last
    one (their own first mail, signed with their name): it is read, and it asks."""
    own = ("\n\n________________________________\nFrom: Tom Berg <tom@shop.example>\n"
           "Sent: Sunday, 6 December 2026 18:02\nTo: support@example.com\nSubject: Till\n\n"
           "Hi,\n\nthe till does not start.\n\nTom Berg\n\n")
    base = _EN_OLD + "The till works again.\n\nCheers,\nPriya" + own
    assert detector.classify(base, "Tom Berg").thanks_only
    remark = base + "By the way, could you also check the label printer next week?"
    assert not detector.classify(remark, "Tom Berg").thanks_only


def test_a_contrast_below_the_signature_delimiter_is_no_notice(detector: Detector) -> None:
    """A long sentence below "-- " with "but"/"still" and a problem is the customer's,
    however many words the lexicon does not know; a notice's sentence is not."""
    body = ("Merci.\n\n-- \nNathalie Roux | Comptable\n\nPar contre l'export vers Excel "
            "échoue toujours avec le même message d'avertissement.")
    assert not detector.classify(body, "Nathalie Roux").thanks_only
    notice = ("Merci.\n\n-- \nNathalie Roux | Comptable\n\nCe message est confidentiel et "
              "destiné uniquement à son destinataire ; toute diffusion est interdite.")
    assert detector.classify(notice, "Nathalie Roux").thanks_only


@pytest.mark.parametrize("separator", ["\\---------- Původní e-mail ----------",
                                       "\\-----Mensagem original-----"])
def test_an_escaped_separator_from_html_mail_is_history(separator: str) -> None:
    """html2text writes a leading "-" as "\\-": the separator still cuts the history."""
    body = (f"Děkuji!\n\n{separator}\nOd: Podpora <support@example.com>\n"
            "Komu: jan@example.cz\nPředmět: Tiskárna\n\nTiskárna je opravená.")
    assert new_text(body) == "Děkuji!"


def test_direction_marks_around_an_attribution_line_are_ignored() -> None:
    """Gmail wraps an Arabic attribution line in U+202B … U+202C: it still ends in ":"."""
    body = ("شكراً جزيلاً!\n\n\u202bفي الاثنين، 7 ديسمبر 2026 في 10:15 ص تمت كتابة ما يلي "
            "بواسطة \u202aالدعم الفني\u202c <\u202asupport@example.com\u202c>:\u202c\n\n"
            "> تم إصلاح الطابعة.")
    assert new_text(body) == "شكراً جزيلاً!"


@pytest.mark.parametrize(("sender", "body"), [
    ("MUDr. Eva Malá", "Dobrý den,\n\nobjednávky zase fungují, děkuji.\n\n"
                       "Zubní ordinace MUDr. Malá\n\nMUDr. Eva Malá\nOlomouc"),
    ("Petra Lindner", "Danke, die Kasse geht.\n\nBuchhandlung Lindner\nMarktplatz 3"),
    ("田中 翔", "ありがとうございました。\n\n製造部 生産技術課 田中 翔\nTEL 06-1234-5678"),
    ("刘医生", "谢谢，预约系统恢复正常了！\n\n刘静\n\n刘静 主治医师\n微笑口腔门诊部\n"
              "杭州市西湖区文三路"),
])
def test_firm_department_and_address_lines_of_a_signature(
        detector: Detector, sender: str, body: str) -> None:
    """A practice named after the writer, a department before their name, a city and
    district with no house number: signature lines, not news."""
    assert detector.classify(body, sender).thanks_only, body


def test_a_line_ending_with_the_writers_name_still_lets_a_problem_count(
        detector: Detector) -> None:
    assert not detector.classify("Danke.\n\nBuchhandlung Lindner\nDie Kasse druckt wieder "
                                 "keine Belege, bitte melden Sie sich.", "Petra Lindner"
                                 ).thanks_only


def test_unseen_history_leaves_out_separator_lines() -> None:
    """"-----Original Message-----" is no word the customer wrote into the history."""
    parts = reply_parts("Thanks!\n\n-----Original Message-----\nFrom: Anna <support@example.com>\n"
                        "Sent: Monday, 2 March 2026 09:30\nTo: tom@shop.example\nSubject: Till"
                        "\n\nThe till driver is reinstalled.\n")
    assert unseen_history(parts.history, ["The till driver is reinstalled."]) == ""


def test_unseen_history_leaves_out_bold_fields_of_html_mail() -> None:
    """Outlook's HTML history block, turned to text, bolds its field names ("**Subject:**");
    the quoted subject's "still" is no word the customer wrote (it reopened a thank-you)."""
    html = ("<html><body><p>Thank you, the scanner works perfectly now.</p><p>Kate</p>"
            "<div><p>-----Original Message-----<br><b>From:</b> Example Support "
            "&lt;support@example.com&gt;<br><b>Sent:</b> Monday, December 7, 2026 3:41 PM<br>"
            "<b>To:</b> Kate Miller<br><b>Betreff:</b> [SUP-000018] Scanner still jams on "
            "every page</p></div><p>Hello Kate, the feeder rollers are replaced.</p>"
            "</body></html>")
    parts = reply_parts(html_to_text(html))
    assert unseen_history(parts.history, ["Hello Kate, the feeder rollers are replaced."]) == ""


@pytest.mark.parametrize(("sender", "body"), [
    # the contact row first: the title row above it was kept only by the old judge's
    # reading of it (0.76), which no rule makes
    ("周婷", "谢谢，电脑拿到了，数据都在！\n\nTina Zhou 周婷\n"
            "Tel: +86 755 8265 4321 | WeChat: tina_bt\n"
            "Sales Manager | 深圳明亮贸易有限公司"),
    ("Alessandro Conti", "Ciao Marco,\n\nil plotter va alla grande. Grazie!\n\nAle"),
    ("Jessica Krause", "Danke, es funktioniert!\n\nJessi"),
])
def test_contact_rows_and_a_shortened_own_name_sign_a_reply(
        detector: Detector, sender: str, body: str) -> None:
    """A row of contact items parted by "|" starts the signature, however long; the start
    of the writer's own name on its own line ("Ale") is how they sign."""
    assert detector.classify(body, sender).thanks_only, body


def test_a_contact_row_that_is_a_sentence_still_counts(detector: Detector) -> None:
    assert not detector.classify("Danke!\n\nDer Drucker geht nicht. | Tel. 0341 22 45 180 "
                                 "bitte zurückrufen, es ist dringend.", "Uwe Kern").thanks_only


@pytest.mark.parametrize("notice", [
    "Please consider the environment before printing this email.",
    "Esta mensagem é confidencial. Se a recebeu por erro, informe o remetente e apague-a.",
])
def test_a_notice_above_a_mobile_footer_below_the_delimiter_is_no_request(
        detector: Detector, notice: str) -> None:
    """Below "-- ", a notice followed by "Sent from my iPhone" is still a notice."""
    body = f"Thanks, all good.\n\n-- \nTom Hale\nHale Haulage\n{notice}\n\nSent from my iPhone"
    assert detector.classify(body, "Tom Hale").thanks_only, notice


def test_a_closing_of_the_customers_own_answer_does_not_end_the_old_message(
        detector: Detector) -> None:
    """The old message has no sign-off; "Viele Grüße" alone closes the customer's own
    answer below it: what follows it is not all they wrote (the problem above counts)."""
    old = _DE_OLD.replace("Viele Grüße\nKatja Brenner\nIT-Service | Example GmbH\n"
                          "Tel. +49 30 1234 567\n\n", "")
    for answer in ("Der Scanner geht noch nicht, bitte prüfen.\n\nViele Grüße\n\n"
                   "Danke nochmal, Jens", "Der Scanner geht noch nicht.\n\nGruß, Jens\n\nDanke!"):
        assert not detector.classify(old + answer, "Jens Ohlsen").thanks_only, answer


def test_a_last_sentence_that_names_the_writer_is_no_firm_line(detector: Detector) -> None:
    """Only above the line where the writer signs is a line ending with their surname
    their firm's: as the last line it is a sentence and counts."""
    assert not detector.classify("Danke!\n\nDie Etiketten kleben schief bei Lindner",
                                 "Petra Lindner").thanks_only


def test_a_sentence_that_starts_with_a_city_and_district_is_no_address(
        detector: Detector) -> None:
    assert not detector.classify("谢谢！\n\n北京市海淀区办公室打印机又卡纸", "王丽").thanks_only


def test_a_ps_below_a_rule_after_the_old_messages_sign_off_counts(detector: Detector) -> None:
    """A rule and a short "PS" line below the old message's sign-off are the customer's,
    not the desk's signature block."""
    body = _EN_OLD + "The till works again.\n\nCheers,\nPriya\n\n-----\nPS pls check printer 2"
    assert not detector.classify(body, "Tom Berg").thanks_only


def test_a_remark_after_a_rule_inside_the_old_message_still_counts(
        detector: Detector) -> None:
    """Text the customer set off by a rule inside the unquoted old message (above its
    sign-off) is still read, as the quote cutter found it."""
    body = (_EN_OLD + "The till works again.\n\n-----\nBut the card reader still fails, "
            "can you check it?\n\nCheers,\nPriya")
    assert not detector.classify(body, "Tom Berg").thanks_only


def test_a_ps_inside_the_old_message_still_counts(detector: Detector) -> None:
    """A "P.S." the customer set inside the unquoted old message is read; only an
    "Update on [SUP-1]: …" heading there is taken for the desk's own words."""
    body = (_EN_OLD + "The till works again.\n\nP.S. the card reader still fails with "
            "error 12, please have a look.\n\nCheers,\nPriya")
    assert not detector.classify(body, "Tom Berg").thanks_only


@pytest.mark.parametrize("text", [
    "Danke, läuft wieder!\n\nGesendet von Outlook für iOS",
    "Спасибо, всё работает.\n\nОтправлено из мобильной Почты Mail.ru",
    "Merci, tout fonctionne.\n\nEnvoyé de Outlook pour Android",
])
def test_more_mobile_footers_are_no_words_of_the_customer(detector: Detector, text: str) -> None:
    """A client footer worded "sent by <client>" (not "by my <device>") is the client's."""
    assert detector.classify(text).thanks_only, text


def test_a_sentence_opening_like_a_footer_still_counts(detector: Detector) -> None:
    """Only a client's or device's name makes such a line a footer."""
    text = "Danke!\n\nGesendet von der Buchhaltung, die Rechnung fehlt noch"
    assert not detector.classify(text).thanks_only


#: a failure verb no list knew, under "not even once" (or a plain negation): a success;
#: the same verb with "again" or alone: a problem (fresh text, not from any reply part)
FAILURE_VERBS = [
    ("Спасибо! Терминал за всю смену ни разу не подвёл.",
     "Спасибо. Терминал опять подвёл на второй кассе."),
    ("Дякую! Сканер жодного разу не підвів.", "Дякую. Сканер знову підвів нас зранку."),
    ("감사합니다! 라벨 프린터가 오늘 한 번도 안 멈췄어요.",
     "감사합니다. 라벨 프린터가 또 멈췄어요."),
    ("谢谢！今天一个包裹都没丢。", "谢谢，今天又丢了两个包裹。"),
    ("Merci ! Le lecteur n'a pas bronché de la journée.",
     "Merci. Le lecteur a encore bronché ce matin."),
    ("Díky, e-shop od včera ani jednou nezaškobrtl.", "Díky, e-shop zase zaškobrtl při platbě."),
    ("Dzięki! Od rana ani razu nie zerwało połączenia.",
     "Dzięki. Znowu zerwało połączenie z kasą."),
    ("Thanks! The scanner hasn't missed a beat all week.",
     "Thanks. The scanner missed a beat again at noon."),
]


@pytest.mark.parametrize(("thanks", "problem"), FAILURE_VERBS)
def test_a_failure_verb_not_even_once_is_a_success(thanks: str, problem: str) -> None:
    """Blind writers of two parts (cs, ru, fr, ko, zh, pl) confirm a fix as "it did not let
    us down once": the verb is a failure verb, so its negation says the problem is over."""
    rules = Detector(Understanding.load(judge=False))
    assert rules.classify(thanks).thanks_only, thanks
    assert not rules.classify(problem).thanks_only, problem


@pytest.mark.parametrize(("text", "kept"), [
    ("Thanks! The error's gone and the orders sync again.", True),
    ("Danke! Die Fehlermeldung ist weg und die Belege gehen wieder raus.", True),
    ("Dzięki, błąd zniknął i drukarka znowu drukuje etykiety.", True),
    ("Thanks! The error is gone, but the orders are stuck again.", False),
    ("Danke! Die Fehlermeldung ist weg, die Belege hängen wieder.", False),
    ("Teşekkürler. Yine aynı hata, fiş yazmıyor.", False),
    ("Thanks. No error, we are locked out again.", False),
])
def test_again_beside_a_problem_said_gone_tells_the_recovery(text: str, kept: bool) -> None:
    """"the error is gone and X works again": the "again" is the recovery; without a "gone"
    word (a negation alone, which may bind to the wrong word) "again" still reopens."""
    rules = Detector(Understanding.load(judge=False))
    assert rules.classify(text).thanks_only is kept, text


@pytest.mark.parametrize("text", [
    "Merci beaucoup !\nJe voulais simplement vous dire que la caisse du magasin fonctionne de "
    "nouveau parfaitement depuis ce matin et que les tickets sortent.",
    # the eleventh round's judge reads "la cassa del negozio funziona di nuovo da stamattina"
    # at 0.64, under its 0.65 (the round's file: 0.70), so that reply now reopens; the same
    # shape with other nouns:
    "Grazie mille!\nVolevo solo dirvi che il gestionale del negozio funziona di nuovo da "
    "stamattina e che le fatture partono regolarmente verso i clienti.",
    "Díky moc!\nJen jsem chtěla dát vědět, že paní účetní se dnes ráno bez problémů přihlásila "
    "do programu na novém notebooku.",
    "Tusen takk!\nVille bare si at kassa i butikken fungerer igjen fra i morges og at "
    "kvitteringene skrives ut som de skal.",
])
def test_a_long_confirmation_is_judged_part_by_part(detector: Detector, text: str) -> None:
    """Blind writers of every part confirm a fix in one long clause ("Just to let you know
    that X works and that Y comes out fine"): longer than the judge reads at once, it is
    judged in parts parted at its joining words, each of which only says things work."""
    verdict = detector.classify(text)
    assert verdict.thanks_only, verdict.reason
    assert "the sentence judge read" in verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks!\nJust to let you know that Maria can print from the new computer now and we would "
    "also like to order three more licences for the new branch office.",
    "Vielen Dank!\nWollte nur kurz Bescheid geben, dass der Kollege sich anmelden konnte und "
    "jetzt bräuchten wir noch einen Zugang für die neue Auszubildende im Lager.",
    "Merci beaucoup !\nJe voulais vous dire que la caisse fonctionne depuis ce matin et que "
    "maintenant il faudrait aussi installer le logiciel sur le deuxième poste.",
    "Большое спасибо!\nХотела сообщить, что бухгалтер вошла в программу на новом ноутбуке и "
    "теперь нужно подключить к сети ещё и принтер в приёмной.",
    "Tack så mycket!\nVille bara säga att kassan fungerar igen sedan i morse och att skrivaren i "
    "lagret fortfarande inte skriver ut några fraktsedlar alls.",
])
def test_a_long_clause_with_one_part_of_news_reopens(detector: Detector, text: str) -> None:
    """Judged in parts, a long clause is harmless only when every part is: one part that
    asks for more work or reports what still fails reopens the ticket."""
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize("text", [
    "Just wanted to tell you that Maria can finally print the delivery notes from her new "
    "computer this morning and that the labels come out fine too",
    "Wollte nur Bescheid geben dass der Kollege im Lager sich heute früh problemlos am neuen "
    "Scanner anmelden konnte",
    "Хотела только сообщить что бухгалтер сегодня утром без проблем вошла в программу на "
    "новом ноутбуке и отправила отчёт",
    "헤드셋 끊김 현상이 완전히 없어져서 상담원들이 오늘 하루 종일 "
    "한 번도 통화가 끊기지 않았다고 하네요",
])
def test_a_long_clause_parts_are_short_and_cover_every_word(text: str) -> None:
    """Each part the judge reads is at most ``JUDGE_WORDS`` words, and no word of the
    clause is left unread (a request hidden in the middle still counts)."""
    parts = judge_parts(text)
    assert parts and len(parts) >= 2
    assert all(len(p.split()) <= JUDGE_WORDS for p in parts)
    read = {w for p in parts for w in p.split()}
    joins = {"that", "and", "dass", "что", "и"}
    assert {w for w in text.split() if w not in joins} <= read


def test_a_clause_in_a_script_of_long_words_is_counted_in_spaces() -> None:
    """Arabic and Korean words are many letters long: a clause of ten spaced words is read
    whole, not cut into runs of letters; Chinese, without spaces, is read in overlapping
    runs of characters that leave none out."""
    arabic = "أؤكد لكم أن الطابعة الرئيسية تعمل الآن ولم تعد رسالة الخطأ تظهر"
    assert judge_parts(arabic) == [arabic]
    chinese = ("我们仓库的扫码枪从昨天下午开始就一直正常工作了"
               "同事们今天一早上已经扫了三百多个包裹也没有出现任何问题真的太好了")
    runs = judge_parts(chinese)
    assert len(runs) >= 2 and all(len(r) <= 3 * JUDGE_WORDS for r in runs)
    assert all(any(i in range(chinese.find(r), chinese.find(r) + len(r)) for r in runs)
               for i in range(len(chinese)))


#: wanting to thank is thanking (fresh text in several languages): the wanting word
#: ("möchte", "chciałabym", "istiyorum") is a request word elsewhere
WANTS_TO_THANK = [
    "Hi Priya,\nI just wanted to say a big thank you to you and the team!",
    "I wanted to thank you and the whole team for the quick fix.",
    "Hallo Jonas,\nich möchte mich ganz herzlich bedanken.",
    "Dzień dobry,\nchciałabym bardzo podziękować całemu zespołowi!",
    "Dobrý den,\nchtěl bych vám moc poděkovat.",
    "Хочу поблагодарить всю вашу команду!",
    "Tüm ekibinize teşekkür etmek istiyorum.",
    "진심으로 감사 인사 드리고 싶습니다.",
]


@pytest.mark.parametrize("text", WANTS_TO_THANK)
def test_wanting_to_thank_is_thanks(text: str) -> None:
    """Blind writers of several parts open with "I would like to thank you" in every
    language; the rules alone read it as thanks, not as a request."""
    rules = Detector(Understanding.load(judge=False))
    verdict = rules.classify(text)
    assert verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks, we would like two more receipt printers for the new shop.",
    "Thanks I would like two more licences",  # the wanting follows the thanks: a request
    "We would like the export fixed, thank you",
    "Danke, ich möchte noch einen Zugang für Frau Berg.",
    "Dziękuję, chciałabym jeszcze dostęp do drugiego sklepu.",
    "Teşekkürler, yeni bir kullanıcı istiyorum.",
    "Хочу ещё один доступ для бухгалтера, спасибо.",
    # no comma: the thanks closes what is wanted
    "We would like a new laptop thanks",
    "I would like a refund thank you",
    "Chciałbym nowe konto dziękuję",
    "Хотели бы ещё один ноутбук спасибо",
    "Je voudrais un accès merci",
    "Quisiera otra licencia gracias",
    "Teşekkürler şifre istiyorum",
    # a second thing wanted after the thanks
    "Ich möchte mich bedanken und einen weiteren Zugang beantragen",
    "Chciałabym podziękować i poprosić o nowe konto",
    "Хочу поблагодарить и попросить ещё один доступ",
    "I wanted to thank you and ask for a new account",  # a listed "wanted to thank"
    "Quería agradecerles y pedir otra licencia para Marta",
])
def test_wanting_something_beside_thanks_still_reopens(detector: Detector, text: str) -> None:
    """Only the thanks itself may be what is wanted: wanting anything else reopens."""
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize(("text", "kept"), [
    ("Bedankt! Fijne feestdagen alvast.", True),
    ("Grazie mille! Buone feste in anticipo.", True),
    ("Kiitos! Hyvää joulua etukäteen.", True),
    ("Alvast bedankt.", False),  # thanks in advance: a request
    ("Danke schon mal!", False),
    ("Grazie in anticipo.", False),
    ("Send the logs in advance, thanks.", False),
])
def test_in_advance_beside_a_wish_is_part_of_the_wish(text: str, kept: bool) -> None:
    """"in advance" beside a holiday wish wishes early; beside thanks it asks."""
    rules = Detector(Understanding.load(judge=False))
    assert rules.classify(text).thanks_only is kept, text


@pytest.mark.parametrize(("text", "kept"), [
    ("谢谢！问题已解决。", True),
    ("Sorunun hızla giderilmesi için teşekkür ederim.", True),
    ("Дякую за оперативне вирішення питання!", True),
    ("谢谢，问题还没解决。", False),
    ("Teşekkürler ama sorun hâlâ giderilmedi.", False),
    ("Дякую, але питання досі не вирішене.", False),
    ("谢谢！E12 的报错没有再出现。", True),  # "did not appear again": the error is over
    ("谢谢，E12 的报错又出现了。", False),
    ("شكراً، البرنامج شغال ومفيش أي رسالة خطأ", True),  # Egyptian "there is no"
    ("شكراً، لكن فيه رسالة خطأ", False),
])
def test_thanks_for_solving_the_problem_is_thanks(text: str, kept: bool) -> None:
    """A resolution word binds the problem word beside it, also inside a longer word of
    a script without spaces ("已解决") and as a noun ("giderilmesi", "вирішення")."""
    rules = Detector(Understanding.load(judge=False))
    assert rules.classify(text).thanks_only is kept, text


@pytest.mark.parametrize(("sender", "text"), [
    ("Lars Ek", "Tack för snabb hjälp!\n\nMvh\nLars Ek\nEk El & Larm AB"),  # "larm": alarm
    ("Jonas Weber", "Vielen Dank!\n\nGruß\nJonas Weber\nWeber Störungsdienst & Service GmbH"),
    ("Ahmet Yılmaz", "Çok teşekkürler!\n\nSaygılarımla\nAhmet Yılmaz\n"
                     "Yılmaz Arıza Servis ve Bakım Ltd. Şti."),
    ("王芳", "非常感谢，问题已解决。\n\n王芳 | 上海明远贸易有限公司\n"
            "为了环保，请尽量不要打印此邮件。"),
])
def test_a_firm_name_or_a_green_notice_in_the_signature_is_no_content(
        sender: str, text: str) -> None:
    """A signature line that names the firm by its legal form ("AB", "GmbH", "Ltd. Şti.")
    may hold a problem word ("Larm", "Arıza"); "为了环保，请不要打印" asks to save paper."""
    rules = Detector(Understanding.load(judge=False))
    verdict = rules.classify(text, sender)
    assert verdict.thanks_only, verdict.reason


def test_a_problem_sentence_ending_with_a_firm_name_still_counts() -> None:
    """Below the signature, a sentence is still read: a firm's form ends no sentence."""
    rules = Detector(Understanding.load(judge=False))
    text = ("Tack!\n\nMvh\nLars Ek\nEk Bygg AB\n\nPS. Skrivaren hos Ek Bygg AB är fortfarande "
            "trasig.")
    assert not rules.classify(text, "Lars Ek").thanks_only


@pytest.mark.parametrize("text", [
    "شكراً. يحتاج زميلي سامي أيضاً صلاحية على نظام الرواتب",  # "he needs": a request
    "شكراً، تحتاج المحاسبة حساباً جديداً على البوابة",
    "Merci. Ça a tenu deux jours et la connexion recoupe depuis ce matin",  # "cuts again"
    "Merci ! La caisse replante dès qu'on scanne un bon",
    "ありがとうございます。ただ、請求書が白紙で印刷されます",  # printed blank
    "ご対応ありがとうございます。領収書がすべて白紙で出てきます",
    "谢谢。现在打印出来全是白纸",
])
def test_a_third_person_need_a_re_verb_or_blank_paper_reopens_without_the_judge(
        text: str) -> None:
    """"He/she needs" (Arabic), French "re-" failure verbs (cuts out again, crashes again)
    and "printed blank" (ja 白紙, zh 白纸) are cues of the rules: the judge, which once
    cleared such a clause in the trainer's cross-fit, is not asked."""
    assert not Detector(Understanding.load(model=_always_harmless())).classify(text).thanks_only


def _always_harmless() -> SentenceModel:
    """A judge that clears every clause it is asked about."""
    return SentenceModel.from_bytes(to_bytes({"bias": 30.0, "threshold": 0.5}, [0.0] * 64))


@pytest.mark.parametrize(("text", "kept"), [
    # a "still/only/again" word a word from thanks or an apology strengthens it
    ("Obrigada! Passei só para agradecer a paciência.", True),
    ("Scusate ancora per il disturbo, grazie!", True),
    ("Merci ! Encore désolée pour l'appel de samedi.", True),
    ("Kiitos! Halusin vielä kiittää koko tiimiä.", True),
    ("Obrigado, só falta o scanner do armazém.", False),  # "only the scanner is missing"
    ("Grazie, ma ancora non stampa.", False),
    # Portuguese "mais" after "não"/"sem" is "any more"; French "plus de" is "no more"
    ("Obrigada! O sistema não trava mais desde ontem.", True),
    ("Valeu! Sem mais alertas no painel.", True),
    ("Merci ! Plus de coupure sur la tablette depuis hier.", True),
    ("Obrigada, mas o sistema trava mais do que antes.", False),
    ("Obrigado, o scanner não lê mais os códigos.", False),  # no problem word: gone
    ("Obrigado, sem mais acesso ao sistema desde ontem.", False),
    ("Merci, il nous faut plus de licences.", False),
    # Spanish "feliz" is no Swedish "fel" (error)
    ("¡Gracias! Feliz puente a todo el equipo.", True),
    ("Gracias. El fichero sigue con fallos.", False),
])
def test_contrast_words_read_by_their_neighbours(text: str, kept: bool) -> None:
    rules = Detector(Understanding.load(judge=False))
    assert rules.classify(text).thanks_only is kept, text


#: a user's run (F29): "Danke! Ich habe Ihnen das Log gestern geschickt" was a bare
#: thank-you; saying something was sent to the team means they must go and look at it
SENT_TO_THE_TEAM = [
    "Danke! Die Protokolle habe ich Ihnen heute früh geschickt.",
    "Tack! Jag skickade skärmdumparna till er i morse.",
    "Thanks a lot! I emailed you the crash report this morning.",
    "Merci ! Je vous ai transmis le fichier de logs ce matin.",
    "¡Gracias! Esta mañana le he enviado las capturas.",
    "Bedankt! Ik heb u vanochtend de foutmelding gemaild.",
    "Takk! Jeg sendte dere skjermbildene i morges.",
    "Dziękuję! Rano przesłałem Panu zrzuty ekranu.",
    "Спасибо! Утром выслал вам скриншоты.",
    "Дякую! Вранці надіслала вам скріншоти.",
    "Teşekkürler, ekran görüntülerini sabah size ilettim.",
    "ありがとうございます。スクリーンショットは今朝お送りしました。",
    "谢谢！截图今天早上已经发给您了。",
    "감사합니다. 스크린샷은 오늘 아침에 보내드렸습니다.",
]


@pytest.mark.parametrize("text", SENT_TO_THE_TEAM)
def test_saying_something_was_sent_to_the_team_reopens(detector: Detector, text: str) -> None:
    """Thanks beside "I sent you the logs" is not a bare thank-you: the sentence judge read
    such a calm sentence as harmless (0.68-0.75)."""
    verdict = detector.classify(text)
    assert not verdict.thanks_only, verdict.reason
    assert "sent for the team" in verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks for the instructions you sent, all good now.",
    "Danke für die Anleitung, die Sie mir geschickt haben. Alles läuft wieder.",
    "Tack för länken ni skickade, nu fungerar allt.",
    "Спасибо за инструкцию, которую вы прислали, всё работает.",
    "ありがとうございます。送っていただいた手順で直りました。",
])
def test_what_the_team_sent_is_no_news(detector: Detector, text: str) -> None:
    """Only what the customer sent to the team is news, not what the team sent them."""
    verdict = detector.classify(text)
    assert "sent for the team" not in verdict.reason, verdict.reason


#: "I forgot:" opening a line below the signature adds something, like "P.S." (fresh text;
#: three tuning replies wrote a new fault or request so, after their contact lines)
FORGOT_BELOW_THE_SIGNATURE = [
    "Danke, läuft wieder!\n\nJens Maurer\nMaurer Haustechnik GmbH\nTel. 0711 123456\n\n"
    "Hab ich vergessen: im Lager zieht der Etikettendrucker seit heute früh kein Papier mehr ein.",
    "Tack för hjälpen!\n\nLinnea Ek\nEk Bygg AB\n070-123 45 67\n\n"
    "Glömde: skannern i receptionen skickar inga mejl sedan i morse.",
    "Dziękuję bardzo!\n\nAgata Wrona\nBiuro Rachunkowe Wrona\ntel. 600 100 200\n\n"
    "Zapomniałam: nowa księgowa od poniedziałku potrzebuje dostęp do programu kadrowego.",
    "Merci beaucoup !\n\nPaul Girard\nGirard Menuiserie\n04 72 00 00 00\n\n"
    "J'ai oublié : la badgeuse de l'entrée ne reconnaît plus aucun badge depuis ce matin.",
    "Спасибо большое!\n\nОльга Смирнова\nООО «Ромашка»\n+7 495 000-00-00\n\n"
    "Забыла написать: у бухгалтера с утра сканер не видит компьютер.",
    "ありがとうございました。\n\n山田花子\n株式会社サンプル\nTEL 03-0000-0000\n\n"
    "書き忘れましたが、受付のプリンターも朝から紙が詰まったままです。",
]


@pytest.mark.parametrize("text", FORGOT_BELOW_THE_SIGNATURE)
def test_forgot_below_the_signature_is_an_afterthought(detector: Detector, text: str) -> None:
    """Below the contact lines only a question, a request or a named problem counted; "I
    forgot:" marks the rest as the customer's, read as the body is."""
    assert not detector.classify(text).thanks_only, text


#: a sentence below the contact lines, with no "P.S.": the customer's, read as the body is
#: (fresh text; before, only a question, a request or a problem word counted there)
PROSE_BELOW_THE_SIGNATURE = [
    "Danke, passt!\n\nKarl Huber\nHuber Elektro GmbH\nTel. 089 1234567\n\n"
    "Im Büro oben fällt das WLAN alle paar Minuten kurz weg.",
    "Thanks!\n\nTom Reed\nReed Joinery Ltd\n01632 960000\n\n"
    "The tablet in the warehouse shows last week's orders instead of today's.",
    "Tack!\n\nLinnea Ek\nEk Bygg AB\n070-123 45 67\n\n"
    "Kortläsaren i butiken nekar alla kontaktlösa betalningar sedan igår.",
    "Obrigado!\n\nRita Lopes\nLopes & Filhos, Lda.\nTel. 21 000 0000\n\n"
    "O leitor de cartões da loja 2 recusa os pagamentos sem contacto desde ontem.",
    "Спасибо!\n\nОльга Смирнова\nООО «Ромашка»\n+7 495 000-00-00\n\n"
    "На втором терминале со вчерашнего дня пропала кнопка возврата.",
    "Bedankt!\n\nEva de Vries\nDe Vries Bouw B.V.\n020 123 4567\n\n"
    "Op de tweede kassa is sinds gisteren de knop voor retouren verdwenen.",
]
#: a firm's notices below a signature: a trade fair, a closure, personal data, a
#: register, a bracketed notice title; none is news to the engineer
FIRM_NOTICES_BELOW_THE_SIGNATURE = [
    "Danke, alles läuft!\n\nKarl Huber\nHuber Elektro GmbH\nTel. 089 1234567\n\n"
    "Besuchen Sie uns auf der Light + Building 2027 in Frankfurt, Halle 11, Stand C40!",
    "Thanks, all sorted!\n\nTom Reed\nReed Joinery Ltd\n01632 960000\n\n"
    "Our workshop will be closed from 23 December to 2 January for the holidays.",
    "Merci, tout fonctionne !\n\nPaul Girard\nGirard Menuiserie\n04 72 00 00 00\n\n"
    "Vos données personnelles sont traitées conformément à notre politique de confidentialité.",
    "Díky, funguje to!\n\nJana Malá\nMalá a syn s.r.o.\n+420 600 000 000\n\n"
    "Společnost je vedena v obchodním rejstříku u Krajského soudu v Brně, oddíl C, vložka 9999.",
    "ありがとうございました。\n\n山田花子\n株式会社サンプル\nTEL 03-0000-0000\n\n"
    "【年末年始休業のお知らせ】12月28日から1月4日までお休みをいただきます。",
    "Grazie, tutto a posto!\n\nLuca Bianchi\nBianchi Impianti srl\n+39 02 0000000\n\n"
    "Ai sensi del GDPR i suoi dati personali sono trattati per finalità contrattuali.",
    "Bedankt, het werkt weer!\n\nEva de Vries\nDe Vries Bouw B.V.\n020 123 4567\n\n"
    "Op al onze offertes en leveringen zijn onze algemene voorwaarden van toepassing.",
]


def _signed(text: str) -> str:
    """The sender's name: the first line below the thanks."""
    return text.split("\n\n")[1].split("\n")[0]


@pytest.mark.parametrize("text", PROSE_BELOW_THE_SIGNATURE)
def test_prose_below_the_signature_is_the_customers(detector: Detector, text: str) -> None:
    verdict = detector.classify(text, _signed(text))
    assert not verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", FIRM_NOTICES_BELOW_THE_SIGNATURE)
def test_firm_notices_below_the_signature_are_no_news(text: str) -> None:
    """Recognised by their shape, not cleared by the sentence judge."""
    verdict = Detector(Understanding.load(judge=False)).classify(text, _signed(text))
    assert verdict.thanks_only, verdict.reason


def test_the_old_mail_below_the_signature_is_not_the_customers_prose() -> None:
    """A webmail that quotes only the old mail's header leaves its text unquoted below the
    writer's name; it opens by greeting the writer ("Bonjour Léa,"): it is the desk's."""
    rules = Detector(Understanding.load(judge=False))
    text = ("Merci, c'est bon !\nLéa\n\n> Message du 02/03/26 10:00\n"
            "> De : \"Support\" <support@example.com>\n> Objet : [SUP-000001] Imprimante\n\n"
            "Bonjour Léa,\n\nle pilote est réinstallé. Je ferme le ticket, dis-moi si ça "
            "recommence.\n\nMarc")
    verdict = rules.classify(text, "Léa Martin")
    assert verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", [
    "Obrigada, já funciona. Pode encerrar o pedido.",
    "Dzięki, działa. Można zamykać.",
    "Gracias, ya va bien, la podéis cerrar.",
    "Tack, allt fungerar, ärendet är avslutat för vår del.",
    "Díky, už to jde, můžete zavřít.",
    "Дякую, все працює, можна закривати.",
    "谢谢，已经好了，可以结单。",
])
def test_leave_to_close_in_the_languages_own_words(text: str) -> None:
    """Giving leave to close is a pleasantry in every language's usual forms (a blind
    writer's "Można zamykać", "Pode encerrar sim" were read as more than thanks)."""
    verdict = Detector(Understanding.load(judge=False)).classify(text)
    assert verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", FORGOT_BELOW_THE_SIGNATURE)
def test_what_the_writer_forgot_is_read_without_the_judge(text: str) -> None:
    """A judge that clears every sentence still cannot close an "I forgot:" afterthought:
    the writer flagged it as news (the judge read "Ještě jsem zapomněl" at 0.65)."""
    from mailgate.replies.lexicon import Lexicon, load_tables
    from mailgate.replies.model import SentenceModel, to_bytes

    lenient = SentenceModel.from_bytes(to_bytes(
        {"bias": 30.0, "threshold": 0.5, "again_threshold": 0.5, "problem_threshold": 0.5,
         "cue_threshold": 0.5}, [0.0] * 64))
    detector = Detector(Understanding(Lexicon(load_tables()), lenient))
    assert not detector.classify(text).thanks_only, text


# A negation bound to a verb of going away: the problem is still there (user7 U21), with
# or without thanks in front; "still" in Arabic is "did not cease" (U18)
NOT_GONE = [
    "The warning has not gone away after the update.",
    "Thanks, the pop-up never disappeared.",
    "Danke, die Fehlermeldung verschwindet nicht.",
    "Die Fehlermeldung ist nach dem Neustart nicht verschwunden.",
    "Merci, l'erreur ne disparaît pas.",
    "Gracias, el aviso no desaparece.",
    "Grazie, l'avviso non è scomparso.",
    "Obrigada, o alerta não sumiu.",
    "Bedankt, het waarschuwingsvenster verdwijnt niet.",
    "Tack, varningen försvinner inte.",
    "Tak, advarslen er ikke forsvundet.",
    "Takk, feilmeldingen forsvinner ikke.",
    "Dzięki, ostrzeżenie nie znika.",
    "Спасибо, предупреждение не исчезает.",
    "Дякую, попередження не зникло.",
    "감사합니다. 경고 메시지가 사라지지 않아요.",
    "شكرا، رسالة الخطأ لم تختف.",
    "شكرا. ما زالت رسالة الخطأ تظهر.",
    "ما زالت الشاشة سوداء.",
    "Teşekkürler, uyarı kaybolmadı.",
    "谢谢，报错没有消失。",
    "ありがとうございます。警告が消えません。",
    "Tak, fejlen forsvandt ikke.",
    "Takk, feilen forsvant ikke.",
    "Bedankt, de fout verdween niet.",
]


@pytest.mark.parametrize("text", NOT_GONE)
def test_a_negated_going_away_is_a_remaining_problem(detector: Detector, text: str) -> None:
    verdict = detector.classify(text)
    assert not verdict.thanks_only, (text, verdict)


@pytest.mark.parametrize("text", [
    "شكرا، لم تحل المشكلة.",
    "لم يتم إصلاح العطل بعد.",
    "العطل لم ينته.",
    "Teşekkürler, sorun çözülmedi.",
])
def test_a_negated_solving_or_ending_reopens(detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize("text", [
    "Thanks, the warning has disappeared.",
    "Danke, die Fehlermeldung ist verschwunden.",
    "Tack, varningen försvann.",
    "Dzięki, ostrzeżenie zniknęło.",
    "شكرا، اختفت رسالة التحذير.",
    "감사합니다. 경고 메시지가 사라졌어요.",
    "谢谢，报错消失了。",
    "Danke, keine Warnungen mehr.",
    "Tack, inga varningar längre.",
    "Kiitos, varoitus ei enää näy.",
    "Gracias, ya no sale el aviso.",
    "Thanks, nothing disappeared, all files are there.",
    "Merci, l'erreur a disparu pas à pas.",
    "Спасибо, ошибки перестали появляться.",
    "Takk, feilmeldingen forsvant.",
    "Bedankt, de foutmelding verdween meteen.",
])
def test_a_problem_that_went_away_still_thanks(detector: Detector, text: str) -> None:
    assert detector.classify(text).thanks_only, text


# "not ... any more" with the verb between and no problem word: something stopped (U22)
@pytest.mark.parametrize("text", [
    "Tack. Jag kan inte skanna längre.",
    "Tack. Kassan tar inte emot kort längre.",
    "Takk. Skanneren leser ikke strekkoder lenger.",
    "Tak. Jeg kan ikke åbne mappen længere.",
    "Thank you. The app does not open any more.",
])
def test_no_longer_with_the_particle_after_the_verb_reopens(
        detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


# nothing changed after the fix: a remaining problem (U19); beside a success it is how
# things work now
@pytest.mark.parametrize("text", [
    "Grazie. Tutto come prima.",
    "Thanks, no change here.",
    "Danke, alles wie vorher.",
    "Dzięki, wszystko po staremu.",
    "Tack, allt är som förut.",
    "Спасибо, всё как раньше.",
    "谢谢，和以前一样。",
    "고맙습니다만 변화가 없네요.",
])
def test_nothing_changed_is_a_remaining_problem(detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize("text", [
    "Grazie, funziona come prima.",
    "Tack, allt fungerar som förut.",
    "Danke, es funktioniert wieder wie vorher.",
    "Merci, tout marche comme avant.",
])
def test_working_as_before_still_thanks(detector: Detector, text: str) -> None:
    assert detector.classify(text).thanks_only, text


# a success limited in time, frequency or quality is partial (U20)
@pytest.mark.parametrize("text", [
    "Dzięki, drukarka działała do południa i przestała.",
    "Tack, det fungerade över natten och slutade i morse.",
    "Grazie, ha funzionato un'ora e poi basta.",
    "감사합니다. 가끔만 접속됩니다.",
    "谢谢，能登录了，就是特别慢。",
    "Спасибо, работало день и перестало.",
])
def test_a_success_limited_in_time_or_quality_reopens(detector: Detector, text: str) -> None:
    assert not detector.classify(text).thanks_only, text


@pytest.mark.parametrize("text", [
    "Спасибо, что так быстро. Одно замечание ниже.",
    "Danke für die schnelle Hilfe. Eine Anmerkung unten.",
    "Thanks a lot! One comment below.",
    "Tack! En kommentar nedan.",
    "Dziękuję! Jedna uwaga poniżej.",
])
def test_a_pointer_to_text_below_is_a_cue_a_lenient_judge_cannot_clear(text: str) -> None:
    """ "One remark below" points at answers written into the quote (tune10 ru-t10-004,
    lost when a held-out judge scored it 0.67): a request cue, which needs the file's cue
    threshold, not the plain one a sentence of news needs."""
    lenient = SentenceModel.from_bytes(to_bytes(
        {"bias": 0.85, "threshold": 0.65, "cue_threshold": 0.8}, [0.0] * 16))  # P = 0.70
    assert not Detector(Understanding.load(model=lenient)).classify(text).thanks_only, text


# a word listed both as a problem and as going away ("kadonnut": lost or gone; "зникає":
# vanishes) after a problem word is the problem going away: negated, it is still there
@pytest.mark.parametrize(("text", "kept"), [
    ("Kiitos, virhe ei kadonnut.", False),
    ("Virhe ei kadonnut uudelleenkäynnistyksen jälkeen.", False),
    ("Дякую, помилка не зникає.", False),
    ("Помилка не зникає після оновлення.", False),
    ("Kiitos, virhe kadonnut.", True),
    ("Tiedosto kadonnut.", False),  # a file lost: a problem
    ("Лист зникає з папки.", False),  # a mail vanishing: a problem
])
def test_a_problem_word_that_also_means_going_away(detector: Detector, text: str,
                                                   kept: bool) -> None:
    assert detector.classify(text).thanks_only is kept, text
