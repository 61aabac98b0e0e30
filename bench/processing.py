"""Processing cost alone: N distinct new mails committed to a spool, then ``Processor.drain``.

No SMTP, no threads: one process, the real config/templates of the benchmark's daemon,
SQLite in a temp folder (or, with ``--postgres``, a throwaway PostgreSQL server). Prints ms
of wall and CPU per mail and the SQL statements the processor sent per mail (BEGIN and
COMMIT included: the round trips a network database pays for) and the write calls and bytes
the process wrote per mail (Linux ``/proc/self/io``: SQLite's log, load-independent);
``--profile FILE`` writes a cProfile of the drain (read it with ``python -m pstats FILE``).
Used to find where the processor's time goes without the noise of the rest of the daemon.

    .venv/bin/python bench/processing.py --messages 2000 [--postgres] [--profile out/p.prof]

Instructions (valgrind) a mail of the processing alone: the mails are made and spooled in the
same process, ~3.9 M instructions a mail of the bench's own, so take a ``--setup-only`` run's
count from each full run's::

    (I(250) - I_setup(250) - I(50) + I_setup(50)) / 200      # I(N): --messages N

``--mta-headers`` puts the header block a mail has when it arrives through real MTAs on top
of each one (``MTA_HEADERS``: 23 more fields, Received, DKIM-Signature,
Authentication-Results, X-...); the benchmark's own mails have 8 header fields.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in (_BENCH, "")]
import cProfile  # noqa: E402  (bench/profile.py would shadow the stdlib's profile)

sys.path.insert(0, _BENCH)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import make_mail  # noqa: E402
from nodes import start_postgres, tree_cpu_seconds  # noqa: E402
from server import config_text  # noqa: E402

from mailgate.config import load_config  # noqa: E402
from mailgate.defaults import TEMPLATES  # noqa: E402
from mailgate.logs import configure_logging  # noqa: E402
from mailgate.pipeline import Pipeline  # noqa: E402
from mailgate.processor import Processor  # noqa: E402
from mailgate.render import Renderer, freeze_templates  # noqa: E402
from mailgate.store import open_store  # noqa: E402

# What a customer's mail carries on top of its own header fields when it comes from a big
# mail provider through our MTA (values shortened, shapes kept).
MTA_HEADERS = (
    "Received: from mail-wr1-f45.google.com (mail-wr1-f45.google.com [209.85.221.45])\r\n"
    "\tby mx.example.com (Postfix) with ESMTPS id 4F2B81C0A3\r\n"
    "\tfor <support@example.com>; Mon,  7 Dec 2026 06:18:18 +0000 (UTC)\r\n"
    "Received: by mail-wr1-f45.google.com with SMTP id ffacd0b85a97d-33e27a3b9d2so12345f8f.1\r\n"
    "        for <support@example.com>; Sun, 06 Dec 2026 22:18:17 -0800 (PST)\r\n"
    "Received: from [192.168.1.20] ([203.0.113.7])\r\n"
    "        by smtp.gmail.com with ESMTPSA id 5b1f17b1804b1-47a7e9c9e2fsm12345678f.1\r\n"
    "        for <support@example.com>; Sun, 06 Dec 2026 22:18:16 -0800 (PST)\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=20230601;\r\n"
    "        t=1765088297; x=1765693097; darn=example.com;\r\n"
    "        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date;\r\n"
    "        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    "        b=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij\r\n"
    "Authentication-Results: mx.example.com; dkim=pass (2048-bit key; unprotected)\r\n"
    "        header.d=example.org header.i=@example.org header.s=20230601; dkim-atps=neutral\r\n"
    "X-Google-DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=1e100.net;\r\n"
    "        s=20230601; t=1765088297; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    "        b=zyxwvutsrqponmlkjihgfedcba\r\n"
    "X-Gm-Message-State: AOJu0YzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789\r\n"
    "X-Google-Smtp-Source: AGHT+IFabcdefghijklmnopqrstuvwxyz0123456789\r\n"
    "X-Received: by 2002:a05:6000:1a8a:b0:33e:27a3:b9d2 with SMTP id i10mr123456wrh.5;\r\n"
    "        Sun, 06 Dec 2026 22:18:17 -0800 (PST)\r\n"
    "Return-Path: <customer1@example.org>\r\n"
    "X-Spam-Status: No, score=-0.1 required=5.0 tests=DKIM_SIGNED,DKIM_VALID\r\n"
    "Thread-Topic: problem\r\n"
    "Thread-Index: AQHZabcdefghijklmnop==\r\n"
    "Accept-Language: en-US\r\n"
    "X-MS-Has-Attach:\r\n"
    "X-Originating-IP: [203.0.113.7]\r\n"
).encode("ascii")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--postgres", action="store_true",
                        help="on a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--mta-headers", action="store_true",
                        help="each mail with a real MTA's header block on top (MTA_HEADERS)")
    parser.add_argument("--senders", type=int,
                        help="the mails come from this many senders in turn (default: one "
                             "each): a sender's later mail is compared with their open tickets "
                             "(the repeat step), as in the throughput bench's second mode")
    parser.add_argument("--setup-only", action="store_true",
                        help="spool the mails and stop before processing any: the instructions "
                             "of this run, taken from a full run's, are the processing's alone "
                             "(see the module docstring)")
    parser.add_argument("--log-level", choices=("warning", "info"), default="warning",
                        help="info: a production daemon's default, one JSON line a mail "
                             "(written to /dev/null); warning: the benchmark daemon's")
    args = parser.parse_args()
    server = start_postgres() if args.postgres else None
    try:
        run(args, server)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace, server: Any) -> None:
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mailgate-processing-"))
        folder = Path(tmp)
        shutil.copytree(TEMPLATES, folder / "templates")
        path = folder / "mailgate.toml"
        store_table = {"url": f"sqlite:///{folder / 'db.sqlite'}"} if server is None else \
            {"url": server.database(), "password_file": str(server.password_file)}
        path.write_text(config_text(2525, 33554432, store_table))
        config = load_config(path)
        if args.log_level == "warning":
            configure_logging(config.logging)  # warning, as the benchmark's daemon logs
        else:  # as a production daemon logs by default, to a file that keeps nothing
            logs = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
            configure_logging(config.logging.model_copy(update={"level": "info"}), logs)
        store = open_store(config)
        store.relax_durability()  # as the processor processes open theirs
        store.leave_checkpoints()  # (the daemon's sender does them, see Store.leave_checkpoints)
        pipeline = Pipeline(config, freeze_templates(  # as the processor processes do
            Renderer(config.templates_dir)))
        processor = Processor(config, store, pipeline)
        warm = 50
        with store.transaction():
            for i in range(warm + args.messages):
                sender = f"customer{i % args.senders}@example.org" if args.senders else None
                mail = make_mail("proc", i, sender=sender)
                data = MTA_HEADERS + mail.data if args.mta_headers else mail.data
                store.spool_add(data, channel="smtp", received_at=datetime.now(UTC),
                                mail_from=mail.mail_from, rcpt_tos=[mail.rcpt])
        if args.setup_only:
            print(f"spooled {warm + args.messages} mails, none processed (--setup-only)")
            return
        processor.drain(limit=warm)
        server_cpu = _server_cpu(server)
        statements = store.statements
        written = _io_counts()
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        done = processor.drain()
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        statements = store.statements - statements
        server_cpu = _server_cpu(server) - server_cpu
        writes = {k: (v - written[k]) / done for k, v in _io_counts().items()}
        counts = store.spool_counts()
        print(f"processed {done} mails on {store.dialect}: {1000 * wall / done:.2f} ms wall, "
              f"{1000 * cpu / done:.2f} ms CPU per mail ({done / wall:.0f} msgs/s), "
              f"{statements / done:.1f} SQL statements per mail, "
              f"{writes.get('syscw', 0):.1f} write calls and {writes.get('wchar', 0) / 1024:.1f}"
              f" KB written, {writes.get('syscr', 0):.1f} read calls and "
              f"{writes.get('rchar', 0) / 1024:.1f} KB read per mail; spool {counts}"
              + (f"; PostgreSQL's CPU {1000 * server_cpu / done:.2f} ms per mail" if server
                 else ""))


def _server_cpu(server: Any) -> float:
    """CPU seconds of the PostgreSQL server so far (every process of it), or 0."""
    if server is None:
        return 0.0
    return tree_cpu_seconds(int((server.data / "postmaster.pid").read_text().split()[0]))


def _io_counts() -> dict[str, int]:
    """This process's write calls and bytes written so far (Linux; SQLite's log writes:
    the disk traffic a mail costs, independent of the machine's load)."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split(":") for line in lines)
    return {key: int(value) for key, value in pairs
            if key in ("syscw", "wchar", "syscr", "rchar")}


if __name__ == "__main__":
    main()
