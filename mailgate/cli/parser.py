"""The ``mailgate`` argument parser, put together from the command groups.

Each group module adds its own commands; this module owns what they share
(``-c``, the help layout) and the order ``mailgate --help`` lists them in.
The global option ``-c`` is accepted before the command (``mailgate -c FILE
tickets``) and after it (``mailgate tickets -c FILE``); after it wins.
"""

from __future__ import annotations

import argparse

import mailgate.cli.config_cmds as config_cmds
import mailgate.cli.db as db
import mailgate.cli.drain as drain
import mailgate.cli.inspect_cmds as inspect_cmds
import mailgate.cli.privacy as privacy
import mailgate.cli.queues as queues
import mailgate.cli.serve as serve
import mailgate.cli.tickets as tickets
from mailgate import __version__
from mailgate.cli.common import Command

EXAMPLES = """\
examples:
  mailgate init /etc/mailgate
  mailgate serve -c /etc/mailgate/mailgate.toml
  mailgate reload -c /etc/mailgate/mailgate.toml
  mailgate ingest -c /etc/mailgate/mailgate.toml < message.eml
  mailgate check-config -c mailgate.toml
  mailgate tickets --status open
  mailgate show SUP-000123 --json
  mailgate assign SUP-000123 alice
  mailgate trace '<CAF123@mail.example.org>'
  mailgate explain message.eml
  mailgate templates preview ack --ticket SUP-000123
  mailgate quarantine list
  mailgate export --customer alice@example.org -o alice.zip
  mailgate erase --customer alice@example.org --yes
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command with ``-c`` and an example in its help."""
    parser = argparse.ArgumentParser(
        prog="mailgate", description="Email-to-ticket gateway daemon.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailgate {__version__}")
    config_help = ("config file (default: $MAILGATE_CONFIG, ./mailgate.toml, else the "
                   "embedded defaults); before or after the command")
    parser.add_argument("-c", "--config", help=config_help)
    # After the command too: SUPPRESS keeps a -c given before it unless one comes after.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text,
                           epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    # --help lists the commands in the order they are added
    serve.register(add)  # serve, ingest
    drain.register(add)  # drain
    config_cmds.register_check(add)  # check-config
    tickets.register(add)  # tickets, show, status, close, reopen, sla
    queues.register(add)  # quarantine, outbox
    config_cmds.register_setup(add)  # reload, init
    tickets.register_desk(add)  # assign, merge
    inspect_cmds.register(add)  # trace, explain, templates
    db.register(add)  # db, import
    privacy.register(add)  # export, erase, purge
    return parser
