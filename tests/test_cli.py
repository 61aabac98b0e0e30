"""The command line as a user runs it: subprocesses, exit codes, JSON output."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.configs import write_config
from tests.conftest import make_mail, sqlite_only
from tests.support import wait_processed

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[bytes]:
    """Run a command; after an ``ingest`` that stored its mail, wait for the drainer it
    started to process it (as a user would look a moment later)."""
    result = subprocess.run([sys.executable, "-m", "mailgate", *args], input=stdin,
                            capture_output=True, timeout=60, cwd=cwd, env=ENV)
    if args[:1] == ("ingest",) and result.returncode == 0 and "-c" in args:
        wait_processed(Path(args[args.index("-c") + 1]))
    return result


def test_ingest_stores_threads_and_acknowledges(config_path: Path) -> None:
    """`mailgate ingest` exits 0 after storing; the ticket exists and its ack is in the outbox."""
    result = run("ingest", "-c", str(config_path), "-f", "customer@example.org",
                 stdin=make_mail("Piped problem").as_bytes())
    assert result.returncode == 0, result.stderr
    shown = run("show", "-c", str(config_path), "SUP-000001", "--json")
    assert shown.returncode == 0, shown.stderr
    ticket = json.loads(shown.stdout)
    assert ticket["subject"] == "Piped problem"
    kinds = [(m["direction"], m["kind"]) for m in ticket["messages"]]
    assert kinds == [("in", "customer"), ("out", "ack")]


def test_ingest_same_message_twice_is_stored_once(config_path: Path) -> None:
    """Piping the same message twice exits 0 both times and keeps one ticket message."""
    raw = make_mail("Twice by pipe").as_bytes()
    assert run("ingest", "-c", str(config_path), stdin=raw).returncode == 0
    assert run("ingest", "-c", str(config_path), stdin=raw).returncode == 0
    listed = json.loads(run("tickets", "-c", str(config_path), "--json").stdout)
    assert len(listed) == 1


@sqlite_only
def test_ingest_exits_75_when_database_is_locked(config_path: Path) -> None:
    """A transient store failure is exit 75 with a clear message, and nothing is stored."""
    assert run("ingest", "-c", str(config_path), stdin=make_mail().as_bytes()).returncode == 0
    db = config_path.parent / "var" / "mailgate.db"
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = run("ingest", "-c", str(config_path), stdin=make_mail("x").as_bytes())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 75
    assert b"retry later" in result.stderr
    assert len(json.loads(run("tickets", "-c", str(config_path), "--json").stdout)) == 1


def test_ingest_exits_75_on_config_error(tmp_path: Path) -> None:
    """A broken config must not bounce mail: exit 75 (retry), naming the bad key."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nprot = 1\n")
    result = run("ingest", "-c", str(bad), stdin=make_mail().as_bytes())
    assert result.returncode == 75
    assert b"smtp.prot" in result.stderr


def test_ingest_refuses_empty_and_oversized_input(config_path: Path) -> None:
    """Empty input and a message over the size limit exit 65 (the MTA bounces them)."""
    assert run("ingest", "-c", str(config_path), stdin=b"").returncode == 65
    big = make_mail(body="x" * 70 + "\n" * 1 + ("y" * 70 + "\n") * 4000).as_bytes()
    result = run("ingest", "-c", str(config_path), stdin=big)
    assert result.returncode == 65 and b"max_message_size" in result.stderr


def test_check_config_accepts_good_config(config_path: Path) -> None:
    """check-config says OK for a valid config and templates."""
    result = run("check-config", "-c", str(config_path))
    assert result.returncode == 0, result.stderr
    assert b"OK" in result.stdout


def test_check_config_warns_of_a_template_language_mailgate_has_no_table_for(
        config_path: Path) -> None:
    """An admin's ``ack.hu.txt.j2``: accepted, but check-config says that its SLA phrases and
    dates come out in English and that only Content-Language selects it; a packaged
    language (German, Korean, Polish) gets no warning."""
    folder = config_path.parent / "templates"
    (folder / "ack.hu.txt.j2").write_text("{{ ticket.reference }} megérkezett\n",
                                          encoding="utf-8")
    (folder / "ack.de.txt.j2").write_text("{{ ticket.reference }} ist angekommen\n",
                                          encoding="utf-8")
    (folder / "ack.ko.txt.j2").write_text("{{ ticket.reference }} 접수되었습니다\n",
                                          encoding="utf-8")
    (folder / "ack.pl.txt.j2").write_text("{{ ticket.reference }} przyjęte\n",
                                          encoding="utf-8")
    result = run("check-config", "-c", str(config_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.decode().splitlines()
                if line.startswith("warning: templates")]
    assert len(warnings) == 1 and "*.hu.txt.j2: mailgate has no 'hu' table" in warnings[0]
    assert "come out in English" in warnings[0] and "Content-Language" in warnings[0]


def test_check_config_catches_template_typo(config_path: Path) -> None:
    """An undefined variable in a template is reported with file and line, exit 78."""
    template = config_path.parent / "templates" / "ack.txt.j2"
    template.write_text("Hello\n{{ ticket.refrence }}\n")
    result = run("check-config", "-c", str(config_path))
    assert result.returncode == 78
    assert b"ack.txt.j2:2" in result.stderr and b"refrence" in result.stderr


def test_check_config_catches_template_syntax_error(config_path: Path) -> None:
    """A Jinja2 syntax error is reported, not discovered when the first mail arrives."""
    (config_path.parent / "templates" / "ack.html.j2").write_text("{% if %}")
    result = run("check-config", "-c", str(config_path))
    assert result.returncode == 78 and b"ack.html.j2" in result.stderr


def test_check_config_loads_the_gratitude_file(config_path: Path) -> None:
    """The admin's thank-you words are loaded by check-config: a typo names file and list."""
    from tests.configs import update_config

    words = config_path.parent / "gratitude.toml"
    words.write_text('[sv]\ngratitude = ["tackar och bugar"]\n', encoding="utf-8")
    update_config(config_path, {"conversation": {"gratitude_file": "gratitude.toml"}})
    assert run("check-config", "-c", str(config_path)).returncode == 0
    words.write_text('[sv]\ngratitud = ["tackar och bugar"]\n', encoding="utf-8")
    result = run("check-config", "-c", str(config_path))
    assert result.returncode == 78
    assert b"gratitude.toml" in result.stderr and b"[sv] gratitud: unknown list" in result.stderr


def test_check_config_names_bad_key(tmp_path: Path) -> None:
    """check-config on a config with a typo names the key and file in one error, no traceback."""
    bad = tmp_path / "m.toml"
    bad.write_text("[outbound]\nmode = \"pigeon\"\n")
    result = run("check-config", "-c", str(bad))
    assert result.returncode == 78
    assert b"outbound.mode" in result.stderr and b"m.toml" in result.stderr
    assert b"Traceback" not in result.stderr


def test_check_config_refuses_one_address_under_two_engineer_names(tmp_path: Path) -> None:
    """``bob`` and ``robert`` both ``bob@example.com`` (a copy-paste slip: the second
    engineer never gets a notification): an error naming both keys and the file."""
    bad = tmp_path / "team.toml"
    bad.write_text('[gateway]\naddresses = ["support@example.com"]\n[team]\n'
                   'engineers = { bob = "bob@example.com", robert = "Bob@Example.com", '
                   'ann = "ann@example.com" }\n')
    result = run("check-config", "-c", str(bad))
    assert result.returncode == 78
    err = result.stderr.decode()
    assert "team.toml" in err and "Traceback" not in err
    assert "team.engineers.bob and team.engineers.robert: bob@example.com is listed under 2 " \
        "names" in err
    assert "team.engineers.ann" not in err


def test_check_config_refuses_a_team_domain_without_a_dot(tmp_path: Path) -> None:
    """``bob@examplecom`` and ``team@example`` load as addresses but no mail host has
    such a name: refused, keys named; ``@localhost`` is fine when the gateway is there too
    (a single-host or test setup)."""
    bad = tmp_path / "team.toml"
    bad.write_text('[gateway]\naddresses = ["support@example.com"]\n[team]\n'
                   'address = "team@example"\nengineers = { bob = "bob@examplecom", '
                   'ann = "ann@example.com" }\n')
    result = run("check-config", "-c", str(bad))
    assert result.returncode == 78
    err = result.stderr.decode()
    assert "team.toml" in err
    assert "team.engineers.bob: bob@examplecom: the domain 'examplecom' has no dot" in err
    assert "team.address: team@example: the domain 'example' has no dot" in err
    assert "team.engineers.ann" not in err
    local = tmp_path / "local.toml"
    local.write_text('[gateway]\naddresses = ["support@localhost"]\n[team]\n'
                     'address = "team@localhost"\nengineers = { bob = "bob@localhost" }\n')
    assert run("check-config", "-c", str(local)).returncode == 0


def test_show_unknown_ticket_is_one_line_error(config_path: Path) -> None:
    """Asking for a ticket that does not exist exits 1 with one line, no traceback."""
    assert run("db", "migrate", "-c", str(config_path)).returncode == 0
    result = run("show", "-c", str(config_path), "SUP-999999")
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "mailgate: no ticket SUP-999999"


def test_tickets_json_shape(config_path: Path) -> None:
    """tickets --json lists the documented keys."""
    run("ingest", "-c", str(config_path), stdin=make_mail("Shape").as_bytes())
    [row] = json.loads(run("tickets", "-c", str(config_path), "--json").stdout)
    assert {"reference", "status", "subject", "requester", "sla_level", "created_at",
            "updated_at", "first_response_due"} <= set(row)
    open_only = json.loads(run("tickets", "-c", str(config_path), "--status", "closed",
                               "--json").stdout)
    assert open_only == []


def test_show_json_shape(config_path: Path) -> None:
    """show --json has the documented ticket and message keys."""
    msg = make_mail("Shape of show", to="support@example.com, Tech <tech@example.org>")
    run("ingest", "-c", str(config_path), stdin=msg.as_bytes())
    ticket = json.loads(run("show", "-c", str(config_path), "sup-000001", "--json").stdout)
    assert {"reference", "status", "subject", "requester", "participants", "sla_level",
            "created_at", "updated_at", "first_response_due", "messages", "events"} <= set(ticket)
    assert [p["address"] for p in ticket["participants"]] == ["customer@example.org",
                                                              "tech@example.org"]
    for message in ticket["messages"]:
        assert {"message_id", "direction", "from", "to", "date", "subject"} <= set(message)


def test_quarantine_list_and_release(config_path: Path) -> None:
    """A quarantined message is listed with its reason and can be released."""
    run("ingest", "-c", str(config_path), stdin=b"garbage without headers\n")
    rows = json.loads(run("quarantine", "-c", str(config_path), "list", "--json").stdout)
    assert len(rows) == 1 and "no headers" in rows[0]["reason"]
    raw = run("quarantine", "-c", str(config_path), "show", str(rows[0]["id"])).stdout
    assert raw == b"garbage without headers\n"
    released = run("quarantine", "-c", str(config_path), "release", str(rows[0]["id"]))
    assert released.returncode == 0


def test_help_has_examples() -> None:
    """`mailgate --help` and a command's help show examples."""
    assert b"examples:" in run("--help").stdout
    assert b"example:" in run("ingest", "--help").stdout


def test_config_option_before_or_after_the_command(config_path: Path, tmp_path: Path) -> None:
    """`mailgate -c FILE tickets` and `mailgate tickets -c FILE` read the same config; given
    both ways, the one after the command wins."""
    assert run("ingest", "-c", str(config_path), stdin=make_mail("Either way").as_bytes(),
               ).returncode == 0
    before = run("-c", str(config_path), "tickets", "--json", cwd=tmp_path)
    after = run("tickets", "--json", "-c", str(config_path), cwd=tmp_path)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert [t["subject"] for t in json.loads(before.stdout)] == ["Either way"]
    assert json.loads(after.stdout) == json.loads(before.stdout)
    missing = str(tmp_path / "nowhere.toml")
    assert run("-c", missing, "tickets", "-c", str(config_path)).returncode == 0
    overridden = run("-c", str(config_path), "tickets", "-c", missing)
    assert overridden.returncode != 0 and b"nowhere.toml" in overridden.stderr


@sqlite_only
def test_tickets_reads_the_database_without_the_config_models(config_path: Path) -> None:
    """A read command on a plain SQLite config opens the database without building the
    config models (most of its start-up); a typo in [store] still gets the models' error."""
    assert run("ingest", "-c", str(config_path), stdin=make_mail("Quick read").as_bytes(),
               ).returncode == 0
    probe = ("import sys\nfrom mailgate.cli import main\ncode = main(sys.argv[1:])\n"
             "print(code, sorted(m for m in sys.modules if m.startswith(('pydantic', "
             "'mailgate.config'))), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe, "tickets", "--json", "-c",
                             str(config_path)], capture_output=True, timeout=60, env=ENV)
    assert [t["subject"] for t in json.loads(result.stdout)] == ["Quick read"]
    assert result.stderr.decode().strip() == "0 []"
    config_path.write_text(config_path.read_text().replace("busy_timeout", "busy_timout"))
    typo = run("tickets", "-c", str(config_path))
    assert typo.returncode == 78 and b"store.busy_timout" in typo.stderr


def test_read_commands_refuse_to_create_a_database(tmp_path: Path) -> None:
    """Run with a config whose database does not exist (here: another folder, no config: the
    embedded default's relative var/mailgate.db), a command names the path and creates
    nothing; db migrate then creates it and the same command works."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for argv in (["tickets"], ["show", "SUP-000001"], ["outbox"], ["quarantine", "list"],
                 ["sla"], ["db", "status"], ["close", "SUP-000001"]):
        result = run(*argv, cwd=elsewhere)
        assert result.returncode == 78, (argv, result.stderr)
        assert f"no mailgate database at {elsewhere / 'var' / 'mailgate.db'}" in \
            result.stderr.decode(), argv
    assert not (elsewhere / "var").exists()
    assert run("db", "migrate", cwd=elsewhere).returncode == 0
    assert run("tickets", cwd=elsewhere).returncode == 0


def test_tickets_says_when_the_list_was_cut(config_path: Path) -> None:
    """--limit cuts the list, newest first, and stderr says how many there are in all;
    stdout stays the list (JSON here). An uncut list says nothing."""
    cfg = ["-c", str(config_path)]
    for n in range(3):
        assert run("ingest", *cfg, stdin=make_mail(f"Cut {n}", message_id=f"<cut-{n}@example.org>")
                   .as_bytes()).returncode == 0
    cut = run("tickets", *cfg, "--limit", "2", "--json")
    assert cut.returncode == 0
    assert [r["subject"] for r in json.loads(cut.stdout)] == ["Cut 2", "Cut 1"]
    assert "showing the newest 2 of 3 tickets; use --limit 3" in cut.stderr.decode()
    whole = run("tickets", *cfg, "--limit", "3", "--json")
    assert len(json.loads(whole.stdout)) == 3
    assert whole.stderr == b""
    assert "--limit" in run("tickets", "--help").stdout.decode()


def test_invalid_status_filter_lists_the_valid_ones(config_path: Path) -> None:
    """tickets --status bogus exits non-zero naming the valid statuses (not an empty list)."""
    assert run("db", "migrate", "-c", str(config_path)).returncode == 0
    result = run("tickets", "-c", str(config_path), "--status", "bogus")
    assert result.returncode == 64
    assert result.stdout == b""
    assert "unknown status 'bogus'; one of open, in_progress, awaiting_reply" in \
        result.stderr.decode()


def test_templates_alone_lists(config_path: Path) -> None:
    """`mailgate templates` with no action lists the templates, as `templates list` does."""
    alone = run("templates", "-c", str(config_path))
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout == run("templates", "list", "-c", str(config_path)).stdout
    assert b"ack\ttxt\t" in alone.stdout


@sqlite_only
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own a folder by another user")
def test_root_does_not_create_the_database_in_the_daemon_users_folder(config_path: Path,
                                                                       ) -> None:
    """Root running a command on a state folder owned by the daemon's user (here nobody)
    refuses to create the database there, saying whose folder it is, instead of leaving
    a root-owned file the daemon cannot write; `db migrate`, meant to create, too."""
    state = config_path.parent / "var"
    state.mkdir(exist_ok=True)
    os.chown(state, 65534, 65534)
    for argv in (["db", "migrate"], ["ingest", "-f", "customer@example.org"]):
        result = run(*argv, "-c", str(config_path), stdin=make_mail("As root").as_bytes())
        assert result.returncode in (75, 78), (argv, result.stderr)
        error = result.stderr.decode()
        assert f"refusing to create {state / 'mailgate.db'} as root: its folder {state} " \
               f"belongs to {pwd.getpwuid(65534).pw_name}" in error, error
    assert list(state.iterdir()) == []
    os.chown(state, 0, 0)
    assert run("db", "migrate", "-c", str(config_path)).returncode == 0
    assert (state / "mailgate.db").stat().st_uid == 0


def test_tickets_narrowed_to_an_assignee_requester_level_or_overdue(tmp_path: Path) -> None:
    """A support team's morning list: whose, for whom, which level, and what is late now
    (past its due time, neither closed nor paused)."""
    from datetime import UTC, datetime

    from mailgate.config import load_config
    from mailgate.store import open_store

    config_path = write_config(tmp_path, {"team": {"engineers": {"alice": "alice@example.com"}}})
    c = str(config_path)
    for n, sender in enumerate(["ann@example.org", "bob@example.org", "cid@example.org"]):
        run("ingest", "-c", c, stdin=make_mail(f"Problem {n}", sender=sender).as_bytes())
    assert run("assign", "-c", c, "SUP-000001", "alice").returncode == 0
    assert run("status", "-c", c, "SUP-000003", "awaiting_reply").returncode == 0
    store = open_store(load_config(config_path))
    try:
        with store.transaction():
            for ticket_id in (1, 3):  # both late; the third is paused
                store.set_ticket_due(ticket_id, "first_response_due",
                                     datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    finally:
        store.close()

    def refs(*options: str) -> list[str]:
        listed = run("tickets", "-c", c, "--json", *options)
        assert listed.returncode == 0, listed.stderr
        return [row["reference"] for row in json.loads(listed.stdout)]

    assert refs("--assignee", "Alice@example.com") == ["SUP-000001"]
    assert refs("--assignee", "alice") == ["SUP-000001"]  # a short name, as `assign` takes
    unknown = run("tickets", "-c", c, "--assignee", "alicia")
    assert unknown.returncode != 0 and b"no engineer 'alicia'" in unknown.stderr
    assert refs("--requester", "bob@example.org") == ["SUP-000002"]
    assert refs("--level", "standard") == ["SUP-000003", "SUP-000002", "SUP-000001"]
    assert refs("--overdue") == ["SUP-000001"]
    assert refs("--overdue", "--assignee", "alice@example.com") == ["SUP-000001"]
