"""Build outgoing messages through the ``email`` API, never by string pasting.

Every header value passes through ``clean_text`` and the ``email`` header
registry, so a CR/LF in a customer's subject or display name cannot inject a
header. Automatic mail carries ``Auto-Submitted: auto-replied`` and
``X-Auto-Response-Suppress: All`` (RFC 3834 and Microsoft's equivalent), and
everything we send carries ``X-Mailgate-Loop`` so our own mail coming back is
recognised.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailgate.message import clean_text

LOOP_HEADER = "X-Mailgate-Loop"


def new_message_id(domain: str) -> str:
    return f"<mailgate.{uuid.uuid4().hex}@{domain}>"


def _address(name: str | None, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=clean_text(name or "", 200), username=local, domain=domain)


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
) -> bytes:
    """The wire bytes (CRLF line ends) of one outgoing message."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _address(from_name, from_addr)
    msg["To"] = [_address(n, a) for n, a in to]
    if reply_to:
        msg["Reply-To"] = _address(from_name, reply_to)
    msg["Subject"] = clean_text(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = [r for r in references if r][-20:]
    if refs:
        msg["References"] = " ".join(refs)
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = loop_id
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()
