"""The address of a ``MAIL FROM`` / ``RCPT TO`` argument: an RFC 5321 path, read by us.

aiosmtpd reads it with the ``email`` package's private RFC 5322 header parser, which takes
far more than a path: comments, folding whitespace, encoded words (it decodes
``<=?utf-8?q?support?=@example.com>`` to ``support@example.com``, which then passes the
recipient check) and unbalanced quotes. A path is a much smaller grammar (RFC 5321 4.1.2,
with RFC 6531's UTF-8): ``<`` [source route ``:``] local-part [``@`` domain] ``>``.

Lenient where real senders are, as aiosmtpd was: dots anywhere in a local part
(``a..b@docomo.ne.jp`` is a real customer's address), a local part alone
(``<postmaster>``), a missing ``>`` at the very end, a bare address without brackets,
spaces just inside the brackets; the source route is dropped (RFC 5321 C). Not taken:
comments, an encoded word decoded, two ``@``, an empty domain label, a parameter glued to
the ``>``.
"""

from __future__ import annotations

import re

# atext (RFC 5322 3.2.3: A-Za-z0-9!#$%&'*+/=?^_`{|}~-) and any non-ASCII character (RFC
# 6531 3.3: UTF8-non-ascii), written as what they leave out: the same characters, but a
# class of all of U+0080-U+10FFFF took 20 ms of every daemon's start to compile
_ATEXT = r'[^\x00-\x20"(),.:;<>@\[\\\]\x7f]'
_ATEXT_OR_DOT = r'[^\x00-\x20"(),:;<>@\[\\\]\x7f]'
_LOCAL = rf'(?:{_ATEXT_OR_DOT}+|"(?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*")'
_LABEL = rf"{_ATEXT}+"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[\x21-\x5a\x5e-\x7e]+\])"
_MAILBOX = rf"(?P<local>{_LOCAL})(?:@(?P<domain>{_DOMAIN}))?"
_ANGLE = re.compile(rf"<[ \t]*(?:@{_DOMAIN}(?:,@{_DOMAIN})*:)?{_MAILBOX}[ \t]*(?:>|$)")
_BARE = re.compile(rf"{_MAILBOX}(?=[ \t]|$)")
_NULL = re.compile(r"<[ \t]*>")
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED_PAIR = re.compile(r"\\(.)")


def split_path(arg: str) -> tuple[str, str] | None:
    """(address, the parameters after it) of a ``MAIL FROM``/``RCPT TO`` argument, the
    address as written (``<>`` for the null path); None if it is not a path."""
    text = arg.lstrip(" \t")
    found = (_NULL.match(text) or _ANGLE.match(text)) if text.startswith("<") else \
        _BARE.match(text)
    if found is None:
        return None
    address = _address(found) if found.re is not _NULL else "<>"
    rest = text[found.end():]
    if rest[:1] not in ("", " ", "\t"):  # parameters are set off by a space
        return None
    return address, rest.lstrip(" \t")



def _address(found: re.Match[str]) -> str:
    """The mailbox ``found`` as we record it: a quoted local part that need not be quoted
    written plainly (``"abc"@d`` is ``abc@d``, RFC 5321 4.1.2, and the recipient check
    compares that), any other as written."""
    local, domain = found["local"], found["domain"]
    if local.startswith('"'):
        plain = _QUOTED_PAIR.sub(r"\1", local[1:-1])
        if _DOT_ATOM.fullmatch(plain):
            local = plain
    return local if domain is None else f"{local}@{domain}"
