"""Step 5, identify: who wrote, as far as the ticket is concerned, and whether to believe it.

``engineer`` (a team address), ``requester`` (the ticket's requester, or
anyone writing a new ticket), ``participant`` (a recorded participant; anyone
addressed in To/Cc on a message of the ticket, ours or an engineer's included;
a colleague at the requester's or a participant's organisation domain replying
on the thread, with ``[conversation] colleagues = "organisation"``; or a
stranger writing to the ticket's reply-token address: holding it proves they
got our mail) or ``stranger``. Newcomers join the ticket with an event.

A forged author (``mailgate.identity.forgery``) is held. So is a new mail in an
engineer's name without proof (it would open a ticket as theirs and send our
acknowledgement to the writer's Reply-To), and an engineer's reply to a ticket
without proof (``mailgate.identity``: our MTA's DKIM/DMARC pass, a DKIM signature
mailgate verified, or the per-engineer reply address of this ticket): nothing is
relayed or obeyed, and the team is told. Automatic mail (an engineer's
out-of-office) needs no proof when its envelope sender is at the engineer's domain (it
changes nothing); with a null or foreign envelope it is held like any unproven mail in an
engineer's name, since an attacker picks the envelope and headers that make a mail look
automatic, and a held mail never enters the ticket's history as the engineer's.
"""

from __future__ import annotations

from mailgate import security
from mailgate.domains import domain_of, organisation
from mailgate.identity import TOKEN_PROOF, Identity
from mailgate.message import header
from mailgate.pipeline.context import Context, Quarantine, TicketView
from mailgate.pipeline.services import Services
from mailgate.store import Store

NO_PROOF_NEW = ("no DKIM/DMARC pass for its domain from a trusted Authentication-Results, "
                "no DKIM signature mailgate could verify")
NO_PROOF = ("no DKIM/DMARC pass for its domain from a trusted Authentication-Results, no "
            "DKIM signature mailgate could verify, not sent to the ticket's per-engineer "
            "reply address")


def identify(services: Services, store: Store, ctx: Context) -> None:
    """Decide the sender's role on the threaded ticket, or hold a forgery."""
    who, view = ctx.facts.sender, ctx.view
    found = ctx.facts.identity or Identity()
    automatic = ctx.facts.automatic is not None
    if found.spoof and not automatic:
        hold(services, ctx, f"forged sender: {found.spoof}")
    if services.config.team.is_engineer(who):
        # an engineer's automatic mail (an out-of-office) needs no proof only when its
        # envelope is at the engineer's domain: the robot verdict may come from an
        # attacker's chosen envelope ("bounce@evil.example") or headers, and the mail would
        # stand in the ticket's history as the engineer's
        automatic = automatic and _envelope_at_home(ctx, who)
        if view is None and not automatic and found.proof is None:
            # a new mail in an engineer's name: believed, it would open a ticket in their
            # name and send our acknowledgement to whatever Reply-To the writer chose
            hold(services, ctx, f"unauthenticated engineer: {who} gave no proof for a new "
                                f"mail ({NO_PROOF_NEW}){_envelope(ctx, who)}")
        if view is not None and not automatic and proof(store, ctx, found) is None:
            ignored = "".join(f"; Authentication-Results of {a} ignored (not in "
                              "security.trusted_authserv_ids)" for a in found.untrusted)
            retired = "; its per-engineer reply address was retired after it reached " \
                "someone outside the team (answer the newest notification)" \
                if found.proof == TOKEN_PROOF and found.token_ticket in _cited(ctx) else ""
            hold(services, ctx, f"unauthenticated engineer: {who} gave no proof ({NO_PROOF})"
                                f"{retired}{ignored}{_envelope(ctx, who)}")
        ctx.role = "engineer"
    elif view is None or who == view.ticket.requester:
        ctx.role = "requester"
    elif view.has_participant(who):
        ctx.role = "participant"
    elif ctx.threading.method == "token":
        ctx.role, ctx.joins_by_token = "participant", True
    elif store.addressed_on_ticket(view.ticket.id, who):
        ctx.role = "participant"
        ctx.newcomer = ("participant_added", f"{who} was addressed on a message of "
                                             f"{view.ticket.reference} and replied")
    elif (why := _colleague(services, store, ctx, view)) is not None:
        ctx.role, ctx.newcomer = "participant", ("colleague_joined", why)
    else:
        ctx.role = "stranger"
    how = " (by the reply-token address)" if ctx.joins_by_token else \
        f" ({ctx.newcomer[1]})" if ctx.newcomer else ""
    if ctx.role == "engineer" and view is not None:
        ctx.proof = proof(store, ctx, found)
    if view is not None:
        ctx.token_exposed = _exposed(services, store, ctx, view)
    ctx.decide("identify", f"{who} is the {ctx.role}{how}"
                           + (f" (proven by {ctx.proof})" if ctx.proof else ""))


def _colleague(services: Services, store: Store, ctx: Context,
               view: TicketView) -> str | None:
    """Why the sender counts as a colleague of the ticket's people, or None.

    Only a reply on the thread (In-Reply-To/References naming a mail of the
    ticket: a subject tag alone is typed by anyone) from an organisation
    domain (never a public mail provider) that the requester or a participant
    writes from."""
    settings = services.config.conversation
    home = organisation(ctx.facts.sender, settings.public_domains)
    if settings.colleagues != "organisation" or home is None:
        return None
    cited = [*ctx.inbound.in_reply_to, *ctx.inbound.references]
    found = store.ticket_of_message_ids(cited) if cited else None
    live = store.live_ticket(found[0]) if found else None
    if live is None or live.id != view.ticket.id:
        return None
    if services.config.team.is_engineer(f"x@{home}") or \
            any(home == domain_of(a) for a in services.own_addresses):
        return None
    people = [view.ticket.requester, *(p["address"] for p in store.participants(
        view.ticket.id))]
    if home not in {organisation(a, settings.public_domains) for a in people}:
        return None
    return (f"a colleague at {home}, the organisation of the ticket's people, replied on "
            "the thread (conversation.colleagues = organisation)")


def proof(store: Store, ctx: Context, found: Identity) -> str | None:
    """How an engineer proved the mail is theirs, for the ticket it threads to: a reply
    address must name that ticket and be of its current generation (not retired)."""
    if found.proof is None:
        return None
    if found.proof != TOKEN_PROOF:
        return found.proof
    if found.token_ticket is None or found.token_ticket not in _cited(ctx):
        return None
    current = store.count_events(found.token_ticket, security.TOKEN_EXPOSED)
    return found.proof if found.token_generation == current else None


def _cited(ctx: Context) -> tuple[int | None, int | None]:
    return (ctx.threaded.id if ctx.threaded else None, ctx.threading.merged_from)


def _exposed(services: Services, store: Store, ctx: Context,
             view: TicketView) -> tuple[int, str] | None:
    """Whether this mail shows a live per-engineer reply address of the ticket to someone
    outside the team (an engineer who copied the customer on their answer, or a customer
    answering all of that copy). Whoever holds the address could act as the engineer, so
    the record step retires it: later notifications carry a new one (README, Security)."""
    config, ticket = services.config, view.ticket
    shown = [address for _, address in [*ctx.inbound.to, *ctx.inbound.cc]]
    maybe = (ticket.assignee, ctx.facts.sender)
    holders = [*config.team.engineers.values(),
               *(a for a in maybe if a and config.team.is_engineer(a))]
    found = [t for t in security.engineer_tokens(config, shown, holders)
             if t.ticket == ticket.id]
    if not found:
        return None
    current = store.count_events(ticket.id, security.TOKEN_EXPOSED)
    outsiders = sorted({a for a in [ctx.facts.sender, *shown]
                        if not (config.team.is_engineer(a) or a == config.team.address
                                or a in services.own_addresses or config.accepts(a))})
    if not outsiders or all(t.generation != current for t in found):
        return None
    return ticket.id, (f"a per-engineer reply address of {ticket.reference} was in To/Cc of "
                       f"a mail {', '.join(outsiders)} wrote or received: retired, the next "
                       "notification carries a new one")


def _envelope(ctx: Context, who: str) -> str:
    """What the envelope sender says of a held engineer's mail: an engineer who forgot the
    reply address sends from their own domain; an outsider's server rarely fakes the
    envelope too, so the team is warned not to pass such a text on."""
    envelope = ctx.item.mail_from
    if envelope is None:  # IMAP: no envelope to compare
        return ""
    if _at_home(envelope, who):
        return f"; envelope sender {envelope}"
    return (f"; its envelope sender is {envelope or '<>'}, not at {domain_of(who)}: LIKELY "
            "FORGED, do not pass its text on")


def _at_home(envelope: str, who: str) -> bool:
    """Whether the envelope sender is at the domain of ``who`` (or below it); never a null
    one."""
    home, there = domain_of(who), domain_of(envelope) if envelope else ""
    return bool(there) and (there == home or there.endswith(f".{home}"))


def _envelope_at_home(ctx: Context, who: str) -> bool:
    """Whether the envelope sender (by IMAP, the ``Return-Path`` the delivering MTA wrote)
    is at the domain of ``who``: never for a null or missing one."""
    envelope = ctx.item.mail_from
    if envelope is None:
        envelope = header(ctx.inbound.msg, "Return-Path").strip().strip("<>")
    return _at_home(envelope, who)


def hold(services: Services, ctx: Context, reason: str) -> None:
    """Quarantine the mail; the team of the ticket it cites (if any) gets a notice."""
    ticket = ctx.threaded

    def tell_team(store: Store) -> None:
        if ticket is None:
            return
        store.add_event(ticket.id, "mail_held", actor="mailgate", now=ctx.now,
                        detail=f"{ctx.inbound.message_id} from {ctx.facts.sender} held: "
                               f"{reason}"[:1000])
        services.conversation.notify_team(store, ticket, ctx.inbound, ctx.now, "held",
                                          reason=reason)

    ctx.decide("identify", f"held: {reason}")
    raise Quarantine(reason, notice=tell_team)
