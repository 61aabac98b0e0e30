"""The outbox sender: delivers queued mail to a smarthost or writes it to a folder.

Rows are claimed with a lease, sent, and only then marked ``sent`` (after the
smarthost's ``250``, or after the ``.eml`` file is fsynced and renamed into
place). A crash between the two sends that mail again after the lease
expires, with the same Message-ID, so receivers can tell; in folder mode the
file name is the outbox id, so a repeat overwrites rather than duplicates.

Temporary failures (4xx, connection refused, timeouts) retry with capped
exponential backoff and jitter until ``give_up_after``; a permanent refusal
(5xx) marks the mail failed at once. Either way the ticket gets an event; a
customer's mail that fails for good also gets the team a notice, as a permanent
bounce does. The smarthost answers each recipient apart: the ones it took have
the mail for good, a recipient it deferred (4xx) stays pending alone (the row's
recipients shrink to those), one it refused for good (5xx) gets a
``delivery_failed`` event naming it. A non-ASCII address on a smarthost without
SMTPUTF8 is refused for good that way, without holding up the others. A mail
over the smarthost's size limit goes once more without its files (``trim``).
Mail of one ticket is never overtaken by a later mail of the same ticket to the same
recipients (mail to others, such as the team's notices, never waits behind a customer's
deferred mail).

A claimed batch holds at most one mail per ticket and recipients, so its mails go out
together: written to the folder in one pass (each file fsynced, the folder
once; their results then recorded in one transaction: a file named by its
outbox id is overwritten by a repeat, never duplicated), or handed to the
smarthost over up to ``SMTP_CONCURRENCY`` connections at a time, each mail's
result recorded (durably) as soon as the smarthost answered it: a kill can then
repeat at most the mails whose ``250`` was in flight, one per open connection.
A result the store could not take is kept and recorded first next round.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import structlog

from mailgate import clock
from mailgate.config import Config
from mailgate.conversation import CUSTOMER_KINDS, Conversation
from mailgate.errors import ConfigError, PermanentDeliveryError, TransientError
from mailgate.mailer import Mailer
from mailgate.refs import TagFormat
from mailgate.render import Renderer, freeze_templates
from mailgate.store import OutboxItem, Store
from mailgate.trim import without_files

log = structlog.get_logger("mailgate.outbound")

CLAIM = 50  # outbox rows per claimed batch
GATHER = 0.025  # seconds the sender lets mail gather after a wake-up: fewer, larger batches
SMTP_CONCURRENCY = 4  # smarthost connections a batch uses at once

Refused = dict[str, tuple[int, str]]  # recipient -> the smarthost's code and text


#: How a non-ASCII address counts when the smarthost lacks SMTPUTF8: refused for good.
NO_SMTPUTF8 = (553, "5.6.7 the smarthost does not offer SMTPUTF8, which this address needs")


class TooLarge(PermanentDeliveryError):
    """The mail exceeds the smarthost's size limit (the SIZE it announced, or 552/5.3.4)."""


@dataclass(frozen=True)
class Result:
    """One attempt's outcome to record: ``state`` of the row, and with ``rcpt_tos`` the
    recipients it still waits for (the others took it); ``refused``: recipients refused
    for good ("address: code text"), each a ``delivery_failed`` event."""

    item: OutboxItem
    state: str
    error: str | None = None
    retry_at: datetime | None = None
    rcpt_tos: list[str] | None = None
    refused: tuple[str, ...] = ()


def write_atomically(path: Path, data: bytes) -> None:
    """Write, fsync and rename, then fsync the folder: the file is whole or absent."""
    failed = write_files(path.parent, {path.name: data})
    if failed:
        raise failed[path.name]


def write_files(folder: Path, files: dict[str, bytes]) -> dict[str, OSError]:
    """Write each file whole and durable, then rename it into place; return the failures.

    A batch's data is flushed with one ``syncfs`` instead of an fsync per file (on ext4
    each fsync is a journal commit, which the spooler's own fsync before its ``250`` then
    waits behind), then the renames with one fsync of the folder. Where ``syncfs`` is
    missing, each file is fsynced.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # each mail waits for a retry, with the reason on its row
        return dict.fromkeys(files, exc)
    failed: dict[str, OSError] = {}
    written: list[tuple[str, Path, Path]] = []
    for name, data in files.items():
        path = folder / name
        tmp = path.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                if _SYNCFS is None:
                    handle.flush()
                    os.fsync(handle.fileno())
            written.append((name, tmp, path))
        except OSError as exc:
            failed[name] = exc
            with suppress(OSError):
                tmp.unlink()
    try:
        _flush(folder)  # the data, before any name points at it
        for _name, tmp, path in written:
            os.replace(tmp, path)
        _flush(folder, entries_only=True)  # the renames: the folder's own entries
    except OSError as exc:  # none of the batch counts as written
        return dict.fromkeys(files, exc)
    return failed


def _flush(folder: Path, *, entries_only: bool = False) -> None:
    """``syncfs`` the folder's filesystem (nothing without it: each file was fsynced), or
    with ``entries_only`` fsync the folder itself (its names)."""
    if _SYNCFS is None and not entries_only:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if entries_only:
            os.fsync(fd)
        elif _SYNCFS(fd) != 0:  # type: ignore[misc]
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs {folder}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    with suppress(Exception):
        return ctypes.CDLL(None, use_errno=True).syncfs
    return None


_SYNCFS = _load_syncfs()


def smarthost_password(config: Config) -> str | None:
    out = config.outbound
    if out.password_env:
        value = os.environ.get(out.password_env)
        if value is None:
            raise ConfigError(f"outbound.password_env: environment variable {out.password_env}"
                              " is not set")
        return value
    if out.password_file:
        return config.path(out.password_file).read_text(encoding="utf-8").strip()
    return None


def backoff(config: Config, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: doubling from retry_initial, capped, jittered."""
    base = config.outbound.retry_initial.total_seconds() * 2 ** max(attempts - 1, 0)
    capped = min(base, config.outbound.retry_max.total_seconds())
    return timedelta(seconds=capped * random.uniform(0.8, 1.0))


class Sender:
    """Asyncio task that drains the outbox; DB work runs on one dedicated thread."""

    def __init__(self, config: Config, open_db: Callable[[], Store], node: str,
                 renderer: Renderer | None = None) -> None:
        self.config = config
        self.renderer = renderer  # for the team's notice of a mail that failed (else lazily)
        self._conversation: tuple[Config, Renderer, Conversation] | None = None
        self.open_db = open_db  # a connection for the sender's database thread
        self.node = node
        self.wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgate-outbox")
        self._store: Store | None = None
        self._held: list[OutboxItem] = []
        self._unrecorded: list[Result] = []
        self._recorded: set[int] = set()  # outbox ids of this batch already on record
        self._leases: dict[int, datetime] = {}  # outbox id -> until when this node holds it

    def _open(self) -> Store:
        """The sender's connection. In folder mode, when the folder's ``syncfs`` covers the
        database too (SQLite on the same filesystem), its commits skip their own fsync:
        ``write_files`` syncs the filesystem after the claim and before any file gets its
        name, which makes the claim (and the processing it follows) durable first; a
        result record lost to a power cut only writes the same file name again."""
        store = self.open_db()
        if self.config.outbound.mode == "folder" and _SYNCFS is not None:
            folder = self.config.path(self.config.outbound.folder)
            with suppress(OSError):
                folder.mkdir(parents=True, exist_ok=True)
            if store.synced_with(folder):
                store.relax_durability()
        return store

    def _db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            if self._store is None:
                self._store = self._open()
            return fn(self._store, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.drain(stop)
            except TransientError as exc:
                log.warning("outbox_paused", error=str(exc))
            waiter = asyncio.ensure_future(self.wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=1.0,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if self.wake.is_set() and not stop.is_set():
                await asyncio.sleep(GATHER)  # under load, the next acks are milliseconds away

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send everything due now (until ``stop``); return how many rows were attempted.

        A store failure must neither re-send a delivered mail nor strand claimed ones until
        their lease expires: results not yet recorded (``_unrecorded``) are recorded first
        next round, and claimed rows not yet sent (``_held``) are sent first.
        """
        count = 0
        while not (stop and stop.is_set()):
            if self._unrecorded:
                await self._db(_record_all, self.node, list(self._unrecorded), self._tell_team)
                self._unrecorded.clear()
            if not self._held:
                now = clock.now()
                self._held = await self._db(Store.outbox_claim, self.node, now,
                                            now + self.config.outbound.lease, CLAIM)
                if not self._held:
                    return count
                self._leases = {i.id: now + self.config.outbound.lease for i in self._held}
            batch, self._held = self._held, []
            self._recorded = set()
            try:
                results = await self.send_batch(batch)
            except BaseException:  # what was not recorded yet is sent again first
                self._held = [item for item in batch if item.id not in self._recorded]
                raise
            self._unrecorded = results
            await self._db(_record_all, self.node, list(results), self._tell_team)
            self._unrecorded.clear()
            count += len(batch)
        return count

    async def send_batch(self, batch: list[OutboxItem]) -> list[Result]:
        """Hand a claimed batch over (at most one mail per ticket and recipients); the
        results still to record (a smarthost's are recorded as each arrives)."""
        raws = await self._db(Store.outbox_raws, [item.id for item in batch])
        gone = [item for item in batch if item.id not in raws]  # deleted meanwhile
        erased = [item for item in batch if raws.get(item.id) == b""]  # mailgate erase
        batch = [item for item in batch if raws.get(item.id)]
        results = [self._result(item, PermanentDeliveryError("the outbox row is gone"))
                   for item in gone] + [Result(item, "cancelled", "erased") for item in erased]
        if self.config.outbound.mode == "folder":
            folder = self.config.path(self.config.outbound.folder)
            failed = await asyncio.to_thread(
                write_files, folder, {_file_name(item): raws[item.id] for item in batch})
            return results + [self._result(item, _folder_error(self.config, failed.get(
                _file_name(item)))) for item in batch]
        gate = asyncio.Semaphore(SMTP_CONCURRENCY)

        async def one(item: OutboxItem) -> list[Result]:
            async with gate:
                if not await self._still_ours(item):
                    return []
                try:
                    refused = await self._deliver_fitting(item, raws[item.id])
                except Exception as exc:
                    result = self._result(item, exc)
                else:
                    result = self._result(item, None, refused)
                try:  # on record before this connection takes the next mail
                    await self._db(_record_all, self.node, [result], self._tell_team)
                except Exception as exc:  # the store is down: drain records it later
                    log.warning("outbox_result_unrecorded", outbox_id=item.id, error=str(exc))
                    return [result]
                self._recorded.add(item.id)
                return []

        unrecorded = await asyncio.gather(*(one(item) for item in batch))
        return results + [r for rs in unrecorded for r in rs]

    def _tell_team(self, store: Store, result: Result) -> None:
        """Queue the team's notice of a customer's mail that failed for good (in the
        result's transaction; this drain then sends it)."""
        item = result.item
        if item.ticket_id is None or item.kind not in CUSTOMER_KINDS:
            return
        lost = [line.partition(":")[0] for line in result.refused]
        errors = list(result.refused)
        if result.state == "failed" and not (result.refused and result.rcpt_tos is None):
            lost += result.rcpt_tos if result.rcpt_tos is not None else item.rcpt_tos
            errors.append(result.error or "")  # failed as a whole, or the waiting gave up
        conversation = self._notifier()
        try:  # the result must be recorded even if the notice cannot be made
            with store.savepoint("undelivered"):
                conversation.notify_undelivered(
                    store, store.ticket(item.ticket_id), clock.now(), kind=item.kind,
                    message_id=item.message_id, recipients=lost, error="\n".join(errors))
        except Exception as exc:  # a template or data problem: logged, the result kept
            log.error("undelivered_notice_failed", outbox_id=item.id, error=str(exc))
        conversation.mailer.take_queued()  # this drain sends it: nobody to wake

    def _notifier(self) -> Conversation:
        """The conversation of the current config and templates (rebuilt after a reload)."""
        if self.renderer is None:  # a sender process: the daemon checked them at start
            self.renderer = freeze_templates(Renderer(self.config.templates_dir))
        made = self._conversation
        if made is None or made[0] is not self.config or made[1] is not self.renderer:
            gateway = self.config.gateway
            made = (self.config, self.renderer, Conversation(
                self.config, Mailer(self.config, self.renderer),
                TagFormat(gateway.reference_prefix, gateway.reference_width)))
            self._conversation = made
        return made[2]

    async def _still_ours(self, item: OutboxItem) -> bool:
        """Whether this node still holds the row, checked before each send: surely while
        more than half its lease is left, else renewed in the store. False when the lease
        ran out meanwhile (a slow smarthost, a long batch) and another node took the row
        or sent it: then this node leaves it alone, so it is never sent twice."""
        now, lease = clock.now(), self.config.outbound.lease
        if self._leases.get(item.id, now) - now > lease / 2:
            return True
        if await self._db(Store.outbox_hold, item.id, self.node, now + lease):
            self._leases[item.id] = now + lease
            return True
        log.warning("outbox_claim_lost", outbox_id=item.id, node=self.node)
        self._recorded.add(item.id)  # nothing of it to send again from here
        return False

    def _result(self, item: OutboxItem, exc: BaseException | None,
                refused: Refused | None = None) -> Result:
        """What to record for one attempt: sent, failed for good, or retry later; with
        ``refused`` (recipients the smarthost turned down) a 4xx recipient stays pending
        alone and a 5xx one fails alone, while the others have the mail."""
        if exc is None and refused:
            return self._partly(item, refused)
        if exc is None:
            log.info("mail_sent", outbox_id=item.id, kind=item.kind, to=item.rcpt_tos)
            return Result(item, "sent")
        if isinstance(exc, PermanentDeliveryError):
            log.error("mail_failed", outbox_id=item.id, error=str(exc))
            return Result(item, "failed", str(exc))
        return self._later(item, str(exc) or type(exc).__name__, None, ())

    def _later(self, item: OutboxItem, error: str, rcpt_tos: list[str] | None,
               refused: tuple[str, ...]) -> Result:
        """Retry later (for ``rcpt_tos`` only, when given), or give up after give_up_after."""
        now = clock.now()
        if now - item.created_at > self.config.outbound.give_up_after:
            log.error("mail_failed", outbox_id=item.id, error=error, gave_up=True)
            return Result(item, "failed", f"gave up: {error}", None, rcpt_tos, refused)
        retry_at = now + backoff(self.config, item.attempts)
        log.warning("mail_deferred", outbox_id=item.id, error=error,
                    retry_at=retry_at.isoformat())
        return Result(item, "pending", error, retry_at, rcpt_tos, refused)

    def _partly(self, item: OutboxItem, refused: Refused) -> Result:
        """Some recipients refused: 5xx ones fail (an event each), 4xx ones wait alone."""
        lines = {a: f"{a}: {code} {text}" for a, (code, text) in refused.items()}
        permanent = tuple(lines[a] for a, (code, _t) in refused.items() if code >= 500)
        waiting = [a for a in item.rcpt_tos if a in refused and refused[a][0] < 500]
        took = [a for a in item.rcpt_tos if a not in refused]
        log.warning("mail_partly_refused", outbox_id=item.id, delivered=took,
                    refused=list(lines.values()))
        if waiting:
            return self._later(item, "; ".join(lines[a] for a in waiting), waiting, permanent)
        if not took:
            return Result(item, "failed", "; ".join(permanent), None, None, permanent)
        return Result(item, "sent", "; ".join(permanent), None, None, permanent)

    async def _deliver_fitting(self, item: OutboxItem, raw: bytes) -> Refused:
        """Deliver; a mail too large for the smarthost goes once more without its files,
        which it then lists as not attached (kept so, an event on the ticket names them)."""
        try:
            return await self.deliver(item, raw)
        except TooLarge as exc:
            trimmed = without_files(raw, str(exc))
            if trimmed is None:
                raise
            log.warning("mail_files_withheld", outbox_id=item.id, error=str(exc),
                        files=trimmed.files)
            await self._db(_withhold, item, trimmed.raw, f"{item.kind} to "
                           f"{', '.join(item.rcpt_tos)}: {'; '.join(trimmed.files)}: not "
                           f"attached, the mail was too large for the smarthost ({exc})")
            return await self.deliver(item, trimmed.raw)

    async def deliver(self, item: OutboxItem, raw: bytes) -> Refused:
        """Hand one message over; return the recipients the smarthost refused (the others
        have it); raise PermanentDeliveryError on a 5xx refusal of the whole mail, TooLarge
        when it is over the smarthost's size limit."""
        if self.config.outbound.mode == "folder":
            folder = self.config.path(self.config.outbound.folder)
            await asyncio.to_thread(write_atomically, folder / _file_name(item), raw)
            return {}
        out = self.config.outbound
        client = aiosmtplib.SMTP(
            hostname=out.host, port=out.port, local_hostname=self.config.smtp.host_name(),
            use_tls=out.security == "tls", start_tls=out.security == "starttls",
            username=out.username, password=smarthost_password(self.config),
            timeout=out.timeout.total_seconds())
        try:
            async with client:
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                return await _transaction(client, item, raw)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 552 or "5.3.4" in exc.message:  # RFC 1870, RFC 3463
                raise TooLarge(f"{exc.code} {exc.message}") from exc
            if exc.code >= 500:
                raise PermanentDeliveryError(f"{exc.code} {exc.message}") from exc
            raise

    def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                with suppress(Exception):  # leases expire anyway
                    self._store.outbox_release(self.node)
                self._store.close()
        self._executor.submit(shut).result()
        self._executor.shutdown()


def check_folder(config: Config, *, keep: bool = True) -> None:
    """In folder mode, create the outbound folder and write a file there, or raise a
    ConfigError naming ``outbound.folder`` and the config file (``check-config``, ``serve``:
    a typo or a folder the daemon's user cannot write is found before mail waits).
    ``keep=False`` (``check-config``, perhaps not run as the daemon's user) removes the
    folders it made again."""
    if config.outbound.mode != "folder":
        return
    folder = config.path(config.outbound.folder)
    made = [p for p in [folder, *folder.parents] if not p.exists()]
    probe = folder / f".mailgate-check-{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{config.source}: outbound.folder: cannot create or write "
                          f"{folder}: {exc.strerror or exc}") from None
    finally:
        for path in made if not keep else ():
            with suppress(OSError):
                path.rmdir()


def _folder_error(config: Config, exc: OSError | None) -> TransientError | None:
    """A folder write's failure, naming the setting (shown by ``outbox list``, /healthz)."""
    if exc is None:
        return None
    folder = config.path(config.outbound.folder)
    return TransientError(f"cannot write to outbound.folder {folder}: {exc.strerror or exc}")


def _file_name(item: OutboxItem) -> str:
    return outbox_file_name(item.id)


def outbox_file_name(outbox_id: int) -> str:
    """The ``.eml`` name of an outbox row in folder mode (``mailgate.privacy`` erases it)."""
    return f"{outbox_id:08d}.eml"  # the outbox id: a repeat overwrites, never duplicates


async def _transaction(client: aiosmtplib.SMTP, item: OutboxItem, raw: bytes) -> Refused:
    """One mail over an open connection; the recipients refused (all of them refused is
    not an exception here: each answer is kept)."""
    limit = client.esmtp_extensions.get("size", "")
    if limit.isdigit() and 0 < int(limit) < len(raw):
        raise TooLarge(f"{len(raw)} bytes, over the {limit} the smarthost takes (SIZE)")
    recipients, refused = item.rcpt_tos, Refused()
    if not client.supports_extension("smtputf8"):  # a non-ASCII address cannot pass: ever
        refused = {r: NO_SMTPUTF8 for r in recipients if not r.isascii()}
        recipients = [r for r in recipients if r.isascii()]
        if not recipients:
            return refused
    utf8 = not all(r.isascii() for r in [item.mail_from, *recipients])
    try:
        errors, _response = await client.sendmail(
            item.mail_from, recipients, raw, mail_options=["SMTPUTF8"] if utf8 else [])
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return refused | {r.recipient: (r.code, r.message) for r in exc.recipients}
    except aiosmtplib.SMTPNotSupported as exc:  # SMTPUTF8 for our own (non-ASCII) sender:
        raise PermanentDeliveryError(str(exc)) from exc  # a retry meets the same smarthost
    return refused | {address: (answer.code, answer.message)
                      for address, answer in errors.items()}


def _withhold(store: Store, item: OutboxItem, raw: bytes, detail: str) -> None:
    """Keep the mail without its files (what a retry sends) and say so on the ticket."""
    with store.transaction():
        store.outbox_replace_raw(item.id, raw)
        if item.ticket_id is not None:
            store.add_event(item.ticket_id, "attachments_withheld", actor="mailgate",
                            now=clock.now(), message_id=item.message_id, detail=detail)


def _record_all(store: Store, node: str, results: list[Result],
                tell: Callable[[Store, Result], None]) -> None:
    """Record a batch's results in one transaction (each only while ``node`` holds it);
    ``tell`` queues the team's notice of mail refused for good."""
    with store.transaction():
        for result in results:
            if _record(store, node, result) and (result.state == "failed" or result.refused):
                tell(store, result)


def _record(store: Store, node: str, result: Result) -> bool:
    """The row's new state and the ticket's events: one ``delivery_failed`` per recipient
    refused for good, one event for the mail failed or deferred as a whole. Nothing when
    this node no longer holds the row (another node took it over: its result counts)."""
    item, state, now = result.item, result.state, clock.now()
    with store.transaction():
        if not store.outbox_done(item.id, state=state, now=now, error=result.error,
                                 next_attempt_at=result.retry_at, rcpt_tos=result.rcpt_tos,
                                 node=node):
            log.warning("outbox_result_dropped", outbox_id=item.id, state=state, node=node)
            return False
        if item.ticket_id is None:
            return True
        for line in result.refused:
            store.add_event(item.ticket_id, "delivery_failed", actor="mailgate", now=now,
                            message_id=item.message_id, detail=f"{item.kind} to {line}")
        if state == "pending" or (state == "failed" and result.rcpt_tos is not None) or (
                state == "failed" and not result.refused):
            kind = "delivery_failed" if state == "failed" else "delivery_deferred"
            to = result.rcpt_tos if result.rcpt_tos is not None else item.rcpt_tos
            store.add_event(item.ticket_id, kind, actor="mailgate", now=now,
                            message_id=item.message_id,
                            detail=f"{item.kind} to {', '.join(to)}: {result.error}")
    return True
