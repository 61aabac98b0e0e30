"""What happened to a message, and what would happen to one: ``trace``, ``explain``, previews.

``trace`` reads the story of a message that arrived: each delivery of it in
the spool (channel, source, envelope, state, reason), the ticket it joined,
the ticket's events that carry its Message-ID, and the mail we sent in answer.

``explain`` and ``preview`` are dry runs of the real code: they run the
pipeline (or the acknowledgement) inside a transaction and roll it back, so
what they show is exactly what processing would do now, with this config and
these templates, and nothing is changed. The transaction is SQLite's
``BEGIN IMMEDIATE``: it holds the write lock for the few milliseconds the
dry run takes, like the processor handling one message does.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from mailgate import clock, reminders, sla
from mailgate.config import Config
from mailgate.errors import ConfigError, MailgateError, NotFoundError, TransientError
from mailgate.message import Inbound, ParseError, parse
from mailgate.store import SpoolItem, Store, Ticket, ops


class _DryRun(Exception):
    """Raised to roll back a dry run's transaction."""


def normalize_message_id(value: str) -> str:
    value = value.strip()
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


# -- trace ------------------------------------------------------------------------------


def resolve(store: Store, what: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(Message-ID, spool rows) for a spool id, an .eml file or a Message-ID."""
    if what.isdigit() and not Path(what).exists():
        row = ops.spool_row(store, int(what))
        if row["message_id"] is None:
            return None, [row]
        rows = ops.spool_rows_of_message(store, row["message_id"])
        return row["message_id"], rows or [row]
    path = Path(what)
    if path.is_file():
        try:
            inbound = parse(path.read_bytes())
        except ParseError as exc:
            raise MailgateError(f"{path}: not a message: {exc}") from None
        except OSError as exc:
            raise MailgateError(f"{path}: cannot read: {exc.strerror}") from None
        message_id = _stored_id(store, inbound)
        return message_id, ops.spool_rows_of_message(store, message_id)
    if "@" not in what:
        raise MailgateError(f"{what!r} is neither a spool id, a file nor a Message-ID")
    message_id = normalize_message_id(what)
    return message_id, ops.spool_rows_of_message(store, message_id)


def _stored_id(store: Store, inbound: Inbound) -> str:
    """The id the file's mail is stored under: its own, or, when another mail with other
    content had that Message-ID first, the id derived for it (``dedupe``)."""
    from mailgate.pipeline.steps.dedupe import content_of, fingerprint, reused_id

    derived = reused_id(inbound.message_id, fingerprint(content_of(inbound)))
    return derived if store.message_exists(derived) is not None else inbound.message_id


def trace(store: Store, what: str) -> dict[str, Any]:
    """The whole story of one message (see the module docstring)."""
    message_id, deliveries = resolve(store, what)
    stored = ops.stored_message(store, message_id) if message_id else None
    answers = ops.answers_to(store, message_id) if message_id else []
    if not deliveries and stored is None:
        raise NotFoundError(f"no message {message_id} in the spool or in any ticket")
    ticket = None
    events: list[dict[str, Any]] = []
    ticket_id = stored["ticket_id"] if stored else next(
        (d["ticket_id"] for d in deliveries if d["ticket_id"]), None)
    if ticket_id is not None:
        settings = ops.ticket_settings(store, ticket_id)
        ticket = {k: settings[k] for k in ("reference", "status", "subject", "requester",
                                           "sla_level", "assignee")}
        ids = [message_id, *(a["message_id"] for a in answers)] if message_id else []
        events = ops.events_of_messages(store, ticket_id, ids)
    return {
        "message_id": message_id,
        "deliveries": deliveries,
        "message": stored,
        "ticket": ticket,
        "events": events,
        "answers": answers,
    }


def print_trace(story: dict[str, Any]) -> None:
    print(f"message {story['message_id'] or '(not parsed)'}")
    if not story["deliveries"]:
        print("  no spool delivery (an outgoing message, or its spool row was deleted)")
    for i, d in enumerate(story["deliveries"]):
        label = "received" if i == 0 else "again"
        print(f"  {label} {d['received_at'][:19]}  by {d['channel']} from {d['source'] or '-'}"
              f"  (spool {d['id']}, {d['size']} bytes)")
        print(f"    envelope: {d['mail_from'] or '<>'} -> {', '.join(d['rcpt_tos']) or '-'}")
        outcome = f"    outcome: {d['state']}"
        if d["processed_at"]:
            outcome += f" at {d['processed_at'][:19]}"
        if d["attempts"] > 1:
            outcome += f" after {d['attempts']} attempts"
        print(outcome + (f": {d['reason']}" if d["reason"] else ""))
    ticket = story["ticket"]
    if ticket:
        print(f"ticket {ticket['reference']}  [{ticket['status']}]  {ticket['subject']}")
    elif story["deliveries"]:
        print("no ticket (not processed yet, quarantined, or processing failed)")
    decisions = (story["message"] or {}).get("decisions") or []
    if decisions:
        print("steps:")
        for d in decisions:
            print(f"  {d['step']:<18} {d['decided']}")
    if story["events"]:
        print("events:")
        for e in story["events"]:
            print(f"  {e['at'][:19]}  {e['kind']:<18} {e['actor']}: {e['detail']}")
    if story["answers"]:
        print("answered with:")
        for a in story["answers"]:
            when = (a["sent_at"] or a["created_at"])[:19]
            line = f"  {a['kind']} to {', '.join(a['to'])}: {a['state']} {when}"
            if a["state"] != "sent" and a["attempts"]:
                line += f", {a['attempts']} attempt(s)"
            print(line + (f"; last error: {a['last_error']}" if a["last_error"] else ""))
    elif ticket:
        print("answered with: nothing")


# -- explain ---------------------------------------------------------------------------


def _pipeline(config: Config) -> Any:
    from mailgate.pipeline import Pipeline
    from mailgate.render import Renderer

    return Pipeline(config, Renderer(config.templates_dir))


def explain(config: Config, store: Store, raw: bytes, *, mail_from: str | None = None,
            rcpt_tos: list[str] | None = None, channel: str = "smtp",
            source: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """What processing ``raw`` now would do, decision by decision; nothing is kept."""
    now = now or clock.now()
    rcpt_tos = rcpt_tos or [config.gateway.addresses[0]]
    result: dict[str, Any] = {"dry_run": True, "outcome": None, "message_id": None,
                              "ticket": None, "events": [], "outbox": [], "reason": None}
    try:
        inbound = parse(raw)
    except ParseError as exc:
        result.update(outcome="quarantined", reason=f"cannot be parsed: {exc}")
        return result
    result["message_id"] = inbound.message_id
    result["message_id_generated"] = inbound.message_id_generated
    pipeline = _pipeline(config)
    item = SpoolItem(id=0, received_at=now, channel=channel, source=source or f"{channel}:explain",
                     mail_from=mail_from, rcpt_tos=list(rcpt_tos), size=len(raw), attempts=1)
    marks: dict[str, int] = {}
    try:
        with store.transaction():
            marks.update(ops.high_water(store))
            try:
                outcome = pipeline.handle(store, item, inbound, now)
            except TransientError:
                raise
            except Exception as exc:
                result.update(outcome="quarantined",
                              reason=f"processing fails: {type(exc).__name__}: {exc}")
                raise _DryRun from None
            result.update(outcome=outcome.state if outcome.state == "duplicate"
                          else outcome.action, threaded_by=outcome.method or None,
                          steps=[{"step": step, "decided": what}
                                 for step, what in outcome.trace])
            if outcome.ticket_id is not None:
                result["ticket"] = ops.ticket_settings(store, outcome.ticket_id)
                result["ticket"]["new"] = outcome.action == "created"
                result["ticket"]["dues_shown"] = _dues_shown(config, result["ticket"])
            result["events"] = ops.events_since(store, marks["events"])
            result["outbox"] = [_outgoing(row) for row in ops.outbox_since(store, marks["outbox"])]
            raise _DryRun
    except _DryRun:
        pass
    if result["outcome"] == "duplicate":
        result["reason"] = "this Message-ID is already stored: recorded as a duplicate, no more"
    return result


def _dues_shown(config: Config, ticket: dict[str, Any]) -> dict[str, str]:
    """The ticket's due times in its level's calendar zone, zone named ("2026-12-08 16:00
    CET"), as the ``sla_started`` decisions below print them: the stored UTC text cut to
    minutes, unmarked, read as a second, different due time."""
    level = ticket.get("sla_level") or config.sla.default_level
    shown: dict[str, str] = {}
    for key in ("first_response_due", "resolution_due"):
        instant = sla.local(config, level, clock.from_db(ticket.get(key)))
        if instant is not None:
            shown[key] = f"{instant:%Y-%m-%d %H:%M %Z}"
    return shown


def _outgoing(row: dict[str, Any]) -> dict[str, Any]:
    msg = BytesParser(policy=policy.default).parsebytes(row["raw"])
    body = msg.get_body(("plain",))
    return {"kind": row["kind"], "to": row["to"], "subject": str(msg["Subject"] or ""),
            "ticket": row["ticket"], "text": body.get_content() if body is not None else ""}


def print_explain(result: dict[str, Any], *, show_mail: bool = False) -> None:
    print(f"dry run of {result['message_id'] or 'a message'} (nothing is stored or sent)")
    if result.get("message_id_generated"):
        print("  no Message-ID: deduplicated by a content hash")
    outcome = result["outcome"]
    if outcome == "quarantined":
        print(f"outcome: quarantined — {result['reason']}")
        return
    if outcome == "duplicate":
        print(f"outcome: duplicate — {result['reason']}")
        return
    ticket = result["ticket"] or {}
    verb = "creates ticket" if outcome == "created" else "joins ticket"
    if outcome == "created":
        ticket = {**ticket, "reference": f"{ticket.get('reference')} (number not reserved)"}
    how = f" by {result['threaded_by']}" if outcome != "created" else ""
    print(f"outcome: {verb} {ticket.get('reference')}{how}")
    shown = {k: ticket.get(k) or "-" for k in ("sla_level", "priority", "category", "queue",
                                                "status", "assignee")}
    print(f"  level {shown['sla_level']}, priority {shown['priority']}, category "
          f"{shown['category']}, queue {shown['queue']}, assignee {shown['assignee']}, "
          f"status {shown['status']}")
    dues = ticket.get("dues_shown") or {}
    if dues.get("first_response_due"):
        print(f"  first response due {dues['first_response_due']}"
              + (f", resolution due {dues['resolution_due']}"
                 if dues.get("resolution_due") else ""))
    if ticket.get("fields"):
        print("  fields: " + ", ".join(f"{k}={v}" for k, v in ticket["fields"].items()))
    print("steps:")
    for step in result.get("steps", []):
        print(f"  {step['step']:<18} {step['decided']}")
    print("decisions:")
    for e in result["events"]:
        print(f"  {e['kind']:<18} {e['detail']}")
    if not result["outbox"]:
        print("mail sent: none")
    for mail in result["outbox"]:
        print(f"mail sent: {mail['kind']} to {', '.join(mail['to'])}: {mail['subject']}")
        if show_mail:
            print("    " + mail["text"].rstrip("\n").replace("\n", "\n    "))


# -- template previews -------------------------------------------------------------------


def preview(config: Config, store: Store | None, name: str,
            reference: str | None = None, now: datetime | None = None) -> bytes:
    """The wire bytes of template ``name`` rendered as it would be sent.

    ``ack`` with a ticket runs the pipeline's own acknowledgement step against the
    ticket's first message and rolls it back; other cases render sample data, or the
    ticket's data over the sample, and compose the mail as mailgate does.
    """
    from mailgate.render import TEMPLATES, Renderer

    now = now or clock.now()
    renderer = Renderer(config.templates_dir)
    if not (renderer.directory / f"{name}.txt.j2").exists():
        have = sorted(p.name.removesuffix(".txt.j2") for p in renderer.directory.glob("*.txt.j2"))
        raise NotFoundError(f"no template {name!r} in {renderer.directory} "
                            f"(have: {', '.join(have) or 'none'}; mailgate sends "
                            f"{', '.join(TEMPLATES)})")
    ticket = None
    if reference is not None:
        if store is None:
            raise MailgateError("a ticket preview needs the database")
        ticket = store.ticket_by_reference(reference)
        if name == "ack":
            raw = _ack_as_sent(config, store, ticket, now)
            if raw is not None:
                return raw
    return _compose_sample(config, renderer, name, ticket, store, now)


def _ack_as_sent(config: Config, store: Store, ticket: Ticket, now: datetime) -> bytes | None:
    """Run the pipeline's acknowledgement step for the ticket's first mail, then roll back."""
    first = ops.first_inbound_raw(store, ticket.id)
    if first is None:
        return None
    from mailgate.pipeline import Context
    from mailgate.pipeline.steps.respond import welcome
    from mailgate.store import SpoolItem

    inbound = parse(first)
    pipeline = _pipeline(config)
    item = SpoolItem(id=0, received_at=ticket.created_at, channel="preview", source="preview",
                     mail_from=inbound.from_addr, rcpt_tos=[config.support_address],
                     size=len(first), attempts=1)
    ctx = Context(item, inbound, pipeline.prepare(item, inbound), now)
    raw: bytes | None = None
    try:
        with store.transaction():
            mark = ops.high_water(store)["outbox"]
            welcome(pipeline.services, store, ctx, ticket)  # the step itself, rolled back
            raw = next((row["raw"] for row in ops.outbox_since(store, mark)
                        if row["kind"] == "ack"), None)
            raise _DryRun
    except _DryRun:
        pass
    return raw


def _compose_sample(config: Config, renderer: Any, name: str, ticket: Ticket | None,
                    store: Store | None, now: datetime) -> bytes:
    from jinja2 import TemplateError

    from mailgate import locales
    from mailgate.compose import compose, new_message_id
    from mailgate.refs import TagFormat
    from mailgate.render import sample_context

    tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
    lang = renderer.language_of(name, ticket.language if ticket is not None else None)
    context = sample_context()
    context["gateway"] = {"name": config.gateway.name, "address": config.support_address}
    number, subject = 123, context["ticket"]["subject"]
    to = [(context["ticket"]["requester_name"], context["ticket"]["requester"])]
    level = (ticket.sla_level if ticket is not None else None) or config.sla.default_level
    spec = sla.level_of(config, level)
    calendar = config.sla.calendar(spec.calendar)
    working = not calendar.round_the_clock  # every minute counts: no "working" hours
    opened = ticket.created_at if ticket is not None else context["ticket"]["created_at"]
    due = (ticket.first_response_due if ticket is not None
           else sla.due(config, level, spec.first_response, opened))
    context["ticket"].update(sla_level=level, sla_description=spec.description,
                             first_response_due=sla.local(config, level, due))
    context["sla"].update(
        level=level, description=spec.description, first_response=spec.first_response.text,
        resolution=spec.resolution.text if spec.resolution else None,
        first_response_within=locales.within(spec.first_response, lang, working),
        resolution_within=locales.within(spec.resolution, lang, working)
        if spec.resolution else None,
        timezone=str(calendar.tz), calendar=calendar.name,
        working_time_only=working, due=sla.local(config, level, due or now))
    if ticket is not None:
        number, subject = ticket.id, ticket.subject
        _ticket_context(context, ticket, store)
        to = [(ticket.requester_name, ticket.requester)]
    try:  # in the ticket's language, as its requester would get it
        rendered = renderer.render(name, context, language=ticket.language if ticket else None)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{name}.txt.j2:{line}" if line else name
        raise ConfigError(f"template {where}: {type(exc).__name__}: {exc}") from None
    auto = "auto-replied"
    if name == "reminder":
        to = [(None, a) for a in [reminders.team_address(config) or "team@example.com"]]
        subject = f"{tags.tag(number)} SLA first response 75% of target: {subject}"
        auto = "auto-generated"
    else:
        subject = tags.tagged_subject(number, subject)
    return compose(from_addr=config.support_address,
                   from_name=config.outbound.from_name or config.gateway.name,
                   to=to, subject=subject, text=rendered.text, html=rendered.html,
                   message_id=new_message_id(config.support_address.rpartition("@")[2]),
                   date=now, loop_id=config.support_address, auto_submitted=auto)


def _ticket_context(context: dict[str, Any], ticket: Ticket, store: Store | None) -> None:
    """Put a real ticket's data (and its first message) over the samples, so a preview
    ``--ticket REF`` shows what that ticket's requester would get."""
    context["ticket"].update(
        reference=ticket.reference, subject=ticket.subject, status=ticket.status,
        created_at=ticket.created_at, requester=ticket.requester,
        requester_name=ticket.requester_name)
    if store is not None:
        record = store.ticket_record(ticket.id)
        context["ticket"].update({k: record[k] for k in ("priority", "category", "assignee",
                                                         "queue")
                                  if k in context["ticket"] and k in record})
    first = ops.first_inbound_raw(store, ticket.id) if store is not None else None
    if first is not None:
        with_msg = parse(first)
        context["message"] = {"from_addr": with_msg.from_addr,
                              "from_name": with_msg.from_name,
                              "subject": with_msg.subject, "text": with_msg.text}


def readable(raw: bytes, *, html: bool = False) -> str:
    """Headers as sent, then the decoded text part (and the HTML part if asked)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    lines = [f"{k}: {v}" for k, v in msg.items()]
    text = msg.get_body(("plain",))
    lines += ["", text.get_content().rstrip("\n") if text is not None else "(no text part)"]
    if html:
        part = msg.get_body(("html",))
        lines += ["", "--- HTML part ---",
                  part.get_content().rstrip("\n") if part is not None else "(no HTML part)"]
    return "\n".join(lines) + "\n"
