"""Consent, praise and address beside a thank-you (``mailgate.replies.consent``): "thanks,
you can close it", "It works! You're the best", "Thanks, folks!", and a word that is a
cue in one language and a harmless word in another (Swedish "ni", you; French "ni", nor).

Each text is a reply to a closed ticket; what a user notices is whether the ticket
stays closed (thanks) or reopens. The texts are fresh, in several languages; the near
misses keep the shape but refuse the close, tie it to a condition or a time, ask for a
second thing, or report a problem.
"""

from __future__ import annotations

import pytest

from mailgate.quotes import reply_parts
from mailgate.replies import Understanding, judge


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.load()


CONSENT = [
    ("sv", "Tusen tack, ni kan stänga ärendet nu."),
    ("pt", "Muito obrigada, podem encerrar o chamado."),
    ("ko", "네, 감사합니다. 티켓 닫아 주세요."),
    ("ar", "شكراً جزيلاً، أغلقوا التذكرة من فضلكم."),
    ("en", "Thanks a lot, please close the ticket."),
    ("de", "Vielen Dank, bitte schließen Sie den Vorgang."),
    ("pl", "Dziękuję bardzo, możecie zamknąć zgłoszenie."),
    ("ru", "Спасибо, заявку можно закрыть."),
    ("tr", "Teşekkürler, talebi kapatabilirsiniz."),
    ("ja", "ありがとうございました。本件はクローズしてください。"),
    ("zh", "谢谢！请关闭工单。"),
    ("nb", "Takk for hjelpen, dere kan lukke saken."),
]


@pytest.mark.parametrize(("lang", "text"), CONSENT, ids=[c[0] for c in CONSENT])
def test_thanks_with_consent_to_close_keeps_the_ticket_closed(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert verdict.thanks_only, f"{lang}: {verdict.reason}"


PRAISE = [
    ("pt", "Funcionou!! Vocês são incríveis."),
    ("sv", "Funkar nu! Ni är grymma."),
    ("ar", "اشتغل! أنتم رائعين"),
    ("es", "¡Funciona! Sois unos cracks."),
]


@pytest.mark.parametrize(("lang", "text"), PRAISE, ids=[p[0] for p in PRAISE])
def test_it_works_with_praise_of_the_team_keeps_the_ticket_closed(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert verdict.thanks_only, f"{lang}: {verdict.reason}"


ADDRESS = [
    ("pt", "Valeu mesmo, pessoal!"),
    ("es", "¡Gracias, chicos!"),
    ("pt", "Obrigado, galera."),
    ("tr", "Teşekkürler arkadaşlar!"),
]


@pytest.mark.parametrize(("lang", "text"), ADDRESS, ids=[a[0] for a in ADDRESS])
def test_thanks_to_the_folks_keeps_the_ticket_closed(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert verdict.thanks_only, f"{lang}: {verdict.reason}"


NEAR_MISSES = [
    # not yet: the close is refused
    ("en", "Thanks, but please don't close it yet."),
    ("sv", "Tack, stäng inte ärendet än."),
    ("pt", "Obrigado, não encerrem o chamado ainda."),
    ("ko", "감사합니다. 아직 티켓 닫지 마세요."),
    ("ar", "شكرا، لا تغلقوا التذكرة."),
    ("ru", "Спасибо, не закрывайте заявку."),
    ("tr", "Teşekkürler, kapatmayın lütfen."),
    # a condition or a time: a check still to come
    ("en", "Thanks, close it once we have tested on Monday."),
    ("sv", "Tack, ni kan stänga ärendet efter testet."),
    ("pt", "Obrigado, podem encerrar depois do teste de amanhã."),
    # a second thing wanted
    ("en", "Thanks, close it and open a new one for the scanner."),
    ("pt", "Obrigado, podem encerrar o chamado e abrir outro para a impressora."),
    ("de", "Danke, schließen Sie das Ticket und rufen Sie mich an."),
    # praise, then a problem or a question
    ("pt", "Funcionou! Vocês são demais, mas a impressora ainda não imprime."),
    ("sv", "Funkar! Ni är bäst, men skrivaren är trasig igen."),
    ("pt", "Funcionou! Vocês podem olhar a impressora também?"),
    ("ar", "شكرا، أغلقوا التذكرة بعد التجربة."),
    # an address to the team, then a problem
    ("pt", "Valeu, pessoal, mas o erro voltou."),
    ("pt", "Obrigado, pessoal do financeiro ainda não consegue entrar."),
    # Swedish "ni" (you) in news: read as "du" is, not as a pleasantry
    ("sv", "Tack, ni har glömt kontot."),
    ("sv", "Tack, ni kan inte ha testat skrivaren."),
]


@pytest.mark.parametrize(("lang", "text"), NEAR_MISSES)
def test_a_refusal_a_condition_or_news_beside_it_still_reopens(
        understanding: Understanding, lang: str, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert not verdict.thanks_only, f"{lang}: kept closed: {verdict.reason}"


@pytest.mark.parametrize("text", [
    "Merci, mais ni l'impression ni le scan ne marchent.",  # French "ni": the cue counts
    "Tack, ni kan inte logga in.",  # "inte" says it whatever "ni" is
])
def test_a_negation_in_its_own_language_still_counts(
        understanding: Understanding, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert not verdict.thanks_only, verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks, the ticket was closed and the printer works.",
    "Danke, das Ticket wurde geschlossen und alles läuft wieder.",
])
def test_a_closing_word_that_asks_nothing_is_no_conditional_close(
        understanding: Understanding, text: str) -> None:
    verdict = judge(understanding, reply_parts(text))
    assert verdict.thanks_only, verdict.reason
