"""Sections 1, 2 and 4: intake throughput against a no-op sink, latency, memory."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load import Mail, make_mail, percentile, run_closed, run_open, send
from server import Mailgate, Sink, children, cpu_of, cpu_seconds, reset_peak, role_of, rss_kib

from mailgate.store import Store

HOST = "127.0.0.1"
SESSIONS = 8
WARMUP = 50


def _warm(port: int, run: str) -> None:
    """A few mails first: imports, template compilation, page cache, not measured."""
    mails = [make_mail(run, i) for i in range(WARMUP)]
    result = asyncio.run(run_closed(HOST, port, mails, SESSIONS))
    if result.errors:
        raise RuntimeError(f"warm-up failed: {result.errors[0].error}")


def _max_spool_id(mg: Mailgate) -> int:
    conn = mg.connect()
    try:
        return conn.execute("SELECT coalesce(max(id), 0) FROM spool").fetchone()[0]
    finally:
        conn.close()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _sink_run(folder: Path, messages: int, tag: str, out: dict[str, Any],
              persistent: bool) -> None:
    sink = Sink(folder)
    try:
        _warm(sink.port, f"{tag}w")
        mails = [make_mail(tag, i) for i in range(messages)]
        cpu0, client0 = cpu_seconds(sink.pid), time.process_time()
        run = asyncio.run(run_closed(HOST, sink.port, mails, SESSIONS, persistent))
        out.setdefault("sink_runs_msgs_per_s", []).append(round(messages / run.seconds, 1))
        out.setdefault("sink_runs_cpu_s", []).append(round(cpu_seconds(sink.pid) - cpu0, 2))
        out["client_cpu_s_sink"] = round(time.process_time() - client0, 2)
        out["sink_errors"] = out.get("sink_errors", 0) + len(run.errors)
    finally:
        sink.stop()


def throughput(work: Path, messages: int, tag: str) -> dict[str, Any]:
    """Both client modes: a new connection per mail (the figures at the top level) and 8
    kept connections (under ``persistent``), each against the sink in the same run."""
    out = throughput_mode(work / "per-mail", messages, tag, persistent=False)
    out["persistent"] = throughput_mode(work / "persistent", messages, f"{tag}p",
                                        persistent=True)
    return out


def throughput_mode(work: Path, messages: int, tag: str, persistent: bool) -> dict[str, Any]:
    """Distinct 4 KB mails over 8 sessions, a new connection per mail or kept connections:
    sink vs mailgate, counted to the last 250, the spool drained, the last ack written."""
    out: dict[str, Any] = {"messages": messages, "sessions": SESSIONS, "size": 4096,
                           "connection_per_mail": not persistent}
    _sink_run(work / "sink-before", messages, f"{tag}-s1", out, persistent)
    mg = Mailgate(work / "mailgate")
    try:
        _warm(mg.port, f"{tag}-mw")
        mg.wait_drained()
        before = _max_spool_id(mg)
        counts0 = mg.counts()
        mails = [make_mail(f"{tag}-m", i) for i in range(messages)]
        reset_peak(mg.pid)
        cpu0, client0 = cpu_seconds(mg.pid), time.process_time()
        own0 = cpu_seconds(mg.pid, with_children=False)
        senders = [p for p in children(mg.pid) if role_of(p) == "sender"]
        sender0 = cpu_of(senders)
        run = asyncio.run(run_closed(HOST, mg.port, mails, SESSIONS, persistent))
        client_cpu = time.process_time() - client0
        drained = mg.wait_drained(spool_from=before)
        counts = mg.counts()
        mg.wait_sent()
        all_sent = time.perf_counter()
        # CPU until every ack is written: all the work the mails caused, the sender's too
        cpu = cpu_seconds(mg.pid) - cpu0
        own = cpu_seconds(mg.pid, with_children=False) - own0
        sender = cpu_of(senders) - sender0
        out["mailgate_intake_msgs_per_s"] = round(messages / run.seconds, 1)
        out["mailgate_msgs_per_s"] = round(messages / (drained - run.started), 1)
        out["mailgate_with_acks_written_msgs_per_s"] = round(messages / (all_sent - run.started),
                                                             1)
        out["mailgate_cpu_s"] = round(cpu, 2)
        out["client_cpu_s_mailgate"] = round(client_cpu, 2)
        out["mailgate_cpu_ms_per_msg"] = round(cpu / messages * 1000, 3)
        # the daemon (listener, spooler, sender) and its processor processes apart
        out["mailgate_daemon_cpu_ms_per_msg"] = round(own / messages * 1000, 3)
        out["mailgate_processors_cpu_ms_per_msg"] = round((cpu - own - sender) / messages
                                                          * 1000, 3)
        out["mailgate_sender_cpu_ms_per_msg"] = round(sender / messages * 1000, 3)
        out["mailgate_errors"] = len(run.errors)
        out["mailgate_acks_queued"] = counts["outbox"] - counts0["outbox"]
        out["mailgate_quarantined"] = counts.get("spool_quarantined", 0)
        out["mailgate_peak_rss_mib"] = round(rss_kib(mg.pid)[1] / 1024, 1)
        if run.errors:
            out["first_error"] = run.errors[0].error
    finally:
        mg.stop()
    _sink_run(work / "sink-after", messages, f"{tag}-s2", out, persistent)
    # The sink is measured before and after mailgate; the better run is the ceiling (a
    # burst of foreign load on the machine can only make a run slower).
    out["sink_msgs_per_s"] = max(out["sink_runs_msgs_per_s"])
    out["sink_cpu_ms_per_msg"] = round(min(out["sink_runs_cpu_s"]) / messages * 1000, 3)
    out["ratio"] = round(out["mailgate_msgs_per_s"] / out["sink_msgs_per_s"], 3)
    out["ratio_acks_written"] = round(out["mailgate_with_acks_written_msgs_per_s"]
                                      / out["sink_msgs_per_s"], 3)
    # CPU cost per mail, sink over mailgate: much less sensitive to other load than rates.
    out["cpu_ratio"] = round(out["sink_cpu_ms_per_msg"] / out["mailgate_cpu_ms_per_msg"], 3)
    out["intake_ratio"] = round(out["mailgate_intake_msgs_per_s"] / out["sink_msgs_per_s"], 3)
    return out


def _instant(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def latency(work: Path, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    """Open-loop arrivals at ``rate`` mails/s: DATA->250 and 250->ack queued/written."""
    count = int(rate * seconds)
    out: dict[str, Any] = {"rate": rate, "messages": count}
    mg = Mailgate(work)
    try:
        _warm(mg.port, f"{tag}-lw{rate:g}")
        mg.wait_drained()
        mails = [make_mail(f"{tag}-l{rate:g}", i) for i in range(count)]
        run = asyncio.run(run_open(HOST, mg.port, mails, rate))
        mg.wait_drained()
        mg.wait_sent()
        spool_ids = {}
        for result in run.ok:
            spool_ids[int(result.reply.rsplit(" ", 1)[1])] = result
        conn = mg.connect()
        rows = conn.execute(
            "SELECT s.id, s.processed_at, o.created_at, o.id FROM spool s"
            " LEFT JOIN outbox o ON o.ticket_id = s.ticket_id AND o.kind = 'ack'"
            " WHERE s.id > ?", (min(spool_ids) - 1,)).fetchall()
        conn.close()
        data_250, queued, written, processed = [], [], [], []
        for result in run.ok:
            data_250.append(result.data_to_reply)
        for spool_id, processed_at, created_at, outbox_id in rows:
            result = spool_ids.get(spool_id)
            if result is None or created_at is None:
                continue
            processed.append(_instant(processed_at) - result.reply_wall)
            queued.append(_instant(created_at) - result.reply_wall)
            eml = mg.outbox / f"{outbox_id:08d}.eml"
            written.append(os.stat(eml).st_mtime - result.reply_wall)
        out["achieved_rate"] = round(count / run.seconds, 1)
        out["errors"] = len(run.errors)
        if run.errors:
            out["first_error"] = run.errors[0].error
        out["acks"] = len(queued)
        for name, values in (("data_to_250", data_250), ("250_to_ack_queued", queued),
                             ("250_to_ack_written", written)):
            out[f"{name}_p50_ms"] = _ms(percentile(values, 50))
            out[f"{name}_p99_ms"] = _ms(percentile(values, 99))
            out[f"{name}_max_ms"] = _ms(max(values) if values else float("nan"))
    finally:
        mg.stop()
    return out


def big_mail(size: int, tag: str) -> Mail:
    """A customer mail of ``size`` bytes: short text and one base64 PDF attachment."""
    head = make_mail(tag, 0, size=600)
    boundary = "=_bench_boundary_0123456789"
    text = head.data.split(b"\r\n\r\n", 1)[1]
    headers = head.data.split(b"\r\n\r\n", 1)[0].replace(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit",
        f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())
    parts = [headers, b"", f"--{boundary}".encode(),
             b"Content-Type: text/plain; charset=utf-8", b"", text,
             f"--{boundary}".encode(), b"Content-Type: application/pdf",
             b"Content-Disposition: attachment; filename=\"scan.pdf\"",
             b"Content-Transfer-Encoding: base64", b""]
    prefix = b"\r\n".join(parts) + b"\r\n"
    suffix = f"\r\n--{boundary}--\r\n".encode()
    binary = random.Random(1).randbytes((size - len(prefix) - len(suffix)) * 57 // 78)
    encoded = base64.encodebytes(binary).replace(b"\n", b"\r\n")
    data = prefix + encoded.rstrip(b"\r\n") + suffix
    return Mail(head.key, head.mail_from, head.rcpt, data, head.message_id)


class _Sampler(threading.Thread):
    """Samples the RSS of a process every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid)[0])
            except OSError:
                return
            self.halt.wait(self.interval)


def _wait_row(mg: Mailgate, spool_id: int, timeout: float = 600.0) -> tuple[str, str | None]:
    """Wait until the processor is done with one spool row: (state, reason)."""
    deadline = time.monotonic() + timeout
    while True:
        state, _processed, reason = mg.spool_row(spool_id)
        if state != "new":
            return state, reason
        mg.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"spool row {spool_id} not processed after {timeout}s")
        time.sleep(0.01)


def _peak_during(mg: Mailgate, action: Any) -> tuple[float, Any]:
    """Run ``action()``; return (peak RSS in MiB of the daemon meanwhile, its result)."""
    reset_peak(mg.pid)
    sampler = _Sampler(mg.pid)
    sampler.start()
    try:
        result = action()
    finally:
        sampler.halt.set()
        sampler.join()
    return round(max(rss_kib(mg.pid)[1], sampler.peak) / 1024, 1), result


def memory(work: Path, big_size: int, backlog: int, tag: str) -> dict[str, Any]:
    """Peak RSS of the daemon receiving one big mail, then draining a spool backlog."""
    out: dict[str, Any] = {"big_message_bytes": big_size, "backlog": backlog}
    mg = Mailgate(work / "memory", max_size=32 * 1024 * 1024)
    try:
        out["rss_at_start_mib"] = round(rss_kib(mg.pid)[0] / 1024, 1)
        _warm(mg.port, f"{tag}-bw")
        mg.wait_drained()
        mg.wait_sent()
        out["rss_warm_mib"] = round(rss_kib(mg.pid)[0] / 1024, 1)
        out["peak_reset_supported"] = reset_peak(mg.pid)

        # (a) over SMTP, CRLF line ends as every MTA sends them.
        mail = big_mail(big_size, f"{tag}-big")

        def over_smtp() -> tuple[Any, str, str | None, float]:
            started = time.perf_counter()
            result = asyncio.run(send(HOST, mg.port, mail, timeout=300))
            if result.code != 250:
                raise RuntimeError(f"big mail refused: {result.error}")
            state, reason = _wait_row(mg, int(result.reply.rsplit(" ", 1)[1]))
            mg.wait_sent()
            return result, state, reason, time.perf_counter() - started

        peak, (result, state, reason, seconds) = _peak_during(mg, over_smtp)
        out["big_smtp_peak_rss_mib"] = peak
        out["big_smtp_data_to_250_ms"] = _ms(result.data_to_reply)
        out["big_smtp_total_s"] = round(seconds, 2)
        out["big_smtp_state"] = state if not reason else f"{state}: {reason}"

        # (b) the same mail with LF line ends committed straight into the spool, as
        # `mailgate ingest` would store a piped message: the processing path (parse,
        # attachment, ticket, ack) even when the SMTP copy was quarantined.
        lf = mail.data.replace(b"\r\n", b"\n").replace(b"bench.", b"bench-lf.", 1)

        def via_spool() -> tuple[str, str | None, float]:
            store = Store.open(mg.db, migrate=False)
            try:
                with store.transaction():
                    spool_id = store.spool_add(lf, channel="pipe", received_at=datetime.now(UTC),
                                               source="bench", mail_from=mail.mail_from,
                                               rcpt_tos=[mail.rcpt])
            finally:
                store.close()
            started = time.perf_counter()
            state, reason = _wait_row(mg, spool_id)  # picked up at the next poll (<= 1 s)
            mg.wait_sent()
            return state, reason, time.perf_counter() - started

        peak, (state, reason, seconds) = _peak_during(mg, via_spool)
        out["big_spool_peak_rss_mib"] = peak
        out["big_spool_processed_s"] = round(seconds, 2)
        out["big_spool_state"] = state if not reason else f"{state}: {reason}"
        out["rss_after_big_mib"] = round(rss_kib(mg.pid)[0] / 1024, 1)
        mail = lf = None  # type: ignore[assignment]  # free the 25 MB copies
    finally:
        mg.stop()

    # The backlog: rows committed straight into the spool (as after an outage of the
    # processor), then a fresh daemon started on it, draining while we sample its RSS.
    store = Store.open(mg.db, migrate=False)
    try:
        with store.transaction():
            now = datetime.now(UTC)
            for i in range(backlog):
                m = make_mail(f"{tag}-q", i)
                store.spool_add(m.data, channel="smtp", received_at=now, source="backlog",
                                mail_from=m.mail_from, rcpt_tos=[m.rcpt])
    finally:
        store.close()
    sampler = None
    mg.start()
    try:
        sampler = _Sampler(mg.pid)
        sampler.start()
        mg.wait_drained(timeout=1800)
        sampler.halt.set()
        sampler.join()
        conn = mg.connect()
        first, last = conn.execute("SELECT min(processed_at), max(processed_at) FROM spool"
                                   " WHERE source = 'backlog'").fetchone()
        quarantined = conn.execute("SELECT count(*) FROM spool WHERE source = 'backlog'"
                                   " AND state = 'quarantined'").fetchone()[0]
        conn.close()
        # processed_at is taken as each message starts: scale the span by n/(n-1).
        span = (_instant(last) - _instant(first)) * backlog / max(backlog - 1, 1)
        out["backlog_drain_s"] = round(span, 2)
        out["backlog_msgs_per_s"] = round(backlog / span, 1)
        out["backlog_peak_rss_mib"] = round(max(rss_kib(mg.pid)[1], sampler.peak) / 1024, 1)
        out["backlog_quarantined"] = quarantined
    finally:
        mg.stop()
    return out
