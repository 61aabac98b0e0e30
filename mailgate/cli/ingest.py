"""``mailgate ingest``: one mail from stdin into the spool, for Postfix's ``pipe``.

An MTA's pipe transport starts one process per mail, so what this process
imports is most of its cost. Two paths:

**Quick** (a daemon is running): the raw bytes are appended to the spool with
``sqlite3`` alone (``mailgate.store.lite``), committed durably, and the daemon
is woken (SIGUSR1) to process them with its warm pipeline. No pydantic config
models, no pipeline, no structlog, no asyncio are imported.

**Full** (no daemon, or anything the quick path is unsure of): the config is
loaded and validated, the mail stored through the store, and processed right
here (ticket, acknowledgement queued).

What the quick path reads of the config, and why that is safe: it parses the
file with ``tomllib`` and takes only ``[store] url``, ``state_dir``,
``busy_timeout`` and ``[smtp] max_message_size``: enough to find the database,
the daemon's pid file and the size limit. It is taken only when the pid file
in that state folder names a live ``mailgate serve``: that daemon validated the
whole config when it started or last reloaded and it is the one that processes
the mail, under that validated config; a mistake made in the file since then
does not concern storing bytes (the next reload or ``check-config`` reports
it). Whenever it is in doubt it takes the full path, which validates
everything with the models: no config file (embedded defaults), a TOML syntax
error, a PostgreSQL store, a value of a type or form it does not know, a
database that is missing, not in WAL mode or at another schema version.

Exit codes (sendmail's, which Postfix and procmail act on): 0 only after the
durable commit; 65 (EX_DATAERR, the MTA bounces) only for input that can never
be taken: empty, or over ``max_message_size``; 75 (EX_TEMPFAIL, the MTA keeps
the mail and retries) for everything else, usage and config errors included:
the admin's mistake must not bounce a customer's mail. Only a short line goes
to stderr, on failure (Postfix puts it in its log and in a deferral notice);
processing logs are not written there.
"""

from __future__ import annotations

import os
import sys
import tomllib

# Each module imported here costs every mail; typing alone costs more than sqlite3's
# insert: mypy reads TYPE_CHECKING as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75
# The models' defaults (mailgate.config.sections; a test keeps them equal)
DEFAULT_STORE_URL = "sqlite:///var/mailgate.db"
DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024
DEFAULT_BUSY_TIMEOUT = 5.0
PID_NAME = "mailgate.pid"  # in the state folder (mailgate.health.pid_file)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
# every [store] key (a drift guard test holds them equal to the models'); the quick path
# reads only url, state_dir and busy_timeout (retention, keep_raw_for, is the daemon's)
STORE_KEYS = {"url", "busy_timeout", "password_env", "password_file", "state_dir",
              "keep_raw_for"}
USAGE = "usage: mailgate ingest [-c CONFIG] [-f SENDER] [-r RECIPIENT ...] < message"


class UsageError(Exception):
    """The command line is not one ingest understands."""


class Args:
    """The command line: ``-c``, ``-f`` and every ``-r``."""

    def __init__(self, config: str | None, sender: str | None, recipients: list[str]) -> None:
        self.config, self.sender, self.recipients = config, sender, recipients


class Quick:
    """What the quick path needs from the config file."""

    def __init__(self, database: str, state_dir: str, busy_timeout: float,
                 max_message_size: int) -> None:
        self.database, self.state_dir = database, state_dir
        self.busy_timeout, self.max_message_size = busy_timeout, max_message_size


def main(argv: Sequence[str]) -> int:
    """Run ``mailgate ingest`` (``argv`` without the verb); the exit code."""
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"mailgate ingest: {exc} ({USAGE})", file=sys.stderr)
        return EX_TEMPFAIL
    if args is None:  # --help: argparse's, with every command's layout
        from mailgate.cli.parser import build_parser

        build_parser().parse_args(["ingest", "--help"])
        return EX_OK
    return run(args)


def run(args: Args) -> int:
    """Store the mail ``args`` describe; the exit code (75 for anything unforeseen)."""
    try:
        return _ingest(args)
    except Exception as exc:  # whatever it was, the mail is not stored: retry later
        print(f"mailgate ingest: message not stored, retry later: {type(exc).__name__}: "
              f"{exc}", file=sys.stderr)
        return EX_TEMPFAIL


def parse_args(argv: Sequence[str]) -> Args | None:
    """``-c FILE``, ``-f SENDER`` and any number of ``-r RECIPIENT`` (also ``-r a b``, as
    Postfix's pipe expands ``${recipient}`` for several recipients); None for ``--help``.
    An option's value is taken as it is, even if it starts with ``-``."""
    found: dict[str, str] = {}
    recipients: list[str] = []
    rest = list(argv)
    after_r = False
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            return None
        name, value = _split(arg)
        key = _OPTIONS.get(name)
        if key is None:
            if after_r and not arg.startswith("-"):
                recipients.append(arg)
                continue
            raise UsageError(f"unexpected argument {arg!r}")
        if value is None:
            if not rest:
                raise UsageError(f"{name} needs a value")
            value = rest.pop(0)
        if key == "recipient":
            recipients.append(value)
        else:
            found[key] = value
        after_r = key == "recipient"
    return Args(found.get("config"), found.get("sender"), recipients)


_OPTIONS = {"-c": "config", "--config": "config", "-f": "sender", "--sender": "sender",
            "-r": "recipient", "--recipient": "recipient"}


def _split(arg: str) -> tuple[str, str | None]:
    """``--config=FILE`` and ``-cFILE`` into the option and its value."""
    if arg.startswith("--") and "=" in arg:
        name, _, value = arg.partition("=")
        return name, value
    if len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and arg[:2] in _OPTIONS:
        return arg[:2], arg[2:]
    return arg, None


def _ingest(args: Args) -> int:
    """The quick path when a daemon runs and the config is plain; else the full one."""
    path = config_file(args.config)
    quick = quick_settings(path) if path else None
    pid = daemon_pid(quick.state_dir) if quick else None
    if quick is None or pid is None:
        return ingest_full(args, path)
    raw = sys.stdin.buffer.read(quick.max_message_size + 1)
    refused = _refusal(raw, quick.max_message_size)
    if refused:
        print(f"mailgate ingest: {refused}", file=sys.stderr)
        return EX_DATAERR
    from datetime import UTC, datetime

    from mailgate.errors import StoreError
    from mailgate.store.lite import NotQuick, append_spool
    from mailgate.store.schema import LATEST

    try:
        append_spool(quick.database, raw, schema_version=LATEST, received_at=datetime.now(
            UTC).isoformat(timespec="microseconds"), channel="pipe", source="pipe:stdin",
            mail_from=args.sender, rcpt_tos=args.recipients, busy_timeout=quick.busy_timeout)
    except NotQuick:
        return ingest_full(args, path, raw)
    except (StoreError, OSError) as exc:
        print(f"mailgate ingest: message not stored, retry later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    wake(pid)  # (if the signal is lost, the daemon's next poll of the spool finds the mail)
    return EX_OK


def config_file(arg: str | None) -> str | None:
    """-c, else $MAILGATE_CONFIG, else ./mailgate.toml if there is one (as every command)."""
    if arg:
        return arg
    if os.environ.get("MAILGATE_CONFIG"):
        return os.environ["MAILGATE_CONFIG"]
    return "mailgate.toml" if os.path.exists("mailgate.toml") else None


def quick_settings(path: str) -> Quick | None:
    """The few settings the quick path uses, or None whenever they are not plainly there
    (see the module docstring: the full path then validates and reports)."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    store, smtp = data.get("store", {}), data.get("smtp", {})
    if not isinstance(store, dict) or not isinstance(smtp, dict) or \
            not set(store) <= STORE_KEYS:  # (a typo in [store]: the models name it)
        return None
    url = store.get("url", DEFAULT_STORE_URL)
    state_dir = store.get("state_dir")
    size = smtp.get("max_message_size", DEFAULT_MAX_MESSAGE_SIZE)
    timeout = _seconds(store.get("busy_timeout", DEFAULT_BUSY_TIMEOUT))
    if not (isinstance(url, str) and url.startswith("sqlite:///") and url[10:]) or \
            not isinstance(state_dir, str | None) or timeout is None or \
            type(size) is not int or size < 1024:
        return None
    base = os.path.dirname(os.path.realpath(path))
    database = os.path.join(base, url[10:])
    return Quick(database, os.path.join(base, state_dir) if state_dir else
                 os.path.dirname(database), timeout, size)


def _seconds(value: Any) -> float | None:
    """A duration as ``[store] busy_timeout`` is usually written ("5s", "500ms", 5)."""
    if type(value) in (int, float) and value >= 0:
        return float(value)
    if isinstance(value, str):
        for unit in ("ms", "s", "m"):
            number = value.removesuffix(unit)
            if number != value and number.replace(".", "", 1).isdigit():
                return float(number) * _UNITS[unit]
    return None


def daemon_pid(state_dir: str) -> int | None:
    """The pid of the ``mailgate serve`` whose pid file is in ``state_dir``, if it runs (a
    pid file left by a dead daemon may name a recycled pid: the command line is checked)."""
    try:
        with open(os.path.join(state_dir, PID_NAME), "rb") as file:
            pid = int(file.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().split(b"\0")
    except (OSError, ValueError):
        return None
    if pid == os.getpid() or b"serve" not in argv or not any(b"mailgate" in a for a in argv):
        return None
    return pid


def wake(pid: int) -> bool:
    """Tell the daemon the spool has new mail (SIGUSR1); False if it cannot be signalled."""
    import signal

    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return False
    return True


def _refusal(raw: bytes, max_size: int) -> str | None:
    """Why this input can never be a message (the MTA bounces it), or None."""
    if not raw.strip():
        return "empty input, no message to store"
    if len(raw) > max_size:
        return f"message larger than smtp.max_message_size ({max_size} bytes)"
    return None


def ingest_full(args: Args, path: str | None, raw: bytes | None = None) -> int:
    """Validate the whole config, store the mail through the store, then wake the daemon or,
    with none running, process the mail here."""
    from mailgate.config import load_config
    from mailgate.errors import ConfigError, SchemaError, TransientError

    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"mailgate ingest: {exc}", file=sys.stderr)
        return EX_TEMPFAIL  # the admin's mistake must not bounce the customer's mail
    if raw is None:
        raw = sys.stdin.buffer.read(config.smtp.max_message_size + 1)
    refused = _refusal(raw, config.smtp.max_message_size)
    if refused:
        print(f"mailgate ingest: {refused}", file=sys.stderr)
        return EX_DATAERR
    from mailgate import clock
    from mailgate.cli.common import cli_store

    try:
        store = cli_store(config, create=True)  # an intake, like serve: it may create
        with store.transaction():
            spool_id = store.spool_add(raw, channel="pipe", received_at=clock.now(),
                                       source="pipe:stdin", mail_from=args.sender,
                                       rcpt_tos=args.recipients)
    except (TransientError, OSError, ConfigError, SchemaError) as exc:
        # The store unreachable, its password missing, its schema newer than this node:
        # the admin's to fix, the customer's mail must wait, not bounce.
        print(f"mailgate ingest: message not stored, retry later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    pid = daemon_pid(str(config.state_dir))
    if pid is not None and wake(pid):
        return EX_OK
    _process_here(config, store, spool_id)
    return EX_OK


def _process_here(config: Any, store: Any, spool_id: int) -> None:
    """Process the stored mail in this process (no daemon runs). Its log lines go nowhere
    (Postfix would put them in its log): the spool row and ``mailgate trace`` tell what
    happened. A failure here leaves the row for the daemon's next start: still exit 0."""
    from mailgate.logs import configure_logging

    configure_logging(config.logging, stream=open(os.devnull, "w"))  # noqa: SIM115
    try:
        from mailgate.pipeline import Pipeline
        from mailgate.processor import Processor
        from mailgate.render import Renderer

        processor = Processor(config, store, Pipeline(config, Renderer(config.templates_dir)))
        processor.drain(only=spool_id)
    except Exception as exc:
        print(f"mailgate ingest: stored, processing deferred: {exc}", file=sys.stderr)
