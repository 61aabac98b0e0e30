"""Parse raw bytes once into what the pipeline needs.

We use the standard library's ``email`` package with ``policy.default``: it is
what mail-parser wraps, at half its cost per message (~250 us against ~540 us
for a 4 KB mail on our machines; the header cache (``headers``) makes parse plus the
pipeline's header reads ~2x cheaper again), and it tolerates broken input by recording
defects instead of raising. Whatever it cannot handle raises ``ParseError``,
which quarantines the message with the reason; the raw bytes stay in the spool.

Hostile input is contained, in bounded time:

* Limits, each a ``ParseError`` (quarantine) with a reason naming it, enforced
  *while* the feed parser runs (through its public hooks: the policy's
  ``message_factory`` and ``header_source_parse``, ``Message.attach``), so a
  hostile message costs at most the work up to the limit:
  header block size and field count, MIME part count and nesting depth, and the
  line work of the parser (lines read times the multipart boundaries each line
  is matched against: the feed parser's cost grows with both). The length of
  one field (shorter for ``Content-Type``/``Content-Disposition``, whose
  parameters the ``email`` package re-parses on every ``get_param``) is not a
  reason to refuse legal mail: a longer field is cut to it for processing
  (``Inbound.cut_fields``), before the block size is counted.
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

The package, by step (every name is re-exported here, so callers keep
importing from ``mailgate.message``):

* ``inbound``: ``parse`` and the ``Inbound`` it returns
* ``bounded``: the limits, ``ParseError`` and the feed parser's policy enforcing them
* ``mimepart``: the message class parsed into (MIME parameters split once, nesting depth)
* ``headers``: the caching header factory and the guarded header readers
* ``fastpath``: plain-str stand-ins for header objects (a speed trick on documented
  ``EmailPolicy`` behaviour)
* ``body``: charsets, HTML to text, the MIME walk
* ``attachments``: ``Attachment`` and ``safe_filename``
* ``text``: text hygiene (``unescape``, ``clean_text``)

A test or tool that replaces a limit (``HEADER_BUDGET``, ``MAX_PARTS``, ...)
must patch the submodule that reads it, not this package.
"""

from __future__ import annotations

from mailgate.message.attachments import Attachment, safe_filename
from mailgate.message.body import MAX_HTML_CHARS, MAX_HTML_NESTING, MAX_TEXT_CHARS, html_to_text
from mailgate.message.bounded import (
    HEADER_BUDGET,
    MAX_DEPTH,
    MAX_FIELD_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS,
    MAX_LINE_WORK,
    MAX_MIME_FIELD_BYTES,
    MAX_PARTS,
    MAX_SHORT_FIELD_BYTES,
    ParseError,
)
from mailgate.message.headers import (
    MAX_ADDRESSES,
    _HeaderCache,
    addresses,
    claimed_message_id,
    content_id,
    header,
    message_ids,
    plausible_address,
)
from mailgate.message.inbound import Inbound, parse
from mailgate.message.text import clean_text, unescape

__all__ = [
    "HEADER_BUDGET",
    "MAX_ADDRESSES",
    "MAX_DEPTH",
    "MAX_FIELD_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_FIELDS",
    "MAX_HTML_CHARS",
    "MAX_HTML_NESTING",
    "MAX_LINE_WORK",
    "MAX_MIME_FIELD_BYTES",
    "MAX_PARTS",
    "MAX_SHORT_FIELD_BYTES",
    "MAX_TEXT_CHARS",
    "Attachment",
    "Inbound",
    "ParseError",
    "_HeaderCache",
    "addresses",
    "claimed_message_id",
    "clean_text",
    "content_id",
    "header",
    "html_to_text",
    "message_ids",
    "parse",
    "plausible_address",
    "safe_filename",
    "unescape",
]
