"""The bounded feed parser: the limits on hostile input, enforced while it runs.

Every limit is a ``ParseError`` (quarantine) with a reason naming it, raised as
soon as the feed parser passes it, so a hostile message costs at most the work
up to the limit (see the package docstring for the list). A field that is only
long (folded over thousands of lines, thousands of ``References``) is legal mail,
not an attack: it is cut to its limit for processing (``References`` keeps its
first and last ids, as RFC 5322 3.6.4 suggests) and noted in ``_Parser.cut``;
the raw bytes in the spool keep it whole.
"""

from __future__ import annotations

import time
from contextlib import suppress
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage

from mailgate.errors import MailgateError
from mailgate.message.fastpath import _Message
from mailgate.message.headers import _MIME_FIELDS, _HeaderCache
from mailgate.message.text import clean_text

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

_FEED_CHUNK = 16 * 1024
_ID_LISTS = frozenset({"references", "in-reply-to"})
# Fields whose parser is quadratic on hostile input and whose real values are one short line.
_SHORT_FIELDS = frozenset({"message-id", "mime-version", "content-transfer-encoding", "date",
                           "resent-date", "orig-date"})


class ParseError(MailgateError):
    """The message cannot be turned into a ticket message; it goes to quarantine."""


class _Parser(BytesFeedParser):
    """The standard feed parser with our limits enforced while it runs."""

    def __init__(self, pol: policy.Policy) -> None:  # any policy; ours is an EmailPolicy
        super().__init__(policy=pol)
        self.parts = 0
        self.decoding = 0.0  # seconds spent decoding header fields so far
        self.cut: list[str] = []  # "Name (N bytes -> M)" per field cut for processing

    def _new_message(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ParseError(f"more than {MAX_PARTS} MIME parts")
        if len(self._msgstack) > MAX_DEPTH:  # type: ignore[attr-defined]
            raise ParseError(f"MIME nesting deeper than {MAX_DEPTH}")
        super()._new_message()  # type: ignore[misc]

    def _parse_headers(self, lines: list[str]) -> None:
        where = "" if self.parts == 1 else f" of MIME part {self.parts}"
        lines = self._cut_fields(lines, where)
        size = sum(map(len, lines))
        if size > MAX_HEADER_BYTES:
            raise ParseError(f"header block{where} larger than {MAX_HEADER_BYTES} bytes ({size})")
        super()._parse_headers(lines)  # type: ignore[misc]
        part = self._cur  # type: ignore[attr-defined]
        fields = part._headers
        if len(fields) > MAX_HEADER_FIELDS:
            raise ParseError(f"header block{where} has more than {MAX_HEADER_FIELDS} fields"
                             f" ({len(fields)})")
        self._decode(part)

    def _cut_fields(self, lines: list[str], where: str) -> list[str]:
        """``lines`` with each field longer than its limit cut to it (noted in ``cut``)."""
        out: list[str] = []
        field: list[str] = []
        for line in [*lines, ""]:
            if line[:1] in (" ", "\t") and field:
                field.append(line)
                continue
            if field:
                out.extend(self._cut(field, where))
            field = [line] if line else []
        return out

    def _cut(self, field: list[str], where: str) -> list[str]:
        name = field[0].partition(":")[0].strip()
        lower = name.lower()
        limit = (MAX_MIME_FIELD_BYTES if lower in _MIME_FIELDS else
                 MAX_SHORT_FIELD_BYTES if lower in _SHORT_FIELDS else MAX_FIELD_BYTES)
        end = "\r\n" if field[-1].endswith("\r\n") else "\n"
        # the limit is on the value, as the parser hands it over: after "Name:", before
        # the last line end
        room = limit + field[0].index(":") + 1 + len(end) if ":" in field[0] else limit
        size = sum(map(len, field))
        if size <= room:
            return field
        cut = (_cut_ids(name, "".join(field).partition(":")[2].split(), room, end)
               if lower in _ID_LISTS else _cut_lines(field, room, end))
        self.cut.append(f"{clean_text(name, 40)}{where} ({size} bytes -> "
                        f"{sum(map(len, cut))})")
        return cut

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


def _cut_lines(field: list[str], limit: int, end: str) -> list[str]:
    """The leading lines of a folded field within ``limit``; a first line alone longer
    than that is cut in the middle."""
    kept: list[str] = []
    size = 0
    for line in field:
        if size + len(line) > limit:
            break
        kept.append(line)
        size += len(line)
    if not kept:
        kept = [field[0][:max(limit - len(end), 1)].rstrip("\r\n") + end]
    elif not kept[-1].endswith(end):
        kept[-1] = kept[-1].rstrip("\r\n") + end
    return kept


def _cut_ids(name: str, ids: list[str], limit: int, end: str) -> list[str]:
    """``References``/``In-Reply-To`` cut to the first id and as many of the last as fit,
    one per line."""
    head = f"{name}: {ids[0] if ids else ''}"[:limit - len(end)] + end
    tail: list[str] = []
    size = len(head)
    for ident in reversed(ids[1:]):
        line = f" {ident}{end}"
        if size + len(line) > limit:
            break
        tail.append(line)
        size += len(line)
    return [head, *reversed(tail)]


def _lines(chunk: bytes) -> int:
    return chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")


BOM = b"\xef\xbb\xbf"


def _parse_bytes(raw: bytes) -> tuple[EmailMessage, list[str]]:
    """Run the bounded feed parser over ``raw`` (see the module docstring); return the
    message and the fields cut for processing. A UTF-8 byte-order mark before the first
    header (some Windows tools write one) is skipped."""
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
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
    # the stub types an untyped-factory parser's result as Message; it is the policy's
    # message_factory, our _Message (an EmailMessage)
    return parser.close(), parser.cut  # type: ignore[return-value]
