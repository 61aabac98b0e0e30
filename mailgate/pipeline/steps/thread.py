"""Step 4, thread: which ticket a message belongs to.

In order: a valid reply-token recipient, a ticket tag in the subject, then
``In-Reply-To``, then ``References`` (newest first; incoming and our own
outgoing Message-IDs alike), then the bare reference in the subject ("SUP-000001",
no brackets) but only from the requester or a participant of that ticket
(``bare_reference``). A merged ticket is followed to the one it was
merged into. Nothing found means a new ticket, unless a later step joins it
to one (an alert, a repeat report).
"""

from __future__ import annotations

from mailgate.message import Inbound
from mailgate.pipeline.context import Context, Threading, TicketView
from mailgate.pipeline.services import Services
from mailgate.refs import TagFormat
from mailgate.store import Store


def find_ticket(store: Store, tags: TagFormat, inbound: Inbound,
                numbers: tuple[int, ...] | list[int], token_ticket: int | None = None,
                ) -> Threading:
    """The ticket ``inbound`` belongs to and the signal that said so."""
    if token_ticket is not None:
        ticket = store.live_ticket(token_ticket)
        if ticket is not None:
            return Threading(ticket, "token",
                             f"reply address token of {tags.reference(token_ticket)}")
    for number in numbers:
        ticket = store.live_ticket(number)
        if ticket is not None:
            via = "" if ticket.id == number else f" (merged into {ticket.reference})"
            return Threading(ticket, "tag", f"subject tag [{tags.reference(number)}]{via}",
                             merged_from=number if ticket.id != number else None)
    for method, ids in (("in-reply-to", inbound.in_reply_to),
                        ("references", list(reversed(inbound.references)))):
        found = store.ticket_of_message_ids(ids)
        if found:
            ticket = store.live_ticket(found[0])
            if ticket is not None:
                return Threading(ticket, method, f"{method} {found[1]}")
    return Threading(None, "none")


def thread(services: Services, store: Store, ctx: Context) -> None:
    """Decide the ticket the message threads to."""
    ctx.threading = find_ticket(store, services.tags, ctx.inbound, ctx.facts.tag_numbers,
                                ctx.facts.token_ticket)
    if ctx.threading.ticket is None:
        ctx.threading = bare_reference(store, services.tags, ctx.inbound, ctx.facts.sender)
    if ctx.threading.ticket is not None:
        ctx.view = TicketView(store, ctx.threading.ticket)
        ctx.decide("thread", f"{ctx.threading.ticket.reference} by {ctx.threading.detail}")
    else:
        ctx.decide("thread", "no ticket cited")


def bare_reference(store: Store, tags: TagFormat, inbound: Inbound, sender: str) -> Threading:
    """A subject naming a ticket by its full reference without the brackets ("Re: SUP-000001
    Printer broken", a customer writing a fresh mail about their ticket), when nothing else
    threads it: joins that ticket only if ``sender`` is its requester or a participant.
    Anyone may write such a word, a product code or another desk's ticket may look like it,
    and a mail filed on the wrong ticket is worse than a new ticket: from anyone else the
    mail opens a new ticket, as before."""
    for number in tags.find_bare_numbers(inbound.subject):
        ticket = store.live_ticket(number)
        if ticket is not None and (sender == ticket.requester
                                   or store.is_participant(ticket.id, sender)):
            via = "" if ticket.id == number else f" (merged into {ticket.reference})"
            return Threading(ticket, "tag", f"bare reference {tags.reference(number)} in the "
                                            f"subject, from one of its people{via}",
                             merged_from=number if ticket.id != number else None)
    return Threading(None, "none")
