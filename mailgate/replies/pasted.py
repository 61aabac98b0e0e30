"""Our own mail pasted back without quote marks: no new text.

Why: a customer may paste the whole of our resolved mail below their thanks, with no
quote marks and no attribution line ("Thank you, problem solved." and then the plain text
of our mail). The quote cutter cannot see it as history, so our own sentences ("If the
problem is not solved, simply reply ...") were read as the customer's and reopened the
ticket. A line of the new text that repeats a whole line of a mail we sent the ticket's
people (or a whole paragraph of it, joined into one line by the client) is no new text; a
part of a line is not (the customer's "The problem is not solved." is theirs), and lines
we quoted ourselves ("> ...", the customer's words in an engineer's answer) are not ours,
so a customer repeating their own complaint still counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from mailgate.quotes import ReplyParts
from mailgate.replies.lexicon import fold

SHORT = 12  # characters of a normalised line below which a repeated line is kept


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def without_our_text(parts: ReplyParts, ours: Sequence[str]) -> ReplyParts:
    """``parts`` without the lines that repeat a mail we sent (``ours``: the texts of the
    ticket's outgoing mail)."""
    lines: set[str] = set()
    paragraphs: set[str] = set()
    for text in ours:
        own = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
        lines.update(n for n in map(_norm, own) if len(n) >= SHORT)
        paragraphs.update(p for p in (_norm(b) for b in "\n".join(own).split("\n\n")) if p)
    if not lines:
        return parts

    def ours_line(line: str) -> bool:
        norm = _norm(line.lstrip(" >"))
        if len(norm) < SHORT:
            return False
        return norm in lines or norm in paragraphs

    def cut(text: str) -> str:
        return "\n".join(line for line in text.splitlines() if not ours_line(line))

    return replace(parts, text=cut(parts.text), signature=cut(parts.signature),
                   late=cut(parts.late))
