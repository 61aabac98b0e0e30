"""Step 5, identify: who wrote, as far as the ticket is concerned.

``engineer`` (a team address), ``requester`` (the ticket's requester, or
anyone writing a new ticket), ``participant`` (a recorded participant; anyone
addressed in To/Cc on a message of the ticket, ours or an engineer's included;
a colleague at the requester's or a participant's organisation domain replying
on the thread, with ``[conversation] colleagues = "organisation"``; or a
stranger writing to the ticket's reply-token address: holding it proves they
got our mail) or ``stranger``. Newcomers join the ticket with an event.
"""

from __future__ import annotations

from mailgate.domains import domain_of, organisation
from mailgate.pipeline.context import Context, TicketView
from mailgate.pipeline.services import Services
from mailgate.store import Store


def identify(services: Services, store: Store, ctx: Context) -> None:
    """Decide the sender's role on the threaded ticket."""
    who, view = ctx.facts.sender, ctx.view
    if services.config.team.is_engineer(who):
        ctx.role = "engineer"
    elif view is None or who == view.ticket.requester:
        ctx.role = "requester"
    elif view.has_participant(who):
        ctx.role = "participant"
    elif ctx.threading.method == "token":
        ctx.role, ctx.joins_by_token = "participant", True
    elif store.addressed_on_ticket(view.ticket.id, who):
        ctx.role = "participant"
        ctx.newcomer = ("participant_added", f"{who} was addressed on a message of "
                                             f"{view.ticket.reference} and replied")
    elif (why := _colleague(services, store, ctx, view)) is not None:
        ctx.role, ctx.newcomer = "participant", ("colleague_joined", why)
    else:
        ctx.role = "stranger"
    how = " (by the reply-token address)" if ctx.joins_by_token else \
        f" ({ctx.newcomer[1]})" if ctx.newcomer else ""
    ctx.decide("identify", f"{who} is the {ctx.role}{how}")


def _colleague(services: Services, store: Store, ctx: Context,
               view: TicketView) -> str | None:
    """Why the sender counts as a colleague of the ticket's people, or None.

    Only a reply on the thread (In-Reply-To/References naming a mail of the
    ticket: a subject tag alone is typed by anyone) from an organisation
    domain (never a public mail provider) that the requester or a participant
    writes from."""
    settings = services.config.conversation
    home = organisation(ctx.facts.sender, settings.public_domains)
    if settings.colleagues != "organisation" or home is None:
        return None
    cited = [*ctx.inbound.in_reply_to, *ctx.inbound.references]
    found = store.ticket_of_message_ids(cited) if cited else None
    live = store.live_ticket(found[0]) if found else None
    if live is None or live.id != view.ticket.id:
        return None
    if services.config.team.is_engineer(f"x@{home}") or \
            any(home == domain_of(a) for a in services.own_addresses):
        return None
    people = [view.ticket.requester, *(p["address"] for p in store.participants(
        view.ticket.id))]
    if home not in {organisation(a, settings.public_domains) for a in people}:
        return None
    return (f"a colleague at {home}, the organisation of the ticket's people, replied on "
            "the thread (conversation.colleagues = organisation)")
