"""Asides beside a thank-you (``mailgate.replies.asides``): a promise to write if the
problem comes back, and a pointer at the attached file by a verb.

Each text is a reply to a closed ticket; what a user notices is whether the ticket
stays closed (thanks) or reopens. The promises are fresh texts, one per language of the
desk; the near misses keep the promise's shape but ask the team for something, report
that it DID happen again, or leave a check still to come.
"""

from __future__ import annotations

import pytest

from mailgate.message import parse
from mailgate.quotes import reply_parts
from mailgate.replies import Understanding, judge, understand


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.load()


PROMISES = [
    ("en", "Brilliant, thanks Tom. If the scanner plays up again I'll give you a shout."),
    ("de", "Super, danke! Falls die Buchungen wieder hängen bleiben, melde ich mich."),
    ("fr", "Merci pour votre aide ! Si le souci réapparaît, je vous recontacterai."),
    ("es", "Perfecto, gracias. Si se repite el fallo te lo comento."),
    ("it", "Grazie, gentilissimi! Se dovesse ricapitare vi faccio sapere."),
    ("pt", "Valeu! Caso o sistema volte a travar, entro em contato."),
    ("nl", "Dank je wel! Als de scanner weer vastloopt, laat ik het weten."),
    ("sv", "Stort tack! Jag hör av mig om skrivaren strular igen."),
    ("da", "Mange tak! Hvis fejlen kommer igen, giver jeg besked."),
    ("nb", "Tusen takk! Dersom feilen dukker opp igjen, sier jeg fra."),
    ("fi", "Kiitos paljon! Jos vika toistuu, ilmoitan teille."),
    ("pl", "Wielkie dzięki! Jeżeli błąd się powtórzy, odezwę się."),
    ("cs", "Moc děkuji! Kdyby se chyba znovu objevila, dám vědět."),
    ("ru", "Большое спасибо! Если ошибка снова появится, я вам сообщу."),
    ("uk", "Щиро дякую! Якщо збій повториться, я вам напишу."),
    ("tr", "Çok teşekkürler! Hata tekrar çıkarsa size haber veririm."),
    ("ar", "شكراً جزيلاً! إذا تكرر الخطأ سأتواصل معكم."),
    ("ja", "ありがとうございます。もしまたエラーが出たら、ご連絡します。"),
    ("zh", "多谢！如果打印机又卡住了，我再联系你们。"),
    ("ko", "감사합니다! 혹시 다시 오류가 나면 연락드리겠습니다."),
    # no subject, as people write in a hurry
    ("en", "Cheers, sorted! Will shout if it comes back."),
    ("de", "Danke dir! Melde mich, falls es nochmal hakt."),
    ("sv", "Tack! Återkommer om felet dyker upp igen."),
    # "if there is a problem" alone as the condition
    ("zh", "好的，谢谢！有问题再联系。"),
    ("ko", "네 감사합니다. 문제 있으면 연락드릴게요."),
    # "when" it comes back
    ("it", "Grazie, vi faccio sapere quando si ripresenta."),
]


@pytest.mark.parametrize(("lang", "text"), PROMISES, ids=[p[0] for p in PROMISES])
def test_a_promise_to_write_if_it_recurs_keeps_the_ticket_closed(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert verdict.thanks_only, f"{lang}: {verdict.reason}"
    assert "a promise to write if it recurs" in verdict.reason  # what explain shows


NEAR_MISSES = [
    # a request to the team in the main clause
    ("en", "Thanks! If the scanner plays up again, please ring me on my mobile."),
    ("de", "Danke! Falls es wieder hängt, melden Sie sich bitte direkt bei Herrn Kaya."),
    ("zh", "谢谢！如果再出问题，请直接打我手机。"),
    ("ko", "감사합니다. 다시 오류가 나면 바로 연락 주세요."),
    ("ja", "ありがとうございます。またエラーが出たらご連絡ください。"),
    ("es", "Gracias. Si vuelve a fallar, avísame y bajo a verlo."),
    # a question about the condition
    ("fr", "Merci ! Que dois-je faire si le problème revient ?"),
    # it did happen again, beside the promise
    ("nl", "Bedankt, maar vanochtend liep hij weer vast. Ik laat het weten als het nog eens "
           "gebeurt."),
    ("pl", "Dzięki, błąd znowu wrócił dziś rano, dam znać, jeśli się powtórzy."),
    ("zh", "谢谢，打印机又坏了，有问题我再联系你们。"),
    # a check still to come: no condition of trouble, or still failing
    ("en", "Thanks, I'll let you know if it doesn't work after the reboot."),
    ("it", "Grazie, se domani non funziona vi chiamo."),
    ("de", "Danke, ich melde mich, falls es morgen immer noch nicht geht."),
    ("pt", "Obrigada! Amanhã testo outra vez e aviso vocês."),
    ("en", "Thanks! I'll test it again tomorrow and let you know how it went."),
    ("en", "Thanks, I'll let you know when it works on Karin's PC too."),
    # news in the condition
    ("en", "Thanks! If it recurs, printer 5 is broken too, I'll tell you."),
]


@pytest.mark.parametrize(("lang", "text"), NEAR_MISSES)
def test_a_request_a_recurrence_or_a_pending_check_still_reopens(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert not verdict.thanks_only, f"{lang}: kept closed: {verdict.reason}"


def _with_file(text: str) -> bytes:
    return (
        "From: Ana <ana@cliente.example>\r\nTo: support@example.com\r\n"
        "Subject: Re: [SUP-000001] Impressora\r\nMessage-ID: <a1@cliente.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        '--b\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{text}\r\n--b\r\nContent-Type: image/png\r\n"
        'Content-Disposition: attachment; filename="foto.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n").encode()


@pytest.mark.parametrize("text", [
    "Obrigado! Segue em anexo a foto da etiqueta impressa na nova impressora.",
    "Grazie, adesso funziona. Vi allego lo screenshot della stampa.",
    "¡Gracias! Le adjunto la foto de la página de prueba ya impresa.",
    "Merci ! Je vous joins une photo de la page de test.",
    "谢谢！附件是测试页。",
    "谢谢，已经可以打印了，附件是打印出来的测试页。",
])
def test_a_thank_you_that_attaches_its_file_by_a_verb_stays_closed(
        understanding: Understanding, text: str) -> None:
    verdict = understand(understanding, parse(_with_file(text)))
    assert verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", [
    "Obrigado. Segue em anexo a foto: o erro voltou hoje de manhã.",
    "Grazie. Vi allego lo screenshot, però la stampa è ancora storta.",
    "谢谢！附件是新的报错截图。",
    "Merci. Je vous joins le journal pour que vous regardiez l'erreur.",
])
def test_a_pointer_with_news_or_a_purpose_still_reopens(
        understanding: Understanding, text: str) -> None:
    verdict = understand(understanding, parse(_with_file(text)))
    assert not verdict.thanks_only, verdict.reason
