"""The spool processor: claim -> parse -> pipeline -> commit.

Up to ``PREPARE`` messages (at most ``PREPARE_BYTES`` of them) are read and
parsed before a transaction begins, so the write lock is not held while the
CPU parses; then they are handled one at a time and committed together: one
commit carries several messages' pages to the log instead of one each, and the
lock is held for a few milliseconds only, so the spooler (which answers SMTP
``250`` after its own commit) never waits long. The group is first tried as
one unit (no savepoint per message; each statement's rows of the whole group
written by one statement, see ``rows_together``); if any of its messages
fails (a quarantine, a race on a Message-ID, a bug), the whole group is
rolled back and handled again message by message, each in its own savepoint,
so a failing mail never takes its group-mates with it, and the next
``CAREFUL_GROUPS`` groups are handled that way too (a run of bad mail costs
one wasted try, not one per group).

Like Mailman's runner, each item is isolated: a message that cannot be parsed
or that makes the pipeline fail is quarantined with its reason (its raw bytes
stay in the spool, releasable from the CLI) and the loop goes on. A message
that crashed the process ``max_attempts`` times (its claim counted each
attempt) is quarantined before it is tried again, so one poison message can
never stop the queue. A transient store failure leaves the row unclaimed for
the next round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from mailgate import clock
from mailgate.claimants import node_name
from mailgate.config import Config
from mailgate.errors import TransientError
from mailgate.message import Inbound, ParseError, claimed_message_id, parse
from mailgate.pipeline import Facts, Outcome, Quarantine
from mailgate.store import DuplicateMessageError, SpoolItem, Store

log = structlog.get_logger("mailgate.processor")

# messages parsed ahead of, and committed by, one transaction: with 8 rather than 4 a commit
# writes a quarter fewer pages to the log per mail (their rows share table and index pages:
# 31 pwrite calls a new mail instead of 43), about 10 % of the processor's CPU; the lock is
# held for ~10 ms at most, and between two groups a waiting spooler goes first (writer_turn)
PREPARE = 8
PREPARE_BYTES = 1 << 20  # ... unless they are this large together (at least one)
# groups handled message by message after a group whose one-unit try failed: a savepoint
# and its release per message cost ~1.4 % of a plain mail's instructions, a failed try
# the group's work once more
CAREFUL_GROUPS = 8


@dataclass
class Prepared:
    """A claimed row read and parsed outside the transaction (or why it cannot be)."""

    item: SpoolItem
    inbound: Inbound | None = None
    error: str | None = None
    size: int = 0
    facts: Facts | None = None
    now: datetime | None = None  # the instant the message is handled at
    #: the Message-ID an unparseable mail claims (read without parsing: `mailgate trace`)
    claimed_id: str | None = None


class Handler(Protocol):
    """What the processor asks of a pipeline: ``Pipeline``, or a wrapper of one (the
    import command's holds the mail it would send)."""

    def prepare(self, item: SpoolItem, inbound: Inbound,
                now: datetime | None = None) -> Facts: ...

    def handle(self, store: Store, item: SpoolItem, inbound: Inbound, now: datetime,
               facts: Facts | None = None) -> Outcome: ...


class Processor:
    """Drains the spool; ``run`` is the thread body, ``drain`` the synchronous form."""

    def __init__(self, config: Config, store: Store, pipeline: Handler, *,
                 node: str | None = None,
                 on_outbox: Callable[[], None] = lambda: None,
                 on_processed: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.store = store
        self.pipeline = pipeline
        self.node = node or node_name(config)
        self.on_outbox = on_outbox
        self.on_processed = on_processed
        self.wake = threading.Event()
        self._held: list[SpoolItem] = []
        self._noticed = False  # a quarantine queued a notice: wake the sender
        self._careful = 0  # groups still to handle message by message (see CAREFUL_GROUPS)
        # held rows read and parsed ahead: the rest of a group that ended early (see
        # _process_some), or the next group (see _prepare_next)
        self._prepared: dict[int, Prepared] = {}

    def drain(self, limit: int | None = None, only: int | None = None,
              stop: threading.Event | None = None) -> int:
        """Process everything claimable now (or ``limit`` rows, or row ``only``).

        Stops between messages when ``stop`` is set. Rows of a claimed batch not yet
        handled when a TransientError strikes stay with this processor (``_held``) and
        are taken first next round, rather than waiting for their lease to expire.
        """
        done = 0
        while (limit is None or done < limit) and not (stop and stop.is_set()):
            if not self._held:
                now = clock.now()
                self._held = self.store.spool_claim(
                    self.node, now, now + self.config.processing.lease,
                    self.config.processing.batch_size, only=only)
                if not self._held:
                    break
            while self._held and not (stop and stop.is_set()):
                done += self._process_some(stop)
                if self._held:
                    # the next group read and parsed first, while a waiting writer (the
                    # spooler) takes the lock, instead of pausing idle until it has
                    self._prepare_next()
                    self.store.writer_turn()  # a waiting writer goes first
            self.on_processed()
        return done

    def _process_some(self, stop: threading.Event | None) -> int:
        """Prepare a few held rows, then process them in one transaction.

        The rows leave ``_held`` only once their transaction is committed: a transient
        failure rolls all of them back, and they are taken again, first. A group handled
        as one unit may end early, committing the mails done so far, when another writer
        waits for the write lock (``Store.writer_waiting``: the spooler, whose SMTP sessions
        wait for their ``250``); the rest, already read and parsed, are kept for the next
        transaction.
        """
        group = self._next_group()
        together = self._together(group)
        if together is None:
            queued = False
            with self.store.transaction():
                for prepared in group:
                    outcome = self.process(prepared.item, prepared)
                    queued = queued or bool(outcome and outcome.outbox_ids) or self._noticed
                    self._noticed = False
            handled = len(group)
        else:
            queued, handled = together
            self._prepared = {p.item.id: p for p in group[handled:]}
        del self._held[:handled]
        if queued:
            self.on_outbox()
        return handled

    def _next_group(self) -> list[Prepared]:
        """The next few held rows (up to ``PREPARE``, ``PREPARE_BYTES``), read and parsed
        outside any transaction; those already prepared (``_prepared``) are taken as they
        are."""
        items: list[SpoolItem] = []
        for item in self._held:
            items.append(item)
            if len(items) >= PREPARE or sum(i.size for i in items) >= PREPARE_BYTES:
                break
        ready = self._prepared
        raws = self.store.spool_raws(  # one statement for the group, not one per mail
            [i.id for i in items
             if i.id not in ready and i.attempts <= self.config.processing.max_attempts])
        return [ready.pop(item.id) if item.id in ready else self.prepare(item, raws.get(item.id))
                for item in items]

    def _prepare_next(self) -> None:
        """Prepare the next group between two transactions: reading and parsing needs no
        lock, so a writer waiting for it (the spooler, see ``writer_turn``) takes it while
        this processor works instead of while it pauses; the transaction that follows
        begins at once. The same work the next ``_process_some`` would do first."""
        self._prepared = {p.item.id: p for p in self._next_group()}

    def _together(self, group: list[Prepared]) -> tuple[bool, int] | None:
        """Handle ``group`` (or its first mails, see ``_process_some``) as one unit,
        committed; whether mail was queued, and how many mails were handled. None when it
        was not tried (a row already known to fail, or a recent failure) or was rolled
        back because one of its messages failed: the caller handles it message by message.
        A TransientError rolls it back and is raised, as in the careful way."""
        if self._careful or any(p.inbound is None or p.facts is None for p in group):
            self._careful = max(self._careful - 1, 0)
            return None
        done: list[tuple[Prepared, Outcome]] = []
        try:
            with self.store.transaction(), self.store.rows_together():
                # read ahead for the group, one question each (with the next statement that
                # needs an answer, on PostgreSQL): whether its Message-IDs are stored (the
                # dedupe step's question), and the loop cap's count for its senders
                self.store.note_unstored([p.inbound.message_id for p in group
                                          if p.inbound is not None])
                self._note_auto_replies(group)
                for prepared in group:
                    if done and self.store.writer_waiting():
                        break  # the rest in the next transaction: the waiting writer first
                    item, inbound = prepared.item, prepared.inbound
                    assert inbound is not None and prepared.now is not None
                    self._bind(item, inbound.message_id)
                    outcome = self.pipeline.handle(self.store, item, inbound, prepared.now,
                                                   prepared.facts)
                    done.append((prepared, outcome))
                self.store.spool_finish_many([  # (nothing in the pipeline reads the spool)
                    (p.item.id, outcome.state, p.now, outcome.message_id, outcome.ticket_id)
                    for p, outcome in done if p.inbound is not None and p.now is not None])
        except TransientError:
            raise
        except Exception as exc:  # whatever it was, the careful way meets it in its savepoint
            log.info("group_handled_again", messages=len(group),
                     cause=f"{type(exc).__name__}: {exc}"[:200])
            self._careful = CAREFUL_GROUPS
            return None
        for prepared, outcome in done:  # logged once committed: a rolled-back try says nothing
            assert prepared.inbound is not None
            self._bind(prepared.item, prepared.inbound.message_id)
            self._log_outcome(outcome)
        return any(outcome.outbox_ids for _, outcome in done), len(done)

    def _note_auto_replies(self, group: list[Prepared]) -> None:
        """The automatic mail queued within the loop cap's window to whom the group's
        acknowledgements would go (the sender, or its Reply-To), read once."""
        conversation = self.config.conversation
        if conversation.auto_reply_cap <= 0:
            return
        addresses = [address for p in group if p.inbound is not None
                     for address in (p.inbound.from_addr, *(a for _n, a in p.inbound.reply_to))]
        earliest = min(p.now for p in group if p.now is not None)
        self.store.note_auto_replies(addresses, earliest - conversation.auto_reply_cap_window)

    def prepare(self, item: SpoolItem, raw: bytes | None = None) -> Prepared:
        """Read (unless ``raw`` is given) and parse a claimed row, and do the pipeline's
        store-free work, outside any transaction (a row that crashed processors too often
        is not even read)."""
        if item.attempts > self.config.processing.max_attempts:
            return Prepared(item)
        if raw is None:
            raw = self.store.spool_raw(item.id)
        try:
            inbound = parse(raw)
        except ParseError as exc:
            return Prepared(item, error=str(exc), size=len(raw),
                            claimed_id=claimed_message_id(raw))
        now = clock.now()
        try:
            # a new ticket's SLA clocks start when the mail was accepted (clocks.start_of)
            facts = self.pipeline.prepare(item, inbound, min(item.received_at, now))
        except Exception:  # the pipeline, inside its savepoint, will say what it makes of it
            facts = None
        return Prepared(item, inbound, size=len(raw), facts=facts, now=now)

    def run(self, stop: threading.Event) -> None:
        """Thread body: drain, then wait for a wake-up or the poll interval."""
        interval = self.config.processing.poll_interval.total_seconds()
        backoff = interval
        while not stop.is_set():
            self.wake.clear()
            try:
                self.drain(stop=stop)
                backoff = interval
            except TransientError as exc:
                log.warning("processor_paused", error=str(exc), retry_in=backoff)
                backoff = min(backoff * 2, 30.0)
                stop.wait(backoff)
                continue
            except Exception:
                # A bug must not end the thread silently. The message being handled keeps
                # its claim and counts an attempt: a repeatable crash ends in quarantine.
                log.exception("processor_crashed", retry_in=backoff)
                self._held.clear()
                self._prepared.clear()
                backoff = min(backoff * 2, 30.0)
                stop.wait(backoff)
                continue
            self.wake.wait(interval)

    def process(self, item: SpoolItem, prepared: Prepared | None = None) -> Outcome | None:
        """Handle one claimed spool row in its own savepoint (inside the caller's transaction,
        or a transaction of its own); never raises except TransientError.

        The sender is told about queued mail by the caller, after the commit."""
        self._bind(item)
        if item.attempts > self.config.processing.max_attempts:
            self._quarantine(item, None, f"processing did not finish after {item.attempts - 1}"
                                         " attempts (crash or hang while handling it)")
            return None
        prepared = prepared or self.prepare(item)
        if prepared.inbound is None:
            self._quarantine(item, prepared.claimed_id, prepared.error or "unparsable")
            return None
        inbound = prepared.inbound
        self._bind(item, inbound.message_id)
        now = prepared.now or clock.now()
        try:
            try:
                outcome = self._handle(item, inbound, now, prepared.facts)
            except DuplicateMessageError:
                # Another processor stored the same Message-ID between our check and our
                # insert: handle it once more, now that its row is committed, so that the
                # dedupe step compares the two (a redelivery, or another mail reusing the
                # id, which is kept under an id of its own).
                log.info("message_id_raced", reason="stored concurrently, handled again")
                outcome = self._handle(item, inbound, now, prepared.facts)
        except DuplicateMessageError:  # raced twice: a true copy would have been seen
            with self.store.transaction():
                self.store.spool_finish(item.id, state="duplicate", now=now,
                                        message_id=inbound.message_id)
            log.info("message_duplicate", reason="stored concurrently")
            return None
        except TransientError:
            raise
        except Quarantine as exc:  # a policy decision, not a failure
            self._quarantine(item, inbound.message_id, str(exc), exc.notice)
            return None
        except Exception as exc:
            log.exception("message_failed")
            self._quarantine(item, inbound.message_id, f"{type(exc).__name__}: {exc}")
            return None
        self._log_outcome(outcome)
        return outcome

    def _bind(self, item: SpoolItem, message_id: str | None = None) -> None:
        """The log context of the message being handled (the last message's, not the
        node's, is dropped)."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(node=self.node, spool_id=item.id,
                                               channel=item.channel)
        if message_id is not None:
            structlog.contextvars.bind_contextvars(message_id=message_id)

    @staticmethod
    def _log_outcome(outcome: Outcome) -> None:
        if outcome.state == "duplicate":
            log.info("message_duplicate", ticket_id=outcome.ticket_id)
        else:
            log.info("message_processed", ticket=outcome.reference, action=outcome.action,
                     threaded_by=outcome.method, queued=len(outcome.outbox_ids))

    def _handle(self, item: SpoolItem, inbound: Inbound, now: datetime,
                facts: Facts | None) -> Outcome:
        """Run the pipeline on one message and finish its spool row, in one savepoint."""
        with self.store.transaction(), self.store.savepoint("message"), \
                self.store.rows_together():  # the message's events: one statement
            outcome = self.pipeline.handle(self.store, item, inbound, now, facts)
            self.store.spool_finish(item.id, state=outcome.state, now=now,
                                    message_id=outcome.message_id,  # as stored (a reused id
                                    ticket_id=outcome.ticket_id)    # gets one of its own)
        return outcome

    def _quarantine(self, item: SpoolItem, message_id: str | None, reason: str,
                    notice: Callable[[Store], None] | None = None) -> None:
        """Hold the message; ``notice`` (the policy's mail to the team) is queued with the
        hold, and its failure never loses the hold."""
        with self.store.transaction():
            self.store.spool_finish(item.id, state="quarantined", now=clock.now(),
                                    message_id=message_id, reason=reason)
            if notice is not None:
                try:
                    with self.store.savepoint("notice"):
                        notice(self.store)
                    self._noticed = True
                except TransientError:
                    raise
                except Exception:
                    log.exception("quarantine_notice_failed")
        log.warning("message_quarantined", reason=reason)

    def release(self) -> None:
        """Give back unfinished claims on clean shutdown."""
        self.store.spool_release(self.node)

