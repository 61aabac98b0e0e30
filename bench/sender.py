"""What recording each smarthost answer at once costs the sender (issue 22).

The sender records a mail as sent in its own durable transaction as soon as the
smarthost's ``250`` arrives, so a kill repeats at most the mails in flight (one per
open connection) instead of a whole batch. This prints (1) the sender's throughput
against a no-op aiosmtpd smarthost (``bench/sink.py`` in its own process) with
that per-mail recording, and (2) the recording cost alone: N one-row durable
transactions against one N-row transaction on the same SQLite file.

Usage (from the repo root): ``.venv/bin/python bench/sender.py [--mails 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import wait_port
from server import CONFIG, ROOT, child_env

from mailgate import clock
from mailgate.config import load_config
from mailgate.defaults import TEMPLATES
from mailgate.logs import configure_logging
from mailgate.outbound import Sender, _record_all
from mailgate.store import Store, open_store
from tests.configs import merge, toml_text
from tests.support import free_port


def queue(store: Store, count: int, tag: str) -> None:
    raw = (b"From: support@example.com\r\nTo: customer@example.org\r\nSubject: ack\r\n\r\n"
           + b"Your request was received.\r\n" * 40)
    with store.transaction():
        for i in range(count):
            store.outbox_add(ticket_id=None, message_id=f"<{tag}{i}@bench>", kind="ack",
                             mail_from="support@example.com", rcpt_tos=["customer@example.org"],
                             raw=raw, now=clock.now())


def record_cost(store: Store, count: int) -> tuple[float, float]:
    """Microseconds per mail: each recorded alone, and all in one transaction."""
    figures = []
    for per_mail in (True, False):
        queue(store, count, f"rec{per_mail}")
        now = clock.now()
        batch = store.outbox_claim("bench", now, now + timedelta(minutes=5), count)
        results = [(item, "sent", None, None) for item in batch]
        began = time.perf_counter()
        if per_mail:
            for result in results:
                _record_all(store, [result])
        else:
            _record_all(store, results)
        figures.append(1e6 * (time.perf_counter() - began) / len(results))
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), "--port", str(port)],
                            env=child_env())
    try:
        with tempfile.TemporaryDirectory(prefix="mailgate-sender-") as tmp:
            folder = Path(tmp)
            shutil.copytree(TEMPLATES, folder / "templates")
            path = folder / "mailgate.toml"
            path.write_text(toml_text(merge(CONFIG, {
                "store": {"url": f"sqlite:///{folder / 'db.sqlite'}"},
                "outbound": {"mode": "smtp", "host": "127.0.0.1", "port": port}})))
            config = load_config(path)
            configure_logging(config.logging)
            asyncio.run(wait_port("127.0.0.1", port))
            store = open_store(config)
            queue(store, args.mails, "send")
            sender = Sender(config, lambda: open_store(config), "bench")
            wall, cpu = time.perf_counter(), time.process_time()
            sent = asyncio.run(sender.drain())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            sender.close()
            print(f"sender: {sent} mails to a no-op smarthost in {wall:.2f} s "
                  f"({sent / wall:.0f} mails/s, {1000 * wall / sent:.2f} ms wall and "
                  f"{1000 * cpu / sent:.2f} ms CPU per mail), each recorded as its 250 arrived")
            alone, batched = record_cost(store, args.mails)
            print(f"recording: {alone:.0f} us per mail in its own durable transaction, "
                  f"{batched:.0f} us per mail in one batch transaction: per-mail recording "
                  f"costs {alone - batched:.0f} us more a mail "
                  f"({100 * (alone - batched) / (1e6 * wall / sent):.0f} % of the sender's "
                  f"wall time per mail)")
            store.close()
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
