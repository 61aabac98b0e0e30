"""Fire due SLA reminders: the database holds the plan, the scheduler only says "now".

Each planned reminder is a row; firing claims due rows with a lease (so two
daemons never send the same one), checks that the deadline it was planned for
still holds (a reply, pause, close or level change rewrites the plan, and a
stale row is dropped), queues the reminder mail in the outbox, and marks the
row sent, and the clock's highest point sent (never planned again for it), in
the same transaction. After a restart, every reminder whose time
passed while the daemon was down is due at once and fires once.

Auto-close rows (kind ``auto_close``, planned by ``mailgate.autoclose``) share
the table and the claim: at point 0.5 the customer is reminded that the ticket
will close, at 1.0 it is closed (with the resolved mail). A reminder whose
close is due too (the daemon was down) is dropped: the close speaks for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from mailgate import autoclose, clocks, desk, resolution, security, sla
from mailgate.compose import compose, new_message_id
from mailgate.config import Config
from mailgate.mailer import Mailer
from mailgate.refs import TagFormat
from mailgate.render import Renderer
from mailgate.store import Store, Ticket

log = structlog.get_logger("mailgate.reminders")


def team_address(config: Config) -> str | None:
    """Where "team" reminders go: ``[sla] team_address``, else the team's own ``[team]
    address`` (a desk that set only the latter still hears of its deadlines)."""
    return config.sla.team_address or config.team.address


def config_warnings(config: Config) -> list[str]:
    """What ``check-config`` says of levels whose reminders would reach nobody."""
    fixed = {"team": team_address(config), "escalation": config.sla.escalation_address}
    found = []
    for name, level in config.sla.levels.items():
        if level.notify and not any(fixed.get(who, "@") for who in level.notify):
            found.append(f"sla level {name!r} notifies {', '.join(level.notify)}, but no "
                         "address is set for them (sla.team_address, team.address, "
                         "sla.escalation_address): its reminders go to nobody unless the "
                         "ticket has an assignee")
    return found


def recipients(config: Config, store: Store, ticket_id: int) -> list[str]:
    """Who the ticket's level says to remind: team, escalation, assignee addresses."""
    ticket = store.ticket_record(ticket_id)
    level = sla.level_of(config, ticket["sla_level"] or config.sla.default_level)
    found = []
    for who in level.notify:
        address = {"team": team_address(config),
                   "escalation": config.sla.escalation_address,
                   "assignee": ticket["assignee"]}[who]
        if address and "@" in address and address not in found:
            found.append(address)
    return found


def fire_due(config: Config, store: Store, renderer: Renderer, node: str,
             now: datetime) -> int:
    """Send every reminder due at ``now``, a claimed batch at a time until none is left (a
    backlog after downtime goes out in one pass, not a batch per sweep); return how many
    mails were queued."""
    queued = 0
    seen: set[int] = set()
    while batch := [r for r in store.claim_reminders(node, now, now + timedelta(minutes=2))
                    if r["id"] not in seen]:
        seen.update(r["id"] for r in batch)
        queued += _fire_batch(config, store, renderer, batch, now)
    return queued


def _fire_batch(config: Config, store: Store, renderer: Renderer,
                batch: list[dict[str, Any]], now: datetime) -> int:
    """Fire claimed reminders, each in its own transaction with its mail."""
    queued = 0
    tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
    for row in batch:
        with store.transaction():
            if row["kind"] == autoclose.KIND:
                queued += fire_auto_close(config, store, renderer, row, now)
            else:
                queued += _fire_sla(config, store, renderer, tags, row, now)
    return queued


def _fire_sla(config: Config, store: Store, renderer: Renderer, tags: TagFormat,
              row: dict[str, Any], now: datetime) -> int:
    """One SLA reminder: the team's mail, the breach at 100%; the mails queued."""
    clock = store.clock(row["ticket_id"], row["kind"])
    if clock is None or clock["state"] != "running" or clock["due_at"] != row["due_at"]:
        store.finish_reminder(row["id"], "dropped", now)
        return 0
    if not store.finish_reminder(row["id"], "sent", now):
        return 0
    clocks.note_sent(store, row["ticket_id"], row["kind"], row["point"], now)
    ticket = store.ticket(row["ticket_id"])
    level = ticket.sla_level or config.sla.default_level
    spec = sla.level_of(config, level)
    if row["point"] >= 1:
        clocks.mark_breached(store, ticket.id, row["kind"], now)
        if spec.repeat_after_breach:
            store.add_reminder(ticket.id, row["kind"], row["point"] + 1,
                               now + spec.repeat_after_breach, row["due_at"])
    to = recipients(config, store, ticket.id)
    store.add_event(ticket.id, "sla_reminder", actor="mailgate", now=now,
                    detail=f"{row['kind'].replace('_', ' ')} at "
                           f"{min(row['point'], 1.0):.0%} of target"
                           f"{' (repeat)' if row['point'] > 1 else ''}; "
                           f"to {', '.join(to) or 'nobody configured'}")
    if not to:
        return 0
    overdue = max(now - row["due_at"], timedelta(0))
    context = {
        "gateway": {"name": config.gateway.name, "address": config.support_address},
        "ticket": {"reference": ticket.reference, "subject": ticket.subject,
                   "status": ticket.status, "requester": ticket.requester},
        "sla": {"level": level, "clock": row["kind"].replace("_", " "),
                "due": sla.local(config, level, row["due_at"]),
                "point": min(row["point"], 1.0), "breached": row["point"] >= 1,
                "overdue": clocks.span(overdue)},
    }
    rendered = renderer.render_or_default("reminder", context)
    if rendered.failure:
        store.add_event(ticket.id, "template_failed", actor="mailgate", now=now,
                        detail=f"{rendered.failure}; sent the packaged default instead")
    message_id = new_message_id(config.support_address.rpartition("@")[2])
    state = "breached" if row["point"] >= 1 else f"{row['point']:.0%} of target"
    subject = f"{tags.tag(ticket.id)} SLA {row['kind'].replace('_', ' ')} {state}: " \
              f"{ticket.subject}"
    thread = store.thread_ids(ticket.id)
    raw = compose(from_addr=config.support_address, from_name=config.gateway.name,
                  to=[(None, a) for a in to], subject=subject, text=rendered.text,
                  html=rendered.html, message_id=message_id, date=now,
                  loop_id=config.support_address, auto_submitted="auto-generated",
                  in_reply_to=thread[-1] if thread else None, references=thread,
                  reply_to=_reply_to(config, store, ticket, to))
    store.outbox_add(ticket_id=ticket.id, message_id=message_id, kind="reminder",
                     mail_from=config.support_address, rcpt_tos=to, raw=raw, now=now)
    store.record_auto_replies(to, now)  # counted by the loop cap, as mailer's are
    log.info("sla_reminder_queued", ticket=ticket.reference, clock=row["kind"],
             point=row["point"])
    return 1


def _reply_to(config: Config, store: Store, ticket: Ticket, to: list[str]) -> str | None:
    """The reply address an engineer's answer to the reminder proves itself by, as with a
    notification: the team address's token (valid for every engineer), else the one
    recipient's. None when the reminder also goes to someone who is neither an engineer
    nor the team address (an escalation address may be anyone's: it gets no token)."""
    team = config.team.address
    if not to or not all(a == team or config.team.is_engineer(a) for a in to):
        return None
    who = team or (to[0] if len(to) == 1 else None)
    if who is None:
        return None
    generation = store.count_events(ticket.id, security.TOKEN_EXPOSED)
    return security.engineer_reply_address(config, ticket.id, ticket.reference, who,
                                           generation)


def fire_auto_close(config: Config, store: Store, renderer: Renderer, row: dict[str, Any],
                    now: datetime) -> int:
    """Remind the customer (point 0.5) or close the ticket (1.0); the mails queued."""
    ticket = store.ticket(row["ticket_id"])  # locked first: the lock order
    remind = row["point"] < autoclose.CLOSE
    stale = (ticket.status != "awaiting_reply" or not config.conversation.auto_close_after
             or (remind and row["due_at"] <= now))
    if not store.finish_reminder(row["id"], "dropped" if stale else "sent", now) or stale:
        return 0
    mailer = Mailer(config, renderer)
    if remind:
        return _waiting(config, store, mailer, ticket, row["due_at"], now)
    desk.set_status(config, store, ticket, "closed", actor="mailgate", now=now,
                    why=f"no reply from the customer within {autoclose.describe(config)}")
    store.add_event(ticket.id, "auto_closed", actor="mailgate", now=now,
                    detail=f"closed after {autoclose.describe(config)} awaiting the reply")
    log.info("auto_closed", ticket=ticket.reference)
    sent = resolution.send_resolved(config, store, mailer, store.ticket(ticket.id), now,
                                    auto=True)
    return 1 if sent else 0


def _waiting(config: Config, store: Store, mailer: Mailer, ticket: Ticket,
             close_at: datetime, now: datetime) -> int:
    """The customer's reminder: the ticket closes at ``close_at`` unless they answer."""
    level = ticket.sla_level or config.sla.default_level
    context = resolution.base_context(config, ticket) | {
        "close_at": sla.local(config, level, close_at)}
    sent = resolution.queue_to_customers(config, store, mailer, ticket, "waiting", context, now)
    store.add_event(ticket.id, "auto_close_reminder", actor="mailgate", now=now,
                    detail=f"the customer was reminded that the ticket closes at "
                           f"{close_at:%Y-%m-%d %H:%M} UTC" if sent else
                           "no customer to remind of the auto-close")
    return 1 if sent else 0
