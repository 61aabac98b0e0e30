"""What a message does to a conversation once it is known whose ticket it is.

- An **engineer's** reply: leading ``#commands`` are checked and applied
  through the desk service (all or nothing: a bad command applies nothing,
  relays nothing, and answers the engineer with what was wrong); ``#note``
  keeps the rest internal; any other text is a public reply, relayed to the
  requester and every participant from the support address under the
  engineer's name, and the first one meets the first-response SLA.
- A **customer's** (requester or participant) reply: the team is notified
  (the assignee, else the team address) with the new text on top. What the
  reply does to the status (``awaiting_reply`` -> ``open``, reopening a closed
  ticket) is the pipeline's ``conversation.on_reply`` policy.
- Notifications carry the tag and ``Reply-To`` the gateway, so an engineer
  answers from any mail client and the answer comes back here.

Runs inside the caller's transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from mailgate import clocks, commands, desk, files, security, sla
from mailgate.config import Config
from mailgate.errors import MailgateError, NotFoundError
from mailgate.mailer import Mailer
from mailgate.message import Inbound
from mailgate.quotes import forwarded_part, new_text
from mailgate.refs import TagFormat, reply_subject
from mailgate.store import Store, Ticket

#: Our mail to customers: when one fails for good the team is told (the team's own mail,
#: notices and reminders, never: a notice about it would go where it failed, a loop).
CUSTOMER_KINDS = frozenset({"ack", "merged", "relay", "waiting", "resolved"})
# What a customer's mail may name in References: their side's mail and ours to them, never
# an engineer's own Message-ID (it names the engineer's mail host) or the team's notices.
CUSTOMER_THREAD = ("customer", *sorted(CUSTOMER_KINDS))


#: What follows the comma of a name that is not "Last, First": a company form or a title.
_NOT_FIRST = re.compile(r"(?i)^(inc|ltd|llc|plc|gmbh|ag|sa|s\.?a\.?s?|bv|b\.v\.|ab|as|oy|"
                        r"kg|jr|sr|ii|iii|iv|md|phd|dr|esq|mba|co)\.?$")
_NAME_PART = re.compile(r"^[^\W\d_][\w.'’-]*(?: [^\W\d_][\w.'’-]*){0,2}$")


def spoken_name(name: str | None) -> str | None:
    """A display name as a greeting says it: Outlook's directory form "Müller, Hans" is
    "Hans Müller" ("Guten Tag Müller, Hans," reads as a mistake); anything else (a
    company form or title after the comma, more than one comma, digits) stays as written."""
    if not name or name.count(",") != 1:
        return name
    last, first = (part.strip() for part in name.split(","))
    if not (_NAME_PART.match(last) and _NAME_PART.match(first)) or _NOT_FIRST.match(first):
        return name
    return f"{first} {last}"


def _base_address(address: str) -> str:
    """``support+sup7.k3@example.com`` -> ``support@example.com`` (lower case)."""
    local, at, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}"


def ticket_context(ticket: Ticket) -> dict[str, Any]:
    """The ``ticket`` variable of templates, from the ticket as last read or written."""
    return {
        "reference": ticket.reference, "subject": ticket.subject, "status": ticket.status,
        "sla_level": ticket.sla_level, "requester": ticket.requester,
        "requester_name": spoken_name(ticket.requester_name), "priority": ticket.priority,
        "category": ticket.category, "assignee": ticket.assignee,
        "first_response_due": ticket.first_response_due, "created_at": ticket.created_at,
        "fields": dict(ticket.fields),
    }


class Conversation:
    def __init__(self, config: Config, mailer: Mailer, tags: TagFormat) -> None:
        self.config = config
        self.mailer = mailer
        self.tags = tags

    def _base(self, ticket: Ticket) -> dict[str, Any]:
        return {"gateway": {"name": self.config.gateway.name,
                            "address": self.config.support_address},
                "ticket": ticket_context(ticket)}

    def _subject(self, ticket: Ticket) -> str:
        return self.tags.tagged_subject(ticket.id, ticket.subject)

    # -- customers -------------------------------------------------------------------

    def customer_reply(self, store: Store, ticket: Ticket, inbound: Inbound, now: datetime,
                       *, notify: bool = True, reason: str = "") -> None:
        if notify:
            self.notify_team(store, ticket, inbound, now, "reply", reason=reason)

    def notify_team(self, store: Store, ticket: Ticket, inbound: Inbound, now: datetime,
                    what: str, *, reason: str = "") -> None:
        """Tell the assignee (else the team address) about a new ticket or reply
        (``ticket`` as it stands now: no read of the row again). Its Reply-To is the
        per-engineer reply address: an answer sent there proves it is the engineer's."""
        to = ticket.assignee or self.config.team.address
        if not to:
            return
        # a held mail's files are not stored, nor passed on (it may be a forger's)
        chosen = self._files(store, ticket, inbound) if what not in ("bounce", "held") else None
        own = {a.lower() for a in [*self.config.gateway.addresses,
                                   self.config.support_address, to]}
        # addresses only, not ours nor support+token: an erasure replaces an address in our
        # stored mail, a display name only in its header block (mailgate.store.privacy)
        copied = [address for _, address in [*inbound.to, *inbound.cc]
                  if address and _base_address(address) not in own]
        context = self._base(ticket) | {
            "what": what, "reason": reason,
            "message": {"from_addr": inbound.from_addr, "from_name": inbound.from_name,
                        "subject": inbound.subject, "text": _with_forwarded(
                            new_text(inbound.text), inbound, self._own()),
                        "copied": copied},
            "files": [f.as_dict() for f in chosen.listed] if chosen else [],
        }
        if ticket.first_response_due is not None:  # in the level's time zone, as the ack says
            context["ticket"]["first_response_due"] = sla.local(
                self.config, ticket.sla_level or self.config.sla.default_level,
                ticket.first_response_due)
        self.mailer.queue(store, ticket, kind="notification", template="notification",
                          context=context, to=[(None, to)], subject=self._subject(ticket),
                          now=now, in_reply_to=inbound.message_id,
                          references=store.thread_ids(ticket.id),
                          auto_submitted="auto-generated",
                          attachments=chosen.attached if chosen else (),
                          reply_to=self._reply_address(store, ticket, to))

    def notify_undelivered(self, store: Store, ticket: Ticket, now: datetime, *, kind: str,
                           message_id: str, recipients: list[str], error: str) -> bool:
        """Tell the assignee (else the team address) that our mail to a customer failed
        for good (refused, or ``give_up_after``), as a permanent bounce does; whether a
        notice was queued. Never for the team's own mail, nor to an address that failed."""
        to = ticket.assignee or self.config.team.address
        if kind not in CUSTOMER_KINDS or not to or \
                to.lower() in {r.lower() for r in recipients}:
            return False
        text = (f"Our {kind} mail to {', '.join(recipients)} could not be delivered, for "
                f"good:\n\n{error}\n\nThey did not get it. Answer this notice to write to "
                "the customer again (another address, or by other means).")
        context = self._base(ticket) | {
            "what": "bounce", "reason": "", "files": [],
            "message": {"from_addr": self.config.support_address,
                        "from_name": "mailgate (outgoing mail)",
                        "subject": ticket.subject, "text": text, "copied": []}}
        return self.mailer.queue(
            store, ticket, kind="notification", template="notification", context=context,
            to=[(None, to)], subject=self._subject(ticket), now=now, in_reply_to=message_id,
            references=store.thread_ids(ticket.id), auto_submitted="auto-generated",
            reply_to=self._reply_address(store, ticket, to)) is not None

    def _own(self) -> frozenset[str]:
        """The desk's own addresses (lower case): a forward of our own mail passes nothing."""
        return frozenset(a.lower() for a in [*self.config.gateway.addresses,
                                             self.config.support_address] if a)

    def _reply_address(self, store: Store, ticket: Ticket, engineer: str) -> str:
        """The per-engineer reply address of the ticket's current token generation."""
        generation = store.count_events(ticket.id, security.TOKEN_EXPOSED)
        return security.engineer_reply_address(self.config, ticket.id, ticket.reference,
                                               engineer, generation)

    def _files(self, store: Store, ticket: Ticket, inbound: Inbound) -> files.Selection:
        """The mail's files to pass on, numbered as stored on ``ticket``."""
        if not inbound.attachments:
            return files.Selection([], [])
        numbers = [a["number"] for a in store.ticket_attachments(ticket.id)
                   if a["message_id"] == inbound.message_id]
        return files.select(self.config, inbound.attachments, numbers)

    # -- engineers -------------------------------------------------------------------

    def engineer_reply(self, store: Store, ticket: Ticket, inbound: Inbound,
                       now: datetime, *, token_ok: bool = False) -> str:
        """Apply commands and relay the reply; return the message kind to record."""
        parsed = commands.parse(new_text(inbound.text))
        errors = list(parsed.errors)
        refused = self._unauthorised(inbound, token_ok) if parsed.commands else None
        if refused:
            errors.append(refused)
        elif parsed.commands:  # with a syntax error: tried and undone, to list every error
            errors += self._apply(store, ticket, inbound, parsed.commands, now,
                                  keep=not errors)
        if errors:
            store.add_event(ticket.id, "command_rejected", actor=inbound.from_addr, now=now,
                            message_id=inbound.message_id, detail="; ".join(errors))
            context = self._base(ticket) | {"errors": errors,
                                                   "subject": inbound.subject}
            self.mailer.queue(store, ticket, kind="command_error", template="command_error",
                              context=context, to=[(inbound.from_name, inbound.from_addr)],
                              subject=reply_subject(inbound.subject), now=now,
                              in_reply_to=inbound.message_id,
                              reply_to=self._reply_address(store, ticket, inbound.from_addr))
            return "rejected"
        if parsed.commands:  # they changed the ticket: read it as it is now
            ticket = store.ticket(ticket.id)
        if parsed.is_note:
            store.add_event(ticket.id, "note", actor=inbound.from_addr, now=now,
                            message_id=inbound.message_id, detail="internal note")
            return "note"
        self._cc_joins(store, ticket, inbound, now)
        chosen = self._files(store, ticket, inbound)
        text = _with_forwarded(parsed.text, inbound, self._own())  # "see the vendor's mail"
        if text or chosen.attached:  # a reply that is only a file is relayed too
            self._relay(store, ticket, inbound, text, chosen, now)
            return "reply"
        if not parsed.commands or chosen.withheld:  # not a mail of commands alone: say so
            self.tell_engineer(store, ticket, inbound, now, relayed=False, problems=[
                *_withheld(chosen), "your mail had no text of its own above the quote or "
                "signature" + (", and no file that could be sent" if chosen.listed else
                               ", and no file")])
        return "commands"

    def history_commands(self, store: Store, ticket: Ticket, inbound: Inbound,
                         now: datetime, *, token_ok: bool = False) -> list[str]:
        """An engineer's imported old mail (``mailgate import`` without ``--ack``): its
        leading #commands applied as the engineer gave them then (a "#close" in the
        archive closes the ticket), all or none, nothing relayed and nobody answered; the
        errors, recorded as a ``command_rejected`` event only."""
        parsed = commands.parse(new_text(inbound.text))
        if not parsed.commands:
            return []
        errors = list(parsed.errors)
        refused = self._unauthorised(inbound, token_ok)
        if refused:
            errors.append(refused)
        else:
            errors += self._apply(store, ticket, inbound, parsed.commands, now, keep=not errors)
        if errors:
            store.add_event(ticket.id, "command_rejected", actor=inbound.from_addr, now=now,
                            message_id=inbound.message_id,
                            detail="; ".join(errors) + " (imported mail: nobody is told)")
        return errors

    def tell_engineer(self, store: Store, ticket: Ticket, inbound: Inbound, now: datetime,
                      *, relayed: bool, problems: list[str]) -> None:
        """Tell the engineer what of their reply did not reach the customer, and why
        (``relayed``: the rest did). Kind ``relay_notice``: a mail to the team, which a
        bounce never answers (the respond step's loop guard)."""
        store.add_event(ticket.id, "relay_incomplete" if relayed else "relay_nothing",
                        actor="mailgate", now=now, message_id=inbound.message_id,
                        detail="; ".join(problems))
        context = self._base(ticket) | {"subject": inbound.subject, "relayed": relayed,
                                        "problems": problems}
        self.mailer.queue(store, ticket, kind="relay_notice", template="relay_notice",
                          context=context, to=[(inbound.from_name, inbound.from_addr)],
                          subject=reply_subject(inbound.subject), now=now,
                          in_reply_to=inbound.message_id,
                          reply_to=self._reply_address(store, ticket, inbound.from_addr))

    def _unauthorised(self, inbound: Inbound, token_ok: bool) -> str | None:
        """Why commands from this mail must not count (security.commands_require)."""
        need = self.config.security.commands_require
        auth_ok = need in ("auth", "auth_or_token") and security.authenticated(
            self.config, inbound.msg)
        if need == "engineer" or auth_ok or (need in ("token", "auth_or_token") and token_ok):
            return None
        wanted = {"auth": "a DKIM or SPF pass from our mail server",
                  "token": "sending to the ticket's reply address",
                  "auth_or_token": "a DKIM/SPF pass or the ticket's reply address"}[need]
        return f"commands are accepted only with {wanted} (security.commands_require)"

    def _cc_joins(self, store: Store, ticket: Ticket, inbound: Inbound, now: datetime) -> None:
        """A customer-side address in an engineer's ``Cc:`` joins the ticket (the caller
        has decided the mail is an engineer's: the identify step's role)."""
        team = self.config.team
        for name, address in inbound.cc:
            if (self.config.accepts(address) or team.is_engineer(address)
                    or address == (team.address or "").lower()):
                continue
            desk.add_participant(store, ticket, address, actor=inbound.from_addr, now=now,
                                 name=name or None, message_id=inbound.message_id)

    def _relay(self, store: Store, ticket: Ticket, inbound: Inbound, text: str,
               chosen: files.Selection, now: datetime) -> None:
        engineer = self._name(inbound)
        people = [(p["name"], p["address"]) for p in store.participants(ticket.id)
                  if not self.config.team.is_engineer(p["address"])
                  and not self.config.accepts(p["address"])]
        # the requester in To:, everyone else in Cc: (as a person answering by hand does)
        to = [p for p in people if p[1] == ticket.requester] or people[:1]
        cc = [p for p in people if p not in to]
        context = self._base(ticket) | {"engineer": {"name": engineer}, "text": text,
                                        "files": [f.as_dict() for f in chosen.listed]}
        reply_to = inbound.from_addr if self.config.team.reveal_engineer_address else None
        outbox_id = self.mailer.queue(
            store, ticket, kind="relay", template="relay", context=context, to=to, cc=cc,
            subject=self._subject(ticket), now=now,
            in_reply_to=store.latest_inbound(ticket.id),
            references=store.thread_ids(ticket.id, kinds=CUSTOMER_THREAD),
            from_name=f"{engineer} ({self.config.gateway.name})", auto_submitted=None,
            reply_to=reply_to, language=ticket.language, attachments=chosen.attached,
        )
        store.add_event(ticket.id, "replied", actor=inbound.from_addr, now=now,
                        message_id=inbound.message_id,
                        detail=f"public reply relayed to {', '.join(a for _, a in people)}"
                        if outbox_id else "public reply recorded; no customer to relay to")
        if outbox_id and chosen.withheld:
            store.add_event(ticket.id, "attachments_withheld", actor="mailgate", now=now,
                            message_id=inbound.message_id, detail="; ".join(
                                f"{f.filename} ({f.size} bytes, number {f.number}): {f.why}"
                                for f in chosen.withheld))
            self.tell_engineer(store, ticket, inbound, now, relayed=True,
                               problems=_withheld(chosen))
        elif not outbox_id:
            self.tell_engineer(store, ticket, inbound, now, relayed=False, problems=[
                "the ticket has no customer to send it to (no requester or participant "
                "outside the team); it is recorded on the ticket"])
        if ticket.first_response_at is None:
            store.touch_ticket(ticket.id, now, first_response_at=now)
            clocks.stop(self.config, store, ticket.id, "first_response", now,
                        f"first public reply by {inbound.from_addr}")

    def _name(self, inbound: Inbound) -> str:
        """The engineer's name as the customer sees it: the display name of their mail,
        else their short name in ``[team] engineers`` (or their address's local part)
        written as a name ("alice" -> "Alice", "bob.miller" -> "Bob Miller"): a phone or a
        script often sends a bare address."""
        if inbound.from_name:
            return inbound.from_name
        short = next((name for name, address in self.config.team.engineers.items()
                      if address == inbound.from_addr), inbound.from_addr.partition("@")[0])
        if short != short.lower():
            return short  # written as the admin wants it
        return " ".join(part[:1].upper() + part[1:] for part in re.split(r"[._-]+", short)
                        if part) or short

    def _apply(self, store: Store, ticket: Ticket, inbound: Inbound,
               given: list[commands.Command], now: datetime, keep: bool = True) -> list[str]:
        """Apply every command or none: a failure rolls back the ones before it (and
        ``keep`` false rolls them all back: only their errors are wanted)."""
        errors: list[str] = []
        actor, mid = inbound.from_addr, inbound.message_id
        try:
            with store.savepoint("commands"):
                for command in given:
                    try:
                        self._one(store, store.ticket(ticket.id), command, actor, mid, now)
                    except (MailgateError, NotFoundError) as exc:
                        errors.append(f"#{command.name} {command.argument}".strip()
                                      + f": {exc}")
                if errors or not keep:
                    raise _Rollback
        except _Rollback:
            pass
        return errors

    def _one(self, store: Store, ticket: Ticket, command: commands.Command, actor: str,
             mid: str, now: datetime) -> None:
        name, arg, config = command.name, command.argument, self.config
        common: dict[str, Any] = {"actor": actor, "now": now, "message_id": mid}
        if name in ("status", "close", "reopen"):
            status = {"close": "closed", "reopen": "open"}.get(name, arg.lower())
            desk.set_status(config, store, ticket, status, why=f"#{name} by {actor}", **common)
        elif name == "priority":
            desk.set_priority(config, store, ticket, arg.lower(), **common)
        elif name == "category":
            desk.set_category(config, store, ticket, arg.lower(), **common)
        elif name == "level":
            desk.set_level(config, store, ticket, arg, **common)
        elif name == "assign":
            desk.assign(config, store, ticket, None if arg.lower() == "nobody" else arg,
                        **common)
        elif name == "merge":
            numbers = self.tags.find_numbers(f"[{arg}]")
            if not numbers:
                raise MailgateError(f"not a ticket reference: {arg}")
            target = store.ticket(numbers[0])
            desk.merge(config, store, ticket, target, why=f"#merge by {actor}", **common)
        elif name == "time":
            spent = commands.minutes(arg) or 0
            total = store.add_time(ticket.id, spent)
            store.add_event(ticket.id, "time_logged", detail=f"{spent} min (total {total} min)",
                            **common)
        elif name == "field":
            field_name, value = arg.split(None, 1)
            desk.set_field(config, store, ticket, field_name, value, **common)
        elif name == "cc":
            address = arg[1:].strip().lower()
            if arg.startswith("+"):
                desk.add_participant(store, ticket, address, **common)
            elif not desk.remove_participant(store, ticket, address, **common):
                raise MailgateError(f"{address} is not a participant")
        # "note" is handled by the caller.


def _withheld(chosen: files.Selection) -> list[str]:
    """One line per file of the engineer's that stays behind: its name, size and why."""
    return [f"{f.filename} ({f.size} bytes): {f.why}" for f in chosen.withheld]


class _Rollback(Exception):
    """Undo the commands applied so far."""


def within(window: timedelta, since: datetime | None, now: datetime) -> bool:
    return since is None or now - since <= window


def _with_forwarded(text: str, inbound: Inbound, own: frozenset[str]) -> str:
    """``text`` and, when the mail forwards a message (not one of ours: ``own``), the
    forwarded message below it (``quotes.forwarded_part``): cut as history, it is what the
    sender passes on."""
    forwarded = forwarded_part(inbound.text, inbound.subject, own)
    return f"{text}\n\n{forwarded}".strip() if forwarded else text
