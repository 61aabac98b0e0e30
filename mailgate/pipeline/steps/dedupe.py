"""Step 1, dedupe: the same mail delivered twice is stored once.

A Message-ID (or, for mail without one, the content hash the parser made
its id from) that is already stored means the mail arrived again (a
retrying MTA, a second IMAP fetch, a pipe and a relay both delivering it):
it is recorded as a duplicate of the stored copy, nothing more. "The same
mail" is decided by its content (sender, subject, text, attachments), not by
its trace headers (``Received:`` and the like differ on every delivery).
Some clients and gateways reuse Message-IDs: a mail with an incoming mail's
id and other content is not a duplicate. It is stored as its own message
under an id derived from the old one and its content (so its own redelivery
is again a duplicate), with an event saying the id was reused.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from mailgate.message import Inbound
from mailgate.pipeline.context import Context
from mailgate.pipeline.services import Services
from mailgate.store import Store


def dedupe(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether this Message-ID is already stored, for this content."""
    mid = ctx.inbound.message_id
    stored = store.message_content(mid)
    if stored is None:
        return
    mine = content_of(ctx.inbound)
    if stored["direction"] != "in" or fingerprint(stored) == fingerprint(mine):
        _duplicate(ctx, stored["ticket_id"], f"Message-ID already stored on ticket "
                                             f"{stored['ticket_id']}")
        return
    derived = reused_id(mid, fingerprint(mine))
    again = store.message_exists(derived)
    if again is not None:
        _duplicate(ctx, again[0], f"Message-ID {mid} reused, and this mail already "
                                  f"stored as {derived} on ticket {again[0]}")
        return
    ctx.reused = (mid, stored["ticket_id"])
    ctx.inbound = replace(ctx.inbound, message_id=derived)
    ctx.decide("dedupe", f"Message-ID {mid} reused by a mail with other content "
                         f"(stored one on ticket {stored['ticket_id']}): stored as {derived}")


def _duplicate(ctx: Context, ticket_id: int, why: str) -> None:
    ctx.duplicate_of = ticket_id
    ctx.settled = True
    ctx.decide("dedupe", why)


def content_of(inbound: Inbound) -> dict[str, object]:
    """What makes two deliveries the same mail: the sender, the subject, the text and the
    attachments (the body and its content headers); trace headers play no part."""
    return {"from_addr": inbound.from_addr, "subject": inbound.subject,
            "text": inbound.text, "attachments": [a.sha256 for a in inbound.attachments]}


def fingerprint(content: dict[str, object]) -> str:
    """What tells two mails under one Message-ID apart: author, subject, text, files."""
    parts = [" ".join(str(content[key]).split()) for key in ("from_addr", "subject", "text")]
    parts += [str(sha) for sha in content["attachments"]]  # type: ignore[attr-defined]
    return hashlib.sha256("\x00".join(parts).casefold().encode()).hexdigest()


def reused_id(message_id: str, fingerprint: str) -> str:
    """The id a mail reusing ``message_id`` is stored under: still a valid Message-ID."""
    local, at, domain = message_id.strip("<>").rpartition("@")
    if not at:
        local, domain = message_id.strip("<>"), "reused.invalid"
    return f"<{local}.reused-{fingerprint[:16]}@{domain}>"
