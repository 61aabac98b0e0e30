"""Prometheus metrics, derived from the database at scrape time.

Why from the database and not from in-process counters: several daemons may
share one database, and a restart would reset process counters. Counting the
events, spool and outbox rows at scrape time gives every scrape the
cluster-wide truth, and the figures survive restarts. The price is a few
``GROUP BY`` queries per scrape (milliseconds for a year of mail on SQLite);
they run on a worker thread, never on the event loop.

Counters are derived from rows, so deleting a quarantined message
(``mailgate quarantine delete``) lowers ``mailgate_messages_received_total``;
Prometheus treats that as a counter reset, which ``rate()`` handles.

Process-local figures (config reloads) are kept by the daemon and passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from mailgate import clock

# Event kinds exported as their own counters: (kind, metric name, help text).
EVENT_COUNTERS = (
    ("created", "mailgate_tickets_created", "Tickets created from mail."),
    ("thanks_suppressed", "mailgate_thanks_suppressed",
     "Thank-you replies to closed tickets that did not reopen them."),
    ("acknowledged", "mailgate_acknowledgements", "Acknowledgements queued for new tickets."),
    ("automatic_mail", "mailgate_automatic_mail",
     "Automatic mail (bounces, out-of-office, lists) recorded without an answer."),
    ("sla_reminder", "mailgate_sla_reminders", "SLA reminders fired."),
    ("sla_breached", "mailgate_sla_breaches", "SLA deadlines breached."),
    ("rating_requested", "mailgate_ratings_requested",
     "Resolved mails that asked the customer for a satisfaction rating."),
    ("rated", "mailgate_ratings_received", "Satisfaction ratings received (each counts)."),
    ("auto_closed", "mailgate_tickets_auto_closed",
     "Tickets closed by auto-close after waiting for the customer's reply."),
    ("delivery_deferred", "mailgate_outbound_deferrals",
     "Temporary delivery failures of outgoing mail (each retry counts)."),
)


class DatabaseCollector:
    """A prometheus_client collector whose every scrape reads ``snapshot()``."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]],
                 local: Callable[[], dict[str, Any]] = dict) -> None:
        self.snapshot = snapshot
        self.local = local

    def collect(self) -> Iterator[Metric]:
        yield from self._local(self.local())
        started = time.monotonic()
        try:
            data = self.snapshot()
        except Exception:
            yield GaugeMetricFamily("mailgate_database_up",
                                    "1 if the database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("mailgate_database_up",
                                "1 if the database answered this scrape.", value=1)
        yield from self._from_database(data)
        yield GaugeMetricFamily("mailgate_scrape_database_seconds",
                                "Time the database queries of this scrape took.",
                                value=time.monotonic() - started)

    def _local(self, local: dict[str, Any]) -> Iterator[Metric]:
        reloads = CounterMetricFamily("mailgate_config_reloads",
                                      "Config reloads by this process, by result.",
                                      labels=["result"])
        for result in ("success", "failure"):
            reloads.add_metric([result], local.get(f"reloads_{result}", 0))
        yield reloads
        if local.get("last_reload_success") is not None:
            yield GaugeMetricFamily(
                "mailgate_config_last_reload_success",
                "1 if the last config reload of this process succeeded.",
                value=1 if local["last_reload_success"] else 0)
        for key, name, text in (
            ("listener_up", "mailgate_smtp_listener_up", "1 if the SMTP listener is serving."),
            ("processor_up", "mailgate_processor_up", "1 if the spool processor is running."),
        ):
            if key in local:
                yield GaugeMetricFamily(name, text, value=1 if local[key] else 0)
        if local.get("imap"):
            connected = GaugeMetricFamily("mailgate_imap_connected",
                                          "1 if the IMAP account is connected.",
                                          labels=["account"])
            too_large = CounterMetricFamily(
                "mailgate_imap_too_large", "IMAP messages over the size limit set aside "
                "unread since the daemon started.", labels=["account"])
            for account, state in sorted(local["imap"].items()):
                connected.add_metric([account], 1 if state.get("connected") else 0)
                too_large.add_metric([account], state.get("too_large", 0))
            yield connected
            yield too_large

    def _from_database(self, data: dict[str, Any]) -> Iterator[Metric]:
        now = clock.now()
        yield from _spool_metrics(data, now)
        yield from _ticket_metrics(data)
        yield from _outbox_metrics(data, now)

def _spool_metrics(data: dict[str, Any], now: datetime) -> Iterator[Metric]:
    """Spool rows: what was received, by channel and by state."""
    received = CounterMetricFamily("mailgate_messages_received",
                                   "Messages accepted into the spool, by channel.",
                                   labels=["channel"])
    spool = GaugeMetricFamily("mailgate_spool_messages",
                              "Spool rows by state (new = waiting to be processed).",
                              labels=["state"])
    by_channel: dict[str, int] = {}
    by_state: dict[str, int] = {"new": 0, "done": 0, "duplicate": 0, "quarantined": 0}
    for channel, state, count in data["spool"]:
        by_channel[channel] = by_channel.get(channel, 0) + count
        by_state[state] = by_state.get(state, 0) + count
    for channel, count in sorted(by_channel.items()):
        received.add_metric([channel], count)
    for state, count in sorted(by_state.items()):
        spool.add_metric([state], count)
    yield received
    yield spool
    yield GaugeMetricFamily("mailgate_quarantine_size",
                            "Messages in quarantine (mailgate quarantine list).",
                            value=by_state.get("quarantined", 0))
    # a cumulative count: a counter (``_total``), not a gauge
    yield CounterMetricFamily("mailgate_messages_duplicate",
                              "Deliveries recognised as duplicates (stored once).",
                              value=by_state.get("duplicate", 0))
    yield _age("mailgate_spool_oldest_new_age_seconds",
               "Age of the oldest message waiting to be processed (0 if none).",
               data["oldest_new_spool"], now)


def _ticket_metrics(data: dict[str, Any]) -> Iterator[Metric]:
    """Ticket events and tickets: the counters of what the pipeline did."""
    events = data["events"]
    for kind, name, text in EVENT_COUNTERS:
        yield CounterMetricFamily(name, text, value=events.get(kind, 0))
    threaded = CounterMetricFamily("mailgate_messages_threaded",
                                   "Replies joined to an existing ticket, by method.",
                                   labels=["method"])
    methods = {"tag": 0, "in-reply-to": 0, "references": 0, **data["threaded"]}
    for method, count in sorted(methods.items()):
        threaded.add_metric([method], count)
    yield threaded
    yield CounterMetricFamily("mailgate_tickets_merged", "Tickets merged into another.",
                              value=data["merged_tickets"])
    yield CounterMetricFamily("mailgate_tickets_reopened",
                              "Closed tickets reopened (by a reply or by hand).",
                              value=data["reopens"])
    all_events = CounterMetricFamily("mailgate_ticket_events",
                                     "Every ticket event, by kind.", labels=["kind"])
    for kind, count in sorted(events.items()):
        all_events.add_metric([kind], count)
    yield all_events
    tickets = GaugeMetricFamily("mailgate_tickets", "Tickets by status.",
                                labels=["status"])
    for status, count in sorted(data["tickets_by_status"].items()):
        tickets.add_metric([status], count)
    yield tickets
    rated = GaugeMetricFamily("mailgate_ticket_ratings",
                              "Rated tickets by their latest satisfaction rating (1-5).",
                              labels=["rating"])
    for value, count in sorted(data.get("ratings", {}).items()):
        rated.add_metric([str(value)], count)
    yield rated


def _outbox_metrics(data: dict[str, Any], now: datetime) -> Iterator[Metric]:
    """Outgoing mail: by kind and state, and how far the sender is behind."""
    outbox_state: dict[str, int] = {"pending": 0, "sent": 0, "failed": 0}
    outbox = GaugeMetricFamily("mailgate_outbox_messages", "Outgoing mail by kind and state.",
                               labels=["kind", "state"])
    for kind, state, count in sorted(data["outbox"]):
        outbox.add_metric([kind, state], count)
        outbox_state[state] = outbox_state.get(state, 0) + count
    yield outbox
    yield CounterMetricFamily("mailgate_outbound_sent", "Outgoing mail delivered.",
                              value=outbox_state["sent"])
    yield CounterMetricFamily("mailgate_outbound_failed",
                              "Outgoing mail given up on (5xx or too old).",
                              value=outbox_state["failed"])
    yield GaugeMetricFamily("mailgate_outbound_backlog", "Outgoing mail waiting to be sent.",
                            value=outbox_state["pending"])
    yield _age("mailgate_outbound_oldest_pending_age_seconds",
               "Age of the oldest outgoing mail waiting to be sent (0 if none).",
               data["oldest_pending_outbox"], now)


def _age(name: str, text: str, since: datetime | None, now: datetime) -> GaugeMetricFamily:
    seconds = max((now - since).total_seconds(), 0.0) if since else 0.0
    return GaugeMetricFamily(name, text, value=seconds)


def build_registry(snapshot: Callable[[], dict[str, Any]],
                   local: Callable[[], dict[str, Any]] = dict) -> CollectorRegistry:
    """A registry of our collector plus the standard process metrics (CPU, memory, fds)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(snapshot, local))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry, accept: str = "") -> tuple[bytes, str]:
    """The scrape body and its content type (OpenMetrics if the scraper asks for it)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
