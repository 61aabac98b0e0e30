"""Claims across tables: who holds leases, and freeing those of nodes known to be dead."""

from __future__ import annotations

from collections.abc import Sequence

from mailgate.store.base import StoreBase


class ClaimQueries(StoreBase):
    """Every table whose rows are claimed with ``claimed_by`` / ``lease_until``."""

    _CLAIMED = ("spool", "outbox", "reminders", "imap_leases")

    def claimants(self) -> set[str]:
        """Every node name that holds a claim right now."""
        found: set[str] = set()
        for table in self._CLAIMED:
            found.update(r[0] for r in self._x(
                f"SELECT DISTINCT claimed_by FROM {table} WHERE claimed_by IS NOT NULL"))
        return found

    def release_claims(self, nodes: Sequence[str]) -> int:
        """Free the claims of nodes known to be dead (their attempts still count)."""
        if not nodes:
            return 0
        marks = ",".join("?" * len(nodes))
        released = 0
        with self.transaction():
            for table in self._CLAIMED:
                cur = self._x(f"UPDATE {table} SET claimed_by = NULL, lease_until = NULL"
                              f" WHERE claimed_by IN ({marks})", list(nodes))
                released += cur.rowcount
        return released
