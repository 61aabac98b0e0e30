"""A person's data: ``mailgate export``, ``mailgate erase`` and ``[store] keep_raw_for``,
on SQLite and on PostgreSQL.

The mail comes in over SMTP to a real daemon; the commands run as a user runs them
(``mailgate.cli.main``); what is left is checked by reading every column of every table
and every file of the outbox folder, as an auditor would.
"""

from __future__ import annotations

import asyncio
import json
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from mailgate import clock
from mailgate.cli import main
from mailgate.config import load_config
from mailgate.logs import configure_logging
from mailgate.outbound import Sender, outbox_file_name
from mailgate.store import Store, open_store
from tests.configs import update_config, write_config
from tests.conftest import RunningDaemon, make_mail
from tests.support import wait_until
from tests.test_sla import REAL_TIME

ALICE = "Alice Andersson <alice.andersson@example.se>"
ALICE_ADDRESS = "alice.andersson@example.se"
ALICE_WORD = "zanzibarquokka"  # in every mail Alice writes, nowhere else
BOB = "Bob de Vries <bob@example.nl>"
CAROL = "Carol Schmidt <carol@example.de>"
PDF = b"%PDF-1.4 alice's signed contract " + os.urandom(3000)
PHOTO = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
BOB_FILE = b"bob's log file " + os.urandom(2000)
NOTES = b"alice's notes " + os.urandom(1000)


@pytest.fixture(params=["sqlite", "postgresql"])
def config_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A config on a fresh database of the backend under test; the team is told of mail."""
    team = {"team": {"address": "team@example.com"}}
    if request.param == "sqlite":
        return write_config(tmp_path, team, {"store": {"url": "sqlite:///var/mailgate.db"}})
    server = request.getfixturevalue("pg_server")
    return write_config(tmp_path, team, {"store": {
        "url": server.database(), "password_file": str(server.password_file)}})


@pytest.fixture
def desk(config_path: Path) -> Iterator[RunningDaemon]:
    config = load_config(config_path)
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    if running.thread.is_alive():  # a test may stop it to work on the database alone
        running.stop()


def deliver(desk: RunningDaemon, msg: EmailMessage, mail_from: str) -> None:
    code, text = desk.send(msg, mail_from=mail_from)
    assert code == 250, text
    assert desk.wait_processed(int(text.decode().rsplit(" ", 1)[1])) in ("done", "quarantined")
    desk.wait_outbox_idle()


def with_file(msg: EmailMessage, data: bytes, name: str, mime: str) -> EmailMessage:
    maintype, subtype = mime.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def alice_history(desk: RunningDaemon) -> None:
    """Alice opens two tickets (three files), replies on one, is in Cc of Carol's ticket and
    answers there (a file), and has a mail in quarantine; Bob has a ticket of his own with a
    file. The team is told of every mail, with its files."""
    deliver(desk, with_file(make_mail("VPN drops every hour", sender=ALICE,
                                      body=f"Hello, the VPN drops. {ALICE_WORD}\n"),
                            PDF, "contract-alice.pdf", "application/pdf"), ALICE_ADDRESS)
    deliver(desk, with_file(with_file(
        make_mail("Printer jams", sender=ALICE, body=f"Paper jam again. {ALICE_WORD}\n"),
        PHOTO, "jam.png", "image/png"), PDF, "contract-again.pdf", "application/pdf"),
        ALICE_ADDRESS)
    deliver(desk, make_mail("Re: [SUP-000001] VPN drops every hour", sender=ALICE,
                            body=f"Still dropping. {ALICE_WORD} again\n"), ALICE_ADDRESS)
    deliver(desk, with_file(make_mail("Disk full", sender=BOB, body="bobsdiskword full\n"),
                            BOB_FILE, "df.txt", "text/plain"), "bob@example.nl")
    deliver(desk, make_mail("Shared drive", sender=CAROL, body="carolsdriveword broken\n",
                            Cc=ALICE), "carol@example.de")
    deliver(desk, with_file(make_mail("Re: [SUP-000004] Shared drive", sender=ALICE,
                                      body=f"Same here. {ALICE_WORD}\n"),
                            NOTES, "notes.txt", "text/plain"), ALICE_ADDRESS)
    deliver(desk, make_mail("Cheap pills", sender=ALICE, body=f"spam {ALICE_WORD}\n",
                            X_Spam_Flag="YES"), ALICE_ADDRESS)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


Dump = dict[str, list[dict[str, Any]]]


def everything(store: Store) -> Dump:
    """Every row of every table of the database, every column."""
    dump = {}
    for table in store.tables():
        columns = store.table_columns(table)
        dump[table] = [dict(zip(columns, row, strict=True)) for row in
                       store.rows_after(table, columns, columns, None, 1_000_000)]
    return dump


def mentions(dump: Dump, needle: str) -> list[str]:
    """Where ``needle`` (any case) is found: ``table.column: value`` for each match."""
    word = needle.lower()
    found = []
    for table, rows in dump.items():
        for row in rows:
            for column, value in row.items():
                text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) \
                    else str(value)
                if word in text.lower():
                    found.append(f"{table}.{column}: {text[:80]}")
    return found


def blob_mentions(dump: Dump, data: bytes) -> bool:
    return any(isinstance(v, bytes | memoryview) and data in bytes(v)
               for rows in dump.values() for row in rows for v in row.values())


def test_export_then_erase_a_customer(desk: RunningDaemon, config_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    """The export holds every mail of Alice's byte for byte, every file and every mail we
    sent her; after the erase nothing of hers is anywhere, Bob's data is as it was."""
    alice_history(desk)
    desk.stop()
    store = open_store(load_config(config_path), migrate=False)
    bob_before = everything(store)
    assert mentions(bob_before, ALICE_ADDRESS) and mentions(bob_before, ALICE_WORD)
    assert blob_mentions(bob_before, PDF) and blob_mentions(bob_before, PHOTO)
    acks_to_alice = {p.name: p.read_bytes() for p in desk.outbox_dir.glob("*.eml")
                     if ALICE_ADDRESS in str(message_from_bytes(p.read_bytes())["To"])}
    assert len(acks_to_alice) == 2  # the two acknowledgements (Carol's has her in no To)
    notices = [p for p in desk.outbox_dir.glob("*.eml") if ALICE_WORD in p.read_text()]
    assert len(notices) == 4  # the team's notices of her four mails

    code, out = cli(capsys, "export", "-c", str(config_path), "--customer",
                    "Alice.Andersson@Example.SE", "-o", str(tmp_path / "alice.zip"))
    assert code == 0, out
    with zipfile.ZipFile(tmp_path / "alice.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    index = json.loads(files["index.json"])
    assert index["customer"] == ALICE_ADDRESS
    by_ref = {t["reference"]: t for t in index["tickets"]}
    assert sorted(by_ref) == ["SUP-000001", "SUP-000002", "SUP-000004"]
    assert by_ref["SUP-000004"]["role"] == "participant"
    assert by_ref["SUP-000001"]["role"] == by_ref["SUP-000002"]["role"] == "requester"
    written = [m for t in index["tickets"] for m in t["messages"] if m["direction"] == "in"]
    assert len(written) == 4  # everything she wrote that made a ticket message
    for item in written:
        mail = message_from_bytes(files[item["file"]], policy=policy.default)
        assert mail["Message-ID"] == item["message_id"]
        assert ALICE_WORD in mail.get_body().get_content()
    exported_files = {a["filename"]: files[a["file"]] for item in written
                      for a in item["attachments"]}
    assert exported_files == {"contract-alice.pdf": PDF, "jam.png": PHOTO,
                              "contract-again.pdf": PDF, "notes.txt": NOTES}
    sent = {m["file"]: m for t in index["tickets"] for m in t["messages"]
            if m["direction"] == "out"}
    assert sorted(files[name] for name in sent) == sorted(acks_to_alice.values())
    [held] = index["quarantined"]
    assert ALICE_WORD.encode() in files[held["file"]]
    assert "bob@example.nl" not in files["index.json"].decode()
    assert not any(BOB_FILE in data for data in files.values())

    folder_export = tmp_path / "alice-folder"
    assert cli(capsys, "export", "-c", str(config_path), "--customer", ALICE_ADDRESS,
               "-o", str(folder_export))[0] == 0
    again = json.loads((folder_export / "index.json").read_text())
    assert again["tickets"] == index["tickets"]
    private = [folder_export, *folder_export.rglob("*"), tmp_path / "alice.zip"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in private)  # the owner's only
    assert cli(capsys, "export", "-c", str(config_path), "--customer", ALICE_ADDRESS,
               "-o", str(tmp_path / "alice.tar.gz"))[0] == 0
    with tarfile.open(tmp_path / "alice.tar.gz") as tar:
        tarred = {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                  if m.isfile()}
    assert json.loads(tarred.pop("index.json"))["tickets"] == index["tickets"]
    assert tarred == {k: v for k, v in files.items() if k != "index.json"}

    code, out = cli(capsys, "erase", "-c", str(config_path), "--customer", ALICE_ADDRESS)
    assert code == 0 and "would erase" in out and "SUP-000001" in out and "--yes" in out
    assert everything(store) == bob_before  # without --yes nothing changed

    code, out = cli(capsys, "erase", "-c", str(config_path), "--customer", ALICE_ADDRESS,
                    "--yes")
    assert code == 0, out
    after = everything(store)
    assert mentions(after, ALICE_ADDRESS) == []
    assert mentions(after, ALICE_WORD) == []
    assert mentions(after, "Andersson") == []
    assert not any(blob_mentions(after, data) for data in (PDF, PHOTO, NOTES))
    for path in desk.outbox_dir.glob("*.eml"):
        text = path.read_bytes().lower()
        assert ALICE_ADDRESS.encode() not in text and ALICE_WORD.encode() not in text
    assert set(acks_to_alice).isdisjoint(p.name for p in desk.outbox_dir.glob("*.eml"))

    # Bob's ticket, mail, file and acknowledgement are as they were
    bob_rows = mentions(bob_before, "bob@example.nl")
    assert bob_rows and mentions(after, "bob@example.nl") == bob_rows
    assert blob_mentions(after, BOB_FILE)
    bob = store.ticket_by_reference("SUP-000003")
    assert bob.requester == "bob@example.nl" and bob.subject == "Disk full"
    # Carol's ticket keeps her text (and the team's notice of it); Alice was in its Cc
    carol_mail, _alices = [m for m in store.messages(4) if m["direction"] == "in"]
    assert "carolsdriveword" in carol_mail["body_text"] and carol_mail["cc_addrs"] == []
    assert any(b"carolsdriveword" in p.read_bytes() for p in desk.outbox_dir.glob("*.eml"))

    # Alice's tickets are anonymised skeletons that keep their SLA figures
    skeleton = store.ticket_record(1)
    [was] = [t for t in bob_before["tickets"] if t["id"] == 1]
    assert skeleton["subject"] == "[erased]" and skeleton["requester"] == "erased@erased.invalid"
    kept = ("reference", "status", "sla_level", "first_response_due", "resolution_due",
            "created_at", "closed_at", "queue", "priority")
    assert {k: skeleton[k] for k in kept} == {k: was[k] for k in kept}
    assert after["sla_clocks"] == bob_before["sla_clocks"]
    assert "erased" in [e["kind"] for e in store.events(1)]
    code, out = cli(capsys, "show", "-c", str(config_path), "SUP-000001")
    assert code == 0 and "None" not in out and "(erased)" in out  # what an admin reads

    code, out = cli(capsys, "erase", "-c", str(config_path), "--customer", ALICE_ADDRESS,
                    "--yes")
    assert code == 0 and "erased before" in out  # idempotent
    code, out = cli(capsys, "export", "-c", str(config_path), "--customer", ALICE_ADDRESS,
                    "-o", str(tmp_path / "gone.zip"))
    assert code == 1 and "erased on" in out
    code, out = cli(capsys, "erase", "-c", str(config_path), "--customer",
                    "alice.anderson@example.se", "--yes")
    assert code == 1 and "typo" in out
    store.close()



@pytest.fixture
def retention_desk(config_path: Path) -> Iterator[RunningDaemon]:
    """A desk that keeps raw mail of closed tickets for 180 days."""
    update_config(config_path, {"store": {"keep_raw_for": "180d"}})
    config = load_config(config_path)
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running
    running.stop()


def raw_kept(store: Store, ticket_id: int) -> tuple[bool, bool]:
    """(the ticket's first mail still has its raw bytes, its attachment still has its bytes)"""
    [first, *_] = [m for m in store.messages(ticket_id) if m["direction"] == "in"]
    [attachment] = store.attachments(first["id"])
    data = store.blob(attachment["sha256"]) if attachment["sha256"] else None
    return bool(store.spool_raw(first["spool_id"])), data is not None


def test_keep_raw_for_purges_only_tickets_closed_long_enough(
        retention_desk: RunningDaemon, config_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Closed 186 days ago: raw mail and files go, texts stay; closed 20 days ago or still
    open: all kept (the same file on the open ticket too). Purging twice changes nothing
    more; the daemon's hourly pass purges the second ticket once it is old enough."""
    cfg = str(config_path)
    with freeze_time("2026-01-05 09:00:00", ignore=REAL_TIME) as frozen:
        shared, recent = os.urandom(100), os.urandom(100)  # the open case has the old file
        for n, (subject, data) in enumerate((("Old case", shared), ("Recent case", recent),
                                             ("Open case", shared))):
            deliver(retention_desk, with_file(make_mail(subject, body=f"text {subject}\n"),
                                              data, f"f{n}.bin", "application/octet-stream"),
                    "customer@example.org")
        assert cli(capsys, "close", "-c", cfg, "SUP-000001")[0] == 0
        frozen.move_to("2026-06-20 09:00:00")
        assert cli(capsys, "close", "-c", cfg, "SUP-000002")[0] == 0
        frozen.move_to("2026-07-10 09:00:00")  # 186 and 20 days after the closes
        store = retention_desk.store()
        before = everything(store)
        code, out = cli(capsys, "purge", "-c", cfg, "--dry-run")
        assert code == 0 and "would purge 1 tickets" in out
        assert everything(store) == before
        code, out = cli(capsys, "purge", "-c", cfg)
        assert code == 0 and "purged 1 tickets" in out, out
        assert raw_kept(store, 1) == (False, False)
        assert raw_kept(store, 2) == raw_kept(store, 3) == (True, True)
        [old_mail] = [m for m in store.messages(1) if m["direction"] == "in"]
        assert old_mail["body_text"] == "text Old case"  # the text stays readable
        assert [o for o in store.outbox_of_ticket(1)] and \
            all(not store.outbox_raw(o["id"]) for o in store.outbox_of_ticket(1))
        assert [e["kind"] for e in store.events(1)].count("raw_purged") == 1
        code, out = cli(capsys, "purge", "-c", cfg)
        assert code == 0 and "purged 0 tickets" in out  # idempotent
        assert [e["kind"] for e in store.events(1)].count("raw_purged") == 1

        frozen.move_to("2026-12-20 09:00:00")  # the second is now 183 days closed
        assert retention_desk.daemon.loop is not None
        asyncio.run_coroutine_threadsafe(retention_desk.daemon.run_purge(),
                                         retention_desk.daemon.loop).result(30)
        assert raw_kept(store, 2) == (False, False)
        assert raw_kept(store, 3) == (True, True)
        store.close()


def test_typos_are_refused(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong duration names the key and the file; a malformed or unknown address exits
    non-zero and says so; purge without keep_raw_for says which key to set."""
    cfg = str(config_path)
    assert cli(capsys, "db", "migrate", "-c", cfg)[0] == 0  # an empty desk
    code, out = cli(capsys, "purge", "-c", cfg)
    assert code == 64 and "store.keep_raw_for is off" in out and cfg in out
    code, out = cli(capsys, "purge", "-c", cfg, "--older-than", "half a year")
    assert code == 64 and "--older-than" in out
    code, out = cli(capsys, "erase", "-c", cfg, "--customer", "nobody@example.org")
    assert code == 1 and "nothing of nobody@example.org is stored" in out
    code, out = cli(capsys, "export", "-c", cfg, "--customer", "not-an-address")
    assert code == 64 and "not an email address" in out
    update_config(config_path, {"store": {"keep_raw_for": "180 days"}})
    code, out = cli(capsys, "purge", "-c", cfg)
    assert code == 78 and "store.keep_raw_for" in out and cfg in out


def test_mail_waiting_in_the_spool_is_kept_and_reported(
        desk: RunningDaemon, config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mail of hers accepted but not processed yet (the processor is down) is not erased
    unread: the erasure says so and exits 75; once processed, a second run erases it."""
    cfg = str(config_path)
    alice_history(desk)
    desk.stop()
    late = make_mail("One more thing", sender=ALICE, body=f"late {ALICE_WORD}\n").as_bytes()
    store = open_store(load_config(config_path), migrate=False)
    with store.transaction():  # what the listener does while no processor runs
        waiting = store.spool_add(late, channel="smtp", received_at=clock.now(),
                                  mail_from=ALICE_ADDRESS, rcpt_tos=["support@example.com"])
    code, out = cli(capsys, "erase", "-c", cfg, "--customer", ALICE_ADDRESS, "--yes")
    assert code == 75 and "waiting in the spool" in out and str(waiting) in out
    assert store.spool_raw(waiting) == late  # accepted mail is never dropped unread

    again = RunningDaemon(load_config(config_path)).start()
    try:
        assert again.wait_processed(waiting) == "done"
        again.wait_outbox_idle()
    finally:
        again.stop()
    code, out = cli(capsys, "erase", "-c", cfg, "--customer", ALICE_ADDRESS, "--yes")
    assert code == 0, out
    after = everything(store)
    assert mentions(after, ALICE_ADDRESS) == [] and mentions(after, ALICE_WORD) == []
    store.close()


def test_erase_waits_for_a_reply_another_node_is_recording(
        tmp_path: Path, pg_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """PostgreSQL, two nodes: while one node records a reply of hers (the ticket locked),
    the erasure of that ticket waits for its commit, then erases the reply too."""
    url = pg_server.database()
    config_path = write_config(tmp_path, {"store": {
        "url": url, "password_file": str(pg_server.password_file), "busy_timeout": "20s"}})
    running = RunningDaemon(load_config(config_path)).start()
    try:
        deliver(running, make_mail("VPN drops", sender=ALICE, body=f"{ALICE_WORD}\n"),
                ALICE_ADDRESS)
    finally:
        running.stop()
    node = open_store(load_config(config_path), migrate=False)
    result: dict[str, Any] = {}
    with node.transaction():
        node.ticket(1)  # locked, as the record step locks it
        node.add_message(ticket_id=1, message_id="<late@example.se>", direction="in",
                         kind="customer", now=clock.now(), from_addr=ALICE_ADDRESS,
                         body_text=f"a late reply {ALICE_WORD}")
        eraser = threading.Thread(target=lambda: result.update(code=main(
            ["erase", "-c", str(config_path), "--customer", ALICE_ADDRESS, "--yes"])))
        eraser.start()
        wait_until(lambda: pg_server.query(
            url, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'mailgate cli'"
                 " AND wait_event_type = 'Lock'"), message="the erasure never waited")
    eraser.join(30)
    assert result == {"code": 0}
    capsys.readouterr()
    after = everything(node)
    assert mentions(after, ALICE_ADDRESS) == [] and mentions(after, ALICE_WORD) == []
    node.close()


def test_mail_erased_after_a_sender_claimed_it_is_not_sent(
        desk: RunningDaemon, config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A node had taken mail to her from the outbox when the erasure ran: it finds the
    bytes gone and cancels the mail; no file is written and no event names her."""
    deliver(desk, make_mail("VPN drops", sender=ALICE, body=f"{ALICE_WORD}\n"), ALICE_ADDRESS)
    desk.stop()
    config = load_config(config_path)
    store = open_store(config, migrate=False)
    with store.transaction():
        late = store.outbox_add(ticket_id=1, message_id="<late@example.com>", kind="relay",
                                mail_from="support@example.com", rcpt_tos=[ALICE_ADDRESS],
                                raw=f"To: {ALICE_ADDRESS}\r\n\r\n{ALICE_WORD}\r\n".encode(),
                                now=clock.now())
    now = clock.now()
    claimed = store.outbox_claim("other-node", now, now + timedelta(minutes=5), 10)
    assert [item.id for item in claimed] == [late]
    assert cli(capsys, "erase", "-c", str(config_path), "--customer", ALICE_ADDRESS,
               "--yes")[0] == 0
    sender = Sender(config, lambda: open_store(config, migrate=False), "other-node")
    sender._held = claimed  # what that node's sender holds when it goes on
    try:
        asyncio.run(sender.drain())
    finally:
        sender.close()
    assert not (desk.outbox_dir / outbox_file_name(late)).exists()
    assert [row["id"] for row in store.outbox(("cancelled",))] == [late]
    after = everything(store)
    assert mentions(after, ALICE_ADDRESS) == [] and mentions(after, ALICE_WORD) == []
    store.close()


def test_a_file_someone_else_sent_too_stays_theirs(
        desk: RunningDaemon, config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Files are stored once per content: Bob sent the same file as Alice, so after her
    erasure his attachment still has its bytes; hers is unlinked."""
    deliver(desk, with_file(make_mail("Form", sender=ALICE, body="a\n"), PDF, "form.pdf",
                            "application/pdf"), ALICE_ADDRESS)
    deliver(desk, with_file(make_mail("Form", sender=BOB, body="b\n"), PDF, "same.pdf",
                            "application/pdf"), "bob@example.nl")
    desk.stop()
    assert cli(capsys, "erase", "-c", str(config_path), "--customer", ALICE_ADDRESS,
               "--yes")[0] == 0
    store = open_store(load_config(config_path), migrate=False)
    [alice_mail] = [m for m in store.messages(1) if m["direction"] == "in"]
    [bob_mail] = [m for m in store.messages(2) if m["direction"] == "in"]
    assert store.attachments(alice_mail["id"])[0]["sha256"] == ""
    [bobs] = store.attachments(bob_mail["id"])
    assert bobs["filename"] == "same.pdf" and store.blob(bobs["sha256"]) == PDF
    store.close()


def test_an_address_inside_another_is_another_person(
        desk: RunningDaemon, config_path: Path, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """bob@example.nl is not jimbob@example.nl: Bob's export holds nothing of Jim's, and
    erasing Bob leaves Jim's tickets, texts, addresses and quarantined mail as they were."""
    deliver(desk, make_mail("Disk full", sender="Bob <bob@example.nl>", body="bob here\n"),
            "bob@example.nl")
    deliver(desk, make_mail("Jim's printer", sender="Jim <jimbob@example.nl>",
                            body="jimsecretword printer\n"), "jimbob@example.nl")
    deliver(desk, make_mail("Pills", sender="Jim <jimbob@example.nl>", body="jimspam\n",
                            X_Spam_Flag="YES"), "jimbob@example.nl")
    desk.stop()
    code, out = cli(capsys, "export", "-c", str(config_path), "--customer", "bob@example.nl",
                    "-o", str(tmp_path / "bob.zip"))
    assert code == 0, out
    with zipfile.ZipFile(tmp_path / "bob.zip") as archive:
        exported = b"".join(archive.read(n) for n in archive.namelist())
    assert b"bob here" in exported
    assert b"jimsecretword" not in exported and b"jimspam" not in exported
    with closing(open_store(load_config(config_path), migrate=False)) as store:
        before = everything(store)
    code, out = cli(capsys, "erase", "-c", str(config_path), "--customer", "bob@example.nl",
                    "--yes")
    assert code == 0, out
    with closing(open_store(load_config(config_path), migrate=False)) as store:
        after = everything(store)
    assert mentions(after, "jimbob@example.nl") == mentions(before, "jimbob@example.nl")
    assert mentions(after, "jimerased") == []
    assert mentions(after, "bob here") == []
