"""Message queries: a ticket's messages, attachments, participants and events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailgate.clock import to_db
from mailgate.store.base import DuplicateMessageError, StoreBase, chunked
from mailgate.store.outbox import OUTBOX_INSERT, outbox_values

_PARTICIPANT_INSERT = ("INSERT INTO participants (ticket_id, address, name, role, added_at)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")


# ON CONFLICT instead of catching the violation: on PostgreSQL a violation aborts the whole
# transaction. A concurrent insert of the same Message-ID by another node makes this one
# wait for that node's commit, then insert nothing.
MESSAGE_COLUMNS = ("ticket_id", "message_id", "direction", "kind", "spool_id", "outbox_id",
                   "from_addr", "from_name", "to_addrs", "cc_addrs", "date", "subject",
                   "body_text", "in_reply_to", "created_at", "threaded_by", "decisions")
MESSAGE_INSERT = (f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)})"
                  f" VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
                  f" ON CONFLICT (message_id) DO NOTHING RETURNING id")


def message_values(*, ticket_id: int, message_id: str, direction: str, kind: str,
                   now: datetime, spool_id: int | None = None, outbox_id: int | None = None,
                   from_addr: str | None = None, from_name: str | None = None,
                   to_addrs: Sequence[str] = (), cc_addrs: Sequence[str] = (),
                   date: datetime | None = None, subject: str | None = None,
                   body_text: str | None = None, in_reply_to: str | None = None,
                   threaded_by: str | None = None, decisions: str | None = None,
                   ) -> tuple[Any, ...]:
    """The parameters of ``MESSAGE_INSERT``, in the order of ``MESSAGE_COLUMNS``."""
    return (ticket_id, message_id, direction, kind, spool_id, outbox_id, from_addr,
            from_name, json.dumps(list(to_addrs)), json.dumps(list(cc_addrs)),
            to_db(date), subject, body_text, in_reply_to, to_db(now), threaded_by,
            decisions)


class MessageQueries(StoreBase):
    """``messages`` (unique Message-IDs), ``attachments``/``blobs``, ``participants``,
    ``events``: the rows that hang off one ticket."""

    def ticket_of_message_ids(self, message_ids: Sequence[str]) -> tuple[int, str] | None:
        """The ticket holding the most recent of ``message_ids`` (ours or theirs)."""
        if not message_ids:
            return None
        marks = ",".join("?" * len(message_ids))
        row = self._x(
            f"SELECT ticket_id, message_id FROM messages WHERE message_id IN ({marks})"
            f" ORDER BY id DESC LIMIT 1", list(message_ids),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def note_unstored(self, message_ids: Sequence[str]) -> None:
        """Inside a transaction: ask once which of ``message_ids`` are stored, so that
        ``message_content`` and ``message_exists`` answer None for the others without a
        statement of their own until the transaction ends (the processor's group: one
        statement, not one a mail). A message row this store writes under one of them takes
        it out (asked again, whether that row was rolled back or not); one another
        connection commits meanwhile is met by ``add_message``'s ``DuplicateMessageError``,
        as when it is committed just after the question."""
        if not self._depth:
            return
        for chunk in chunked([m for m in message_ids if m]):
            def unstored(rows: list[Any], chunk: list[str] = chunk) -> None:
                self._unstored.update(set(chunk).difference(r[0] for r in rows))

            self._answer_later(f"SELECT message_id FROM messages WHERE message_id IN"
                               f" ({','.join('?' * len(chunk))})", chunk, unstored)

    def message_exists(self, message_id: str) -> tuple[int, str] | None:
        """(ticket id, direction) of a stored message with this Message-ID, else None."""
        self._settle()
        if message_id in self._unstored:
            return None
        row = self._x("SELECT ticket_id, direction FROM messages WHERE message_id = ?",
                      (message_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def addressed_on_ticket(self, ticket_id: int, address: str) -> bool:
        """Whether ``address`` was in To/Cc of a message of the ticket (or of a ticket merged
        into it): our own mail, or a customer's or an engineer's (automatic mail, bounces
        and a stranger's mail kept on the ticket do not count: anyone can send those); since
        an engineer last removed it (``#cc -``), if ever."""
        address = address.lower()
        removed = self._x("SELECT MAX(at) FROM events WHERE ticket_id = ? AND kind ="
                          " 'participant_removed' AND detail = ?",
                          (ticket_id, f"{address} removed")).fetchone()[0]
        cur = self._x(
            "SELECT to_addrs, cc_addrs FROM messages WHERE (ticket_id = ? OR ticket_id IN"
            " (SELECT id FROM tickets WHERE merged_into = ?))"
            " AND (direction = 'out' OR kind IN ('customer', 'engineer'))"
            " AND created_at > ?", (ticket_id, ticket_id, removed or ""))
        return any(address in {a.lower() for a in [*json.loads(to or "[]"),
                                                   *json.loads(cc or "[]")]}
                   for to, cc in cur)

    def message_content(self, message_id: str) -> dict[str, Any] | None:
        """What a stored message said (sender, subject, text, attachment hashes), to tell a
        redelivery from another mail reusing its Message-ID."""
        self._settle()
        if message_id in self._unstored:
            return None
        row = self._x("SELECT id, ticket_id, direction, from_addr, subject, body_text"
                      " FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        files = self._x("SELECT sha256 FROM attachments WHERE message_row = ? ORDER BY id",
                        (row[0],))
        return {"ticket_id": row[1], "direction": row[2], "from_addr": row[3] or "",
                "subject": row[4] or "", "text": row[5] or "",
                "attachments": [f[0] for f in files]}

    def add_message(self, *, ticket_id: int, message_id: str, direction: str, kind: str,
                    now: datetime, spool_id: int | None = None, outbox_id: int | None = None,
                    from_addr: str | None = None, from_name: str | None = None,
                    to_addrs: Sequence[str] = (), cc_addrs: Sequence[str] = (),
                    date: datetime | None = None, subject: str | None = None,
                    body_text: str | None = None, in_reply_to: str | None = None,
                    threaded_by: str | None = None, decisions: str | None = None) -> int:
        """Store one message of a ticket; raises DuplicateMessageError on a replay.

        ``threaded_by`` and ``decisions`` (JSON) say how the pipeline placed it."""
        self._settle()
        self._unstored.discard(message_id)
        row = self._insert(MESSAGE_INSERT, message_values(
            ticket_id=ticket_id, message_id=message_id, direction=direction, kind=kind,
            now=now, spool_id=spool_id, outbox_id=outbox_id, from_addr=from_addr,
            from_name=from_name, to_addrs=to_addrs, cc_addrs=cc_addrs, date=date,
            subject=subject, body_text=body_text, in_reply_to=in_reply_to,
            threaded_by=threaded_by, decisions=decisions))
        if row is None:
            raise DuplicateMessageError(message_id)
        return row

    def queue_outgoing(self, *, ticket_id: int, message_id: str, kind: str, mail_from: str,
                       rcpt_tos: Sequence[str], raw: bytes, now: datetime,
                       from_name: str | None, to_addrs: Sequence[str],
                       cc_addrs: Sequence[str], subject: str, body_text: str,
                       in_reply_to: str | None) -> int:
        """An outgoing mail of a ticket: its outbox row, and the message row that records it
        (``direction = 'out'``, naming the outbox row); the outbox id. As ``outbox_add``
        then ``add_message`` (PostgreSQL: one statement); raises DuplicateMessageError as
        ``add_message`` does."""
        self._settle()
        self._unstored.discard(message_id)
        outbox_id = self._insert(f"{OUTBOX_INSERT} RETURNING id", outbox_values(
            ticket_id, message_id, kind, mail_from, rcpt_tos, raw, now))
        assert outbox_id is not None
        self.add_message(ticket_id=ticket_id, message_id=message_id, direction="out",
                         kind=kind, now=now, outbox_id=outbox_id, from_addr=mail_from,
                         from_name=from_name, to_addrs=to_addrs, cc_addrs=cc_addrs,
                         date=now, subject=subject, body_text=body_text,
                         in_reply_to=in_reply_to)
        return outbox_id

    def add_attachment(self, *, message_row: int, filename: str, content_type: str,
                       data: bytes, sha256: str) -> None:
        """Keep an attachment content-addressed: equal files are stored once.

        The blob's lock is the one an erasure or a purge takes before it deletes a blob
        no attachment links to (``PrivacyQueries.drop_unlinked_blobs``)."""
        self._lock_key(f"blob:{sha256}")
        self._x("INSERT INTO blobs (sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (sha256, data))
        self._x("INSERT INTO attachments (message_row, filename, content_type, size, sha256)"
                " VALUES (?, ?, ?, ?, ?)", (message_row, filename, content_type, len(data),
                                            sha256))

    def add_participant(self, ticket_id: int, address: str, name: str | None, role: str,
                        now: datetime) -> bool:
        """Add an address to a ticket; False if it was already there."""
        return self._x(_PARTICIPANT_INSERT, (ticket_id, address.lower(), name, role,
                                             to_db(now))).rowcount == 1

    def ensure_participant(self, ticket_id: int, address: str, name: str | None, role: str,
                           now: datetime) -> None:
        """``add_participant`` for a caller that need not know whether the address was
        there already: nothing to wait for (on PostgreSQL it travels with the next
        statement, see ``PgStore._execute``)."""
        self._x(_PARTICIPANT_INSERT, (ticket_id, address.lower(), name, role, to_db(now)))

    def remove_participant(self, ticket_id: int, address: str) -> bool:
        cur = self._x("DELETE FROM participants WHERE ticket_id = ? AND address = ?"
                      " AND role != 'requester'", (ticket_id, address.lower()))
        return cur.rowcount == 1

    def participants(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT address, name, role FROM participants WHERE ticket_id = ?"
                      " ORDER BY added_at, address", (ticket_id,))
        return [{"address": a, "name": n, "role": r} for a, n, r in cur]

    def add_event(self, ticket_id: int, kind: str, *, actor: str, now: datetime,
                  detail: str = "", message_id: str | None = None,
                  from_status: str | None = None) -> None:
        """One line of the ticket's history (``from_status``: a status change's old one);
        within ``rows_together``, written with the others."""
        self._insert_later("INSERT INTO events (ticket_id, at, actor, kind, detail, message_id,"
                " from_status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket_id, to_db(now), actor, kind, detail, message_id, from_status))

    def thread_ids(self, ticket_id: int, limit: int = 20,
                   kinds: Sequence[str] | None = None) -> list[str]:
        """The ticket's first Message-ID (the thread's root) and its latest ones, oldest
        first, ``limit`` in all (for References, RFC 5322 3.6.4); only messages of
        ``kinds`` when given (mail to a customer names no engineer's or team's mail)."""
        where, args = "ticket_id = ?", [ticket_id, *(kinds or ())]
        if kinds:
            where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        rows = self._x(f"SELECT message_id FROM messages WHERE {where}"
                       " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        latest = [r[0] for r in reversed(rows)]
        if len(rows) < limit:
            return latest  # the whole ticket, root included
        root = self._x(f"SELECT message_id FROM messages WHERE {where} ORDER BY id"
                       " LIMIT 1", tuple(args)).fetchone()[0]
        return latest if latest[0] == root else [root, *latest[1:]]

    def latest_inbound(self, ticket_id: int, exclude: Sequence[str] = ()) -> str | None:
        """Message-ID of the ticket's newest incoming customer message."""
        for message_id, from_addr in self._x(
                "SELECT message_id, from_addr FROM messages WHERE ticket_id = ?"
                " AND direction = 'in' AND kind = 'customer' ORDER BY id DESC LIMIT 20",
                (ticket_id,)):
            if from_addr not in exclude:
                return str(message_id)
        return None

    def message_texts(self, ticket_id: int, limit: int = 50) -> list[str]:
        """The texts of the ticket's latest messages, both ways (what a reply may quote)."""
        return [str(r[0]) for r in self._x(
            "SELECT body_text FROM messages WHERE ticket_id = ? AND body_text IS NOT NULL"
            " ORDER BY id DESC LIMIT ?", (ticket_id, limit))]

    def sent_texts(self, ticket_id: int, limit: int = 20) -> list[str]:
        """The texts of the latest mail we sent the ticket's people (what a reply may paste
        back): acknowledgements, relays, resolved and merged notices, never the team's
        notifications (they carry the customer's own words)."""
        return [str(r[0]) for r in self._x(
            "SELECT body_text FROM messages WHERE ticket_id = ? AND direction = 'out'"
            " AND kind IN ('ack', 'relay', 'resolved', 'merged', 'waiting')"
            " AND body_text IS NOT NULL ORDER BY id DESC LIMIT ?", (ticket_id, limit))]

    def last_told(self, ticket_id: int, kind: str, address: str) -> str | None:
        """When our latest mail of ``kind`` on the ticket went to ``address`` (stored time),
        else None: an automatic notice is not sent to one address over and over."""
        address = address.lower()
        for created, to in self._x(
                "SELECT created_at, to_addrs FROM messages WHERE ticket_id = ?"
                " AND direction = 'out' AND kind = ? ORDER BY id DESC LIMIT 20",
                (ticket_id, kind)):
            if address in {a.lower() for a in json.loads(to or "[]")}:
                return str(created)
        return None

    def texts_from(self, ticket_id: int, address: str, exclude: str) -> list[str]:
        """The texts of the ticket's latest incoming mail from ``address``, but the message
        ``exclude`` (the one being handled)."""
        return [str(r[0]) for r in self._x(
            "SELECT body_text FROM messages WHERE ticket_id = ? AND direction = 'in'"
            " AND from_addr = ? AND message_id <> ? AND body_text IS NOT NULL"
            " ORDER BY id DESC LIMIT 20", (ticket_id, address.lower(), exclude))]

    def is_participant(self, ticket_id: int, address: str) -> bool:
        row = self._x("SELECT 1 FROM participants WHERE ticket_id = ? AND address = ?",
                      (ticket_id, address.lower())).fetchone()
        return row is not None

    def messages(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x(
            "SELECT id, message_id, direction, kind, from_addr, from_name, to_addrs, cc_addrs,"
            " date, subject, body_text, spool_id, outbox_id, created_at FROM messages"
            " WHERE ticket_id = ? ORDER BY id", (ticket_id,),
        )
        keys = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            item = dict(zip(keys, r, strict=True))
            item["to_addrs"] = json.loads(item["to_addrs"])
            item["cc_addrs"] = json.loads(item["cc_addrs"])
            out.append(item)
        return out

    def attachments(self, message_row: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT filename, content_type, size, sha256 FROM attachments"
                      " WHERE message_row = ? ORDER BY id", (message_row,))
        return [{"filename": f, "content_type": c, "size": s, "sha256": h} for f, c, s, h in cur]

    def ticket_attachments(self, ticket_id: int) -> list[dict[str, Any]]:
        """Every file of a ticket's messages, in order, numbered from 1 (the ``N`` of
        ``mailgate attachment REF N``), with the Message-ID of the mail it came in."""
        cur = self._x("SELECT a.filename, a.content_type, a.size, a.sha256, m.message_id"
                      " FROM attachments a JOIN messages m ON m.id = a.message_row"
                      " WHERE m.ticket_id = ? ORDER BY m.id, a.id", (ticket_id,))
        return [{"number": i, "filename": f, "content_type": c, "size": s, "sha256": h,
                 "message_id": m} for i, (f, c, s, h, m) in enumerate(cur.fetchall(), 1)]

    def blob(self, sha256: str) -> bytes | None:
        """The bytes of a stored attachment."""
        row = self._x("SELECT data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        cur = self._x("SELECT at, actor, kind, detail, message_id FROM events"
                      " WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m}
                for a, ac, k, d, m in cur]

    # -- for operators (mailgate.store.ops) -------------------------------------------

    def stored_message(self, message_id: str) -> dict[str, Any] | None:
        """The ticket message with this Message-ID, with its ticket's reference and status."""
        cur = self._x(
            "SELECT m.id, m.ticket_id, t.reference, t.status, t.subject, m.direction, m.kind,"
            " m.from_addr, m.subject, m.date, m.in_reply_to, m.spool_id, m.outbox_id,"
            " m.created_at, m.threaded_by, m.decisions"
            " FROM messages m JOIN tickets t ON t.id = m.ticket_id"
            " WHERE m.message_id = ?", (message_id,))
        row = cur.fetchone()
        if row is None:
            return None
        keys = ("row", "ticket_id", "reference", "ticket_status", "ticket_subject",
                "direction", "kind", "from", "subject", "date", "in_reply_to", "spool_id",
                "outbox_id", "stored_at", "threaded_by", "decisions")
        found = dict(zip(keys, row, strict=True))
        found["decisions"] = [{"step": step, "decided": what} for step, what
                              in json.loads(found["decisions"] or "[]")]
        return found

    def stored_message_ids(self, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` a ticket already holds (in chunks of 500)."""
        return self._message_ids_in("messages", message_ids)

    def first_inbound_raw(self, ticket_id: int) -> bytes | None:
        """Raw bytes of a ticket's first incoming message (for template previews)."""
        row = self._x("SELECT r.raw FROM messages m JOIN spool_raw r ON r.id = m.spool_id"
                      " WHERE m.ticket_id = ? AND m.direction = 'in' ORDER BY m.id LIMIT 1",
                      (ticket_id,)).fetchone()
        return bytes(row[0]) or None if row else None  # empty: purged or erased

    def events_of_messages(self, ticket_id: int,
                           message_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Events of a ticket that carry one of ``message_ids``, in order."""
        if not message_ids:
            return []
        marks = ",".join("?" * len(message_ids))
        cur = self._x(f"SELECT at, actor, kind, detail, message_id FROM events"
                      f" WHERE ticket_id = ? AND message_id IN ({marks}) ORDER BY id",
                      (ticket_id, *message_ids))
        return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m}
                for a, ac, k, d, m in cur.fetchall()]

    def last_event_id(self) -> int:
        """The largest event id now (0 for none): what a dry run writes lies above it."""
        return int(self._x("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def events_since(self, event_id: int) -> list[dict[str, Any]]:
        """Events above ``event_id`` of every ticket, with the ticket's reference."""
        cur = self._x("SELECT e.at, e.actor, e.kind, e.detail, e.message_id, t.reference"
                      " FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE e.id > ?"
                      " ORDER BY e.id", (event_id,))
        return [{"at": a, "actor": ac, "kind": k, "detail": d, "message_id": m, "ticket": ref}
                for a, ac, k, d, m, ref in cur.fetchall()]

    def count_events(self, ticket_id: int, kind: str) -> int:
        """How many events of ``kind`` one ticket has (e.g. its reply-token generation)."""
        return int(self._x("SELECT COUNT(*) FROM events WHERE ticket_id = ? AND kind = ?",
                           (ticket_id, kind)).fetchone()[0])

    def event_counts(self) -> dict[str, int]:
        """Events per kind, over all tickets (the metrics)."""
        return dict(self._x("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())

    def threaded_counts(self) -> dict[str, int]:
        """Replies threaded onto a ticket, per method (tag, in-reply-to, references)."""
        return dict(self._x("SELECT threaded_by, COUNT(*) FROM messages WHERE threaded_by IN"
                            " ('tag', 'in-reply-to', 'references', 'token')"
                            " GROUP BY threaded_by").fetchall())

    def reopen_count(self) -> int:
        """How often a closed ticket was opened again."""
        return int(self._x("SELECT COUNT(*) FROM events WHERE from_status = 'closed'"
                           " AND kind = 'status_changed'").fetchone()[0])
