"""Outbox queries: mail queued to send, its claims and retries, and the loop cap's ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.errors import NotFoundError
from mailgate.store.base import StoreBase, chunked
from mailgate.store.rows import OutboxItem

OUTBOX_INSERT = ("INSERT INTO outbox (ticket_id, message_id, kind, mail_from, rcpt_tos, raw,"
                 " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def outbox_values(ticket_id: int | None, message_id: str, kind: str, mail_from: str,
                  rcpt_tos: Sequence[str], raw: bytes, now: datetime) -> tuple[Any, ...]:
    """The parameters of ``OUTBOX_INSERT``."""
    return (ticket_id, message_id, kind, mail_from, json.dumps(list(rcpt_tos)), raw,
            to_db(now), to_db(now))


class OutboxQueries(StoreBase):
    """``outbox`` (sent in order per ticket and recipients, claimed with a lease) and
    ``auto_replies``."""

    def outbox_add(self, *, ticket_id: int | None, message_id: str, kind: str, mail_from: str,
                   rcpt_tos: Sequence[str], raw: bytes, now: datetime) -> int:
        outbox_id = self._insert(f"{OUTBOX_INSERT} RETURNING id", outbox_values(
            ticket_id, message_id, kind, mail_from, rcpt_tos, raw, now))
        assert outbox_id is not None
        return outbox_id

    def outbox_claim(self, node: str, now: datetime, lease_until: datetime, limit: int,
                     ) -> list[OutboxItem]:
        """Claim due mail, oldest first, never overtaking an earlier mail of the same ticket
        to the same recipients (the thread as each reader sees it); mail of the ticket to
        other recipients (the team's notices, a customer's deferred ack) is not held up."""
        with self.transaction():
            ids = [r[0] for r in self._x(
                "SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
                " AND (o.lease_until IS NULL OR o.lease_until < ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.ticket_id = o.ticket_id"
                "   AND p.rcpt_tos = o.rcpt_tos AND p.id < o.id AND p.state = 'pending')"
                f" ORDER BY o.id LIMIT ?{self.SKIP_LOCKED}",
                (to_db(now), to_db(now), limit),
            )]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._x(f"UPDATE outbox SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
                    f" WHERE id IN ({marks})", (node, to_db(lease_until), *ids))
            rows = self._x(
                f"SELECT id, ticket_id, message_id, kind, mail_from, rcpt_tos, attempts,"
                f" created_at FROM outbox WHERE id IN ({marks}) ORDER BY id", ids,
            ).fetchall()
        return [OutboxItem(id=r[0], ticket_id=r[1], message_id=r[2], kind=r[3], mail_from=r[4],
                           rcpt_tos=json.loads(r[5]), attempts=r[6], created_at=from_db(r[7]))
                for r in rows]

    def outbox_release(self, node: str) -> None:
        """Give back this node's unsent claims (clean shutdown)."""
        with self.transaction():
            self._x("UPDATE outbox SET claimed_by = NULL, lease_until = NULL,"
                    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                    " WHERE claimed_by = ? AND state = 'pending'",
                    (node,))

    def outbox_raw(self, outbox_id: int) -> bytes:
        row = self._x("SELECT raw FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no outbox row {outbox_id}")
        return bytes(row[0])

    def outbox_raws(self, outbox_ids: Sequence[int]) -> dict[int, bytes]:
        """The bytes of several outbox rows at once (a claimed batch)."""
        if not outbox_ids:
            return {}
        marks = ",".join("?" * len(outbox_ids))
        rows = self._x(f"SELECT id, raw FROM outbox WHERE id IN ({marks})", tuple(outbox_ids))
        return {int(r[0]): bytes(r[1]) for r in rows.fetchall()}

    def outbox_replace_raw(self, outbox_id: int, raw: bytes) -> None:
        """Replace a mail's bytes (sent without its files); an erased row stays erased."""
        self._x("UPDATE outbox SET raw = ? WHERE id = ? AND length(raw) > 0", (raw, outbox_id))

    def outbox_hold(self, outbox_id: int, node: str, lease_until: datetime) -> bool:
        """Renew ``node``'s claim of a row still to send; False when it no longer holds it
        (its lease ran out and another node took the row, or the row was done meanwhile)."""
        with self.transaction():
            return self._x("UPDATE outbox SET lease_until = ? WHERE id = ? AND claimed_by = ?"
                           " AND state = 'pending'", (to_db(lease_until), outbox_id, node)
                           ).rowcount == 1

    def outbox_done(self, outbox_id: int, *, state: str, now: datetime,
                    error: str | None = None, next_attempt_at: datetime | None = None,
                    rcpt_tos: Sequence[str] | None = None, node: str | None = None) -> bool:
        """Record a send attempt: ``sent``, ``failed`` (for good) or ``pending`` (retry later;
        with ``rcpt_tos``, for those recipients only: the others took it). With ``node``,
        only while that node holds the claim; whether the row was recorded."""
        held = " AND claimed_by = ?" if node is not None else ""
        with self.transaction():
            return self._x(
                "UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error),"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
                " next_attempt_at = COALESCE(?, next_attempt_at),"
                " rcpt_tos = COALESCE(?, rcpt_tos),"
                f" claimed_by = NULL, lease_until = NULL WHERE id = ?{held}",
                (state, error, state, to_db(now), to_db(next_attempt_at),
                 None if rcpt_tos is None else json.dumps(list(rcpt_tos)), outbox_id,
                 *([node] if node is not None else [])),
            ).rowcount == 1

    def outbox(self, states: Sequence[str] = ("pending", "failed")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        cur = self._x(
            f"SELECT o.id, t.reference, o.kind, o.rcpt_tos, o.state, o.attempts,"
            f" o.next_attempt_at, o.last_error, o.created_at, o.sent_at FROM outbox o"
            f" LEFT JOIN tickets t ON t.id = o.ticket_id WHERE o.state IN ({marks})"
            f" ORDER BY o.id", list(states),
        )
        keys = ("id", "ticket", "kind", "to", "state", "attempts", "next_attempt_at",
                "last_error", "created_at", "sent_at")
        out = [dict(zip(keys, r, strict=True)) for r in cur]
        for row in out:
            row["to"] = json.loads(row["to"])
        return out

    def outbox_retry(self, outbox_id: int | None, now: datetime) -> int:
        """Make failed or pending mail (one row, or all when ``outbox_id`` is None) due now:
        after fixing the smarthost an operator wants what waits in backoff sent at once,
        not at its next attempt (up to ``retry_max`` later). ``--all`` leaves a row a
        worker is sending right now (its lease runs) alone, so it is not sent twice."""
        with self.transaction():
            where, params = (
                "(state = 'failed' OR (state = 'pending'"
                " AND (lease_until IS NULL OR lease_until < ?)))", [to_db(now)],
            ) if outbox_id is None else (
                "state IN ('failed', 'pending') AND id = ?", [outbox_id])
            cur = self._x(f"UPDATE outbox SET state = 'pending', next_attempt_at = ?,"
                          f" claimed_by = NULL, lease_until = NULL WHERE {where}",
                          [to_db(now), *params])
            return cur.rowcount

    def outbox_dismiss(self, outbox_id: int | None, reason: str) -> int:
        """Give up on failed mail (one row, or all when ``outbox_id`` is None): state
        ``cancelled`` with ``reason``, so it no longer counts as failed."""
        with self.transaction():
            where, params = ("state = 'failed'", []) if outbox_id is None else (
                "state = 'failed' AND id = ?", [outbox_id])
            cur = self._x(f"UPDATE outbox SET state = 'cancelled', last_error = ?,"
                          f" claimed_by = NULL, lease_until = NULL WHERE {where}",
                          [reason, *params])
            return cur.rowcount

    def note_auto_replies(self, addresses: Sequence[str], since: datetime) -> None:
        """Inside a transaction: read once what automatic mail was queued to ``addresses``
        since ``since``, so that ``count_auto_replies`` answers for them (for a ``since``
        not before this one) without a statement of its own until the transaction ends
        (the processor's group: one statement, not one a mail). What this store records
        is added to it; a prune, an erasure and a rollback to a savepoint forget it."""
        if not self._depth:
            return
        wanted = sorted({a.lower() for a in addresses if a})
        if not wanted:
            return
        bound = to_db(since) or ""
        self._auto_sent.clear()
        self._auto_since = bound

        for chunk in chunked(wanted):
            def sent(rows: list[Any], chunk: list[str] = chunk) -> None:
                self._auto_sent.update((a, []) for a in chunk)
                for address, at in rows:
                    self._auto_sent[address].append(at)

            self._answer_later(f"SELECT address, sent_at FROM auto_replies WHERE address IN"
                               f" ({','.join('?' * len(chunk))}) AND sent_at >= ?",
                               (*chunk, bound), sent)

    def record_auto_replies(self, addresses: Sequence[str], now: datetime) -> None:
        """Note automatic mail queued to ``addresses`` (what the loop cap counts)."""
        self._settle()
        for address in addresses:
            known = self._auto_sent.get(address.lower())
            if known is not None:
                known.append(to_db(now) or "")
        self._many("INSERT INTO auto_replies (address, sent_at) VALUES (?, ?)",
                   [(a.lower(), to_db(now)) for a in addresses])

    def count_auto_replies(self, address: str, since: datetime) -> int:
        """Automatic mail queued to ``address`` since ``since`` (an index range, no scan)."""
        self._settle()
        known = self._auto_sent.get(address.lower())
        bound = to_db(since) or ""
        if known is not None and bound >= self._auto_since:
            return len([at for at in known if at >= bound])
        row = self._x("SELECT COUNT(*) FROM auto_replies WHERE address = ? AND sent_at >= ?",
                      (address.lower(), to_db(since))).fetchone()
        return int(row[0])

    def prune_auto_replies(self, before: datetime) -> int:
        """Forget automatic mail older than the cap's window."""
        self._settle()
        self._auto_sent.clear()
        return self._x("DELETE FROM auto_replies WHERE sent_at < ?", (to_db(before),)).rowcount

    # -- for operators (mailgate.store.ops) -------------------------------------------

    def answers_to(self, message_id: str) -> list[dict[str, Any]]:
        """Our outgoing mail written in answer to ``message_id`` (acks, relayed replies)."""
        cur = self._x(
            "SELECT o.id, o.message_id, o.kind, o.rcpt_tos, o.state, o.attempts, o.last_error,"
            " o.created_at, o.sent_at, o.next_attempt_at, m.subject FROM outbox o"
            " JOIN messages m ON m.outbox_id = o.id WHERE m.in_reply_to = ? ORDER BY o.id",
            (message_id,))
        keys = ("id", "message_id", "kind", "to", "state", "attempts", "last_error",
                "created_at", "sent_at", "next_attempt_at", "subject")
        out = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
        for row in out:
            row["to"] = json.loads(row["to"])
        return out

    def last_outbox_id(self) -> int:
        """The largest outbox id now (0 for none): what a dry run queues lies above it."""
        return int(self._x("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0])

    def outbox_since(self, outbox_id: int) -> list[dict[str, Any]]:
        """Outbox rows above ``outbox_id``, with their bytes and their ticket's reference."""
        cur = self._x("SELECT o.id, o.message_id, o.kind, o.mail_from, o.rcpt_tos, o.raw,"
                      " t.reference FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id"
                      " WHERE o.id > ? ORDER BY o.id", (outbox_id,))
        keys = ("id", "message_id", "kind", "mail_from", "to", "raw", "ticket")
        out = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
        for row in out:
            row["to"] = json.loads(row["to"])
            row["raw"] = bytes(row["raw"])
        return out

    def outbox_cancel(self, outbox_ids: Sequence[int], reason: str) -> int:
        """Cancel pending mail for good (state ``cancelled``), inside the caller's transaction;
        the rows cancelled."""
        if not outbox_ids:
            return 0
        marks = ",".join("?" * len(outbox_ids))
        cur = self._x(f"UPDATE outbox SET state = 'cancelled', last_error = ?, claimed_by = NULL,"
                      f" lease_until = NULL WHERE state = 'pending' AND id IN ({marks})",
                      (reason, *outbox_ids))
        return cur.rowcount

    def outbox_counts_by_kind(self) -> list[tuple[str, str, int]]:
        """(kind, state, rows) for every pair present (the metrics)."""
        return [tuple(r) for r in self._x("SELECT kind, state, COUNT(*) FROM outbox"
                                          " GROUP BY kind, state").fetchall()]

    def outbox_backlog(self) -> dict[str, int]:
        """Rows ``pending`` and ``failed`` (an index range: cheap enough for /healthz)."""
        return dict(self._x("SELECT state, COUNT(*) FROM outbox"
                            " WHERE state IN ('pending', 'failed') GROUP BY state").fetchall())

    def outbox_last_error(self) -> str | None:
        """Why mail still waits: the error of the pending row deferred last (the index on
        state and next attempt: cheap enough for /healthz); None when none failed."""
        row = self._x("SELECT last_error FROM outbox WHERE state = 'pending'"
                      " AND last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1"
                      ).fetchone()
        return row[0] if row else None

    def oldest_pending_outbox(self) -> datetime | None:
        """When the oldest mail still waiting to be sent was queued."""
        value = self._x("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'"
                        ).fetchone()[0]
        return from_db(value) if value else None
