"""Step 8, repeat report: a new mail repeating an open report of the same sender joins it.

Seed 000: multiple reports of the same issue are merged. Only mail that
would open a new ticket (not automatic, not an alert, not a reply that was
deliberately split off into a linked ticket) is compared with the sender's
(or, with ``duplicate_scope = "domain"``, the organisation's, never a public
mail domain's) recent open tickets (``duplicate_window``): the same subject,
the same text, or the same problem in other words or languages (shared terms, and
the same thing and symptom by the concept lexicon: ``mailgate.duplicates``,
``mailgate.repeats``). A mail only likely about the same problem (a weaker
likeness, or a colleague's report minutes after the first) is not merged, since
a false merge hides a problem: it opens its own ticket, linked to the other one
(``link_related``), and its acknowledgement names it. The decision carries the
score and the shared terms.
"""

from __future__ import annotations

from mailgate.duplicates import find_duplicate
from mailgate.pipeline.context import Context
from mailgate.pipeline.services import Services
from mailgate.store import Store


def repeat(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether the mail repeats an open ticket of its sender."""
    route = ctx.route
    if (route is None or route.action != "new" or route.link is not None
            or ctx.alert is not None or ctx.facts.automatic is not None):
        return
    found = find_duplicate(services.config, store, ctx.inbound, ctx.now,
                           text=ctx.facts.text)  # the new text, worked out with the facts
    if found is None:
        return
    if found.merge:
        ctx.repeat_of = (found.ticket, found.reason)
        ctx.decide("repeat", f"repeats {found.ticket.reference}: {found.reason}")
    else:
        ctx.related = (found.ticket, found.reason)
        ctx.decide("repeat", f"linked to {found.ticket.reference}: {found.reason}")
