"""A no-op SMTP sink: aiosmtpd answering 250 to every DATA and storing nothing.

It is the ceiling mailgate's intake is compared with: the same aiosmtpd
protocol machinery with the same options as mailgate's listener, no spool,
no fsync, no processing. Run as its own process (``python bench/sink.py
--port N``) so that it does not share a GIL with the load client.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session


class NoopHandler:
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 OK discarded"


async def serve(host: str, port: int, size_limit: int) -> None:
    loop = asyncio.get_running_loop()
    handler = NoopHandler()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=size_limit, enable_SMTPUTF8=True,
                     decode_data=False, hostname="localhost", ident="sink ESMTP"),
        host=host, port=port, reuse_address=True,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size-limit", type=int, default=32 * 1024 * 1024)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.size_limit))


if __name__ == "__main__":
    main()
