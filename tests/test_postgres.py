"""The daemon and the command line on PostgreSQL, as a user configures them.

A real PostgreSQL (``tests/pgserver.py``) with a password: the config names the database
with ``[store] url = "postgresql://..."`` and the password with ``password_file`` or
``password_env``, never in the URL.
"""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest

from mailgate import clock
from mailgate.cli import main
from mailgate.config import load_config
from mailgate.errors import ConfigError
from mailgate.logs import configure_logging
from mailgate.message import parse
from mailgate.pipeline import Pipeline
from mailgate.processor import Processor
from mailgate.render import Renderer
from mailgate.store import open_store, schema
from tests.conftest import RunningDaemon, make_mail
from tests.faultkit import fault_config
from tests.pgserver import PASSWORD_ENV, PgServer
from tests.support import wait_until
from tests.test_nodes import Cluster


def pg_config(folder: Path, server: PgServer, url: str, **store: object) -> Path:
    """A config file in ``folder`` whose store is the PostgreSQL database at ``url``."""
    password_file = folder / "db-password"
    password_file.write_text(server.password + "\n")
    password_file.chmod(0o600)
    settings = {"url": url, "password_file": str(password_file), **store}
    if "password_env" in store:
        settings.pop("password_file")
    return fault_config(folder, {"store": settings})


@pytest.fixture
def pg_daemon(tmp_path: Path, pg_server: PgServer, pg_url: str) -> Iterator[RunningDaemon]:
    config = load_config(pg_config(tmp_path, pg_server, pg_url))
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def accepted(daemon: RunningDaemon, msg: object) -> int:
    code, text = daemon.send(msg)  # type: ignore[arg-type]
    assert code == 250, text
    spool_id = int(text.decode().rsplit(" ", 1)[1])
    assert daemon.wait_processed(spool_id) in ("done", "duplicate")
    return spool_id


def sent_mails(daemon: RunningDaemon) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(daemon.outbox_dir.glob("*.eml"))]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_smtp_mail_becomes_ticket_and_ack_on_postgresql(pg_daemon: RunningDaemon,
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    """On PostgreSQL a mail by SMTP opens SUP-000001, is acknowledged, and replies thread."""
    accepted(pg_daemon, make_mail("Printer prints blank pages"))
    pg_daemon.wait_outbox_idle()
    [ack] = sent_mails(pg_daemon)
    assert ack["Subject"] == "[SUP-000001] Printer prints blank pages"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert "SUP-000001" in ack.get_body(("plain",)).get_content()
    accepted(pg_daemon, make_mail("Re: [SUP-000001] Printer prints blank pages",
                                  body="Still broken.\n"))
    again = make_mail("Monitor flickers", sender="Dana <dana@example.org>",
                      message_id="<dup@example.org>")
    accepted(pg_daemon, again)
    assert accepted(pg_daemon, again)  # the same Message-ID again: accepted, stored once
    pg_daemon.wait_outbox_idle()
    with closing(pg_daemon.store()) as store:
        assert [t["reference"] for t in store.tickets()] == ["SUP-000002", "SUP-000001"]
        inbound = [m for m in store.messages(1) if m["direction"] == "in"]
        assert [m["body_text"].strip() for m in inbound] == \
            ["Hello, the printer is broken.", "Still broken."]
        assert store.spool_counts() == {"done": 3, "duplicate": 1}
    code, out, _err = cli(capsys, "show", "-c", pg_daemon.config.source, "SUP-000001",
                          "--json")
    assert code == 0
    assert [m["kind"] for m in json.loads(out)["messages"]] == ["customer", "ack", "customer"]


def test_database_restart_is_a_retry_not_a_loss(pg_daemon: RunningDaemon,
                                                pg_server: PgServer) -> None:
    """While PostgreSQL restarts, mail is refused with 451 (retry); afterwards all goes on."""
    accepted(pg_daemon, make_mail("Before the restart"))
    pg_server.restart()  # every open connection is cut
    # The first attempts may find only dead connections: a temporary refusal, never a 5xx.
    codes = []

    def delivered() -> bool:
        code, _text = pg_daemon.send(make_mail(  # another problem: no repeat report
            "Scanner on floor 2 jams", body="The scanner on floor 2 jams on every page.\n",
            message_id="<after-restart@example.org>"))
        codes.append(code)
        return code == 250

    wait_until(delivered, 30, interval=0.2, message=lambda: f"replies: {codes}")
    assert all(c in (250, 451) for c in codes), codes
    with closing(pg_daemon.store()) as store:
        wait_until(lambda: store.spool_counts() == {"done": 2}, 30,
                   message=lambda: f"spool: {store.spool_counts()}")
        assert len(store.tickets()) == 2
    pg_daemon.wait_outbox_idle(timeout=30)
    assert len(sent_mails(pg_daemon)) == 2


def test_db_migrate_creates_upgrades_and_refuses_newer(tmp_path: Path, pg_server: PgServer,
                                                       pg_url: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       ) -> None:
    """`mailgate db migrate` creates the schema once, then says it is up to date."""
    config = str(pg_config(tmp_path, pg_server, pg_url))
    assert cli(capsys, "db", "status", "-c", config)[1].startswith("schema at version 0;")
    code, out, _ = cli(capsys, "db", "migrate", "-c", config)
    assert code == 0
    assert out.startswith(f"schema migrated from version 0 to {schema.LATEST}")
    code, out, _ = cli(capsys, "db", "migrate", "-c", config, "--json")
    assert json.loads(out)["applied"] == []
    pg_server.query(pg_url.replace("postgres@", f"postgres:{pg_server.password}@"),
                    "INSERT INTO schema_migrations VALUES (%s, 'future', 'x')",
                    (schema.LATEST + 1,))
    code, _out, err = cli(capsys, "db", "migrate", "-c", config)
    assert code == 78
    assert "newer than this mailgate knows" in err and "upgrade mailgate" in err


def test_password_from_environment(tmp_path: Path, pg_server: PgServer, pg_url: str,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The database password can come from an environment variable; a missing one is named."""
    config = str(pg_config(tmp_path, pg_server, pg_url, password_env=PASSWORD_ENV))
    code, _out, err = cli(capsys, "tickets", "-c", config)  # an empty database: no schema yet
    assert code == 78 and "(it has no mailgate tables)" in err, err
    assert cli(capsys, "db", "migrate", "-c", config)[0] == 0
    assert cli(capsys, "tickets", "-c", config, "--json")[:2] == (0, "[]\n")
    monkeypatch.delenv(PASSWORD_ENV)
    code, _out, err = cli(capsys, "tickets", "-c", config)
    assert code == 78
    assert PASSWORD_ENV in err


def test_password_in_url_is_refused(tmp_path: Path) -> None:
    """A password written into the URL is refused: secrets never live in the config file."""
    with pytest.raises(ConfigError, match="no password in the URL"):
        fault_config(tmp_path, {"store": {"url": "postgresql://mg:secret@db1/mailgate"}})


def test_wrong_password_is_a_transient_error(tmp_path: Path, pg_server: PgServer,
                                             pg_url: str) -> None:
    """A refused login is reported as the database being unavailable (451 / exit 75)."""
    path = pg_config(tmp_path, pg_server, pg_url)
    (tmp_path / "db-password").write_text("wrong\n")
    from mailgate.errors import StoreError

    with pytest.raises(StoreError, match="cannot connect"):
        open_store(load_config(path))


def test_db_copy_moves_sqlite_to_postgresql_resumably(tmp_path: Path, pg_server: PgServer,
                                                       pg_url: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       ) -> None:
    """`mailgate db copy` moves an SQLite database into PostgreSQL, resumes after an
    interruption, verifies the counts, and the daemon then carries on with the next number."""
    from mailgate.store.copy import copy_database

    old_folder, new_folder = tmp_path / "old", tmp_path / "new"
    old_folder.mkdir()
    new_folder.mkdir()
    old_config = load_config(fault_config(old_folder, {
        "store": {"url": "sqlite:///var/mailgate.db"},
        "conversation": {"merge_into": "newest"}}))
    configure_logging(old_config.logging)
    old = RunningDaemon(old_config).start()
    try:
        accepted(old, make_mail("VPN drops every hour", sender="Ann <ann@example.org>"))
        accepted(old, make_mail("Re: [SUP-000001] VPN drops every hour", body="Again.\n",
                                sender="Ann <ann@example.org>"))
        report = "The ERP login page shows error 0x80070005 since this morning.\n"
        shot = make_mail("Screenshot", sender="Bob <bob@example.org>", body=report)
        shot.add_attachment(b"\x89PNG\x00 image", maintype="image", subtype="png",
                            filename="screen.png")
        accepted(old, shot)
        # The same report again: with merge_into = newest the older ticket joins the new one,
        # so tickets.merged_into points forwards.
        accepted(old, make_mail("Screenshot", sender="Bob <bob@example.org>", body=report))
        old.wait_outbox_idle()
    finally:
        old.stop()

    new_config_path = pg_config(new_folder, pg_server, pg_url)
    source_url = f"sqlite:///{old_config.database_path}"
    # An interrupted first run ...
    with closing(open_store(old_config)) as source, \
            closing(open_store(load_config(new_config_path))) as target:
        def interrupt(table: str, _rows: int) -> None:
            if table == "events":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_database(source, target, progress=interrupt)
    # ... and the run that finishes it.
    code, out, err = cli(capsys, "db", "copy", "-c", str(new_config_path), "--from", source_url,
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["source"] == report["target"]
    assert report["copied"]["tickets"] == 0 and report["copied"]["events"] > 0
    assert report["source"]["tickets"] == 3 and report["source"]["blobs"] == 1
    code, out, _ = cli(capsys, "db", "copy", "-c", str(new_config_path), "--from", source_url)
    assert code == 0 and "copy complete" in out  # a third run finds nothing to do

    new_config = load_config(new_config_path)
    configure_logging(new_config.logging)
    new = RunningDaemon(new_config).start()
    try:
        accepted(new, make_mail("Re: [SUP-000001] VPN drops every hour", body="Thrice.\n",
                                sender="Ann <ann@example.org>"))
        accepted(new, make_mail("Printer jammed", sender="Cid <cid@example.org>"))
        with closing(new.store()) as store:
            assert store.ticket_by_reference("SUP-000004").subject == "Printer jammed"
            assert [m["body_text"].strip() for m in store.messages(1)
                    if m["direction"] == "in"][-1] == "Thrice."
            assert store.ticket(2).merged_into == 3
            [message] = [m for m in store.messages(2) if m["direction"] == "in"]
            [attachment] = store.attachments(message["id"])
            assert attachment["filename"] == "screen.png"
    finally:
        new.stop()
    code, out, _ = cli(capsys, "show", "-c", str(new_config_path), "SUP-000002", "--json")
    assert json.loads(out)["merged_into"] == "SUP-000003"


def _mail_with_id(subject: str, text: str) -> bytes:
    return (f"From: Karin Lund <karin@acme.example>\r\nTo: support@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <same-id-twice@acme.example>\r\n"
            f"Date: Mon, 02 Mar 2026 09:00:00 +0100\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()


def test_two_mails_reusing_one_message_id_at_once_are_both_kept(
        tmp_path: Path, pg_server: PgServer, pg_url: str) -> None:
    """Two nodes handle two different mails under one Message-ID at the same instant (a
    gateway that reuses ids, in a burst): the one that loses the race is handled again and
    kept under an id of its own with a ``message_id_reused`` event, never dropped as a
    duplicate (its words would be on no ticket)."""
    config = load_config(pg_config(tmp_path, pg_server, pg_url))
    first, second = open_store(config), open_store(config)
    pipeline = Pipeline(config, Renderer(config.templates_dir))
    now = clock.now()
    raws = [_mail_with_id("Printer jams", "The printer on floor 2 jams on every page."),
            _mail_with_id("VPN password", "Please reset my VPN password, I am locked out.")]
    with first.transaction():
        ids = [first.spool_add(raw, channel="smtp", received_at=now, source="smtp",
                               mail_from="karin@acme.example",
                               rcpt_tos=["support@example.com"]) for raw in raws]
    [item_a] = first.spool_claim("a", now, now + timedelta(minutes=5), 1, only=ids[0])
    [item_b] = second.spool_claim("b", now, now + timedelta(minutes=5), 1, only=ids[1])
    node_b = Processor(config, second, pipeline, node="b")
    cluster = Cluster(tmp_path, pg_server, pg_url)
    racer = threading.Thread(target=node_b.process, args=(item_b,))
    with first.transaction():  # node a has stored its mail, not yet committed
        outcome = pipeline.handle(first, item_a, parse(raws[0]), now)
        first.spool_finish(item_a.id, state=outcome.state, now=now,
                           message_id="<same-id-twice@acme.example>",
                           ticket_id=outcome.ticket_id)
        racer.start()
        cluster.wait_blocked(1)  # node b waits on the same Message-ID
    racer.join(30)
    texts = sorted(text for (text,) in cluster.query(
        "SELECT body_text FROM messages WHERE direction = 'in'"))
    assert [t.strip() for t in texts] == [
        "Please reset my VPN password, I am locked out.",
        "The printer on floor 2 jams on every page."]
    assert cluster.query("SELECT state FROM spool WHERE id = %s", (ids[1],)) == [("done",)]
    assert cluster.query("SELECT COUNT(*) FROM events WHERE kind = 'message_id_reused'") \
        == [(1,)]
