"""Build outgoing messages through the ``email`` API, never by string pasting.

Every header value passes through ``clean_text`` and the ``email`` header
registry, so a CR/LF in a customer's subject or display name cannot inject a
header. Automatic mail carries ``Auto-Submitted: auto-replied`` and
``X-Auto-Response-Suppress: All`` (RFC 3834 and Microsoft's equivalent), and
everything we send carries ``X-Mailgate-Loop`` so our own mail coming back is
recognised.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailgate.message import clean_text

LOOP_HEADER = "X-Mailgate-Loop"
# Lines up to RFC 5322's hard limit: CPython 3.11 folds an address list badly at 78
# (a comma after an encoded display name is encoded, and the next recipient is lost).
_POLICY = policy.SMTP.clone(max_line_length=998)
_POLICY_UTF8 = policy.SMTPUTF8.clone(max_line_length=998)
_MSG_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>$")  # no <, >, space, control


def safe_ids(values: Sequence[str | None]) -> list[str]:
    """Message-IDs that are plain ASCII tokens; an encoded-word or a line break is dropped,
    so a hostile id we reply to cannot become a header of our mail."""
    return [v for v in values if v and _MSG_ID.match(v) and "=?" not in v]


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
    addresses = [from_addr, *(a for _, a in to), *([reply_to] if reply_to else [])]
    msg = EmailMessage(policy=_POLICY if all(a.isascii() for a in addresses) else _POLICY_UTF8)
    msg["From"] = _address(from_name, from_addr)
    msg["To"] = [_address(n, a) for n, a in to]
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
    return msg.as_bytes()
