"""What a short-lived ``mailgate`` process costs: ``ingest`` beside a daemon, read commands.

Not part of ``run.py``'s sections: a quick look at process start-up, the figure that
decides the pipe path (one process per mail) and how fast a read command answers::

    .venv/bin/python bench/startup.py            # 20 runs of each
    .venv/bin/python bench/startup.py --runs 50

Each command runs ``--runs`` times as a subprocess (the venv's ``mailgate`` script, as
Postfix's pipe runs it); the table shows the fastest and the median wall time in ms, next
to ``python -c pass`` (the interpreter's own start-up, the floor). ``ingest`` runs beside a
``mailgate serve`` on the same config (the quick path: store, wake the daemon); the daemon
processes the mails meanwhile, on the other core. For where the time goes, run one
command under ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from load import make_mail
from server import Mailgate, compile_tree, installed_mailgate


def timed(runs: int, once: Callable[[int], None]) -> tuple[float, float]:
    """(fastest, median) wall time of ``once(i)`` in ms."""
    times = []
    for i in range(runs):
        started = time.perf_counter()
        once(i)
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    compile_tree()
    mailgate = str(installed_mailgate())
    python = str(installed_mailgate().parent / "python")
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="mailgate-startup-") as tmp:
        mg = Mailgate(Path(tmp) / "mg")
        config = str(mg.config)
        try:
            def run(*cmd: str, data: bytes | None = None) -> None:
                subprocess.run(cmd, input=data, check=True, capture_output=True, timeout=60)

            rows.append(("python -c pass (the checkout's venv)", *timed(args.runs, lambda i: run(
                sys.executable, "-c", "pass"))))
            rows.append(("python -c pass", *timed(args.runs, lambda i: run(
                python, "-c", "pass"))))
            mails = [make_mail("startup", i) for i in range(args.runs)]
            rows.append(("mailgate ingest (beside the daemon)", *timed(args.runs, lambda i: run(
                mailgate, "ingest", "-c", config, "-f", mails[i].mail_from, "-r",
                mails[i].rcpt, data=mails[i].data))))
            mg.wait_drained()
            rows.append(("mailgate tickets", *timed(args.runs, lambda i: run(
                mailgate, "tickets", "-c", config))))
            rows.append(("mailgate --help", *timed(args.runs, lambda i: run(
                mailgate, "--help"))))
        finally:
            mg.stop()
    print(f"{'command':<40} {'fastest ms':>10} {'median ms':>10}")
    for name, fastest, median in rows:
        print(f"{name:<40} {fastest:>10.0f} {median:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
