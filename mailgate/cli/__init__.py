"""The ``mailgate`` command line.

Every command exits non-zero with a one-line error on bad input (unknown
ticket, bad config path), never a traceback. ``ingest`` follows sendmail's
exit codes so Postfix's ``pipe`` and procmail do the right thing: 0 once the
message is durably stored, 75 (EX_TEMPFAIL) when it must be retried (usage
and config errors included), 65 (EX_DATAERR) for input that can never be a
message (empty or over the size limit), which the MTA bounces to its sender.

One module per command group, each adding its own commands to the parser
(``parser``); what they share is in ``common``. ``ingest`` runs once per mail,
so ``main`` hands it its arguments before anything else is imported (not even
the parser: see ``mailgate.cli.ingest``); heavy modules are imported inside the
commands that need them, to keep the read commands quick to start too.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # (typing.TYPE_CHECKING without importing typing: see cli.ingest)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from mailgate.cli.parser import build_parser

__all__ = ["build_parser", "main", "split_verb"]

# options of the top level that take a value (so the word after them is not the verb)
_VALUED = ("-c", "--config")


def __getattr__(name: str) -> Any:
    if name == "build_parser":
        from mailgate.cli.parser import build_parser

        return build_parser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def split_verb(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The command word and the other arguments (global options may come before it)."""
    rest = list(argv)
    i = 0
    while i < len(rest):
        arg = rest[i]
        if not arg.startswith("-") or arg == "-":
            return arg, rest[:i] + rest[i + 1:]
        if arg == "--":
            return (rest[i + 1], rest[:i] + rest[i + 2:]) if i + 1 < len(rest) else (None, rest)
        i += 2 if arg in _VALUED else 1
    return None, rest


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its errors become a one-line message and an exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    verb, rest = split_verb(argv)
    if verb == "ingest":
        try:
            from mailgate.cli.ingest import main as ingest
        except Exception as exc:  # a broken install: Postfix bounces any code but 0 or 75
            print(f"mailgate ingest: cannot start, retry later: {exc}", file=sys.stderr)
            return 75
        return ingest(rest)
    return _run(argv)


def _run(argv: list[str]) -> int:
    from mailgate.cli.common import EX_CONFIG, EX_OK, EX_TEMPFAIL, EX_USAGE
    from mailgate.cli.parser import build_parser
    from mailgate.errors import (
        ConfigError,
        MailgateError,
        NotFoundError,
        SchemaError,
        TransientError,
    )

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, SchemaError) as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_CONFIG
    except NotFoundError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return 1
    except TransientError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except MailgateError as exc:
        print(f"mailgate: {exc}", file=sys.stderr)
        return EX_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EX_OK
