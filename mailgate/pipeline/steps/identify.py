"""Step 5, identify: who wrote, as far as the ticket is concerned.

``engineer`` (a team address), ``requester`` (the ticket's requester, or
anyone writing a new ticket), ``participant`` (a recorded participant, or a
stranger writing to the ticket's reply-token address: holding it proves they
got our mail) or ``stranger``.
"""

from __future__ import annotations

from mailgate.pipeline.context import Context
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
    else:
        ctx.role = "stranger"
    how = " (by the reply-token address)" if ctx.joins_by_token else ""
    ctx.decide("identify", f"{who} is the {ctx.role}{how}")
