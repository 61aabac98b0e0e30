"""Step 1, dedupe: the same mail delivered twice is stored once.

A Message-ID (or, for mail without one, the content hash the parser made
its id from) that is already stored means the mail arrived again (a
retrying MTA, a second IMAP fetch, a pipe and a relay both delivering it):
it is recorded as a duplicate of the stored copy, nothing more.
"""

from __future__ import annotations

from mailgate.pipeline.context import Context
from mailgate.pipeline.services import Services
from mailgate.store import Store


def dedupe(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether this Message-ID is already stored."""
    seen = store.message_exists(ctx.inbound.message_id)
    if seen is not None:
        ctx.duplicate_of = seen[0]
        ctx.settled = True
        ctx.decide("dedupe", f"Message-ID already stored on ticket {seen[0]}")
