"""Which language a customer writes in, to answer in it when a template variant exists.

``Content-Language`` wins unless the text clearly says another language (an
English Outlook stamps ``en-US`` on German mail). Otherwise the first mail's new
text decides: a script says Russian or Ukrainian, Arabic, Japanese, Chinese or Korean
(``mailgate.language_more``), and for Latin-script languages the most frequent common
words (a short list per language, and letters only one language writes) decide, needing
a clear lead; else the configured default. Good enough to pick a template; not a
general language identifier.
"""

from __future__ import annotations

from collections import Counter

from mailgate import language_more as more

# Every character below U+3000 that is not a letter becomes a space, so that words are what
# str.split() returns (a fifth of the time of a [^\W\d_]+ regex over 2,000 characters).
_NOT_LETTERS = {c: " " for c in range(0x3000) if not chr(c).isalpha()}
COMMON = {
    "en": "the and is to of it not we you my our please have this that with on for are can "
          "since from but was be",
    "sv": "och är att det inte vi jag har en på för med som kan vår ni hej tack sedan "
          "fungerar oss",
    "nl": "de het een en is niet wij ik heb van op voor met dat zijn kunnen graag bedankt "
          "sinds werkt jullie ons",
    "de": "der die das und ist nicht wir ich habe ein eine mit für auf bitte danke seit "
          "funktioniert können uns geht",
    "fr": "le la les et est pas nous je une des pour avec sur merci bonjour votre ne vous "
          "depuis du au dans pouvez",
    "es": "el la los las y es no nosotros yo una para con por gracias hola su del desde "
          "funciona pueden nos está",
    "it": "il gli è non sono che della abbiamo ho con per grazie buongiorno cordiali saluti "
          "da di del ci funziona potete ieri",
    "pt": "não é uma com obrigado obrigada bom ontem vocês podem estamos nós eu os do da "
          "também hoje atenciosamente olá está",
}
COMMON.update(more.COMMON)
_SETS = {lang: frozenset(words.split()) for lang, words in COMMON.items()}
#: the languages a mail's text can be recognised as (Russian, Ukrainian, Arabic, Japanese,
#: Chinese and Korean by their script)
DETECTED = frozenset([*COMMON, "ru", "uk", "ar", "ja", "zh", "ko"])


def detect(text: str, content_language: str = "", default: str = "en") -> str:
    """A two-letter language code for ``text``: the ``Content-Language`` header's unless
    the text clearly says another language (an English Outlook stamps ``en-US`` on German
    mail: answering in English would be a mistake the customer sees), else the text's."""
    declared = content_language.split(",")[0].strip().lower()[:2]
    declared = more.ALIASES.get(declared, declared)
    guess, clear = _guess(text)
    if declared.isalpha() and len(declared) == 2:
        return guess if clear and guess != declared else declared
    return guess or default


def told(text: str, content_language: str = "") -> bool:
    """Whether the header or the text says a language at all (``detect`` falls back to
    its default otherwise): a short "Monitor flackert" says too little."""
    declared = content_language.split(",")[0].strip().lower()[:2]
    return (declared.isalpha() and len(declared) == 2) or bool(_guess(text)[0])


def _guess(text: str) -> tuple[str, bool]:
    """The language the text's common words point at ("" for none) and whether the lead
    is clear (three words at least, twice the next language's)."""
    sample = text[:2000].casefold()  # the opening paragraphs say it; the rest only costs time
    head = sample[:400]  # a script shows in the first lines
    if not head.isascii():
        script = more.by_script(head, sum(map(len, head.translate(_NOT_LETTERS).split())))
        if script is not None:
            return script
    found = sample.translate(_NOT_LETTERS).split()
    counts = Counter(found)
    words = counts.keys()
    scores = {lang: sum(counts[w] for w in words & common) for lang, common in _SETS.items()}
    for lang, signs in more.by_letters(counts).items():
        scores[lang] += signs
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (runner, second) = ranked[0], ranked[1]
    kin = more.among_kin(sample, counts, _SETS, scores, best, runner)
    if kin is not None:  # Danish and Swedish, say: their own words choose; the lead is
        best, group = kin  # over the best language that is not of their kin
        top = scores[best]
        second = max((score for lang, score in ranked if lang not in group), default=0)
    if top >= 2 and top >= 1.5 * second:
        return best, top >= 3 and top >= 2 * second
    return "", False
