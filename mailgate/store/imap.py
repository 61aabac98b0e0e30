"""IMAP queries: the per-folder read cursors and the per-account leases between nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailgate.clock import from_db, to_db
from mailgate.store.base import StoreBase


class ImapQueries(StoreBase):
    """``imap_cursors`` (where a folder was read up to) and ``imap_leases`` (who reads)."""

    def imap_cursor(self, account: str, folder: str) -> tuple[int | None, int]:
        row = self._x("SELECT uidvalidity, last_uid FROM imap_cursors"
                      " WHERE account = ? AND folder = ?", (account, folder)).fetchone()
        return (row[0], row[1]) if row else (None, 0)

    def set_imap_cursor(self, account: str, folder: str, uidvalidity: int, last_uid: int,
                        now: datetime) -> None:
        with self.transaction():
            self._x(
                "INSERT INTO imap_cursors (account, folder, uidvalidity, last_uid, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET"
                " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
                " updated_at = excluded.updated_at",
                (account, folder, uidvalidity, last_uid, to_db(now)),
            )

    def forget_imap_cursor(self, account: str, folder: str) -> None:
        """Make the next round rescan the folder (dedupe keeps it idempotent)."""
        with self.transaction():
            self._x("DELETE FROM imap_cursors WHERE account = ? AND folder = ?",
                    (account, folder))

    def imap_lease_take(self, account: str, node: str, now: datetime,
                        lease_until: datetime) -> str | None:
        """Take the lease on reading ``account``, or renew it, until ``lease_until``.

        Taken when it is free (never held, or given back), expired, or ``node``'s already;
        one statement, so two nodes asking at once cannot both get it. Returns the holder
        afterwards: ``node`` when taken or renewed, else the node that holds it.
        """
        with self.transaction():
            taken = self._x(
                "INSERT INTO imap_leases (account, claimed_by, lease_until, acquired_at,"
                " renewed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
                " claimed_by = excluded.claimed_by, lease_until = excluded.lease_until,"
                " acquired_at = CASE WHEN imap_leases.claimed_by = excluded.claimed_by"
                " THEN imap_leases.acquired_at ELSE excluded.acquired_at END,"
                " renewed_at = excluded.renewed_at"
                " WHERE imap_leases.claimed_by IS NULL OR imap_leases.claimed_by = ?"
                " OR imap_leases.lease_until IS NULL OR imap_leases.lease_until < ?"
                " RETURNING claimed_by",
                (account, node, to_db(lease_until), to_db(now), to_db(now), node, to_db(now)),
            ).fetchall()  # fetch all: SQLite finishes the statement
            if taken:
                return node
            row = self._x("SELECT claimed_by FROM imap_leases WHERE account = ?",
                          (account,)).fetchone()
        return row[0] if row else None

    def imap_lease_release(self, account: str, node: str) -> bool:
        """Give the lease on ``account`` back if ``node`` holds it (clean stop); True if so."""
        with self.transaction():
            cur = self._x("UPDATE imap_leases SET claimed_by = NULL, lease_until = NULL"
                          " WHERE account = ? AND claimed_by = ?", (account, node))
            return cur.rowcount == 1

    def imap_leases(self) -> list[dict[str, Any]]:
        """Every account's lease: holder (None when free), until, held since, last renewal."""
        cur = self._x("SELECT account, claimed_by, lease_until, acquired_at, renewed_at"
                      " FROM imap_leases ORDER BY account")
        return [{"account": a, "holder": h, "lease_until": from_db(u),
                 "acquired_at": from_db(s), "renewed_at": from_db(r)}
                for a, h, u, s, r in cur.fetchall()]
