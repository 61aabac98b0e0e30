"""Operating the gateway: reload, /healthz and /metrics, and the admin commands.

The CLI runs as subprocesses against a database filled through the real SMTP
listener, as an admin would use it next to a running daemon.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
import mailbox
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailgate.config import load_config
from mailgate.store import open_store
from tests.configs import ROOT, STORE_BACKEND, update_config, write_config
from tests.conftest import RunningDaemon, make_mail
from tests.hostile import mail as hostile_mail
from tests.hostile import nested_multipart
from tests.support import free_port, wait_until

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}

OPS_CONFIG = {
    "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
    "team": {"engineers": {"alice": "alice@example.com"}},
}


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mailgate", *args], input=stdin,
                          capture_output=True, timeout=60, env=ENV)


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """The error of a failed command, asserting it is one line and no traceback."""
    assert result.returncode != 0
    text = result.stderr.decode().strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, OPS_CONFIG)


def mail(subject: str, who: str, **kwargs: Any) -> Any:
    """A customer mail from its own sender (so duplicate detection and reply caps stay out)."""
    return make_mail(subject, sender=f"{who.title()} <{who}@example.org>",
                     body=f"{subject}: details from {who}.\n", **kwargs)


def deliver(running: RunningDaemon, msg: Any, **kwargs: Any) -> int:
    """Send one mail over SMTP, wait until processed; return its spool id."""
    code, text = running.send(msg, **kwargs)
    assert code == 250, text
    spool_id = int(re.search(rb"queued as (\d+)", text)[1])  # type: ignore[index]
    running.wait_processed(spool_id)
    return spool_id


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = get(port, "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def on_loop(running: RunningDaemon, coro: Any) -> Any:
    assert running.daemon.loop is not None
    return asyncio.run_coroutine_threadsafe(coro, running.daemon.loop).result(20)


# -- /healthz and /metrics -----------------------------------------------------------------


def test_metrics_counters_move_as_mail_flows(daemon: RunningDaemon) -> None:
    """/metrics counts received mail by channel, new tickets, threading by method and acks."""
    port = daemon.daemon.http.port  # type: ignore[union-attr]
    before = scrape(port)
    assert before[("mailgate_tickets_created_total", ())] == 0
    assert before[("mailgate_database_up", ())] == 1
    first = mail("Metrics one", "mia")
    deliver(daemon, first)
    deliver(daemon, mail("Re: [SUP-000001] Metrics one", "mia"))
    deliver(daemon, mail("Out of office", "otto", Auto_Submitted="auto-replied"))
    deliver(daemon, first)  # the same Message-ID again: a duplicate
    daemon.wait_outbox_idle()
    after = scrape(port)
    assert after[("mailgate_messages_duplicate_total", ())] == 1
    assert after[("mailgate_messages_received_total", (("channel", "smtp"),))] == 4
    assert after[("mailgate_tickets_created_total", ())] == 2
    assert after[("mailgate_messages_threaded_total", (("method", "tag"),))] == 1
    assert after[("mailgate_automatic_mail_total", ())] == 1
    assert after[("mailgate_outbound_sent_total", ())] == 1
    assert after[("mailgate_outbound_backlog", ())] == 0
    assert after[("mailgate_quarantine_size", ())] == 0
    assert get(port, "/nope")[0] == 404


def test_metric_names_follow_the_prometheus_conventions(daemon: RunningDaemon) -> None:
    """Counters end in _total, nothing else does; durations and ages are in seconds."""
    status, body = get(daemon.daemon.http.port, "/metrics")  # type: ignore[union-attr]
    assert status == 200
    families = list(text_string_to_metric_families(body.decode()))
    assert {f.type for f in families} <= {"counter", "gauge"}
    for family in families:
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name.endswith(("_total", "_created")), sample.name
            else:
                assert not sample.name.endswith("_total"), (family.type, sample.name)
            if "_age" in sample.name or "_time" in sample.name:
                assert sample.name.endswith(("_seconds", "_seconds_total")), sample.name
    assert any(f.name == "mailgate_messages_duplicate" and f.type == "counter"
               for f in families)


def test_healthz_reports_listener_database_and_outbox(daemon: RunningDaemon) -> None:
    """/healthz is 200 with the listener up and the database reachable, 503 once SMTP is down."""
    port = daemon.daemon.http.port  # type: ignore[union-attr]
    status, body = get(port, "/healthz")
    report = json.loads(body)
    assert status == 200 and report["status"] == "ok", report
    assert report["listener"] == {"enabled": True, "up": True, "host": "127.0.0.1",
                                  "port": daemon.port, "refusing": False, "last_451": None}
    assert report["database"]["ok"] and report["processor"]["up"]
    assert report["database"]["outbox_oldest_pending_age_seconds"] == 0
    on_loop(daemon, daemon.daemon.listener.stop())
    status, body = get(port, "/healthz")
    assert status == 503
    assert json.loads(body)["problems"] == ["SMTP listener is not serving"]


def test_healthz_shows_unreachable_imap_account_as_degraded(tmp_path: Path) -> None:
    """An IMAP server that refuses connections makes /healthz 'degraded' (200), naming it."""
    dead_port = free_port()
    path = write_config(tmp_path, OPS_CONFIG, {"imap": [{
        "name": "desk", "host": "127.0.0.1", "port": dead_port, "security": "plain",
        "username": "support", "password_env": "MAILGATE_TEST_NO_SUCH_PASSWORD"}]})
    from mailgate.config import load_config

    running = RunningDaemon(load_config(path)).start()
    try:
        port = running.daemon.http.port  # type: ignore[union-attr]

        def failed() -> dict[str, Any] | None:
            report = json.loads(get(port, "/healthz")[1])
            return report if report["imap"]["desk"]["state"] != "starting" else None

        report = wait_until(failed, interval=0.02)
        assert report["status"] == "degraded" and not report["imap"]["desk"]["connected"]
        assert any("desk" in w for w in report["warnings"])
        metrics = scrape(port)
        assert metrics[("mailgate_imap_connected", (("account", "desk"),))] == 0
    finally:
        running.stop()


# -- reload ------------------------------------------------------------------------------


class MailFlow:
    """A client thread sending new mail over SMTP until stopped; keeps every DATA reply."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.replies: list[tuple[int, bytes]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            msg = mail(f"Flowing mail {n}", f"flow{n}")
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
                    refused = client.sendmail(f"flow{n}@example.org", ["support@example.com"],
                                              msg.as_bytes())
                self.replies.append((550, b"refused") if refused else (250, b"ok"))
            except (smtplib.SMTPException, OSError) as exc:
                self.replies.append((getattr(exc, "smtp_code", 0), str(exc).encode()))

    def __enter__(self) -> MailFlow:
        self.thread.start()
        wait_until(lambda: len(self.replies) >= 3, interval=0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(20)


def ack_text(running: RunningDaemon, spool_id: int) -> str:
    store = running.store()
    try:
        reference = store.ticket(store.spool_row(spool_id)["ticket_id"]).reference
        ack = next(row for row in store.outbox(("pending", "sent", "failed", "cancelled"))
                   if row["ticket"] == reference and row["kind"] == "ack")
        raw = store.outbox_raw(ack["id"])
    finally:
        store.close()
    return bytes(raw).decode("utf-8", "replace")


def test_reload_while_mail_flows(daemon: RunningDaemon, config_path: Path) -> None:
    """A reload swaps templates without refusing mail; a broken file keeps the old config."""
    template = config_path.parent / "templates" / "ack.txt.j2"
    original_config = config_path.read_text()
    before = deliver(daemon, mail("Before reload", "before"))
    assert "Reloaded wording" not in ack_text(daemon, before)
    with MailFlow(daemon.port) as flow:
        template.write_text(template.read_text() + "Reloaded wording.\n")
        good = on_loop(daemon, daemon.daemon.reload())
        assert good.ok and good.restart_needed == [] and not good.sla_changed, good
        after_good = deliver(daemon, mail("After reload", "good"))
        wait_until(lambda: len(flow.replies) >= 6, interval=0.02)

        running_config = daemon.daemon.config
        config_path.write_text(original_config + "\n[gatway]\nname = \"typo\"\n")
        bad = on_loop(daemon, daemon.daemon.reload())
        assert not bad.ok and "gatway: unknown key" in bad.error
        template.write_text("{{ ticket.refrence }}\n")
        config_path.write_text(original_config)
        bad_template = on_loop(daemon, daemon.daemon.reload())
        assert not bad_template.ok and "refrence" in bad_template.error
        assert daemon.daemon.config is running_config
        after_bad = deliver(daemon, mail("After a failed reload", "bad"))
        wait_until(lambda: len(flow.replies) >= 12, interval=0.02)
    assert flow.replies and all(code == 250 for code, _ in flow.replies), flow.replies
    assert "Reloaded wording." in ack_text(daemon, after_good)
    assert "Reloaded wording." in ack_text(daemon, after_bad)
    status = json.loads((config_path.parent / "var" / "mailgate.reload.json").read_text())
    assert status["ok"] is False and status["generation"] == 3
    metrics = scrape(daemon.daemon.http.port)  # type: ignore[union-attr]
    assert metrics[("mailgate_config_reloads_total", (("result", "failure"),))] == 2


def test_reload_moves_open_deadlines_when_sla_changes(daemon: RunningDaemon,
                                                      config_path: Path) -> None:
    """Shortening a level's target by reload moves the due time of open tickets."""
    deliver(daemon, mail("Deadline moves", "dee"))
    cfg = ["-c", str(config_path)]
    ticket = run_json("show", *cfg, "SUP-000001")
    update_config(config_path, {"sla": {"levels": {"standard": {"first_response": "1h"}}}})
    result = on_loop(daemon, daemon.daemon.reload())
    assert result.ok and result.sla_changed and result.recomputed_clocks >= 1, result
    moved = run_json("show", *cfg, "SUP-000001")
    created = moved["created_at"]
    assert moved["first_response_due"] != ticket["first_response_due"]
    from datetime import datetime, timedelta

    assert (datetime.fromisoformat(moved["first_response_due"])
            - datetime.fromisoformat(created)) == timedelta(hours=1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    """`mailgate serve` in a subprocess, as systemd runs it."""
    port = free_port()
    path = write_config(tmp_path, OPS_CONFIG, {"smtp": {"port": port}})
    proc = subprocess.Popen([sys.executable, "-m", "mailgate", "serve", "-c", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return (tmp_path / "var" / "mailgate.pid").exists()

    try:
        wait_until(up, 20, interval=0.02)
        yield proc, path, port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_reload_command_signals_the_serving_daemon(
        served: tuple[subprocess.Popen[bytes], Path, int]) -> None:
    """`mailgate reload` SIGHUPs the daemon and reports; a broken config is refused, kept old."""
    proc, path, port = served
    pid_file = path.parent / "var" / "mailgate.pid"
    assert int(pid_file.read_text()) == proc.pid
    result = run("reload", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert f"(pid {proc.pid})" in result.stdout.decode()

    update_config(path, {"outbound": {"mode": "pigeon"}})
    refused = run("reload", "-c", str(path))
    assert refused.returncode == 78 and b"outbound.mode" in refused.stderr
    assert b"Traceback" not in refused.stderr

    status_file = path.parent / "var" / "mailgate.reload.json"
    previous = status_file.read_text()
    os.kill(proc.pid, signal.SIGHUP)  # what systemd's ExecReload does, bypassing the CLI check
    wait_until(lambda: status_file.read_text() != previous, interval=0.02)
    assert json.loads(status_file.read_text())["ok"] is False
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("c@example.org", ["support@example.com"],
                               make_mail("Still accepting").as_bytes()) == {}
    assert proc.poll() is None


def test_a_second_serve_refused_leaves_the_running_daemon_reloadable(
        served: tuple[subprocess.Popen[bytes], Path, int]) -> None:
    """A second `mailgate serve` on the same config (a manual start beside systemd's) is
    refused because the port is taken, and changes nothing: the pid file still names the
    running daemon, so `mailgate reload` still reaches it."""
    proc, path, _ = served
    second = subprocess.run([sys.executable, "-m", "mailgate", "serve", "-c", str(path)],
                            capture_output=True, env=ENV, timeout=60)
    assert second.returncode == 75, second.stderr
    assert int((path.parent / "var" / "mailgate.pid").read_text()) == proc.pid
    result = run("reload", "-c", str(path))
    assert result.returncode == 0 and f"(pid {proc.pid})" in result.stdout.decode(), result


def test_reload_without_running_daemon_is_one_line_error(config_path: Path) -> None:
    """`mailgate reload` with no daemon running says so in one line and exits non-zero."""
    assert "no pid file" in one_line_error(run("reload", "-c", str(config_path)))


# -- admin commands against a database filled over SMTP ---------------------------------------


def test_trace_finds_an_unparseable_mail_by_the_id_it_claims(
        daemon: RunningDaemon, config_path: Path) -> None:
    """A mail the parser refused (MIME nested too deep) is quarantined; `trace '<its
    Message-ID>'` finds its spool row with the reason, as `trace <spool id>` does (user8:
    the id the sender quotes said "no message")."""
    head, body = nested_multipart(30)
    raw, _who = hostile_mail("trace-deep", headers=head, body=body)
    code, text = daemon.send(raw, mail_from="trace-deep@hostile.example")
    assert code == 250, text
    spool_id = int(re.search(rb"queued as (\d+)", text)[1])  # type: ignore[index]
    assert daemon.wait_processed(spool_id) == "quarantined"
    story = run_json("trace", "-c", str(config_path), "<trace-deep@hostile.example>")
    [delivery] = story["deliveries"]
    assert delivery["id"] == spool_id and delivery["state"] == "quarantined"
    assert "nesting deeper than 20" in delivery["reason"]


def test_assign_merge_and_trace(daemon: RunningDaemon, config_path: Path) -> None:
    """assign and merge record events by cli:<user>; trace tells a message's whole story."""
    cfg = ["-c", str(config_path)]
    first = mail("Trace me", "tracy", message_id="<trace-1@example.org>")
    spool_id = deliver(daemon, first)
    deliver(daemon, mail("Second problem", "sam", message_id="<trace-2@example.org>"))
    deliver(daemon, first)  # the same mail again: a duplicate delivery
    daemon.wait_outbox_idle()

    assert run_json("assign", *cfg, "SUP-000001", "alice") == {
        "reference": "SUP-000001", "assignee": "alice@example.com"}
    assert "unknown engineer 'bob'" in one_line_error(run("assign", *cfg, "SUP-000001", "bob"))
    assert run_json("merge", *cfg, "sup-000002", "SUP-000001", "--reason", "same printer") == {
        "source": "SUP-000002", "target": "SUP-000001"}
    merged = run_json("show", *cfg, "SUP-000002")
    assert merged["status"] == "closed" and merged["merged_into"] == "SUP-000001"
    events = run_json("show", *cfg, "SUP-000001")["events"]
    assert any(e["kind"] == "assigned" and e["actor"].startswith("cli:") for e in events)
    assert any(e["kind"] == "merged" and "same printer" in e["detail"] for e in events)
    assert "already merged" in one_line_error(run("merge", *cfg, "SUP-000002", "SUP-000001"))

    story = run_json("trace", *cfg, "trace-1@example.org")
    assert story["message_id"] == "<trace-1@example.org>"
    assert [(d["channel"], d["state"]) for d in story["deliveries"]] == [
        ("smtp", "done"), ("smtp", "duplicate")]
    assert story["deliveries"][0]["mail_from"] == "customer@example.org"  # the envelope
    assert re.fullmatch(r"smtp:127\.0\.0\.1:\d+", story["deliveries"][0]["source"])
    assert story["ticket"]["reference"] == "SUP-000001"
    assert [e["kind"] for e in story["events"]][:1] == ["created"]
    assert "acknowledged" in [e["kind"] for e in story["events"]]
    assert story["message"]["threaded_by"] == "none"  # what the steps decided, kept
    assert [d["step"] for d in story["message"]["decisions"]] == ["thread", "identify"]
    [answer] = story["answers"]
    assert answer["kind"] == "ack" and answer["state"] == "sent" and answer["last_error"] is None
    assert run_json("trace", *cfg, str(spool_id))["message_id"] == "<trace-1@example.org>"
    eml = config_path.parent / "first.eml"
    eml.write_bytes(first.as_bytes())
    text = run("trace", *cfg, str(eml)).stdout.decode()
    assert "received" in text and "SUP-000001" in text and "ack to tracy@example.org" in text
    assert "steps:\n  thread             no ticket cited\n  identify" in text
    assert "no message <nowhere@example.org>" in one_line_error(
        run("trace", *cfg, "<nowhere@example.org>"))


def test_explain_shows_decisions_and_changes_nothing(daemon: RunningDaemon,
                                                     config_path: Path) -> None:
    """explain prints what processing would decide and send, and the database stays as it was."""
    cfg = ["-c", str(config_path)]
    deliver(daemon, mail("Existing ticket", "erin"))
    daemon.wait_outbox_idle()

    def counts() -> tuple[int, ...]:
        with closing(open_store(load_config(config_path), migrate=False)) as store:
            return tuple(store.row_count(t)
                         for t in ("tickets", "messages", "events", "outbox", "spool"))

    before = counts()
    folder = config_path.parent
    (folder / "new.eml").write_bytes(mail("Brand new problem", "nina").as_bytes())
    (folder / "reply.eml").write_bytes(mail("Re: [SUP-000001] Existing ticket", "erin")
                                       .as_bytes())
    (folder / "ooo.eml").write_bytes(mail("Away", "erin", X_Autoreply="yes").as_bytes())
    (folder / "junk.eml").write_bytes(b"garbage without headers\n")

    new = run_json("explain", *cfg, str(folder / "new.eml"))
    # The number shown is the next one on SQLite; a PostgreSQL sequence is not rolled back,
    # so there each dry run shows (and skips) a later one. Either way it is not reserved.
    number = new["ticket"]["reference"]
    assert new["outcome"] == "created"
    assert number == "SUP-000002" or (STORE_BACKEND == "postgresql" and number > "SUP-000002")
    assert new["events"][0]["kind"] == "created"
    assert [(m["kind"], m["to"]) for m in new["outbox"]] == [("ack", ["nina@example.org"])]
    assert f"[{number}]" in new["outbox"][0]["subject"]
    reply = run_json("explain", *cfg, str(folder / "reply.eml"))
    assert reply["outcome"] == "appended" and reply["threaded_by"] == "tag"
    assert [(s["step"], s["decided"].split(" ")[0]) for s in reply["steps"]] == [
        ("thread", "SUP-000001"), ("identify", "erin@example.org"), ("route", "append:")]
    assert reply["outbox"] == []
    ooo = run_json("explain", *cfg, str(folder / "ooo.eml"))
    assert "automatic_mail" in [e["kind"] for e in ooo["events"]] and ooo["outbox"] == []
    assert run_json("explain", *cfg, str(folder / "junk.eml"))["outcome"] == "quarantined"
    text = run("explain", *cfg, str(folder / "new.eml")).stdout.decode()
    assert re.search(r"creates ticket SUP-\d{6} \(number not reserved\)", text)
    assert "mail sent: ack" in text
    assert re.search(r"steps:\n  thread +no ticket cited\n  identify +nina@", text)
    assert counts() == before
    assert "cannot read" in one_line_error(run("explain", *cfg, str(folder / "missing.eml")))


def test_template_preview_as_sent(daemon: RunningDaemon, config_path: Path) -> None:
    """templates preview renders the mail as sent, headers included, with ticket or sample data."""
    cfg = ["-c", str(config_path)]
    deliver(daemon, make_mail("Preview printer", sender="Dana Doe <dana@example.org>"))
    real = run("templates", "preview", "ack", *cfg, "--ticket", "SUP-000001").stdout.decode()
    assert "Subject: [SUP-000001] Preview printer" in real
    assert "To: Dana Doe <dana@example.org>" in real and "Auto-Submitted: auto-replied" in real
    assert "Hello Dana Doe," in real
    sample = run_json("templates", "preview", "ack", *cfg)
    assert sample["subject"].startswith("[SUP-000123]") and "Casey Customer" in sample["text"]
    assert ["Auto-Submitted", "auto-replied"] in sample["headers"]
    reminder = run("templates", "preview", "reminder", *cfg, "--ticket", "SUP-000001")
    assert reminder.returncode == 0 and b"SUP-000001" in reminder.stdout
    # a German customer's ticket previews as the German mail its requester got
    deliver(daemon, make_mail("Drucker im 2. OG druckt nicht", sender="Hans <hans@example.de>",
                              body="Guten Tag, der Drucker im zweiten Stock druckt seit heute "
                                   "Morgen nicht mehr. Können Sie bitte helfen?\n"))
    from mailgate.store.ops import outbox_since

    [sent] = [bytes(row["raw"]) for row in outbox_since(daemon.store(), 0)
              if row["kind"] == "ack" and row["ticket"] == "SUP-000002"]
    german = run("templates", "preview", "ack", *cfg, "--ticket", "SUP-000002")
    assert german.returncode == 0, german.stderr
    assert _plain(german.stdout) == _plain(sent) and _plain(sent).startswith("Guten Tag")
    resolved = run("templates", "preview", "resolved", *cfg, "--ticket", "SUP-000002")
    assert "SUP-000002" in resolved.stdout.decode() and not _plain(resolved.stdout).startswith(
        "Hello")
    assert "no template 'akc'" in one_line_error(run("templates", "preview", "akc", *cfg))
    (config_path.parent / "templates" / "ack.txt.j2").write_text("{{ ticket.refrence }}\n")
    assert "refrence" in one_line_error(run("templates", "preview", "ack", *cfg))


def _plain(raw: bytes) -> str:
    """The text part of a mail as its reader sees it."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, email.message.EmailMessage)
    return str(part.get_content()).strip()


def test_quarantine_delete_needs_yes(daemon: RunningDaemon, config_path: Path) -> None:
    """A quarantined message is deleted only with --yes; without it nothing happens."""
    cfg = ["-c", str(config_path)]
    spool_id = deliver(daemon, b"garbage without headers\r\n")
    assert [r["id"] for r in run_json("quarantine", *cfg, "list")] == [spool_id]
    refused = run("quarantine", *cfg, "delete", str(spool_id))
    assert "--yes" in one_line_error(refused)
    assert len(run_json("quarantine", *cfg, "list")) == 1
    assert run("quarantine", *cfg, "delete", str(spool_id), "--yes").returncode == 0
    assert run_json("quarantine", *cfg, "list") == []
    gone = run("quarantine", *cfg, "delete", str(spool_id), "--yes")
    assert f"no spool row {spool_id}" in one_line_error(gone)


# -- init and import ----------------------------------------------------------------------------


def test_init_writes_a_working_config_and_never_overwrites(tmp_path: Path) -> None:
    """init writes a config that passes check-config, copies templates, refuses to overwrite."""
    target = tmp_path / "etc"
    result = run("init", str(target), "--address", "help@example.com")
    assert result.returncode == 0, result.stderr
    assert "next:" in result.stdout.decode()
    config = target / "mailgate.toml"
    assert 'addresses = ["help@example.com"]' in config.read_text()
    assert (target / "templates" / "ack.txt.j2").is_file()
    assert (target / "sla-presets" / "russian-vendor.toml").is_file()
    assert run("check-config", "-c", str(config)).returncode == 0
    config.write_text(config.read_text() + "# edited\n")
    again = run("init", str(target))
    assert "refusing to overwrite" in one_line_error(again)
    assert config.read_text().endswith("# edited\n")


def test_import_mbox_is_resumable_and_sends_no_acks(config_path: Path, tmp_path: Path) -> None:
    """Importing an mbox makes tickets once; a re-run skips it all; no ack goes out by default."""
    cfg = ["-c", str(config_path)]
    box = mailbox.mbox(tmp_path / "old.mbox")
    for i in range(3):
        box.add(mail(f"Archived {i}", f"arch{i}", message_id=f"<archived-{i}@example.org>")
                .as_bytes())
    box.add(mail("Archived 0", "arch0", message_id="<archived-0@example.org>").as_bytes())
    box.flush()
    box.close()
    first = run_json("import", *cfg, str(tmp_path / "old.mbox"))
    assert (first["found"], first["imported"], first["skipped"]) == (4, 3, 1)
    again = run_json("import", *cfg, str(tmp_path / "old.mbox"))
    assert (again["imported"], again["skipped"]) == (0, 4)
    assert len(run_json("tickets", *cfg)) == 3
    assert run_json("outbox", *cfg) == []  # nothing pending: no ack, no notice
    with closing(open_store(load_config(config_path), migrate=False)) as store:
        states = {state for _kind, state, _count in store.outbox_counts_by_kind()}
    assert states <= {"cancelled"}
    # old mail is history: no SLA clock (whose reminders and breaches would be the team's
    # first news of it), and no event claims an acknowledgement went out
    shown = run_json("show", *cfg, "SUP-000001")
    assert shown["first_response_due"] is None and shown["resolution_due"] is None
    kinds = [event["kind"] for event in shown["events"]]
    assert "sla_not_started" in kinds and "acknowledged" not in kinds
    assert "no such mbox" in one_line_error(run("import", *cfg, str(tmp_path / "none.mbox")))


def test_import_applies_an_engineers_close_and_tells_nobody(tmp_path: Path) -> None:
    """Old mail where the engineer answered "#close" (proven by our MTA): the imported
    ticket is closed, as the archive says, not left open; one left "#status
    awaiting_reply" gets no auto-close plan (its reminder would be the customer's first news
    of the import); nothing is relayed, acknowledged or queued at all, not even a notice
    that asks for action (``pipeline.notices``)."""
    from tests.test_conversation import OUR_MTA_PASS

    config = write_config(tmp_path, {
        "team": {"address": "team@example.com", "engineers": {"alice": "alice@example.com"}},
        "security": {"trusted_authserv_ids": ["mx.example.com"]},
        "conversation": {"auto_close_after": "7d"}})
    cfg = ["-c", str(config)]
    box = mailbox.mbox(tmp_path / "old.mbox")
    box.add(mail("VPN drops", "casey", message_id="<old-1@example.org>").as_bytes())
    box.add(mail("Printer jams", "dana", message_id="<old-2@example.org>").as_bytes())
    for number, commands in ((1, "#close\nFixed: the tunnel profile was wrong."),
                             (2, "#status awaiting_reply\nDoes it still jam?")):
        box.add(make_mail(f"Re: [SUP-00000{number}] old", sender="Alice <alice@example.com>",
                          body=f"{commands}\n", message_id=f"<eng-{number}@example.com>",
                          Authentication_Results=OUR_MTA_PASS).as_bytes())
    box.add(make_mail("Automatic reply: [SUP-000002] old", sender="Dana <dana@example.org>",
                      body="I have left the company. Please write to eve@example.org.\n",
                      message_id="<left-2@example.org>", Auto_Submitted="auto-replied")
            .as_bytes())  # asks for action, but imported: nobody is told of it either
    box.flush()
    box.close()
    assert run_json("import", *cfg, str(tmp_path / "old.mbox"))["imported"] == 5
    closed, waiting = run_json("show", *cfg, "SUP-000001"), run_json("show", *cfg, "SUP-000002")
    assert (closed["status"], waiting["status"]) == ("closed", "awaiting_reply")
    assert "open -> closed: #close by alice@example.com" in [
        e["detail"] for e in closed["events"]]
    assert "automatic_passed_on" not in [e["kind"] for e in waiting["events"]]
    with closing(open_store(load_config(config), migrate=False)) as store:
        assert store.reminders() == []
        assert store.outbox_counts_by_kind() == []  # no relay, ack or notice, not even queued


def test_new_commands_have_help_with_examples() -> None:
    """Every operations command's --help shows an example."""
    for command in ("reload", "init", "assign", "merge", "trace", "explain", "templates",
                    "import"):
        result = run(command, "--help")
        assert result.returncode == 0 and b"example:" in result.stdout, command
    assert b"mailgate trace" in run("--help").stdout


def test_systemd_unit_reloads_with_sighup() -> None:
    """The shipped systemd unit reloads by SIGHUP, so `systemctl reload mailgate` works."""
    unit = (ROOT / "mailgate" / "defaults" / "deploy" / "mailgate.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit


def test_template_added_after_start_waits_for_reload(config_path: Path) -> None:
    """A language variant dropped into the template folder of a running daemon is not used
    (nor does it break the mail that asks for that language) until a reload checks it."""
    from mailgate.render import Renderer, freeze_templates, sample_context

    folder = config_path.parent / "templates"
    running = freeze_templates(Renderer(folder))
    (folder / "ack.hu.txt.j2").write_text("Köszönjük {{ ticket.reference }}\n",
                                          encoding="utf-8")
    rendered = running.render("ack", sample_context(), language="hu")
    assert rendered.text == Renderer(folder).render("ack", sample_context()).text
    assert Renderer(folder).render("ack", sample_context(), language="hu").text.startswith(
        "Köszönjük")
