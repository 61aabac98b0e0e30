"""The SMTP load client: asyncio, many concurrent sessions, a new connection per mail.

Each mail is one complete SMTP session over loopback (connect, greeting, EHLO,
MAIL FROM, RCPT TO, DATA, the dot-stuffed message, QUIT), as an MTA relaying
to mailgate would run it. The client is a small hand-written protocol loop on
``asyncio`` streams rather than ``smtplib`` or ``aiosmtplib``, so that the
client costs as little CPU as possible and the same client drives the no-op
sink and mailgate.

Two ways to drive the load:
- ``run_closed``: N sessions, each sending its next mail as soon as the last
  one got its reply (throughput);
- ``run_open``: a new session started every 1/rate seconds whatever the
  replies do (latency at a steady rate; a slow server cannot slow the
  arrivals down, so queueing shows up in the figures).

For each mail the client records the time from the end of DATA (the final
``.`` written and flushed) to the reply, the reply, and the wall-clock time of
the reply, which is compared with the server's database timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

_TEXT = (
    "printer toner paper jam invoice order refund login password reset account screen "
    "laptop docking station network drive share backup restore licence renewal vpn "
    "token phone headset meeting room projector cable adapter keyboard mouse battery "
    "charger update driver firmware crash error message warning slow disk space quota "
    "mailbox calendar shared folder permission access denied server database report "
    "export import spreadsheet template signature holiday schedule contract delivery"
)
WORDS = _TEXT.split()

SUPPORT = "support@example.com"


@dataclass
class Mail:
    """One mail to send: the envelope and the exact bytes (CRLF line ends)."""

    key: str
    mail_from: str
    rcpt: str
    data: bytes
    message_id: str


@dataclass
class Result:
    key: str
    code: int
    reply: str
    data_to_reply: float  # seconds, end of DATA -> reply
    reply_wall: float  # time.time() when the reply arrived
    error: str | None = None


def _body(seed: str, size: int) -> str:
    """Deterministic, distinct text of about ``size`` bytes in 72-column lines."""
    digest = hashlib.sha256(seed.encode()).digest()
    lines: list[str] = []
    line: list[str] = []
    total = 0
    i = 0
    while total < size:
        word = WORDS[(digest[i % 32] + i * 7) % len(WORDS)]
        i += 1
        if sum(len(w) + 1 for w in line) + len(word) > 72:
            text = " ".join(line)
            lines.append(text)
            total += len(text) + 2
            line = []
        line.append(word)
    return "\r\n".join(lines)


def make_mail(run: str, number: int, *, size: int = 4096, subject: str | None = None,
              in_reply_to: str | None = None, references: list[str] | None = None,
              sender: str | None = None) -> Mail:
    """A distinct plain-text customer mail of about ``size`` bytes."""
    sender = sender or f"customer{number}@example.org"
    message_id = f"<bench.{run}.{number}@example.org>"
    subject = subject or (f"Bench {run} #{number}: {WORDS[number % len(WORDS)]} "
                          f"{WORDS[(number // len(WORDS)) % len(WORDS)]} problem")
    date = format_datetime(datetime.now(UTC))
    head = [
        f"From: Customer {number} <{sender}>",
        f"To: Example Support <{SUPPORT}>",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    if references:
        head.append("References: " + " ".join(references))
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 7bit"]
    header = "\r\n".join(head) + "\r\n\r\n"
    body = _body(f"{run}/{number}", max(size - len(header), 100))
    data = (header + "Hello,\r\n\r\n" + body + "\r\n\r\nRegards,\r\nCustomer\r\n").encode()
    return Mail(f"{run}.{number}", sender, SUPPORT, data, message_id)


def dot_stuff(data: bytes) -> bytes:
    """The DATA payload: leading dots doubled, ended with CRLF . CRLF."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed by server")
        lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            break
    return int(lines[-1][:3]), "\n".join(lines)


async def _command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes,
                   expect: int) -> None:
    writer.write(line)
    code, text = await _reply(reader)
    if code != expect:
        raise RuntimeError(f"{line.split(b' ')[0].decode()} -> {text}")


async def send(host: str, port: int, mail: Mail, timeout: float = 120.0) -> Result:
    """One SMTP session for one mail; never raises (errors are in the result)."""
    try:
        return await asyncio.wait_for(_send(host, port, mail), timeout)
    except Exception as exc:
        return Result(mail.key, 0, "", 0.0, time.time(), f"{type(exc).__name__}: {exc}")


async def _send(host: str, port: int, mail: Mail) -> Result:
    session = Session(host, port)
    try:
        return await session.transaction(mail)
    finally:
        await session.close(wait=True)


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    started: float = 0.0  # time.perf_counter()
    finished: float = 0.0

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.code == 250]

    @property
    def errors(self) -> list[Result]:
        return [r for r in self.results if r.code != 250]

    @property
    def seconds(self) -> float:
        return self.finished - self.started


class Session:
    """One SMTP connection kept open for many mails, as an MTA's connection cache does
    (Postfix ``smtp_connection_cache_on_demand``): EHLO once, then MAIL/RCPT/DATA per mail."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.streams is None:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
            code, text = await _reply(reader)
            if code != 220:
                raise RuntimeError(f"greeting {text}")
            await _command(reader, writer, b"EHLO bench.example.org\r\n", 250)
            self.streams = reader, writer
        return self.streams

    async def send(self, mail: Mail, timeout: float = 120.0) -> Result:
        """One mail on this connection (opened again after an error); never raises."""
        try:
            return await asyncio.wait_for(self.transaction(mail), timeout)
        except Exception as exc:
            await self.close()
            return Result(mail.key, 0, "", 0.0, time.time(), f"{type(exc).__name__}: {exc}")

    async def transaction(self, mail: Mail) -> Result:
        """MAIL, RCPT, DATA: the time from the end of DATA to its reply is measured."""
        reader, writer = await self._open()
        await _command(reader, writer, f"MAIL FROM:<{mail.mail_from}>\r\n".encode(), 250)
        await _command(reader, writer, f"RCPT TO:<{mail.rcpt}>\r\n".encode(), 250)
        await _command(reader, writer, b"DATA\r\n", 354)
        writer.write(dot_stuff(mail.data))
        await writer.drain()
        start = time.perf_counter()
        code, text = await _reply(reader)
        return Result(mail.key, code, text, time.perf_counter() - start, time.time(),
                      None if code == 250 else f"DATA -> {text}")

    async def close(self, wait: bool = False) -> None:
        """QUIT (``wait``: for its reply too, as a per-mail session does) and close."""
        if self.streams is None:
            return
        reader, writer = self.streams
        self.streams = None
        with contextlib.suppress(Exception):
            writer.write(b"QUIT\r\n")
            if wait:
                await _reply(reader)
            writer.close()
            await writer.wait_closed()


async def run_closed(host: str, port: int | Sequence[int], mails: list[Mail], sessions: int,
                     persistent: bool = False) -> Run:
    """Send ``mails`` over ``sessions`` concurrent sessions, back to back: a new connection
    per mail, or (``persistent``) one kept connection per session. Given several ports
    (several servers), session i always talks to ``port[i % len(port)]``."""
    run = Run()
    pending = iter(mails)
    ports = [port] if isinstance(port, int) else list(port)

    async def worker(target: int) -> None:
        if not persistent:
            for mail in pending:
                run.results.append(await send(host, target, mail))
            return
        session = Session(host, target)
        for mail in pending:
            run.results.append(await session.send(mail))
        await session.close()

    run.started = time.perf_counter()
    await asyncio.gather(*(worker(ports[i % len(ports)]) for i in range(sessions)))
    run.finished = time.perf_counter()
    return run


async def run_open(host: str, port: int, mails: list[Mail], rate: float) -> Run:
    """Start one session every ``1/rate`` seconds (open loop), whatever the replies do."""
    run = Run()
    loop = asyncio.get_running_loop()
    tasks = []

    async def one(mail: Mail) -> None:
        run.results.append(await send(host, port, mail))

    run.started = time.perf_counter()
    base = loop.time()
    for i, mail in enumerate(mails):
        delay = base + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(mail)))
    await asyncio.gather(*tasks)
    run.finished = time.perf_counter()
    return run


async def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Wait until something answers SMTP on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            await _reply(reader)
            writer.write(b"QUIT\r\n")
            await _reply(reader)
            writer.close()
            return
        except (OSError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
