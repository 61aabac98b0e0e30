"""A desk's copy of the packaged templates after an upgrade (``mailgate/template_copies.py``).

``mailgate init`` copies the templates; an upgrade improves the packaged ones but never the
copy. An unedited copy of an older version is said by ``check-config`` and replaced by
``mailgate templates update``; an edited one is never touched.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from mailgate import template_copies
from mailgate.defaults import TEMPLATES

#: the notification template as shipped before it named the first-response due time
OLD = Path(__file__).resolve().parent / "data" / "old-templates" / "notification.txt.j2"


def test_the_shipped_history_knows_every_packaged_template_as_it_is_now() -> None:
    """After changing a packaged template, run tools/template_history.py (else an admin's
    unedited copy of today's version would later not be recognised)."""
    history = template_copies.shipped_history()
    for path in TEMPLATES.glob("*.j2"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in history.get(path.name, ()), \
            f"{path.name}: run tools/template_history.py"


def test_an_unedited_old_copy_is_updated_and_an_edited_one_kept(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    shutil.copyfile(OLD, folder / "notification.txt.j2")
    edited = folder / "ack.txt.j2"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nOur hotline: 0800 123\n",
                      encoding="utf-8")
    assert template_copies.stale_copies(folder) == ["notification.txt.j2"]
    [warning] = template_copies.warnings(folder)
    assert "notification.txt.j2 are an older version" in warning
    assert template_copies.update_copies(folder) == ["notification.txt.j2"]
    assert (folder / "notification.txt.j2").read_bytes() == \
        (TEMPLATES / "notification.txt.j2").read_bytes()
    assert "Our hotline: 0800 123" in edited.read_text(encoding="utf-8")
    assert template_copies.stale_copies(folder) == []


def test_check_config_says_so_and_templates_update_fixes_it(tmp_path: Path) -> None:
    """What an admin who ran `mailgate init` before an upgrade sees."""
    run = [sys.executable, "-m", "mailgate"]
    assert subprocess.run([*run, "init", str(tmp_path / "desk")], capture_output=True,
                          timeout=60).returncode == 0
    config = str(tmp_path / "desk" / "mailgate.toml")
    shutil.copyfile(OLD, tmp_path / "desk" / "templates" / "notification.txt.j2")
    checked = subprocess.run([*run, "check-config", "-c", config], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0
    assert "notification.txt.j2 are an older version of the packaged templates" \
        in checked.stderr
    updated = subprocess.run([*run, "templates", "update", "-c", config],
                             capture_output=True, text=True, timeout=60)
    assert updated.returncode == 0 and "updated notification.txt.j2" in updated.stdout
    again = subprocess.run([*run, "check-config", "-c", config], capture_output=True,
                           text=True, timeout=60)
    assert "older version" not in again.stderr
