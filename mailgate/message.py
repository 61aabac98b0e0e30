"""Parse raw bytes once into what the pipeline needs.

We use the standard library's ``email`` package with ``policy.default``: it is
what mail-parser wraps, at half its cost per message (~250 us against ~540 us
for a 4 KB mail on our machines; the header cache below makes parse plus the
pipeline's header reads ~2x cheaper again), and it tolerates broken input by recording
defects instead of raising. Whatever it cannot handle raises ``ParseError``,
which quarantines the message with the reason; the raw bytes stay in the spool.

Hostile input is contained, in bounded time:

* Limits, each a ``ParseError`` (quarantine) with a reason naming it, enforced
  *while* the feed parser runs (a subclass hooks its header and new-part
  steps), so a hostile message costs at most the work up to the limit:
  header block size and field count, length of one field (shorter for
  ``Content-Type``/``Content-Disposition``, whose parameters the ``email``
  package re-parses on every ``get_param``), MIME part count and nesting depth,
  and the line work of the parser (lines read times the multipart boundaries
  each line is matched against: the feed parser's cost grows with both).
* Header fields are decoded once and cached (``policy.default`` would parse a
  field again on every access, and its parser is super-linear on some
  inputs: thousands of encoded-words or addresses); every field of every part
  is decoded during parsing against a time budget, so the pipeline, which
  reads many headers, never pays for a hostile one again.
* Every header read is guarded: a hostile header (bad encoded-word, invalid
  address, deep comment nesting) degrades to its raw text or to "absent",
  never to a crash. Text that reaches the store has no NUL, no lone
  surrogates (8-bit header bytes are read as UTF-8), no control or bidi
  characters where it is a single line.
* Nothing we copy into the headers of our own mail can carry RFC 2047 syntax:
  ``clean_text`` breaks up encoded-words in subjects and names, ``message_ids``
  drops ids holding ``=?`` (the ``email`` package would decode them again, and
  CPython < 3.11.10 writes a decoded CR/LF out as a new header line).
* Text parts are decoded with their charset, or as UTF-8 when the charset is
  unknown, broken or a slow pure-Python codec (``punycode``); HTML that is huge
  or nested deeply enough to make html2text quadratic is reduced to text by a
  linear tag stripper instead.
"""

from __future__ import annotations

import codecs
import hashlib
import html as htmllib
import re
import time
import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.feedparser import BytesFeedParser
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

import html2text

from mailgate.errors import MailgateError

MAX_HEADER_BYTES = 256 * 1024  # one header block (the message's or a part's)
MAX_HEADER_FIELDS = 1000  # fields in one header block
MAX_FIELD_BYTES = 16 * 1024  # one header field, folded lines included
MAX_MIME_FIELD_BYTES = 2 * 1024  # Content-Type / Content-Disposition of any part
MAX_SHORT_FIELD_BYTES = 998  # Message-ID, MIME-Version, Content-Transfer-Encoding, Date
MAX_PARTS = 500
MAX_DEPTH = 20
MAX_LINE_WORK = 2_000_000  # lines read by the parser x (1 + enclosing boundaries)
# CPU seconds (this thread's, so a loaded machine or another thread holding the GIL does
# not count) to decode every header field of the message once. Normal mail needs ~1 ms;
# only deliberately pathological headers get near this.
HEADER_BUDGET = 0.4
MAX_TEXT_CHARS = 1_000_000
MAX_HTML_CHARS = 150_000  # html2text beyond this is slow: strip tags instead
MAX_HTML_NESTING = 32  # nested lists/quotes make html2text's output quadratic
MAX_ADDRESSES = 100  # per address header; more are dropped with a defect

_FEED_CHUNK = 16 * 1024
_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,900}>")
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile(r"\r\n?")
_ENCODED_WORD = re.compile(r"=\?[^?\s]{0,75}\?[bBqQ]?\?")
_UNSAFE_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f<>(),;\\\"]")
_UNSAFE_FILENAME = re.compile(r'[/\\:*?"<>|]')
_WINDOWS_DEVICE = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$", re.IGNORECASE)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_MIME_FIELDS = frozenset({"content-type", "content-disposition"})
# Fields whose parser is quadratic on hostile input and whose real values are one short line.
_SHORT_FIELDS = frozenset({"message-id", "mime-version", "content-transfer-encoding", "date",
                           "resent-date", "orig-date"})
_ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from",
                             "resent-sender", "resent-to", "resent-cc", "resent-bcc"})
_ADDRESS_FAST_PATH = 512
_SLOW_CODECS = frozenset({"punycode", "idna"})  # pure Python, quadratic on long input
_HTML_NEST = re.compile(r"<(/?)(ul|ol|dl|blockquote|table)\b", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]{0,20})?[^<>]{0,4000}>")  # linear, no <!--
_HTML_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "ul", "ol", "blockquote", "pre", "hr", "dt", "dd"})


class ParseError(MailgateError):
    """The message cannot be turned into a ticket message; it goes to quarantine."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Inbound:
    """One parsed incoming message: everything later steps read, nothing they must re-parse."""

    message_id: str
    message_id_generated: bool
    subject: str
    from_addr: str
    from_name: str | None
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    text: str
    attachments: list[Attachment]
    msg: EmailMessage = field(repr=False)
    defects: list[str] = field(default_factory=list)


# -- text hygiene -----------------------------------------------------------------


def unescape(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes are read as UTF-8.

    Whatever cannot be decoded becomes U+FFFD, so the result always encodes
    (SQLite, PostgreSQL, JSON and log lines reject lone surrogates).
    """
    if not _SURROGATE.search(value):
        return value
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


# -- bounded parsing --------------------------------------------------------------


class _Registry(HeaderRegistry):
    """HeaderRegistry that builds each header class once (the stock one builds a new class
    with ``type()`` on every field it parses)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def map_to_type(self, name: str, cls: Any) -> None:
        self._classes.pop(name.lower(), None)
        super().map_to_type(name, cls)


_REGISTRY = _Registry()  # shared: its classes are the same for every message

# Printable ASCII without quotes, parentheses or backslashes: a value nothing in it to decode
# (no encoded-word, quoted string or comment), which reads as itself.
_SIMPLE_VALUE = re.compile(r"^[\x20\x21\x23-\x27\x2a-\x5b\x5d-\x7e]{0,998}$")


class _SimpleHeader(str):
    """A header value that needs no decoding, as the registry's objects present it: a str
    with ``name`` and ``defects`` (and ``fold``, should it be copied into another message)."""

    name: str
    defects: tuple[()] = ()

    def __new__(cls, name: str, value: str) -> _SimpleHeader:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy: Any) -> str:
        return HeaderRegistry()(self.name, str(self)).fold(policy=policy)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# One mailbox written plainly: "Name Words <local@domain>" or "local@domain", where the name
# is atoms and single spaces and the address a dot-atom at a dotted domain.
_SIMPLE_MAILBOX = re.compile(
    rf"^(?:(?P<name>{_ATEXT}(?: {_ATEXT})*) <(?P<local>{_ATEXT}(?:\.{_ATEXT})*)"
    r"@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>"
    rf"|(?P<bare_local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<bare_domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))$")


class _SimpleAddressHeader(_SimpleHeader):
    """An address field of one plainly written mailbox, as the registry presents it (its
    ``addresses``), without running the address parser (a tenth of a millisecond each)."""

    addresses: tuple[Address, ...]

    @classmethod
    def of(cls, name: str, value: str, match: re.Match[str]) -> _SimpleAddressHeader:
        self = cls(name, value)
        local, domain = match["local"] or match["bare_local"], match["domain"] or \
            match["bare_domain"]
        self.addresses = (Address(display_name=match["name"] or "", username=local,
                                  domain=domain),)
        return self


# Content-Type and Content-Transfer-Encoding values repeat from message to message
# ('text/plain; charset="utf-8"'): their registry objects (read-only) are shared by every
# message, so each distinct short value is parsed once per process, not once per message.
_SHARED_MIME: dict[tuple[str, str], Any] = {}
_SHARED_MIME_CHARS = 200
_SHARED_MIME_MAX = 512


class _HeaderCache:
    """``policy.default``'s header factory, decoding each distinct field once.

    A field that is not an address list and whose value has nothing to decode (see
    ``_SIMPLE_VALUE``) is its own value: building the registry's object for it costs
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
        self.registry = _REGISTRY
        self.cache: dict[tuple[str, str], Any] = {}

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
                if not address and plain and _SIMPLE_VALUE.match(value):
                    found = _SimpleHeader(name, value)
                elif mailbox is not None:
                    found = _SimpleAddressHeader.of(name, value, mailbox)
                elif lower in _MIME_FIELDS and len(value) <= _SHARED_MIME_CHARS and \
                        self.registry is _REGISTRY:
                    found = _SHARED_MIME.get(key)
                    if found is None:
                        found = self.registry(name, value)
                        if len(_SHARED_MIME) >= _SHARED_MIME_MAX:
                            _SHARED_MIME.clear()
                        _SHARED_MIME[key] = found
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
        if self.registry is _REGISTRY:  # not the shared one: this message's own mapping
            self.registry = _Registry()
        self.registry.map_to_type(name, cls)


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


class _Message(EmailMessage):
    """EmailMessage that splits its MIME parameters once per field value.

    ``Message.get_param`` (charset, filename, boundary, ...) re-splits the whole
    field on every call, quadratically in the number of quotes and semicolons.
    """

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self.get(header, None)
        if value is None:
            return failobj
        cache = self.__dict__.setdefault("_mailgate_params", {})
        key = (header.lower(), str(value))
        if key not in cache:
            cache[key] = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        return cache[key]


class _Parser(BytesFeedParser):
    """The standard feed parser with our limits enforced while it runs."""

    def __init__(self, pol: policy.EmailPolicy) -> None:
        super().__init__(policy=pol)
        self.parts = 0
        self.decoding = 0.0  # seconds spent decoding header fields so far

    def _new_message(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ParseError(f"more than {MAX_PARTS} MIME parts")
        if len(self._msgstack) > MAX_DEPTH:  # type: ignore[attr-defined]
            raise ParseError(f"MIME nesting deeper than {MAX_DEPTH}")
        super()._new_message()  # type: ignore[misc]

    def _parse_headers(self, lines: list[str]) -> None:
        size = sum(map(len, lines))
        where = "" if self.parts == 1 else f" of MIME part {self.parts}"
        if size > MAX_HEADER_BYTES:
            raise ParseError(f"header block{where} larger than {MAX_HEADER_BYTES} bytes ({size})")
        super()._parse_headers(lines)  # type: ignore[misc]
        part = self._cur  # type: ignore[attr-defined]
        fields = part._headers
        if len(fields) > MAX_HEADER_FIELDS:
            raise ParseError(f"header block{where} has more than {MAX_HEADER_FIELDS} fields"
                             f" ({len(fields)})")
        for name, value in fields:
            lower = name.lower()
            limit = (MAX_MIME_FIELD_BYTES if lower in _MIME_FIELDS else
                     MAX_SHORT_FIELD_BYTES if lower in _SHORT_FIELDS else MAX_FIELD_BYTES)
            if len(value) > limit:
                raise ParseError(f"header field {clean_text(name, 40)!r}{where} longer than"
                                 f" {limit} bytes ({len(value)})")
        self._decode(part)

    def _decode(self, part: EmailMessage) -> None:
        """Decode every field of ``part`` once (into the cache), within the time budget.

        The budget counts decoding time only, summed over all parts, not the time
        spent reading bodies (a 20 MB attachment before a last part is no reason).
        """
        started, wall = time.thread_time(), time.perf_counter()

        def check() -> None:
            # CPU time cannot outrun wall time: the cheap clock first, the thread's CPU
            # clock (a system call) only once the wall clock has passed the budget
            if self.decoding + time.perf_counter() - wall <= HEADER_BUDGET:
                return
            if self.decoding + time.thread_time() - started > HEADER_BUDGET:
                raise ParseError(f"header fields too complex to decode within {HEADER_BUDGET}"
                                 " s of CPU time")

        for name, value in part._headers:  # type: ignore[attr-defined]
            with suppress(Exception):  # a failure is remembered too: readers see "undecodable"
                part.policy.header_fetch_parse(name, value)
            check()
        for name in ("content-type", "content-disposition"):
            with suppress(Exception):
                part.get_params(header=name)
        check()
        self.decoding += time.thread_time() - started


def _lines(chunk: bytes) -> int:
    return chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")


def _parse_bytes(raw: bytes) -> EmailMessage:
    """Run the bounded feed parser over ``raw`` (see the module docstring)."""
    pol = policy.default.clone(header_factory=_HeaderCache(), message_factory=_Message)
    parser = _Parser(pol)
    boundaries = parser._input._eofstack  # type: ignore[attr-defined]
    work = 0
    for start in range(0, len(raw), _FEED_CHUNK):
        chunk = raw[start:start + _FEED_CHUNK]
        before = len(boundaries)
        parser.feed(chunk)
        work += _lines(chunk) * (1 + max(before, len(boundaries)))
        if work > MAX_LINE_WORK:
            raise ParseError(f"too much parsing work: more than {MAX_LINE_WORK:,} line reads"
                             f" (lines x nested multipart boundaries)")
    return parser.close()  # type: ignore[return-value]


# -- header access ----------------------------------------------------------------


def header(msg: EmailMessage, name: str) -> str:
    """A header's decoded value, or its raw text if decoding fails, or ''."""
    try:
        value = msg.get(name)
    except Exception:
        raw = msg._headers  # type: ignore[attr-defined]  # last resort: raw text
        value = next((v for k, v in raw if k.lower() == name.lower()), None)
    return "" if value is None else unescape(str(value))


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References header, in order.

    Tokens holding ``=?`` are skipped: we copy these ids into the headers of our
    replies, where the ``email`` package would decode an encoded-word in them
    (see ``clean_text``); real ids never contain one.
    """
    return [i for i in _MSGID.findall(value or "")[:100] if "=?" not in i]


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
    for key, raw in msg._headers:  # type: ignore[attr-defined]
        if key.lower() != wanted:
            continue
        try:  # one undecodable field does not lose the others
            value = msg.policy.header_fetch_parse(key, raw)
            found = getattr(value, "addresses", None)
            if found is None:
                pairs.extend(getaddresses([str(value)]))
            else:
                pairs.extend((a.display_name, a.addr_spec) for a in found)
        except Exception:
            continue
    out = []
    for display, addr in pairs:
        addr = unescape(addr).strip().lower()
        if "@" in addr and not addr.startswith("@") and plausible_address(addr):
            if len(out) == MAX_ADDRESSES:
                if defects is not None:
                    defects.append(f"TooManyAddresses({name}: more than {MAX_ADDRESSES},"
                                   " the rest ignored)")
                break
            out.append((clean_text(unescape(display), 200), addr))
    return out


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


# -- bodies -----------------------------------------------------------------------


def _strip_tags(html: str) -> str:
    """Linear-time HTML to text: tags dropped (block tags become line breaks)."""
    out: list[str] = []
    pos = 0
    skip = None  # inside <script>/<style>
    for match in _HTML_TAG.finditer(html):
        if skip is None:
            out.append(html[pos:match.start()])
        pos = match.end()
        closing, tag = match.group(1), (match.group(2) or "").lower()
        if skip is not None:
            if closing and tag == skip:
                skip = None
            continue
        if tag in ("script", "style") and not closing:
            skip = tag
        elif tag in _HTML_BLOCK:
            out.append("\n")
    if skip is None:
        out.append(html[pos:])
    text = htmllib.unescape("".join(out)).replace("\xa0", " ")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _html_nesting(html: str) -> int:
    depth = deepest = 0
    for match in _HTML_NEST.finditer(html):
        depth = max(depth - 1, 0) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


def html_to_text(html: str, budget: int = MAX_HTML_CHARS) -> str:
    """Readable text from HTML: html2text, or a linear tag stripper for hostile HTML.

    html2text costs a few microseconds per character and its output grows
    quadratically with list/quote nesting; HTML longer than ``budget`` or
    nested deeper than ``MAX_HTML_NESTING`` is stripped of its tags instead.
    """
    if len(html) > budget or _html_nesting(html) > MAX_HTML_NESTING:
        return _strip_tags(html[:MAX_TEXT_CHARS])
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.unicode_snob = True
    return converter.handle(html).strip()


def _charset(part: EmailMessage) -> str | None:
    """The part's charset as a usable codec name, or None (unknown, broken or too slow)."""
    try:
        name = part.get_content_charset()
        if not name:
            return None
        codec = codecs.lookup(name).name
    except Exception:
        return None
    if codec in _SLOW_CODECS or codec == "ascii":  # ascii: 8-bit bytes are mostly UTF-8
        return None
    return codec


def _decoded(part: EmailMessage) -> str:
    """A text part's content: declared charset, else UTF-8, else Windows-1252; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
    payload = payload[:4 * MAX_TEXT_CHARS]
    charset = _charset(part)
    text = None
    if charset is not None:
        try:
            text = payload.decode(charset, "replace")
        except Exception:
            text = None
    if text is None:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            try:
                declared = bool(part.get_param("charset"))
            except Exception:
                declared = True
            text = payload.decode("utf-8" if declared else "cp1252", "replace")
    return _body_text(_NEWLINES.sub("\n", text[:MAX_TEXT_CHARS]))


def _content_type(part: EmailMessage) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    return ctype if _CONTENT_TYPE.match(ctype) else "application/octet-stream"


def _walk(msg: EmailMessage) -> tuple[str, list[Attachment]]:
    """The body text (plain preferred, HTML converted) and the attachments."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    count = 0

    def visit(part: EmailMessage, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_PARTS:
            raise ParseError(f"more than {MAX_PARTS} MIME parts")
        if depth > MAX_DEPTH:
            raise ParseError(f"MIME nesting deeper than {MAX_DEPTH}")
        if part.is_multipart():
            for sub in part.iter_parts():
                visit(sub, depth + 1)
            return
        ctype = _content_type(part)
        disposition = part.get_content_disposition()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            try:
                data = part.get_payload(decode=True) or b""
            except Exception:
                data = str(part.get_payload()).encode("utf-8", "surrogateescape")
            name = safe_filename(filename or f"part-{count}")
            attachments.append(Attachment(name, ctype, data))
        elif ctype == "text/html":
            html.append(_decoded(part))
        else:
            plain.append(_decoded(part))

    visit(msg, 0)
    if plain:
        text = "\n\n".join(p.strip("\n") for p in plain)
    else:
        converted, budget = [], MAX_HTML_CHARS  # html2text's share over all HTML parts
        for part_html in html:
            converted.append(html_to_text(part_html, budget))
            budget -= len(part_html)
        text = "\n\n".join(converted)
    return _NEWLINES.sub("\n", text)[:MAX_TEXT_CHARS], attachments


def safe_filename(name: str) -> str:
    """A file name safe to show and to write on any system.

    No directory part or separator look-alike (NFKC folds fullwidth slashes),
    no control, bidi or invisible characters, no Windows-reserved characters or
    device names, at most 200 bytes of UTF-8 (the extension is kept).
    """
    name = clean_text(unicodedata.normalize("NFKC", str(name)[:4096]), 4096)
    name = _UNSAFE_FILENAME.sub("_", name).strip(". ")
    if _WINDOWS_DEVICE.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > 200:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 16:
            stem, dot, ext = name, "", ""
        room = 200 - len(ext.encode("utf-8")) - len(dot)
        stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ")
        name = f"{stem}{dot}{ext}"
    return name or "attachment"


# -- the entry point --------------------------------------------------------------


def parse(raw: bytes) -> Inbound:
    """Parse raw message bytes; raise ParseError for what cannot be a ticket message.

    Nothing but ParseError ever escapes: an unexpected failure of the ``email``
    package on hostile input is a ParseError naming the exception.
    """
    try:
        return _parse(raw)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError(f"unparsable message: structure nested too deeply ({exc})") from exc
    except Exception as exc:
        raise ParseError(f"unparsable message: {type(exc).__name__}: {exc}"[:500]) from exc


def _parse(raw: bytes) -> Inbound:
    try:
        msg = _parse_bytes(raw)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"unparsable message: {type(exc).__name__}: {exc}"[:500]) from exc
    if not msg.keys():
        raise ParseError("no headers: not an email message")
    defects = [type(d).__name__ for d in msg.defects]
    found = message_ids(header(msg, "Message-ID"))
    generated = not found
    message_id = found[0] if found else content_id(raw)
    from_name, from_addr = "", ""
    author = addresses(msg, "From") or addresses(msg, "Sender")
    if author:
        from_name, from_addr = author[0]
    else:
        try:
            from_name, from_addr = parseaddr(header(msg, "From"))
        except Exception:  # e.g. RecursionError on nested comments
            from_name, from_addr = "", ""
        from_name, from_addr = clean_text(from_name, 200), from_addr.strip().lower()
        if not plausible_address(from_addr):
            from_addr = ""
    try:
        text, attachments = _walk(msg)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"cannot decode MIME structure: {type(exc).__name__}: {exc}"[:500]) \
            from exc
    date = None
    try:
        date = parsedate_to_datetime(header(msg, "Date"))
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
        date.astimezone(UTC)  # years 1 and 9999 overflow here, or later in the store
    except (TypeError, ValueError, IndexError, OverflowError):
        date = None
    return Inbound(
        message_id=message_id,
        message_id_generated=generated,
        subject=clean_text(header(msg, "Subject")),
        from_addr=from_addr,
        from_name=from_name or None,
        to=addresses(msg, "To", defects),
        cc=addresses(msg, "Cc", defects),
        reply_to=addresses(msg, "Reply-To", defects),
        date=date,
        in_reply_to=message_ids(header(msg, "In-Reply-To")),
        references=message_ids(header(msg, "References")),
        text=_body_text(text),
        attachments=attachments,
        msg=msg,
        defects=defects,
    )
