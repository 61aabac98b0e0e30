"""An admin's mistakes are caught before mail suffers (review2 findings 3, 8, 9).

Each test runs ``mailgate serve`` / ``check-config`` as a subprocess on a real config
and sends real mail over SMTP: what an admin and a customer would see.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import RunningDaemon, make_mail, sqlite_only
from tests.faultkit import (
    DaemonProcess,
    drained,
    fault_config,
    numbered_mails,
    query,
    send_once,
)
from tests.support import free_port, wait_until

pytestmark = sqlite_only  # they read the SQLite file of a subprocess daemon

BROKEN = "Hello {% if ticket.requester_name %}{{ ticket.requester_name }},\n"  # no endif


def daemon(daemons: list[DaemonProcess], folder: Path,
           *settings: dict[str, dict[str, object]]) -> DaemonProcess:
    port = free_port()
    proc = DaemonProcess(fault_config(folder, {"smtp": {"port": port}}, *settings), port)
    daemons.append(proc)
    return proc


def serve(config: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``mailgate serve`` that is expected to refuse to start."""
    return subprocess.run([sys.executable, "-m", "mailgate", "serve", "-c", str(config)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=config.parent, stdin=subprocess.DEVNULL)


def db_of(folder: Path) -> Path:
    return folder / "var" / "mailgate.db"


def wait_drained(proc: DaemonProcess, timeout: float = 20) -> None:
    db = db_of(proc.config_path.parent)
    wait_until(lambda: drained(db), timeout, interval=0.1,
               message=lambda: f"not drained:\n{proc.log(tail=3000)}")


# -- finding 3: templates checked at start; a restarted child runs what was validated --------


def test_serve_refuses_a_template_that_check_config_rejects(tmp_path: Path) -> None:
    config = fault_config(tmp_path, {"smtp": {"port": free_port()}})
    (tmp_path / "templates" / "ack.txt.j2").write_text(BROKEN, encoding="utf-8")
    result = serve(config)
    assert result.returncode == 78, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"{tmp_path / 'templates' / 'ack.txt.j2'}:1: TemplateSyntaxError" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "mailgate.pid").exists()


def test_restarted_processor_keeps_the_validated_templates_and_config(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """A template broken and a config typo made on disk without a reload, then the
    processor killed (as the OOM killer would): its replacement runs what the daemon
    validated, so the next customer still gets a ticket and the usual acknowledgement."""
    proc = daemon(daemons, tmp_path).start()
    [worker] = proc.children("processor")
    (tmp_path / "templates" / "ack.txt.j2").write_text(BROKEN, encoding="utf-8")
    with open(proc.config_path, "a", encoding="utf-8") as config:
        config.write('\n[conversation]\nreopen_windw = "1d"\n')
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: proc.children("processor") not in ([], [worker]), 20,
               message=lambda: proc.log())
    [raw] = numbered_mails("after-crash", 1).values()
    assert send_once(proc.port, raw) == 250
    wait_drained(proc)
    db = db_of(tmp_path)
    assert query(db, "SELECT state, COUNT(*) FROM spool GROUP BY state") == [("done", 1)]
    [ack] = [bytes(r[0]) for r in query(db, "SELECT raw FROM outbox WHERE kind = 'ack'")]
    assert b"thank you for contacting" in ack
    assert "processor_died" in proc.log(tail=None)
    assert proc.terminate()[0] == 0


# -- finding 4: each template checked with its own variables, in several variants ------------


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c", str(config)],
                          capture_output=True, text=True, timeout=60)


def test_check_config_rejects_another_kinds_variable_in_the_acknowledgement(
        config_path: Path) -> None:
    """``files`` is passed to notifications and relays only: in the acknowledgement it
    would quarantine every new customer's mail."""
    ack = config_path.parent / "templates" / "ack.txt.j2"
    lines = ack.read_text(encoding="utf-8").splitlines()
    ack.write_text("\n".join([*lines, "We received {{ files|length }} file(s) with your mail."])
                   + "\n", encoding="utf-8")
    result = check_config(config_path)
    assert result.returncode == 78, result.stdout
    assert f"{ack}:{len(lines) + 1}: UndefinedError: 'files' is undefined" in result.stderr


def test_check_config_rejects_a_typo_in_a_branch_the_full_sample_never_takes(
        config_path: Path) -> None:
    """A typo in the ``{% else %}`` of "has the sender a display name": every sender
    without one would lose their ticket."""
    ack = config_path.parent / "templates" / "ack.txt.j2"
    text = ack.read_text(encoding="utf-8")
    greeting = "Hello{% if ticket.requester_name %} {{ ticket.requester_name }}{% endif %},"
    assert greeting in text
    ack.write_text(text.replace(greeting, "Hello{% if ticket.requester_name %} "
                                "{{ ticket.requester_name }}{% else %} "
                                "{{ message.from_adress }}{% endif %},"), encoding="utf-8")
    line = text[:text.index(greeting)].count("\n") + 1
    result = check_config(config_path)
    assert result.returncode == 78, result.stdout
    assert f"{ack}:{line}: UndefinedError: 'dict object' has no attribute 'from_adress' " \
           "(when ticket.requester_name is None)" in result.stderr


def test_check_config_tries_every_kind_of_notification(config_path: Path) -> None:
    notification = config_path.parent / "templates" / "notification.txt.j2"
    notification.write_text(notification.read_text(encoding="utf-8")
                            + '{% if what == "bounce" %}{{ bounce.status }}{% endif %}\n',
                            encoding="utf-8")
    result = check_config(config_path)
    assert result.returncode == 78
    assert "'bounce' is undefined (when what is 'bounce')" in result.stderr


def test_a_template_failing_on_one_mail_still_gives_the_customer_a_ticket(
        config_path: Path, daemon: RunningDaemon) -> None:
    """A mistake only some mail reaches (a branch on the subject: no check can guess every
    subject) costs nobody their ticket: the packaged acknowledgement goes out instead, and
    the ticket and log say what failed."""
    ack = config_path.parent / "templates" / "ack.txt.j2"
    ack.write_text('{% if "urgent" in message.subject|lower %}Priority: {{ message.priorty }}'
                   "{% endif %}Thanks, your ticket is {{ ticket.reference }}.\n",
                   encoding="utf-8")
    reload = asyncio.run_coroutine_threadsafe(daemon.daemon.reload(), daemon.daemon.loop)
    assert reload.result(20).ok
    code, text = daemon.send(make_mail("URGENT: printer on fire"))
    assert code == 250
    assert daemon.wait_processed(int(text.split()[-1])) == "done"
    daemon.wait_outbox_idle()
    store = daemon.store()
    try:
        [ticket] = store.tickets()
        [failed] = [e for e in store.events(ticket["id"]) if e["kind"] == "template_failed"]
    finally:
        store.close()
    assert f"{ack}:1: UndefinedError" in failed["detail"] and "priorty" in failed["detail"]
    [sent] = [p.read_bytes() for p in daemon.outbox_dir.glob("*.eml")
              if b"customer@example.org" in p.read_bytes().split(b"\r\n\r\n")[0]]
    assert b"thank you for contacting" in sent  # the packaged acknowledgement


# -- finding 8: an address in use is one line, not a traceback --------------------------------


@pytest.mark.parametrize("section", ["smtp", "http"])
def test_serve_on_a_port_in_use_says_which_setting_in_one_line(tmp_path: Path,
                                                               section: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = {"smtp": {"port": port}} if section == "smtp" else \
            {"smtp": {"port": free_port()}, "http": {"enabled": True, "port": port}}
        config = fault_config(tmp_path, settings)
        result = serve(config)
    assert result.returncode == 75, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"mailgate: cannot listen on 127.0.0.1:{port} ({section}.host/"
                    f"{section}.port in {config}): Address already in use"), result.stderr
    assert not (tmp_path / "var" / "mailgate.pid").exists()


# -- finding 9: an outbound folder that cannot be written is named, and shown while it fails --


def test_check_config_and_serve_name_an_outbound_folder_that_cannot_be_made(
        tmp_path: Path) -> None:
    config = fault_config(tmp_path, {"smtp": {"port": free_port()},
                                     "outbound": {"folder": "/proc/outbox"}})
    for result in (check_config(config), serve(config)):
        assert result.returncode == 78, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line == (f"mailgate: {config}: outbound.folder: cannot create or write "
                        "/proc/outbox: No such file or directory")


def test_check_config_leaves_no_outbound_folder_behind(tmp_path: Path) -> None:
    """check-config may run as another user than the daemon: it makes nothing that stays."""
    config = fault_config(tmp_path, {"outbound": {"folder": "var/new/outbox"}})
    assert check_config(config).returncode == 0
    assert not (tmp_path / "var" / "new").exists()


def healthz(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


def test_an_outbound_folder_lost_later_shows_in_outbox_list_and_healthz(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """The folder replaced by a file while the daemon runs: the sender keeps running, the
    acknowledgement waits with the reason on its row (``outbox list``) and on /healthz,
    and goes out once the folder is back."""
    http = free_port()
    proc = daemon(daemons, tmp_path, {"http": {"enabled": True, "port": http},
                                      "outbound": {"retry_initial": "1s", "retry_max": "1s"}})
    proc.start()
    outbox = tmp_path / "var" / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    outbox.write_text("not a folder\n")
    [raw] = numbered_mails("folder-lost", 1).values()
    assert send_once(proc.port, raw) == 250
    db = db_of(tmp_path)
    wait_until(lambda: query(db, "SELECT last_error FROM outbox WHERE state = 'pending'"
                                 " AND last_error IS NOT NULL"), 20, message=proc.log)
    why = f"cannot write to outbound.folder {outbox}: File exists"
    listed = subprocess.run([sys.executable, "-m", "mailgate", "outbox", "-c",
                             str(proc.config_path)], capture_output=True, text=True, timeout=60)
    assert why in listed.stdout, listed.stdout + listed.stderr
    report = healthz(http)
    assert report["status"] == "degraded"
    assert f"1 outgoing mail(s) waiting; last error: {why}" in report["warnings"]  # type: ignore[operator]
    outbox.unlink()
    wait_drained(proc)
    assert len(list(outbox.glob("*.eml"))) == 1
    assert not proc.logged("sender_died")
    assert healthz(http)["status"] == "ok"
    assert proc.terminate()[0] == 0


# -- finding 11: a calendar's mistake names that calendar ---------------------------------------


def test_calendar_errors_name_the_calendar_table(tmp_path: Path) -> None:
    config = tmp_path / "mailgate.toml"
    config.write_text('[sla.calendars.office]\ntimezone = "Europe/Moskow"\n'
                      '[sla.calendars.shop]\nhours = { mon = ["9-17"] }\n', encoding="utf-8")
    result = check_config(config)
    assert result.returncode == 78
    lines = result.stderr.splitlines()
    assert "  sla.calendars.office: calendar 'office': unknown time zone 'Europe/Moskow'" in lines
    assert "  sla.calendars.shop: calendar 'shop', mon: malformed interval '9-17', expected " \
           "'HH:MM-HH:MM'" in lines
    assert "'calendar'" not in result.stderr


def test_check_config_names_the_rule_and_reports_an_imap_tables_mistakes_at_once(
        tmp_path: Path) -> None:
    """A rule's unknown level names the rule and the levels there are; two mistakes in one
    [[imap]] table come in one run, not one per fix-and-retry."""
    config = tmp_path / "mailgate.toml"
    config.write_text(
        '[[sla.rules]]\nname = "ACME contract"\nfrom_addresses = ["acme.example"]\n'
        'level = "premum"\n'
        '[[imap]]\nname = "support"\nhost = "imap.example.net"\nusername = "support@example.net"\n'
        'password_env = "IMAP_PW"\npassword_file = "imap.pw"\nsecurity = "plain"\n',
        encoding="utf-8")
    result = check_config(config)
    assert result.returncode == 78
    assert "rules.0 (the [[sla.rules]] named 'ACME contract').level: unknown level " \
           "'premum' (levels: standard)" in result.stderr
    assert "set exactly one of password_env, password_file" in result.stderr
    assert "security = 'plain' is allowed for loopback hosts only" in result.stderr


def test_check_config_lists_field_errors_unknown_calendars_and_template_typos_in_one_run(
        tmp_path: Path) -> None:
    """A user's run needed three runs for three kinds of mistakes: the field errors, then
    the unknown calendar they hid, then the templates. One run names them all."""
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "mailgate" / "defaults"
                    / "templates", templates)
    ack = templates / "ack.de.txt.j2"
    ack.write_text(ack.read_text(encoding="utf-8").replace(
        "{{ ticket.reference }}", "{{ ticket.refernce }}", 1), encoding="utf-8")
    config = tmp_path / "mailgate.toml"
    config.write_text('[conversation]\nduplicate_scop = "domain"\n'
                      '[sla.levels.standard]\nfirst_response = "40hrs"\ncalendar = "ofice"\n'
                      '[templates]\ndirectory = "templates"\n', encoding="utf-8")
    result = check_config(config)
    assert result.returncode == 78
    assert "conversation.duplicate_scop: unknown key (did you mean 'duplicate_scope'?)" \
        in result.stderr
    assert "sla.levels.standard.first_response: expected working time" in result.stderr
    assert "levels.standard.calendar: unknown calendar 'ofice'" in result.stderr
    assert f"{ack}:" in result.stderr and "has no attribute 'refernce'" in result.stderr


def test_check_config_warns_of_a_template_no_mail_uses(tmp_path: Path) -> None:
    """A misspelt template name would be ignored while the packaged default goes out:
    check-config says so (a part another template includes is no stray)."""
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "mailgate" / "defaults"
                    / "templates", templates)
    (templates / "acknowledgement.txt.j2").write_text("Hello\n", encoding="utf-8")
    (templates / "ack.pt-BR.txt.j2").write_text("Olá\n", encoding="utf-8")
    (templates / "relay.PT.txt.j2").write_text("Olá\n", encoding="utf-8")
    (templates / "_footer.txt.j2").write_text("ACME Support\n", encoding="utf-8")
    ack = templates / "ack.txt.j2"
    ack.write_text(ack.read_text(encoding="utf-8") + '{% include "_footer.txt.j2" %}\n',
                   encoding="utf-8")
    config = tmp_path / "mailgate.toml"
    config.write_text('[templates]\ndirectory = "templates"\n', encoding="utf-8")
    result = check_config(config)
    assert result.returncode == 0, result.stderr
    assert "acknowledgement.txt.j2: no mail uses this template" in result.stderr
    assert "ack.pt-BR.txt.j2: no mail uses this template" in result.stderr
    assert "relay.PT.txt.j2: no mail uses this template" in result.stderr
    assert "'PT' table" not in result.stderr
    assert "_footer.txt.j2" not in result.stderr


def test_check_config_lists_every_mistake_of_a_file_in_one_run(tmp_path: Path) -> None:
    """Field errors and cross-references (unknown levels of the default, a rule and an IMAP
    account; two mistakes in one [[imap]] table) in one run, each value said once: a
    user needed four runs to see the mistakes of one file."""
    config = tmp_path / "mailgate.toml"
    config.write_text(
        '[team]\naddress = "team at acme.test"\n'
        '[sla]\ndefault_level = "gold"\n[sla.levels.standard]\nfirst_response = "2 minutes"\n'
        '[[sla.rules]]\nname = "BigCorp"\nfrom_addresses = ["bigcorp.test"]\nlevel = "premum"\n'
        '[[imap]]\nname = "support"\nhost = "imap.acme.test"\nusername = "s@acme.test"\n'
        'password_env = "IMAP_PW"\npassword_file = "imap.pw"\nsecurity = "plain"\n'
        'sla_level = "silver"\nlease = "1s"\n', encoding="utf-8")
    result = check_config(config)
    assert result.returncode == 78
    lines = result.stderr.splitlines()[1:]
    assert lines == [
        "  sla.levels.standard.first_response: expected working time such as '30m', '8h' or"
        " '24wd' (working days), got '2 minutes'",
        "  sla: default_level 'gold' is not one of the levels (standard)",
        "  sla: rules.0 (the [[sla.rules]] named 'BigCorp').level: unknown level 'premum'"
        " (levels: standard)",
        "  imap.0.lease: must be between 2 seconds and 1 hour (got '1s')",
        "  imap.0: set exactly one of password_env, password_file, oauth2_token_command,"
        " oauth2_token_file",
        "  imap.0: security = 'plain' is allowed for loopback hosts only",
        "  team.address: not an email address: 'team at acme.test'",
        "  imap.0 (the [[imap]] named 'support').sla_level: unknown level 'silver'"
        " (levels: standard)",
    ]


def test_an_unknown_key_names_the_key_it_was_probably_meant_to_be(tmp_path: Path) -> None:
    config = tmp_path / "mailgate.toml"
    config.write_text('[conversation]\nauto_close_afer = "3d"\n'
                      '[sla.levels.standard]\nfirst_respons = "1h"\n[smtp]\nbogus = 1\n',
                      encoding="utf-8")
    lines = check_config(config).stderr.splitlines()
    assert "  conversation.auto_close_afer: unknown key (did you mean 'auto_close_after'?)" \
        in lines
    assert "  sla.levels.standard.first_respons: unknown key (did you mean " \
           "'first_response'?)" in lines
    assert "  smtp.bogus: unknown key" in lines
