"""Imported old mail (``mailgate import`` without ``--ack``): what the archive says the
engineers did to a ticket still counts, though nobody is told of it.

Why: the respond step tells nobody of imported mail (no acknowledgement, relay or notice),
and so it used to skip an engineer's mail altogether: a "#close" the engineer sent back then
was stored as text and the ticket stayed open, so every imported, long-solved matter came
in as an open ticket. Now the engineer's leading #commands are applied (as live mail would
apply them, with its proof rules: ``security.commands_require``), nothing is relayed and
nobody is answered; a rejected command is an event only. A ticket left waiting for the
customer (``#status awaiting_reply``) gets no auto-close plan: its reminder would be the
customer's first news of the import.
"""

from __future__ import annotations

from mailgate import autoclose
from mailgate.identity import TOKEN_PROOF
from mailgate.pipeline.context import Context
from mailgate.pipeline.services import Services
from mailgate.store import Store, Ticket


def engineer_commands(services: Services, store: Store, ctx: Context, ticket: Ticket) -> None:
    """Apply an imported engineer mail's #commands; nobody is told."""
    if ctx.role != "engineer" or ctx.outcome is None or ctx.outcome.action != "appended":
        return
    token_ok = ctx.threading.method == "token" or ctx.proof == TOKEN_PROOF
    services.conversation.history_commands(store, ticket, ctx.inbound, ctx.now,
                                           token_ok=token_ok)
    if store.ticket(ticket.id).status == "awaiting_reply":
        autoclose.cancel(store, ticket.id)
