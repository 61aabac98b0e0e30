"""What start-up remembers per process must never hide an edit: a template or gratitude
file changed since the last (passing) check is checked and used anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.config import load_config
from mailgate.daemon.reload import checked_templates
from mailgate.errors import ConfigError
from mailgate.pipeline import Pipeline
from mailgate.quotes import reply_parts
from mailgate.replies import judge
from tests.configs import update_config, write_config


def test_a_template_broken_after_a_passing_check_fails_the_next_check(tmp_path: Path) -> None:
    """A reload after an edit finds the new typo although the old text passed before."""
    config = load_config(write_config(tmp_path))
    checked_templates(config)  # passes, and is remembered as passed
    ack = tmp_path / "templates" / "ack.txt.j2"
    good = ack.read_text(encoding="utf-8")
    ack.write_text(good + "{{ ticket.no_such_field }}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ack\.txt\.j2.*no_such_field"):
        checked_templates(config)
    ack.write_text(good, encoding="utf-8")
    checked_templates(config)  # the fixed text passes again


def test_an_edited_gratitude_file_takes_effect_in_the_next_pipeline(tmp_path: Path) -> None:
    """The lexicon is shared per file text: a changed file gives a new one."""
    extra = tmp_path / "gratitude.toml"
    extra.write_text('[sv]\ngratitude = ["skålkram"]\n', encoding="utf-8")
    path = update_config(write_config(tmp_path),
                         {"conversation": {"gratitude_file": "gratitude.toml"}})

    def thanks_only(text: str) -> bool:
        config = load_config(path)
        understanding = Pipeline(config, checked_templates(config)).services.understanding
        return judge(understanding, reply_parts(text), "").thanks_only

    assert thanks_only("Skålkram!")
    extra.write_text('[sv]\ngratitude = ["tackarn"]\n', encoding="utf-8")
    assert not thanks_only("Skålkram!")
    assert thanks_only("Tackarn!")


def test_a_broken_gratitude_file_still_stops_the_pipeline(tmp_path: Path) -> None:
    """The lexicon is built lazily, but an admin's file is read at start (and reload)."""
    (tmp_path / "gratitude.toml").write_text('[sv]\nthanks = ["x"]\n', encoding="utf-8")
    path = update_config(write_config(tmp_path),
                         {"conversation": {"gratitude_file": "gratitude.toml"}})
    config = load_config(path)
    with pytest.raises(ConfigError, match=r"gratitude\.toml.*\[sv\] thanks: unknown list"):
        Pipeline(config, checked_templates(config))
