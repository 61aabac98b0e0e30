"""A bare satisfaction rating from someone not on the ticket: noted on it, nothing more.

The resolved mail's ``mailto:`` links are forwarded, or land in a shared mailbox: a
colleague clicks "5 (excellent)" and mails "5" under the ticket's tag. Without a token
secret the link carries no proof, so the rating is not the customer's and does not count
(README: "without one the links still work from the ticket's participants"); but a bare
rating asks for nothing either, and opening a ticket for it (an acknowledgement to the
colleague, SLA clocks the desk must stop) is worse than a bare thank-you from a stranger,
which opens nothing already. So under ``stranger_policy = "new_linked"`` (the default) a
non-participant's reply to a closed ticket whose customers were asked for a rating, that
says a rating and nothing else (or only thanks, no files), joins the cited ticket as a
stranger's mail with a ``rating_not_counted`` event; it sends nothing and keeps the status.
Anything more still opens its own linked ticket, as any stranger's mail does.
"""

from __future__ import annotations

from dataclasses import replace

from mailgate import satisfaction
from mailgate.pipeline.context import Context, Rating
from mailgate.pipeline.services import Services
from mailgate.quotes import reply_parts
from mailgate.replies import judge
from mailgate.store import Store, Ticket


def stranger_rating(services: Services, store: Store, ctx: Context,
                    ticket: Ticket) -> Rating | None:
    """The uncounted rating a stranger's bare rating reply is, or None (not one)."""
    if services.config.conversation.stranger_policy != "new_linked" \
            or ticket.status != "closed" or ctx.inbound.attachments \
            or not store.rating_requested(ticket.id):
        return None
    parts = reply_parts(ctx.inbound.text)
    found = satisfaction.read(parts.text, ticket.language)
    if found is None:
        return None
    if found.rest.strip() or parts.late.strip():
        verdict = judge(services.understanding, replace(parts, text=found.rest),
                        ctx.inbound.from_name)
        if not verdict.thanks_only:
            return None
    reason = (f"{ctx.facts.sender} is not a participant of {ticket.reference}: noted on it, "
              f"not counted as its rating (only a signed link counts from anyone); opens "
              f"nothing")
    ctx.decide("rate", f"rating {found.value} by {found.how}; {reason}")
    return Rating(found.value, found.how, True, reason, counted=False)
