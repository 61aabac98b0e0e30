"""The words of the thank-you step: what a clause says, in any of the desk's languages.

Loaded from ``mailgate/data/replies.toml`` (the format is documented there) plus
an admin file. Latin, Cyrillic and Greek entries match whole words through a
token index (a dict lookup per word, wildcards by prefix bucket), so the cost
does not grow with the size of the lexicon; Chinese, Japanese, Korean and
Arabic entries, written without spaces between words or with attached
particles, match inside the text with one compiled pattern per script group.
Where matches overlap the longest wins, then the category listed first in
``CATEGORIES`` (a cue over a harmless word). Matching inside words needs exceptions:
an ``exception`` entry is a longer word that holds an entry but means something else
(Korean "출고장", shipping area, holds "고장", breakdown); it hides what it holds and
says nothing itself.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mailgate.errors import ConfigError

#: cues first: where the same words are both, they count as a cue
CATEGORIES = ("contrast", "request", "volition", "advance", "interrogative", "problem", "again",
              "qualifier", "once", "negation", "afterthought", "gone", "cause", "solved",
              "gratitude", "apology", "closing", "pleasantry", "greeting")
HARMLESS = frozenset({"gratitude", "apology", "closing", "pleasantry", "greeting", "solved",
                      "gone"})
#: not a category: a word that hides the entries it holds (ranked first, so an admin file
#: can also switch a packaged entry off by listing it)
EXCEPTION = "exception"
_RANK = {name: i for i, name in enumerate((EXCEPTION, *CATEGORIES))}
_WORD = re.compile(r"[^\W_]+")
_JOINED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
                     r"\u1100-\u11ff\u0600-\u06ff\U0001f300-\U0001faff\u2600-\u27bf]")
_POSTFIX = frozenset({"ない", "ません", "なく", "ず", "ぬ", "なかった", "なし", "않", "없", "yok"})
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_ARABIC_PREFIX = r"(?:[\u0648\u0641\u0628\u0644\u0643]|\u0627\u0644|\u0648\u0627\u0644" \
                 r"|\u0628\u0627\u0644|\u0644\u0644)?"


def fold(text: str) -> str:
    """Casefold and NFKC, "ё" as "е", "n't" as " not", Turkish dotted "İ" as "i", Arabic
    without its vowel marks. Accents are kept: dropping them would make Spanish "más" the
    Portuguese "mas" (but) and "só" the English "so"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Turkish "İ" casefolds to "i" + a combining dot: "İyi akşamlar" must read as "iyi"
    text = text.replace("’", "'").replace("ё", "е").replace("n't", " not").replace("i\u0307", "i")
    return _TASHKEEL.sub("", text)  # "حُلّت" is "حلت": Arabic vowel marks are optional


#: Arabic vowel marks (tashkeel) and the tatweel stretch: written or left out at will
_TASHKEEL = re.compile("[\u0640\u064b-\u065f\u0670]")


@dataclass(frozen=True)
class Hit:
    """One lexicon match in a clause: where, how long, what it says."""

    start: int
    end: int
    category: str
    words: int  # words (or, in joined scripts, characters / 3) it covers
    postfix: bool = False  # a negation written after what it negates (Japanese, Korean)
    wild: bool = False  # matched by an entry with "*": a listed whole word wins over it


@dataclass(frozen=True)
class _Entry:
    parts: tuple[str, ...]  # folded words; "x*" prefix, "*x" suffix
    category: str


def _part_matches(part: str, word: str) -> bool:
    if part.endswith("*") and len(part) > 1:
        return word.startswith(part[:-1])
    if part.startswith("*") and len(part) > 1:
        return word.endswith(part[1:])
    return word == part


class Lexicon:
    """Compiled lists; ``hits`` finds what a (folded) clause says."""

    def __init__(self, tables: dict[str, dict[str, list[str]]]) -> None:
        # by what the entry's first word must be, start with ("fehler*") or end with
        # ("*mıyor"): a word's candidates are a few dict lookups, whatever the list's size
        self.exact: dict[str, list[_Entry]] = defaultdict(list)
        self.prefixed: dict[str, list[_Entry]] = defaultdict(list)
        self.suffixed: dict[str, list[_Entry]] = defaultdict(list)
        joined: dict[str, dict[str, str]] = {"arabic": {}, "other": {}}
        for table in tables.values():
            for category, entries in table.items():
                if category not in _RANK:
                    continue
                for entry in entries:
                    self._add(fold(entry).strip(), category, joined)
        self.joined = {group: self._pattern(found, group) for group, found in joined.items()}
        #: wanting words ("möchte", "istiyorum") and "in advance" words ("alvast", "schon
        #: mal"), whatever list a match was taken from
        self.volition = self._listed(tables, "volition")
        self.advance = self._listed(tables, "advance")
        #: every "gone" entry, also those a problem entry outranks ("kadonnut", "зникає":
        #: lost or disappearing), for ``replies.clause._disappearing``
        self.gone = self._listed(tables, "gone")
        self.categories = {c: _RANK[c] for c in CATEGORIES}
        #: which languages list each word, and the one-word entries that are a cue in one
        #: language and harmless in another (``consent.by_language`` reads them)
        self.languages, self.homographs = _by_language(tables)
        #: each one-word cue entry, with the languages listing it under each cue
        #: (``crosscues.foreign_cues`` reads them)
        self.cue_languages = _cue_languages(tables)

    def _add(self, text: str, category: str, joined: dict[str, dict[str, str]]) -> None:
        if not text:
            return
        if _JOINED.search(text):
            group = "arabic" if _ARABIC.search(text) else "other"
            old = joined[group].get(text)
            if old is None or _RANK[category] < _RANK[old]:
                joined[group][text] = category
            return
        words = re.findall(r"\*?[^\W_]+\*?", text)
        if not words:
            return
        entry = _Entry(tuple(words), category)
        first = words[0]
        if first.startswith("*") and len(first) > 1:
            self.suffixed[first[1:]].append(entry)
        elif first.endswith("*") and len(first) > 1:
            if len(first) > 2:  # a one-letter stem ("x*") never matched a word
                self.prefixed[first[:-1]].append(entry)
        else:
            self.exact[first].append(entry)

    @staticmethod
    def _listed(tables: dict[str, dict[str, list[str]]], category: str) -> frozenset[str]:
        return frozenset(fold(e).strip() for table in tables.values()
                         for e in table.get(category, ()))

    @staticmethod
    def _pattern(found: dict[str, str], group: str) -> tuple[re.Pattern[str], dict[str, str]]:
        plain = {k.rstrip("*"): v for k, v in found.items()}
        alternatives = "|".join(re.escape(k) for k in sorted(plain, key=len, reverse=True))
        if group == "arabic":
            pattern = f"(?<!\\w){_ARABIC_PREFIX}({alternatives})(?!\\w)"
        else:
            pattern = f"({alternatives})"
        return re.compile(pattern or "(?!)"), plain

    def hits(self, clause: str) -> tuple[list[Hit], list[tuple[int, int]]]:
        """Non-overlapping matches in ``clause`` (folded), and the spans of all its words."""
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(clause)]
        found: list[Hit] = []
        for i, (start, _end, word) in enumerate(words):
            for entry in self._candidates(word):
                n = len(entry.parts)
                if n == 1 or (i + n <= len(words) and all(
                        _part_matches(p, words[i + k][2])
                        for k, p in enumerate(entry.parts[1:], 1))):
                    found.append(Hit(start, words[i + n - 1][1], entry.category, n,
                                     postfix=n == 1 and word in _POSTFIX,
                                     wild=any("*" in part for part in entry.parts)))
        if _JOINED.search(clause):
            for pattern, table in self.joined.values():
                for m in pattern.finditer(clause):
                    text = m.group(1)
                    found.append(Hit(m.start(1), m.end(1), table[text], max(1, len(text) // 3),
                                     text in _POSTFIX))
        kept = [h for h in _resolve(found) if h.category != EXCEPTION]
        return kept, [(s, e) for s, e, _ in words]

    def _candidates(self, word: str) -> list[_Entry]:
        """The entries whose first word matches ``word``."""
        found = list(self.exact.get(word, ()))
        prefixed, suffixed = self.prefixed, self.suffixed
        for k in range(1, len(word) + 1):
            if word[:k] in prefixed:
                found += prefixed[word[:k]]
            if word[-k:] in suffixed:
                found += suffixed[word[-k:]]
        return found


def _by_language(tables: dict[str, dict[str, list[str]]]
                 ) -> tuple[dict[str, frozenset[str]], dict[str, dict[str, frozenset[str]]]]:
    """Each word of the lists and the languages whose lists hold it; each one-word entry
    listed under more than one category, with the languages listing it under each."""
    words: dict[str, set[str]] = defaultdict(set)
    senses: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for language, table in tables.items():
        for category, entries in table.items():
            if category not in _RANK or category == EXCEPTION:
                continue
            for entry in entries:
                parts = _WORD.findall(fold(entry))
                if "*" in entry or not parts or _JOINED.search(entry):
                    continue
                for part in parts:
                    words[part].add(language)
                if len(parts) == 1:
                    senses[parts[0]][category].add(language)
    return ({w: frozenset(v) for w, v in words.items()},
            {w: {c: frozenset(v) for c, v in by.items()} for w, by in senses.items()
             if len(by) > 1})


def _cue_languages(tables: dict[str, dict[str, list[str]]]
                   ) -> dict[str, dict[str, frozenset[str]]]:
    """Each one-word entry of a cue list, and the languages listing it under each cue."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for language, table in tables.items():
        for category, entries in table.items():
            if category in HARMLESS or category not in _RANK or category == EXCEPTION:
                continue
            for entry in entries:
                parts = _WORD.findall(fold(entry))
                if len(parts) == 1 and "*" not in entry and not _JOINED.search(entry):
                    found[parts[0]][category].add(language)
    return {w: {c: frozenset(v) for c, v in by.items()} for w, by in found.items()}


def _resolve(found: list[Hit]) -> list[Hit]:
    """Longest first, then a listed word before a wildcard's match ("çökmedi", a success,
    before "*medi", a negation), then the category ranked first; no two hits overlap."""
    found.sort(key=lambda h: (-(h.end - h.start), h.wild, _RANK[h.category], h.start))
    taken: list[Hit] = []
    for hit in found:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return sorted(taken, key=lambda h: h.start)


def load_tables(extra_file: str | Path | None = None) -> dict[str, dict[str, list[str]]]:
    """The packaged lists, with an admin file's lists added (a typo names file and key)."""
    text = resources.files("mailgate.data").joinpath("replies.toml").read_text("utf-8")
    tables: dict[str, dict[str, list[str]]] = tomllib.loads(text)
    if extra_file is None:
        return tables
    path = Path(extra_file)
    try:
        extra: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the gratitude file: {exc}") from None
    for language, table in extra.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{language}] must be a table of lists")
        for key, values in table.items():
            if key not in _RANK:
                raise ConfigError(f"{path}: [{language}] {key}: unknown list; one of "
                                  f"{', '.join(CATEGORIES)}, {EXCEPTION}")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{path}: [{language}] {key}: must be a list of strings")
            tables.setdefault(language, {}).setdefault(key, []).extend(values)
    return tables
