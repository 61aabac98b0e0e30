"""A person's data: export it, erase it; and the retention of raw mail (``keep_raw_for``).

GDPR articles 15 (access) and 17 (erasure), and storage limitation. The SQL is in
:mod:`mailgate.store.privacy`; this module decides what belongs to a person, writes the
export and runs the erasure one ticket per transaction, so SQLite's write lock is never
held long and PostgreSQL nodes keep processing other tickets meanwhile.

Nodes and concurrency: an erasure covers what is stored when it reaches each ticket.
Each ticket is locked while it is erased, so a reply being recorded on another node
either commits first (and is erased) or waits and lands on the anonymised ticket
afterwards. Mail of the person that is still waiting in the spool, or that opens a new
ticket while the erasure runs, is not touched (accepted mail is never dropped unread):
the command reports it and exits 75, and running it again erases it (it is idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from mailgate.config import Config
from mailgate.errors import MailgateError, NotFoundError
from mailgate.outbound import outbox_file_name, write_atomically
from mailgate.store import Store
from mailgate.store.privacy import mentions

EXPORT_FORMAT = "mailgate-export/1"
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
PURGE_SPAN = 1000  # ticket ids looked at per query (each is purged in its own transaction)


def person_address(text: str) -> str:
    """The address as mailgate stores it (lower-case), or MailgateError for a typo."""
    address = text.strip().strip("<>").lower()
    if not _ADDRESS.match(address):
        raise MailgateError(f"not an email address: {text!r}")
    return address


def erasure_mark(address: str) -> str:
    """What an ``erased`` event records instead of the address: its SHA-256, so a second
    request for the same address is recognised without keeping the address."""
    return "sha256:" + hashlib.sha256(address.encode()).hexdigest()


# -- export ------------------------------------------------------------------------------


class Sink(Protocol):
    def add(self, name: str, data: bytes) -> None: ...


@dataclass
class ExportResult:
    path: Path
    tickets: int = 0
    messages: int = 0
    attachments: int = 0
    quarantined: int = 0


def export_person(store: Store, address: str, target: Path, now: datetime) -> ExportResult:
    """Write everything of the person into ``target``: a folder, a ``.zip`` or a ``.tar.gz``
    (replaced whole if it is an earlier export), with ``index.json`` listing it all."""
    address = person_address(address)
    tickets = store.tickets_of_person(address)
    quarantined = store.quarantined_of_person(address)
    if not tickets and not quarantined:
        raise NotFoundError(_nothing_found(store, address))
    result = ExportResult(target)
    with _sink(target) as sink:
        index: dict[str, Any] = {"format": EXPORT_FORMAT, "customer": address,
                                 "exported_at": now.isoformat(), "tickets": [],
                                 "quarantined": []}
        for ticket_id, role in tickets:
            index["tickets"].append(_export_ticket(store, sink, address, ticket_id, role,
                                                   result))
        for row in quarantined:
            name = f"quarantine/{row['id']:08d}.eml"
            sink.add(name, row["raw"])
            index["quarantined"].append({"file": name, "received_at": row["received_at"],
                                         "reason": row["reason"], "size": len(row["raw"]),
                                         "sha256": _sha(row["raw"])})
        result.tickets, result.quarantined = len(tickets), len(quarantined)
        sink.add("index.json", json.dumps(index, indent=2, ensure_ascii=False,
                                          default=str).encode() + b"\n")
    return result


def _nothing_found(store: Store, address: str) -> str:
    earlier = store.erasure_marks(erasure_mark(address))
    if earlier:
        return (f"nothing of {address} is stored: erased on {earlier[0][1][:10]} "
                f"({len(earlier)} tickets anonymised)")
    return f"nothing of {address} is stored (no ticket, message or quarantined mail): a typo?"


def _export_ticket(store: Store, sink: Sink, address: str, ticket_id: int, role: str,
                   result: ExportResult) -> dict[str, Any]:
    record = store.ticket_record(ticket_id)
    reference = record["reference"]
    record["fields"] = json.loads(record.get("fields") or "{}")
    ticket: dict[str, Any] = {k: v for k, v in record.items()
                              if k not in ("id", "merged_into", "correlation_key")}
    ticket["role"] = role
    if record.get("merged_into"):
        ticket["merged_into"] = store.ticket(record["merged_into"]).reference
    if role == "requester":
        ticket["participants"] = store.participants(ticket_id)
        ticket["rating"] = store.rating(ticket_id)
    outbox = {row["id"]: row for row in store.outbox_of_ticket(ticket_id)}
    ticket["messages"] = []
    for n, message in enumerate(store.messages(ticket_id), 1):
        mine = message["direction"] == "in" and message["from_addr"] == address
        to_me = message["direction"] == "out" and address in message["to_addrs"]
        if mine or to_me:
            ticket["messages"].append(_export_message(store, sink, f"{reference}/{n:04d}",
                                                      message, outbox, result))
    ticket["events"] = [e for e in store.events(ticket_id) if role == "requester"
                        or (e["actor"] or "").lower() == address
                        or mentions(e["detail"], address)]
    return ticket


def _export_message(store: Store, sink: Sink, stem: str, message: dict[str, Any],
                    outbox: dict[int, dict[str, Any]], result: ExportResult) -> dict[str, Any]:
    """One message: its ``.eml`` (the stored bytes, if still kept) and its attachments."""
    raw = store.spool_raw(message["spool_id"]) if message["spool_id"] else \
        store.outbox_raw(message["outbox_id"]) if message["outbox_id"] else b""
    item: dict[str, Any] = {
        "message_id": message["message_id"], "direction": message["direction"],
        "kind": message["kind"], "date": message["date"], "stored_at": message["created_at"],
        "from": message["from_addr"], "to": message["to_addrs"], "cc": message["cc_addrs"],
        "subject": message["subject"], "text": message["body_text"],
        "file": None, "size": len(raw), "sha256": _sha(raw) if raw else None,
        "attachments": []}
    if raw:
        item["file"] = f"{stem}.eml"
        sink.add(item["file"], raw)
    if message["outbox_id"] in outbox:
        sent = outbox[message["outbox_id"]]
        item |= {"state": sent["state"], "sent_at": sent["sent_at"]}
    for k, attachment in enumerate(store.attachments(message["id"]), 1):
        data = store.blob(attachment["sha256"]) if attachment["sha256"] else None
        entry = dict(attachment, file=None)
        if data is not None:
            entry["file"] = f"{stem}-attachments/{k:02d}-{_safe(attachment['filename'])}"
            sink.add(entry["file"], data)
            result.attachments += 1
        item["attachments"].append(entry)
    result.messages += 1
    return item


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(name: str) -> str:
    """A file name that stays inside its folder on every system."""
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(". ") or "attachment"
    return cleaned[:100]


class _FolderSink:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700)

    def add(self, name: str, data: bytes) -> None:
        path = self.root / name
        for folder in reversed(path.relative_to(self.root).parents[:-1]):
            (self.root / folder).mkdir(mode=0o700, exist_ok=True)
        with _private(path) as out:
            out.write(data)


class _ZipSink:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def add(self, name: str, data: bytes) -> None:
        self.archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)


class _TarSink:
    def __init__(self, archive: tarfile.TarFile, now: float) -> None:
        self.archive, self.now = archive, now

    def add(self, name: str, data: bytes) -> None:
        import io

        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(self.now), 0o600
        self.archive.addfile(info, io.BytesIO(data))


@contextmanager
def _sink(target: Path) -> Iterator[Sink]:
    """Write beside ``target`` and put it in place at the end: a failed export leaves no
    half export, and a second export of the same person replaces the first. Personal
    data: every file and folder is readable by the owner only."""
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))  # mode 0700
    try:
        if target.name.endswith(".zip"):
            with _private(work / "export.zip") as out, zipfile.ZipFile(out, "w") as archive:
                yield _ZipSink(archive)
            _replace(work / "export.zip", target)
        elif target.name.endswith((".tar.gz", ".tgz")):
            with _private(work / "export.tar.gz") as out, \
                    tarfile.open(fileobj=out, mode="w:gz") as tar:
                yield _TarSink(tar, datetime.now().timestamp())
            _replace(work / "export.tar.gz", target)
        else:
            yield _FolderSink(work / "export")
            _replace(work / "export", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _private(path: Path) -> BinaryIO:
    """A new file only its owner can read."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _check_replaceable(target: Path) -> None:
    if target.is_dir() and any(target.iterdir()) and not (target / "index.json").exists():
        raise MailgateError(f"{target} is a folder that is not empty and not an export:"
                            " give a new folder or a .zip or .tar.gz file")
    if target.exists() and not target.is_dir() and not target.name.endswith(
            (".zip", ".tar.gz", ".tgz")):
        raise MailgateError(f"{target} exists and is not a folder, .zip or .tar.gz")


def _replace(new: Path, target: Path) -> None:
    if target.is_dir():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        new.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.replace(target)


# -- erasure ---------------------------------------------------------------------------


@dataclass
class ErasePlan:
    """What ``erase`` finds of a person (and, once applied, what it changed)."""

    address: str
    tickets: list[tuple[str, str]]  # (reference, role)
    loose: dict[str, int]
    earlier: list[tuple[str, str]] = field(default_factory=list)  # erased before
    changed: dict[str, int] = field(default_factory=dict)
    left: dict[str, list[str]] = field(default_factory=dict)  # appeared meanwhile

    @property
    def empty(self) -> bool:
        return not self.tickets and not any(self.loose.values())


def erase_plan(store: Store, address: str) -> ErasePlan:
    """What an erasure would touch; NotFoundError when nothing of the address is stored
    and it was never erased (a typo)."""
    address = person_address(address)
    tickets = [(store.ticket(t).reference, role) for t, role in
               store.tickets_of_person(address)]
    plan = ErasePlan(address, tickets, store.loose_rows_of_person(address))
    if plan.empty:
        plan.earlier = store.erasure_marks(erasure_mark(address))
        if not plan.earlier:
            raise NotFoundError(_nothing_found(store, address))
    return plan


def erase_person(config: Config, store: Store, address: str, *, actor: str,
                 now: datetime) -> ErasePlan:
    """Erase the person, one ticket per transaction, then their rows on no ticket and
    the outbound folder's files; ``left`` says what appeared meanwhile (run it again)."""
    plan = erase_plan(store, address)
    changed = plan.changed
    detail = f"personal data erased on request ({erasure_mark(plan.address)})"
    names = store.names_of_person(plan.address)  # read before any ticket forgets them
    for reference, _role in plan.tickets:
        with store.transaction():
            ticket = store.ticket_by_reference(reference)
            done = store.erase_person_from_ticket(ticket.id, plan.address, now=now,
                                                  actor=actor, detail=detail, names=names)
        if done is None:
            continue
        for key in ("messages", "raw", "attachments", "blobs", "events"):
            changed[key] = changed.get(key, 0) + getattr(done, key)
        changed["tickets"] = changed.get("tickets", 0) + 1
        changed["files"] = changed.get("files", 0) + _fix_folder(
            config, done.outbox_erased, done.outbox_redacted)
    with store.transaction():
        loose = store.erase_loose_rows(plan.address)
    changed["quarantined"] = loose["quarantined"]
    changed["auto_replies"] = loose["auto_replies"]
    changed["files"] = changed.get("files", 0) + _fix_folder(config, loose["outbox_erased"], {})
    plan.left = _left_over(store, plan)
    return plan


def _left_over(store: Store, plan: ErasePlan) -> dict[str, list[str]]:
    """What of the person is stored now: mail that arrived while the erasure ran."""
    left: dict[str, list[str]] = {}
    tickets = [store.ticket(t).reference for t, _ in store.tickets_of_person(plan.address)]
    if tickets:
        left["tickets"] = tickets
    waiting = store.waiting_spool_of(plan.address)
    if waiting:
        left["waiting in the spool"] = [str(i) for i in waiting]
    return left


def _fix_folder(config: Config, erased: list[int], redacted: dict[int, bytes]) -> int:
    """In folder mode: delete the ``.eml`` of erased outbox mail, rewrite redacted ones."""
    if config.outbound.mode != "folder":
        return 0
    folder = config.path(config.outbound.folder)
    fixed = 0
    for outbox_id in erased:
        path = folder / outbox_file_name(outbox_id)
        if path.exists():
            path.unlink()
            fixed += 1
    for outbox_id, raw in redacted.items():
        path = folder / outbox_file_name(outbox_id)
        if path.exists():
            write_atomically(path, raw)
            fixed += 1
    return fixed


# -- retention ---------------------------------------------------------------------------


@dataclass
class PurgeResult:
    tickets: int = 0
    raw: int = 0
    attachments: int = 0
    blobs: int = 0
    #: the ticket id to go on after when the time budget ran out (None: scan complete)
    resume_after: int | None = None


def purge_raw(store: Store, keep_for: timedelta, now: datetime, *, actor: str = "mailgate",
              dry_run: bool = False, after: int = 0,
              seconds: float | None = None) -> PurgeResult:
    """Empty the raw bytes and attachments of tickets closed more than ``keep_for`` ago,
    one ticket per transaction with a ``raw_purged`` event, scanning ticket ids above
    ``after``; with ``seconds``, stop after about that long and say where to go on (the
    daemon's pass must not keep its thread from the SLA reminders). Idempotent, so two
    nodes running it at once only share the work. ``dry_run``: count, change nothing."""
    cutoff = now - keep_for
    result = PurgeResult()
    deadline = None if seconds is None else time.monotonic() + seconds
    last = store.last_ticket_id()
    for start in range(after, last, PURGE_SPAN):
        if deadline is not None and time.monotonic() > deadline:
            result.resume_after = start
            break
        batch = store.tickets_with_raw_closed_before(cutoff, start, PURGE_SPAN)
        if dry_run:
            result.tickets += len(batch)
            continue
        for ticket_id in batch:
            done = _purge_one(store, ticket_id, cutoff, keep_for, actor, now)
            if done is not None:
                result.tickets += 1
                result.raw += done["raw"]
                result.attachments += done["attachments"]
                result.blobs += done["blobs"]
    return result


def _purge_one(store: Store, ticket_id: int, cutoff: datetime, keep_for: timedelta, actor: str,
               now: datetime) -> dict[str, int] | None:
    with store.transaction():
        done = store.purge_ticket_raw(ticket_id, cutoff)
        if done is not None:
            store.add_event(ticket_id, "raw_purged", actor=actor, now=now,
                            detail=f"raw mail and attachments removed after "
                                   f"store.keep_raw_for ({keep_for}): {done['raw']} raw, "
                                   f"{done['attachments']} attachments")
    return done
