"""Between identify and route, rate: a satisfaction rating the reply gives its ticket.

A rating counts when a valid signed link token of the ticket is in the subject
(``[rN-TOKEN]``, from the resolved mail's ``mailto:`` links; from anyone), or
when the requester or a participant answers a closed ticket whose resolved
mail asked for a rating with a digit 1-5 or a rating word of their language
on the first line (``mailgate.satisfaction``); a bare rating from anyone else
(a colleague clicking the unsigned link) is noted, not counted
(``rate_stranger``). The rest of the reply is read
by the thank-you reader: nothing, or only thanks, and the rating is all it
says (the ``route`` step keeps the ticket's status); a question or a problem,
and the reply also routes as any reply does (a closed ticket reopens).
"""

from __future__ import annotations

from dataclasses import replace

from mailgate import satisfaction
from mailgate.pipeline.context import Context, Rating
from mailgate.pipeline.services import Services
from mailgate.pipeline.steps.rate_stranger import stranger_rating
from mailgate.quotes import reply_parts
from mailgate.replies import judge
from mailgate.store import Store


def rate(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether the message rates its ticket, and whether that is all it says."""
    ticket = ctx.threaded
    if ticket is None or ctx.facts.automatic is not None or ctx.role == "engineer" \
            or services.config.conversation.resolved_mail != "rating":
        return
    value = satisfaction.signed(services.config, ctx.inbound.subject, ticket.id)
    how = "token"
    if value is None and ctx.role == "stranger":
        ctx.rating = stranger_rating(services, store, ctx, ticket)
        return
    if value is None and (ctx.role not in ("requester", "participant")
                          or ticket.status != "closed" or not store.rating_requested(ticket.id)):
        return
    parts = reply_parts(ctx.inbound.text)
    found = satisfaction.read(parts.text, ticket.language)
    if value is None:
        if found is None:
            return
        value, how = found.value, found.how
    rest = found.rest if found is not None else parts.text
    if not rest.strip() and not parts.late.strip():
        only, reason = True, "nothing else in the reply"
    else:
        verdict = judge(services.understanding, replace(parts, text=rest),
                        ctx.inbound.from_name)
        only = verdict.thanks_only
        reason = verdict.reason if only else f"and more: {verdict.reason}"
    ctx.rating = Rating(value, how, only, reason)
    ctx.decide("rate", f"rating {value} by {how}; {reason}")
