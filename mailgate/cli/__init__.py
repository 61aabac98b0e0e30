"""The ``mailgate`` command line.

Every command exits non-zero with a one-line error on bad input (unknown
ticket, bad config path), never a traceback. ``ingest`` follows sendmail's
exit codes so Postfix's ``pipe`` and procmail do the right thing: 0 once the
message is durably stored, 75 (EX_TEMPFAIL) when it must be retried, 65
(EX_DATAERR) for input that can never be a message (empty or over the size
limit), which the MTA bounces to its sender.

One module per command group, each adding its own commands to the parser
(``parser``); what they share is in ``common``. Heavy modules are imported
inside the commands that need them, to keep ``ingest`` and the read commands
quick to start.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mailgate.cli.common import EX_CONFIG, EX_OK, EX_TEMPFAIL, EX_USAGE
from mailgate.cli.parser import build_parser
from mailgate.errors import (
    ConfigError,
    MailgateError,
    NotFoundError,
    SchemaError,
    TransientError,
)

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its errors become a one-line message and an exit code."""
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
