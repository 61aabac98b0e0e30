"""Step 9, record: the one writer of what the deciding steps decided.

Creates the ticket (with its deadlines, link and merge) or joins the
decided one; stores the message with its attachments and participants;
writes one event per decision; reopens a ticket the route step reopens.
Runs inside the message's savepoint: all or nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace

from mailgate import autoclose, clocks, desk, security
from mailgate.config import Config
from mailgate.pipeline import notices
from mailgate.pipeline.context import HISTORY, Context, MessageFacts, Outcome
from mailgate.pipeline.facts import classify, plan
from mailgate.pipeline.services import Services
from mailgate.refs import normalize_subject
from mailgate.store import Store, Ticket


def record(services: Services, store: Store, ctx: Context) -> None:
    """Write the ticket, the message and the events the decisions call for."""
    if ctx.duplicate_of is not None:
        ctx.outcome = Outcome("duplicate", ctx.inbound.message_id, ticket_id=ctx.duplicate_of,
                              action="duplicate")
        return
    if ctx.bounce is not None:
        _record_bounce(services, store, ctx)
        return
    ticket = _join_or_create(services, store, ctx)
    ctx.ticket = ticket
    store_message(store, ctx, ticket, _message_kind(ctx))
    if ctx.reused is not None:
        store.add_event(ticket.id, "message_id_reused", actor=ctx.facts.sender, now=ctx.now,
                        message_id=ctx.inbound.message_id,
                        detail=f"Message-ID {ctx.reused[0]} (a message of ticket "
                               f"{ctx.reused[1]}) reused by a mail with other content; "
                               f"stored as {ctx.inbound.message_id}")
    if ctx.token_exposed is not None:
        store.add_event(ctx.token_exposed[0], security.TOKEN_EXPOSED, actor="mailgate",
                        now=ctx.now, message_id=ctx.inbound.message_id,
                        detail=ctx.token_exposed[1])
    if _may_add_people(ctx):
        _participants(services, store, ctx, ticket)
    if ctx.rating is not None:
        _rating(store, ctx, ticket)
    assert ctx.outcome is not None
    if ctx.outcome.action != "created" or ctx.repeat_of is not None:
        store.touch_ticket(ticket.id, ctx.now)  # a new ticket was written at ``now``
    _after(services, store, ctx, ticket)


def _join_or_create(services: Services, store: Store, ctx: Context) -> Ticket:
    """The ticket the message goes on, with the event saying why; ``ctx.outcome`` set."""
    mid, who, now = ctx.inbound.message_id, ctx.facts.sender, ctx.now
    route, threading, repeat_of = ctx.route, ctx.threading, ctx.repeat_of
    joins = threading.ticket if route is None or route.action != "new" \
        or threading.method == "alert" else None
    if joins is None and (repeat_of is None
                          or services.config.conversation.merge_into == "newest"):
        ticket = create(services, store, ctx)
        ctx.outcome = _done(ctx, ticket, "created", threading.method)
        if ctx.alert is not None:
            store.touch_ticket(ticket.id, now, correlation_key=ctx.alert.correlation_key)
        if repeat_of is not None:  # the seeds' way: the older report joins the new one
            desk.merge(services.config, store, repeat_of[0], ticket, actor="mailgate",
                       why=repeat_of[1], now=now, message_id=mid)
        return ticket
    if joins is None:
        assert repeat_of is not None
        ticket, reason = repeat_of
        store.add_event(ticket.id, "duplicate_merged", actor=who, now=now, message_id=mid,
                        detail=reason)
        if who != ticket.requester and store.add_participant(
                ticket.id, who, ctx.inbound.from_name, "participant", now):
            # a colleague's report of the same problem (duplicate_scope = domain): they
            # get the desk's answers to it too
            store.add_event(ticket.id, "colleague_joined", actor=who, now=now,
                            message_id=mid, detail=f"{who} reported the same problem; "
                                                   "their mail was merged into this ticket")
        ctx.outcome = _done(ctx, ticket, "merged", "duplicate")
        return ticket
    if threading.method == "alert":
        assert ctx.alert is not None
        recovered = ctx.alert.recovered
        store.add_event(joins.id, "alert_recovered" if recovered else "alert_correlated",
                        actor=who, now=now, message_id=mid,
                        detail=f"alert {ctx.alert.correlation_key}"
                               f"{' recovered' if recovered else ' again'}")
        ctx.outcome = _done(ctx, joins, "correlated", "alert")
        return joins
    if ctx.joins_by_token:
        store.ensure_participant(joins.id, who, ctx.inbound.from_name, "participant", now)
    if ctx.newcomer is not None and store.add_participant(joins.id, who, ctx.inbound.from_name,
                                                          "participant", now):
        store.add_event(joins.id, ctx.newcomer[0], actor=who, now=now, message_id=mid,
                        detail=ctx.newcomer[1])
    store.add_event(joins.id, "threaded", actor=who, now=now, message_id=mid,
                    detail=f"{ctx.role} reply joined by {threading.detail}")
    ctx.outcome = _done(ctx, joins, "appended", threading.method)
    return joins


def _done(ctx: Context, ticket: Ticket, action: str, method: str) -> Outcome:
    return Outcome("done", ctx.inbound.message_id, ticket.id, ticket.reference, action, method)


def _language(store: Store, facts: MessageFacts) -> str:
    """The new ticket's language: the message's, else (a text too short to tell, no
    Content-Language) the language of the requester's newest ticket, so "Monitor flackert"
    from a German customer is not answered in English."""
    if facts.language_told:
        return facts.language
    return store.requester_language(facts.sender) or facts.language


def create(services: Services, store: Store, ctx: Context) -> Ticket:
    """A new ticket for the message: SLA level, deadlines and clocks, linked if it must be."""
    config, inbound, facts, now = services.config, ctx.inbound, ctx.facts, ctx.now
    start = clocks.start_of(ctx.item.received_at, now)  # when mailgate accepted the mail
    ahead = facts.decided is not None and facts.now == start  # worked out for this instant
    decided = facts.decided if ahead and facts.decided else classify(services, ctx.item,
                                                                       inbound)
    subject = services.tags.strip_tags(normalize_subject(inbound.subject)) or "(no subject)"
    planned = facts.clocks if ahead and facts.clocks is not None else \
        plan(config, facts, decided, start)
    robot = _robot_without_clock(config, ctx, decided.rule)
    history = ctx.item.channel == HISTORY
    if robot or history:
        planned = []
    ticket = store.create_ticket(  # with its deadlines: one INSERT, no UPDATEs after it
        reference_of=services.tags.reference, status="open", subject=subject,
        requester=facts.sender, requester_name=inbound.from_name,
        sla_level=decided.level, now=start, category=decided.category,
        priority=decided.priority, queue=decided.queue, language=_language(store, facts),
        **clocks.due_columns(planned),
    )
    if decided.fields:
        store.set_ticket_fields(ticket.id, decided.fields, now)
        ticket = replace(ticket, fields=dict(decided.fields))
    store.add_event(ticket.id, "created", actor=ticket.requester, now=now,
                    message_id=inbound.message_id,
                    detail=f"new ticket via {ctx.item.channel}; {'; '.join(decided.reasons)}")
    link = ctx.route.link if ctx.route is not None else None
    if link is not None:
        old, why = link
        store.add_event(ticket.id, "linked", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"linked to {old.reference}: {why}")
        store.add_event(old.id, "linked", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"new ticket {ticket.reference} linked: {why}")
    if ctx.related is not None:
        _related(store, ctx, ticket)
    clocks.start(config, store, ticket.id, decided.level, now, planned,
                 deadlines_written=True, started_at=start)
    if facts.mailing_list is not None and not planned:
        store.add_event(ticket.id, "sla_not_started", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"mail from the list {facts.mailing_list}: no SLA clock (no "
                               "sla.rules entry with mailing_lists = true matched)")
    elif history:
        store.add_event(ticket.id, "sla_not_started", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail="imported old mail (mailgate import without --ack): no SLA "
                               "clock, nobody told")
    elif robot:
        store.add_event(ticket.id, "sla_not_started", actor="mailgate", now=now,
                        message_id=inbound.message_id,
                        detail=f"automatic mail ({robot}): no SLA clock (no sla.rules "
                               "entry with mailing_lists = true matched)")
    return ticket


def _robot_without_clock(config: Config, ctx: Context, rule: str | None) -> str | None:
    """Why a new ticket opened by automatic mail (bulk, an out-of-office, a robot sender)
    starts no SLA clock, or None: nobody is told of such a ticket, so a running clock
    would first reach the team as a breach. A monitoring alert (``[[conversation.alerts]]``)
    and mail a rule with ``mailing_lists = true`` classified keep theirs."""
    automatic = ctx.facts.automatic
    if automatic is None or ctx.alert is not None or any(
            r.name == rule and r.mailing_lists for r in config.sla.rules):
        return None
    return automatic.reason


def _related(store: Store, ctx: Context, ticket: Ticket) -> None:
    """``repeat_linked`` on both tickets: the new one likely reports the older one's problem
    (the reason carries the score)."""
    assert ctx.related is not None
    old, why = ctx.related
    store.add_event(ticket.id, "repeat_linked", actor="mailgate", now=ctx.now,
                    message_id=ctx.inbound.message_id,
                    detail=f"likely the problem of {old.reference}, linked: {why}")
    store.add_event(old.id, "repeat_linked", actor="mailgate", now=ctx.now,
                    message_id=ctx.inbound.message_id,
                    detail=f"new ticket {ticket.reference} likely reports this problem, "
                           f"linked: {why}")


def store_message(store: Store, ctx: Context, ticket: Ticket, kind: str) -> None:
    """The incoming message and its attachments, on ``ticket``."""
    inbound = ctx.inbound
    row = store.add_message(
        ticket_id=ticket.id, message_id=inbound.message_id, direction="in",
        kind=kind, now=ctx.now, spool_id=ctx.item.id,
        from_addr=inbound.from_addr, from_name=inbound.from_name,
        to_addrs=[a for _, a in inbound.to], cc_addrs=[a for _, a in inbound.cc],
        date=inbound.date, subject=inbound.subject, body_text=inbound.text,
        in_reply_to=inbound.in_reply_to[0] if inbound.in_reply_to else None,
        threaded_by=ctx.outcome.method if ctx.outcome else None,
        decisions=json.dumps(ctx.trace, ensure_ascii=False) if ctx.trace else None,
    )
    for attachment in inbound.attachments:
        store.add_attachment(message_row=row, filename=attachment.filename,
                             content_type=attachment.content_type, data=attachment.data,
                             sha256=attachment.sha256)
    if inbound.cut_fields:
        store.add_event(ticket.id, "headers_cut", actor="mailgate", now=ctx.now,
                        message_id=inbound.message_id,
                        detail="header fields cut for processing, the raw message keeps "
                               f"them whole: {', '.join(inbound.cut_fields)}")


def _message_kind(ctx: Context) -> str:
    """How the message is filed: ``automatic``, ``engineer``, ``stranger`` (a stranger's mail
    kept on a ticket they are not on, under ``stranger_policy = "accept"``: its To/Cc must
    not count as "addressed on the ticket", or anyone a stranger copies could join and read
    the desk's answers) or ``customer``."""
    if ctx.facts.automatic:
        return "automatic"
    if ctx.role == "engineer":
        return "engineer"
    joins_existing = ctx.outcome is not None and ctx.outcome.action != "created"
    return "stranger" if ctx.role == "stranger" and joins_existing else "customer"


def _may_add_people(ctx: Context) -> bool:
    """Whether the mail's To/Cc may join the ticket it lands on. Never an engineer's (they
    copy colleagues as they please), nor automatic mail or a stranger's joining a ticket
    they are not on: both can be sent by anyone who guesses a ticket number, and each
    address added would receive every later answer of the desk."""
    if ctx.role == "engineer":
        return False
    joins_existing = ctx.outcome is not None and ctx.outcome.action != "created"
    return not (joins_existing and (ctx.facts.automatic is not None or ctx.role == "stranger"))


def _participants(services: Services, store: Store, ctx: Context, ticket: Ticket) -> None:
    """The requester and every customer-side address in To/Cc join the ticket; a mailing
    list never does (its address, nor anyone in To/Cc of a list post: the list's members
    would get every relay)."""
    inbound, config, now = ctx.inbound, services.config, ctx.now
    listed = ctx.facts.list_addresses
    if inbound.from_addr and inbound.from_addr == ticket.requester \
            and inbound.from_addr not in listed:
        store.ensure_participant(ticket.id, inbound.from_addr, inbound.from_name,
                                 "requester", now)
    if ctx.facts.mailing_list is not None:
        return
    delivered_to = {a.lower() for a in ctx.item.rcpt_tos}  # the desk's: mail came for it

    def ours(address: str) -> bool:
        return address in services.own_addresses or config.accepts(address) \
            or address in delivered_to

    addressed = [*inbound.to, *inbound.cc]
    others = [(n, a) for n, a in addressed if not ours(a) and not config.team.is_engineer(a)]
    if others and ctx.role != "engineer" and not any(ours(a) for _, a in addressed):
        # a customer Bcc'd the desk on a mail to someone else (their ISP, a vendor): those
        # people never wrote to us, and our answers are not for them (an engineer's own
        # mail that Bcc'd us adds whom it addressed, as any engineer's mail does)
        store.add_event(ticket.id, "participants_not_added", actor=inbound.from_addr,
                        now=now, message_id=inbound.message_id,
                        detail=f"the desk was not in To/Cc (Bcc): "
                               f"{', '.join(a for _, a in others)[:300]} not made participants")
        return
    for name, address in others:
        if store.add_participant(ticket.id, address, name or None, "participant", now):
            store.add_event(ticket.id, "participant_added", actor=inbound.from_addr,
                            now=now, detail=f"{address} was in To/Cc",
                            message_id=inbound.message_id)


def _after(services: Services, store: Store, ctx: Context, ticket: Ticket) -> None:
    """The status change or the note that the route decided for a customer's reply."""
    mid, who, now, route = ctx.inbound.message_id, ctx.facts.sender, ctx.now, ctx.route
    automatic = ctx.facts.automatic
    if automatic is not None:
        store.add_event(ticket.id, "automatic_mail", actor="mailgate", now=now,
                        message_id=mid,
                        detail=f"recorded, nothing reopened, nobody answered: {automatic.reason}")
        notices.record(store, ctx, ticket)  # one that asks for action: passed on
        return
    if ctx.outcome is not None and ctx.outcome.action == "merged":
        _repeat_answers(services, store, ctx, ticket)
        return
    if route is None or ctx.role == "engineer" or ctx.outcome is None \
            or ctx.outcome.action != "appended":
        return
    if ticket.status == "awaiting_reply" and ctx.role in ("requester", "participant"):
        if route.action == "thanks":  # still waiting: the period counts from their thanks
            autoclose.plan(services.config, store, ticket, now)
        else:  # they answered: no reminder, no auto-close
            autoclose.cancel(store, ticket.id)
    if route.action == "thanks":
        was = ctx.threaded.status if ctx.threaded else ticket.status
        store.add_event(ticket.id, "thanks_suppressed", actor=who, now=now, message_id=mid,
                        detail=f"thank-you, the {was} ticket keeps its status: {route.reason}")
    elif route.action == "reopen":
        was = ctx.threaded.status if ctx.threaded else ticket.status
        desk.set_status(services.config, store, ticket, "open", actor=who, now=now,
                        why=f"{ctx.role} replied to the {was} ticket (conversation.on_reply)",
                        message_id=mid)
        ctx.ticket = store.ticket(ticket.id)  # status, clocks and deadlines moved


def _repeat_answers(services: Services, store: Store, ctx: Context, ticket: Ticket) -> None:
    """A repeat report merged into a ticket is the customer writing again: on a ticket that
    waits for them it counts as their answer (``conversation.on_reply``, as a reply on the
    thread would), so the wait ends, the auto-close plan is cancelled and the clocks run
    again; a desk believing it still waits would close the ticket on the customer's own
    "still broken"."""
    if ticket.status != "awaiting_reply":
        return
    role = "requester" if ctx.facts.sender == ticket.requester else "participant"
    autoclose.cancel(store, ticket.id)
    if services.config.conversation.reply_action(ticket.status, role) == "reopen":
        desk.set_status(services.config, store, ticket, "open", actor=ctx.facts.sender,
                        now=ctx.now, why=f"a repeat report by the {role} answered the "
                                         "awaiting_reply ticket (conversation.on_reply)",
                        message_id=ctx.inbound.message_id)
        ctx.ticket = store.ticket(ticket.id)


def _rating(store: Store, ctx: Context, ticket: Ticket) -> None:
    """The rating the rate step found: the ticket's rating from now on, and an event."""
    assert ctx.rating is not None
    rating = ctx.rating
    if not rating.counted:  # a colleague's click on the unsigned link: noted, not counted
        store.add_event(ticket.id, "rating_not_counted", actor=ctx.facts.sender, now=ctx.now,
                        message_id=ctx.inbound.message_id,
                        detail=f"rating {rating.value} of 5 (by {rating.how}); {rating.reason}")
        return
    store.set_rating(ticket.id, rating.value, how=rating.how, now=ctx.now,
                     message_id=ctx.inbound.message_id)
    store.add_event(ticket.id, "rated", actor=ctx.facts.sender, now=ctx.now,
                    message_id=ctx.inbound.message_id,
                    detail=f"rating {rating.value} of 5 (by {rating.how}); {rating.reason}")


def _record_bounce(services: Services, store: Store, ctx: Context) -> None:
    assert ctx.bounce is not None
    ticket, report = ctx.bounce
    ctx.ticket = ticket
    ctx.outcome = _done(ctx, ticket, "bounce", "bounce")
    store_message(store, ctx, ticket, "bounce")
    detail = (f"{'failed' if report.permanent else 'delayed'} delivery of "
              f"{report.original_message_id} to {', '.join(report.recipients) or 'unknown'}: "
              f"{report.status or ''} {report.diagnostic or ''}".strip())
    store.add_event(ticket.id, "delivery_failed" if report.permanent else "delivery_delayed",
                    actor="mailgate", now=ctx.now, message_id=ctx.inbound.message_id,
                    detail=detail)

