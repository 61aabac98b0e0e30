"""The SMTP listener an MTA relays to (aiosmtpd).

The handler does no parsing and no database work on the event loop: RCPT
checks the recipient against the configured addresses (``550`` otherwise: no
open relay), and DATA hands the exact bytes to the spooler and answers ``250``
only once they are committed. Any failure on the way is a ``451`` so the
sending MTA retries. aiosmtpd enforces the size limit (``552``) and advertises
SIZE, 8BITMIME and SMTPUTF8.

aiosmtpd is used as it ships: no subclass of its protocol, no private method
overridden (an earlier ``dir()`` and ``_getaddr`` shortcut saved about 3 % of a
mail's CPU each, below the 5 % that would justify depending on its internals).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate.config import Config
from mailgate.errors import TransientError
from mailgate.spooler import Spooler

log = structlog.get_logger("mailgate.smtp")

ERR_451 = "451 4.3.0 Temporary failure storing the message, please retry"
ERR_550 = "550 5.1.1 Recipient not accepted: this gateway does not relay"
ERR_421 = "421 4.3.2 Service shutting down, please retry"


class Handler:
    """aiosmtpd handler: recipient policy at RCPT, durable spool at DATA."""

    def __init__(self, config: Config, spooler: Spooler) -> None:
        self.config = config
        self.spooler = spooler
        self.accepting = True
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not self.accepting:
            return ERR_421
        if not self.config.accepts(address):
            log.info("recipient_refused", rcpt=address, peer=str(session.peer))
            return ERR_550
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.accepting:
            return ERR_421
        raw = envelope.original_content
        if not isinstance(raw, bytes):  # decode_data is False, so this is a bug guard
            raw = str(raw or "").encode("utf-8", "surrogateescape")
        self.in_flight += 1
        self.idle.clear()
        try:
            spool_id = await self.spooler.put(
                raw, channel="smtp", mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos), source=f"smtp:{session.peer}",
            )
        except TransientError as exc:
            log.error("message_refused_temporarily", error=str(exc))
            return ERR_451
        except Exception:
            log.exception("message_refused_temporarily")
            return ERR_451
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()
        log.info("message_spooled", spool_id=spool_id, size=len(raw),
                 mail_from=envelope.mail_from)
        return f"250 2.0.0 OK queued as {spool_id}"


class Listener:
    """Runs an aiosmtpd server on the daemon's own event loop."""

    def __init__(self, config: Config, spooler: Spooler) -> None:
        self.config = config
        self.handler = Handler(config, spooler)
        self.server: asyncio.base_events.Server | None = None

    def _factory(self) -> SMTP:
        smtp = self.config.smtp
        return SMTP(
            self.handler,
            data_size_limit=smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=smtp.hostname,
            ident="mailgate ESMTP",
            timeout=smtp.timeout.total_seconds(),
        )

    async def start(self) -> Any:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._factory, host=self.config.smtp.host, port=self.config.smtp.port,
            reuse_address=True,
        )
        return self.server

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self, grace: float = 10.0) -> None:
        """Stop listening, refuse new mail with 421, wait for DATA in flight to commit."""
        if self.server is None:
            return
        self.server.close()
        self.handler.accepting = False
        try:
            await asyncio.wait_for(self.handler.idle.wait(), grace)
        except TimeoutError:
            log.warning("shutdown_with_messages_in_flight", count=self.handler.in_flight)
        self.server = None
