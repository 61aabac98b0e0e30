"""Ticket references and the subject tag that carries them.

A reference is ``PREFIX-NNNNNN`` (prefix and width from the config), made
from the database sequence number, never from ``max()+1``. The tag in a
subject is found anywhere, whatever mail clients did to it: case changed,
spaces inserted (``[ sup - 000123 ]``), leading zeros dropped, reply and
forward prefixes in many languages stacked in front. When a subject carries
several tags the first one wins (the original thread's, since clients prepend
``Re:`` and forwarders append).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reply/forward prefixes of common clients and languages, stacked any number of
# times, with optional counters ("Re[2]:", "RE^2:") and either colon form.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|antwort|ang|odp|rif|r|res|enc|tr|wg|fw|fwd|vb|doorst"
    r"|ответ|отв|пересл|fs|vl)\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TagFormat:
    """How references look for one desk."""

    prefix: str = "SUP"
    width: int = 6

    def reference(self, number: int) -> str:
        return f"{self.prefix}-{number:0{self.width}d}"

    def tag(self, number: int) -> str:
        return f"[{self.reference(number)}]"

    @property
    def _pattern(self) -> re.Pattern[str]:
        return _patterns(self.prefix)

    def find_numbers(self, subject: str) -> list[int]:
        """Ticket numbers tagged in ``subject``, in order of appearance.

        Only ASCII digits, and never 0: ``[SUP-٣]``, ``[SUP-0]`` or ``[SUP--5]`` cite
        nothing. Give the subject as the mail wrote it (before ``clean_text`` removes
        zero-width characters): a tag with one inside is no reference either."""
        return [n for n in (int(m) for m in self._pattern.findall(subject or "")[:10]) if n > 0]

    def find_bare_numbers(self, subject: str) -> list[int]:
        """Ticket numbers named in ``subject`` without brackets, as our full reference only
        (prefix, a dash, the zero-padded number: "SUP-000001", any case): a customer who
        types the reference into a fresh mail. Looser forms ("SUP 1", "sup-1") are left
        out: a bare word is a weaker sign than a tag (see the thread step's use)."""
        found = []
        for match in _bare(self.prefix, self.width).finditer(subject or ""):
            number = int(match[1])
            if number > 0 and self.reference(number).casefold() == match[0].casefold():
                found.append(number)
        return found[:10]

    def strip_tags(self, subject: str) -> str:
        return " ".join(self._pattern.sub(" ", subject or "").split())

    def tagged_subject(self, number: int, subject: str) -> str:
        """``[SUP-000123] subject`` with reply prefixes and old tags of ours removed."""
        rest = self.strip_tags(normalize_subject(subject))
        return f"{self.tag(number)} {rest}".strip()


_cache: dict[str, re.Pattern[str]] = {}


def _patterns(prefix: str) -> re.Pattern[str]:
    pattern = _cache.get(prefix)
    if pattern is None:
        # [SUP-000123], [ sup 123 ], [SUP#123], [SUP_000123]; digits capped to avoid abuse.
        # ASCII digits and spaces only (re.ASCII): no other script's digits, no zero-width
        # or other look-alike characters inside a tag.
        pattern = re.compile(
            r"\[\s*" + re.escape(prefix) + r"\s*[-#_:]?\s*0*([0-9]{1,12})\s*\]",
            re.IGNORECASE | re.ASCII,
        )
        _cache[prefix] = pattern
    return pattern


def _bare(prefix: str, width: int) -> re.Pattern[str]:
    key = f"bare:{width}:{prefix}"
    pattern = _cache.get(key)
    if pattern is None:  # not part of a longer word or number ("XSUP-000001", "SUP-0000012")
        pattern = re.compile(rf"(?<![\w-]){re.escape(prefix)}-([0-9]{{{width},12}})(?![\w-])",
                             re.IGNORECASE | re.ASCII)
        _cache[key] = pattern
    return pattern


def reply_subject(subject: str) -> str:
    """``Re: `` and the subject without the reply/forward prefixes it had ("Re: Re: AW: X"
    is what a stack of answers looks like, not what a client writes)."""
    return f"Re: {normalize_subject(subject)}"


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, whitespace folded."""
    subject = " ".join((subject or "").split())
    previous = None
    while previous != subject:
        previous = subject
        subject = _PREFIX.sub("", subject).strip()
    return subject
