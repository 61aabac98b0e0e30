"""What every command shares: exit codes, finding and loading the config, output.

Kept light on purpose: every command imports it, and ``ingest`` runs once per
mail under an MTA, so anything heavy is imported inside the function using it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mailgate.config import Config, load_config
from mailgate.errors import ConfigError

EX_OK, EX_USAGE, EX_DATAERR, EX_SOFTWARE, EX_TEMPFAIL, EX_CONFIG = 0, 64, 65, 70, 75, 78

Command = Callable[[argparse.Namespace], int]
# add(name, func, help_text, example) -> the command's subparser, for its own arguments
AddCommand = Callable[[str, Command, str, str], argparse.ArgumentParser]


def config_path(arg: str | None) -> str | None:
    """-c, else $MAILGATE_CONFIG, else ./mailgate.toml if there is one (else the defaults)."""
    if arg:
        return arg
    if os.environ.get("MAILGATE_CONFIG"):
        return os.environ["MAILGATE_CONFIG"]
    return "mailgate.toml" if Path("mailgate.toml").exists() else None


def load(args: argparse.Namespace) -> Config:
    """The config the command line names (see ``config_path``)."""
    return load_config(config_path(args.config))


def cli_store(config: Config, *, create: bool = False, migrate: bool = True) -> Any:
    """The store, named as the command line's in PostgreSQL's pg_stat_activity.

    Only the intakes (``ingest``, ``import``) pass ``create`` (``serve`` and ``db
    migrate`` open the store themselves): anywhere else a missing database is a wrong
    config or folder (a relative ``sqlite:///var/...`` read from elsewhere), and creating
    it would show an empty desk and leave a stray file. No SQLite file is ever created as
    another user than its folder's owner (``store.sqlite.check_owner``)."""
    from mailgate.store import open_store

    if not create:
        require_database_file(config)
    store = open_store(config, migrate=False, application_name="mailgate cli")
    try:
        if not create and store.schema_version() == 0:
            from mailgate.store.postgres import redact

            raise ConfigError(_no_database(
                config, f"in {redact(config.store.url)} (it has no mailgate tables)"))
        if migrate:
            store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def require_database_file(config: Config) -> None:
    """A ConfigError naming the path when the config's SQLite file does not exist."""
    if config.store.backend == "sqlite" and not config.database_path.exists():
        raise ConfigError(_no_database(config, f"at {config.database_path}"))


def _no_database(config: Config, where: str) -> str:
    return (f"no mailgate database {where} (config: {config.source}); not creating one: "
            "check -c / $MAILGATE_CONFIG, or create it with `mailgate db migrate` or "
            "`mailgate serve`")


def print_json(data: Any) -> None:
    """``--json`` output: indented, non-ASCII kept, dates and the like as strings."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines otherwise (for grep and cut)."""
    if not sys.stdout.isatty():
        print("\t".join(columns))
        for row in rows:
            print("\t".join("" if v is None else str(v) for v in row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
