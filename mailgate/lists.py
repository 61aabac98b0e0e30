"""Mail from a mailing list: which list, and its own address.

A list's address must never become a ticket participant: an engineer's
answer would be relayed to every member. A post is recognised by ``List-Id``
or ``List-Post`` (RFC 2369/2919); the list's address is the ``mailto:`` of
``List-Post``, or an address of the mail whose ``local.domain`` is the
``List-Id`` (Mailman's and most managers' convention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

from mailgate.message import header

_MAILTO = re.compile(r"<\s*mailto:([^>?\s]+@[^>?\s]+)", re.IGNORECASE)
_LIST_ID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class MailingList:
    """The list a mail came through."""

    name: str  # the List-Id (or List-Post) value, for reasons and events
    addresses: frozenset[str]  # the list's own address(es)


def mailing_list(msg: EmailMessage, seen: list[str]) -> MailingList | None:
    """The list ``msg`` was posted to, or None; ``seen``: the mail's From/To/Cc addresses."""
    list_id, post = header(msg, "List-Id").strip(), header(msg, "List-Post").strip()
    if not list_id and not post:
        return None
    found = {a.lower() for a in _MAILTO.findall(post)}
    ident = _LIST_ID.search(list_id)
    if ident:
        wanted = ident[1].lower()
        found.update(a for a in seen if a.replace("@", ".", 1) == wanted)
    return MailingList((list_id or f"List-Post {post}")[:200], frozenset(found))
