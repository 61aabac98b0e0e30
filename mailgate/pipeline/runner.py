"""Run one message through the named steps; the caller holds the transaction.

Nothing here sends mail or commits: a crash anywhere leaves all or nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mailgate.config import Config
from mailgate.message import Inbound
from mailgate.pipeline.context import Context, MessageFacts, Outcome, Threading
from mailgate.pipeline.facts import prepare as prepare_facts
from mailgate.pipeline.services import Services
from mailgate.pipeline.steps import DECIDING, WRITING, Step
from mailgate.pipeline.steps.thread import find_ticket
from mailgate.render import Renderer
from mailgate.store import SpoolItem, Store


class Pipeline:
    """The steps and what they share (config, templates, tag format, detectors)."""

    def __init__(self, config: Config, renderer: Renderer,
                 steps: tuple[tuple[Step, ...], tuple[Step, ...]] = (DECIDING, WRITING),
                 ) -> None:
        self.config = config
        self.services = Services(config, renderer)
        self.tags = self.services.tags
        self.mailer = self.services.mailer
        self.deciding, self.writing = steps

    def prepare(self, item: SpoolItem, inbound: Inbound,
                now: datetime | None = None) -> MessageFacts:
        """The store-free facts of a message (see ``pipeline.facts``), before the
        transaction begins."""
        return prepare_facts(self.services, item, inbound, now)

    def thread(self, store: Store, inbound: Inbound) -> Threading:
        """The ticket ``inbound`` threads to (the thread step alone, for benchmarks)."""
        return find_ticket(store, self.tags, inbound, self.tags.find_numbers(inbound.subject))

    def decide(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
               facts: MessageFacts | None = None) -> Context:
        """Run the deciding steps only: what would happen, nothing written."""
        facts = facts or self.prepare(item, inbound)
        relayed = facts.relayed
        if relayed is not None:  # every step reads the form's or group's mail as its author's
            inbound = replace(inbound, from_addr=relayed.address,
                              from_name=relayed.name or inbound.from_name)
        ctx = Context(item, inbound, facts, now)
        if relayed is not None:
            ctx.decide("author", relayed.why)
        for step in self.deciding:
            step(self.services, store, ctx)
            if ctx.settled:
                break
        return ctx

    def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
               facts: MessageFacts | None = None) -> Outcome:
        """Apply one message to the store; the caller holds the transaction."""
        self.mailer.take_queued()  # forget what a rolled-back message queued
        ctx = self.decide(store, item, inbound, now, facts)
        for step in self.writing:
            step(self.services, store, ctx)
        assert ctx.outcome is not None
        ctx.outcome.outbox_ids = self.mailer.take_queued()
        ctx.outcome.trace = ctx.trace
        return ctx.outcome
