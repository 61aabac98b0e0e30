"""Header access: decode each field once, read addresses and ids defensively.

``_HeaderCache`` is the policy's header factory used while parsing (see the
package docstring for why each field is decoded once and cached); the
functions below are what the pipeline reads headers with: they degrade to raw
text or "absent" on a hostile field, never raise.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from functools import lru_cache
from typing import Any

from mailgate.message.fastpath import (
    _SIMPLE_MAILBOX,
    _SIMPLE_VALUE,
    _SimpleAddressHeader,
    _SimpleHeader,
)
from mailgate.message.text import (
    _CONTROL,
    clean_text,
    superset,
    unescape,
    utf8_or_mislabelled,
)

MAX_ADDRESSES = 100  # per address header; more are dropped with a defect

_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,900}>")
_UNSAFE_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f<>(),;\\\"]")
_MIME_FIELDS = frozenset({"content-type", "content-disposition"})
_ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from",
                             "resent-sender", "resent-to", "resent-cc", "resent-bcc"})
_ADDRESS_FAST_PATH = 512


class _HeaderCache:
    """``policy.default``'s header factory, decoding each distinct field once.

    A field that is not an address list and whose value has nothing to decode (see
    ``_SIMPLE_VALUE``), or an unstructured field (``_unstructured``) with an ASCII value
    and no encoded-word, is its own value: building the registry's object for it costs
    15-60 µs (a Date or Message-ID), for the same text; an address field of one plainly
    written mailbox (``_SIMPLE_MAILBOX``) is read by that pattern, not the address parser.

    Results and failures are both remembered: a field that raised raises again
    at once, without being parsed again. One cache per parsed message.

    The ``email`` package's address parser is quadratic in quotes, comments
    and backslashes (8 KB of ``"a"a...`` takes most of a second), so an address
    field longer than ``_ADDRESS_FAST_PATH`` is first split into addresses by
    the linear ``email.utils.getaddresses`` and rebuilt from well-formed,
    bounded pieces, which the header parser then reads in linear time.
    """

    def __init__(self) -> None:
        self.registry: HeaderRegistry = _SHARED_REGISTRY
        self.cache: dict[tuple[str, str], Any] = {}
        self.remapped = False  # map_to_type was used: every field goes to the registry

    def __call__(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):  # a program setting a header, not parsed input
            return self.registry(name, value)
        key = (name, value)
        try:
            found = self.cache[key]
        except KeyError:
            try:
                lower = name.lower()
                address = lower in _ADDRESS_FIELDS
                # _MIME_FIELDS: their registry objects rewrite the parameters (";0" reads
                # "; 0"), so they are always decoded
                plain = "=?" not in value and len(value) <= 998 and lower not in _MIME_FIELDS
                mailbox = _SIMPLE_MAILBOX.match(value) if address and plain else None
                # (an unstructured field's name first: one remembered answer, where the
                # pattern would read the whole of a long Received or DKIM-Signature value)
                if not address and plain and ((
                        value.isascii() and not self.remapped and len(lower) <= 76
                        and _unstructured(lower)) or _SIMPLE_VALUE.match(value)):
                    found = _SimpleHeader(name, value)
                elif mailbox is not None:
                    found = _SimpleAddressHeader.of(name, value, mailbox)
                elif lower in _MIME_FIELDS and len(value) <= _SHARED_MIME_VALUE \
                        and not self.remapped:
                    found = _shared_mime_header(name, value)
                else:
                    if address and len(value) > _ADDRESS_FAST_PATH:
                        value = _normalized_addresses(value)
                    found = self.registry(name, value)
            except Exception as exc:  # remembered, re-raised below
                found = exc
            self.cache[key] = found
        if isinstance(found, Exception):
            raise found.with_traceback(None)
        return found

    # HeaderRegistry's registration API, for code that extends the policy's factory
    def __getitem__(self, name: str) -> Any:
        return self.registry[name]

    def map_to_type(self, name: str, cls: Any) -> None:
        if not self.remapped:  # a registry of its own: the shared one is never changed
            self.registry = HeaderRegistry()
        self.remapped = True
        self.registry.map_to_type(name, cls)


#: The field names the stock registry gives a class of their own (the ``email.headerregistry``
#: reference lists them); every other name is read as unstructured text.
_TYPED_FIELDS = frozenset({
    "subject", "date", "resent-date", "orig-date", "sender", "resent-sender", "to",
    "resent-to", "cc", "resent-cc", "bcc", "resent-bcc", "from", "resent-from", "reply-to",
    "mime-version", "content-type", "content-disposition", "content-transfer-encoding",
    "message-id"})


class _ClassesOnce(HeaderRegistry):
    """The stock ``HeaderRegistry``, but the class it makes for a field of one of the typed
    names (``_TYPED_FIELDS``: at most 20 classes) is made once per process: the stock
    ``registry[name]`` creates a new class on every call (~9 us, each field the registry
    decodes). Never remapped (``_HeaderCache.map_to_type`` takes a registry of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        lower = name.lower()
        if lower not in _TYPED_FIELDS:
            return super().__getitem__(name)
        found = self._classes.get(lower)
        if found is None:
            found = self._classes[lower] = super().__getitem__(name)
        return found

    def map_to_type(self, name: str, cls: Any) -> None:
        raise TypeError("the shared header registry is not remapped")


_SHARED_REGISTRY = _ClassesOnce()


#: a Content-Type/Content-Disposition value at most this long is decoded once per process
_SHARED_MIME_VALUE = 200


@lru_cache(maxsize=256)  # values of at most _SHARED_MIME_VALUE characters: <= 100 KB held
def _shared_mime_header(name: str, value: str) -> Any:
    """The stock registry's object for a short ``Content-Type``/``Content-Disposition``
    field, built once per process for each distinct (name, value) and shared by every
    message that has that field (``text/plain; charset=utf-8`` is in most of them): building
    it costs ~45 us (its parameters are parsed, and the registry makes a class for it), per
    part of every mail. Header objects are read-only (their ``name``, ``defects``,
    ``params``, ...; the ``email.headerregistry`` reference), so sharing one is sharing a
    string. A field that fails to decode raises, is not remembered here, and is remembered
    per message by ``_HeaderCache`` as any other failure."""
    return _SHARED_REGISTRY(name, value)


@lru_cache(maxsize=256)  # names of at most 76 characters (a folded line's): <= 20 KB held
def _unstructured(lower: str) -> bool:
    """Does the stock registry read field ``lower`` as unstructured text (``Received``,
    ``DKIM-Signature``, ``Authentication-Results``, ``X-...``: every name but the address,
    date, id and MIME fields)? Such a field's ASCII value without an encoded-word reads as
    itself, folding whitespace, quotes and parentheses included; the registry would take
    10-50 us to say so, per field of every message (a real header block has 20-40 fields)."""
    return issubclass(HeaderRegistry()[lower], UnstructuredHeader)


def _normalized_addresses(value: str) -> str:
    """A long address list re-written well-formed: names at most 200 characters, at most
    ``4 * MAX_ADDRESSES`` addresses."""
    pairs = getaddresses([unescape(value)])
    out = []
    for name, addr in pairs:
        if not addr or len(addr) > 320:
            continue
        name = " ".join(name.replace("\\", " ").replace('"', " ").split())[:200]
        out.append(formataddr((name, addr)) if name else addr)
        if len(out) == 4 * MAX_ADDRESSES:  # ~0.1 ms each to parse again; nobody reads more
            break
    return ", ".join(out)


def header(msg: EmailMessage, name: str) -> str:
    """A header's decoded value, or its raw text if decoding fails, or ''. An encoded-word
    in a charset Python does not know ("x-unknown", a mislabelled one) is read as UTF-8,
    else Windows-1252, as mail clients do, rather than as replacement characters."""
    try:
        value = msg.get(name)
    except Exception:
        value = next((v for k, v in msg.raw_items()  # last resort: the raw text
                      if k.lower() == name.lower()), None)
    if value is None:
        return ""
    text = unescape(str(value))
    if "\ufffd" in text:
        raw = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        if "=?" in raw:
            text = unescape(_redecoded(raw)) or text
        elif _ESCAPED.search(raw):  # raw 8-bit bytes (an old client's unencoded Latin-1)
            text = unescape(_eight_bit(raw)) or text
    return text


#: a byte the parser could not read as ASCII, kept as a lone surrogate (``surrogateescape``)
_ESCAPED = re.compile("[\udc80-\udcff]")


def _eight_bit(raw: str) -> str:
    """A header's raw 8-bit bytes read as UTF-8, or as Windows-1252 when most are no UTF-8
    (old clients writing unencoded Latin-1), as a body's are; '' if they cannot be
    recovered."""
    try:
        return utf8_or_mislabelled(raw.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return ""


def _redecoded(raw: str) -> str:
    """``raw``'s encoded-words decoded chunk by chunk with a fallback charset; '' if the
    header cannot be split into them."""
    from email.header import decode_header

    try:
        chunks = decode_header(raw)
    except Exception:
        return ""
    out = []
    for data, charset in chunks:
        if isinstance(data, str):
            out.append(data)
            continue
        wide = superset(charset)  # shift_jis as CP932, gb2312 as GB18030 (text.SUPERSETS)
        for codec in (wide, "utf-8"):
            with suppress(LookupError, UnicodeDecodeError, TypeError):
                out.append(data.decode(codec or "ascii"))
                break
        else:  # one bad character loses one character, not the whole field to Latin-1
            out.append(data.decode(wide or "cp1252", "replace"))
    return "".join(out)


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References header, in order.

    Tokens holding ``=?`` are skipped: we copy these ids into the headers of our
    replies, where the ``email`` package would decode an encoded-word in them
    (see ``clean_text``); real ids never contain one. Of more than 100, the first and the
    last 99 are kept (the thread's root and its latest mails, RFC 5322 3.6.4).
    """
    found = _MSGID.findall(value or "")
    if len(found) > 100:
        found = found[:1] + found[-99:]
    return [i for i in found if "=?" not in i]


def plausible_address(addr: str) -> bool:
    """Could ``addr`` be a mailbox to record and answer? (no spaces, brackets, controls)."""
    return 0 < len(addr) <= 320 and not _UNSAFE_ADDRESS.search(addr) \
        and not _CONTROL.search(addr) and "\ufffd" not in addr


def addresses(msg: EmailMessage, name: str, defects: list[str] | None = None,
              ) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; unparsable entries are skipped.

    At most ``MAX_ADDRESSES`` per header (the rest are noted in ``defects``):
    every address can become a participant that later mail is relayed to.
    """
    pairs: list[tuple[str, str]] = []
    wanted = name.lower()
    for key, raw in msg.raw_items():
        if key.lower() != wanted:
            continue
        try:  # one undecodable field does not lose the others
            value = msg.policy.header_fetch_parse(key, raw)
            found = getattr(value, "addresses", None)
            if found is None:
                pairs.extend(getaddresses([str(value)]))
            else:
                pairs.extend(_as_written(str(raw), [(a.display_name, a.addr_spec)
                                                    for a in found]))
        except Exception:  # e.g. a CR/LF an encoded display name decodes to
            with suppress(Exception):
                pairs.extend(_as_written(str(raw), []))
            continue
    out: list[tuple[str, str]] = []
    # a name in raw 8-bit or an unknown charset decodes to replacement characters: read
    # again as ``header`` reads the field ("Élodie Martin", not "�lodie Martin")
    names = _names_again(msg, name) if any(
        "\ufffd" in d or _ESCAPED.search(d) for d, _ in pairs) else {}
    for display, addr in pairs:
        addr = unescape(addr).strip().lower()
        display = names.get(addr, display)
        if "@" in addr and not addr.startswith("@") and plausible_address(addr):
            if len(out) == MAX_ADDRESSES:
                if defects is not None:
                    defects.append(f"TooManyAddresses({name}: more than {MAX_ADDRESSES},"
                                   " the rest ignored)")
                break
            out.append((clean_text(unescape(display), 200), addr))
    return out


def _names_again(msg: EmailMessage, name: str) -> dict[str, str]:
    """Display names by address of field ``name`` as ``header`` decodes it."""
    with suppress(Exception):
        return {addr.strip().lower(): display
                for display, addr in getaddresses([header(msg, name)]) if addr}
    return {}


_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,80}\?[bq]\?[^?\s]*\?=", re.I)


def _as_written(raw: str, parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``parsed``, unless an address in it is not in the field as written: an encoded word
    in a display name decodes to text the parser then reads as address syntax
    (``=?utf-8?q?Eve=0D=0ABcc:_x@victim?= <eve@evil>`` gave ``_x@victim?=``). Then the
    field is read undecoded, strictly, for the addresses actually written in it."""
    written = _ENCODED_WORD.sub(" ", unescape(raw))
    lower = written.lower()
    if parsed and all(unescape(addr).lower() in lower for _, addr in parsed):
        return parsed
    return [(clean_text(name, 200), addr) for name, addr in getaddresses([written])
            if addr and "@" in addr]


def content_id(raw: bytes) -> str:
    """Message-ID for mail that has none: stable over redelivery of the same content."""
    head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    keep = []
    for line in head.splitlines():
        lower = line.lower()
        if lower.startswith((b"from:", b"to:", b"date:", b"subject:", b"cc:")):
            keep.append(line.strip())
    digest = hashlib.sha256(b"\n".join(keep) + b"\n\n" + body.replace(b"\r\n", b"\n"))
    return f"<{digest.hexdigest()[:40]}@content-hash.mailgate.invalid>"


#: a Message-ID field in a raw header block, unfolded on one line (``claimed_message_id``)
_RAW_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^<>\s]{1,250}>)[ \t]*\r?$",
                             re.IGNORECASE | re.MULTILINE)


def claimed_message_id(raw: bytes) -> str | None:
    """The Message-ID a mail the parser refused says it has (the first plain one in its
    header block, read without parsing), so that ``mailgate trace '<id>'`` finds the
    quarantined row by the id the sender quotes; None when there is none to read."""
    head = raw[:MAX_CLAIMED_HEAD]
    end = re.search(rb"\r?\n\r?\n", head)
    found = _RAW_MESSAGE_ID.search(head[:end.start()] if end else head)
    if found is None:
        return None
    text = found.group(1).decode("ascii", "replace")
    return text if text.isprintable() else None


MAX_CLAIMED_HEAD = 256 * 1024  # (``bounded.MAX_HEADER_BYTES``: a header block is no longer)
