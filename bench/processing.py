"""Processing cost alone: N distinct new mails committed to a spool, then ``Processor.drain``.

No SMTP, no threads: one process, the real config/templates of the benchmark's daemon,
SQLite in a temp folder (or, with ``--postgres``, a throwaway PostgreSQL server). Prints ms
of wall and CPU per mail and the SQL statements the processor sent per mail (BEGIN and
COMMIT included: the round trips a network database pays for); ``--profile FILE`` writes a
cProfile of the drain (read it with ``python -m pstats FILE``). Used to find where the
processor's time goes without the noise of the rest of the daemon.

    .venv/bin/python bench/processing.py --messages 2000 [--postgres] [--profile out/p.prof]
"""

from __future__ import annotations

import argparse
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
from nodes import start_postgres  # noqa: E402
from server import config_text  # noqa: E402

from mailgate.config import load_config  # noqa: E402
from mailgate.defaults import TEMPLATES  # noqa: E402
from mailgate.logs import configure_logging  # noqa: E402
from mailgate.pipeline import Pipeline  # noqa: E402
from mailgate.processor import Processor  # noqa: E402
from mailgate.render import Renderer, freeze_templates  # noqa: E402
from mailgate.store import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--postgres", action="store_true",
                        help="on a throwaway PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    server = start_postgres() if args.postgres else None
    try:
        run(args, server)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace, server: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="mailgate-processing-") as tmp:
        folder = Path(tmp)
        shutil.copytree(TEMPLATES, folder / "templates")
        path = folder / "mailgate.toml"
        store_table = {"url": f"sqlite:///{folder / 'db.sqlite'}"} if server is None else \
            {"url": server.database(), "password_file": str(server.password_file)}
        path.write_text(config_text(2525, 33554432, store_table))
        config = load_config(path)
        configure_logging(config.logging)  # warning, as the benchmark's daemon logs
        store = open_store(config)
        store.relax_durability()  # as the processor processes open theirs
        pipeline = Pipeline(config, freeze_templates(  # as the processor processes do
            Renderer(config.templates_dir)))
        processor = Processor(config, store, pipeline)
        warm = 50
        with store.transaction():
            for i in range(warm + args.messages):
                mail = make_mail("proc", i)
                store.spool_add(mail.data, channel="smtp", received_at=datetime.now(UTC),
                                mail_from=mail.mail_from, rcpt_tos=[mail.rcpt])
        processor.drain(limit=warm)
        statements = store.statements
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        done = processor.drain()
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        statements = store.statements - statements
        counts = store.spool_counts()
        print(f"processed {done} mails on {store.dialect}: {1000 * wall / done:.2f} ms wall, "
              f"{1000 * cpu / done:.2f} ms CPU per mail ({done / wall:.0f} msgs/s), "
              f"{statements / done:.1f} SQL statements per mail; spool {counts}")


if __name__ == "__main__":
    main()
