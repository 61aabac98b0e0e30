"""Where the daemon's time goes under the throughput load (py-spy).

    .venv/bin/pip install py-spy          # once; not a dependency of mailgate
    .venv/bin/python bench/profile.py [--messages 2000] [--mode cpu|gil|wall]

Starts ``mailgate serve`` as the benchmark does, attaches ``py-spy record`` to
it, sends the throughput load (distinct 4 KB mails, 8 sessions, a connection
per mail) until the spool is drained, and prints:
- samples per thread (what share of the run each thread was on the CPU, or
  held the GIL, or existed, depending on the mode);
- the heaviest functions, inclusive and self, per thread, as a percentage of
  all samples.

Modes: ``cpu`` (default) samples threads that are running; ``gil`` samples
only the thread holding the GIL (in a GIL-bound process: who is using the one
core Python code can run on); ``wall`` samples every thread, idle or not (who
is waiting where: locks, the disk, the queue). The raw collapsed stacks and a
collapsed stacks are kept in bench/out/profile-MODE.txt (speedscope.app and
flamegraph.pl read them). Sampling is ``--nonblocking`` so the daemon is not
paused; expect the rate under py-spy to be a little lower.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import make_mail, run_closed
from server import BIN, OUT, Mailgate


def summarize(path: Path, top: int = 40) -> str:
    """Per-thread shares and heaviest functions from py-spy's raw (collapsed) output."""
    threads: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[tuple[str, str]] = collections.Counter()
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        frames = [re.sub(r":\d+\)$", ")", f) for f in frames[1:]]
        n = int(count)
        total += n
        threads[thread] += n
        for frame in set(frames):
            inclusive[(thread, frame)] += n
        if frames:
            own[(thread, frames[-1])] += n
    if not total:
        return "no samples"
    out = [f"{total} samples", "threads:"]
    out += [f"  {n / total * 100:5.1f}%  {t}" for t, n in threads.most_common()]
    skip = ("threading.py", "concurrent/futures/thread.py", "asyncio/runners.py",
            "(mailgate)", "cli.py", "asyncio/base_events.py)")
    out.append("inclusive (thread, function), excluding thread/loop plumbing:")
    rows = [(k, n) for k, n in inclusive.most_common() if not k[1].endswith(skip)]
    out += [f"  {n / total * 100:5.1f}%  {t[:20]:20} {f}" for (t, f), n in rows[:top]]
    out.append("self:")
    out += [f"  {n / total * 100:5.1f}%  {t[:20]:20} {f}" for (t, f), n in own.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description="Profile the daemon under load (py-spy).")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--mode", choices=("cpu", "gil", "wall"), default="cpu")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if not spy:
        print("py-spy not found: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    folder = OUT / "profile-run"
    shutil.rmtree(folder, ignore_errors=True)
    mg = Mailgate(folder)
    try:
        asyncio.run(run_closed("127.0.0.1", mg.port, [make_mail("pw", i) for i in range(50)], 8))
        mg.wait_drained()
        raw = OUT / f"profile-{args.mode}.txt"
        flags = {"cpu": [], "gil": ["--gil"], "wall": ["--idle"]}[args.mode]
        record = [spy, "record", "-p", str(mg.pid), "-r", str(args.rate), "--threads",
                  "--subprocesses",  # the processor processes too
                  "--nonblocking", *flags]
        proc = subprocess.Popen([*record, "-f", "raw", "-o", str(raw)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let py-spy attach
        tag = time.strftime("%H%M%S")
        mails = [make_mail(f"prof{tag}", i) for i in range(args.messages)]
        run = asyncio.run(run_closed("127.0.0.1", mg.port, mails, 8))
        drained = mg.wait_drained()
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        print(f"{args.messages} mails, {args.messages / (drained - run.started):.1f} msgs/s "
              f"end to end under py-spy ({args.mode}, --nonblocking), "
              f"{len(run.errors)} errors")
        print(summarize(raw, args.top))
        print(f"raw collapsed stacks (speedscope.app or flamegraph.pl read them): {raw}")
    finally:
        mg.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
