"""Build outgoing messages: every header value cleaned, encoded and folded by one writer.

Every header value passes through ``clean_text`` (no CR/LF, controls or
encoded-word look-alikes), so a customer's subject or display name cannot
inject a header. Text that is not plain ASCII becomes RFC 2047 encoded-words
(UTF-8, base64), ASCII display names with specials become quoted strings, long
values are folded between words, ids and addresses; bodies are 7bit when they
can be, quoted-printable otherwise. This writer costs a tenth of building the
same mail through ``EmailMessage`` and its header registry (most of the cost of
an acknowledgement); mail with an address that is not plain ASCII (SMTPUTF8) or
not a simple ``local@domain`` is still built through the ``email`` API, whose
output the fast path is tested against.

Files passed on (``attachments``) make the mail ``multipart/mixed``: the text (or
its HTML alternative) first, then each file base64-encoded, with its sanitised
name (RFC 2231 when not ASCII), ``inline`` or ``attachment`` as it came, and
its ``Content-ID`` kept, so a screenshot shown in the customer's text stays
inline for the engineer.

Automatic mail carries ``Auto-Submitted: auto-replied`` and
``X-Auto-Response-Suppress: All`` (RFC 3834 and Microsoft's equivalent), and
everything we send carries ``X-Mailgate-Loop`` so our own mail coming back is
recognised.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from typing import cast

from mailgate.message import Attachment, clean_text

LOOP_HEADER = "X-Mailgate-Loop"
# Lines up to RFC 5322's hard limit: CPython 3.11 folds an address list badly at 78
# (a comma after an encoded display name is encoded, and the next recipient is lost).
_POLICY = policy.SMTP.clone(max_line_length=998)
_POLICY_UTF8 = policy.SMTPUTF8.clone(max_line_length=998)
_FILE_POLICY = policy.SMTP  # base64 in lines of 76, a long file name folded (RFC 2231)
_MSG_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>$")  # no <, >, space, control


def safe_ids(values: Sequence[str | None]) -> list[str]:
    """Message-IDs that are plain ASCII tokens; an encoded-word or a line break is dropped,
    so a hostile id we reply to cannot become a header of our mail."""
    return [v for v in values if v and _MSG_ID.match(v) and "=?" not in v]


def new_message_id(domain: str) -> str:
    """A unique Message-ID whose local part starts with the time (nanoseconds, fixed-width
    hex), then 64 random bits: ours sort by creation, so the unique indexes on message ids
    (outbox, messages) take each new one at their end, on a page the last one already
    dirtied, instead of on a random page each."""
    return f"<mailgate.{time.time_ns():016x}.{secrets.token_hex(8)}@{domain}>"


def _address(name: str | None, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=clean_text(name or "", 200), username=local, domain=domain)


_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,255}$")
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/^_`{|}~ -]*$")  # a phrase that needs no quotes
_NAME_BYTES = 660  # a display name as one encoded-word: 880 base64 characters, 892 in all
_WORD_BYTES = 45  # UTF-8 bytes per encoded-word: 60 base64 characters, 72 with the wrapping


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded-words of at most 75 characters, split between characters."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8", "replace"))
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append("".join(chunk))
    return ["=?utf-8?b?" + base64.b64encode(w.encode("utf-8", "replace")).decode("ascii") + "?="
            for w in words]


def _text_words(text: str) -> list[str]:
    """Unstructured text (a subject) as words to fold between."""
    if text.isascii() and all(len(w) <= 76 for w in text.split(" ")):
        return text.split(" ") if text else []
    return _encoded_words(text)


def _phrase(name: str) -> list[str]:
    """A display name as words: atoms as they are, other ASCII quoted, anything else encoded.

    A non-ASCII name is one encoded-word, longer than RFC 2047's 75 characters when it must
    be (as the ``email`` package writes it): parsers that follow RFC 2047 ignore the space
    between adjacent encoded-words, but Python's address parser shows it. Only a name of
    more than ``_NAME_BYTES`` of UTF-8 (200 characters, most of them 4-byte) is split.
    """
    if not name.isascii():
        data = name.encode("utf-8", "replace")
        if len(data) <= _NAME_BYTES:
            return ["=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="]
        return _encoded_words(name)
    if _ATOMS.match(name):
        return name.split(" ")
    return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']


def _mailbox(name: str | None, addr: str, comma: bool = False) -> list[str]:
    """``name <addr>`` as words to fold between (with the list's comma after it)."""
    name = clean_text(name or "", 200)
    tail = f"<{addr}>" if name else addr
    return [*(_phrase(name) if name else []), tail + ("," if comma else "")]


def _fold(name: str, pieces: list[str]) -> str:
    """``Name: piece piece ...`` with a CRLF SP fold before a piece that would pass 78."""
    line, out = f"{name}:", []
    for i, piece in enumerate(pieces):
        if i and len(line) + 1 + len(piece) > 78:
            out.append(line)
            line = " " + piece
        else:
            line += " " + piece
    out.append(line)
    return "\r\n".join(out) + "\r\n"


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes with CRLF line ends) for a text part."""
    data = text.encode("utf-8", "replace")
    lines = data.splitlines() or [b""]  # bytes: only CR, LF and CRLF end a line
    if data.isascii() and all(len(line) <= 998 for line in lines):
        return "7bit", b"".join(line + b"\r\n" for line in lines)
    encoded = binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True)
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> tuple[bytes, bytes]:
    cte, body = _body(text)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n").encode("ascii"), body


def compose(
    *,
    from_addr: str,
    from_name: str | None,
    to: Sequence[tuple[str | None, str]],
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: datetime,
    loop_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    reply_to: str | None = None,
    auto_submitted: str | None = "auto-replied",
    cc: Sequence[tuple[str | None, str]] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The wire bytes (CRLF line ends) of one outgoing message."""
    addresses = [from_addr, *(a for _, a in [*to, *cc]), *([reply_to] if reply_to else [])]
    if not all(_PLAIN_ADDRESS.match(a) for a in addresses):
        return compose_email_api(
            from_addr=from_addr, from_name=from_name, to=to, subject=subject, text=text,
            html=html, message_id=message_id, date=date, loop_id=loop_id,
            in_reply_to=in_reply_to, references=references, reply_to=reply_to,
            auto_submitted=auto_submitted, cc=cc, attachments=attachments)
    head = [_fold("From", _mailbox(from_name, from_addr)),
            _fold("To", _mailboxes(to)) if to else "",
            _fold("Cc", _mailboxes(cc)) if cc else "",
            _fold("Reply-To", _mailbox(from_name, reply_to)) if reply_to else "",
            _fold("Subject", _text_words(clean_text(subject))),
            f"Date: {format_datetime(date)}\r\n",
            _fold("Message-ID", safe_ids([message_id])[:1])]
    if in_reply_to and safe_ids([in_reply_to]):
        head.append(_fold("In-Reply-To", [in_reply_to]))
    refs = safe_ids(references)[-20:]
    if refs:
        head.append(_fold("References", refs))
    if auto_submitted:
        head.append(f"Auto-Submitted: {clean_text(auto_submitted)}\r\n"
                    "X-Auto-Response-Suppress: All\r\n")
    head.append(_fold(LOOP_HEADER, [clean_text(loop_id)]))
    top = "".join(head).encode("ascii")
    content_head, content = _content(text, html)
    if attachments:
        content_head, content = _multipart("mixed", [
            content_head + b"\r\n" + content, *(_file_part(a) for a in attachments)])
    return top + content_head + b"MIME-Version: 1.0\r\n\r\n" + content


def _mailboxes(people: Sequence[tuple[str | None, str]]) -> list[str]:
    """An address list as words to fold between."""
    return [w for i, (n, a) in enumerate(people) for w in _mailbox(n, a, i < len(people) - 1)]


def _multipart(subtype: str, parts: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(Content-Type line, body) of a multipart of ``parts`` (each: headers CRLF body)."""
    boundary = f"===============mailgate{uuid.uuid4().hex}=="
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n'.encode("ascii")
    body = b"".join(f"--{boundary}\r\n".encode("ascii") + part + b"\r\n" for part in parts)
    # the CRLF before each delimiter is the delimiter's, not the part's
    return head, body + f"--{boundary}--\r\n".encode("ascii")


def _content(text: str, html: str | None) -> tuple[bytes, bytes]:
    """(content headers, body) of the text, with its HTML alternative if any."""
    part_head, body = _text_part(text, "plain")
    if html is None:
        return part_head, body
    html_head, html_body = _text_part(html, "html")
    return _multipart("alternative", [part_head + b"\r\n" + body,
                                      html_head + b"\r\n" + html_body])


def _file_part(attachment: Attachment) -> bytes:
    """One file as a MIME part: its headers built by ``email`` (name, disposition, id), the
    body base64 in lines of 76 by ``binascii`` (the ``email`` package's encoder costs
    three times as much: 0.4 s of CPU for 10 MB, in the processor's transaction)."""
    part = MIMEPart(policy=_FILE_POLICY)
    _set_file(part, Attachment(attachment.filename, attachment.content_type, b"",
                               attachment.content_id, attachment.inline))
    head = part.as_bytes().split(b"\r\n\r\n", 1)[0]
    body = base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")
    return head + b"\r\n\r\n" + body.rstrip(b"\r\n")


def _set_file(part: MIMEPart, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.content_type.partition("/")
    if maintype in ("multipart", "message") or not subtype:  # not valid with base64
        maintype, subtype = "application", "octet-stream"
    cid = safe_ids([attachment.content_id])[:1]
    part.set_content(attachment.data, maintype=maintype, subtype=subtype,
                     disposition="inline" if attachment.inline else "attachment",
                     filename=clean_text(attachment.filename, 200) or "attachment",
                     cid=cid[0] if cid else None)


def compose_email_api(
    *,
    from_addr: str,
    from_name: str | None,
    to: Sequence[tuple[str | None, str]],
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: datetime,
    loop_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    reply_to: str | None = None,
    auto_submitted: str | None = "auto-replied",
    cc: Sequence[tuple[str | None, str]] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """``compose`` through ``EmailMessage``: for SMTPUTF8 or unusual addresses."""
    addresses = [from_addr, *(a for _, a in [*to, *cc]), *([reply_to] if reply_to else [])]
    msg = EmailMessage(policy=_POLICY if all(a.isascii() for a in addresses) else _POLICY_UTF8)
    msg["From"] = _address(from_name, from_addr)
    msg["To"] = [_address(n, a) for n, a in to]
    if cc:
        msg["Cc"] = [_address(n, a) for n, a in cc]
    if reply_to:
        msg["Reply-To"] = _address(from_name, reply_to)
    msg["Subject"] = clean_text(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to and safe_ids([in_reply_to]):
        msg["In-Reply-To"] = in_reply_to
    refs = safe_ids(references)[-20:]
    if refs:
        msg["References"] = " ".join(refs)
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = loop_id
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for attachment in attachments:
        part = MIMEPart(policy=_FILE_POLICY)  # base64 lines of 76, as RFC 2045 wants
        _set_file(part, attachment)
        if msg.get_content_type() != "multipart/mixed":
            msg.make_mixed()
        msg.attach(cast(EmailMessage, part))  # typeshed wants the subclass; any part does
    return msg.as_bytes()
