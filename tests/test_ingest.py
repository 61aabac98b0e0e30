"""``mailgate ingest`` as Postfix's pipe(8) runs it: argv, exit codes, what it prints.

The documented ``master.cf`` line (``mailgate/defaults/deploy/postfix-master.cf.example``,
also in the README) is expanded here as pipe(8) expands it: ``${sender}`` to the envelope
sender (empty for the null sender with ``null_sender=``), and the argument
``${recipient}`` to as many arguments as there are recipients (``-r a b``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mailgate import clock, health
from mailgate.cli.ingest import (
    DEFAULT_BUSY_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_STORE_URL,
    PID_NAME,
    STORE_KEYS,
    UNSURE,
    parse_args,
    plain_tables,
    quick_settings,
)
from mailgate.config import SmtpSection, StoreSection, load_config
from mailgate.store.lite import json_strings
from tests.conftest import make_mail, sqlite_only
from tests.faultkit import DaemonProcess, fault_config, query
from tests.support import free_port, wait_processed, wait_until

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def master_cf_argv() -> list[str]:
    """The ``argv=`` of the documented master.cf entry, split as Postfix splits it."""
    deploy = ROOT / "mailgate" / "defaults" / "deploy"
    text = (deploy / "postfix-master.cf.example").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    entry = " ".join(line.strip() for line in lines)  # continuation lines start with space
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert " ".join(entry.split()) in readme, "README's master.cf entry differs from the example"
    assert entry.startswith("mailgate  unix") and "flags=Rq" in entry
    return entry.split("argv=", 1)[1].split()


def pipe_argv(config: Path, sender: str, recipients: list[str]) -> list[str]:
    """What pipe(8) runs for one delivery: the macros expanded, our interpreter for the
    installed program, the test's config for /etc/mailgate/mailgate.toml."""
    argv: list[str] = []
    for word in master_cf_argv():
        if word == "${recipient}":
            argv += recipients
        elif word == "${sender}":
            argv.append(sender)
        elif word == "/etc/mailgate/mailgate.toml":
            argv.append(str(config))
        else:
            argv.append(word)
    assert argv[0].endswith("/bin/mailgate")
    return [sys.executable, "-m", "mailgate", *argv[1:]]


@pytest.fixture
def daemon_proc(tmp_path: Path) -> Iterator[DaemonProcess]:
    port = free_port()
    proc = DaemonProcess(fault_config(tmp_path, {"smtp": {"port": port},
                                                 "processing": {"poll_interval": "60s"}}), port)
    yield proc
    proc.cleanup()


def spool_rows(folder: Path) -> list[tuple[str, list[str], str]]:
    return [(r[0], json.loads(r[1]), r[2]) for r in query(
        folder / "var" / "mailgate.db", "SELECT mail_from, rcpt_tos, state FROM spool")]


@sqlite_only
@pytest.mark.parametrize("beside_daemon", [False, True], ids=["alone", "beside-daemon"])
@pytest.mark.parametrize("recipients", [["support@example.com"],
                                        ["support@example.com", "support+x7@example.com"]],
                         ids=["one-recipient", "two-recipients"])
def test_the_documented_master_cf_line_stores_the_mail_once(
        tmp_path: Path, daemon_proc: DaemonProcess, recipients: list[str],
        beside_daemon: bool) -> None:
    """Postfix's pipe runs the README's line: exit 0, nothing printed (it would land in
    Postfix's log), one spool row with every recipient, one ticket and its ack."""
    if beside_daemon:
        daemon_proc.start()
    raw = make_mail("Piped by Postfix").as_bytes()
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                      recipients),
                            input=raw, capture_output=True, timeout=60, env=ENV)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    db = daemon_proc.config_path.parent / "var" / "mailgate.db"
    wait_until(lambda: [r for r in spool_rows(tmp_path) if r[2] != "new"], 20,
               message=lambda: str(spool_rows(tmp_path)))  # (the daemon processes it)
    assert spool_rows(tmp_path) == [("customer@example.org", recipients, "done")]
    assert query(db, "SELECT subject FROM tickets") == [("Piped by Postfix",)]
    assert query(db, "SELECT kind FROM outbox") == [("ack",)]


@sqlite_only
def test_a_bounce_from_the_null_sender_is_taken(tmp_path: Path,
                                                daemon_proc: DaemonProcess) -> None:
    """``null_sender=`` makes pipe pass an empty ``${sender}``: stored with an empty sender."""
    daemon_proc.start()
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "", ["support@example.com"]),
                            input=make_mail("Undelivered").as_bytes(), capture_output=True,
                            timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    assert [row[:2] for row in spool_rows(tmp_path)] == [("", ["support@example.com"])]


@pytest.mark.parametrize("argv", [["--bogus"], ["-c"], ["-f", "a@example.org", "stray"]])
def test_a_usage_error_defers_the_mail_with_one_short_line(config_path: Path,
                                                          argv: list[str]) -> None:
    """A wrong master.cf line must not bounce customer mail: exit 75 (Postfix retries) and
    one readable line on stderr for Postfix's log, no traceback."""
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", *argv],
                            input=make_mail().as_bytes(), capture_output=True, timeout=60,
                            env=ENV, cwd=config_path.parent)
    assert result.returncode == 75
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("mailgate ingest: ") and "usage: mailgate ingest" in line


@sqlite_only
def test_a_config_broken_while_the_daemon_runs_defers(tmp_path: Path,
                                                      daemon_proc: DaemonProcess) -> None:
    """A TOML syntax error is not guessed around: the full path reports it, exit 75."""
    daemon_proc.start()
    daemon_proc.config_path.write_text(daemon_proc.config_path.read_text() + "\n[store\n")
    result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                      ["support@example.com"]),
                            input=make_mail().as_bytes(), capture_output=True, timeout=60,
                            env=ENV)
    assert result.returncode == 75
    assert str(daemon_proc.config_path).encode() in result.stderr
    assert spool_rows(tmp_path) == []


@sqlite_only
def test_a_stale_pid_file_does_not_hand_the_mail_to_nobody(config_path: Path) -> None:
    """A pid file naming a live process that is not ``mailgate serve`` (a recycled pid):
    ingest has the mail processed by a drainer instead of signalling that process."""
    assert subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)],
                          input=make_mail("First").as_bytes(), timeout=60,
                          env=ENV).returncode == 0
    (config_path.parent / "var" / "mailgate.pid").write_text(f"{os.getpid()}\n")
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)],
                            input=make_mail("Second").as_bytes(), capture_output=True,
                            timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    wait_processed(config_path)
    states = query(config_path.parent / "var" / "mailgate.db", "SELECT state FROM spool")
    assert states == [("done",), ("done",)]


@sqlite_only
def test_beside_a_daemon_ingest_loads_no_config_models_nor_pipeline(
        tmp_path: Path, daemon_proc: DaemonProcess) -> None:
    """The quick path's point: what a per-mail process imports. Stored, exit 0, and none of
    pydantic, the pipeline, structlog, rich, asyncio, jinja2, tomllib (the test config is
    written plainly) or json loaded."""
    daemon_proc.start()
    probe = ("import sys\nfrom mailgate.cli import main\ncode = main(sys.argv[1:])\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
             "('pydantic', 'structlog', 'rich', 'asyncio', 'jinja2', 'tomllib', 'json')}"
             " | {m for m in sys.modules"
             " if m.startswith(('mailgate.pipeline', 'mailgate.config'))})\n"
             "print(code, heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe, "ingest", "-c",
                             str(daemon_proc.config_path)], input=make_mail().as_bytes(),
                            capture_output=True, timeout=60, env=ENV, text=False)
    assert result.stdout.decode().strip() == "0 []", result.stderr
    assert [row[1:] for row in spool_rows(tmp_path)] in ([([], "new")], [([], "done")])
    # the instant is written in the store's one text form (it sorts as text)
    [(received_at,)] = query(tmp_path / "var" / "mailgate.db", "SELECT received_at FROM spool")
    assert clock.to_db(clock.from_db(received_at)) == received_at


def test_recipients_as_postfix_and_people_write_them() -> None:
    """``-r a b`` (pipe's ``${recipient}`` for two recipients), ``-r a -r b``, ``-ra``,
    ``--recipient=a``; an option's value is taken even if it starts with a dash."""
    for argv in (["-r", "a@x", "b@x"], ["-r", "a@x", "-r", "b@x"], ["-ra@x", "--recipient=b@x"]):
        args = parse_args(argv)
        assert args is not None and args.recipients == ["a@x", "b@x"], argv
    args = parse_args(["-f", "-odd@x", "-c", "m.toml"])
    assert args is not None and (args.sender, args.config) == ("-odd@x", "m.toml")


def test_the_quick_path_defaults_are_the_config_models_defaults() -> None:
    """The quick path reads the file without the models; its defaults must not drift."""
    assert StoreSection().url == DEFAULT_STORE_URL
    assert StoreSection().busy_timeout.total_seconds() == DEFAULT_BUSY_TIMEOUT
    assert SmtpSection().max_message_size == DEFAULT_MAX_MESSAGE_SIZE
    assert health.pid_file(load_config(None)).name == PID_NAME
    assert set(StoreSection.model_fields) == STORE_KEYS


@sqlite_only
def test_beside_a_daemon_a_locked_database_defers(tmp_path: Path,
                                                  daemon_proc: DaemonProcess) -> None:
    """The quick path waits ``busy_timeout`` for the write lock, then exits 75 (retry) with
    one line, and nothing is stored."""
    daemon_proc.start()
    blocker = sqlite3.connect(tmp_path / "var" / "mailgate.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = subprocess.run(pipe_argv(daemon_proc.config_path, "customer@example.org",
                                          ["support@example.com"]),
                                input=make_mail().as_bytes(), capture_output=True, timeout=60,
                                env=ENV)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 75
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("mailgate ingest: message not stored, retry later")
    assert spool_rows(tmp_path) == []


# -- the config read without tomllib, and mail processed without a daemon ----------------

TRICKY_CONFIGS = [
    # a multi-line string that holds what looks like a [store] table: tomllib decides
    '[gateway]\nnote = """\n[store]\nurl = "sqlite:///evil.db"\n"""\n[store]\n'
    'url = "sqlite:///good.db"\n',
    # arrays over several lines, nested, with brackets in strings and comments
    'list = [\n  [1, 2],\n  "a]", # a comment ]\n  "[store]",\n]\n[store]\nurl = "sqlite:///a.db"\n',
    "[ store ]  # spaced\nurl = 'sqlite:///b.db'\nbusy_timeout = 2.5\n",
    "[smtp]\nmax_message_size = 10_000_000\n[store]\nstate_dir = \"state\"\n",
    'store.url = "sqlite:///c.db"\n',  # a dotted root key is the [store] table
    'store = { url = "sqlite:///c.db" }\n',
    '[store]\nurl = "sqlite:///d\\u0041.db"\n',  # an escape: tomllib reads it
    '[store]\n"url" = "sqlite:///e.db"\n',
    '[store]\nurl = "a"\nurl = "b"\n', "[store]\n[store]\n", "[[store]]\nurl = 'x'\n",
    "[store.sub]\nx = 1\n", "[smtp]\nmax_message_size = 0x10000\n",
    "[smtp]\nmax_message_size = +5000\n", '[store]\nurl = "unterminated\n',
    '[conversation]\non_reply.closed = { requester = "reopen" }\n[store]\nurl = "sqlite:///f.db"\n',
    "[a]\nx = '''\n[store]\nurl = 'sqlite:///g.db'\n'''\n",
]


def _quick_values(tables: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(t, k): tables.get(t, {}).get(k) for t in ("store", "smtp")
            for k in ("url", "state_dir", "busy_timeout", "max_message_size")}


@pytest.mark.parametrize("text", TRICKY_CONFIGS)
def test_the_plain_reader_agrees_with_tomllib_or_declines(text: str) -> None:
    """The quick path reads ``[store]`` and ``[smtp]`` without tomllib; wherever it gives an
    answer (a value it is unsure of sends the file to tomllib), tomllib gives the same."""
    got = plain_tables(text)
    if got is None:
        return
    try:
        ref = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pytest.fail(f"read plainly, refused by tomllib: {text!r}")
    mine = {key: value for key, value in _quick_values(got).items() if value is not UNSURE}
    assert mine == {key: _quick_values(ref)[key] for key in mine}


def test_the_shipped_and_written_configs_are_read_without_tomllib(config_path: Path) -> None:
    """The example config (what ``mailgate init`` writes) and the tests' configs are plain:
    the quick path does not need tomllib for them, and reads what tomllib reads."""
    for path in (ROOT / "mailgate" / "defaults" / "mailgate.toml.example", config_path):
        text = path.read_text(encoding="utf-8")
        got = plain_tables(text)
        assert got is not None, path
        assert _quick_values(got) == _quick_values(tomllib.loads(text))


def test_recipients_are_written_as_json() -> None:
    """The spool's ``rcpt_tos`` is JSON, written without the json module."""
    for items in ([], ["a@x"], ['q"b\\c@x', "tab\there", "ü@exämple.de", "\udcff\x01\x7f"]):
        assert json.loads(json_strings(items)) == items


@sqlite_only
def test_without_a_daemon_mail_arriving_together_is_each_processed_once(
        config_path: Path) -> None:
    """No daemon: twelve ingests at once (the first creates the database). Each exits 0
    at once; the drainers they start process every mail once, and none is left waiting."""
    argv = [sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)]
    first = subprocess.run(argv, input=make_mail("First", message_id="<m0@example.org>")
                           .as_bytes(), capture_output=True, timeout=60, env=ENV)
    assert first.returncode == 0, first.stderr
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
             for _ in range(11)]
    for n, proc in enumerate(procs, 1):
        mail = make_mail(f"Mail {n}", sender=f"c{n}@customer{n}.example",
                         message_id=f"<m{n}@example.org>")
        _, err = proc.communicate(mail.as_bytes(), timeout=60)
        assert proc.returncode == 0, err
    wait_processed(config_path)
    db = config_path.parent / "var" / "mailgate.db"
    assert query(db, "SELECT state, COUNT(*) FROM spool GROUP BY state") == [("done", 12)]
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT subject) FROM tickets") == [(12, 12)]
    assert query(db, "SELECT COUNT(*) FROM outbox WHERE kind = 'ack'") == [(12,)]


@sqlite_only
def test_a_config_no_drainer_can_load_defers_the_next_mail_until_fixed(
        config_path: Path) -> None:
    """A config broken where the quick path does not look (a typo in [smtp]): the mail is
    stored, but nobody can process it; the next ingest defers with the error (exit 75, the
    MTA retries) until the file is fixed; ``mailgate drain`` then processes what waits."""
    argv = [sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)]
    assert subprocess.run(argv, input=make_mail("Before").as_bytes(), timeout=60,
                          env=ENV).returncode == 0
    wait_processed(config_path)
    good = config_path.read_text(encoding="utf-8")
    config_path.write_text(good.replace("[smtp]\n", "[smtp]\nprot = 25\n", 1), encoding="utf-8")
    stored = subprocess.run(argv, input=make_mail("Stored, stuck").as_bytes(),
                            capture_output=True, timeout=60, env=ENV)
    assert stored.returncode == 0, stored.stderr
    state = config_path.parent / "var"
    wait_until(lambda: (state / "drain-failed").exists(), 30)
    deferred = subprocess.run(argv, input=make_mail("Deferred").as_bytes(),
                              capture_output=True, timeout=60, env=ENV)
    assert deferred.returncode == 75 and b"smtp.prot" in deferred.stderr
    config_path.write_text(good, encoding="utf-8")
    drained = subprocess.run([*argv[:3], "drain", "-c", str(config_path)], capture_output=True,
                             timeout=60, env=ENV)
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.decode().strip() == "1 message(s) processed"
    assert not (state / "drain-failed").exists()
    assert query(state / "mailgate.db", "SELECT subject FROM tickets ORDER BY id") == [
        ("Before",), ("Stored, stuck",)]


def _models_view(path: Path) -> tuple[str, str, float, int]:
    config = load_config(path)
    url = config.store.url
    assert url.startswith("sqlite:///")
    return (str((path.parent / url[10:]).resolve()), str(Path(config.state_dir).resolve()),
            config.store.busy_timeout.total_seconds(), config.smtp.max_message_size)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_the_quick_path_finds_the_database_the_config_models_find(
        config_path: Path, newline: str) -> None:
    """The database, state folder and limits the quick path reads from the file are the
    ones the daemon reads, whatever the line ends (a lone CR ends a line for Python's text
    mode, not for TOML: the quick path then leaves the file to the models)."""
    text = re.sub(r"(?m)^max_message_size = \d+", "max_message_size = 52428800 # 50 MiB",
                  config_path.read_text(encoding="utf-8"))
    text = re.sub(r'(?m)^url = "sqlite:///[^"]*"', 'url = "sqlite:///data/desk.db"', text)
    config_path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    expected = _models_view(config_path)
    quick = quick_settings(str(config_path))
    if quick is not None:
        assert (str(Path(quick.database).resolve()), str(Path(quick.state_dir).resolve()),
                quick.busy_timeout, quick.max_message_size) == expected
    assert newline == "\r" or quick is not None  # (plain files are read quickly)


@sqlite_only
def test_a_broken_template_defers_mail_until_it_is_fixed(config_path: Path) -> None:
    """The templates folder gone: the first mail is stored, its drainer cannot start and
    says so; later mail is deferred (75) with the reason until the folder is back, then
    stored and everything waiting is processed."""
    argv = [sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)]
    assert subprocess.run(argv, input=make_mail("Before").as_bytes(), timeout=60,
                          env=ENV).returncode == 0
    wait_processed(config_path)
    templates = config_path.parent / "templates"
    templates.rename(config_path.parent / "templates.away")
    state = config_path.parent / "var"
    stuck = subprocess.run(argv, input=make_mail("Stuck", sender="b@b.example").as_bytes(),
                           capture_output=True, timeout=60, env=ENV)
    assert stuck.returncode == 0, stuck.stderr
    wait_until(lambda: (state / "drain-failed").exists(), 30)
    deferred = subprocess.run(argv, input=make_mail("Deferred", sender="c@c.example")
                              .as_bytes(), capture_output=True, timeout=60, env=ENV)
    assert deferred.returncode == 75 and b"templates" in deferred.stderr, deferred.stderr
    (config_path.parent / "templates.away").rename(templates)
    retried = subprocess.run(argv, input=make_mail("Deferred", sender="c@c.example")
                             .as_bytes(), capture_output=True, timeout=60, env=ENV)
    assert retried.returncode == 0, retried.stderr
    wait_processed(config_path)
    assert not (state / "drain-failed").exists()
    assert query(state / "mailgate.db", "SELECT subject FROM tickets ORDER BY id") == [
        ("Before",), ("Stuck",), ("Deferred",)]


@sqlite_only
def test_a_killed_drainers_claims_are_taken_by_the_next_one_at_once(config_path: Path) -> None:
    """Rows a drainer claimed before it was killed (its process gone) are processed by the
    next drainer at its start, not after their lease."""
    from mailgate.store import open_store

    argv = [sys.executable, "-m", "mailgate", "ingest", "-c", str(config_path)]
    assert subprocess.run(argv, input=make_mail("First").as_bytes(), timeout=60,
                          env=ENV).returncode == 0
    wait_processed(config_path)
    store = open_store(load_config(config_path), migrate=False)
    try:
        with store.transaction():
            store.spool_add(make_mail("Orphaned", sender="o@o.example").as_bytes(),
                            channel="pipe", received_at=clock.now(), source="pipe:stdin",
                            mail_from="o@o.example", rcpt_tos=["support@example.com"])
        gone = f"{socket.gethostname()}:4194303:{'0' * 8}:1"  # (a pid above pid_max)
        claimed = store.spool_claim(gone, clock.now(), clock.now() + timedelta(hours=1), 10)
        assert len(claimed) == 1
    finally:
        store.close()
    drained = subprocess.run([sys.executable, "-m", "mailgate", "drain", "-c",
                              str(config_path)], capture_output=True, timeout=60, env=ENV)
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.decode().strip() == "1 message(s) processed"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder to another user")
def test_drain_as_another_user_than_the_state_folders_refuses(config_path: Path) -> None:
    """``mailgate drain`` run as root on the daemon user's folder refuses and creates
    nothing there (a root-owned lock or note would stop the daemon user's drainers)."""
    state = config_path.parent / "var"
    state.mkdir()
    os.chown(state, 65534, 65534)
    result = subprocess.run([sys.executable, "-m", "mailgate", "drain", "-c",
                             str(config_path)], capture_output=True, timeout=60, env=ENV)
    assert result.returncode == 78
    assert b"refusing to drain" in result.stderr and str(state).encode() in result.stderr
    assert list(state.iterdir()) == []


@sqlite_only
def test_an_envelope_address_that_is_not_utf8_is_stored_not_deferred(
        config_path: Path) -> None:
    """Postfix passes the envelope sender as bytes; one that is not UTF-8 must not make
    every retry fail until the MTA gives up: stored, the byte replaced, the raw mail intact."""
    raw = make_mail("Latin-1 sender").as_bytes()
    result = subprocess.run([sys.executable, "-m", "mailgate", "ingest", "-c",
                             str(config_path), "-f", b"caf\xe9@example.org"], input=raw,
                            capture_output=True, timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    rows = query(config_path.parent / "var" / "mailgate.db",
                 "SELECT s.mail_from, r.raw FROM spool s JOIN spool_raw r ON r.id = s.id")
    assert rows == [("caf\ufffd@example.org", raw)]
