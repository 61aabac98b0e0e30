"""An automatic notice that asks for action is passed on to the assignee (issue #16).

Why: automatic mail on a ticket (an out-of-office by its headers, an absence notice found
in the text) is recorded and nothing else: no reopen, nobody answered (loop safety; a
robot restarts no SLA clock). A notice that says the customer has left, that their mailbox
is no longer read, or that mail must go to another address (``replies.redirect``) is
something an engineer must act on, or every later answer goes nowhere. So it takes the
path of a thank-you that carries files (the route's ``passes``): the ticket keeps its
status, nobody outside is answered, and the assignee (the team address when none) gets an
internal notification that quotes the notice and names the contact it gives, with an
event on the ticket. The contact is NOT added as a participant (anyone can write an
auto-reply naming any address): the engineer decides (``#cc +address``); a contact at
another domain than the sender's is pointed out.

Passed on once per sender and ticket (a robot that answers every relay with the same
"mailbox not monitored" reaches the engineer once); only a requester's or participant's
notice (a stranger's auto-reply tells nothing about the ticket's people); never a bounce,
a list's or bulk mail, a read receipt or mail from a robot address (noreply@...: not
monitored by nature), nor imported old mail (``mailgate import``: nobody is told of it).
"""

from __future__ import annotations

from mailgate.autoreply import Automatic
from mailgate.pipeline.context import HISTORY, Context, Route
from mailgate.pipeline.services import Services
from mailgate.replies.redirect import redirect
from mailgate.store import Store, Ticket

#: the event on the ticket of a notice passed on
PASSED_ON = "automatic_passed_on"
#: automatic mail whose text may ask for action (an auto-reply of a person's mailbox)
NOTICE_KINDS = frozenset({"auto-submitted", "autoreply", "out-of-office", "null-sender"})


def automatic_route(services: Services, store: Store, ctx: Context,
                    automatic: Automatic) -> Route:
    """The route of automatic mail on a ticket: recorded only, or passed on (``passes``,
    ``asks``: what the event and the notification say) when its text asks for action."""
    recorded = Route("automatic", automatic.reason)
    view = ctx.view
    if view is None or automatic.kind not in NOTICE_KINDS or ctx.item.channel == HISTORY \
            or ctx.role not in ("requester", "participant"):  # imported mail: nobody told
        return recorded
    own = frozenset(a.lower() for a in services.own_addresses)
    found = redirect(ctx.inbound.text, ctx.facts.sender, own)
    if found is None:
        return recorded
    ticket, sender = view.ticket, ctx.facts.sender
    if any(e["kind"] == PASSED_ON and e["actor"] == sender for e in store.events(ticket.id)):
        return Route("automatic", f"{automatic.reason}; {found.asks}: passed on before, "
                                  "recorded only")
    to = ticket.assignee or services.config.team.address
    if not to:
        return Route("automatic", f"{automatic.reason}; {found.asks}: no assignee nor team "
                                  "address to pass it to")
    whom = "the assignee" if ticket.assignee else "the team"
    outside = found.outside(sender)
    caution = (f"; not at the sender's domain, check before writing to "
               f"{', '.join(outside)} (anyone can write an auto-reply)") if outside else ""
    return Route("automatic", f"{automatic.reason}; {found.asks}: passed to {whom}",
                 passes=True,
                 asks=f"{found.asks}: passed to {whom} ({to}); not reopened, nobody answered, "
                      f"nobody added{caution}; it says: {found.evidence!r}")


def record(store: Store, ctx: Context, ticket: Ticket) -> None:
    """The event of a notice passed on (the ``automatic_mail`` event is written too)."""
    route = ctx.route
    if route is not None and route.passes and route.action == "automatic":
        store.add_event(ticket.id, PASSED_ON, actor=ctx.facts.sender, now=ctx.now,
                        message_id=ctx.inbound.message_id, detail=route.asks)


def respond(services: Services, store: Store, ctx: Context, ticket: Ticket) -> None:
    """The internal notification of a notice passed on: the notice quoted, its contact
    named, how to copy the contact in (the engineer decides)."""
    route = ctx.route
    if route is None or not route.passes or route.action != "automatic":
        return
    services.conversation.notify_team(
        store, ticket, ctx.inbound, ctx.now, "notice",
        reason=f"Kept {ticket.status}: {route.asks}.\nTo copy a contact on the ticket, answer "
               "with #cc +address on the first line.")
