"""Mail to the customers when their ticket is resolved, and the rating it may ask for.

On close (``#close``, ``mailgate close``, auto-close) ``[conversation]
resolved_mail`` decides: ``off`` sends nothing (auto-close still tells the
customer it closed the ticket), ``notice`` the ``resolved`` template,
``rating`` the same asking for a rating from 1 to 5: by a reply (a digit or a
word in their language) or by a ``mailto:`` link per rating. With a token
secret configured (``[security] token_secret_env``/``_file``) each link's
subject carries ``[rN-TOKEN]``, an HMAC of the ticket and the rating, so a
rating sent from another address (a colleague, a forwarding alias) still
counts. The ``rating_requested`` event marks the ticket as asked; the ``rate``
step only reads bare digits and words on a ticket that was asked.
Runs inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from mailgate import locales, satisfaction
from mailgate.config import Config
from mailgate.conversation import CUSTOMER_THREAD, ticket_context
from mailgate.mailer import Mailer
from mailgate.refs import TagFormat
from mailgate.store import Store, Ticket


def base_context(config: Config, ticket: Ticket) -> dict[str, Any]:
    return {"gateway": {"name": config.gateway.name, "address": config.support_address},
            "ticket": ticket_context(ticket)}


def customers(config: Config, store: Store, ticket: Ticket) -> list[tuple[str | None, str]]:
    """The requester and participants, without engineers and our own addresses."""
    return [(p["name"], p["address"]) for p in store.participants(ticket.id)
            if not config.team.is_engineer(p["address"]) and not config.accepts(p["address"])]


def queue_to_customers(config: Config, store: Store, mailer: Mailer, ticket: Ticket,
                       template: str, context: dict[str, Any], now: datetime) -> int | None:
    """Queue ``template`` to the ticket's customers in their language, in its thread."""
    tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
    return mailer.queue(store, ticket, kind=template, template=template, context=context,
                        to=customers(config, store, ticket),
                        subject=tags.tagged_subject(ticket.id, ticket.subject), now=now,
                        in_reply_to=store.latest_inbound(ticket.id),
                        references=store.thread_ids(ticket.id, kinds=CUSTOMER_THREAD),
                        auto_submitted="auto-generated", language=ticket.language)


def rating_links(config: Config, ticket: Ticket, language: str) -> list[dict[str, Any]]:
    """One ``mailto:`` per rating, 5 first, labelled in ``language``."""
    tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
    links = []
    for value, words in sorted(locales.rating_words(language).items(), reverse=True):
        token = satisfaction.token(config, ticket.id, value)
        subject = f"{tags.tagged_subject(ticket.id, ticket.subject)} ({value}/5)" + \
            (f" [r{value}-{token}]" if token else "")
        links.append({"value": value, "label": words[0],
                      "mailto": f"mailto:{config.support_address}?subject={quote(subject)}"
                                f"&body={value}"})
    return links


def send_resolved(config: Config, store: Store, mailer: Mailer, ticket: Ticket,
                  now: datetime, *, auto: bool = False) -> int | None:
    """The resolved mail (``auto``: the auto-close notice) for a ticket just closed."""
    mode = config.conversation.resolved_mail
    if (mode == "off" and not auto) or ticket.merged_into is not None:
        return None
    asked = mode == "rating"
    language = mailer.renderer.language_of("resolved", ticket.language)
    context = base_context(config, ticket) | {"auto": auto, "rating": {
        "asked": asked, "links": rating_links(config, ticket, language) if asked else []}}
    sent = queue_to_customers(config, store, mailer, ticket, "resolved", context, now)
    if sent and asked:
        store.add_event(ticket.id, "rating_requested", actor="mailgate", now=now,
                        detail="the resolved mail asks for a rating from 1 to 5")
    return sent
