"""The entry point: ``parse`` raw bytes into an ``Inbound``, or raise ``ParseError``.

It runs the bounded parser, then reads what later steps need once (ids,
addresses, date, body text, attachments), so nothing downstream re-parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

from mailgate.message.attachments import Attachment
from mailgate.message.body import _walk
from mailgate.message.bounded import ParseError, _parse_bytes
from mailgate.message.headers import (
    addresses,
    content_id,
    header,
    message_ids,
    plausible_address,
)
from mailgate.message.text import _body_text, clean_text


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
    cut_fields: list[str] = field(default_factory=list)  # "Name (N bytes -> M)", see bounded
    raw: bytes = field(default=b"", repr=False)  # as received: what a DKIM signature signed


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
        msg, cut = _parse_bytes(raw)
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
        cut_fields=cut,
        raw=raw,
    )
