"""Telling twelve more languages apart: pl, cs, da, nb, fi, tr by common words; ar, uk, ja,
zh, ko by script.

``mailgate.language`` scores a text's common words per language. These are the lists
of the Latin-script languages added with their templates, and three steps for what words
alone do badly:

- **Letters**: a word with a letter only one of them writes (Polish ł, Czech ř, Turkish ğ,
  Danish and Norwegian ø, Portuguese ã) counts as one of its common words: short requests
  ("Terminal płatniczy odrzuca karty zbliżeniowe") hold few common words;
- **Script**: Arabic, Hangul, kana and Han letters say the language by themselves
  (kana among Han is Japanese, Han alone Chinese); Cyrillic is Ukrainian when it has
  more signs of Ukrainian (і ї є ґ, "дякую") than of Russian (ы э ъ ё, "спасибо"), else
  Russian;
- **Kin**: Danish, Norwegian and Swedish share most short words ("vi har", "med",
  "kan"), so a Danish mail scored as Swedish as often as Danish. When the two best
  languages are kin, the letters decide Swedish (ä, ö) against Danish and Norwegian (æ, ø),
  then the words only one of the kin has ("af", "meget", "blev" against "av", "mye",
  "ble").
"""

from __future__ import annotations

import re
from collections import Counter

COMMON = {
    # Danish and Norwegian: with the words Swedish shares (med, på, det), which the kin step
    # sets aside; not "og" (German "2. OG", a floor), "en" or "kan" (Dutch words)
    "da": "ikke jeg er af til vi har med på det som tak hej venlig venligst hilsen noget "
          "vores jer også efter hvad fejl hjælp hjælpe virker kære vil blev havde gik "
          "meget",
    "nb": "ikke jeg er av til vi har med på det som takk hei vennlig vennligst hilsen meg deg "
          "noe vår vårt våre dere også etter nå hva feil hjelp hjelpen hjelpe fungerer ikkje "
          "vil ble hadde gikk mye",
    "fi": "ja ei että olen olemme meillä kiitos hei terveisin ystävällisin tämä mutta kun "
          "nyt myös voi voisitteko emme ole vielä paljon moi kiitti toimii taas",
    # no one-letter words ("w", "z", "v": "Z4", "v2"), no "je" (French), no "nas" (a NAS)
    "pl": "nie jest się że dla ale czy już jak mamy proszę dziękuję dziękujemy dzień dobry "
          "pozdrawiam jeszcze bardzo oraz nam państwa wszystko został została",
    "cs": "není jsme jsem máme prosím děkuji děkujeme dobrý pro ale už jak také nám nás vás "
          "vám byl bylo dnes včera zdravím díky dík vše když jsou ještě moc mockrát",
    "tr": "ve bir bu için ile çok ama değil merhaba teşekkürler teşekkür ederim ederiz iyi "
          "günler saygılarımla lütfen şu olarak yok mı biz bize sizin hanım bey",
}
#: languages whose common words overlap so much that only the words one of them alone has
#: tell them apart
KIN = (frozenset({"da", "nb", "sv"}),)
#: words of a kin language's list that its kin share but do not list (they are words of
#: other languages too): no sign of one of the kin
KIN_SHARED = frozenset({"en", "kan", "mig", "dig"})
#: what a Content-Language header may say for a language of ours: Norwegian as "no" or
#: Nynorsk "nn" (the Bokmål template is the one a Norwegian reads)
ALIASES = {"no": "nb", "nn": "nb"}

#: letters only one of the desk's Latin-script languages writes (Danish and Norwegian share
#: theirs: the kin step tells them apart): a word with one is a sign of that language, so
#: that a short "Terminal płatniczy odrzuca karty" or "Děkuji." is told
OWN_LETTERS = {"pl": frozenset("ąęłńśźżć"), "cs": frozenset("ěřůčďťň"),
               "tr": frozenset("ğşı"), "da": frozenset("æø"), "nb": frozenset("æø"),
               "pt": frozenset("ãõ")}
_ANY_OWN = frozenset().union(*OWN_LETTERS.values())

_SCRIPTS = {
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
    "kana": re.compile(r"[\u3040-\u30ff\uff66-\uff9f]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
}
_NON_LATIN = re.compile("|".join(p.pattern for p in _SCRIPTS.values()))
_UKRAINIAN = re.compile(r"[іїєґ]")
_RUSSIAN = re.compile(r"[ыэъё]")
#: Ukrainian words in letters Russian has too ("Дякую!"), and Russian ones
_UK_WORDS = frozenset(["дякую", "дуже", "будь", "що", "це", "вже", "та", "щиро", "вітаю",
                       "вечора", "ми", "як"])
_RU_WORDS = frozenset(["спасибо", "очень", "пожалуйста", "что", "это", "уже", "как", "мы"])
#: a script's share of the letters that makes it the text's
SHARE = 0.3


def by_script(head: str, letters: int) -> tuple[str, bool] | None:
    """(language, clear) when a non-Latin script makes up the (case-folded) ``head`` of a
    text, which has ``letters`` letters; clear from 20 letters (6 Chinese or Japanese
    characters, each a syllable or a word); None for a Latin-script text. The head (a few
    hundred characters) tells a script as well as the whole text and costs a quarter."""
    if not letters or head.isascii() or _NON_LATIN.search(head) is None:
        return None
    counts = {name: len(pattern.findall(head)) for name, pattern in _SCRIPTS.items()}
    cjk = counts["kana"] + counts["han"]
    if cjk / letters > SHARE and counts["hangul"] < cjk:
        japanese = counts["kana"] >= max(2, counts["han"] // 10)
        return ("ja" if japanese else "zh"), cjk >= 6
    for name, language in (("hangul", "ko"), ("arabic", "ar"), ("cyrillic", "ru")):
        if counts[name] / letters > SHARE:
            if language == "ru" and _ukrainian(head):
                language = "uk"
            return language, letters >= 20
    return None


def _ukrainian(sample: str) -> bool:
    """Whether a Cyrillic text has more signs of Ukrainian (і ї є ґ, "дякую") than of
    Russian (ы э ъ ё, "спасибо")."""
    words = re.findall(r"\w+", sample)
    uk = len(_UKRAINIAN.findall(sample)) + sum(w in _UK_WORDS for w in words)
    ru = len(_RUSSIAN.findall(sample)) + sum(w in _RU_WORDS for w in words)
    return uk > ru


def by_letters(counts: Counter[str]) -> dict[str, int]:
    """Per language, how many of the text's words have a letter only it writes."""
    found: Counter[str] = Counter()
    for word, n in counts.items():
        if word.isascii() or _ANY_OWN.isdisjoint(word):
            continue
        for lang, letters in OWN_LETTERS.items():
            if not letters.isdisjoint(word):
                found[lang] += n
    return found


def among_kin(sample: str, counts: Counter[str], sets: dict[str, frozenset[str]],
              scores: dict[str, int], best: str, runner: str) \
        -> tuple[str, frozenset[str]] | None:
    """When the two leading languages are kin: the one the (case-folded) ``sample``'s
    letters and the words only it has point at (the higher score on a tie), and its kin;
    else None."""
    kin = next((group for group in KIN if {best, runner} <= group), None)
    if kin is None:
        return None
    candidates = [lang for lang in kin if scores[lang]]
    swedish = sum(map(sample.count, "äö"))
    other = sum(map(sample.count, "æø"))
    if swedish != other:  # the spelling decides (a kin language without its words: no lead)
        candidates = [lang for lang in kin if (lang == "sv") == (swedish > other)]
    words = counts.keys()

    def own(lang: str) -> int:
        alone = sets[lang].difference(KIN_SHARED, *(sets[o] for o in kin if o != lang))
        return sum(counts[w] for w in words & alone)

    return max(candidates, key=lambda lang: (own(lang), scores[lang], lang == best,
                                             lang == runner)), kin
