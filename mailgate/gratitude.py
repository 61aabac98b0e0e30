"""Tell a thank-you from a reply that needs work, so a closed ticket is reopened only when needed.

Why: a reply to a closed ticket reopens it unless it is only gratitude. A lost
reopen (a real problem classed as "thanks") is far worse than a needless one,
so the classifier is built for precision of the "thanks only" verdict: every
word of the new text must be accounted for by the lexicon (gratitude phrases,
pleasantries, success statements, greetings, sign-offs, the sender's name and
signature), nothing may be a marker (negation, "but", "still", error and
question words, in en/sv/ru/nl/de/fr/es), and there must be no question mark.
Anything unexplained means substantive.

The lexicon lives in ``mailgate/data/gratitude.toml`` (format documented
there); admins can add an extra file of the same format via
``GratitudeDetector.load(extra_file=...)``. Feed ``classify`` the output of
``mailgate.quotes.new_text``: quoted history is not this module's business.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mailgate.errors import ConfigError

KINDS = ("gratitude", "success", "filler", "greetings", "closings", "stopwords", "markers",
         "qualifiers")
_PRIORITY = {"markers": 5, "gratitude": 4, "closings": 3, "greetings": 2, "success": 1, "filler": 0}
_SETTINGS = {"max_chars": 600, "max_tokens": 60, "content_budget": 0, "success_budget": 2}
_CLAUSE_BREAK = re.compile(r"[.!;,:\n]")
_MAX_RAW = 20_000
_WORD = re.compile(r"[^\W_]+")
_SAD = re.compile("[😞😟😢😭😠😡☹🙁😕👎😩😫😤🤬😔😓😒]|[:;]-?\\(")
_URL = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)|(?:https?://|www\.)\S+|<?mailto:\S+"
                  r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\(?\d[\d ().\-/]{5,}\d")
_CONNECTORS = {"of", "and", "de", "van", "der", "den", "von", "la", "del", "y", "och", "und",
               "du", "da", "di", "le", "for", "fur", "at", "i", "и", "по", "в", "en", "et"}
_LABELS = {"tel", "phone", "mob", "mobile", "cell", "fax", "t", "m", "e", "w", "f", "p", "email",
           "mail", "web", "telefon", "mobil", "tfn", "vaxel", "direkt", "direct", "office", "тел",
           "моб", "телефон", "telefono", "movil", "telephone", "portable", "www", "gsm"}


@dataclass(frozen=True)
class Verdict:
    """Outcome of ``GratitudeDetector.classify``."""

    thanks_only: bool
    matched: tuple[str, ...]  # the gratitude phrases found
    reason: str  # e.g. "only gratitude: 'thank you'"


@dataclass(frozen=True)
class _Tok:
    norm: str  # folded form, compared with the lexicon
    orig: str
    start: int
    line: int
    sep: str  # text between the previous token and this one


def _fold(text: str) -> str:
    """Casefold, NFKC, drop accents (so "tack sa mycket" == "tack så mycket")."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    prev_end, line = 0, 0
    for m in _WORD.finditer(text):
        sep = text[prev_end : m.start()]
        line += sep.count("\n")
        norm = _fold(m.group())
        if norm == "t" and sep in ("'", "’") and out and out[-1].norm.endswith("n"):
            norm = "not"  # don't, doesn't, can't, won't
        out.append(_Tok(norm, m.group(), m.start(), line, sep))
        prev_end = m.end()
    return out


class GratitudeDetector:
    """Classifies the new text of a reply as thanks-only or substantive."""

    def __init__(self, lexicon: dict[str, list[str]], settings: dict[str, int]) -> None:
        self._phrases: dict[tuple[str, ...], tuple[str, str]] = {}  # words -> (kind, phrase)
        self._stop, self._markers, self._qualifiers = set[str](), set[str](), set[str]()
        prefixes: list[str] = []
        for kind in KINDS:
            for phrase in lexicon.get(kind, []):
                key = tuple(t.norm for t in _tokens(phrase))
                if not key:
                    continue
                if kind == "markers" and phrase.endswith("*") and len(key) == 1:
                    prefixes.append(key[0])
                elif kind == "qualifiers":
                    self._qualifiers.add(key[-1])  # a single word ("a veces" -> "veces")
                elif kind == "stopwords" and len(key) == 1:
                    self._stop.add(key[0])
                else:
                    if kind == "markers" and len(key) == 1:
                        self._markers.add(key[0])
                    kind = "filler" if kind == "stopwords" else kind
                    old = self._phrases.get(key)
                    if old is None or _PRIORITY[kind] > _PRIORITY[old[0]]:
                        self._phrases[key] = (kind, phrase)
        self._prefixes = tuple(prefixes)
        works = {k[0] for k, v in self._phrases.items() if v[0] == "success" and len(k) == 1}
        for key, (kind, phrase) in self._phrases.items():
            if kind == "filler" and works.intersection(key):  # "works fine" also says it works
                self._phrases[key] = ("success", phrase)
        self._maxlen = max((len(k) for k in self._phrases), default=1)
        self._lexicon_words = {w for key in self._phrases for w in key} | self._stop
        self.settings = {**_SETTINGS, **settings}

    @classmethod
    def load(cls, extra_file: str | Path | None = None) -> GratitudeDetector:
        """Build from the packaged lexicon plus an optional admin file of the same format."""
        raw = resources.files("mailgate").joinpath("data/gratitude.toml").read_bytes()
        lexicon: dict[str, list[str]] = {k: [] for k in KINDS}
        settings: dict[str, int] = {}
        sources = [("mailgate/data/gratitude.toml", tomllib.loads(raw.decode("utf-8")))]
        if extra_file is not None:
            path = Path(extra_file)
            try:
                sources.append((str(path), tomllib.loads(path.read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read gratitude lexicon: {exc}") from exc
        for name, data in sources:
            _merge(name, data, lexicon, settings)
        return cls(lexicon, settings)

    def classify(self, new_text: str) -> Verdict:
        """Decide whether ``new_text`` (quotes already stripped) is only gratitude."""
        try:
            return self._classify(new_text if isinstance(new_text, str) else str(new_text or ""))
        except Exception as exc:  # pragma: no cover - defensive: reopening is the safe default
            return Verdict(False, (), f"classifier error ({type(exc).__name__}): substantive")

    def _classify(self, text: str) -> Verdict:
        if len(text) > _MAX_RAW:
            return Verdict(False, (), f"too long for a thank-you ({len(text)} chars)")
        text = "\n".join(self._strip_signature(text.strip().splitlines())).strip()
        if not text:
            return Verdict(False, (), "empty reply: nothing but a signature or nothing at all")
        toks = _tokens(text)
        labels = self._label(toks)
        matched = tuple(dict.fromkeys(p for p, lab in labels if lab == "gratitude" and p))
        kinds = self._license([lab for _, lab in labels], toks)
        if not matched:
            return Verdict(False, (), "no gratitude phrase found")
        if _SAD.search(text):
            return Verdict(False, matched, "negative emoji or emoticon next to gratitude")
        if "?" in _URL.sub(" ", text) or "¿" in text:
            return Verdict(False, matched, "question mark: the customer is asking something")
        if len(text) > self.settings["max_chars"] or len(toks) > self.settings["max_tokens"]:
            return Verdict(False, matched, f"too long for a thank-you ({len(toks)} words)")
        markers = [i for i, k in enumerate(kinds) if k == "markers"]
        content = [i for i, k in enumerate(kinds) if k == "content"]
        if markers or len(content) > self.settings["content_budget"]:
            at = min(markers + content)
            while at and kinds[at - 1] == "stopwords":  # "The error is ..." not "error is ..."
                at -= 1
            where = "after" if any(k == "gratitude" for k in kinds[:at]) else "besides"
            excerpt = text[toks[at].start :].split("\n", 1)[0][:60].strip()
            return Verdict(False, matched, f"substantive text {where} gratitude: {excerpt!r}")
        return Verdict(True, matched, "only gratitude: " + ", ".join(repr(m) for m in matched))

    def _label(self, toks: list[_Tok]) -> list[tuple[str, str]]:
        """Label every token: (lexicon phrase or "", kind/"name"/"content")."""
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(toks):
            for size in range(min(self._maxlen, len(toks) - i), 0, -1):
                hit = self._phrases.get(tuple(t.norm for t in toks[i : i + size]))
                if hit:
                    out += [(hit[1], hit[0])] + [("", hit[0])] * (size - 1)
                    i += size
                    break
            else:
                out.append(("", self._single(toks[i].norm)))
                i += 1
        return self._names(toks, out)

    def _names(self, toks: list[_Tok], out: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Relabel as names capitalised runs after a greeting/closing/gratitude or at the end."""
        i = 0
        while i < len(toks):
            j = i
            while j < len(toks) and out[j][1] == "content" and self._name_like(toks[j]):
                j += 1
            if j == i:
                i += 1
                continue
            before = out[i - 1][1] if i else ""
            opener = before in ("greetings", "closings", "gratitude") and (
                toks[i - 1].line == toks[i].line)
            closed = j == len(toks) or toks[j].line != toks[j - 1].line or bool(
                re.search(r"[,!.:;)]", toks[j].sep))
            tail = j == len(toks) and (opener or before == "filler" or bool(
                re.search(r"[,/\-–—\n]", toks[i].sep)))
            if j - i <= 3 and ((opener and closed) or tail):
                out[i:j] = [("", "name")] * (j - i)
            i = j
        return out

    def _license(self, kinds: list[str], toks: list[_Tok]) -> list[str]:
        """Accept the subject of a clause that says things work: "the login works now".

        Unknown words are accepted only before the success word (its subject), at most
        ``success_budget`` of them, with no qualifier ("on", "yesterday") in front and
        nothing unknown after it: "works on staging" or "worked yesterday" stay unknown.
        """
        start = 0
        for end in range(1, len(toks) + 1):
            if end < len(toks) and not _CLAUSE_BREAK.search(toks[end].sep):
                continue
            clause = range(start, end)
            start = end
            verb = next((j for j in clause if kinds[j] == "success"), None)
            if verb is None or any(kinds[j] == "content" for j in clause if j > verb):
                continue
            subject = [j for j in clause if j < verb and kinds[j] == "content"]
            if len(subject) <= self.settings["success_budget"] and not any(
                    toks[j].norm in self._qualifiers for j in clause if j < verb):
                for j in subject:
                    kinds[j] = "licensed"
        return kinds

    def _single(self, norm: str) -> str:
        if norm in self._markers or norm.startswith(self._prefixes):
            return "markers"
        return "stopwords" if norm in self._stop else "content"

    def _name_like(self, tok: _Tok) -> bool:
        """Capitalised word ("Anna", "JS", "IT") that is not a lexicon or marker word."""
        o = tok.orig
        if not (o[0].isupper() and o.isalpha()) or self._single(tok.norm) == "markers":
            return False
        acronym = o.isupper() and len(o) <= 4
        return acronym or (o[1:].islower() and tok.norm not in self._lexicon_words)

    def _strip_signature(self, lines: list[str]) -> list[str]:
        """Drop a closing formula and the signature after it, or trailing name/contact lines."""
        lines = [line.strip() for line in lines]
        for k, line in enumerate(lines):
            toks = _tokens(line)
            if not toks:
                continue
            heads = [self._phrases.get(tuple(t.norm for t in toks[:n])) for n in range(1, 6)]
            size = max((n + 1 for n, h in enumerate(heads) if h and h[0] == "closings"), default=0)
            rest = lines[k + 1 :]
            if (size and all(self._name_like(t) for t in toks[size:]) and len(rest) <= 10
                    and all(self._sig_line(r, relaxed=True) for r in rest)):
                return lines[:k]
        for _ in range(5):
            while lines and not lines[-1]:
                lines.pop()
            if lines and self._sig_line(lines[-1], relaxed=False):
                lines.pop()
        return lines

    def _sig_line(self, line: str, relaxed: bool) -> bool:
        """True for a name, title, company or contact line of a signature."""
        if not line or set(line) <= set("-_=*|~ "):
            return True
        if "?" in line:
            return False
        bare = _PHONE.sub(_phone, _URL.sub(" ", line))
        toks = _tokens(bare)
        if any(kind == "markers" for _, kind in self._label(toks)):
            return False
        if bare != line:  # had a phone number, address or link: the rest must be labels/names
            return all(t.norm in _LABELS or t.orig[0].isupper() or t.norm in _CONNECTORS
                       for t in toks)
        ok = [self._name_like(t) or t.norm in _CONNECTORS for t in toks]
        if toks and all(ok) and len(toks) <= 5 and self._name_like(toks[0]):
            return True
        # after a closing also a title or department: "Менеджер по закупкам", "Service comptabilité"
        lex = self._lexicon_words  # a lowercase "the", "is", "again" means a sentence
        plain = all(t.norm in _CONNECTORS or t.orig[0].isupper() or t.norm not in lex for t in toks)
        return (relaxed and plain and 0 < len(toks) <= 6 and not line.endswith((".", "!", ":"))
                and (line[0].isupper() or line[0] in "«\"(+"))


def _phone(m: re.Match[str]) -> str:
    """Blank out a phone number (7+ digits); leave shorter digit runs (dates, counts) alone."""
    return " " if sum(c.isdigit() for c in m.group()) >= 7 else m.group()


def _merge(name: str, data: dict, lexicon: dict[str, list[str]], settings: dict[str, int]) -> None:
    """Add one parsed lexicon file to ``lexicon``/``settings``, rejecting unknown shapes."""
    for table, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{name}: [{table}] must be a table")
        for key, value in body.items():
            if table == "settings":
                if key not in _SETTINGS or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{name}: settings.{key}: expected one of "
                                      f"{sorted(_SETTINGS)} = a non-negative integer")
                settings[key] = value
            elif key not in KINDS:
                raise ConfigError(f"{name}: [{table}] unknown key {key!r}; expected {KINDS}")
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}: {table}.{key} must be a list of strings")
            else:
                lexicon[key].extend(value)
