"""Step 10, respond: the mail a message calls for, queued in the outbox in its transaction.

A new ticket gets the acknowledgement (ticket number, SLA level and due
time; the ticket it was linked to as likely the same problem) and the team's
notice; a repeat report the "joined your open ticket"
notice; an engineer's reply its commands applied and its text relayed; a
customer's reply a notice to the team (not for a thank-you, unless
``notify_on_thanks``); a permanent bounce a notice to the team. Automatic mail
and a correlated alert are never answered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mailgate import locales, resolution, sla
from mailgate.autoreply import Bounce
from mailgate.clock import from_db
from mailgate.conversation import ticket_context
from mailgate.identity import TOKEN_PROOF
from mailgate.pipeline import history, notices
from mailgate.pipeline.context import HISTORY, Context
from mailgate.pipeline.services import Services
from mailgate.quotes import new_text
from mailgate.store import Store, Ticket


def respond(services: Services, store: Store, ctx: Context) -> None:
    """Queue the acknowledgement, relay or notification the decisions call for."""
    ticket, outcome, route = ctx.ticket, ctx.outcome, ctx.route
    if ticket is None or outcome is None:
        return  # a duplicate: answered the first time
    conversation = services.conversation
    if ctx.bounce is not None:
        if ctx.bounce[1].permanent and _tell_about_bounce(services, store, ticket,
                                                          ctx.bounce[1]):
            conversation.notify_team(store, ticket, ctx.inbound, ctx.now, "bounce")
    elif ctx.facts.automatic is not None or outcome.action == "correlated" \
            or ctx.item.channel == HISTORY:  # imported old mail: nobody is told of it
        if ctx.item.channel == HISTORY and ctx.facts.automatic is None:
            history.engineer_commands(services, store, ctx, ticket)  # "#close" counts
        else:
            notices.respond(services, store, ctx, ticket)  # a notice that asks for action
        return
    elif outcome.action == "created":
        welcome(services, store, ctx, ticket)
    elif outcome.action == "merged":
        welcome(services, store, ctx, ticket, template="merged")
    elif ctx.role == "engineer":
        conversation.engineer_reply(store, ticket, ctx.inbound, ctx.now,
                                    token_ok=ctx.threading.method == "token"
                                    or ctx.proof == TOKEN_PROOF)
        closed = store.ticket(ticket.id)
        if ticket.status != "closed" and closed.status == "closed":  # by #close or #status
            resolution.send_resolved(services.config, store, services.mailer, closed, ctx.now)
    elif route is not None and route.action == "rating":
        return  # recorded on the ticket, counted by `mailgate sla` and /metrics
    elif route is not None and route.action == "thanks":
        if services.config.conversation.notify_on_thanks or route.passes:
            passed = ", passed on" if route.passes else ""  # the reason names files/people
            conversation.notify_team(store, ticket, ctx.inbound, ctx.now, "thanks",
                                     reason=f"Kept {ticket.status} as a thank-you{passed}: "
                                            f"{route.reason}")
    else:
        was = ctx.threaded.status if ctx.threaded else None
        reopened = route is not None and route.action == "reopen"
        said = [f"Reopened: the {was} ticket is open again"] \
            if reopened and was != "open" else []
        if ctx.newcomer is not None:  # a colleague or an addressed contact joined by writing
            said.append(f"{ctx.inbound.from_addr} joined the ticket: {ctx.newcomer[1]}")
        conversation.customer_reply(store, ticket, ctx.inbound, ctx.now,
                                    notify=reopened or was != "closed",
                                    reason="\n".join(said))


#: How long a customer who was told that their mail joined an open ticket is not told
#: again for that ticket: RFC 3834 (2) says an automatic responder should not send the same
#: response to one sender more than once in a period, and proposes 7 days.
MERGED_NOTICE_PERIOD = timedelta(days=7)


def _told_before(store: Store, ctx: Context, ticket: Ticket, recipient: str) -> str | None:
    """None when a repeat report's sender gets the "joined your open ticket" notice; else
    the reason for the team's notice ("" for none), and the event says why nobody else is.

    The sender is told once per ticket within ``MERGED_NOTICE_PERIOD``: later repeats join
    silently (the notice would say the same again, and a robot that answers every mail
    with a new one stops after one round instead of running to the loop cap). The team is
    then told only when the text says something this sender's earlier mail on the ticket
    did not (a robot's canned answer, or one text sent twice, is recorded only)."""
    told = store.last_told(ticket.id, "merged", recipient)
    if told is None or from_db(told) < ctx.now - MERGED_NOTICE_PERIOD:
        return None
    inbound = ctx.inbound
    said = _words(inbound.text)
    again = any(_words(text) == said for text in store.texts_from(
        ticket.id, inbound.from_addr, exclude=inbound.message_id))
    store.add_event(ticket.id, "merged_notice_skipped", actor="mailgate", now=ctx.now,
                    message_id=inbound.message_id,
                    detail=f"{recipient} was told at {told} that mail joins this ticket"
                           + ("; the text repeats an earlier mail, the team is not told"
                              if again else ""))
    return "" if again else f"Joined quietly: {recipient} was told before that mail joins it"


def _words(text: str) -> str:
    """The new text's words, lower case, without spacing or quoted history."""
    return " ".join(new_text(text).lower().split())


#: Mail of ours that goes to the team, never to a customer: a bounce of one is recorded and
#: answered by nothing (a notice about it would go where the first one bounced: a loop).
TEAM_KINDS = frozenset({"notification", "reminder", "command_error", "relay_notice"})


def _tell_about_bounce(services: Services, store: Store, ticket: Ticket,
                       report: Bounce) -> bool:
    """Whether a permanent bounce deserves a notice: not when the mail that bounced was a
    notice to the team, nor when the notice would go to the address that bounced."""
    to = (ticket.assignee or services.config.team.address or "").lower()
    if not to or to in {r.lower() for r in report.recipients}:
        return False
    bounced = store.stored_message(report.original_message_id) \
        if report.original_message_id else None
    return bounced is None or bounced["kind"] not in TEAM_KINDS


def welcome(services: Services, store: Store, ctx: Context, ticket: Ticket,
            template: str = "ack") -> None:
    """The acknowledgement (or 'joined your open ticket' notice) and the team's notice."""
    config, inbound, now = services.config, ctx.inbound, ctx.now
    level_name = ticket.sla_level or config.sla.default_level
    level = sla.level_of(config, level_name)
    calendar = config.sla.calendar(level.calendar)
    lang = services.renderer.language_of(template, ticket.language)  # the SLA in its words
    resolution = level.resolution
    working = not calendar.round_the_clock  # every minute counts: no "working" hours
    ticket_vars = ticket_context(ticket) | {
        "sla_description": level.description,
        "first_response_due": sla.local(config, level_name, ticket.first_response_due),
    }
    context: dict[str, Any] = {
        "gateway": {"name": config.gateway.name, "address": config.support_address},
        "ticket": ticket_vars,
        "sla": {
            "level": level_name, "description": level.description,
            "first_response": locales.working_time(level.first_response, lang, working),
            "first_response_within": locales.within(level.first_response, lang, working),
            "resolution": locales.working_time(resolution, lang, working)
            if resolution else None,
            "resolution_within": locales.within(resolution, lang, working)
            if resolution else None,
            "timezone": str(calendar.tz), "calendar": calendar.name,
            "working_time_only": working,
        },
        "message": {"from_addr": inbound.from_addr, "from_name": inbound.from_name,
                    "subject": inbound.subject, "text": inbound.text},
        # a customer is told of their own tickets only: a colleague's ticket number (or
        # that a colleague wrote at all) is the colleague's; the team's notice says it
        "related": {"reference": ctx.related[0].reference}
        if ctx.related and ctx.related[0].requester == ticket.requester else None,
    }
    recipient = (inbound.reply_to or [(inbound.from_name or "", inbound.from_addr)])[0]
    # whom the mail greets: a colleague's report merged into the requester's ticket
    # (duplicate_scope = domain) is not "the request you already have open", nor theirs
    context["recipient"] = {"name": recipient[0] or None}
    context["colleague"] = ctx.facts.sender != ticket.requester
    if template == "merged":
        quiet = _told_before(store, ctx, ticket, recipient[1])
        if quiet is not None:
            if quiet:
                services.conversation.notify_team(store, ticket, inbound, now, "duplicate",
                                                  reason=quiet)
            return
    subject = services.tags.tagged_subject(ticket.id, inbound.subject or ticket.subject)
    queued = services.mailer.queue(store, ticket, kind=template, template=template,
                                   context=context, to=[recipient], subject=subject, now=now,
                                   in_reply_to=inbound.message_id,
                                   references=[*inbound.references, inbound.message_id],
                                   language=ticket.language)
    if queued:  # /metrics counts "acknowledged": new tickets only, not merge notices
        store.add_event(ticket.id, "acknowledged" if template == "ack" else "merge_notified",
                        actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"{template} queued to {recipient[1]}")
    said = []
    if ctx.related:
        said.append(f"Likely related to {ctx.related[0].reference}, linked: {ctx.related[1]}")
    link = ctx.route.link if ctx.route is not None else None
    if link is not None:  # split off: the engineer must know it is not the cited ticket
        said.append(f"Linked to {link[0].reference}, not added to it: {link[1]}")
    if ctx.facts.relayed is not None:
        said.append(f"Written by {ctx.facts.relayed.why}")
    services.conversation.notify_team(store, ticket, inbound, now,
                                      "new" if template == "ack" else "duplicate",
                                      reason="\n".join(said))
