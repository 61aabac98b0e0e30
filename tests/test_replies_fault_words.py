"""A fault told in words the lists read as harmless still reopens (issue #16, lost reopens).

Each case is a reply a customer would be silently left with if the ticket stayed
closed: the team must hear of it.
"""

from __future__ import annotations

import pytest

from mailgate.quotes import reply_parts
from mailgate.replies import Understanding, judge


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.load()


def test_a_short_thanks_word_inside_another_language_is_that_language(
        understanding: Understanding) -> None:
    """Czech "ta" (that one) is no English "ta" (thanks); alone, or among English words,
    it still thanks."""
    verdict = judge(understanding, reply_parts(
        "Děkuji.\nTo nebyla ta tiskárna – netiskne ta v kanceláři."))
    assert not verdict.thanks_only, verdict.reason
    for text in ("Ta!", "Ta very much", "Thanks, ta"):
        assert judge(understanding, reply_parts(text)).thanks_only, text


def test_a_value_of_zero_after_what_it_names_is_no_success(
        understanding: Understanding) -> None:
    """"The totals show zero" reports a wrong figure; "zero errors" says the errors are
    over."""
    for text in ("Danke!\nIm Monatsbericht stehen jetzt alle Summen auf null.",
                 "Teşekkürler.\nRaporda tüm toplamlar sıfır görünüyor.",
                 "Спасибо.\nВ отчёте все суммы нулевые."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)
    for text in ("Danke! Seit dem Update null Fehler.",
                 "Teşekkürler, sıfır hata ile çalışıyor.",
                 "Thanks, zero errors since the reset."):
        assert judge(understanding, reply_parts(text)).thanks_only, text


def test_output_printed_cut_off_is_a_fault(understanding: Understanding) -> None:
    for text in ("Спасибо.\nЭтикетки теперь печатаются обрезанными справа.",
                 "Дякую.\nЕтикетки друкуються обрізаними знизу.",
                 "Grazie mille.\nLe etichette escono tagliate in basso."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)


def test_a_but_followed_only_by_a_success_is_no_remaining_problem(
        understanding: Understanding) -> None:
    """"But for her it works now" tells a success; a "but" followed by a fault, by "only"
    or by a story no list knows still reopens."""
    for text in ("Tack! Jag kollade med Anna, men hos henne funkar det nu.",
                 "Дякую. Але в неї все працює.",
                 "Grazie! Ma confermo che da lei funziona.",
                 "Kiitos, mutta hänellä toimii nyt."):
        verdict = judge(understanding, reply_parts(text))
        assert verdict.thanks_only, (text, verdict.reason)
    for text in ("Thanks, it works, but the scanner still jams.",
                 "Danke, aber es funktioniert nur am Laptop.",
                 "Dank je, maar de synchronisatie stopt elke nacht.",
                 "Tack, men det fungerar inte hos henne."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)


def test_not_a_single_fault_since_is_over(understanding: Understanding) -> None:
    """A negative quantifier over a fault ("plus aucun bug", "inte ett enda krångel",
    "ani jeden błąd" ...) says the fault is over; the same fault without it reopens."""
    for text in ("Merci, plus aucun plantage depuis lundi.",
                 "Tack! Inte ett enda krångel sedan i fredags.",
                 "Dank je, geen enkele storing meer sinds maandag.",
                 "Grazie, neanche un errore da ieri.",
                 "Спасибо, претензий больше нет.",
                 "Thanks, nobody even noticed."):
        verdict = judge(understanding, reply_parts(text))
        assert verdict.thanks_only, (text, verdict.reason)
    for text in ("Tack! Det är krångel med inloggningen igen.",
                 "Спасибо, но претензии остались."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)


def test_the_cause_told_as_found_is_over(understanding: Understanding) -> None:
    """"It was the cable" in a short clause says the problem is over; the same phrase
    in a longer clause with a fault, "again" or a question beside it does not."""
    for text in ("Thanks, that was it!", "Danke, es lag am Kabel.",
                 "Merci, c'était bien ça.", "Tack! Det var sladden 🙈 Tack ändå.",
                 "Teşekkürler, sorun kabloymuş.", "谢谢，原来是网线松了。"):
        verdict = judge(understanding, reply_parts(text))
        assert verdict.thanks_only, (text, verdict.reason)
    for text in ("Tack. Det var samma fel igen i morse.",
                 "Danke, es lag am Kabel, aber jetzt geht der Drucker wieder nicht.",
                 "Thanks, it was the cable that broke again.",
                 "Dank je, was het de kabel?"):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)


def test_sent_off_in_the_customers_words_is_a_confirmation(
        understanding: Understanding) -> None:
    """"The invoices went out" confirms the fix in the customer's words; sent off with
    something wrong about it still reopens."""
    for text in ("Thanks! The payslips went out this morning.",
                 "Danke, die Rechnungen sind raus.",
                 "Merci, les bulletins sont partis.",
                 "Bedankt, de bestellingen zijn de deur uit.",
                 "Dzięki, faktury poszły do klientów."):
        verdict = judge(understanding, reply_parts(text))
        assert verdict.thanks_only, (text, verdict.reason)
    for text in ("Danke, die Rechnungen sind raus, aber mit falschem Datum.",
                 "Dzięki, faktury poszły z wczorajszą datą.",
                 "Merci, les bulletins sont partis en double."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)


def test_works_like_clockwork_idioms_are_successes(understanding: Understanding) -> None:
    """"Läuft wie geschmiert", "va como la seda", "śmiga": a success in an idiom; the
    same idiom under a negation reopens."""
    for text in ("Danke! Läuft wie geschmiert.", "Gracias, va como la seda.",
                 "Dzięki, wszystko śmiga.", "Tack, det går som smort nu."):
        verdict = judge(understanding, reply_parts(text))
        assert verdict.thanks_only, (text, verdict.reason)
    for text in ("Danke, aber es läuft nicht wie geschmiert.",
                 "Dzięki, ale nadal nie śmiga."):
        verdict = judge(understanding, reply_parts(text))
        assert not verdict.thanks_only, (text, verdict.reason)
