"""The SMTP listener an MTA relays to (aiosmtpd).

The handler does no parsing and no database work on the event loop: RCPT
checks the recipient against the configured addresses (``550`` otherwise: no
open relay), and DATA hands the exact bytes to the spooler and answers ``250``
only once they are committed. Any failure on the way is a ``451`` so the
sending MTA retries. aiosmtpd enforces the size limit (``552``) and advertises
SIZE, 8BITMIME and SMTPUTF8. Lines are taken up to the size limit: aiosmtpd's default
(RFC 5321's 1,000 octets) answers ``500 Line too long`` at DATA, and the sending MTA
bounces generated HTML, pasted logs or a long Subject back to the customer; Postfix and
the hosted desks accept such mail, and so does this listener (its documented
``line_length_limit``, set per connection from ``smtp.max_message_size``).

Two shortcuts lean on aiosmtpd's internals (``Connection``); kept because measured:
without them the event loop spends about 0.4 ms more per mail and the bench's
throughput ratio falls from 0.47 to 0.39 (``bench/README.md``). Both are compared
with stock aiosmtpd by ``tests/test_smtp_intake.py``, and aiosmtpd is pinned below 1.5.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate import clock
from mailgate.config import Config
from mailgate.errors import TransientError
from mailgate.intake.paths import split_path
from mailgate.spooler import Spooler

log = structlog.get_logger("mailgate.smtp")

ERR_451 = "451 4.3.0 Temporary failure storing the message, please retry"
ERR_550 = "550 5.1.1 Recipient not accepted: this gateway does not relay"
ERR_421 = "421 4.3.2 Service shutting down, please retry"


def peer_text(peer: Any) -> str:
    """The client's address as ``host:port`` (``[v6]:port``), as stored in the spool's
    ``source`` and logged; anything else (a Unix socket) as it is."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer)


def _hook_names(obj: object, prefixes: tuple[str, ...]) -> list[str]:
    """The names aiosmtpd looks for on ``obj``'s class, worked out once per class."""
    cls = type(obj)
    names = _HOOK_NAMES.get(cls)
    if names is None:
        names = _HOOK_NAMES[cls] = sorted(n for n in object.__dir__(obj) if n.startswith(prefixes))
    return names


_HOOK_NAMES: dict[type, list[str]] = {}


class Connection(SMTP):
    """aiosmtpd's SMTP protocol, one per connection, as it is but for ``dir()``.

    aiosmtpd builds its command and AUTH tables in ``__init__`` from ``dir(self)`` and
    ``inspect.getmembers(self)`` (which reads every attribute), on every connection: 120 µs,
    a tenth of what a whole mail costs the event loop. Here ``dir()`` lists just the names
    those tables are built from (``smtp_*``, ``auth_*``), so they come out the same
    (``tests/test_smtp_intake.py`` compares them with stock aiosmtpd's). ``_getaddr`` reads
    the path with our own RFC 5321 parser (``intake.paths``; the test compares its answers
    with aiosmtpd's on ordinary paths).
    """

    def __init__(self, handler: Any, *, line_length_limit: int = SMTP.line_length_limit,
                 **kwargs: Any) -> None:
        # read by SMTP.__init__ as the stream reader's limit, so it is set before it runs
        self.line_length_limit = line_length_limit
        super().__init__(handler, **kwargs)

    def __dir__(self) -> list[str]:
        return _hook_names(self, ("smtp_", "auth_"))

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The address and parameters of a MAIL/RCPT argument, read as an RFC 5321 path by
        ``intake.paths`` (aiosmtpd's reads it as an RFC 5322 header through the ``email``
        package's private parser, and defines a class on every call: 48 µs a command)."""
        if not arg:
            return "", ""
        found = split_path(arg)
        if found is None:
            return None, None
        addr, rest = found
        localpart = addr.rpartition("@")[0]
        if self.local_part_limit and len(localpart) > self.local_part_limit:
            return None, None
        return addr, rest


class Handler:
    """aiosmtpd handler: recipient policy at RCPT, durable spool at DATA."""

    def __dir__(self) -> list[str]:  # what aiosmtpd looks up on a handler (see Connection)
        return _hook_names(self, ("handle_", "auth_"))

    def __init__(self, config: Config, spooler: Spooler) -> None:
        self.config = config
        self.spooler = spooler
        self.accepting = True
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        # the last 451 (when, why, to whom) and whether the last DATA got one: /healthz
        self.last_refusal: dict[str, str] | None = None
        self.refusing = False

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not self.accepting:
            return ERR_421
        if not self.config.accepts(address):
            log.info("recipient_refused", rcpt=address, peer=peer_text(session.peer))
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
                rcpt_tos=list(envelope.rcpt_tos), source=f"smtp:{peer_text(session.peer)}",
            )
        except TransientError as exc:
            return self._refuse(session, str(exc))
        except Exception as exc:
            log.exception("message_store_crashed")
            return self._refuse(session, f"{type(exc).__name__}: {exc}")
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()
        self.refusing = False
        log.info("message_spooled", spool_id=spool_id, size=len(raw),
                 mail_from=envelope.mail_from)
        return f"250 2.0.0 OK queued as {spool_id}"

    def _refuse(self, session: Session, cause: str) -> str:
        """Answer 451, naming the cause in the log and (until the next 250) in /healthz;
        the client gets only the generic text."""
        peer = peer_text(session.peer)
        self.last_refusal = {"at": clock.now().isoformat(), "cause": cause, "peer": peer}
        self.refusing = True
        log.error("message_refused_temporarily", reply=ERR_451, cause=cause, peer=peer)
        return ERR_451


class Listener:
    """Runs an aiosmtpd server on the daemon's own event loop."""

    def __init__(self, config: Config, spooler: Spooler) -> None:
        self.config = config
        self.handler = Handler(config, spooler)
        self.server: asyncio.base_events.Server | None = None

    def _factory(self) -> SMTP:
        smtp = self.config.smtp
        return Connection(
            self.handler,
            data_size_limit=smtp.max_message_size,
            # a line as long as the whole message, plus CRLF and a transparency dot
            line_length_limit=max(SMTP.line_length_limit, smtp.max_message_size + 3),
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=smtp.host_name(),
            ident="mailgate ESMTP",
            timeout=smtp.timeout.total_seconds(),
        )

    async def start(self) -> Any:
        """Listen; a TransientError naming the settings and the file if the address cannot
        be bound (in use, not this host's), so ``serve`` says so in one line."""
        loop = asyncio.get_running_loop()
        smtp = self.config.smtp
        try:
            self.server = await loop.create_server(
                self._factory, host=smtp.host, port=smtp.port, reuse_address=True,
            )
        except OSError as exc:
            raise TransientError(
                f"cannot listen on {smtp.host}:{smtp.port} (smtp.host/smtp.port in "
                f"{self.config.source}): {_reason(exc)}") from None
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


def _reason(exc: OSError) -> str:
    """``Address already in use``, without asyncio's "error while attempting to bind..."."""
    return os.strerror(exc.errno) if exc.errno else str(exc)
