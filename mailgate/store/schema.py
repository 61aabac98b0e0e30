"""Versioned schema migrations.

Each migration is a list of statements applied in one transaction and
recorded in ``schema_migrations``. The SQL is kept to what SQLite and
PostgreSQL share; the few spots that differ (auto-increment keys, blobs,
floating point) are spelled through the dialect table, so both backends run
the same list. Instants are ISO 8601 text on both (see ``mailgate.clock``).
A released migration never changes its effect on a database: a change is a new one.

Design notes that matter for several daemons on one database:
- ``spool`` holds the exact raw bytes of every accepted message for good;
  its ``state`` is the processing queue and the quarantine at once.
- ``spool``, ``outbox`` rows are *claimed* with a lease (``claimed_by``,
  ``lease_until``): a claim by a dead node expires and is taken over. An IMAP
  account is claimed the same way, by its row in ``imap_leases``.
- ``messages.message_id`` is unique: a replayed message cannot be stored twice
  even if two processors race.
"""

from __future__ import annotations

DIALECTS = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "real": "REAL"},
    # REAL is single precision on PostgreSQL: 0.8 would not read back as 0.8.
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA",
                   "real": "DOUBLE PRECISION"},
}

# The statuses there were when migration 8 was written (a migration never changes).
_STATUSES_OF_8 = ("open", "in_progress", "awaiting_reply", "on_hold", "planned", "acceptance",
                  "waiting_for_deploy", "closed")

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "spool, tickets, messages, events, participants, attachments, outbox",
        [
            """CREATE TABLE spool (
                id {serial},
                received_at TEXT NOT NULL,
                channel TEXT NOT NULL,
                source TEXT,
                mail_from TEXT,
                rcpt_tos TEXT NOT NULL DEFAULT '[]',
                raw {blob} NOT NULL,
                size INTEGER NOT NULL,
                state TEXT NOT NULL DEFAULT 'new',
                attempts INTEGER NOT NULL DEFAULT 0,
                claimed_by TEXT,
                lease_until TEXT,
                processed_at TEXT,
                message_id TEXT,
                ticket_id INTEGER,
                reason TEXT
            )""",
            "CREATE INDEX spool_state ON spool (state, id)",
            "CREATE INDEX spool_message_id ON spool (message_id)",
            """CREATE TABLE tickets (
                id {serial},
                reference TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                subject TEXT NOT NULL,
                requester TEXT NOT NULL,
                requester_name TEXT,
                sla_level TEXT,
                first_response_due TEXT,
                first_response_at TEXT,
                resolution_due TEXT,
                queue TEXT,
                category TEXT,
                priority TEXT,
                assignee TEXT,
                language TEXT,
                merged_into INTEGER REFERENCES tickets (id),
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                closed_at TEXT
            )""",
            "CREATE INDEX tickets_status ON tickets (status, updated_at)",
            """CREATE TABLE messages (
                id {serial},
                ticket_id INTEGER NOT NULL REFERENCES tickets (id),
                message_id TEXT NOT NULL UNIQUE,
                direction TEXT NOT NULL,
                kind TEXT NOT NULL,
                spool_id INTEGER,
                outbox_id INTEGER,
                from_addr TEXT,
                from_name TEXT,
                to_addrs TEXT NOT NULL DEFAULT '[]',
                cc_addrs TEXT NOT NULL DEFAULT '[]',
                date TEXT,
                subject TEXT,
                body_text TEXT,
                in_reply_to TEXT,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX messages_ticket ON messages (ticket_id, id)",
            """CREATE TABLE attachments (
                id {serial},
                message_row INTEGER NOT NULL REFERENCES messages (id),
                filename TEXT NOT NULL,
                content_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL
            )""",
            "CREATE INDEX attachments_message ON attachments (message_row)",
            """CREATE TABLE blobs (
                sha256 TEXT PRIMARY KEY,
                data {blob} NOT NULL
            )""",
            """CREATE TABLE participants (
                ticket_id INTEGER NOT NULL REFERENCES tickets (id),
                address TEXT NOT NULL,
                name TEXT,
                role TEXT NOT NULL,
                added_at TEXT NOT NULL,
                PRIMARY KEY (ticket_id, address)
            )""",
            """CREATE TABLE events (
                id {serial},
                ticket_id INTEGER NOT NULL REFERENCES tickets (id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                kind TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                message_id TEXT
            )""",
            "CREATE INDEX events_ticket ON events (ticket_id, id)",
            """CREATE TABLE outbox (
                id {serial},
                ticket_id INTEGER REFERENCES tickets (id),
                message_id TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                mail_from TEXT NOT NULL,
                rcpt_tos TEXT NOT NULL,
                raw {blob} NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT,
                claimed_by TEXT,
                lease_until TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT
            )""",
            "CREATE INDEX outbox_state ON outbox (state, next_attempt_at)",
            "CREATE INDEX outbox_ticket ON outbox (ticket_id, id)",
            """CREATE TABLE imap_cursors (
                account TEXT NOT NULL,
                folder TEXT NOT NULL,
                uidvalidity INTEGER,
                last_uid INTEGER NOT NULL DEFAULT 0,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (account, folder)
            )""",
        ],
    ),
    (
        2,
        "SLA clocks, reminders, custom fields",
        [
            "ALTER TABLE tickets ADD COLUMN fields TEXT NOT NULL DEFAULT '{{}}'",
            """CREATE TABLE sla_clocks (
                ticket_id INTEGER NOT NULL REFERENCES tickets (id),
                kind TEXT NOT NULL,
                started_at TEXT NOT NULL,
                paused_seconds {real} NOT NULL DEFAULT 0,
                paused_at TEXT,
                due_at TEXT,
                stopped_at TEXT,
                state TEXT NOT NULL,
                breached_at TEXT,
                PRIMARY KEY (ticket_id, kind)
            )""",
            """CREATE TABLE reminders (
                id {serial},
                ticket_id INTEGER NOT NULL REFERENCES tickets (id),
                kind TEXT NOT NULL,
                point {real} NOT NULL,
                fire_at TEXT NOT NULL,
                due_at TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                claimed_by TEXT,
                lease_until TEXT,
                sent_at TEXT
            )""",
            "CREATE INDEX reminders_due ON reminders (state, fire_at)",
            "CREATE INDEX reminders_ticket ON reminders (ticket_id, kind)",
        ],
    ),
    (
        3,
        "conversations: time spent, duplicate lookups",
        [
            "ALTER TABLE tickets ADD COLUMN time_spent INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX tickets_requester ON tickets (requester, created_at)",
        ],
    ),
    (
        4,
        "alert correlation keys",
        [
            "ALTER TABLE tickets ADD COLUMN correlation_key TEXT",
            "CREATE INDEX tickets_correlation ON tickets (correlation_key, status)",
        ],
    ),
    (
        5,
        "indexes for the loop cap and the metrics",
        [
            # count_outbox_to reads only the cap's window, not the whole outbox
            # (bench: 322 ms per new ticket at 1M tickets without it).
            "CREATE INDEX outbox_created ON outbox (created_at)",
            "CREATE INDEX events_kind ON events (kind)",
        ],
    ),
    (
        6,
        "the loop cap's own ledger",
        [
            # one row per automatic mail and recipient: the cap is an index range per
            # address (the outbox window grew with the mail rate: 1 ms per ack at 100/s).
            # Counts restart at this migration: the cap forgets at most one window.
            """CREATE TABLE auto_replies (
                id {serial},
                address TEXT NOT NULL,
                sent_at TEXT NOT NULL
            )""",
            "CREATE INDEX auto_replies_address ON auto_replies (address, sent_at)",
            "CREATE INDEX auto_replies_sent ON auto_replies (sent_at)",
        ],
    ),
    (
        7,
        "IMAP account leases: one node reads an account at a time",
        [
            # One row per account name, kept once created; claimed_by/lease_until follow
            # the claim convention of spool, outbox and reminders (NULL: free).
            """CREATE TABLE imap_leases (
                account TEXT NOT NULL PRIMARY KEY,
                claimed_by TEXT,
                lease_until TEXT,
                acquired_at TEXT,
                renewed_at TEXT
            )""",
        ],
    ),
    (
        8,
        "what the pipeline decided, in columns: metrics read no event text",
        [
            # How an incoming message found its ticket (tag, in-reply-to, references,
            # token, alert, duplicate, bounce; none for a new ticket) and which step
            # decided what (JSON [[step, decision], ...]), written with the message.
            "ALTER TABLE messages ADD COLUMN threaded_by TEXT",
            "ALTER TABLE messages ADD COLUMN decisions TEXT",
            # The status a status change left (the reopen count is from_status = closed).
            "ALTER TABLE events ADD COLUMN from_status TEXT",
            # Earlier rows: the same facts, read once from the event text they were in.
            """UPDATE messages SET threaded_by = (
                SELECT CASE WHEN e.detail LIKE '%subject tag%' THEN 'tag'
                            WHEN e.detail LIKE '%in-reply-to%' THEN 'in-reply-to'
                            WHEN e.detail LIKE '%references%' THEN 'references'
                            WHEN e.detail LIKE '%reply address token%' THEN 'token' END
                FROM events e WHERE e.ticket_id = messages.ticket_id
                AND e.message_id = messages.message_id AND e.kind = 'threaded' LIMIT 1)
            WHERE direction = 'in'""",
            "UPDATE events SET from_status = CASE "
            + " ".join(f"WHEN detail LIKE '{x} -> %' THEN '{x}'" for x in _STATUSES_OF_8)
            + " END WHERE kind = 'status_changed'",
            "CREATE INDEX messages_threaded ON messages (threaded_by)",
            "CREATE INDEX events_from_status ON events (from_status)",
        ],
    ),
    (
        9,
        "satisfaction ratings: the latest one per ticket",
        [
            # One row per rated ticket (a new rating replaces it; the events keep each one).
            # ``how``: token (a signed mailto link), digit or word (a reply).
            """CREATE TABLE ratings (
                ticket_id INTEGER NOT NULL PRIMARY KEY REFERENCES tickets (id),
                rating INTEGER NOT NULL,
                rated_at TEXT NOT NULL,
                how TEXT NOT NULL,
                message_id TEXT
            )""",
            "CREATE INDEX ratings_rating ON ratings (rating)",
        ],
    ),
    (
        11,
        "SLA clocks remember the reminders sent for them",
        [
            # The highest reminder point sent for the clock (0.75, 1.0 the breach, 2.0, 3.0
            # the repeats) and when: a re-plan (pause, resume, reload) never plans it again,
            # and a repeat after a breach continues from the last one.
            "ALTER TABLE sla_clocks ADD COLUMN last_point {real}",
            "ALTER TABLE sla_clocks ADD COLUMN last_reminder_at TEXT",
            """UPDATE sla_clocks SET
                last_point = (SELECT MAX(r.point) FROM reminders r
                    WHERE r.ticket_id = sla_clocks.ticket_id AND r.kind = sla_clocks.kind
                    AND r.state = 'sent'),
                last_reminder_at = (SELECT MAX(r.sent_at) FROM reminders r
                    WHERE r.ticket_id = sla_clocks.ticket_id AND r.kind = sla_clocks.kind
                    AND r.state = 'sent')""",
        ],
    ),
]


def statements(version: int, dialect: str) -> list[str]:
    """The SQL of one migration, spelled for ``dialect``."""
    words = DIALECTS[dialect]
    for number, _title, sql in MIGRATIONS:
        if number == version:
            return [s.format(**words) for s in sql]
    raise KeyError(version)


LATEST = MIGRATIONS[-1][0]
