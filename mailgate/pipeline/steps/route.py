"""Step 6, route: what a reply does to the ticket it threads to.

A stranger citing a ticket follows ``[conversation] stranger_policy``
(accept, quarantine, or a new ticket linked to the cited one). Anyone else's
reply follows ``conversation.on_reply`` for the ticket's status and their
role: keep, reopen, or a new linked ticket; a closed ticket is never
reopened after ``reopen_window``, and a reply that says nothing but thank
you (``mailgate.replies``) changes no status and opens nothing, even after the
window (seed 000); one that carries files or new people is passed to the team.
Automatic mail joins its ticket and changes nothing; so does a reply whose text is
only an absence notice (``mailgate.replies.absence``: an out-of-office without the
headers or subject that ``mailgate.autoreply`` knows), and a satisfaction rating that
says nothing more (the ``rate`` step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailgate.autoreply import Automatic
from mailgate.conversation import within
from mailgate.pipeline import notices
from mailgate.pipeline.context import Context, Quarantine, Route, TicketView
from mailgate.pipeline.services import Services
from mailgate.replies import understand
from mailgate.replies.absence import absence_notice
from mailgate.store import Store, Ticket


def route(services: Services, store: Store, ctx: Context) -> None:
    """Decide join, reopen, thanks or a new ticket."""
    ticket = ctx.threaded
    if ticket is not None and ctx.facts.automatic is None and ctx.role != "engineer":
        _absent(services, ctx)
    if ticket is None:
        ctx.route = Route("new")
    elif ctx.facts.automatic is not None:  # recorded; passed on if it asks for action
        ctx.route = notices.automatic_route(services, store, ctx, ctx.facts.automatic)
    elif ctx.rating is not None and ctx.rating.only:  # the rate step: a rating, nothing more
        ctx.route = Route("rating", f"a rating of {ctx.rating.value}; {ctx.rating.reason}")
    elif ctx.role == "stranger":
        ctx.route = _stranger(services, ctx, ticket)
    else:
        ctx.route = _reply(services, ctx, ticket)
        if ctx.route.action == "thanks" and ctx.threading.merged_from is not None:
            _to_merged(store, ctx, ctx.threading.merged_from)
    if ticket is not None:
        ctx.decide("route", f"{ctx.route.action}: {ctx.route.reason}".rstrip(": "))


def _absent(services: Services, ctx: Context) -> None:
    """A reply whose new text is only an absence notice is automatic mail from here on,
    as a header-flagged out-of-office is (recorded, nothing reopened, no auto-close
    cancelled, nobody answered or told). Not an engineer's: their "I'm away until Monday,
    Anna takes over" is written to the customer."""
    found = absence_notice(ctx.inbound.text, lambda: services.understanding.lexicon)
    if found is not None:
        ctx.facts = replace(ctx.facts, automatic=Automatic("out-of-office", found.reason))


def _to_merged(store: Store, ctx: Context, number: int) -> None:
    """A thank-you citing a ticket that was merged away is recorded on that ticket: it
    tells the open survivor's team nothing."""
    cited = store.ticket(number)
    ctx.threading = replace(ctx.threading, ticket=cited,
                            detail=f"{ctx.threading.detail}; a thank-you: recorded on "
                                   f"{cited.reference}")
    ctx.view = TicketView(store, cited)


def _stranger(services: Services, ctx: Context, cited: Ticket) -> Route:
    """A stranger citing a ticket, per ``stranger_policy``. Under ``new_linked`` (the
    default) a bare thank-you (often the requester from a second address, a phone's other
    account) opens no ticket and sends nothing: it is recorded on the cited ticket, whose
    status it keeps, and adds nobody; one with files or people copied still opens its own
    ticket (what a stranger sends never reaches the cited ticket's people)."""
    policy, who = services.config.conversation.stranger_policy, ctx.facts.sender
    if policy == "accept":
        return Route("append", "stranger accepted (conversation.stranger_policy = accept)")
    if policy == "quarantine":
        raise Quarantine(f"{who} is not a participant of {cited.reference} it cites "
                         "(conversation.stranger_policy = quarantine)")
    why = f"{who} cited {cited.reference} but is not one of its participants"
    verdict = understand(services.understanding, ctx.inbound, *_known(ctx))
    if verdict.thanks_only and not _extra(services, ctx):
        return Route("thanks", f"{why}; a bare thank-you: recorded on {cited.reference}, "
                               f"opens nothing: {verdict.reason}")
    return Route("new", why, link=(cited, why))


def _reply(services: Services, ctx: Context, ticket: Ticket) -> Route:
    settings = services.config.conversation
    action = settings.reply_action(ticket.status, ctx.role)
    reason = f"conversation.on_reply[{ticket.status}][{ctx.role}] = {action}"
    late = ticket.status == "closed" and not within(settings.reopen_window, ticket.closed_at,
                                                    ctx.now)
    if late:
        action, reason = "new", f"closed longer than reopen_window ({settings.reopen_window})"
    merged = ctx.threading.merged_from is not None  # cites a ticket merged into this one
    if (action in ("reopen", "new") or merged) and ctx.role != "engineer":
        verdict = understand(services.understanding, ctx.inbound, *_known(ctx))
        if verdict.thanks_only:  # keeps its status; after the window, opens nothing either
            extra = _extra(services, ctx)
            after = "; after reopen_window, recorded on the closed ticket" if late else ""
            return Route("thanks", f"{verdict.reason}{after}{extra}", passes=bool(extra))
        reason += f"; not a bare thank-you: {verdict.reason}"
    if action == "new":
        closed = f"closed {ticket.closed_at:%Y-%m-%d}, " if ticket.closed_at else ""
        return Route("new", reason, link=(ticket, f"reply to {ticket.reference} "
                                                  f"({ticket.status}, {closed}"
                                                  "conversation.on_reply / reopen_window)"))
    return Route("reopen" if action == "reopen" else "append", reason)


def _known(ctx: Context) -> tuple[Sequence[str], Sequence[str]]:
    """The texts of the ticket's messages, and of the mail we sent on it, for the
    thank-you step (its quoted history, and our mail pasted back without quote marks)."""
    if ctx.view is None:
        return (), ()
    return ctx.view.texts(), ctx.view.sent_texts()


def _extra(services: Services, ctx: Context) -> str:
    """What a thank-you carries besides thanks: files, or people not on the ticket yet (the
    team gets such a mail; the ticket still keeps its status)."""
    files = len(ctx.inbound.attachments)
    config, view = services.config, ctx.view
    new = [a for _, a in [*ctx.inbound.to, *ctx.inbound.cc]
           if a not in services.own_addresses and not config.accepts(a)
           and not config.team.is_engineer(a) and (view is None or not view.has_participant(a))
           and (view is None or a != view.ticket.requester)]
    said = [f"{files} attachment(s)" if files else "", f"new recipient(s) {', '.join(new)}"
            if new else ""]
    return "".join(f"; with {x}" for x in said if x)
