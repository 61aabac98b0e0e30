"""Config validation: every class of mistake is reported with its key and the file."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from mailgate.config import Config, load_config
from mailgate.defaults import EXAMPLE_CONFIG
from mailgate.errors import ConfigError


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return str(info.value)


def test_unknown_key_is_named_with_file(tmp_path: Path) -> None:
    """A misspelt key is reported as unknown with its dotted path and the file name."""
    message = error_of(tmp_path, "[smtp]\nprot = 25\n")
    assert "bad.toml" in message and "smtp.prot: unknown key" in message


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """A misspelt section is reported as an unknown key."""
    assert "smpt: unknown key" in error_of(tmp_path, "[smpt]\nport = 25\n")


def test_wrong_type_is_named(tmp_path: Path) -> None:
    """A string where a number belongs names the key and shows the value."""
    message = error_of(tmp_path, '[smtp]\nport = "twenty-five"\n')
    assert "smtp.port" in message and "twenty-five" in message


def test_bad_value_is_named(tmp_path: Path) -> None:
    """An out-of-range value names the key."""
    assert "smtp.port" in error_of(tmp_path, "[smtp]\nport = 70000\n")


def test_bad_duration_is_named(tmp_path: Path) -> None:
    """A duration that cannot be read names the key and the expected form."""
    message = error_of(tmp_path, '[outbound]\nretry_max = "soon"\n')
    assert "outbound.retry_max" in message and "'8h'" in message
    assert message.count("'soon'") == 1  # the value is named once, not twice


def test_bad_address_is_named(tmp_path: Path) -> None:
    """An invalid support address names its list position."""
    assert "gateway.addresses.0" in error_of(tmp_path, '[gateway]\naddresses = ["nope"]\n')


def test_unknown_default_level_is_named(tmp_path: Path) -> None:
    """A default SLA level that is not defined names the known levels."""
    message = error_of(tmp_path, '[sla]\ndefault_level = "gold"\n')
    assert "sla" in message and "gold" in message and "standard" in message


def test_invalid_toml_is_reported_with_file(tmp_path: Path) -> None:
    """A TOML syntax error is reported with the file and the position."""
    message = error_of(tmp_path, "[smtp\nport = 1\n")
    assert "bad.toml" in message and "not valid TOML" in message


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A config path that does not exist is a one-line error."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    """Several mistakes come back together, so the admin fixes them in one pass."""
    message = error_of(tmp_path, "[smtp]\nport = -1\nhots = 1\n")
    assert "smtp.port" in message and "smtp.hots" in message


def test_imap_account_needs_one_credential_source(tmp_path: Path) -> None:
    """An IMAP account with no password source is refused, naming the account entry."""
    message = error_of(tmp_path, '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\n')
    assert "imap.0" in message and "password_env" in message


def test_imap_lease_is_bounded(tmp_path: Path) -> None:
    """An IMAP account's lease is a duration from 2 seconds to an hour (60 s by default)."""
    account = '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword_env = "P"\n'
    assert load_text(tmp_path, account).imap[0].lease.total_seconds() == 60
    assert load_text(tmp_path, account + 'lease = "2.5s"\n').imap[0].lease.total_seconds() == 2.5
    for bad in ('"1s"', '"2h"', "0"):
        message = error_of(tmp_path, account + f"lease = {bad}\n")
        assert "imap.0.lease" in message and "between 2 seconds and 1 hour" in message


def test_processes_auto_is_one_per_usable_core_up_to_four(tmp_path: Path) -> None:
    """``[processing] processes = "auto"`` runs one processor per core this daemon may use
    (its CPU affinity), at most 4; a number is taken as written; anything else names the key."""
    cores = len(os.sched_getaffinity(0))
    auto = load_text(tmp_path, '[processing]\nprocesses = "auto"\n').processing
    assert auto.processes == "auto" and auto.process_count == max(1, min(cores, 4))
    assert load_text(tmp_path, "[processing]\nprocesses = 3\n").processing.process_count == 3
    assert load_text(tmp_path, "[processing]\nprocesses = 0\n").processing.process_count == 0
    for bad in ('"many"', "17", "-1", "1.5"):
        assert "processing.processes" in error_of(tmp_path, f"[processing]\nprocesses = {bad}\n")


def test_example_config_is_the_defaults() -> None:
    """mailgate.toml.example loads, and every value it shows is the built-in default."""
    example = load_config(EXAMPLE_CONFIG)
    defaults = Config()
    skip = {"source", "base_dir"}
    assert example.model_dump(exclude=skip) == defaults.model_dump(exclude=skip)


def test_example_config_documents_every_key() -> None:
    """Every key of every section appears in mailgate.toml.example."""
    text = EXAMPLE_CONFIG.read_text()
    from mailgate.config import ImapAccount

    sections = {name: field.annotation for name, field in Config.model_fields.items()
                if name not in ("source", "base_dir", "imap")}
    for section, model in sections.items():
        assert f"[{section}]" in text
        for key in model.model_fields:  # type: ignore[union-attr]
            if f"[{section}.{key}." in text or f"[[{section}.{key}]]" in text:
                continue  # a table of tables ([sla.levels.standard]) or an array ([[sla.rules]])
            assert re.search(rf"^#? ?{key}(\.\w+)? =", text, re.M), f"{section}.{key} undocumented"
    from mailgate.config import CalendarSpec, FieldPattern, Rule, SlaLevel

    for prefix, model in (("imap", ImapAccount), ("sla.calendars.*", CalendarSpec),
                          ("sla.levels.*", SlaLevel), ("sla.rules", Rule),
                          ("sla.fields", FieldPattern)):
        for key in model.model_fields:
            assert re.search(rf"^#? ?{key} =", text, re.M), f"{prefix}.{key} undocumented"


def test_store_url_forms(tmp_path: Path) -> None:
    """The store is an SQLite file or a PostgreSQL URL (several hosts allowed), nothing else."""
    sqlite = load_text(tmp_path, '[store]\nurl = "sqlite:///db/mg.db"\n')
    assert sqlite.store.backend == "sqlite"
    assert sqlite.database_path == tmp_path / "db" / "mg.db"
    assert sqlite.state_dir == tmp_path / "db"
    pg = load_text(tmp_path, '[store]\nurl = "postgresql://mg@db1:5432,db2:5432/mailgate'
                             '?target_session_attrs=read-write"\npassword_env = "MG_DB"\n')
    assert pg.store.backend == "postgresql"
    assert pg.state_dir == tmp_path / "var"
    with pytest.raises(ConfigError, match="no database file"):
        pg.database_path  # noqa: B018
    for url, why in (("mysql://mg@db1/mailgate", "must be sqlite:///PATH or postgresql://"),
                     ("sqlite:///", "needs a path")):
        with pytest.raises(ConfigError, match=re.escape(why)):
            load_text(tmp_path, f'[store]\nurl = "{url}"\n')
    with pytest.raises(ConfigError, match="for a postgresql:// url"):
        load_text(tmp_path, '[store]\npassword_file = "pw"\n')
    with pytest.raises(ConfigError, match="at most one of password_env, password_file"):
        load_text(tmp_path, '[store]\nurl = "postgresql://mg@db1/mg"\npassword_env = "A"\n'
                            'password_file = "pw"\n')


def test_example_lists_the_default_blocked_files() -> None:
    """The example config shows the real defaults of the file lists (copying it changes
    nothing), and a content type without a slash is refused naming the key."""
    from mailgate.config.sections import OutboundSection

    example = tomllib.loads(EXAMPLE_CONFIG.read_text())["outbound"]
    defaults = OutboundSection()
    assert example["blocked_extensions"] == defaults.blocked_extensions
    assert example["blocked_types"] == defaults.blocked_types
    assert example["max_attachment_bytes"] == defaults.max_attachment_bytes
    with pytest.raises(ValueError, match="blocked_types"):
        OutboundSection(blocked_types=["exe"])
