"""``mailgate ingest``: one mail from stdin into the spool, for Postfix's ``pipe``.

An MTA's pipe transport starts one process per mail, so what this process
imports is most of its cost. Two paths to store the mail:

**Quick** (a plain SQLite config, the database there): the raw bytes are
appended to the spool with ``sqlite3`` alone (``mailgate.store.lite``),
committed durably. No pydantic config models, no pipeline, no structlog, no
asyncio, not even tomllib or json are imported (``plain_tables`` reads the two
tables it needs; a file it cannot read plainly goes to tomllib).

**Full** (anything the quick path is unsure of): the config is loaded and
validated with the models, and the mail stored through the store (creating
the database if there is none yet).

Then the mail is handed over: the running daemon is woken (SIGUSR1) to
process it with its warm pipeline; with no daemon, a detached drainer is
started (``mailgate.cli.drain``; one at a time) which loads the pipeline once
and processes every waiting mail, so a burst of mail costs one pipeline
start, not one per mail. The ticket and its acknowledgement therefore appear
a moment after ``ingest`` exits, not before.

What the quick path reads of the config, and why that is safe: only
``[store] url``, ``state_dir``, ``busy_timeout`` and ``[smtp]
max_message_size``: enough to find the database, the state folder and the size
limit. The mail is only stored there; whoever processes it (the daemon, which
validated the whole config when it started or last reloaded, or a drainer,
which validates it before it processes anything) does so under a validated
config. A drainer that finds the config invalid leaves a note in the state
folder, and until the file changes ``ingest`` takes the full path, which
defers with the error (exit 75) instead of storing mail nobody can process.
Whenever in doubt it takes the full path: no config file (embedded
defaults), a TOML syntax error, a PostgreSQL store, a value of a type or form
it does not know, a database that is missing, not in WAL mode or at another
schema version.

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
DRAIN_LOCK, DRAIN_FAILED = "drain.lock", "drain-failed"  # too (mailgate.cli.drain)
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
        self.config = config
        self.sender = None if sender is None else _text(sender)
        self.recipients = [_text(r) for r in recipients]


def _text(arg: str) -> str:
    """An envelope address as text the store can hold: bytes of an argv that are not UTF-8
    (Python's surrogate escapes) become U+FFFD, so such a mail is stored (its raw bytes
    intact) rather than deferred until the MTA gives up."""
    return arg if arg.isascii() else arg.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace")


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
    """The quick path when the config is plain; else the full one. Then the mail goes to
    the running daemon, or to a drainer (``mailgate.cli.drain``) when none runs."""
    path = config_file(args.config)
    quick = quick_settings(path) if path else None
    if quick is None:
        return ingest_full(args, path)
    if _drainer_failed(quick.state_dir):
        return ingest_full(args, path, validate=True)
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
    hand_over(path, quick.state_dir)
    return EX_OK


def hand_over(path: str | None, state_dir: str) -> None:
    """Wake the running daemon (if the signal is lost, its next poll of the spool finds the
    mail), or start a drainer when none runs (a failure to start one leaves the mail in the
    spool for the next drainer or the daemon's start: the mail is stored either way)."""
    pid = daemon_pid(state_dir)
    if pid is not None and wake(pid):
        return
    try:
        start_drainer(path, state_dir)
    except OSError as exc:
        print(f"mailgate ingest: stored, processing deferred: {exc}", file=sys.stderr)


def _drainer_failed(state_dir: str) -> bool:
    """A drainer could not start (see ``mailgate.cli.drain``): validate before storing."""
    return os.path.exists(os.path.join(state_dir, DRAIN_FAILED))


def start_drainer(config_path: str | None, state_dir: str) -> bool:
    """Start ``mailgate drain`` detached, unless a drainer holds its lock; True if one
    was started. Spawned, not forked: a fresh process (the full path may have threads of a
    PostgreSQL pool), in its own session, its standard streams on /dev/null so that the
    MTA's pipe sees the end of our output when we exit."""
    import fcntl

    os.makedirs(state_dir, exist_ok=True)  # (a PostgreSQL store's state folder may be new)
    try:
        fd = os.open(os.path.join(state_dir, DRAIN_LOCK),
                     os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except PermissionError:
        fd = -1  # cannot look: start one anyway (a second drainer exits at once)
    if fd >= 0:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a drainer runs; it claims once more after it lets go
            return False
        finally:
            os.close(fd)
    argv = [sys.executable, "-P", "-m", "mailgate", "drain"]  # (-P: not from the cwd)
    if config_path:
        argv += ["-c", os.path.abspath(config_path)]
    null = [(os.POSIX_SPAWN_OPEN, n, os.devnull, os.O_RDWR, 0) for n in (0, 1, 2)]
    os.posix_spawn(sys.executable, argv, os.environ, file_actions=null, setsid=True)
    return True


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
            blob = file.read()
        tables = plain_tables(blob.decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if tables is None or any(tables.get(t, {}).get(k) is UNSURE for t, k in _QUICK_KEYS):
        tables = _toml_tables(blob)
        if tables is None:
            return None
    store, smtp = tables.get("store", {}), tables.get("smtp", {})
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


def _toml_tables(blob: bytes) -> dict[str, Any] | None:
    """The file as tomllib reads it (when ``plain_tables`` cannot tell), or None."""
    import tomllib

    try:
        return tomllib.loads(blob.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


class _Unsure:
    """A value ``plain_tables`` does not read itself (tomllib then reads the file)."""


UNSURE = _Unsure()
_QUICK_TABLES = ("store", "smtp")
_QUICK_KEYS = (("store", "url"), ("store", "state_dir"), ("store", "busy_timeout"),
               ("smtp", "max_message_size"))
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def plain_tables(text: str) -> dict[str, dict[str, Any]] | None:
    """``[store]`` and ``[smtp]`` of a config file written plainly, read without tomllib
    (whose import, with ``re`` and ``typing``, costs this per-mail process about as much
    as all the rest). Plainly: every line blank, a comment, a ``[table]`` header of bare
    keys, or ``bare.key = value`` (an array may span lines). Anything else (a multi-line
    string, a quoted key, a dotted key in these tables, a table named twice, these tables
    written inline)
    returns None and tomllib reads the file; so does a value of the two tables that is
    not a plain string or number (``UNSURE``: tomllib reads the file if the quick path
    needs that value). A test holds the answers equal to tomllib's."""
    if "\r" in text.replace("\r\n", ""):  # (a lone CR: Python's text mode splits there)
        return None
    tables: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    current: dict[str, Any] | None = None
    root, depth, key = True, 0, ""
    for raw in text.split("\n"):
        line = raw.strip(" \t\r")
        if depth:  # inside an array that spans lines: only its end matters
            scanned = _scan(line, depth)
            if scanned is None:
                return None
            depth = scanned[1]
            continue
        if not line or line[0] == "#":
            continue
        if line[0] == "[":
            array = line.startswith("[[")
            name = _header(line, array)
            if name is None or (not array and name in seen) or (
                    name.split(".")[0] in _QUICK_TABLES and (array or name not in _QUICK_TABLES)):
                return None
            seen.add(name)
            current = tables.setdefault(name, {}) if name in _QUICK_TABLES else None
            root = False
            continue
        key, sep, rest = line.partition("=")
        parts = [p.strip(" \t") for p in key.split(".")]
        scanned = _scan(rest, 0)
        if not sep or not all(p and set(p) <= _BARE for p in parts) or scanned is None or \
                not scanned[0] or (root and parts[0] in _QUICK_TABLES) or (
                current is not None and len(parts) > 1):
            return None
        key = parts[0]
        value, depth = scanned
        if current is not None:
            if key in current:
                return None
            current[key] = UNSURE if depth else _scalar(value)
    return None if depth else tables


def _header(line: str, array: bool) -> str | None:
    """The name in ``[a.b]`` / ``[[a]]`` (a comment may follow), if written plainly."""
    close = "]]" if array else "]"
    end = line.find(close)
    after = line[end + len(close):].strip(" \t") if end > 0 else "x"
    name = line[2 if array else 1:end].strip(" \t") if end > 0 else ""
    parts = name.split(".")
    if after[:1] not in ("", "#") or not all(p and set(p) <= _BARE for p in parts):
        return None
    return name


def _scan(text: str, depth: int) -> tuple[str, int] | None:
    """A line of a value: its text without a trailing comment and the array/table depth
    at its end; None for what this reader leaves to tomllib (a string that does not end
    on its line, any multi-line string, a bracket closed that was never opened)."""
    quote, i, end = "", 0, len(text)
    while i < len(text):
        c = text[i]
        if quote:
            if quote == '"' and c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            if text.startswith(c * 3, i):
                return None
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth < 0:
                return None
        elif c == "#":
            end = i
            break
        i += 1
    return None if quote else (text[:end].strip(" \t"), depth)


def _scalar(value: str) -> Any:
    """A string without escapes, an integer or a decimal number; else ``UNSURE``."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] in inner or "\\" in inner or any(ord(c) < 32 or c == "\x7f" for c in inner):
            return UNSURE
        return inner
    digits = value.replace("_", "")
    if digits.isdecimal() and digits.isascii() and "__" not in value and \
            value[0] != "_" and value[-1] != "_" and (len(digits) == 1 or digits[0] != "0"):
        return int(digits)
    whole, dot, part = value.partition(".")
    if dot and whole.isdecimal() and part.isdecimal() and whole.isascii() and part.isascii() \
            and (len(whole) == 1 or whole[0] != "0"):
        return float(value)
    return UNSURE


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


def ingest_full(args: Args, path: str | None, raw: bytes | None = None, *,
                validate: bool = False) -> int:
    """Validate the whole config, store the mail through the store, then hand it over. After
    a drainer failed to start (``validate``, or its note found here) the pipeline is loaded
    too, as a drainer loads it: the mail is deferred while nobody could process it."""
    from mailgate.config import load_config
    from mailgate.errors import ConfigError, SchemaError, TransientError

    try:
        config = load_config(path)
        validate = validate or _drainer_failed(str(config.state_dir))
        if validate:
            _load_pipeline(config)
    except Exception as exc:  # (for a broken template, too, not only ConfigError)
        print(f"mailgate ingest: {exc}", file=sys.stderr)
        return EX_TEMPFAIL  # the admin's mistake must not bounce the customer's mail
    if validate:
        from contextlib import suppress

        with suppress(OSError):  # (gone already, or not ours: a drainer removes it then)
            os.unlink(os.path.join(config.state_dir, DRAIN_FAILED))
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
            store.spool_add(raw, channel="pipe", received_at=clock.now(),
                            source="pipe:stdin", mail_from=args.sender,
                            rcpt_tos=args.recipients)
        store.close()  # (the drainer or daemon opens its own)
    except (TransientError, OSError, ConfigError, SchemaError) as exc:
        # The store unreachable, its password missing, its schema newer than this node:
        # the admin's to fix, the customer's mail must wait, not bounce.
        print(f"mailgate ingest: message not stored, retry later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    hand_over(path, str(config.state_dir))
    return EX_OK


def _load_pipeline(config: Any) -> None:
    """Load the templates and the pipeline as a drainer does (their errors raise)."""
    from mailgate.pipeline import Pipeline
    from mailgate.render import Renderer

    Pipeline(config, Renderer(config.templates_dir))
