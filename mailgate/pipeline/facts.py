"""The store-free part of handling: ``MessageFacts`` from the mail and the config.

Worked out before the write transaction begins (the write lock is not held
meanwhile), once per message: is it automatic mail, which language is it in,
its new text (which the duplicate check and the thanks detector read), the
ticket numbers its subject tags name, a reply-token recipient; and, for mail
that looks new, the SLA level and the business-time arithmetic of its clocks
for the instant it is handled at.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mailgate import clocks, identity, lists, security, sla
from mailgate.author import relayed_author
from mailgate.autoreply import Automatic, classify_automatic, out_of_office_subject
from mailgate.config import Config
from mailgate.language import detect as detect_language
from mailgate.language import told as language_told
from mailgate.message import Inbound, header
from mailgate.pipeline.context import MessageFacts
from mailgate.pipeline.services import Services
from mailgate.quotes import new_text
from mailgate.store import SpoolItem


def prepare(services: Services, item: SpoolItem, inbound: Inbound,
            now: datetime | None = None) -> MessageFacts:
    """Facts of ``inbound``; with ``now``, a new-looking mail's SLA decision and clocks."""
    config = services.config
    automatic = classify_automatic(inbound.msg, item.mail_from,
                                   own_addresses=services.own_addresses,
                                   own_domain_ids=frozenset([config.support_address]))
    if automatic is None and config.team.is_engineer(inbound.from_addr or "") \
            and out_of_office_subject(inbound.msg):
        # an old-style out-of-office of an engineer (no header says so) is never relayed
        automatic = Automatic("out-of-office", "an engineer's out-of-office subject")
    text = new_text(inbound.text)
    declared = header(inbound.msg, "Content-Language")
    language = detect_language(text, declared, config.templates.language)
    # the subject as written: clean_text drops zero-width characters, which in a tag
    # make it no reference (mailgate.refs)
    numbers = tuple(services.tags.find_numbers(header(inbound.msg, "Subject")))
    token = security.ticket_of_token(config, security.recipients(inbound.msg, item.rcpt_tos)) \
        if config.security.reply_tokens else None
    sender = inbound.from_addr or "unknown"
    seen = [sender, *(a for _, a in [*inbound.to, *inbound.cc])]
    found = lists.mailing_list(inbound.msg, seen)
    # only for mail that opens a ticket (a form's mail cites none): a Reply-To must not
    # carry a forged mail into an existing ticket as its requester's reply
    threads = bool(inbound.in_reply_to or inbound.references or numbers or token)
    relayed = None if threads else relayed_author(config, inbound, from_list=found is not None)
    if relayed is not None:  # a form's or group's mail: its author is who it is from
        sender = relayed.address
        if automatic is not None and automatic.kind == "robot-sender":  # noreply@ form
            automatic = None
    base = MessageFacts(automatic, language, text, sender, numbers, token,
                        identity=identity.examine(config, inbound, item.rcpt_tos),
                        mailing_list=found.name if found else None,
                        list_addresses=found.addresses if found else frozenset(),
                        relayed=relayed, language_told=language_told(text, declared))
    if now is None or inbound.in_reply_to or inbound.references or numbers:
        return base
    decided = classify(services, item, inbound)
    return replace(base, now=now, decided=decided, clocks=plan(config, base, decided, now))


def plan(config: Config, facts: MessageFacts, decided: sla.Classification,
         now: datetime) -> list[clocks.Planned]:
    """The SLA clocks a new ticket gets: none for mailing-list mail, unless the rule that
    classified it says ``mailing_lists = true``."""
    if facts.mailing_list is not None and not _rule_takes_lists(config, decided.rule):
        return []
    return clocks.plan_start(config, decided.level, now)


def _rule_takes_lists(config: Config, name: str | None) -> bool:
    return any(r.name == name and r.mailing_lists for r in config.sla.rules)


def classify(services: Services, item: SpoolItem, inbound: Inbound) -> sla.Classification:
    """The SLA level, priority, category and queue of a new ticket opened by ``inbound``."""
    config = services.config
    defaults = config.mailbox_defaults(item.source)
    return sla.classify(config, inbound, item.rcpt_tos,
                        default_level=defaults.get("sla_level"),
                        default_queue=defaults.get("queue"))
