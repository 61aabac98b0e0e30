"""Generate a large mailgate database quickly: N tickets with their history.

    .venv/bin/python bench/storegen.py --tickets 1000000 bench/out/store-1000000.db

The schema is the real one: ``mailgate.store.Store.open`` creates (migrates)
the file first, then rows are bulk-inserted with plain SQL (``executemany`` in
transactions of 50,000 tickets, ``synchronous=OFF`` and the rollback journal
while loading, WAL again at the end; no ``ANALYZE``, as in production). Per
ticket, as if mailgate had handled it: a spool row (state ``done``), the
customer's message and our acknowledgement (with a Message-ID each), one
participant, the ``created`` and ``acknowledged`` events, the sent outbox row
and, when the table exists, the first-response SLA clock. 80% of the tickets
are closed (``status_of``). Every third ticket also has a customer reply
(message + ``threaded`` event), so References lookups hit a realistic mix.

Bodies and raw bytes are shortened (``--body-bytes``, 128 by default) so that
a million tickets fit in about 3 GB: row counts, key sizes and indexes are
those of a real store, only the payload columns are smaller. Message-IDs are
pseudo-random hex, as real ones are, so the unique index is filled in random
order. About 10 million rows for 1M tickets; on the 2-core benchmark machine
that takes 1.5-2 minutes (100k: 7 s).

``message_id_of(ticket, kind)`` gives the Message-IDs, so the benchmark can
address any historic ticket by tag (``[SUP-000123]``) or by References.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mailgate.store import Store  # noqa: E402

CHUNK = 50_000
_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
DOMAIN = "example.com"


def _hex(ticket: int, kind: int) -> str:
    return f"{((ticket * 4 + kind) * _MIX) & _MASK:016x}"


def message_id_of(ticket: int, kind: str) -> str:
    """The Message-ID of a generated ticket's ``in`` / ``ack`` / ``reply`` message."""
    if kind == "ack":
        return f"<mailgate.{_hex(ticket, 1)}{ticket:08x}@{DOMAIN}>"
    if kind == "reply":
        return f"<{_hex(ticket, 2)}.{ticket}@mail.example.org>"
    return f"<{_hex(ticket, 0)}.{ticket}@mail.example.org>"


STATUSES = ("closed",) * 8 + ("open", "awaiting_reply")


def status_of(ticket: int) -> str:
    """The status a generated ticket has: 80% closed, the rest open or awaiting a reply."""
    return STATUSES[ticket % 10]


def reference(ticket: int, prefix: str = "SUP", width: int = 6) -> str:
    return f"{prefix}-{ticket:0{width}d}"


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _ts(base: datetime, seconds: float) -> str:
    return (base + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def generate(path: Path, tickets: int, *, body_bytes: int = 128, prefix: str = "SUP",
             width: int = 6, progress: bool = True) -> dict[str, float]:
    """Create ``path`` with ``tickets`` tickets (ids 1..N); return timing and row counts."""
    started = time.perf_counter()
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Store.open(path).close()  # the real schema, all migrations applied
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")  # 1 GB of page cache while loading
    conn.execute("PRAGMA temp_store = MEMORY")
    has_clocks = bool(_columns(conn, "sla_clocks"))
    filler = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
              * (body_bytes // 60 + 1))[:body_bytes]
    raw = filler.encode()
    base = datetime(2020, 1, 1, tzinfo=UTC)
    span = 6 * 365 * 86400 / max(tickets, 1)  # spread over six years
    counts = dict.fromkeys(("tickets", "messages", "events", "participants", "spool",
                            "outbox", "sla_clocks"), 0)

    def chunks() -> Iterator[range]:
        for start in range(1, tickets + 1, CHUNK):
            yield range(start, min(start + CHUNK, tickets + 1))

    for ids in chunks():
        t_rows, s_rows, m_rows, p_rows, e_rows, o_rows, c_rows = [], [], [], [], [], [], []
        for n in ids:
            at = _ts(base, n * span)
            later = _ts(base, n * span + 30)
            due = _ts(base, n * span + 8 * 3600)
            sender = f"customer{n % 200_000}@example.org"
            subject = f"Historic request {n}: printer problem"
            status = status_of(n)
            t_rows.append((n, reference(n, prefix, width), status, subject, sender,
                           f"Customer {n % 200_000}", "standard", due, at, later,
                           later if status == "closed" else None))
            s_rows.append((n, at, "smtp", "smtp:bench", sender, '["support@example.com"]',
                           len(raw), "done", 1, at, message_id_of(n, "in"), n))
            m_id_in, m_id_ack = message_id_of(n, "in"), message_id_of(n, "ack")
            name = f"Customer {n % 200_000}"
            tagged = f"[{reference(n, prefix, width)}] {subject}"
            m_rows.append((n, m_id_in, "in", "customer", n, None, sender, name, at, subject,
                           filler, None, at))
            m_rows.append((n, m_id_ack, "out", "ack", None, n, f"support@{DOMAIN}", None, at,
                           tagged, filler, m_id_in, at))
            p_rows.append((n, sender, name, "requester", at))
            e_rows.append((n, at, sender, "created", "new ticket (generated)", m_id_in))
            e_rows.append((n, at, "mailgate", "acknowledged", f"ack queued to {sender}",
                           m_id_ack))
            o_rows.append((n, n, m_id_ack, "ack", f"support@{DOMAIN}", f'["{sender}"]', raw,
                           "sent", 1, at, at, at))
            if n % 3 == 0:
                m_rows.append((n, message_id_of(n, "reply"), "in", "customer", None, None,
                               sender, name, later, f"Re: {tagged}", filler, m_id_ack, later))
                e_rows.append((n, later, sender, "threaded", "reply joined (generated)",
                               message_id_of(n, "reply")))
            if has_clocks:
                c_rows.append((n, "first_response", at, due,
                               later if status == "closed" else None,
                               "stopped" if status == "closed" else "running"))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tickets (id, reference, status, subject, requester, requester_name,"
            " sla_level, first_response_due, created_at, updated_at, closed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", t_rows)
        conn.executemany(
            "INSERT INTO spool (id, received_at, channel, source, mail_from, rcpt_tos,"
            " size, state, attempts, processed_at, message_id, ticket_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", s_rows)
        conn.executemany("INSERT INTO spool_raw (id, raw) VALUES (?, ?)",
                         [(row[0], raw) for row in s_rows])
        conn.executemany(
            "INSERT INTO messages (ticket_id, message_id, direction, kind, spool_id, outbox_id,"
            " from_addr, from_name, date, subject, body_text, in_reply_to, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", m_rows)
        conn.executemany(
            "INSERT INTO participants (ticket_id, address, name, role, added_at)"
            " VALUES (?, ?, ?, ?, ?)", p_rows)
        conn.executemany(
            "INSERT INTO events (ticket_id, at, actor, kind, detail, message_id)"
            " VALUES (?, ?, ?, ?, ?, ?)", e_rows)
        conn.executemany(
            "INSERT INTO outbox (id, ticket_id, message_id, kind, mail_from, rcpt_tos, raw,"
            " state, attempts, next_attempt_at, created_at, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", o_rows)
        if c_rows:
            conn.executemany(
                "INSERT INTO sla_clocks (ticket_id, kind, started_at, due_at, stopped_at,"
                " state) VALUES (?, ?, ?, ?, ?, ?)", c_rows)
        conn.execute("COMMIT")
        for key, rows in (("tickets", t_rows), ("messages", m_rows), ("events", e_rows),
                          ("participants", p_rows), ("spool", s_rows), ("outbox", o_rows),
                          ("sla_clocks", c_rows)):
            counts[key] += len(rows)
        if progress and tickets >= 200_000:
            print(f"  storegen: {ids[-1]:,} / {tickets:,} tickets"
                  f" ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    # No ANALYZE: mailgate never runs it, so the query plans are those of production.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    result: dict[str, float] = {"seconds": round(time.perf_counter() - started, 1),
                                "bytes": path.stat().st_size}
    result.update(counts)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate a large mailgate database.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--body-bytes", type=int, default=128)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    result = generate(args.path, args.tickets, body_bytes=args.body_bytes)
    print(" ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                   for k, v in result.items()))


if __name__ == "__main__":
    main()
