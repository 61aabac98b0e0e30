"""Text hygiene shared by headers, bodies and file names.

Whatever reaches the store, a log line or one of our own headers passes
through here: no lone surrogates, no NUL, and for single-line text no
control or bidi characters and no RFC 2047 syntax.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile(r"\r\n?")
_ENCODED_WORD = re.compile(r"=\?[^?\s]{0,75}\?[bBqQ]?\?")


#: Charset labels that mean a vendor's superset in practice (the WHATWG Encoding Standard,
#: as browsers and mail clients read them): Outlook's curly quotes labelled ISO-8859-1 are
#: Windows-1252 bytes; Japanese, Chinese and Korean Windows label CP932, GBK and CP949 text
#: shift_jis, gb2312 and ks_c_5601-1987/euc-kr ("①", "㈱", "镕", "똠" exist only there).
SUPERSETS = {"iso8859-1": "cp1252", "iso8859-9": "cp1254", "shift_jis": "cp932",
             "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949", "big5": "big5hkscs"}


def superset(charset: str | None) -> str | None:
    """The codec to read text labelled ``charset`` with (its superset, see ``SUPERSETS``),
    or None when Python knows no such codec."""
    if not charset:
        return None
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):
        return None
    return SUPERSETS.get(codec, codec)

def unescape(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes are read as UTF-8.

    Whatever cannot be decoded becomes U+FFFD, so the result always encodes
    (SQLite, PostgreSQL, JSON and log lines reject lone surrogates).
    """
    if value.isascii():
        return value
    try:  # strict UTF-8 refuses exactly the surrogates: ~15x faster than searching for them
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return _SURROGATE.sub("\ufffd", value)


def clean_text(value: str, limit: int = 998) -> str:
    """One line of display text: no CR/LF, control or bidi characters, bounded length.

    Nor RFC 2047 syntax: text that *looks* like an encoded-word (a customer's
    subject can decode to ``=?utf-8?q?a=0D=0ABcc:_x?=``) is broken up
    (``= ?utf-8?...``), because the ``email`` package decodes it again when
    the text is put in an outgoing header, and before CPython 3.11.10 writes
    the decoded CR/LF out as a line break: a header injected into our mail.
    """
    value = unescape(value.replace("\r", " ").replace("\n", " "))
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value))
    value = " ".join(value.split())[:limit]
    return _ENCODED_WORD.sub(lambda m: "= " + m.group(0)[1:], value)[:limit]


def _body_text(value: str) -> str:
    """Multi-line text for the store: NUL and lone surrogates removed, lines kept."""
    return unescape(value).replace("\x00", "")


def utf8_or_mislabelled(payload: bytes) -> str:
    """Bytes declared UTF-8: as UTF-8; but when most of their non-ASCII bytes are no UTF-8
    at all (Latin-1/Windows-1252 text labelled UTF-8 by a careless client), as
    Windows-1252, so "Problème" does not become "Probl�me" (one stray bad byte in real
    UTF-8 text stays a replacement character)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        text = payload.decode("utf-8", "replace")
    high = sum(1 for byte in payload if byte > 0x7F)
    return payload.decode("cp1252", "replace") if 2 * text.count("\ufffd") > high else text
