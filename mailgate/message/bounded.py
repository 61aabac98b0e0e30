"""The bounded feed parser: the limits on hostile input, enforced while it runs.

Every limit is a ``ParseError`` (quarantine) with a reason naming it, raised as
soon as the feed parser passes it, so a hostile message costs at most the work
up to the limit (see the package docstring for the list).
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
    # the stub types an untyped-factory parser's result as Message; it is the policy's
    # message_factory, our _Message (an EmailMessage)
    return parser.close()  # type: ignore[return-value]
