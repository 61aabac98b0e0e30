"""Privacy queries: a person's data found, read for an export, erased; old raw mail purged.

A person is an address (lower-case, as mailgate stores every address). Their tickets are
those they opened (``requester``) and those they took part in (a participant, a sender,
in To/Cc, or a recipient of our mail). ``erase_person_from_ticket`` and
``purge_ticket_raw`` each work on one ticket, locked first (the lock order of
:mod:`mailgate.store.base`), inside the caller's transaction: the service layer
(:mod:`mailgate.privacy`) runs one transaction per ticket, so SQLite's one write lock is
never held for long and a concurrent node's reply to that ticket waits for the commit.

What is erased is overwritten in place, not deleted, so the ticket keeps its skeleton:
raw bytes become empty, texts NULL, addresses ``ERASED_ADDRESS``, attachment rows lose
their name and their link to the blob (``sha256 = ''``), and a blob no attachment links
to any more is deleted. The blob check and ``add_attachment`` take the same lock per
blob, so a node storing an equal file at that moment cannot be left without its bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailgate.clock import to_db
from mailgate.errors import NotFoundError
from mailgate.store.base import StoreBase, chunked

#: what an erased address reads as (the ``.invalid`` top-level domain never resolves)
ERASED_ADDRESS = "erased@erased.invalid"
#: what an erased ticket subject or attachment name reads as
ERASED_TEXT = "[erased]"


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '\\'``: the wildcards in ``text`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_BEFORE = r"(?<![A-Za-z0-9._%+\-])"  # what may not stand before an address ...
_AFTER = r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"  # ... nor after it, for it to be this one


def mentions(text: str | None, address: str) -> bool:
    """``text`` names ``address`` as a whole address (any case)."""
    return bool(text) and re.search(_BEFORE + re.escape(address) + _AFTER, text or "",
                                    re.IGNORECASE) is not None


class Scrubber:
    """Replaces one address, and the display names it was seen with, in any case, in
    texts and raw bytes (names shorter than ``MIN_NAME`` are left: too many false hits)."""

    MIN_NAME = 4

    def __init__(self, address: str, names: Sequence[str] = ()) -> None:
        self.address = address.lower()
        # the whole address only: bob@example.nl is not inside jimbob@example.nl nor
        # bob@example.nl.example
        self._text = re.compile(_BEFORE + re.escape(self.address) + _AFTER, re.IGNORECASE)
        self._bytes = re.compile(_BEFORE.encode() + re.escape(self.address.encode())
                                 + _AFTER.encode(), re.IGNORECASE)
        kept = sorted({n.strip() for n in names if len(n.strip()) >= self.MIN_NAME},
                      key=len, reverse=True)
        self._names = re.compile("|".join(re.escape(n) for n in kept), re.IGNORECASE) \
            if kept else None
        self._name_bytes = re.compile(b"|".join(re.escape(n.encode()) for n in kept),
                                      re.IGNORECASE) if kept else None

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        value = self._text.sub(ERASED_ADDRESS, value)
        return self._names.sub(ERASED_TEXT, value) if self._names else value

    def raw(self, value: bytes) -> bytes:
        """The address replaced everywhere ("@" survives every transfer encoding as is);
        the names only in the header block, where encoded content cannot match them."""
        value = self._bytes.sub(ERASED_ADDRESS.encode(), value)
        if self._name_bytes is None:
            return value
        end = min((i for i in (value.find(b"\r\n\r\n"), value.find(b"\n\n")) if i >= 0),
                  default=len(value))
        return self._name_bytes.sub(ERASED_TEXT.encode(), value[:end]) + value[end:]

    def found_in(self, value: bytes) -> bool:
        return self._bytes.search(value) is not None

    def found_in_text(self, value: str | None) -> bool:
        return bool(value) and self._text.search(value or "") is not None

    def addresses(self, encoded: str) -> str:
        """A JSON list of addresses without this one."""
        return json.dumps([a for a in json.loads(encoded or "[]") if a != self.address])


@dataclass
class ErasedTicket:
    """What erasing a person from one ticket changed (counts, and the outbox files to fix)."""

    messages: int = 0
    raw: int = 0
    attachments: int = 0
    blobs: int = 0
    events: int = 0
    #: outbox ids whose bytes are now empty (their ``.eml`` in a folder goes)
    outbox_erased: list[int] = field(default_factory=list)
    #: outbox ids whose bytes had the address replaced (their ``.eml`` is rewritten)
    outbox_redacted: dict[int, bytes] = field(default_factory=dict)


class PrivacyQueries(StoreBase):
    """A person's rows across every table, and the raw bytes of old closed tickets."""

    def _locked_ticket(self, ticket_id: int) -> dict[str, Any]:
        """The columns erasure and purge decide on; the row stays locked (see base)."""
        cur = self._x(f"SELECT requester, subject, status, closed_at FROM tickets WHERE id = ?"
                      f"{self._locking()}", (ticket_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"no ticket with id {ticket_id}")
        return dict(zip(("requester", "subject", "status", "closed_at"), row, strict=True))

    # -- finding a person --------------------------------------------------------------

    def tickets_of_person(self, address: str,
                          only: int | None = None) -> list[tuple[int, str]]:
        """(ticket id, ``requester`` or ``participant``) of every ticket they appear on:
        requester, participant, sender, To/Cc, recipient of our mail, named by an event
        (or just ticket ``only``, if they do)."""
        address = address.lower()
        quoted = like_pattern(json.dumps(address))
        where, extra = ("", ()) if only is None else (" AND ticket_id = ?", (only,))
        found: dict[int, str] = {}
        for ticket_id, in self._x(f"SELECT id FROM tickets WHERE requester = ?"
                                  f"{where.replace('ticket_id', 'id')}", (address, *extra)):
            found[int(ticket_id)] = "requester"
        for sql, params in (
                ("SELECT ticket_id FROM participants WHERE address = ?", (address,)),
                ("SELECT ticket_id FROM messages WHERE (from_addr = ?"
                 " OR to_addrs LIKE ? ESCAPE '\\' OR cc_addrs LIKE ? ESCAPE '\\')",
                 (address, quoted, quoted)),
                ("SELECT ticket_id FROM outbox WHERE ticket_id IS NOT NULL"
                 " AND rcpt_tos LIKE ? ESCAPE '\\'", (quoted,)),
                ):
            for ticket_id, in self._x(sql + where, (*params, *extra)).fetchall():
                found.setdefault(int(ticket_id), "participant")
        # an event naming them (a held mail of theirs cited the ticket): LIKE finds the
        # candidates, the whole-address test decides (not "jimbob@x" for "bob@x")
        for ticket_id, actor, detail in self._x(
                "SELECT ticket_id, actor, detail FROM events WHERE (lower(actor) = ?"
                " OR lower(detail) LIKE ? ESCAPE '\\')" + where,
                (address, like_pattern(address), *extra)).fetchall():
            if (actor or "").lower() == address or mentions(detail, address):
                found.setdefault(int(ticket_id), "participant")
        return sorted(found.items())

    def names_of_person(self, address: str) -> list[str]:
        """The display names the address was seen with (to erase them with it)."""
        address = address.lower()
        names: set[str] = set()
        for sql in ("SELECT DISTINCT requester_name FROM tickets WHERE requester = ?",
                    "SELECT DISTINCT name FROM participants WHERE address = ?",
                    "SELECT DISTINCT from_name FROM messages WHERE from_addr = ?"):
            names.update(r[0] for r in self._x(sql, (address,)).fetchall() if r[0])
        return sorted(names)

    def loose_rows_of_person(self, address: str) -> dict[str, int]:
        """Rows of theirs on no ticket: quarantined mail (by envelope sender or content),
        outbox mail without a ticket, loop-cap counts, and mail still waiting in the spool."""
        scrub = Scrubber(address)
        return {
            "quarantined": len(self._quarantined_of(scrub)),
            "outbox_without_ticket": len(self._loose_outbox_of(scrub)),
            "auto_replies": int(self._x("SELECT COUNT(*) FROM auto_replies WHERE address = ?",
                                        (scrub.address,)).fetchone()[0]),
            "waiting": len(self.waiting_spool_of(address)),
        }

    def waiting_spool_of(self, address: str) -> list[int]:
        """Spool rows not processed yet (state ``new``) from or mentioning the address."""
        scrub = Scrubber(address)
        return [int(r[0]) for r in self._x(
            "SELECT s.id, s.mail_from, r.raw FROM spool s JOIN spool_raw r ON r.id = s.id"
            " WHERE s.state = 'new'").fetchall()
            if (r[1] or "").lower() == scrub.address or scrub.found_in(bytes(r[2]))]

    def _quarantined_of(self, scrub: Scrubber) -> list[dict[str, Any]]:
        """Quarantined spool rows from the address or whose bytes mention it, with raw."""
        out = []
        for row in self._x("SELECT s.id, s.received_at, s.reason, s.mail_from, r.raw"
                           " FROM spool s JOIN spool_raw r ON r.id = s.id"
                           " WHERE s.state = 'quarantined' ORDER BY s.id").fetchall():
            raw = bytes(row[4])
            if (row[3] or "").lower() == scrub.address or scrub.found_in(raw):
                out.append({"id": row[0], "received_at": row[1], "reason": row[2], "raw": raw})
        return out

    def _loose_outbox_of(self, scrub: Scrubber) -> list[int]:
        """Our mail on no ticket (the team's notice of a held mail) to them or naming them."""
        return [int(r[0]) for r in self._x(
            "SELECT id, rcpt_tos, raw FROM outbox WHERE ticket_id IS NULL").fetchall()
            if scrub.address in json.loads(r[1] or "[]") or scrub.found_in(bytes(r[2]))]

    def erasure_marks(self, mark: str) -> list[tuple[str, str]]:
        """(ticket reference, when) of earlier erasures recorded with ``mark``."""
        return [(r[0], r[1]) for r in self._x(
            "SELECT t.reference, e.at FROM events e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.kind = 'erased' AND e.detail LIKE ? ESCAPE '\\' ORDER BY e.id",
            (like_pattern(mark),)).fetchall()]

    # -- reading for an export -----------------------------------------------------------

    def outbox_of_ticket(self, ticket_id: int) -> list[dict[str, Any]]:
        """A ticket's outgoing mail: recipients, state, times (no bytes)."""
        cur = self._x("SELECT id, message_id, kind, rcpt_tos, state, created_at, sent_at"
                      " FROM outbox WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        keys = ("id", "message_id", "kind", "to", "state", "created_at", "sent_at")
        out = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
        for row in out:
            row["to"] = json.loads(row["to"])
        return out

    def quarantined_of_person(self, address: str) -> list[dict[str, Any]]:
        """Quarantined mail from the address or mentioning it, with its bytes."""
        return self._quarantined_of(Scrubber(address))

    # -- erasing ----------------------------------------------------------------------------

    def erase_person_from_ticket(self, ticket_id: int, address: str, *, now: datetime,
                                 actor: str, detail: str,
                                 names: Sequence[str] = ()) -> ErasedTicket | None:
        """Erase the person from one ticket (inside the caller's transaction), with an
        ``erased`` event; None when the ticket no longer mentions them (done before).

        On a ticket they opened everything personal goes (every message's text and bytes:
        the conversation is about them and quotes them), and the ticket keeps its number,
        statuses, dates, SLA clocks and figures, queue, level and assignee. On a ticket of
        someone else, their own messages and the mail sent only to them go whole, and
        their address is replaced in everything else."""
        ticket = self._locked_ticket(ticket_id)  # locked first: the lock order
        scrub = Scrubber(address, names)
        if not self.tickets_of_person(scrub.address, only=ticket_id):
            return None
        whole = ticket["requester"] == scrub.address
        done = ErasedTicket()
        own_ids, own_outbox = self._erase_messages(ticket_id, scrub, whole, done)
        self._erase_spool(ticket_id, scrub, whole, own_ids, done)
        self._erase_outbox(ticket_id, scrub, whole, own_outbox, done)
        self._erase_events(ticket_id, scrub, whole, done)
        self._x("DELETE FROM participants WHERE ticket_id = ? AND address = ?",
                (ticket_id, scrub.address))
        if whole:
            self._x("UPDATE tickets SET subject = ?, requester = ?, requester_name = NULL,"
                    " fields = '{}', correlation_key = NULL WHERE id = ?",
                    (ERASED_TEXT, ERASED_ADDRESS, ticket_id))
        else:
            self._x("UPDATE tickets SET subject = ? WHERE id = ?",
                    (scrub.text(ticket["subject"]), ticket_id))
        self._x("INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
                (ticket_id, to_db(now), actor, "erased", detail))
        return done

    def _erase_messages(self, ticket_id: int, scrub: Scrubber, whole: bool,
                        done: ErasedTicket) -> tuple[set[str], set[int]]:
        """Messages: theirs (or all, ``whole``) emptied, the rest scrubbed. Theirs: what
        they wrote, what was sent to them alone, and the team's notice of their mail (it
        carries their text and files). Their Message-IDs and outbox ids."""
        own: set[str] = set()
        own_outbox: set[int] = set()
        rows = self._x("SELECT id, message_id, from_addr, from_name, to_addrs, cc_addrs,"
                       " subject, body_text, decisions, kind, in_reply_to, outbox_id"
                       " FROM messages WHERE ticket_id = ? ORDER BY id", (ticket_id,)).fetchall()
        for (row_id, mid, sender, name, to, cc, subject, body, decisions, kind, answers,
             outbox_id) in rows:
            recipients = json.loads(to or "[]") + json.loads(cc or "[]")
            theirs = sender == scrub.address or (bool(recipients) and set(recipients)
                                                 <= {scrub.address}) \
                or (kind == "notification" and answers in own)
            new_mid = mid if scrub.address not in mid.lower() else \
                f"<erased.{row_id}@erased.invalid>"
            if whole or theirs:
                own.update((mid, new_mid))
                if outbox_id is not None:
                    own_outbox.add(int(outbox_id))
                self._x("UPDATE messages SET from_addr = ?, from_name = ?, to_addrs = ?,"
                        " cc_addrs = ?, subject = NULL, body_text = NULL, decisions = NULL"
                        " WHERE id = ?",
                        (ERASED_ADDRESS if sender == scrub.address else sender,
                         None if sender == scrub.address else name,
                         scrub.addresses(to), scrub.addresses(cc), row_id))
                self._erase_attachments(row_id, done)
            else:
                self._x("UPDATE messages SET to_addrs = ?, cc_addrs = ?, subject = ?,"
                        " body_text = ?, decisions = ? WHERE id = ?",
                        (scrub.addresses(to), scrub.addresses(cc), scrub.text(subject),
                         scrub.text(body), scrub.text(decisions), row_id))
            if new_mid != mid:
                self._rename_message_id(mid, new_mid)
            done.messages += 1
        return own, own_outbox

    def _rename_message_id(self, old: str, new: str) -> None:
        """A Message-ID that holds the address itself is replaced wherever it is kept."""
        for table, column in (("messages", "message_id"), ("messages", "in_reply_to"),
                              ("spool", "message_id"), ("events", "message_id"),
                              ("ratings", "message_id")):
            self._x(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))

    def _erase_attachments(self, message_row: int, done: ErasedTicket) -> None:
        shas = [r[0] for r in self._x("SELECT sha256 FROM attachments WHERE message_row = ?"
                                      " AND sha256 != ''", (message_row,)).fetchall()]
        self._x("UPDATE attachments SET filename = ?, sha256 = '' WHERE message_row = ?",
                (ERASED_TEXT, message_row))
        done.attachments += len(shas)
        done.blobs += self.drop_unlinked_blobs(shas)

    def drop_unlinked_blobs(self, shas: Sequence[str]) -> int:
        """Delete the blobs among ``shas`` that no attachment links to any more (each under
        the lock ``add_attachment`` takes, so an equal file being stored keeps its bytes)."""
        dropped = 0
        for sha in sorted(set(shas)):
            self._lock_key(f"blob:{sha}")
            dropped += self._x("DELETE FROM blobs WHERE sha256 = ? AND NOT EXISTS"
                               " (SELECT 1 FROM attachments WHERE sha256 = ?)",
                               (sha, sha)).rowcount
        return dropped

    def _erase_spool(self, ticket_id: int, scrub: Scrubber, whole: bool, own: set[str],
                     done: ErasedTicket) -> None:
        """The raw mail of the ticket's messages (and of their duplicate deliveries)."""
        rows = []
        for chunk in chunked(self._spool_ids(ticket_id)):
            rows += self._x(f"SELECT s.id, s.mail_from, s.message_id, r.raw FROM spool s"
                            f" JOIN spool_raw r ON r.id = s.id WHERE s.id IN"
                            f" ({','.join('?' * len(chunk))}) AND s.state != 'new'",
                            chunk).fetchall()
        for spool_id, mail_from, mid, raw in rows:
            raw = bytes(raw)
            if whole or mid in own or (mail_from or "").lower() == scrub.address:
                self._x("UPDATE spool SET mail_from = NULL, reason = 'erased' WHERE id = ?",
                        (spool_id,))
                self._x("UPDATE spool_raw SET raw = ? WHERE id = ?", (b"", spool_id))
                done.raw += bool(raw)
            elif scrub.found_in(raw):
                self._x("UPDATE spool_raw SET raw = ? WHERE id = ?",
                        (scrub.raw(raw), spool_id))

    def _spool_ids(self, ticket_id: int) -> list[int]:
        """The spool rows of a ticket's messages and of their duplicate deliveries (same
        Message-ID), by the two indexed paths (``spool.ticket_id`` has no index)."""
        ids = [int(r[0]) for r in self._x(
            "SELECT spool_id FROM messages WHERE ticket_id = ? AND spool_id IS NOT NULL",
            (ticket_id,)).fetchall()]
        ids += [int(r[0]) for r in self._x(
            "SELECT s.id FROM spool s JOIN messages m ON s.message_id = m.message_id"
            " WHERE m.ticket_id = ? AND m.direction = 'in'", (ticket_id,)).fetchall()]
        return sorted(set(ids))

    def _erase_outbox(self, ticket_id: int, scrub: Scrubber, whole: bool, own: set[int],
                      done: ErasedTicket) -> None:
        """Our mail of the ticket: to them only, or of their messages (``own``), or all
        (``whole``) emptied; mail to them and others loses their address (pending mail
        still goes to the others)."""
        rows = self._x("SELECT id, rcpt_tos, raw, state, last_error FROM outbox"
                       " WHERE ticket_id = ?", (ticket_id,)).fetchall()
        for outbox_id, rcpt, raw, state, error in rows:
            raw = bytes(raw)
            others = json.loads(scrub.addresses(rcpt))
            if whole or outbox_id in own or not others:
                self._x("UPDATE outbox SET raw = ?, rcpt_tos = ?, last_error = ?,"
                        " state = CASE WHEN state = 'pending' THEN 'cancelled' ELSE state END,"
                        " claimed_by = CASE WHEN state = 'pending' THEN NULL ELSE claimed_by END"
                        " WHERE id = ?",
                        (b"", json.dumps(others), "erased" if state == "pending"
                         else scrub.text(error), outbox_id))
                done.outbox_erased.append(int(outbox_id))
                done.raw += bool(raw)
            elif scrub.found_in(raw) or len(others) != len(json.loads(rcpt)):
                redacted = scrub.raw(raw)
                self._x("UPDATE outbox SET raw = ?, rcpt_tos = ?, last_error = ? WHERE id = ?",
                        (redacted, json.dumps(others), scrub.text(error), outbox_id))
                done.outbox_redacted[int(outbox_id)] = redacted

    def _erase_events(self, ticket_id: int, scrub: Scrubber, whole: bool,
                      done: ErasedTicket) -> None:
        """Event texts: on their own ticket only the SLA events keep theirs; the address
        is replaced in what stays, as the actor too."""
        if whole:
            done.events += self._x("UPDATE events SET detail = '' WHERE ticket_id = ?"
                                   " AND kind NOT LIKE 'sla\\_%' ESCAPE '\\' AND detail != ''",
                                   (ticket_id,)).rowcount
        rows = self._x("SELECT id, actor, detail FROM events WHERE ticket_id = ? AND"
                       " (lower(actor) = ? OR lower(detail) LIKE ? ESCAPE '\\')",
                       (ticket_id, scrub.address, like_pattern(scrub.address))).fetchall()
        for event_id, actor, detail in rows:
            self._x("UPDATE events SET actor = ?, detail = ? WHERE id = ?",
                    (scrub.text(actor), scrub.text(detail), event_id))
            done.events += 1

    def erase_loose_rows(self, address: str) -> dict[str, Any]:
        """Erase their rows on no ticket (inside the caller's transaction): quarantined mail
        is deleted, outbox mail without a ticket emptied, loop-cap counts deleted."""
        scrub = Scrubber(address)
        quarantined = [q["id"] for q in self._quarantined_of(scrub)]
        for spool_id in quarantined:
            self._x("DELETE FROM spool_raw WHERE id = ?", (spool_id,))
            self._x("DELETE FROM spool WHERE id = ? AND state = 'quarantined'", (spool_id,))
        outbox = self._loose_outbox_of(scrub)
        for outbox_id in outbox:
            self._x("UPDATE outbox SET raw = ?, rcpt_tos = '[]', last_error = NULL,"
                    " state = CASE WHEN state = 'pending' THEN 'cancelled' ELSE state END"
                    " WHERE id = ?", (b"", outbox_id))
        self._settle()
        self._auto_sent.clear()  # (read ahead: see note_auto_replies)
        counts = self._x("DELETE FROM auto_replies WHERE address = ?", (scrub.address,))
        return {"quarantined": len(quarantined), "outbox_erased": outbox,
                "auto_replies": counts.rowcount}

    # -- retention ([store] keep_raw_for) ------------------------------------------------

    def tickets_with_raw_closed_before(self, cutoff: datetime, after: int,
                                       span: int) -> list[int]:
        """Tickets with an id in (``after``, ``after + span``], closed before ``cutoff``,
        that still hold raw bytes or attachments: one step of a scan by id, so each query
        reads at most ``span`` tickets through the primary key, however many match."""
        return [int(r[0]) for r in self._x(
            "SELECT t.id FROM tickets t WHERE t.id > ? AND t.id <= ? AND t.status = 'closed'"
            " AND t.closed_at < ? AND ("
            " EXISTS (SELECT 1 FROM messages m JOIN spool_raw r ON r.id = m.spool_id"
            "   WHERE m.ticket_id = t.id AND length(r.raw) > 0)"
            " OR EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id"
            "   AND o.state != 'pending' AND length(o.raw) > 0)"
            " OR EXISTS (SELECT 1 FROM attachments a JOIN messages m ON m.id = a.message_row"
            "   WHERE m.ticket_id = t.id AND a.sha256 != ''))"
            " ORDER BY t.id", (after, after + span, to_db(cutoff))).fetchall()]

    def last_ticket_id(self) -> int:
        """The largest ticket id (0 for none): where a scan by id ends."""
        return int(self._x("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0])

    def purge_ticket_raw(self, ticket_id: int, cutoff: datetime) -> dict[str, int] | None:
        """Empty the raw bytes (spool and sent outbox mail) and unlink the attachments of
        one ticket, if it is still closed since before ``cutoff`` (it is locked first, so a
        reply reopening it meanwhile wins); inside the caller's transaction. Texts,
        addresses and attachment names stay. None when there was nothing to purge."""
        ticket = self._locked_ticket(ticket_id)
        if ticket["status"] != "closed" or not ticket["closed_at"] \
                or ticket["closed_at"] >= to_db(cutoff):
            return None
        spool = 0
        for chunk in chunked(self._spool_ids(ticket_id)):
            spool += self._x(f"UPDATE spool_raw SET raw = ? WHERE id IN"
                             f" ({','.join('?' * len(chunk))}) AND length(raw) > 0"
                             f" AND EXISTS (SELECT 1 FROM spool s WHERE s.id = spool_raw.id"
                             f" AND s.state != 'new')", (b"", *chunk)).rowcount
        outbox = self._x("UPDATE outbox SET raw = ? WHERE ticket_id = ? AND state != 'pending'"
                         " AND length(raw) > 0", (b"", ticket_id)).rowcount
        shas = [r[0] for r in self._x(
            "SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_row"
            " WHERE m.ticket_id = ? AND a.sha256 != ''", (ticket_id,)).fetchall()]
        self._x("UPDATE attachments SET sha256 = '' WHERE message_row IN"
                " (SELECT id FROM messages WHERE ticket_id = ?)", (ticket_id,))
        if not (spool or outbox or shas):
            return None
        return {"raw": spool + outbox, "attachments": len(shas),
                "blobs": self.drop_unlinked_blobs(shas)}
