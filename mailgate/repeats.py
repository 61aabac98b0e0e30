"""Is a new mail about the same problem as an earlier one? Survives rewording.

A customer who writes again (a shorter mail from the phone, a reminder, a
colleague reporting the same outage) rarely repeats the words. What a repeat
keeps is the distinctive part: error codes and strings, host and product
names, IDs and numbers, and a few content words of the symptom. What two
different problems of one person share is the generic part: greetings, "not
working since this morning", "urgent", the company's name. So the comparison:

- drops greeting lines, signatures (from a closing formula on, trailing name
  lines), phone numbers, the senders' own names and domains, and the generic
  words of ``mailgate/data/repeat_words.toml`` (en, de, nl, sv, ru, fr, es, it, pt, pl,
  ja, zh, ko; Chinese and Japanese, written without spaces, by ``mailgate.cjk``'s Han
  bigrams and katakana words, Korean by two-syllable stems);
- weighs what is left: codes (letters and four digits or more, ``RFC_ERROR``)
  4, other identifiers (a number, a token with a digit, a host name) 2.5,
  product names and acronyms (``VPN``, ``TextLink``) 1.5, content words 1,
  compared by a crude stem (an ending cut, then five letters: "printer" meets
  "prints");
- names the concepts of each mail with ``mailgate/data/repeat_concepts.toml``: a
  topic (printer, VPN, e-mail, payment terminal ...) and a symptom (down, slow, not
  arriving ...), in any of the twelve languages' words. A shared topic AND symptom
  ("Pinnen lukt niet" / "Storing betaalautomaten"), or a shared symptom alone in a
  colleague's report within ``near``, counts as shared terms (2 each)
  and lowers the bar to 0.2; one topic with symptoms of no common family ("VPN slow" /
  "VPN certificate expiring") raises it by 0.15;
- scores the weight both mails share, half against the smaller mail (a short
  reminder is all repeat) and half against both (a long pair must share much);
- asks 0.5 of that score, less with a shared code or identifier, much less for
  a follow-up ("still", "any news?", a "Re:" subject without references,
  a colleague's "for me too") or a subject that names only what the first mail
  is about (only its identifier: "jhub-02", 0.15); more when the second mail reports
  no problem (it asks for something), when its subject names other things, or when
  both name different numbers (two orders, two error codes); never a merge when it
  announces another matter ("separate issue", "apart from that", "not related to").

A pair reaching the bar merges only on strong evidence (``_strong``: a shared code,
near-identical text, the same identifier with the same symptom or a follow-up, an
explicit back-reference or a persisting problem with a shared thing; ``_at_once``: the same
sender or a colleague within the hour naming an identifier or product name of the first
mail); otherwise it is
linked, and a second mail saying the first problem is over ("works again") never merges.
The same sender's follow-up ("any news?", "still not working") within ``FOLLOWS_WITHIN``
(12 hours) is linked even when it shares no word with the first mail.
A false merge is worse than a missed one: the bar is high, and every verdict
carries its score, what moved the bar and the shared terms. A pair below the
bar may still be ``related`` (linked with a notice, not merged): its score
reaches ``LINK`` of the bar with a shared identifier or two shared terms, or
the second mail reports a problem within ``near`` of the first, from a
colleague (one outage, two reporters, often no shared word) or from the same
sender with a shared term. Tuned on ``tests/data/repeats/tune.jsonl``, ``tune2.jsonl``
and ``tune3.jsonl``; measured on the evaluation part by ``bench/repeats.py``.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import NamedTuple

from mailgate import cjk
from mailgate.assettags import thing_tags
from mailgate.contextids import context_ids
from mailgate.memo import memo
from mailgate.refs import normalize_subject

_TOKEN = re.compile(r"[^\W_](?:[\w.\-]*[^\W_])?")
_TIME = re.compile(r"^\d{1,2}[:.h]\d{2}$|^\d{1,2}(am|pm|uhr|h)$")
_DATE = re.compile(r"^\d{1,2}[./-]\d{1,2}([./-]\d{2,4})?$|^(19|20)\d\d([./-]\d{1,2})*$")
_REPLY = re.compile(r"^\s*(re|aw|sv|vs|antw|ang|odp|ha|ответ)\s*:",
                    re.IGNORECASE)
_PHONE = re.compile(r"\+?\d[\d ()/-]{7,}\d")
_PLURAL = re.compile(r"^(\d{3,})s$")
_NAMED_NUMBER = re.compile(r"^[^\W\d_]+\d+$")  # letters then digits: gw2, srv01, p01
_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+\.[a-z]{2,6}$")
STEM = 5
#: A pair not sure enough to merge is linked when its score reaches this share of the bar.
LINK = 0.6
NEAR = timedelta(minutes=30)
NEAR_TEXT = "30 minutes"
CODE, IDENT, NAME, WORD = 4.0, 2.5, 1.5, 1.0
#: Endings cut before the first five letters are kept ("signing" meets "sign"), longest
#: first; only when four letters stay.
_ENDINGS = tuple(sorted([
    "ing", "ings", "ed", "es", "s", "er", "ers", "ly", "en", "ern", "e", "ar", "or", "na",
    "et", "ov", "ами", "ями", "ого", "его", "ому", "ему", "ой", "ей", "ых", "их", "ые", "ие",
    "ая", "яя", "ую", "ом", "ем", "ах", "ях", "ам", "ям", "ов", "ев", "ы", "и", "а", "я", "у",
    "ю", "е", "о", "ь", "ть", "ться", "ет", "ют", "ит", "ят", "ла", "ли", "ло"],
    key=len, reverse=True))


@dataclass(frozen=True)
class Mail:
    """One mail as the comparison sees it."""

    sender: str
    subject: str
    text: str
    at: datetime | None = None
    cites: bool = False  # has In-Reply-To/References (to a mail we do not know)


@dataclass(frozen=True)
class Verdict:
    """Same problem or not, the score that decided and why (for the ticket's event)."""

    same: bool
    score: float
    reason: str
    related: bool = False  # not sure enough to merge, likely enough to link with a notice
    #: What the pair scorer (``mailgate.pairscore``) weighs, named by ``FEATURES``; empty
    #: when the second mail announces another matter.
    features: tuple[float, ...] = ()
    #: It reaches the bar with enough shared, neither says the first problem is over nor
    #: asks for something new, nor names identifiers of its own only: the pair scorer may
    #: merge it without strong evidence.
    mergeable: bool = False


@dataclass
class _Terms:
    weights: dict[str, float] = field(default_factory=dict)
    idents: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    #: identifiers of the request's context (an order, a booking: ``mailgate.contextids``)
    context: set[str] = field(default_factory=set)

    def add(self, term: str, weight: float) -> None:
        self.weights[term] = max(weight, self.weights.get(term, 0.0))
        if weight >= IDENT:
            self.idents.add(term)
        if weight >= CODE:
            self.codes.add(term)

    def demote(self, term: str) -> None:
        """Count ``term`` as an identifier of a thing, not an error code: as distinctive
        (its weight stays), but no evidence of one problem on its own."""
        self.codes.discard(term)

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def copy(self) -> _Terms:
        return _Terms(dict(self.weights), set(self.idents), set(self.codes), set(self.context))


@cache
def _words() -> tuple[frozenset[str], frozenset[str], tuple[str, ...], tuple[str, ...],
                     tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...],
                     tuple[str, ...], tuple[str, ...]]:
    """Stop words (whole and stemmed), closings, new-topic, follow-up, problem (with the
    negations), same-here, resolved and request phrases, and the problem phrases without
    the negations."""
    text = resources.files("mailgate.data").joinpath("repeat_words.toml").read_text("utf-8")
    data = tomllib.loads(text)
    stop = frozenset(w for lang in data["stop"].values() for w in lang.split())
    closings = tuple(line.strip() for line in data["closings"]["all"].splitlines()
                     if line.strip())
    topics, follow, problem, negation, same, resolved, request = (
        tuple(line.strip() for line in data[key]["all"].splitlines() if line.strip())
        for key in ("new_topic", "follow_up", "problem", "negation", "same_here", "resolved",
                    "request"))
    return (stop, frozenset(stem(w) for w in stop if len(w) >= 4), closings, topics, follow,
            problem + negation, same, resolved, request, problem)


@cache
def _legal_forms() -> frozenset[str]:
    """Companies' legal forms ("ООО", "GmbH", "AB"; ``[stop] companies`` of
    ``repeat_words.toml``): stop words even when written like a product name."""
    text = resources.files("mailgate.data").joinpath("repeat_words.toml").read_text("utf-8")
    return frozenset(tomllib.loads(text)["stop"]["companies"].split())


@dataclass(frozen=True)
class Concepts:
    """The topics (the printer, e-mail) and symptoms (down, slow) a mail names."""

    topics: frozenset[str]
    symptoms: frozenset[str]


@cache
def _concept_data() -> dict[str, dict[str, str]]:
    text = resources.files("mailgate.data").joinpath("repeat_concepts.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def _lexicon() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(kind, name, pattern) per concept of ``mailgate/data/repeat_concepts.toml``."""
    found = []
    for kind in ("topic", "symptom"):
        for name, words in _concept_data()[kind].items():
            entries = [e.strip() for e in re.split(r"[,\n]", words) if e.strip()]
            alternatives = sorted((r"\s+".join(re.escape(w.rstrip("*")) + (r"\w*" if
                                   w.endswith("*") else "") for w in entry.split())
                                   for entry in entries if not cjk.has_cjk(entry)),
                                  key=len, reverse=True)
            # CJK words are found inside runs: these languages join words without spaces
            inside = sorted((re.escape(e.rstrip("*")) for e in entries if cjk.has_cjk(e)),
                            key=len, reverse=True)
            either = [rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)"] * bool(alternatives) + \
                [f"(?:{'|'.join(inside)})"] * bool(inside)
            found.append((kind, name, re.compile("|".join(either))))
    return tuple(found)


class _Starts(NamedTuple):
    """Which concepts of ``_lexicon`` a word may begin a match of (see ``_lexicon_starts``)."""

    exact: dict[str, frozenset[int]]  # the whole word ("printer", the "wi" of "wi-fi")
    #: a word's start ("print" of "print*"): the longest one found at a word's start
    #: stands for every shorter one it begins with
    prefix: re.Pattern[str]
    below: dict[str, frozenset[int]]  # per such start, its concepts and the shorter ones'
    cjk: frozenset[int]  # concepts with CJK entries: tried on any text with CJK


@cache
def _lexicon_starts() -> _Starts:
    """The words that can begin a match of each concept of ``_lexicon``. Every entry starts
    with a word character and matches at a word's start, so a concept is only tried on a
    text with such a word: its entry's leading word (up to the first non-word character) or,
    where that ends in ``*``, a word beginning so. 47 patterns of ~50 alternatives each,
    tried at every position of the text, were a third of the repeat step's time."""
    exact: dict[str, set[int]] = {}
    prefix: dict[str, set[int]] = {}
    with_cjk: set[int] = set()
    kinds = [words for kind in ("topic", "symptom") for words in _concept_data()[kind].values()]
    for index, words in enumerate(kinds):
        for entry in (e.strip() for e in re.split(r"[,\n]", words) if e.strip()):
            if cjk.has_cjk(entry):
                with_cjk.add(index)
                continue
            lead = re.match(r"\w+", entry)
            if lead is None:  # (none today) tried on every text
                prefix.setdefault("", set()).add(index)
            elif entry[lead.end():lead.end() + 1] == "*":
                prefix.setdefault(lead.group(0), set()).add(index)
            else:
                exact.setdefault(lead.group(0), set()).add(index)
    below = {key: frozenset(i for end in range(len(key) + 1)
                            for i in prefix.get(key[:end], ())) for key in prefix}
    longest_first = sorted(prefix, key=len, reverse=True)
    pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, longest_first))})")
    return _Starts({k: frozenset(v) for k, v in exact.items()}, pattern, below,
                   frozenset(with_cjk))


def _candidates(low: str) -> set[int]:
    """The concepts of ``_lexicon`` that may match in ``low`` (``_lexicon_starts``)."""
    starts = _lexicon_starts()
    found: set[int] = set(starts.cjk) if cjk.has_cjk(low) else set()
    exact, below = starts.exact, starts.below
    for word in set(_WORD.findall(low)):
        found.update(exact.get(word, ()))
    for key in set(starts.prefix.findall(low)):
        found.update(below[key])
    return found


_WORD = re.compile(r"\w+")


@memo(maxsize=128, max_chars=32_768)  # an open ticket's first mail meets each new mail
def concepts(text: str) -> Concepts:
    """The concepts a text names (any of their words, in any of the lexicon's languages).
    A symptom is not read inside an asset name: the "LAG" of ZEBRA-LAG-02 (a warehouse,
    "Lager") said "slow" of a printer nobody called slow (user7 U7)."""
    low = cjk.spaced(text[:20_000].casefold().replace("’", "'"))
    plain = _ASSET.sub(_unnamed, low)
    lexicon = _lexicon()
    named = [lexicon[i][:2] for i in sorted(_candidates(low))
             if lexicon[i][2].search(plain if lexicon[i][0] == "symptom" else low)]
    return Concepts(frozenset(n for k, n in named if k == "topic"),
                    frozenset(n for k, n in named if k == "symptom"))


#: An asset or host name of hyphen-joined parts with a digit (zebra-lag-02, prn-emp-01).
_ASSET = re.compile(r"(?<![\w-])[^\W_]+(?:-[^\W_]+)+(?![\w-])")


def _unnamed(found: re.Match[str]) -> str:
    """An asset name's parts with letters blanked out (its numbers kept: "http-503"), the
    name as it is when it has no digit ("wi-fi", "e-mail")."""
    name = found.group(0)
    if not any(c.isdigit() for c in name):
        return name
    return "-".join(p if p.isdigit() else " " * len(p) for p in name.split("-"))


def families(symptoms: frozenset[str]) -> set[str]:
    """The families of symptoms (one failure seen from different sides); a symptom of no
    family is its own."""
    table = _concept_data()["family"]
    return {family for family, members in table.items() for s in symptoms
            if s in members.split()} | {s for s in symptoms
                                        if not any(s in m.split() for m in table.values())}


def body_of(text: str) -> str:
    """The text above the first closing formula (the signature is not the problem)."""
    closings = _words()[2]
    kept: list[str] = []
    lines = _PHONE.sub(" ", text).splitlines()
    while lines and (not lines[0].strip() or _greeting(lines[0])):
        lines.pop(0)
    for line in lines:
        low = line.strip().casefold()
        if kept and low and len(low) < 40 and low.startswith(closings):
            break
        kept.append(line)
    while kept and (not kept[-1].strip() or _signed(kept[-1])):
        kept.pop()
    return "\n".join(kept)


def without_common_tail(first: str, second: str) -> tuple[str, str]:
    """Both texts without the last lines they share word for word: a signature, an
    antivirus footer, an inline logo's ``[cid:image001.png@01DA4C2E.5E1A3B90]`` is the
    sender's, not the problem's (eighth session: a shared logo was "a shared code").
    Each text keeps its first line, so a mail sent twice stays alike."""
    a, b = first.rstrip().splitlines(), second.rstrip().splitlines()
    while len(a) > 1 and len(b) > 1 and \
            " ".join(a[-1].split()).casefold() == " ".join(b[-1].split()).casefold():
        a.pop()
        b.pop()
        while len(a) > 1 and not a[-1].strip():
            a.pop()
        while len(b) > 1 and not b[-1].strip():
            b.pop()
    return "\n".join(a), "\n".join(b)


def _greeting(line: str) -> bool:
    """A first line such as "Hi team," or "Guten Tag!": no part of the problem."""
    words = line.split()
    return 0 < len(words) <= 4 and line.rstrip().endswith((",", "!")) and \
        not any(c.isdigit() for c in line)


def _signed(line: str) -> bool:
    """A short trailing line of capitalised words: a name, a company, a department."""
    words = line.replace(",", " ").split()
    return (0 < len(words) <= 4 and all(w[:1].isupper() and w.isalpha() for w in words)) \
        or cjk.name_line(line)


def terms(text: str, own: frozenset[str] = frozenset()) -> _Terms:
    """The weighted terms of a text, without the words in ``own`` (the senders' names): a
    copy of the remembered ones (the caller may add to them). One comparison reads the
    same texts' terms several times over (the subjects, the first mail's text in
    ``compare`` and in the checks before it), and an open ticket's first mail meets each
    new mail of its requester."""
    if len(text) > TERMS_MEMO_CHARS:
        return _terms(text, own)
    return _remembered_terms(text, own).copy()


TERMS_MEMO_CHARS = 32_768  # longer texts are not remembered (``mailgate.memo``'s reason)


def _terms(text: str, own: frozenset[str]) -> _Terms:
    stop = _words()[0]
    found = _Terms()
    text = text[:20_000]
    any_cjk = cjk.has_cjk(text)  # (per token only then: most mails have none)
    for whole in _TOKEN.findall(text):
        if any_cjk and cjk.has_cjk(whole):  # no spaces between words: bigrams, runs (cjk)
            for term, weight in cjk.terms(whole, stop):
                if term not in stop:
                    found.add(term, weight)
            for other in cjk.others(whole):
                _add(found, other, own)
            continue
        # (a token holds no ":" or "/": only a hyphen splits it)
        parts = [whole] if "-" not in whole or _kind(whole, whole.casefold()) >= IDENT else \
            [p for p in whole.split("-") if p]
        for raw in parts:
            _add(found, raw, own)
    for tag in thing_tags(text) & found.codes:  # "für meinen LT-0815": a thing (user8 U3)
        found.demote(tag)
    for number in context_ids(text) & found.idents:  # "my order 100482": the context
        found.demote(number)
        found.context.add(number)
    return found


_remembered_terms = lru_cache(maxsize=256)(_terms)


#: English ordinals ("1st", "3rd", "21st"): two colleagues on "the 3rd floor" share a floor
_ORDINAL = re.compile(r"^\d{1,3}(?:st|nd|rd|th)$")


def _add(found: _Terms, raw: str, own: frozenset[str]) -> None:
    """Add the terms of one token, unless it is (or, a word, holds) a sender's name."""
    info = _token_terms(raw)
    if info is None:
        return
    token, parts, adds = info
    if token in own or (parts and any(part in own for part in parts)):
        return
    for term, weight in adds:
        found.add(term, weight)


@memo(maxsize=1 << 15, max_chars=64)  # a mail's ~700 tokens are mostly words seen before
def _token_terms(raw: str) -> tuple[str, tuple[str, ...], tuple[tuple[str, float], ...]] | None:
    """What one token adds, whoever wrote it: (the token folded, the parts of a dotted word
    or address a sender's name is looked for in, its (term, weight)s); None for nothing."""
    stop, stop_stems = _words()[:2]
    token = raw.casefold().strip(".:/-")
    if not token:
        return None
    if _ORDINAL.match(token):  # "3rd floor", "2nd", "21st": a place in a list, no identifier
        return None
    kind = _kind(raw, token)
    parts = tuple(re.split(r"[.@]", token)) if kind < IDENT and (
        "." in token or "@" in token) else ()  # (without either, the token itself)
    adds: list[tuple[str, float]] = []
    if kind >= IDENT:
        term = _PLURAL.sub(r"\1", token)  # "502s" meets "502"
        label = term.split(".")[0]
        if _HOST.match(term) and any(c.isdigit() or c == "-" for c in label):
            term = label  # db01.example.com meets db01
        adds.append((term, kind))
        for part in term.split("-")[1:] if "." not in term else ():
            if len(part) >= 3 and _NAMED_NUMBER.match(part):
                adds.append((part, IDENT))  # vpn-gw2 meets gw2
    elif kind == NAME and token not in _legal_forms():  # "ООО", "GmbH" name no product
        adds.append((token[:STEM + 1], NAME))
    elif kind == WORD and token not in stop:
        stemmed = stem(token)
        if stemmed not in stop_stems:
            adds.append((stemmed, WORD))
    return token, parts, tuple(adds)


@memo(maxsize=1 << 14, max_chars=64)  # words repeat: each is tried against ~60 endings
def stem(word: str) -> str:
    """A crude stem: a common ending cut, then the first five letters."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[:-len(ending)][:STEM]
    return word[:STEM]


@memo(maxsize=1 << 14, max_chars=128)  # pure, and the same tokens come back in mails
def _kind(raw: str, token: str) -> float:
    """IDENT, NAME, WORD, or 0 for a token that says nothing."""
    if any(c.isdigit() for c in token):
        if _TIME.match(token) or _DATE.match(token) or (token.isdigit() and len(token) < 3):
            return 0.0
        if len(token) < 3:
            return 0.0
        if not any(c.isalpha() for c in token):
            return IDENT  # an order, invoice or customer number: a thing, not a symptom
        return CODE if sum(c.isdigit() for c in token) >= 4 else IDENT
    if _HOST.match(token):
        return IDENT
    if "_" in token.strip("_") or (raw.isupper() and len(raw) >= 9):
        return CODE  # RFC_ERROR_COMMUNICATION, ACCESS_DENIED
    letters = raw.replace("-", "")
    if letters.isalpha() and 2 <= len(letters) <= 8 and letters.isupper():
        return NAME  # VPN, DATEV, SAP
    if letters.isalpha() and any(c.isupper() for c in letters[1:]) and len(letters) >= 4:
        return NAME  # TextLink, OneDrive
    return WORD if len(token) >= 4 and token.isalpha() else 0.0


def own_words(*senders: str) -> frozenset[str]:
    """Parts of the senders' addresses: names and company domains are in every mail."""
    parts: set[str] = set()
    for sender in senders:
        local, _, domain = sender.casefold().rpartition("@")
        parts.update(p for p in re.split(r"[.\-_+]", local) if len(p) > 2)
        parts.update(p for p in re.split(r"[.\-]", domain) if len(p) > 3)
        parts.add(domain)
    return frozenset(parts)


def new_topic(text: str) -> str | None:
    """A phrase announcing another matter, if the text has one."""
    return _phrase(text, _words()[3])


def follow_up(text: str) -> str | None:
    """A phrase following up an earlier report ("still", "any news"), if the text has one."""
    return _phrase(text, _words()[4])


def _phrase(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first phrase found: ``*`` at its end matches a word's start, ``.`` a clause's
    end."""
    low, clauses = _spaced(text)
    words: set[str] | None = None
    for needle, name, first in _needles(phrases):
        if first is not None:  # a cheap look for its first word before the search
            if words is None:
                words = set(low.split())
            if first not in words:
                continue
        if needle in low if isinstance(needle, str) else needle.search(clauses):
            return name
    return None


@memo(maxsize=64, max_chars=32_768)  # one mail is searched for several phrase lists
def _spaced(text: str) -> tuple[str, str]:
    """The text's words between spaces, and its words and clause marks between spaces."""
    folded = text.casefold()
    return (" " + " ".join(re.findall(r"[\w'’-]+", folded)) + " ",
            " " + " ".join(re.findall(r"[\w'’-]+|[.!?;,)]", folded)) + " . ")


@cache
def _needles(phrases: tuple[str, ...]) -> tuple[tuple[str | re.Pattern[str], str, str | None],
                                                ...]:
    """What to look for per phrase (a substring of the spaced words, or a pattern of the
    clauses for a phrase ending a clause), with the phrase's name and the whole word the
    spaced words must hold for it to be there (None: not known, search)."""
    found: list[tuple[str | re.Pattern[str], str, str | None]] = []
    for phrase in phrases:
        name = phrase.rstrip("*.")
        if cjk.needle(phrase):  # inside a run of CJK words: no spaces around it
            found.append((name, name, None))
        elif phrase.endswith("*"):
            found.append((f" {phrase[:-1]}", name, _first_word(phrase[:-1], whole=False)))
        elif phrase.endswith("."):
            found.append((re.compile(rf" {re.escape(phrase[:-1])} [.!?;,)] "), name,
                          _first_word(phrase[:-1])))
        else:
            found.append((f" {phrase} ", name, _first_word(phrase)))
    return tuple(found)


def _first_word(phrase: str, whole: bool = True) -> str | None:
    """The first word of a phrase that stands whole in the spaced words wherever the phrase
    does: any but the last of a ``*`` phrase (which matches a word's start)."""
    words = phrase.split(" ")
    if not words[0] or (len(words) == 1 and not whole):
        return None
    return words[0]


def _overlap(a: _Terms, b: _Terms) -> tuple[float, float, list[str]]:
    """(shared weight / smaller total, shared weight / union total, shared terms)."""
    shared = sorted(set(a.weights) & set(b.weights), key=lambda t: (-a.weights[t], t))
    weight = sum(min(a.weights[t], b.weights[t]) for t in shared)
    small = min(a.total, b.total)
    union = a.total + b.total - weight
    return (weight / small if small else 0.0, weight / union if union else 0.0, shared)


def compare(first: Mail, second: Mail, near: timedelta = NEAR) -> Verdict:
    """Whether ``second`` reports the problem ``first`` reported, with score and reason;
    when not sure enough to merge, whether it is likely enough to link (``related``)."""
    own = own_words(first.sender, second.sender)
    other = new_topic(second.text) or new_topic(second.subject)
    if other:
        return Verdict(False, 0.0, f"announces another matter ({other!r})")
    text1, text2 = without_common_tail(first.text, second.text)
    a = terms(f"{first.subject}\n{body_of(text1)}", own)
    b = terms(f"{second.subject}\n{body_of(text2)}", own)
    # a reply's subject repeats the first mail's words ("Re: Bikes stay lent out"): its
    # "stay", "still" or "again" are the first mail's, not a follow-up (eighth session)
    said = f"{'' if _same_subject(first, second) else second.subject}\n{body_of(text2)}"
    cue = follow_up(said) or \
        ("a reply to an earlier mail"
         if is_reply(second.subject) and not second.cites else None)
    colleague = first.sender.casefold() != second.sender.casefold()
    if cue is None and colleague:
        cue = _phrase(said, _words()[6])  # a colleague: "for me too"
    ca = concepts(f"{first.subject}\n{body_of(text1)}")
    cb = concepts(said)
    soon = _hours(first, second) * 3600 <= near.total_seconds()
    clash = _weigh_concepts(ca, cb, a, b, colleague and soon)
    small, union, shared = _overlap(a, b)
    score = (small + union) / 2
    topic = terms(second.subject, own)
    need, why = _need(first, second, a, b, cue, topic, bool(cb.symptoms))
    if clash:
        need, why = need + CLASH, f"{why}, {clash}"
    idents = a.idents & b.idents
    matched = any(t.startswith("[") for t in shared)  # the same thing and symptom
    close = cue or matched or about(topic, a)
    same = round(score, 6) >= round(need, 6) and \
        (bool(idents) or len(shared) >= (2 if close else 3))
    reason = _reason(score, need, why, shared, cue)
    resolved = _phrase(said, _words()[7]) if same else None
    asks = None if resolved or not same else asks_anew(said)
    pair = _Pair(first, second, a, b, ca, cb, score - need, cue, clash, said, score, topic,
                 terms(first.subject, own), _problem(said))
    verdict = _rules(same, score, reason, pair, resolved, asks, colleague, soon)
    other = someone_else(first, second) if same or verdict.same else None
    if other and verdict.same:
        verdict = replace(verdict, same=False, related=True,
                          reason=f"{reason}; related: {other} (linked, not merged)")
    return replace(verdict, features=features(pair),
                   mergeable=same and not (resolved or asks or other or _own_things(a, b)
                                           or _asks_only(pair)))


def shares_something(verdict: Verdict) -> bool:
    """Whether the two mails share a term (a code, an identifier, a product name, a content
    word) or a concept (a topic; a symptom only where ``compare`` counts one alone: a
    colleague's within ``near``): a link needs one, whatever the pair scorer says (its "p
    0.90 ... shared: nothing" linked one sender's VPN drops and unreachable shared drive,
    both "down"; user7 U7)."""
    named = dict(zip(FEATURES, verdict.features, strict=False))
    return any(named.get(name) for name in ("codes", "idents", "names", "words", "topic")) \
        or bool(named.get("symptom") and named.get("colleague") and named.get("minutes"))


def _own_things(a: _Terms, b: _Terms) -> bool:
    """Whether the second mail names identifiers of its own (a host, a code, a number)
    and none of the first's: a reminder names the same thing or none, another story its
    own ("db01 backup still failing" after "eMAR not loading", ninth session's stress
    test). The pair scorer does not merge such a pair."""
    return bool(b.idents - a.idents) and not a.idents & b.idents


@dataclass(frozen=True)
class _Pair:
    """What ``compare`` worked out of a pair, for the hand rules and the pair scorer."""

    first: Mail
    second: Mail
    a: _Terms
    b: _Terms
    ca: Concepts
    cb: Concepts
    margin: float  # the score minus the bar
    cue: str | None
    clash: str | None
    said: str  # the second mail's subject (unless the first's) and body
    score: float
    subject: _Terms  # the second mail's subject
    first_subject: _Terms
    reports: bool  # the second mail reports a problem (a phrase of ``[problem]``)


#: The names of ``features``, in order (``mailgate/data/repeat_scorer.json`` weighs them).
FEATURES = ("score", "margin", "codes", "idents", "names", "words", "topic", "symptom",
            "apart", "cue", "persists", "colleague", "minutes", "hours", "first_reports",
            "second_reports", "subject_about", "subject_elsewhere", "subject_shared",
            "same_subject", "length_ratio", "other_numbers")
#: The features that say what two mails share, not when or how they were written: the
#: pair scorer merges on these alone (``mailgate.pairscore.Scorer``).
CONTENT = ("score", "margin", "codes", "idents", "names", "words", "topic", "symptom",
           "apart", "subject_about", "subject_elsewhere", "subject_shared", "same_subject",
           "length_ratio", "other_numbers")


def features(pair: _Pair) -> tuple[float, ...]:
    """What carries across writers, as numbers: the shared evidence by kind (codes,
    identifiers, product names, words, concepts), the time gap, who writes, whether each
    mail reports a problem, how the subjects relate, how unequal the mails are."""
    a, b, ca, cb = pair.a, pair.b, pair.ca, pair.cb
    shared = set(a.weights) & set(b.weights)
    subject, first_subject = pair.subject, pair.first_subject
    both = set(subject.weights) | set(first_subject.weights)
    hours = _hours(pair.first, pair.second)
    persists = pair.cue in PERSISTS and _persisting(pair.said)
    return (pair.score, pair.margin, float(len(a.codes & b.codes)),
            float(min(len(a.idents & b.idents), 3)),
            float(min(sum(a.weights[t] == NAME for t in shared), 3)),
            float(min(sum(a.weights[t] == WORD for t in shared), 6)),
            float(bool(ca.topics & cb.topics)), float(bool(ca.symptoms & cb.symptoms)),
            float(bool(ca.symptoms and cb.symptoms and
                       not families(ca.symptoms) & families(cb.symptoms))),
            float(pair.cue is not None), float(persists),
            float(pair.first.sender.casefold() != pair.second.sender.casefold()),
            float(hours <= 0.5), min(hours, 72.0) / 24,
            float(_reports(pair.first.text)), float(pair.reports or bool(cb.symptoms)),
            float(about(subject, a)), float(elsewhere(subject, a)),
            len(set(subject.weights) & set(first_subject.weights)) / max(len(both), 1),
            float(_same_subject(pair.first, pair.second)),
            min(a.total, b.total) / max(a.total, b.total, 1.0),
            float(_numbered(a.idents) and _numbered(b.idents) and not a.idents & b.idents))


def _rules(same: bool, score: float, reason: str, pair: _Pair, resolved: str | None,
           asks: str | None, colleague: bool, soon: bool) -> Verdict:
    """The hand rules: merge on strong evidence, link what is likely, else a new ticket."""
    first, second, a, b, ca, cb = pair.first, pair.second, pair.a, pair.b, pair.ca, pair.cb
    cue, clash, said, need = pair.cue, pair.clash, pair.said, score - pair.margin
    shared = sorted(set(a.weights) & set(b.weights))
    idents = a.idents & b.idents
    if same:
        if asks:
            return Verdict(False, score, f"{reason}; related: it asks for something new "
                                         f"({asks!r}) (linked, not merged)", related=True)
        strong = None if resolved else \
            _strong(score, a, b, ca, cb, cue, bool(clash), said, pair.subject,
                    not colleague and _reports(first.text) and pair.reports, colleague) or \
            _at_once(pair, colleague) or _still_at_once(pair, colleague)
        if resolved:
            return Verdict(False, score, f"{reason}; related: it says the first problem is "
                                         f"over ({resolved!r}), so it reports another one "
                                         "(linked, not merged)", related=True)
        if strong and _asks_only(pair) and strong != "near-identical text":
            return Verdict(False, score, f"{reason}; related: it reports no problem, so "
                                         f"{strong} does not make it the same (linked, not "
                                         "merged)", related=True)
        if strong:
            return Verdict(True, score, f"{reason}; strong evidence: {strong}")
        # likely, not proven: a shared thing, a shared subject word or a "still" also tie
        # one sender's two problems (eighth session), and a false merge hides one
        return Verdict(False, score, f"{reason}; related: likely the same problem, but no "
                                     "strong evidence (linked, not merged)", related=True)
    still = _still_at_once(pair, colleague)
    if still:
        return Verdict(True, score, f"{reason}; strong evidence: {still}")
    link = _link(score, need, len(shared), bool(idents), cue, colleague,
                 pair.reports, soon, ca.topics & cb.topics) or \
        _follows(first, second, cue, said, clash)
    return Verdict(False, score, f"{reason}; {link}" if link else reason, related=bool(link))


#: How soon after the first mail a second one from the same organisation that reaches the
#: bar is the same report on a shared identifier or product name alone (``_at_once``).
AT_ONCE = timedelta(hours=1)


def _at_once(pair: _Pair, colleague: bool) -> str | None:
    """Strong evidence from time and content together, for a pair that reaches the bar:
    the same sender or a colleague writes within ``AT_ONCE`` of the first mail naming an
    identifier or product name of it ("eEkonomi", "srv-1c", "TS-CAD02"; a reworded repeat
    from another device, a second desk of one outage), with no clash of symptoms and no
    identifier of its own only. Not a two-letter acronym ("PC", "IT": anyone's). Not on
    shared concepts or words alone: a colleague's same thing with the same symptom within
    the hour ("e-mail not arriving"), or the same sender's same symptom with three shared
    words, merged 15 and 6 repeats of the tuning parts but 26 and 6 different stories of
    the stress test (``tools/repeat_pairs.py stress --per 8``; tenth session)."""
    first, second, a, b, ca, cb = pair.first, pair.second, pair.a, pair.b, pair.ca, pair.cb
    if pair.clash or _hours(first, second) * 3600 > AT_ONCE.total_seconds() or \
            _own_things(a, b) or (ca.symptoms and cb.symptoms and
                                  not families(ca.symptoms) & families(cb.symptoms)):
        return None
    shared = set(a.weights) & set(b.weights)
    named = sorted((a.idents & b.idents) - a.context - b.context) or sorted(
        t for t in shared if a.weights[t] == NAME and len(t) >= 3)
    if named:  # not an order's or a booking's number: every mail about it names it
        who = "a colleague" if colleague else "the same sender"
        return f"{who} within the hour, shared: {', '.join(named[:3])}"
    return None


#: How long a sender's follow-up ("still", "any news?", "Nachtrag") with no shared term
#: is linked to their open ticket: the same working day.
FOLLOWS_WITHIN = timedelta(hours=12)


def _follows(first: Mail, second: Mail, cue: str | None, said: str,
             clash: str | None) -> str | None:
    """Why a sender's mail that follows up an earlier one ("any news?", "still no calls")
    but shares too little to merge is linked to their open ticket, if it is: a reminder
    often names the problem in no word of the first mail."""
    if cue is None or clash or first.sender.casefold() != second.sender.casefold() or \
            _hours(first, second) * 3600 > FOLLOWS_WITHIN.total_seconds():
        return None
    if cue in PERSISTS and not (cue != "a reply to an earlier mail" and _still_wrong(said)):
        return None
    return f"related: the same sender follows up ({cue!r}) the same day"


#: A persistence word with a negation right after it: the fault persists ("immer noch nicht
#: öffnen", "still can't open", "toujours pas", "sigue sin", "nog steeds niet", "fortfarande
#: inte", "всё ещё не"; pt, it, pl too), in the seven languages of the lexicon and pt/it/pl.
_STILL_NOT = re.compile(
    r"(?<!\w)(?:still (?:not|no|nothing|unable|can't|cannot|can not|won't|doesn't|don't|"
    r"isn't|aren't|didn't|hasn't|haven't)|(?:immer noch|noch immer|weiterhin|nach wie vor) "
    r"(?:nicht|kein\w*|nichts)|(?:nog steeds|nog altijd) (?:niet|geen|niets)|"
    r"fortfarande (?:inte|ingen|inget|inga)|(?:всё ещё|все ещё|все еще|до сих пор|"
    r"по-прежнему|так и) (?:не|нет)|toujours (?:pas|rien|impossible)|"
    r"(?:sigue|siguen|sigo|seguimos) sin|(?:todavía|todavia|aún|aun) no|ainda não|"
    r"(?:continua|continuam) sem|ancora non|(?:nadal|wciąż|ciągle) nie)(?!\w)")


def still_not(text: str) -> bool:
    """Whether the text says a fault persists by a persistence word and a negation right
    after it ("Outlook lässt sich immer noch nicht öffnen"): no "still works", no "still
    has the old number" (user8 U12: such a reminder 4 s later was only linked)."""
    return bool(_STILL_NOT.search(" ".join(text.casefold().replace("’", "'").split())))


def _still_not_said(pair: _Pair) -> bool:
    """Whether the text says the fault persists ("Outlook lässt sich immer noch nicht
    öffnen") under a subject that reports a fault and names only what the first mail is
    about ("Outlook geht nicht"): a "still not" under a subject of its own matter ("Outlook
    Signatur": "immer noch nicht meine neue Signatur") is another request."""
    named = set(pair.subject.weights)
    return still_not(pair.said) and problem_reported(pair.second.subject) and \
        bool(named) and named <= set(pair.a.weights)


#: Words by which a mail asks for a new object ("eine zweite Dockingstation", "a new
#: wireless mouse", "une deuxième souris"), besides ``_ONE_MORE``'s "another", "noch eine".
_NEW_THING = re.compile(
    r"(?<!\w)(new|second|additional|extra|spare|neue[nmrs]?|zweite[nmrs]?|zusätzliche[nmrs]?|"
    r"nieuwe?|tweede|ny|nytt|nya|andra|новый|новая|новую|новое|второй|вторую|"
    r"nouveau|nouvelle|deuxième|seconde|supplémentaire|nuevo|nueva|segundo|segunda|"
    r"adicional|novo|nova|nuovo|nuova|secondo|seconda|nowy|nową|nowe|drugi|drugą)(?!\w)")


def _asks_only(pair: _Pair) -> bool:
    """Whether the second mail asks for something new and reports no problem (no problem
    phrase, no symptom of the lexicon), follows nothing up and has a subject of its own:
    "ich bräuchte für meinen LT-0815 noch eine zweite Dockingstation", "could you also
    send a new mouse for PC-0042?". A shared code or identifier then names the thing the
    request is for, not a problem it repeats: linked at most (user8 U3). Not a bare
    request about the first problem ("Need the key for RB-LT-0447 asap", tune4 g242): it
    asks for nothing new."""
    if pair.reports or pair.cb.symptoms or pair.cue or about(pair.subject, pair.a):
        return False
    text = body_of(pair.said).casefold()
    return bool(asks_anew(pair.said) or _ONE_MORE.search(text) or _NEW_THING.search(text))


#: A score this high is near-identical text: strong evidence on its own.
NEAR_IDENTICAL = 0.6


def _alike_beyond_context(a: _Terms, b: _Terms) -> bool:
    """Whether the two mails are near-identical with their context numbers counted as plain
    words: two short mails of one customer, each ending "Customer 5580331", are alike in
    that number, not in what they say (thirteenth session: three false merges of the
    retired blind part tune15, "Cliente 5501228", "avtal FTG-11287", "order FX-20931")."""
    if not (a.context & b.context):
        return True
    plain_a, plain_b = a.copy(), b.copy()
    for terms_ in (plain_a, plain_b):
        for number in terms_.context:
            terms_.weights[number] = min(terms_.weights[number], WORD)
    small, union, _shared = _overlap(plain_a, plain_b)
    return (small + union) / 2 >= NEAR_IDENTICAL
#: Follow-up words that also say "it persists" of anything ("still shows the old price"):
#: a back-reference only with a shared thing and symptom.
PERSISTS = frozenset({"still", "immer noch", "noch immer", "weiterhin", "nog steeds",
                      "nog altijd", "blijft", "blijven", "fortfarande", "så länge",
                      "всё ещё", "все еще", "до сих пор", "по-прежнему", "продолжа",
                      "toujours", "seguimos", "sigue sin", "todavía", "aún", "так и не", "to add",
                      "a reply to an earlier mail"})


#: The same in Portuguese, Italian and Polish ("continua sem receber", "ancora
#: inaccessibile", "nadal nic nie drukuje"; user7 U9): the concept lexicon does not know
#: these languages, a persisting problem with a shared thing does.
PERSISTS = PERSISTS | frozenset({"continua", "continuam", "ainda", "ancora", "nadal",
                                 "wciąż", "ciągle", "dalej"})
#: And in Japanese, Chinese and Korean ("まだ印刷できない", "还是打印不了", "아직도 인쇄가 안
#: 돼요"), found inside runs of characters (``_at_word``).
PERSISTS = PERSISTS | frozenset({"まだ", "相変わらず", "依然", "还是", "仍然", "还没",
                                 "아직", "여전히"})


#: A colleague's phrases that say "the same" outright; "also", "everyone" only with the
#: same symptom ("auch für den neuen Kollegen" is a request about the same printer).
SAMENESS = ("same", "gleich", "dasselbe", "zelfde", "samma", "то же", "mism", "même")
#: Words after a persistence word that say something still works ("still works for now").
_STILL_FINE = re.compile(r"^(works?|working|fine|ok|okay|funktioniert|geht|läuft|werkt|"
                         r"fungerar|funkar|работает|fonctionne|marche|funciona)\b")


#: "can" before a persistence word says something still works ("I can still open
#: SolidWorks"), unless a negation follows ("can still not log in", "können weiterhin
#: keine Karten einlesen").
_CAN = re.compile(r"^(can|could|kann|können|kan|kunnen|kun|puedo|podemos|puede|peux|"
                  r"pouvons|peut|могу|можем|может)$")
_NOT = re.compile(r"^(not|no|nothing|nicht|kein\w*|niet|geen|niks|inte|ingen|pas|ne|nada|"
                  r"не|нет|ни)\b")


def _strong(score: float, a: _Terms, b: _Terms, ca: Concepts, cb: Concepts,
            cue: str | None, clash: bool, said: str, subject: _Terms,
            both_report: bool = False, colleague: bool = False) -> str | None:
    """The strong evidence that two mails report one problem, if there is any: a shared
    error code; near-identical text; two shared identifiers; the same thing (an
    identifier) with the same symptom or a follow-up; a subject naming the first mail's
    identifier; (``both_report``: the same sender, both mails report a problem) a subject
    naming only the first mail's terms; an explicit back-reference, a problem said to
    persist ("still not printing"; with shared words only, not under a subject adding its
    own matter; not a colleague's "still" after their own attempt) or a colleague's "the
    same", with a shared thing. A generic code (``GENERIC_CODE``) counts only with another
    shared identifier or two shared words.
    Everything else is only likely."""
    codes, idents = a.codes & b.codes, a.idents & b.idents
    shared = set(a.weights) & set(b.weights)
    symptoms = ca.symptoms & cb.symptoms
    named = sorted(idents) or sorted(t for t in shared if a.weights[t] == NAME)
    thing = named or sorted(ca.topics & cb.topics)
    # two symptoms of no common family are two problems, whatever the thing
    apart = bool(ca.symptoms and cb.symptoms and not families(ca.symptoms) &
                 families(cb.symptoms))
    if codes and (len(idents) > len(codes) or len(shared - codes) >= 2 or
                  not all(GENERIC_CODE.fullmatch(c) for c in codes)):
        return f"a shared code ({sorted(codes)[0]})"
    if score >= NEAR_IDENTICAL and _alike_beyond_context(a, b):
        return "near-identical text"
    if clash:
        return None
    persists = cue if cue in PERSISTS and _persisting(said) else None
    echo = cue if cue in {p.rstrip("*.") for p in _words()[6]} else None
    back = cue if cue and not persists and not echo and cue not in PERSISTS else None
    # an order's, a booking's or a course's number is shared by every mail about it: no
    # evidence of one problem on its own (the same thing with a symptom still is, below)
    context = a.context | b.context | subject.context
    distinct = [i for i in idents - context if not any(i != j and i in j for j in idents)]
    if len(distinct) >= 2 and not apart:
        return f"two shared identifiers ({', '.join(sorted(distinct)[:2])})"
    if idents and (symptoms or back or persists):
        how = "the same symptom" if symptoms else f"a follow-up ({back or persists!r})"
        return f"the same thing ({sorted(idents)[0]}) with {how}"
    if subject.idents - context and about(subject, a) and \
            concepts(said.partition("\n")[0]).symptoms <= ca.symptoms:
        return f"its subject names the first mail's {sorted(subject.idents - context)[0]}"
    if both_report and named and about(subject, a) and not apart and \
            concepts(said.partition("\n")[0]).symptoms <= ca.symptoms:
        return "the same sender reports a problem under a subject naming only the first's terms"
    if back and thing and not apart:
        return f"a back-reference ({back!r}) with a shared thing ({thing[0]})"
    words = [t for t in shared if not t.startswith("[")]
    # a subject adding its own matter ("Portal - export to CSV broken" after "Portal - site
    # missing") ties a "still" to that matter: the shared words name only the thing
    adds = len(set(subject.weights) - set(a.weights)) >= 2
    if colleague and persists and _after_attempt(said):
        persists = None
    if persists and (named or (len(words) >= 3 and not adds)) and not apart:
        return f"the problem persists ({persists!r}), shared: {', '.join(sorted(words)[:3])}"
    if echo and thing and (symptoms or any(w in echo for w in SAMENESS)):
        return f"a colleague has the same ({echo!r}) with a shared thing ({thing[0]})"
    return None


#: Codes any program may raise for any fault (Windows "access denied", "unspecified
#: error"): they name the kind of failure, not which one (tenth session, tune10 q200).
GENERIC_CODE = re.compile(r"0x8007[0-9a-f]{4}|0x8000[0-9a-f]{4}|0x80004005")


#: What someone tried themselves ("swapped the roll", "neu gestartet"): a "still" right after
#: it says the fault survived the attempt, not that an earlier mail's problem persists.
_ATTEMPT = re.compile(
    r"(?<!\w)(swapped|replaced|changed|reinstalled|restarted|rebooted|reset|cleaned|"
    r"tried|unplugged|replugged|getauscht|gewechselt|ausgetauscht|neu gestartet|"
    r"neu installiert|versucht|probiert|vervangen|verwisseld|herstart|opnieuw|geprobeerd|"
    r"bytt|bytte|startade om|installerade om|provat|provade|testade|заменил\w*|"
    r"перезапустил\w*|переустановил\w*|пробовал\w*|remplacé|changé|redémarré|"
    r"réinstallé|essayé|cambiado|cambiamos|reiniciado|reiniciamos|reinstalado|probado)(?!\w)")


def _after_attempt(text: str) -> bool:
    """Whether a persistence word follows, in the same sentence, something the writer
    tried ("Driver swapped the roll, still blank"; tenth session, tune10 q077)."""
    for sentence in re.split(r"[.!?;\n]", text.casefold()):
        for word in PERSISTS - {"to add", "a reply to an earlier mail"}:
            found = re.search(_at_word(word, ""), sentence)
            if found and _ATTEMPT.search(sentence[:found.start()]):
                return True
    return False


def _at_word(word: str, rest: str = r"\w*") -> str:
    """A pattern finding ``word`` at a word's start (then ``rest``); a CJK word anywhere
    (no spaces between words there: "还是" in "财务那台打印机还是打印不了")."""
    if cjk.has_cjk(word):
        return re.escape(word)
    return rf"(?<!\w){re.escape(word)}{rest}"


_WAITING = re.compile(r"^(waiting|happening|the same|wartet|warte|passiert|wachten|"
                      r"väntar|ждём|ждем|attend|esperando|igual)\b")


def _still_wrong(text: str) -> bool:
    """Whether a persistence word is followed, within its clause's next three words, by
    a problem word, a "waiting" or nothing ("still not printing", "still waiting", "nog
    steeds."): "still has the old number" or "still sees it" say nothing of a problem."""
    low = text.casefold()
    for word in PERSISTS - {"to add", "a reply to an earlier mail"}:
        for found in re.finditer(_at_word(word), low):
            clause = re.split(r"[.!?;\n]", low[found.end():], maxsplit=1)[0]
            after = " ".join(re.findall(r"[\w'’-]+", clause)[:3])
            if not after or _WAITING.match(after) or _phrase(after, _words()[5]):
                return True
    return False


def _persisting(text: str) -> bool:
    """Whether a persistence word ("still", "nog steeds", "toujours") says a problem
    persists: not "still works" ("the old desktop still works for now")."""
    low = " ".join(re.findall(r"[\w'’-]+", text.casefold()))
    for word in PERSISTS - {"to add", "a reply to an earlier mail"}:
        for found in re.finditer(_at_word(word), low):
            before = low[:found.start()].split()[-1:]  # "fungerar fortfarande"
            after = low[found.end():].strip()
            if not _STILL_FINE.match(after) and \
                    not (before and _STILL_FINE.match(before[0])) and \
                    not (before and _CAN.match(before[0]) and not _NOT.match(after)):
                return True
    return False


def _reason(score: float, need: float, why: str, shared: list[str], cue: str | None) -> str:
    """The score, the bar and what moved it, the shared terms and concepts, the follow-up."""
    words = [t for t in shared if not t.startswith("[")]
    named = [t.strip("[]") for t in shared if t.startswith("[")]
    concepts_ = f"; shared concepts: {', '.join(named)}" if named else ""
    follows = f"; follows up ({cue!r})" if cue else ""
    return (f"score {score:.2f} (needs {need:.2f}{why}); shared: "
            f"{', '.join(words[:6]) or 'nothing'}{concepts_}{follows}")


#: The weight of each shared concept; the bar with shared concepts; the rise for one topic
#: with symptoms of no common family.
CONCEPT = 2.0
MATCH = 0.2
CLASH = 0.15


def _weigh_concepts(ca: Concepts, cb: Concepts, a: _Terms, b: _Terms,
                    symptom_alone: bool) -> str | None:
    """Count a shared topic and symptom (or, with ``symptom_alone``, a shared symptom: a
    colleague's within ``near``, one incident seen from two desks) as shared terms of both
    mails; say so when the two name one thing with other symptoms only (two problems of one
    product)."""
    topics, symptoms = ca.topics & cb.topics, ca.symptoms & cb.symptoms
    # two things named apart ("mail not coming in" / "calls not coming in") fail alike: a
    # shared symptom alone ties them only when one of the two names no thing (twelfth
    # session: a colleague's phones merged into another's mail on "외부 ... 수신")
    symptom_alone = symptom_alone and not (ca.topics and cb.topics and not topics)
    if symptoms and (topics or symptom_alone):
        for name in sorted(topics | symptoms):
            a.add(f"[{name}]", CONCEPT)
            b.add(f"[{name}]", CONCEPT)
        return None
    if topics and ca.symptoms and cb.symptoms and \
            not families(ca.symptoms) & families(cb.symptoms):
        return (f"the same {'/'.join(sorted(topics))}, other symptoms "
                f"({'/'.join(sorted(ca.symptoms))} against {'/'.join(sorted(cb.symptoms))})")
    return None


def _link(score: float, need: float, shared: int, idents: bool, cue: str | None,
          colleague: bool, reports: bool, soon: bool,
          topics: frozenset[str] = frozenset()) -> str | None:
    """Why a pair not sure enough to merge is likely enough to link, if it is. A report
    soon after the first needs a shared term or concept (``topics``: both name them), from
    a colleague too: one linked to a colleague's keyboard fault because it came within
    half an hour tells the customer a stranger's ticket number for nothing (user7 U7)."""
    if score >= LINK * need and (idents or shared >= 2):
        return f"related: the score reaches {LINK:.0%} of what a merge needs"
    if soon and (reports or cue) and (shared or idents or (colleague and topics)):
        who = "a colleague" if colleague else "the same sender"
        about = "" if shared or idents else f" (both about: {', '.join(sorted(topics))})"
        return f"related: {who} reports a problem within {NEAR_TEXT}{about}"
    return None


def _need(first: Mail, second: Mail, a: _Terms, b: _Terms, cue: str | None,
          topic: _Terms, symptom: bool = False) -> tuple[float, str]:
    """The score the pair needs, and what moved it from the plain 0.5 (``symptom``: the
    second mail names one of the lexicon's symptoms, so it reports a problem)."""
    shared = set(a.weights) & set(b.weights)
    codes, idents = a.codes & b.codes, a.idents & b.idents
    words = [t for t in shared if a.weights[t] == WORD]
    matched = [t for t in shared if t.startswith("[")]  # a shared topic and symptom
    need, why = (0.25, ", a shared code") if codes else \
        (0.35, ", a shared identifier") if idents and words else (0.5, "")
    reports = symptom or _phrase(f"{second.subject}\n{second.text}", _words()[5])
    if cue and (idents or len(shared) >= 2):
        need, why = min(need, 0.15), f"{why}, a follow-up"
    elif (reports or topic.idents) and about(topic, a):
        need = min(need, 0.15 if topic.idents else 0.2)  # "jhub-02", "403": a reminder
        why = f"{why}, its subject is what the first mail is about"
        reports = reports or "its subject names it"
    elif matched:
        need, why = min(need, MATCH), f"{why}, shared concepts"
    if not cue and not reports:
        need, why = need + 0.15, f"{why}, reports no problem"
    if not cue and not matched and elsewhere(topic, a):
        need, why = max(need, 0.5) + 0.2, f"{why}, its subject is about other things"
    if _numbered(a.idents) and _numbered(b.idents) and not idents:
        need, why = need + 0.15, f"{why}, other numbers"
    if not cue and first.sender.casefold() != second.sender.casefold():
        need, why = need + 0.1, f"{why}, another person"  # a colleague shares the account
    if _hours(first, second) > 12:
        need, why = need + 0.05, f"{why}, hours apart"
    return need, why


def asks_anew(text: str) -> str | None:
    """The phrase by which a mail asks for something new ("could you create", "nous
    souhaiterions"), when it reports no problem and follows nothing up: then it is another
    matter, whatever its subject (eighth session: "Re:" an old mail to ask for a course).
    A negation alone reports no problem ("Not urgent", "the new PC doesn't have any
    printers set up": tenth session, tune11 r033); a problem phrase or a symptom of the
    concept lexicon does ("druckt nicht", "won't start")."""
    if _phrase(text, _words()[9]) or follow_up(text) or concepts(text).symptoms:
        return None
    return _phrase(text, _words()[8])


def _problem(text: str) -> bool:
    """Whether the text reports something wrong (rather than asking for something)."""
    return _phrase(text, _words()[5]) is not None


@memo(maxsize=128, max_chars=32_768)  # an open ticket's first mail meets each new mail
def _reports(text: str) -> bool:
    """``_problem`` of a ticket's first mail, remembered."""
    return _problem(text)


def problem_reported(text: str) -> bool:
    """Whether the text reports something wrong: a problem phrase or a lexicon symptom."""
    return _problem(text) or bool(concepts(text).symptoms)


def _same_subject(first: Mail, second: Mail) -> bool:
    """Whether the second mail's subject is the first's, but for a "Re:" or "Fwd:"."""
    return " ".join(normalize_subject(second.subject).casefold().split()) == \
        " ".join(normalize_subject(first.subject).casefold().split())


def is_reply(subject: str) -> bool:
    """A "Re:" subject (in several languages): the sender answers a mail (a forward, "Fwd:",
    passes on someone else's mail, often another matter)."""
    return bool(_REPLY.match(subject))


def about(subject: _Terms, first: _Terms) -> bool:
    """Whether a subject names only what the first mail is about (an identifier of it, or
    two words or more, all found in it)."""
    return bool(subject.weights) and set(subject.weights) <= set(first.weights) and \
        (bool(subject.idents) or len(subject.weights) >= 2)


def elsewhere(subject: _Terms, first: _Terms) -> bool:
    """Whether a subject names other things (two terms or more, none of the first mail's)."""
    return len(subject.weights) >= 2 and not set(subject.weights) & set(first.weights)


def _numbered(idents: set[str]) -> bool:
    """Identifiers with four digits or more: error codes, invoice and order numbers."""
    return any(sum(c.isdigit() for c in ident) >= 4 for ident in idents)


def _hours(first: Mail, second: Mail) -> float:
    if first.at is None or second.at is None:
        return 0.0
    return abs((second.at - first.at).total_seconds()) / 3600


#: A word of a person's name: capitalised, then lower case ("Laura", "Ruiz", "Anna-Lena",
#: "O'Neill", "Петров"); a mail's tokens and clause marks, in order.
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'’-]*(?:[-'’][^\W\d_]+)*$")
_NAME_TOKENS = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*|[^\w\s]|\n")


@memo(maxsize=1 << 14, max_chars=64)  # names come back in every mail of a sender
def _folded(word: str) -> str:
    """A word without case and accents ("López" meets the address's "lopez")."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold())
                   if not unicodedata.combining(c))


@memo(maxsize=1 << 14, max_chars=64)  # asked of every word of a mail, and words repeat
def _title(word: str) -> bool:
    """Capitalised and then lower case, each part: "Laura", "Anna-Lena", "O'Neill"; not
    "VPN", "TextLink", "laura"."""
    parts = [p for p in re.split(r"[-'’]", word) if p]
    return sum(map(len, parts)) >= 2 and all(
        p[0].isupper() and not any(c.isupper() for c in p[1:]) for p in parts)


@memo(maxsize=4096, max_chars=64)  # 47 patterns searched per word otherwise
def _named_thing(word: str) -> bool:
    """Whether a word is one of the concept lexicon's topics ("Teams", "Outlook", "VPN"):
    "Microsoft Teams" is no one."""
    return any(kind == "topic" and pattern.search(word) for kind, _, pattern in _lexicon())


#: Words of a job or a place, not of a name ("Finance Manager", "Lift Ops Supervisor").
ROLES = frozenset({
    "manager", "officer", "supervisor", "director", "assistant", "coordinator", "admin",
    "administrator", "lead", "head", "team", "department", "office", "service", "desk",
    "support", "accounting", "finance", "sales", "reception", "leiter", "leiterin",
    "abteilung", "afdeling", "avdelning", "chef", "jefe", "jefa", "responsable",
    "directeur", "directrice", "directora", "gerente"})
#: Titles before a name ("Frau Schmidt", "Sr. Ruiz"): no part of it, no sentence start.
HONORIFICS = frozenset({
    "mr", "mrs", "ms", "miss", "dr", "prof", "herr", "herrn", "frau", "fräulein", "meneer",
    "mevrouw", "dhr", "mw", "hr", "fru", "señor", "señora", "sr", "sra", "srta", "don", "doña",
    "monsieur", "madame", "mademoiselle", "mme", "mlle", "signor", "signora", "sig", "pan",
    "pani", "господин", "госпожа"})


@memo(maxsize=128, max_chars=32_768)  # an open ticket's first mail meets each new mail
def people(text: str, sender: str = "") -> frozenset[tuple[str, ...]]:
    """The people a text names: two capitalised words or more in a row after a word in
    lower case ("para Marcos Ruiz", "for Tom Lund"; not where a sentence, a quote or a list
    starts: German capitalises nouns, and "'503 Service Unavailable'" is no one), none of
    them a stop word of ``repeat_words.toml``, a role ("Grants Officer") nor part of the
    sender's address ("Ana López" signs ana.lopez@); each name's words, folded (no case,
    no accents). The greeting and the signature (``body_of``) name nobody the mail is
    about."""
    stop, own = _words()[0], own_words(sender) if sender else frozenset()
    found: set[tuple[str, ...]] = set()
    run: list[str] = []
    before = "\n"
    for token in [*_NAME_TOKENS.findall(body_of(text)[:20_000]), "\n"]:
        if token.casefold() in HONORIFICS or (before.casefold() in HONORIFICS and
                                               token == "."):
            before = "a" if token != "." else before  # a name may start after a title
            continue
        if _NAME_WORD.match(token) and _title(token) and token.casefold() not in stop and \
                (run or (before[:1].islower() and before[:1].isalpha())):
            run.append(_folded(token))
        else:
            if len(run) >= 2 and not any(w in own or w in ROLES or _named_thing(w)
                                         for w in run):
                found.add(tuple(run))
            run = []
        before = token
    return frozenset(found)


#: "Another" before the thing asked for ("another account", "otra cuenta", "noch einen
#: Zugang", "nog een laptop", "en till användare", "ещё одну учётную запись").
_ONE_MORE = re.compile(
    r"(?<!\w)(another|one more|an additional|a further|noch (?:ein|eine|einen|einem)|"
    r"(?:ein|eine|einen) weitere[nrs]?|nog een|ook een|een extra|en till|ett till|"
    r"ytterligare (?:en|ett)|ещё (?:один|одна|одну|одно|одного)|еще (?:один|одна|одну|"
    r"одно|одного)|(?:un|une) autre|encore (?:un|une)|otra|otro|un altro|un'altra|"
    r"un altra|ancora (?:un|una|uno)|outra|outro|mais (?:um|uma)|jeszcze (?:jeden|jedno|"
    r"jedną|jedna)|kolejn[aey]|kolejną)(?!\w)")


def one_more(first: str, second: str) -> str | None:
    """The words by which ``second`` asks for one more of what ``first`` asked for ("y otra
    cuenta más" after "una cuenta para Laura Gil": two accounts, two people; user7 U6),
    when ``first`` reports no problem (a request: "another browser" in a follow-up of a
    fault is something tried). The thing is one of the next two words, in ``first`` by its
    stem."""
    if problem_reported(first):
        return None
    before = set(terms(body_of(first)).weights)
    low = body_of(second).casefold()
    for found in _ONE_MORE.finditer(low):
        for word in re.findall(r"[^\W\d_]+", low[found.end():])[:2]:
            if stem(word) in before:
                return f"{found.group(1)} {word}"
    return None


def other_people(first: Mail, second: Mail) -> str | None:
    """A person the second mail names (``people``) whom the first never mentions, when the
    first names one the second never mentions: "una cuenta para Laura Gil", then "otra
    cuenta más para Marcos Ruiz" under the same subject is two requests (user7 U6, user6
    F25), however alike the two texts."""
    def words(mail: Mail) -> set[str]:
        return {_folded(w) for w in re.findall(r"[^\W\d_]+", f"{mail.subject}\n{mail.text}")}

    new = sorted(n for n in people(second.text, second.sender)
                 if not set(n) & words(first))
    old = [n for n in people(first.text, first.sender) if not set(n) & words(second)]
    return " ".join(new[0]).title() if new and old else None


def someone_else(first: Mail, second: Mail) -> str | None:
    """What says the second mail is for someone else or asks for one more of what the first
    asked for: a person the first does not name, when the first names one the second does
    not (``other_people``), or "another account" after a request for an account
    (``one_more``; user7 U6). Then neither an equal subject, a near-identical text nor the
    pair scorer merges: two requests are linked at most."""
    person = other_people(first, second)
    if person:
        return f"it names another person ({person})"
    more = one_more(f"{first.subject}\n{first.text}", second.text)
    return f"it asks for one more ({more!r})" if more else None


def _still_at_once(pair: _Pair, colleague: bool) -> str | None:
    """Strong evidence from a persistence word, time and a shared thing, whatever the score:
    the same sender writes within ``AT_ONCE`` under a subject saying the problem persists
    (a persistence word with a fault word right after it: "Immer noch kein Outlook",
    "Teams inloggning fungerar fortfarande inte", "Celular continua sem receber e-mails"),
    or a text saying it with a negation right after the persistence word under a subject
    reporting a fault with only the first mail's terms (``_still_not_said``: "Outlook geht
    nicht" / "lässt sich immer noch nicht öffnen", user8 U12), and sharing a term with the
    first subject, both mails name one thing (an identifier, a
    product name of three letters or more, or a topic of the lexicon), with no clash of
    symptoms, no identifier of its own only, not "works again" nor a new request (user7 U9: such a
    reminder a minute later was only linked, two tickets and two SLA clocks)."""
    first, second, a, b, ca, cb = pair.first, pair.second, pair.a, pair.b, pair.ca, pair.cb
    if colleague or pair.clash or \
            _hours(first, second) * 3600 > AT_ONCE.total_seconds() or _own_things(a, b) or \
            (ca.symptoms and cb.symptoms and not families(ca.symptoms) & families(cb.symptoms)):
        return None
    # the subject itself says the fault persists, and names what the first subject did: a
    # "still" in the text only merged 81 other stories of the stress test, 10 with a subject
    # sharing a term ("Re: Card terminal declining" after "Card reader won't pair")
    if not (_still_wrong(second.subject) or _still_not_said(pair)) or \
            not set(pair.subject.weights) & set(pair.first_subject.weights):
        return None
    if _phrase(pair.said, _words()[7]) or asks_anew(pair.said):
        return None
    shared = set(a.weights) & set(b.weights)
    thing = sorted(a.idents & b.idents) or sorted(
        t for t in shared if a.weights[t] == NAME and len(t) >= 3) or sorted(
        ca.topics & cb.topics)
    if thing:
        return f"the same sender within the hour, still ({pair.cue!r}), shared: {thing[0]}"
    return None
