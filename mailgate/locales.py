"""The customer's terms: SLA wording, dates and rating words per language, as small tables.

Why not Babel: mailgate needs three things per language (a working-time phrase
with its plural, a date with weekday and month names, five rating words), for a
fixed list of languages its templates are written in. A table per language says
exactly what is sent and costs no dependency; CLDR's general formats would
still need our own "within 8 working hours" phrase per language. A language
without a table gets English (the default templates' language).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mailgate import locales_more as more
from mailgate.config import Target

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "sv", "ru", *more.LANGUAGES)

WEEKDAYS = {  # Monday first, as datetime.weekday() counts
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "sv": "måndag tisdag onsdag torsdag fredag lördag söndag",
    "ru": "понедельник вторник среда четверг пятница суббота воскресенье",
}
MONTHS = {  # Russian in the genitive, as a date says it ("16 марта")
    "en": "January February March April May June July August September October November "
          "December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre "
          "décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
          "diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
          "novembre dicembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
          "december",
    "sv": "januari februari mars april maj juni juli augusti september oktober november "
          "december",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября "
          "декабря",
}
DATES = {
    "en": "{weekday} {day} {month} {year}, {hh}:{mm} {tz}",
    "de": "{weekday}, {day}. {month} {year}, {hh}:{mm} Uhr {tz}",
    "fr": "{weekday} {day} {month} {year} à {hh} h {mm} {tz}",
    "es": "{weekday}, {day} de {month} de {year}, {hh}:{mm} {tz}",
    "it": "{weekday} {day} {month} {year}, ore {hh}:{mm} {tz}",
    "nl": "{weekday} {day} {month} {year}, {hh}:{mm} uur {tz}",
    "sv": "{weekday} den {day} {month} {year} kl. {hh}.{mm} {tz}",
    "ru": "{day} {month} {year} г. ({weekday}), {hh}:{mm} {tz}",  # fits "не позднее ..."
}
WEEKDAYS.update(more.WEEKDAYS)
MONTHS.update(more.MONTHS)
DATES.update(more.DATES)
FIRST_DAY = {"fr": "1er", "it": "1º"}
# Zone abbreviations a language says otherwise: German mail says "12:30 Uhr MEZ", not "CET".
ZONE_NAMES = {"de": {"CET": "MEZ", "CEST": "MESZ"}}  # "lundi 1er mars", "lunedì 1º marzo"
_WEEKDAYS = {lang: names.split() for lang, names in WEEKDAYS.items()}
_MONTHS = {lang: names.split() for lang, names in MONTHS.items()}

# (singular, plural) per unit; German "within" takes the dative ("innerhalb von 3 Arbeitstagen").
UNITS = {
    "en": {"m": ("working minute", "working minutes"), "h": ("working hour", "working hours"),
           "wd": ("working day", "working days")},
    "de": {"m": ("Arbeitsminute", "Arbeitsminuten"), "h": ("Arbeitsstunde", "Arbeitsstunden"),
           "wd": ("Arbeitstag", "Arbeitstage")},
    "fr": {"m": ("minute ouvrée", "minutes ouvrées"), "h": ("heure ouvrée", "heures ouvrées"),
           "wd": ("jour ouvré", "jours ouvrés")},
    "es": {"m": ("minuto laborable", "minutos laborables"),
           "h": ("hora laborable", "horas laborables"),
           "wd": ("día laborable", "días laborables")},
    "it": {"m": ("minuto lavorativo", "minuti lavorativi"),
           "h": ("ora lavorativa", "ore lavorative"),
           "wd": ("giorno lavorativo", "giorni lavorativi")},
    "nl": {"m": ("werkminuut", "werkminuten"), "h": ("werkuur", "werkuren"),
           "wd": ("werkdag", "werkdagen")},
    "sv": {"m": ("arbetsminut", "arbetsminuter"), "h": ("arbetstimme", "arbetstimmar"),
           "wd": ("arbetsdag", "arbetsdagar")},
}
# The same on a 24x7 calendar, where every minute counts: "4 minutes", not "4 working minutes".
CLOCK_UNITS = {
    "en": {"m": ("minute", "minutes"), "h": ("hour", "hours"), "wd": ("day", "days")},
    "de": {"m": ("Minute", "Minuten"), "h": ("Stunde", "Stunden"), "wd": ("Tag", "Tage")},
    "fr": {"m": ("minute", "minutes"), "h": ("heure", "heures"), "wd": ("jour", "jours")},
    "es": {"m": ("minuto", "minutos"), "h": ("hora", "horas"), "wd": ("día", "días")},
    "it": {"m": ("minuto", "minuti"), "h": ("ora", "ore"), "wd": ("giorno", "giorni")},
    "nl": {"m": ("minuut", "minuten"), "h": ("uur", "uur"), "wd": ("dag", "dagen")},
    "sv": {"m": ("minut", "minuter"), "h": ("timme", "timmar"), "wd": ("dag", "dagar")},
}
CLOCK_DATIVE = {"de": {"m": ("Minute", "Minuten"), "h": ("Stunde", "Stunden"),
                       "wd": ("Tag", "Tagen")}}
DATIVE = {"de": {"m": ("Arbeitsminute", "Arbeitsminuten"),
                 "h": ("Arbeitsstunde", "Arbeitsstunden"), "wd": ("Arbeitstag", "Arbeitstagen")}}
WITHIN = {"en": "within {}", "de": "innerhalb von {}", "fr": "dans un délai de {}",
          "es": "en un plazo de {}", "it": "entro {}", "nl": "binnen {}", "sv": "inom {}",
          "ru": "в течение {}", **more.WITHIN}
# Russian: (one, few, many) for a count, and (one, many) in the genitive after "в течение".
RU_COUNT = {"m": ("рабочая минута", "рабочие минуты", "рабочих минут"),
            "h": ("рабочий час", "рабочих часа", "рабочих часов"),
            "wd": ("рабочий день", "рабочих дня", "рабочих дней")}
RU_GENITIVE = {"m": ("рабочей минуты", "рабочих минут"), "h": ("рабочего часа", "рабочих часов"),
               "wd": ("рабочего дня", "рабочих дней")}
RU_CLOCK_COUNT = {"m": ("минута", "минуты", "минут"), "h": ("час", "часа", "часов"),
                  "wd": ("день", "дня", "дней")}
RU_CLOCK_GENITIVE = {"m": ("минуты", "минут"), "h": ("часа", "часов"), "wd": ("дня", "дней")}

# Rating words: the label shown for 1-5 first, then other words a customer may answer with.
# No "ok": "OK, thanks" acknowledges the mail, it does not rate it.
RATINGS = {
    "en": {5: "excellent|great|perfect", 4: "good", 3: "fair|average", 2: "poor",
           1: "bad|very poor|terrible"},
    "de": {5: "ausgezeichnet|sehr gut|super|perfekt", 4: "gut",
           3: "geht so|befriedigend|mittelmäßig", 2: "schlecht", 1: "sehr schlecht|ungenügend"},
    "fr": {5: "excellent|parfait|très bien", 4: "bien|bon", 3: "correct|moyen|passable",
           2: "insuffisant|mauvais", 1: "très mauvais|nul"},
    "es": {5: "excelente|perfecto|muy bien", 4: "bueno|bien", 3: "regular|aceptable",
           2: "malo|mal", 1: "muy malo|pésimo"},
    "it": {5: "ottimo|eccellente|perfetto", 4: "buono|bene", 3: "sufficiente|discreto",
           2: "scarso|insufficiente", 1: "pessimo"},
    "nl": {5: "uitstekend|perfect|prima", 4: "goed", 3: "redelijk|voldoende", 2: "matig",
           1: "slecht"},
    "sv": {5: "utmärkt|toppen|perfekt", 4: "bra", 3: "godkänt|medel", 2: "dåligt",
           1: "mycket dåligt|uselt"},
    "ru": {5: "отлично|превосходно", 4: "хорошо", 3: "удовлетворительно|нормально",
           2: "плохо", 1: "очень плохо|ужасно"},
    **more.RATINGS,
}


def supported(language: str | None) -> str:
    """``language`` if it has tables here, else English."""
    return language if language in LANGUAGES else "en"


def number(amount: float, language: str) -> str:
    """8, or 1.5 / 1,5 (a decimal comma but in English, Japanese, Chinese, Korean, Arabic)."""
    text = str(int(amount)) if amount == int(amount) else f"{amount:g}"
    return text if language == "en" or language in more.DECIMAL_POINT \
        else text.replace(".", ",")


def _form(amount: float, forms: tuple[str, str], language: str) -> str:
    one = amount < 2 if language == "fr" else amount == 1  # "1,5 heure", "1.5 hours"
    return forms[0] if one else forms[1]


def _ru(amount: float, unit: str, genitive: bool, working: bool = True) -> str:
    whole = amount == int(amount)
    n = int(amount)
    counts, genitives = (RU_COUNT, RU_GENITIVE) if working else \
        (RU_CLOCK_COUNT, RU_CLOCK_GENITIVE)
    if genitive:
        one = not whole or (n % 10 == 1 and n % 100 != 11)
        return genitives[unit][0 if one else 1]
    if not whole:
        return genitives[unit][0]  # "1,5 рабочего часа"
    if n % 10 == 1 and n % 100 != 11:
        return counts[unit][0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return counts[unit][1]
    return counts[unit][2]


def working_time(target: Target, language: str | None, working: bool = True) -> str:
    """"8 working hours", "8 Arbeitsstunden", "8 рабочих часов"; with ``working`` false (a
    24x7 calendar, where every minute counts) "8 hours", "8 Stunden", "8 часов"."""
    lang = supported(language)
    if lang in more.PHRASES:
        return more.phrase(target.amount, number(target.amount, lang), target.unit, lang,
                           within=False, working=working)
    units = UNITS if working else CLOCK_UNITS
    words = _ru(target.amount, target.unit, False, working) if lang == "ru" else \
        _form(target.amount, units[lang][target.unit], lang)
    return f"{number(target.amount, lang)} {words}"


def within(target: Target, language: str | None, working: bool = True) -> str:
    """"within 8 working hours", "innerhalb von 3 Arbeitstagen", "в течение 2 рабочих часов";
    with ``working`` false "within 8 hours", "innerhalb von 3 Tagen", "в течение 2 часов"."""
    lang = supported(language)
    if lang in more.PHRASES:
        return WITHIN[lang].format(more.phrase(target.amount, number(target.amount, lang),
                                               target.unit, lang, within=True,
                                               working=working))
    if lang == "ru":
        words = _ru(target.amount, target.unit, True, working)
    else:
        units, dative = (UNITS, DATIVE) if working else (CLOCK_UNITS, CLOCK_DATIVE)
        words = _form(target.amount, dative.get(lang, units[lang])[target.unit], lang)
    return WITHIN[lang].format(f"{number(target.amount, lang)} {words}")


def when(value: datetime, language: str | None) -> str:
    """An instant as the customer reads it: "Montag, 16. März 2026, 12:30 Uhr MSK"."""
    lang = supported(language)
    day = FIRST_DAY.get(lang, "1") if value.day == 1 else str(value.day)
    return DATES[lang].format(
        weekday=_WEEKDAYS[lang][value.weekday()], day=day, month=_MONTHS[lang][value.month - 1],
        year=value.year, hh=f"{value.hour:02d}", mm=f"{value.minute:02d}",
        tz=ZONE_NAMES.get(lang, {}).get(value.tzname() or "", value.tzname() or "")).strip()


def rating_words(language: str | None) -> dict[int, list[str]]:
    """Rating -> the words that mean it in ``language`` (the first is its label)."""
    return {value: words.split("|") for value, words in RATINGS[supported(language)].items()}


def template_language_warnings(templates_dir: Path, detected: frozenset[str]) -> list[str]:
    """What ``check-config`` says of an admin's template in a language mailgate has no table
    for (its SLA phrases and dates come out in English) or cannot tell from a mail's text
    (only ``Content-Language`` selects it); ``detected``: the languages the text detector
    knows."""
    warnings = []
    langs = sorted({p.name.split(".")[1] for p in templates_dir.glob("*.??.txt.j2")
                    if p.name.split(".")[1].islower()})  # others: render.stray_templates
    for lang in langs:
        said = []
        if lang not in LANGUAGES:
            said.append("its SLA phrases ({{ sla.first_response_within }}) and dates (| when) "
                        "come out in English")
        if lang not in detected:
            said.append("a mail's text is never recognised as it: only a Content-Language "
                        f"header naming {lang!r} selects it")
        if said:
            warnings.append(f"templates {templates_dir}/*.{lang}.txt.j2: mailgate has no "
                            f"'{lang}' table: " + "; ".join(said))
    return warnings
