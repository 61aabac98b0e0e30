"""mailgate benchmark: ``python bench/run.py [--quick] [--only SECTIONS] [--messages N]``.

Sections (see bench/README.md for the method and today's figures):
  throughput  intake end to end over SMTP against a no-op aiosmtpd sink: the ratio
  latency     DATA->250 and 250->acknowledgement queued at 100 mails/s
  store       per-message cost with 10k and 1M (quick: 100k) tickets in the database
  memory      peak RSS receiving a 25 MB mail and draining a 10,000-mail backlog
  peer        the same mails through Roundup's roundup-mailgw
  postgres    intake end to end on PostgreSQL, one node and two nodes, against SQLite

Prints a table, then one JSON line with every figure (also written to
bench/out/last.json). Nothing here asserts speed: it measures and reports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import server  # noqa: E402
from intake import latency, memory, throughput  # noqa: E402
from nodes import postgres, summary_lines  # noqa: E402
from peer import Skipped, peer  # noqa: E402
from scale import store_scale  # noqa: E402
from server import OUT, ROOT, compile_tree  # noqa: E402

SECTIONS = ("throughput", "latency", "store", "memory", "peer", "postgres")
FLOOR, AIM = 0.35, 0.6


def _environment() -> dict[str, Any]:
    """Where the figures come from. Only read-only git plumbing is run."""
    def git(*argv: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None

    head = git("rev-parse", "--short", "HEAD")
    changed = git("diff-index", "--name-only", "HEAD", "--", "mailgate")
    return {
        "commit": head.stdout.strip() if head else "",
        # the daemon runs from the working tree (editable install): say when it differs
        "mailgate_files_changed_since_commit": len(changed.stdout.split()) if changed else None,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "aiosmtpd": metadata.version("aiosmtpd"),
        "platform": platform.platform(), "loadavg_at_start": round(os.getloadavg()[0], 2),
    }


def _cpu() -> tuple[float, float, float]:
    """(monotonic time, CPU seconds busy on the whole machine, CPU seconds of this process
    and its waited-for children: the servers, clients and tools the benchmark ran)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return time.monotonic(), busy, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    sizes = args.store_sizes or ([10_000, 100_000] if quick else [10_000, 1_000_000])
    return {
        "throughput_messages": args.messages or (500 if quick else 5000),
        "latency_seconds": args.latency_seconds or (3 if quick else 30),
        "latency_rates": [100.0] if quick else [100.0, 20.0],
        "store_sizes": sizes,
        "store_lookups": 200 if quick else 2000,
        "store_processed": 100 if quick else 500,
        "store_smtp": 200 if quick else 1000,
        "store_budget_s": 1.5 if quick else 15.0,
        "big_bytes": 25 * 1000 * 1000,
        "backlog": args.backlog or (200 if quick else 10_000),
        "peer_messages": args.peer_messages or (10 if quick else 200),
        "postgres_messages": args.pg_messages or (500 if quick else 5000),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(rows: list[tuple[str, Any, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(_fmt(r[1])) for r in rows)
    return "\n".join(f"  {name:<{width}}  {_fmt(value):>{vwidth}}  {note}".rstrip()
                     for name, value, note in rows)


def _verdict(ratio: float) -> str:
    if ratio >= AIM:
        return f"meets the aim (>= {AIM})"
    if ratio >= FLOOR:
        return f"above the floor {FLOOR}, below the aim {AIM}"
    return f"BELOW THE FLOOR {FLOOR}"


def _throughput_lines(t: dict[str, Any], title: str) -> list[str]:
    """The table of one client mode of the throughput section."""
    lines: list[str] = []
    lines.append(f"{title} ({t['messages']:,} distinct 4 KB mails, {t['sessions']} "
                 + ("sessions, a new connection per mail)" if t["connection_per_mail"]
                    else "kept connections, many mails each)"))
    lines.append(_table([
        ("no-op aiosmtpd sink, msgs/s", t["sink_msgs_per_s"],
         "best of 2 runs: " + " / ".join(_fmt(v) for v in t["sink_runs_msgs_per_s"])),
        ("mailgate end to end, msgs/s", t["mailgate_msgs_per_s"],
         "250 + ticket + ack queued, spool drained"),
        ("ratio mailgate / sink", t["ratio"], _verdict(t["ratio"])),
        ("mailgate intake only (last 250), msgs/s", t["mailgate_intake_msgs_per_s"],
         f"ratio {t['intake_ratio']}"),
        ("mailgate incl. acks written, msgs/s", t["mailgate_with_acks_written_msgs_per_s"],
         f"ratio {t.get('ratio_acks_written', '-')}"),
        ("mailgate CPU per mail, ms", t["mailgate_cpu_ms_per_msg"],
         f"{t['mailgate_cpu_s']} s CPU for the run: daemon "
         f"{t['mailgate_daemon_cpu_ms_per_msg']} + processors "
         f"{t['mailgate_processors_cpu_ms_per_msg']} + sender "
         f"{t.get('mailgate_sender_cpu_ms_per_msg', 0)} ms/mail"),
        ("CPU per mail, sink / mailgate", t["cpu_ratio"],
         f"sink {t['sink_cpu_ms_per_msg']} ms/mail; steadier than the rates on a busy box"),
        ("mailgate peak RSS, MiB", t["mailgate_peak_rss_mib"], ""),
        ("errors / quarantined", f"{t['mailgate_errors']} / {t['mailgate_quarantined']}",
         f"acks queued {t['mailgate_acks_queued']:,}"),
    ]))
    return lines


def summary(results: dict[str, Any]) -> str:
    lines = []
    t = results.get("throughput")
    if t and "ratio" in t:
        lines += _throughput_lines(t, "1. Intake throughput")
    p = (t or {}).get("persistent")
    if p and "ratio" in p:
        lines += _throughput_lines(p, "1b. The same with kept connections")
    lat = results.get("latency")
    for run in (lat or {}).get("runs", []):
        aim = run["rate"] == 100
        lines.append(f"2. Latency at {run['rate']:g} mails/s ({run['messages']:,} mails, "
                     f"achieved {run['achieved_rate']}/s, open loop)")
        lines.append(_table([
            ("DATA end -> 250, p50 / p99 ms",
             f"{run['data_to_250_p50_ms']} / {run['data_to_250_p99_ms']}",
             "aim p99 < 20 ms" + (" (met)" if run["data_to_250_p99_ms"] < 20 else " (MISSED)")
             if aim else ""),
            ("250 -> ack queued, p50 / p99 ms",
             f"{run['250_to_ack_queued_p50_ms']} / {run['250_to_ack_queued_p99_ms']}",
             "aim p99 < 1 s" + (" (met)" if run["250_to_ack_queued_p99_ms"] < 1000
                                else " (MISSED)") if aim else ""),
            ("250 -> ack file written, p50 / p99 ms",
             f"{run['250_to_ack_written_p50_ms']} / {run['250_to_ack_written_p99_ms']}",
             "outbox sender, folder mode"),
            ("errors", run["errors"], ""),
        ]))
    st = results.get("store")
    if st and "sizes" in st:
        sizes = st["sizes"]
        head = " / ".join(f"{s['tickets']:,}" for s in sizes)
        lines.append(f"3. Store scale (tickets: {head}; growth = large / small cost)")
        rows = []
        for key, label in (("thread_tag_p50_us", "thread by tag, p50 us"),
                           ("thread_references_p50_us", "thread by References, p50 us"),
                           ("thread_new_p50_us", "thread, no signal (new), p50 us"),
                           ("process_new_ms", "process new ticket, ms/mail"),
                           ("process_tag_ms", "process tag reply, ms/mail"),
                           ("process_references_ms", "process References reply, ms/mail"),
                           ("smtp_new_msgs_per_s", "SMTP end to end new, msgs/s"),
                           ("smtp_tag_msgs_per_s", "SMTP end to end tag reply, msgs/s"),
                           ("smtp_references_msgs_per_s", "SMTP end to end References, msgs/s")):
            values = " / ".join(_fmt(s.get(key, float("nan"))) for s in sizes)
            growth = st["growth_large_over_small"].get(key)
            rows.append((label, values, f"growth x{growth}" if growth else ""))
        rows.append(("database size, MiB", " / ".join(_fmt(s["db_mib"]) for s in sizes), ""))
        gen = [s.get("generated_s") for s in sizes]
        if any(gen):
            rows.append(("generated now in, s", " / ".join(_fmt(g or "cached") for g in gen),
                         "storegen, cached under bench/out/"))
        lines.append(_table(rows))
    mem = results.get("memory")
    if mem and "backlog_peak_rss_mib" in mem:
        lines.append("4. Memory (daemon RSS, MiB)")
        lines.append(_table([
            ("after start / warm", f"{mem['rss_at_start_mib']} / {mem['rss_warm_mib']}", ""),
            (f"peak, {mem['big_message_bytes'] / 1e6:g} MB mail over SMTP",
             mem["big_smtp_peak_rss_mib"],
             f"DATA->250 {mem['big_smtp_data_to_250_ms']} ms; {mem['big_smtp_state']}"),
            (f"peak, {mem['big_message_bytes'] / 1e6:g} MB mail processed (LF, via spool)",
             mem["big_spool_peak_rss_mib"],
             f"{mem['big_spool_processed_s']} s; {mem['big_spool_state']}"),
            (f"peak, draining a {mem['backlog']:,}-mail backlog", mem["backlog_peak_rss_mib"],
             f"{mem['backlog_msgs_per_s']} msgs/s processing, "
             f"{mem['backlog_quarantined']} quarantined"),
        ]))
    p = results.get("peer")
    if p and "roundup_pipe_msgs_per_s" in p:
        lines.append(f"5. Peer: the same {p['messages']} mails ({p['roundup']}, sqlite)")
        lines.append(_table([
            ("roundup-mailgw, a process per mail, msgs/s", p["roundup_pipe_msgs_per_s"],
             f"{p['roundup_pipe_issues']} issues, {p['roundup_pipe_mails']} mails"),
            ("roundup-mailgw mailbox, one process, msgs/s", p["roundup_mbox_msgs_per_s"],
             f"{p['roundup_mbox_issues']} issues, {p['roundup_mbox_mails']} mails"),
            ("mailgate ingest, a process per mail, msgs/s", p["mailgate_ingest_msgs_per_s"],
             f"{p['mailgate_ingest_tickets']} tickets, {p['mailgate_ingest_acks']} acks; "
             f"{p['ingest_vs_roundup_pipe']} x roundup-mailgw's pipe"),
            ("... beside a running daemon, msgs/s", p["mailgate_ingest_daemon_msgs_per_s"],
             f"{p['mailgate_ingest_daemon_tickets']} tickets, "
             f"{p['mailgate_ingest_daemon_acks']} acks (daemon processes); "
             f"{p['ingest_daemon_vs_roundup_pipe']} x roundup-mailgw's pipe"),
            ("mailgate serve, SMTP 8 sessions, msgs/s", p["mailgate_smtp_msgs_per_s"],
             f"{p['mailgate_smtp_tickets']} tickets, {p['mailgate_smtp_acks']} acks"),
        ]))
    elif p and "skipped" in p:
        lines.append(f"5. Peer: skipped: {p['skipped']}")
    if results.get("postgres"):
        lines.extend(summary_lines(results["postgres"], _table))
    for name, value in results.items():
        if isinstance(value, dict) and "error" in value:
            lines.append(f"{name}: FAILED: {value['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:10]))
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute "
                        "(once the 100k store is cached)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections (default: all)")
    parser.add_argument("--messages", type=int, help="mails for the throughput section")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency run")
    parser.add_argument("--store-sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="ticket counts for the store section, e.g. 10000,1000000")
    parser.add_argument("--backlog", type=int, help="spool backlog for the memory section")
    parser.add_argument("--peer-messages", type=int, help="mails for the peer section")
    parser.add_argument("--pg-messages", type=int,
                        help="mails per scenario for the postgres section")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder in bench/out")
    parser.add_argument("--processes", type=lambda v: v if v == "auto" else int(v),
                        help="the daemons' [processing] processes, a number or auto "
                             "(default: mailgate's)")
    args = parser.parse_args(argv)
    if args.processes is not None:
        server.CONFIG["processing"] = {"processes": args.processes}
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    plan = _plan(args)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = time.strftime("%Y%m%d%H%M%S")
    work = OUT / f"run-{tag}"
    work.mkdir()
    env = _environment()
    compile_tree()
    print(f"mailgate bench ({'quick' if args.quick else 'full'}): {', '.join(only)}; "
          f"{env['cpus']} CPUs, load {env['loadavg_at_start']:.2f}, commit {env['commit']}"
          + (f" + {env['mailgate_files_changed_since_commit']} changed file(s) in mailgate/"
             if env["mailgate_files_changed_since_commit"] else ""), flush=True)
    if env["loadavg_at_start"] > 0.7:
        print("  warning: the machine is busy (load average above 0.7): figures will be low",
              flush=True)
    results: dict[str, Any] = {}
    runners = {
        "throughput": lambda: throughput(work / "throughput", plan["throughput_messages"], tag),
        "latency": lambda: {"runs": [latency(work / f"latency-{rate:g}", rate,
                                             plan["latency_seconds"], tag)
                                     for rate in plan["latency_rates"]]},
        "store": lambda: store_scale(work / "store", plan["store_sizes"], plan["store_lookups"],
                                     plan["store_processed"], plan["store_smtp"],
                                     plan["store_budget_s"], tag),
        "memory": lambda: memory(work / "memory", plan["big_bytes"], plan["backlog"], tag),
        "peer": lambda: peer(work / "peer", plan["peer_messages"], tag),
        "postgres": lambda: postgres(work / "postgres", plan["postgres_messages"], tag),
    }
    for name in SECTIONS:
        if name not in only:
            continue
        started = time.perf_counter()
        cpu0 = _cpu()
        print(f"- {name} ...", end=" ", flush=True)
        try:
            results[name] = runners[name]()
        except Skipped as exc:
            results[name] = {"skipped": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["section_s"] = round(time.perf_counter() - started, 1)
        cpu1 = _cpu()
        other = ((cpu1[1] - cpu0[1]) - (cpu1[2] - cpu0[2])) / (cpu1[0] - cpu0[0])
        results[name]["other_cpu_cores"] = round(max(other, 0.0), 2)
        print(f"{results[name]['section_s']} s (other processes on the machine used "
              f"{other:.2f} of {os.cpu_count()} cores meanwhile)", flush=True)
    print()
    print(summary(results))
    record = {"bench": "mailgate", "mode": "quick" if args.quick else "full",
              "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "env": env, "plan": plan, **results}
    line = json.dumps(record, separators=(",", ":"), default=str)
    (OUT / "last.json").write_text(line + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(line)
    failed = any("error" in v for v in results.values() if isinstance(v, dict))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
