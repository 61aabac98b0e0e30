"""The customer's terms in twelve more languages: pt, da, nb, fi, pl, cs, uk, tr, ar, ja, zh, ko.

``mailgate.locales`` holds the first eight languages, whose words take one plural (or, in
Russian, a rule of their own); these twelve need more than a (singular, plural) pair, so
each phrase here is chosen by the number's plural category, as CLDR names them:

- Polish and Ukrainian: ``one`` (1; Ukrainian also 21, 31...), ``few`` (2-4, 22-24...),
  ``many`` (5-20, 25...), and a fraction, which takes the genitive singular ("1,5 godziny");
- Czech: ``one`` (1), ``few`` (2-4), ``other`` (5 and up), a fraction as in Polish;
- Arabic: ``one`` and ``two`` say no digit ("ساعة عمل واحدة", "ساعتي عمل": a dual), ``few``
  (3-10) the plural, ``many`` (11-99) and ``other`` (100...) the singular;
- Japanese, Chinese, Korean and Turkish put no plural on a counted noun;
- the others ``one`` for 1 (Danish also 1,5: "1,5 time") and ``other``.

"Within" takes a case in several of them, so each language has a phrase for the count
("8 godzin roboczych", a label) and one for inside its "within" ("w ciągu 1 godziny
roboczej"; Finnish puts the genitive before "kuluessa": "8 työtunnin kuluessa"). A phrase
holds ``{n}`` where the number goes. Dates are written as each language writes a full
date in a sentence; where a preposition would bend the weekday (Polish "do poniedziałku",
Czech "do středy"), the weekday follows in brackets, as the Russian date does.
"""

from __future__ import annotations

LANGUAGES = ("pt", "da", "nb", "fi", "pl", "cs", "uk", "tr", "ar", "ja", "zh", "ko")
#: languages whose decimal sign is a point ("1.5"); the others write a comma
DECIMAL_POINT = frozenset({"ja", "zh", "ko", "ar"})

WEEKDAYS = {  # Monday first; Finnish in the essive a date says ("maanantaina")
    "pt": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo",
    "da": "mandag tirsdag onsdag torsdag fredag lørdag søndag",
    "nb": "mandag tirsdag onsdag torsdag fredag lørdag søndag",
    "fi": "maanantaina tiistaina keskiviikkona torstaina perjantaina lauantaina sunnuntaina",
    "pl": "poniedziałek wtorek środa czwartek piątek sobota niedziela",
    "cs": "pondělí úterý středa čtvrtek pátek sobota neděle",
    "uk": "понеділок вівторок середа четвер п’ятниця субота неділя",
    "tr": "Pazartesi Salı Çarşamba Perşembe Cuma Cumartesi Pazar",
    "ar": "الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد",
    "ja": "月 火 水 木 金 土 日",
    "zh": "星期一 星期二 星期三 星期四 星期五 星期六 星期日",
    "ko": "월요일 화요일 수요일 목요일 금요일 토요일 일요일",
}
MONTHS = {  # as a date says them: Polish, Czech, Ukrainian in the genitive, Finnish partitive
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro "
          "dezembro",
    "da": "januar februar marts april maj juni juli august september oktober november "
          "december",
    "nb": "januar februar mars april mai juni juli august september oktober november "
          "desember",
    "fi": "tammikuuta helmikuuta maaliskuuta huhtikuuta toukokuuta kesäkuuta heinäkuuta "
          "elokuuta syyskuuta lokakuuta marraskuuta joulukuuta",
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października "
          "listopada grudnia",
    "cs": "ledna února března dubna května června července srpna září října listopadu "
          "prosince",
    "uk": "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада "
          "грудня",
    "tr": "Ocak Şubat Mart Nisan Mayıs Haziran Temmuz Ağustos Eylül Ekim Kasım Aralık",
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
    "ja": "1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
    "zh": "1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
    "ko": "1월 2월 3월 4월 5월 6월 7월 8월 9월 10월 11월 12월",
}
DATES = {
    "pt": "{weekday}, {day} de {month} de {year}, {hh}:{mm} {tz}",
    "da": "{weekday} den {day}. {month} {year} kl. {hh}.{mm} {tz}",
    "nb": "{weekday} {day}. {month} {year} kl. {hh}.{mm} {tz}",
    "fi": "{weekday} {day}. {month} {year} klo {hh}.{mm} {tz}",
    "pl": "{day} {month} {year} ({weekday}), godz. {hh}:{mm} {tz}",  # fits "do ..."
    "cs": "{day}. {month} {year} ({weekday}), {hh}:{mm} {tz}",  # fits "do ..."
    "uk": "{day} {month} {year} р. ({weekday}), {hh}:{mm} {tz}",
    "tr": "{day} {month} {year} {weekday}, saat {hh}:{mm} {tz}",
    "ar": "{weekday} {day} {month} {year}، الساعة {hh}:{mm} {tz}",
    "ja": "{year}年{month}{day}日（{weekday}）{hh}:{mm} {tz}",
    "zh": "{year}年{month}{day}日（{weekday}）{hh}:{mm} {tz}",
    "ko": "{year}년 {month} {day}일 {weekday} {hh}:{mm} {tz}",
}

# "within {}": the phrase inside is the ``within`` one of PHRASES
WITHIN = {"pt": "no prazo de {}", "da": "inden for {}", "nb": "innen {}", "fi": "{} kuluessa",
          "pl": "w ciągu {}", "cs": "do {}", "uk": "протягом {}", "tr": "{} içinde",
          "ar": "خلال {}", "ja": "{}以内", "zh": "{}内", "ko": "{} 이내"}

Forms = dict[str, str]  # plural category -> phrase with {n}; "other" is the fallback


def _two(one: str, other: str) -> Forms:
    return {"one": one, "other": other}


def _slavic(one: str, few: str, many: str, fraction: str) -> Forms:
    return {"one": one, "few": few, "many": many, "other": many, "fraction": fraction}


# PHRASES[lang][(working, unit)] = (count forms, within forms)
PHRASES: dict[str, dict[tuple[bool, str], tuple[Forms, Forms]]] = {
    "pt": {
        (True, "m"): (_two("{n} minuto útil", "{n} minutos úteis"),) * 2,
        (True, "h"): (_two("{n} hora útil", "{n} horas úteis"),) * 2,
        (True, "wd"): (_two("{n} dia útil", "{n} dias úteis"),) * 2,
        (False, "m"): (_two("{n} minuto", "{n} minutos"),) * 2,
        (False, "h"): (_two("{n} hora", "{n} horas"),) * 2,
        (False, "wd"): (_two("{n} dia", "{n} dias"),) * 2,
    },
    "da": {
        (True, "m"): (_two("{n} arbejdsminut", "{n} arbejdsminutter"),) * 2,
        (True, "h"): (_two("{n} arbejdstime", "{n} arbejdstimer"),) * 2,
        (True, "wd"): (_two("{n} arbejdsdag", "{n} arbejdsdage"),) * 2,
        (False, "m"): (_two("{n} minut", "{n} minutter"),) * 2,
        (False, "h"): (_two("{n} time", "{n} timer"),) * 2,
        (False, "wd"): (_two("{n} dag", "{n} dage"),) * 2,
    },
    "nb": {
        (True, "m"): (_two("{n} arbeidsminutt", "{n} arbeidsminutter"),) * 2,
        (True, "h"): (_two("{n} arbeidstime", "{n} arbeidstimer"),) * 2,
        (True, "wd"): (_two("{n} arbeidsdag", "{n} arbeidsdager"),) * 2,
        (False, "m"): (_two("{n} minutt", "{n} minutter"),) * 2,
        (False, "h"): (_two("{n} time", "{n} timer"),) * 2,
        (False, "wd"): (_two("{n} dag", "{n} dager"),) * 2,
    },
    "fi": {  # a count takes the partitive ("8 työtuntia"), "kuluessa" the genitive
        (True, "m"): (_two("{n} työminuutti", "{n} työminuuttia"), {"other": "{n} työminuutin"}),
        (True, "h"): (_two("{n} työtunti", "{n} työtuntia"), {"other": "{n} työtunnin"}),
        (True, "wd"): (_two("{n} työpäivä", "{n} työpäivää"), {"other": "{n} työpäivän"}),
        (False, "m"): (_two("{n} minuutti", "{n} minuuttia"), {"other": "{n} minuutin"}),
        (False, "h"): (_two("{n} tunti", "{n} tuntia"), {"other": "{n} tunnin"}),
        (False, "wd"): (_two("{n} päivä", "{n} päivää"), {"other": "{n} päivän"}),
    },
    "pl": {  # "w ciągu" takes the genitive
        (True, "m"): (_slavic("{n} minuta robocza", "{n} minuty robocze", "{n} minut roboczych",
                              "{n} minuty roboczej"),
                      _slavic("{n} minuty roboczej", "{n} minut roboczych",
                              "{n} minut roboczych", "{n} minuty roboczej")),
        (True, "h"): (_slavic("{n} godzina robocza", "{n} godziny robocze",
                              "{n} godzin roboczych", "{n} godziny roboczej"),
                      _slavic("{n} godziny roboczej", "{n} godzin roboczych",
                              "{n} godzin roboczych", "{n} godziny roboczej")),
        (True, "wd"): (_slavic("{n} dzień roboczy", "{n} dni robocze", "{n} dni roboczych",
                               "{n} dnia roboczego"),
                       _slavic("{n} dnia roboczego", "{n} dni roboczych", "{n} dni roboczych",
                               "{n} dnia roboczego")),
        (False, "m"): (_slavic("{n} minuta", "{n} minuty", "{n} minut", "{n} minuty"),
                       _slavic("{n} minuty", "{n} minut", "{n} minut", "{n} minuty")),
        (False, "h"): (_slavic("{n} godzina", "{n} godziny", "{n} godzin", "{n} godziny"),
                       _slavic("{n} godziny", "{n} godzin", "{n} godzin", "{n} godziny")),
        (False, "wd"): (_slavic("{n} dzień", "{n} dni", "{n} dni", "{n} dnia"),
                        _slavic("{n} dnia", "{n} dni", "{n} dni", "{n} dnia")),
    },
    "cs": {  # "do" takes the genitive
        (True, "m"): (_slavic("{n} pracovní minuta", "{n} pracovní minuty",
                              "{n} pracovních minut", "{n} pracovní minuty"),
                      _slavic("{n} pracovní minuty", "{n} pracovních minut",
                              "{n} pracovních minut", "{n} pracovní minuty")),
        (True, "h"): (_slavic("{n} pracovní hodina", "{n} pracovní hodiny",
                              "{n} pracovních hodin", "{n} pracovní hodiny"),
                      _slavic("{n} pracovní hodiny", "{n} pracovních hodin",
                              "{n} pracovních hodin", "{n} pracovní hodiny")),
        (True, "wd"): (_slavic("{n} pracovní den", "{n} pracovní dny", "{n} pracovních dnů",
                               "{n} pracovního dne"),
                       _slavic("{n} pracovního dne", "{n} pracovních dnů",
                               "{n} pracovních dnů", "{n} pracovního dne")),
        (False, "m"): (_slavic("{n} minuta", "{n} minuty", "{n} minut", "{n} minuty"),
                       _slavic("{n} minuty", "{n} minut", "{n} minut", "{n} minuty")),
        (False, "h"): (_slavic("{n} hodina", "{n} hodiny", "{n} hodin", "{n} hodiny"),
                       _slavic("{n} hodiny", "{n} hodin", "{n} hodin", "{n} hodiny")),
        (False, "wd"): (_slavic("{n} den", "{n} dny", "{n} dnů", "{n} dne"),
                        _slavic("{n} dne", "{n} dnů", "{n} dnů", "{n} dne")),
    },
    "uk": {  # "протягом" takes the genitive
        (True, "m"): (_slavic("{n} робоча хвилина", "{n} робочі хвилини", "{n} робочих хвилин",
                              "{n} робочої хвилини"),
                      _slavic("{n} робочої хвилини", "{n} робочих хвилин",
                              "{n} робочих хвилин", "{n} робочої хвилини")),
        (True, "h"): (_slavic("{n} робоча година", "{n} робочі години", "{n} робочих годин",
                              "{n} робочої години"),
                      _slavic("{n} робочої години", "{n} робочих годин", "{n} робочих годин",
                              "{n} робочої години")),
        (True, "wd"): (_slavic("{n} робочий день", "{n} робочі дні", "{n} робочих днів",
                               "{n} робочого дня"),
                       _slavic("{n} робочого дня", "{n} робочих днів", "{n} робочих днів",
                               "{n} робочого дня")),
        (False, "m"): (_slavic("{n} хвилина", "{n} хвилини", "{n} хвилин", "{n} хвилини"),
                       _slavic("{n} хвилини", "{n} хвилин", "{n} хвилин", "{n} хвилини")),
        (False, "h"): (_slavic("{n} година", "{n} години", "{n} годин", "{n} години"),
                       _slavic("{n} години", "{n} годин", "{n} годин", "{n} години")),
        (False, "wd"): (_slavic("{n} день", "{n} дні", "{n} днів", "{n} дня"),
                        _slavic("{n} дня", "{n} днів", "{n} днів", "{n} дня")),
    },
    "tr": {  # no plural after a number: "8 iş saati"
        (True, "m"): ({"other": "{n} iş dakikası"},) * 2,
        (True, "h"): ({"other": "{n} iş saati"},) * 2,
        (True, "wd"): ({"other": "{n} iş günü"},) * 2,
        (False, "m"): ({"other": "{n} dakika"},) * 2,
        (False, "h"): ({"other": "{n} saat"},) * 2,
        (False, "wd"): ({"other": "{n} gün"},) * 2,
    },
    "ar": {  # one and two without a digit; the dual is genitive after "خلال"
        (True, "m"): ({"one": "دقيقة عمل واحدة", "two": "دقيقتا عمل", "few": "{n} دقائق عمل",
                       "other": "{n} دقيقة عمل"},
                      {"one": "دقيقة عمل واحدة", "two": "دقيقتي عمل", "few": "{n} دقائق عمل",
                       "other": "{n} دقيقة عمل"}),
        (True, "h"): ({"one": "ساعة عمل واحدة", "two": "ساعتا عمل", "few": "{n} ساعات عمل",
                       "other": "{n} ساعة عمل"},
                      {"one": "ساعة عمل واحدة", "two": "ساعتي عمل", "few": "{n} ساعات عمل",
                       "other": "{n} ساعة عمل"}),
        (True, "wd"): ({"one": "يوم عمل واحد", "two": "يوما عمل", "few": "{n} أيام عمل",
                        "other": "{n} يوم عمل"},
                       {"one": "يوم عمل واحد", "two": "يومي عمل", "few": "{n} أيام عمل",
                        "other": "{n} يوم عمل"}),
        (False, "m"): ({"one": "دقيقة واحدة", "two": "دقيقتان", "few": "{n} دقائق",
                        "other": "{n} دقيقة"},
                       {"one": "دقيقة واحدة", "two": "دقيقتين", "few": "{n} دقائق",
                        "other": "{n} دقيقة"}),
        (False, "h"): ({"one": "ساعة واحدة", "two": "ساعتان", "few": "{n} ساعات",
                        "other": "{n} ساعة"},
                       {"one": "ساعة واحدة", "two": "ساعتين", "few": "{n} ساعات",
                        "other": "{n} ساعة"}),
        (False, "wd"): ({"one": "يوم واحد", "two": "يومان", "few": "{n} أيام",
                         "many": "{n} يومًا", "other": "{n} يوم"},
                        {"one": "يوم واحد", "two": "يومين", "few": "{n} أيام",
                         "many": "{n} يومًا", "other": "{n} يوم"}),
    },
    "ja": {  # 営業時間 / 営業日: business hours and days, as Japanese SLAs count them
        (True, "m"): ({"other": "営業時間内の{n}分"},) * 2,
        (True, "h"): ({"other": "{n}営業時間"},) * 2,
        (True, "wd"): ({"other": "{n}営業日"},) * 2,
        (False, "m"): ({"other": "{n}分"},) * 2,
        (False, "h"): ({"other": "{n}時間"},) * 2,
        (False, "wd"): ({"other": "{n}日"},) * 2,
    },
    "zh": {
        (True, "m"): ({"other": "{n}个工作分钟"},) * 2,
        (True, "h"): ({"other": "{n}个工作小时"},) * 2,
        (True, "wd"): ({"other": "{n}个工作日"},) * 2,
        (False, "m"): ({"other": "{n}分钟"},) * 2,
        (False, "h"): ({"other": "{n}小时"},) * 2,
        (False, "wd"): ({"other": "{n}天"},) * 2,
    },
    "ko": {  # 영업일 (business day); hours and minutes "by business hours"
        (True, "m"): ({"other": "업무시간 기준 {n}분"},) * 2,
        (True, "h"): ({"other": "업무시간 기준 {n}시간"},) * 2,
        (True, "wd"): ({"other": "{n}영업일"},) * 2,
        (False, "m"): ({"other": "{n}분"},) * 2,
        (False, "h"): ({"other": "{n}시간"},) * 2,
        (False, "wd"): ({"other": "{n}일"},) * 2,
    },
}

# Rating words: the label shown for 1-5 first, then other words a customer may answer with
# (the labels of each language's usual five-point satisfaction scale).
RATINGS = {
    "pt": {5: "excelente|ótimo|perfeito", 4: "bom", 3: "razoável|regular", 2: "fraco|mau|ruim",
           1: "péssimo|muito mau|muito ruim"},
    "da": {5: "fremragende|fantastisk|perfekt", 4: "god|godt", 3: "middel|nogenlunde",
           2: "dårlig|dårligt", 1: "meget dårlig|meget dårligt|elendigt"},
    "nb": {5: "utmerket|fantastisk|perfekt", 4: "bra|god", 3: "middels|grei",
           2: "dårlig", 1: "svært dårlig|veldig dårlig|elendig"},
    "fi": {5: "erinomainen|loistava|täydellinen", 4: "hyvä", 3: "tyydyttävä|kohtalainen",
           2: "huono|heikko", 1: "erittäin huono|surkea"},
    "pl": {5: "bardzo dobrze|doskonale|świetnie|znakomicie", 4: "dobrze",
           3: "przeciętnie|średnio", 2: "słabo|źle", 1: "bardzo źle|fatalnie"},
    "cs": {5: "výborně|vynikající|skvělé", 4: "dobře", 3: "průměrně|ucházející",
           2: "špatně", 1: "velmi špatně|hrozné"},
    "uk": {5: "відмінно|чудово", 4: "добре", 3: "задовільно|нормально", 2: "погано",
           1: "дуже погано|жахливо"},
    "tr": {5: "mükemmel|harika|çok iyi", 4: "iyi", 3: "orta|idare eder", 2: "kötü|zayıf",
           1: "çok kötü|berbat"},
    "ar": {5: "ممتاز|رائع", 4: "جيد|جيد جدًا|جيد جدا", 3: "مقبول|متوسط", 2: "سيئ|ضعيف",
           1: "سيئ جدًا|سيئ جدا"},
    "ja": {5: "大変満足|とても良い", 4: "満足|良い", 3: "普通|ふつう", 2: "不満|悪い",
           1: "大変不満|とても悪い"},
    "zh": {5: "非常满意|很满意", 4: "满意", 3: "一般", 2: "不满意|差", 1: "非常不满意|很差"},
    "ko": {5: "매우 만족|아주 좋음", 4: "만족|좋음", 3: "보통", 2: "불만족|나쁨",
           1: "매우 불만족|매우 나쁨"},
}


def category(amount: float, language: str) -> str:
    """The plural category of ``amount`` in ``language`` (see the module's docstring)."""
    n = int(amount)
    if amount != n:
        return "one" if language == "da" and n <= 1 else "fraction"
    if language in ("pl", "uk", "cs"):
        if language == "uk" and n % 10 == 1 and n % 100 != 11:
            return "one"
        if n == 1:
            return "one"
        if language == "cs":
            return "few" if 2 <= n <= 4 else "many"
        return "few" if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else "many"
    if language == "ar":
        if n in (1, 2):
            return "one" if n == 1 else "two"
        return "few" if 3 <= n % 100 <= 10 else "many" if 11 <= n % 100 <= 99 else "other"
    return "one" if n == 1 else "other"


def phrase(amount: float, number: str, unit: str, language: str, *, within: bool,
           working: bool) -> str:
    """"8 godzin roboczych"; with ``within`` the form inside the language's "within"."""
    count, inside = PHRASES[language][(working, unit)]
    forms = inside if within else count
    found = forms.get(category(amount, language)) or forms["other"]
    return found.format(n=number)
