"""What mailgate declares it needs is what it uses, and ``make run`` installs only that."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.configs import ROOT


def _name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg``, normalised as distributions are."""
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _imported_distributions() -> set[str]:
    """The installed distributions whose top-level modules ``mailgate/`` imports."""
    modules: set[str] = set()
    for path in (ROOT / "mailgate").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        modules.update(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", text,
                                  flags=re.MULTILINE))
    owners = packages_distributions()
    return {_name(dist) for module in modules for dist in owners.get(module, [])}


def test_every_declared_dependency_is_imported() -> None:
    """A dependency nobody imports only costs installs (sqlite-utils pulled in click,
    tabulate and more): each one in ``[project] dependencies`` is imported by mailgate."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    assert "sqlite-utils" not in declared
    assert declared - _imported_distributions() == set()


def test_make_run_installs_no_test_tools(tmp_path: Path) -> None:
    """``make run`` installs mailgate alone; only ``make test`` adds the ``test`` extra."""
    def plan(target: str) -> str:
        done = subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path}/v"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run = plan("run")
    assert "pip install -q -e .\n" in run
    assert "[test]" not in run
    assert "pip install -q -e '.[test]'" in plan("test")
