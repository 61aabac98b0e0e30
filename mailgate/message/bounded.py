"""The bounded feed parser: the limits on hostile input, enforced while it runs.

Every limit is a ``ParseError`` (quarantine) with a reason naming it, raised as
soon as the feed parser passes it, so a hostile message costs at most the work
up to the limit (see the package docstring for the list). The stock
``BytesFeedParser`` does the parsing; the limits hook into it only through public
API (``_Limits``): no subclass of the parser, nothing of its internals read. A field
that is only long (folded over thousands of lines, thousands of ``References``) is legal mail,
not an attack: it is cut to its limit for processing (``References`` keeps its
first and last ids, as RFC 5322 3.6.4 suggests) and noted in ``_Limits.cut``;
the raw bytes in the spool keep it whole.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from contextlib import suppress
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from mailgate.errors import MailgateError
from mailgate.message.headers import _MIME_FIELDS, _HeaderCache
from mailgate.message.mimepart import _Message
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


class _Limits:
    """One parse's limits, enforced from the parser's public hooks as it runs.

    The feed parser creates each message through the policy's ``message_factory``
    (``new_message``: parts), attaches it to the enclosing one (``_Message.attach``, which
    calls ``attached``: depth), and hands each header field's source lines to the policy's
    ``header_source_parse`` (``field``: cuts, block size). A part's field count is checked and
    its fields decoded once its header block is complete (``finish_block``): when the next
    part starts, or at the end. ``boundaries`` stands in for the parser's own count of the
    boundaries it matches lines against, for the line work limit.
    """

    def __init__(self) -> None:
        self.parts = 0
        self.last: _Message | None = None  # the part created last
        self.pending: _Message | None = None  # the part whose header block is not checked yet
        self.block_bytes = 0  # of the current part's header block, after cuts
        self.typed = False  # the current part's Content-Type was seen
        self.multipart = False  # ... and it is a multipart: the parser reads its boundary
        self.decoding = 0.0  # seconds spent decoding header fields so far
        self.cut: list[str] = []  # "Name (N bytes -> M)" per field cut for processing
        self.active = True  # off once the parse is over: later use of the message is free

    def where(self) -> str:
        return "" if self.parts == 1 else f" of MIME part {self.parts}"

    def new_message(self, policy: Any = None) -> _Message:
        """The policy's ``message_factory``: a new part (or the message itself)."""
        if not self.active:
            return _Message(policy=policy)
        self.finish_block()
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ParseError(f"more than {MAX_PARTS} MIME parts")
        self.last = self.pending = _Message(policy=policy)
        self.block_bytes = 0
        self.typed = self.multipart = False
        return self.last

    def attached(self, parent: _Message, child: _Message) -> None:
        """``child`` goes into ``parent`` (see ``_Message.attach``)."""
        if self.active and child.nesting > MAX_DEPTH:
            raise ParseError(f"MIME nesting deeper than {MAX_DEPTH}")

    def boundaries(self) -> int:
        """The multipart boundaries the parser matches each line against now (at most):
        those of the parts enclosing the last one, and its own if it is a multipart."""
        part = self.last
        return 0 if part is None else part.boundaries + self.multipart

    def field(self, lines: list[str]) -> list[str]:
        """The source lines of one field of the current header block, cut to its limit."""
        name, colon, value = lines[0].partition(":")
        name = name.strip()
        lower = name.lower()
        if lower == "content-type" and not self.typed:  # the first one counts, as in get()
            self.typed = True
            self.multipart = "".join(lines).partition(":")[2].lstrip().lower().startswith(
                "multipart/")
        limit = (MAX_MIME_FIELD_BYTES if lower in _MIME_FIELDS else
                 MAX_SHORT_FIELD_BYTES if lower in _SHORT_FIELDS else MAX_FIELD_BYTES)
        end = "\r\n" if lines[-1].endswith("\r\n") else "\n"
        # the limit is on the value, as the parser hands it over: after "Name:", before
        # the last line end
        room = limit + len(lines[0]) - len(value) + len(end) if colon else limit
        size = sum(map(len, lines))
        if size > room:
            lines = (_cut_ids(name, "".join(lines).partition(":")[2].split(), room, end)
                     if lower in _ID_LISTS else _cut_lines(lines, room, end))
            cut = sum(map(len, lines))
            self.cut.append(f"{clean_text(name, 40)}{self.where()} ({size} bytes -> {cut})")
            size = cut
        self.block_bytes += size
        if self.block_bytes > MAX_HEADER_BYTES:
            raise ParseError(f"header block{self.where()} larger than {MAX_HEADER_BYTES} bytes"
                             f" ({self.block_bytes})")
        return lines

    def finish_block(self) -> None:
        """Check the field count of the last header block read, and decode its fields."""
        part, self.pending = self.pending, None
        if part is None or not self.active:
            return
        if len(part) > MAX_HEADER_FIELDS:
            raise ParseError(f"header block{self.where()} has more than {MAX_HEADER_FIELDS}"
                             f" fields ({len(part)})")
        self._decode(part)

    def _decode(self, part: _Message) -> None:
        """Decode every field of ``part`` once (into the cache), within the time budget.

        The budget counts decoding time only, summed over all parts, not the time
        spent reading bodies (a 20 MB attachment before a last part is no reason).
        """
        wall = time.perf_counter()
        with _DecodingClock() as clock:

            def check() -> None:
                # CPU time cannot outrun wall time: the cheap clock first, the thread's CPU
                # clock (a system call) only once the wall clock has passed the budget
                if self.decoding + time.perf_counter() - wall <= HEADER_BUDGET:
                    return
                if self.decoding + clock.spent() > HEADER_BUDGET:
                    raise ParseError(f"header fields too complex to decode within "
                                     f"{HEADER_BUDGET} s of CPU time")

            for name, value in part.raw_items():
                with suppress(Exception):  # a failure is remembered: readers see "undecodable"
                    part.policy.header_fetch_parse(name, value)
                check()
            for name in ("content-type", "content-disposition"):
                with suppress(Exception):
                    part.get_params(header=name)
            check()
            self.decoding += clock.spent()


class _DecodingClock:
    """This thread's CPU time since entering, without the time this thread spent in full
    garbage collections meanwhile: a full collection that happens to start while a header
    is decoded walks every object of the process (in a test run's large heap one took
    longer than the whole budget and a mail with 150 Cc addresses was quarantined), which
    says little about the mail; a mail's decoding triggers at most a few (each needs new
    objects a quarter as many as the long-lived ones). Measured with ``gc.callbacks``
    (public API), installed only while decoding."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._gc = 0.0  # seconds of collections finished while entered
        self._gc_started: float | None = None
        self._started = 0.0

    def _collecting(self, phase: str, info: dict[str, Any]) -> None:
        # only full collections (generation 2): a young one walks what was allocated lately,
        # which a hostile header's decoding is, and stays its cost
        if info.get("generation") != 2 or threading.get_ident() != self._thread:
            return
        now = time.thread_time()
        if phase == "start":
            self._gc_started = now
        elif self._gc_started is not None:
            self._gc += now - self._gc_started
            self._gc_started = None

    def __enter__(self) -> _DecodingClock:
        self._started = time.thread_time()
        gc.callbacks.append(self._collecting)
        return self

    def __exit__(self, *_exc: object) -> None:
        with suppress(ValueError):
            gc.callbacks.remove(self._collecting)

    def spent(self) -> float:
        return time.thread_time() - self._started - self._gc


class _BoundedPolicy(EmailPolicy):
    """``policy.default`` whose ``header_source_parse`` (the public hook the feed parser
    hands each field's source lines to) lets the parse's ``_Limits`` cut and count them.
    ``watcher`` is that ``_Limits``; also told of each attached part (``_Message``)."""

    watcher: _Limits | None = None

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        limits = self.watcher
        if limits is not None and limits.active:
            sourcelines = limits.field(sourcelines)
        return super().header_source_parse(sourcelines)

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        """As the stock policy's (documented: a value with a ``name`` is returned as it is,
        else the factory's object for the value with every CR and LF removed), without its
        regex split for the usual value that holds neither (~30 header reads a mail)."""
        if isinstance(value, str) and not hasattr(value, "name"):
            if "\r" in value or "\n" in value:
                value = value.replace("\r", "").replace("\n", "")
            return self.header_factory(name, value)
        return super().header_fetch_parse(name, value)


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


_BOUNDED = _BoundedPolicy()


def _parse_bytes(raw: bytes) -> tuple[EmailMessage, list[str]]:
    """Run the feed parser, bounded, over ``raw`` (see the module docstring); return the
    message and the fields cut for processing. A UTF-8 byte-order mark before the first
    header (some Windows tools write one) is skipped. A stray line that is no header
    field in the middle of the header block (the parser would take it, and every field
    after it, for the body: Message-ID, Date and Content-Type lost) is left out and the
    message parsed again, as mail clients read such a message; the raw bytes stay whole."""
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    msg, cut = _parse_once(raw)
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in msg.defects):
        repaired = _without_stray_header_lines(raw)
        if repaired is not None:
            again, cut = _parse_once(repaired)
            again.defects.extend(msg.defects)  # still said: the header block was broken
            return again, cut
    return msg, cut


# A header field's name (RFC 5322 2.2: printable ASCII but the colon), then the colon.
_FIELD_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
# Fields that show the header block goes on after a stray line.
_KNOWN_FIELD = re.compile(
    rb"^(?:from|to|cc|subject|date|message-id|mime-version|content-type|"
    rb"content-transfer-encoding|in-reply-to|references|reply-to|received|return-path)"
    rb"[ \t]*:", re.IGNORECASE)


def _without_stray_header_lines(raw: bytes) -> bytes | None:
    """``raw`` without the lines of its header block that are neither a field nor a
    continuation, when a well-known field follows them; else None (then the line really
    starts the body: a message without the blank line after its header)."""
    lines = raw.split(b"\n")
    kept: list[bytes] = []
    stray = False
    for i, line in enumerate(lines):
        bare = line.rstrip(b"\r")
        if not bare:  # the end of the header block
            if not stray:
                return None
            return b"\n".join([*kept, *lines[i:]])
        if bare[:1] in (b" ", b"\t") or _FIELD_LINE.match(bare):
            kept.append(line)
            continue
        rest = lines[i + 1:]
        end = next((j for j, other in enumerate(rest) if not other.rstrip(b"\r")), len(rest))
        if not any(_KNOWN_FIELD.match(other) for other in rest[:end]):
            return None
        stray = True
    return None


def _parse_once(raw: bytes) -> tuple[EmailMessage, list[str]]:
    limits = _Limits()
    # (the stub's clone knows only the stock options, not a subclass's ``watcher``)
    options: dict[str, Any] = {"header_factory": _HeaderCache(),
                               "message_factory": limits.new_message, "watcher": limits}
    pol = _BOUNDED.clone(**options)
    parser = BytesFeedParser(policy=pol)
    work = 0
    before = 0
    for start in range(0, len(raw), _FEED_CHUNK):
        chunk = raw[start:start + _FEED_CHUNK]
        parser.feed(chunk)
        after = limits.boundaries()
        work += _lines(chunk) * (1 + max(before, after))
        before = after
        if work > MAX_LINE_WORK:
            raise ParseError(f"too much parsing work: more than {MAX_LINE_WORK:,} line reads"
                             f" (lines x nested multipart boundaries)")
    msg = parser.close()
    limits.finish_block()
    # done: the message's policy keeps ``limits``, which lets go of the parts (no cycle
    # holding a big message until the garbage collector's next full pass)
    limits.active, limits.last = False, None
    # the stub types the parser's result as Message; it is the policy's message_factory's
    assert isinstance(msg, EmailMessage)
    return msg, limits.cut
