"""The twelve languages added after the first eight: SLA wording with each language's plural
and case, dates as each locale writes them, telling the language from a first mail, and
rating words. (The templates are rendered by tests/test_lang.py and the golden cases
``ack-in-*``, ``relay-in-*``, ``resolved-in-*``.)"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mailgate import locales
from mailgate.config import Target
from mailgate.language import detect, told
from mailgate.satisfaction import read


def _counts(language: str, unit: str = "h", working: bool = True) -> list[str]:
    return [locales.working_time(Target(n, unit), language, working)
            for n in (1, 2, 5, 12, 21, 22, 1.5)]


def test_polish_czech_and_ukrainian_counts_take_their_three_plurals() -> None:
    """"1 godzina, 2 godziny, 5 godzin": a count agrees with its number (Ukrainian 21 as 1,
    Polish 22 as 2, Czech 21 and 22 as 5); a fraction takes the genitive singular."""
    assert _counts("pl") == [
        "1 godzina robocza", "2 godziny robocze", "5 godzin roboczych", "12 godzin roboczych",
        "21 godzin roboczych", "22 godziny robocze", "1,5 godziny roboczej"]
    assert _counts("cs") == [
        "1 pracovní hodina", "2 pracovní hodiny", "5 pracovních hodin", "12 pracovních hodin",
        "21 pracovních hodin", "22 pracovních hodin", "1,5 pracovní hodiny"]
    assert _counts("uk") == [
        "1 робоча година", "2 робочі години", "5 робочих годин", "12 робочих годин",
        "21 робоча година", "22 робочі години", "1,5 робочої години"]
    assert _counts("pl", "wd", working=False)[:3] == ["1 dzień", "2 dni", "5 dni"]


@pytest.mark.parametrize(("language", "target", "phrase"), [
    ("pl", 1, "w ciągu 1 godziny roboczej"), ("pl", 3, "w ciągu 3 godzin roboczych"),
    ("pl", 1.5, "w ciągu 1,5 godziny roboczej"),
    ("cs", 1, "do 1 pracovní hodiny"), ("cs", 4, "do 4 pracovních hodin"),
    ("uk", 21, "протягом 21 робочої години"), ("uk", 3, "протягом 3 робочих годин"),
    ("fi", 1, "1 työtunnin kuluessa"), ("fi", 8, "8 työtunnin kuluessa"),
    ("ar", 1, "خلال ساعة عمل واحدة"), ("ar", 2, "خلال ساعتي عمل"),
    ("ar", 3, "خلال 3 ساعات عمل"), ("ar", 11, "خلال 11 ساعة عمل"),
    ("ar", 1.5, "خلال 1.5 ساعة عمل"),
    ("da", 1.5, "inden for 1,5 arbejdstime"), ("nb", 1.5, "innen 1,5 arbeidstimer"),
    ("pt", 8, "no prazo de 8 horas úteis"), ("tr", 8, "8 iş saati içinde"),
    ("ja", 1.5, "1.5営業時間以内"), ("zh", 8, "8个工作小时内"),
    ("ko", 8, "업무시간 기준 8시간 이내"),
])
def test_within_takes_each_language_s_case(language: str, target: float, phrase: str) -> None:
    """"Within" governs a case: Polish "w ciągu" and Czech "do" the genitive (plural from 2),
    Finnish puts the genitive before "kuluessa", Arabic says one and two without a digit (a
    dual), 3-10 in the plural, 11 and up in the singular; CJK and Arabic write 1.5."""
    assert locales.within(Target(target, "h"), language) == phrase


@pytest.mark.parametrize(("language", "phrase"), [
    ("pl", "w ciągu 3 dni"), ("uk", "протягом 3 днів"), ("ar", "خلال 3 أيام"),
    ("ja", "3日以内"), ("ko", "3일 이내"), ("zh", "3天内"), ("fi", "3 päivän kuluessa"),
])
def test_a_24x7_calendar_counts_days_not_working_days(language: str, phrase: str) -> None:
    """On a round-the-clock calendar no "working" day is promised, in any language."""
    assert locales.within(Target(3, "wd"), language, working=False) == phrase


@pytest.mark.parametrize(("language", "date"), [
    ("pt", "segunda-feira, 9 de março de 2026, 15:00 UTC"),
    ("da", "mandag den 9. marts 2026 kl. 15.00 UTC"),
    ("nb", "mandag 9. mars 2026 kl. 15.00 UTC"),
    ("fi", "maanantaina 9. maaliskuuta 2026 klo 15.00 UTC"),
    ("pl", "9 marca 2026 (poniedziałek), godz. 15:00 UTC"),
    ("cs", "9. března 2026 (pondělí), 15:00 UTC"),
    ("uk", "9 березня 2026 р. (понеділок), 15:00 UTC"),
    ("tr", "9 Mart 2026 Pazartesi, saat 15:00 UTC"),
    ("ar", "الاثنين 9 مارس 2026، الساعة 15:00 UTC"),
    ("ja", "2026年3月9日（月）15:00 UTC"),
    ("zh", "2026年3月9日（星期一）15:00 UTC"),
    ("ko", "2026년 3월 9일 월요일 15:00 UTC"),
])
def test_dates_as_each_locale_writes_them(language: str, date: str) -> None:
    """Weekday, day, month and time in the customer's words: month names in the case a date
    takes (Polish "marca", Finnish "maaliskuuta"), the weekday bracketed where a preposition
    would bend it ("do 9 marca 2026 (poniedziałek)"), year first in CJK."""
    when = datetime(2026, 3, 9, 15, 0, tzinfo=ZoneInfo("UTC"))
    assert locales.when(when, language) == date


@pytest.mark.parametrize(("text", "language"), [
    ("Dzień dobry, od rana nie działa nam drukarka w biurze. Proszę o pomoc.", "pl"),
    ("Terminal płatniczy odrzuca karty zbliżeniowe.", "pl"),
    ("Dobrý den, od rána nám nefunguje tiskárna. Prosím o pomoc, děkuji.", "cs"),
    ("Hej, vi kan ikke logge på lønsystemet siden i morges. Kan I hjælpe? Venlig hilsen", "da"),
    ("Hei, vi får ikke logget inn i lønnssystemet etter oppdateringen. Kan dere hjelpe oss? "
     "Med vennlig hilsen", "nb"),
    ("Hei, tulostin ei toimi ja olemme jo käynnistäneet sen uudelleen. Kiitos avusta!", "fi"),
    ("Merhaba, bu sabahtan beri yazıcı çalışmıyor. Yardımcı olur musunuz? Teşekkürler", "tr"),
    ("Добрий день! Принтер не друкує з самого ранку. Допоможіть, будь ласка.", "uk"),
    ("مرحبا، الطابعة لا تعمل منذ الصباح. نرجو المساعدة.", "ar"),
    ("お世話になっております。今朝からプリンターが使えません。", "ja"),
    ("您好，打印机从今天早上开始无法使用，请帮忙处理。", "zh"),
    ("안녕하세요. 오늘 아침부터 프린터가 작동하지 않습니다.", "ko"),
    ("A impressão das guias de remessa sai em branco, não sabemos porquê.", "pt"),
])
def test_a_first_mail_s_language_is_told(text: str, language: str) -> None:
    """A customer's first mail picks their language: common words (and letters only one
    language writes: "płatniczy"), the script, and for Danish, Norwegian and Swedish the words
    only one of them has."""
    assert detect(text, default="") == language


def test_no_false_alarm_from_model_numbers_and_floors() -> None:
    """A guard (it passed before the new languages; their words must not break it): a
    German "2. OG" (floor) is no Danish "og", a "Z4" printer no Polish "z", a NAS no Polish
    "nas"; Swedish stays Swedish beside its Danish and Norwegian kin, Russian beside
    Ukrainian."""
    assert detect("Drucker im 2. OG druckt nicht. Hallo, der Drucker im 2. OG (PRN-2OG-01) "
                  "druckt seit heute früh nicht mehr.", default="") == "de"
    assert detect("Label printer Z4 at bay 6 prints blank labels, nothing on them. Ribbon is "
                  "new.", default="") == "en"
    assert detect("Bonjour, ma sauvegarde NAS vers votre cloud échoue.", default="") == "fr"
    assert detect("Hej, vi kan inte logga in i lönesystemet sedan i morse. Kan ni hjälpa oss?",
                  default="") == "sv"
    assert detect("Добрый день! Принтер не печатает с самого утра. Помогите, пожалуйста.",
                  default="") == "ru"


def test_norwegian_content_language_no_picks_bokmal() -> None:
    """Mail clients say Norwegian as ``no`` or ``nn`` as well as ``nb``: the Bokmål templates
    answer it (else English went out); a short text keeps the header's."""
    assert detect("Skriveren virker ikke.", "no") == "nb"
    assert detect("Skriveren virker ikke.", "nn-NO") == "nb"
    assert told("スキャナーが動きません。")


@pytest.mark.parametrize(("text", "language", "value"), [
    ("Bardzo dobrze", "pl", 5), ("Výborně!", "cs", 5), ("Відмінно", "uk", 5),
    ("Mükemmel", "tr", 5), ("ممتاز", "ar", 5), ("大変満足", "ja", 5), ("非常满意", "zh", 5),
    ("매우 만족", "ko", 5), ("Hyvä", "fi", 4), ("God", "da", 4), ("Péssimo", "pt", 1),
])
def test_rating_words_of_the_new_languages(text: str, language: str, value: int) -> None:
    """The labels of the resolved mail's links, answered as the whole first line, are
    ratings in these languages as in the first eight."""
    found = read(text, language)
    assert found is not None and found.value == value
