"""Step 2, bounce: a delivery failure report for our own mail joins the ticket of that mail.

A bounce never becomes a ticket: either it reports a mail we sent (found by
its Message-ID among our outgoing messages) and is recorded there, or it is
quarantined for a person to look at.
"""

from __future__ import annotations

from mailgate.autoreply import parse_bounce
from mailgate.pipeline.context import Context, Quarantine
from mailgate.pipeline.services import Services
from mailgate.store import Store


def bounce(services: Services, store: Store, ctx: Context) -> None:
    """Decide which ticket a bounce belongs to (or hold it)."""
    automatic = ctx.facts.automatic
    if automatic is None or automatic.kind != "bounce":
        return
    report = parse_bounce(ctx.inbound.msg, ctx.item.mail_from)
    original = report.original_message_id if report else None
    found = store.message_exists(original) if original else None
    if report is None or found is None or found[1] != "out":
        raise Quarantine(f"bounce for a message we did not send ({original or 'no id'})")
    ticket = store.live_ticket(found[0])
    if ticket is None:
        raise Quarantine(f"bounce for a message of a ticket that is gone ({original})")
    ctx.bounce = (ticket, report)
    ctx.settled = True
    ctx.decide("bounce", f"{'permanent' if report.permanent else 'delayed'} delivery failure "
                         f"of {original} ({ticket.reference})")
