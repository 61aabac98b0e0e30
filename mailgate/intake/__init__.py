"""Ways mail comes in: SMTP listener, IMAP fetcher, pipe.

Every channel hands raw bytes to one :class:`Acceptor`; nothing here parses
or threads mail. A channel confirms a message to its sender (SMTP 250, IMAP
flag/move, exit 0) only after ``accept`` has returned, which means the raw
bytes are durably committed to the spool.
"""

from __future__ import annotations

from typing import Protocol


class Acceptor(Protocol):
    """Durably stores one raw message in the spool and returns its spool id.

    Raises :class:`mailgate.errors.TransientError` when nothing was stored and
    the sender must retry later.
    """

    def accept(
        self,
        raw: bytes,
        *,
        channel: str,
        mail_from: str | None = None,
        rcpt_tos: list[str] | None = None,
        source: str | None = None,
    ) -> int: ...

    def outcome(self, spool_id: int, timeout: float) -> str:
        """Wait up to ``timeout`` seconds for the processor to finish ``spool_id``.

        Returns the spool row's state: ``"done"``, ``"duplicate"``,
        ``"quarantined"``, or ``"new"`` if it is still waiting (the message is
        safe either way; this only lets IMAP file a poison message into its
        error folder).
        """
        ...
