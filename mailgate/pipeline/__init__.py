"""From one parsed message to a committed ticket update: the one path every channel shares.

Every message goes through the named steps of ``pipeline.steps`` in order,
each in its own module:

1. **dedupe**: the same mail delivered twice is stored once.
2. **bounce**: a delivery failure report joins the ticket of our mail.
3. **admission**: spam and failed authentication are held.
4. **thread**: reply token, subject tag, In-Reply-To, References.
5. **identify**: engineer, requester, participant or stranger.
6. **route**: join, reopen, thank-you (stays closed) or a new linked ticket.
7. **alert**: a monitoring alert joins the open ticket of its key.
8. **repeat**: a repeat report of an open problem joins it.
9. **record**: the one writer: ticket, message, participants, events.
10. **respond**: acknowledgement, relay, notification (never to automatic mail).

The deciding steps (1-8) read ``MessageFacts`` (worked out once, before the
transaction) and the store, and fill in the ``Context``; the writing steps
(9-10) apply it inside the message's savepoint.
"""

from mailgate.pipeline.context import (
    HISTORY,
    Context,
    MessageFacts,
    Outcome,
    Quarantine,
    Threading,
)
from mailgate.pipeline.runner import Pipeline

Facts = MessageFacts  # the processor's name for them

__all__ = ["HISTORY", "Context", "Facts", "MessageFacts", "Outcome", "Pipeline", "Quarantine",
           "Threading"]
