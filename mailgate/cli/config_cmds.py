"""The config's life: ``init`` writes one, ``check-config`` validates it, ``reload``
makes the running daemon take it up.

Each renders every template before it reports success, so a typo is found on
the command line, not in the first acknowledgement sent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mailgate import clock
from mailgate.cli.common import EX_CONFIG, EX_OK, AddCommand, load, print_json
from mailgate.errors import ConfigError, MailgateError, NotFoundError, TransientError

if TYPE_CHECKING:
    from mailgate.config import Config


def checked(args: argparse.Namespace, templates_failed: str, sep: str) -> Config:
    """The config, with its templates rendered, the outbound folder written to and
    ``[conversation] gratitude_file`` loaded as the daemon will (a mistake names the file
    and the key)."""
    from mailgate.render import OPTIONAL, Renderer, needed_templates

    try:
        config = load(args)
    except ConfigError as exc:
        # the templates too, in the same run: an admin fixing the config should not find
        # the template typos only at the next run
        folder = _templates_dir_of(args)
        found = Renderer(folder).check(OPTIONAL) if folder is not None else []
        if found:
            raise ConfigError(sep.join([str(exc), templates_failed, *found])) from None
        raise
    problems = Renderer(config.templates_dir).check(needed_templates(config))
    if problems:
        raise ConfigError(sep.join([templates_failed, *problems]))
    from mailgate.outbound import check_folder

    check_folder(config, keep=False)
    if config.conversation.gratitude_file:
        from mailgate.replies import Understanding

        Understanding.load(config.path(config.conversation.gratitude_file))
    return config


def _templates_dir_of(args: argparse.Namespace) -> Path | None:
    """The templates folder a config that failed validation names (``[templates]
    directory``, else the packaged templates), or None when even its TOML is unreadable."""
    import tomllib

    from mailgate.cli.common import config_path
    from mailgate.defaults import TEMPLATES

    path = config_path(args.config)
    if path is None:
        return TEMPLATES
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    table = data.get("templates")
    directory = table.get("directory") if isinstance(table, dict) else None
    if not isinstance(directory, str) or not directory:
        return TEMPLATES
    folder = Path(directory)
    return folder if folder.is_absolute() else Path(path).resolve().parent / folder


def cmd_check_config(args: argparse.Namespace) -> int:
    """Load the config and render every template; one line of success, else the errors."""
    config = checked(args, "templates have errors:", "\n")
    from mailgate import identity, language, locales, reminders, template_copies
    from mailgate.render import stray_templates

    languages = locales.template_language_warnings(config.templates_dir, language.DETECTED)
    for warning in [*identity.config_warnings(config), *reminders.config_warnings(config),
                    *languages, *stray_templates(config.templates_dir),
                    *template_copies.warnings(config.templates_dir)]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{config.source}: OK ({len(config.sla.levels)} SLA level(s), "
          f"templates in {config.templates_dir})")
    return EX_OK


def cmd_reload(args: argparse.Namespace) -> int:
    """Validate the config, SIGHUP the daemon, and report what it made of it."""
    import signal
    import time

    from mailgate import health

    config = checked(args, "not reloaded, templates have errors", "; ")
    path = health.pid_file(config)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        raise NotFoundError(f"no pid file {path}: is `mailgate serve` running with this "
                            "config?") from None
    if not health.process_alive(pid) or not health.looks_like_mailgate(pid):
        raise NotFoundError(f"the daemon of {path} (pid {pid}) is not running")
    status_path = health.reload_file(config)
    before = health.read_json(status_path)
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        raise MailgateError(f"not allowed to signal pid {pid}: run as the daemon's user") \
            from None
    if args.no_wait:
        print(f"sent SIGHUP to pid {pid}")
        return EX_OK
    deadline = time.monotonic() + args.timeout
    after = before
    while time.monotonic() < deadline:
        after = health.read_json(status_path)
        if after != before and after is not None and after.get("pid") == pid:
            break
        time.sleep(0.1)
    else:
        raise TransientError(f"sent SIGHUP to pid {pid}, no answer within {args.timeout:g}s; "
                             "see the daemon's log")
    assert after is not None
    if args.json:
        print_json(after)
    if not after["ok"]:
        if not args.json:
            print(f"mailgate: reload refused, old config still in force: {after['error']}",
                  file=sys.stderr)
        return EX_CONFIG
    if not args.json:
        print(f"reloaded {after['config']} (pid {pid})"
              + (f"; SLA changed, {after['recomputed_clocks']} open clock(s) recomputed"
                 if after["sla_changed"] else ""))
        if after["restart_needed"]:
            print(f"restart needed for: {', '.join(after['restart_needed'])} "
                  "(old values stay in force until then)")
        if after.get("error"):
            print(f"warning: {after['error']}", file=sys.stderr)
    return EX_OK


def cmd_init(args: argparse.Namespace) -> int:
    """Write a working config, the templates, the SLA presets and the deployment examples
    into DIR."""
    folder = Path(args.dir)
    config_file = folder / "mailgate.toml"
    targets = [config_file, folder / "templates", folder / "sla-presets", folder / "deploy"]
    taken = [str(t) for t in targets if t.exists()]
    if taken:
        raise MailgateError(f"refusing to overwrite {', '.join(taken)}")
    if folder.exists() and not folder.is_dir():
        raise MailgateError(f"{folder} is not a folder")
    text = _config_text(args.address, args.state)
    _write_checked(folder, config_file, text)
    shown = str(config_file)
    print(f"wrote {shown}, {folder / 'templates'}/, {folder / 'sla-presets'}/ and "
          f"{folder / 'deploy'}/")
    print(f"""
next:
  1. edit {shown}:
     [gateway] addresses   the support address(es) customers write to{
         ' (set)' if args.address else ''}
     [outbound] mode       "smtp" and the smarthost, to send acknowledgements for real
     [sla]                 your service levels (see {folder / 'sla-presets'}/)
  2. edit the acknowledgement in {folder / 'templates' / 'ack.txt.j2'}, then preview it:
     mailgate templates preview ack -c {shown}
  3. mailgate check-config -c {shown}
  4. mailgate serve -c {shown}       (or install {folder / 'deploy' / 'mailgate.service'})
  5. point your MTA at the listener ({folder / 'deploy'}/postfix-*.example; README,
     "Deployment")""")
    return EX_OK


def _config_text(addresses: list[str] | None, state_dir: str | None) -> str:
    """The example config with the given addresses and state folder put in, and the
    templates read from the copy next to it."""
    from mailgate.defaults import EXAMPLE_CONFIG

    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('directory = ""', 'directory = "templates"', 1)
    if addresses:
        old = 'addresses = ["support@localhost"]'
        text = text.replace(old, f"addresses = {json.dumps(addresses)}", 1)
    if state_dir:
        state = Path(state_dir).absolute()
        text = text.replace('url = "sqlite:///var/mailgate.db"',
                            f'url = "sqlite:///{state / "mailgate.db"}"', 1)
        text = text.replace('folder = "var/outbox"', f'folder = "{state / "outbox"}"', 1)
        # pid and reload status stay there when the store moves to PostgreSQL
        text = text.replace('# state_dir = "var"', f'state_dir = "{state}"', 1)
    return (f"# Written by `mailgate init` on {clock.now():%Y-%m-%d}: every key shown with its"
            " default.\n" + text)


def _write_checked(folder: Path, config_file: Path, text: str) -> None:
    """Write the config and copy the templates, presets and deployment examples; all or
    nothing: if anything fails, the config included, what was written is removed again."""
    import shutil

    from mailgate.defaults import DEPLOY, SLA_PRESETS, TEMPLATES
    from mailgate.render import Renderer

    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config_file.write_text(text, encoding="utf-8")
        written.append(config_file)
        shutil.copytree(TEMPLATES, folder / "templates")
        written.append(folder / "templates")
        shutil.copytree(SLA_PRESETS, folder / "sla-presets")
        written.append(folder / "sla-presets")
        shutil.copytree(DEPLOY, folder / "deploy")
        written.append(folder / "deploy")
        from mailgate.config import load_config

        config = load_config(config_file)
        problems = Renderer(config.templates_dir).check()
        if problems:
            raise ConfigError("; ".join(problems))
    except BaseException:
        for path in reversed(written):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def register_check(add: AddCommand) -> None:
    """Add ``check-config``."""
    add("check-config", cmd_check_config, "validate the config and render every template",
        "mailgate check-config -c mailgate.toml")


def register_setup(add: AddCommand) -> None:
    """Add ``reload`` and ``init`` (listed after the queues in --help)."""
    p = add("reload", cmd_reload, "make the running daemon re-read its config and templates "
            "(SIGHUP to the pid in var/mailgate.pid next to the database)",
            "mailgate reload -c /etc/mailgate/mailgate.toml")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the daemon's answer (default 10)")
    p.add_argument("--no-wait", action="store_true", help="signal and return at once")
    p.add_argument("--json", action="store_true")
    p = add("init", cmd_init, "write a working config, the templates and SLA presets into DIR",
            "mailgate init /etc/mailgate --address support@example.com "
            "--state /var/lib/mailgate")
    p.add_argument("dir")
    p.add_argument("--address", action="append",
                   help="the support address customers write to (repeat for more)")
    p.add_argument("--state", metavar="STATE_DIR",
                   help="folder for the database and outbox (default: var/ next to the "
                        "config; /var/lib/mailgate for the systemd unit)")
