"""The one place test configs are built: Python dicts deep-merged over ``DEFAULTS``, written
as TOML.

``write_config(folder, *overrides)`` writes ``folder/mailgate.toml`` (with a copy of the
default templates) from ``build_config(*overrides)``; ``update_config(path, *overrides)``
changes a written file in place (a reload test). Overrides merge table by table: a key
given replaces that key only, tables merge recursively, anything else (a list, a list of
tables) replaces the value whole.

``MAILGATE_TEST_STORE=postgresql`` puts every built config whose overrides do not name a
``[store] url`` on a fresh PostgreSQL database (the session's server, see conftest.py).

Standard library only, so ``bench/`` builds its daemon's config with ``merge`` and
``toml_text`` too.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailgate.defaults import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent

Table = dict[str, Any]

DEFAULTS: Table = {
    "gateway": {
        "name": "Example Support",
        "addresses": ["support@example.com"],
        "reference_prefix": "SUP",
        "reference_width": 6,
    },
    "smtp": {"host": "127.0.0.1", "port": 0, "max_message_size": 200000},
    "store": {"url": "sqlite:///var/mailgate.db", "busy_timeout": "1s"},
    "outbound": {"mode": "folder", "folder": "var/outbox"},
    "templates": {"directory": "templates"},
    "processing": {
        "poll_interval": "0.2s",
        # In-process tests look inside the daemon and freeze its clock: the processor is a
        # thread here. Daemons run as subprocesses (faultkit.fault_config) use processes.
        "processes": 0,
    },
    "logging": {"format": "json", "level": "warning"},
}


# -- the store backend under test ----------------------------------------------------------

STORE_BACKEND = os.environ.get("MAILGATE_TEST_STORE", "sqlite")
_PG_SERVER: list[Any] = []


def use_pg_server(server: Any) -> None:
    """Called once by conftest's session fixture when the backend is PostgreSQL."""
    _PG_SERVER[:] = [server]


def store_under_test() -> Table:
    """The ``[store]`` keys that put a config on the backend under test (a fresh database)."""
    if STORE_BACKEND != "postgresql":
        return {}
    assert _PG_SERVER, "the PostgreSQL server fixture is not running"
    server = _PG_SERVER[0]
    return {"url": server.database(), "password_file": str(server.password_file)}


# -- building -------------------------------------------------------------------------------


def merge(base: Mapping[str, Any], *overrides: Mapping[str, Any]) -> Table:
    """A deep copy of ``base`` with each of ``overrides`` merged in, left to right."""
    result: Table = copy.deepcopy(dict(base))
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def build_config(*overrides: Mapping[str, Any]) -> Table:
    """``DEFAULTS`` with ``overrides`` merged in, on the store backend under test."""
    config = merge(DEFAULTS, *overrides)
    if not any("url" in override.get("store", {}) for override in overrides):
        config["store"].update(store_under_test())
    return config


def write_config(folder: Path, *overrides: Mapping[str, Any]) -> Path:
    """``folder/mailgate.toml`` from ``build_config(*overrides)``, with the default templates
    copied into ``folder/templates``."""
    shutil.copytree(TEMPLATES, folder / "templates", dirs_exist_ok=True)
    path = folder / "mailgate.toml"
    path.write_text(toml_text(build_config(*overrides)), encoding="utf-8")
    return path


def update_config(path: Path, *overrides: Mapping[str, Any]) -> Path:
    """Merge ``overrides`` into the config file at ``path`` (its store stays as it is)."""
    with open(path, "rb") as handle:
        current = tomllib.load(handle)
    path.write_text(toml_text(merge(current, *overrides)), encoding="utf-8")
    return path


# -- a small TOML writer (the value types configs use) -----------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_text(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document; checked by parsing it back."""
    lines: list[str] = []
    _write_table(lines, (), data, header=None)
    text = "\n".join(lines).lstrip("\n") + "\n"
    if tomllib.loads(text) != data:
        raise ValueError(f"TOML writer did not round-trip {data!r}:\n{text}")
    return text


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _write_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any],
                 header: str | None) -> None:
    plain = {k: v for k, v in table.items()
             if not isinstance(v, Mapping) and not _is_table_array(v)}
    nested = len(plain) < len(table)
    # A table with nothing but sub-tables is defined by them; an empty one needs its header.
    if header is not None and (plain or not nested or header.startswith("[[")):
        lines += ["", header]
    lines += [f"{_key(k)} = {_value(v, (*path, k))}" for k, v in plain.items()]
    for key, value in table.items():
        name = ".".join(_key(p) for p in (*path, key))
        if isinstance(value, Mapping):
            _write_table(lines, (*path, key), value, f"[{name}]")
        elif _is_table_array(value):
            for item in value:
                _write_table(lines, (*path, key), item, f"[[{name}]]")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any, path: tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v, path) for v in value) + "]"
    raise TypeError(f"{'.'.join(path)}: cannot write {type(value).__name__} {value!r} as TOML")
