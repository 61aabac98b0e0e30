"""The root ``Config`` model: every section, plus where the file was.

The helpers here resolve what depends on the file's location (relative paths,
the SQLite file, the state folder, secrets read from files) so callers never
join paths themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from mailgate.config import team_addresses
from mailgate.config.fields import Section, with_raw_problems
from mailgate.config.policy import ConversationSection, SecuritySection, TeamSection
from mailgate.config.sections import (
    GatewaySection,
    HttpSection,
    ImapAccount,
    LoggingSection,
    OutboundSection,
    ProcessingSection,
    SmtpSection,
    StoreSection,
    TemplatesSection,
)
from mailgate.config.service_levels import SlaSection
from mailgate.errors import ConfigError


class Config(Section):
    """The whole validated configuration."""

    gateway: GatewaySection = GatewaySection()
    smtp: SmtpSection = SmtpSection()
    store: StoreSection = StoreSection()
    outbound: OutboundSection = OutboundSection()
    sla: SlaSection = SlaSection()
    imap: list[ImapAccount] = Field(default_factory=list)
    team: TeamSection = TeamSection()
    conversation: ConversationSection = ConversationSection()
    security: SecuritySection = SecuritySection()
    templates: TemplatesSection = TemplatesSection()
    processing: ProcessingSection = ProcessingSection()
    logging: LoggingSection = LoggingSection()
    http: HttpSection = HttpSection()

    # Not from TOML: where the file was, for error messages and relative paths.
    source: str = "(defaults)"
    base_dir: str = "."
    # The file's text as validated (``load_config``); None for the built-in defaults.
    _text: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _all_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        """An IMAP account's unknown level is reported with the other mistakes."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise with_raw_problems(exc, _raw_imap_levels(data), data) from None

    @model_validator(mode="after")
    def _imap_levels(self) -> Config:
        problems = [_unknown_imap_level(i, a.name, a.sla_level, self.sla.levels)
                    for i, a in enumerate(self.imap)
                    if a.sla_level is not None and a.sla_level not in self.sla.levels]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _team_addresses(self) -> Config:
        """One address under two engineer names, a team domain without a dot
        (``config.team_addresses``)."""
        found = team_addresses.problems(self.team.engineers, self.team.address,
                                        self.gateway.addresses, self.gateway.domains)
        if found:  # one line each, as pydantic's own errors are shown
            raise ValueError("\n  ".join(found))
        return self

    @property
    def validated_text(self) -> str | None:
        """The TOML this config was validated from (what worker processes are given)."""
        return self._text

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's directory."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def templates_dir(self) -> Path:
        """The templates folder: ``[templates] directory``, else (empty, the default) the
        templates that come with mailgate, so a config without templates of its own works
        from any installation."""
        if not self.templates.directory:
            from mailgate.defaults import TEMPLATES

            return TEMPLATES
        return self.path(self.templates.directory)

    @property
    def database_path(self) -> Path:
        """The SQLite database file (a ConfigError for a PostgreSQL store)."""
        if self.store.backend != "sqlite":
            raise ConfigError("store.url is not an sqlite:/// URL: there is no database file")
        return self.path(self.store.url.removeprefix("sqlite:///"))

    @property
    def state_dir(self) -> Path:
        """This node's folder for its pid and reload-status files."""
        if self.store.state_dir:
            return self.path(self.store.state_dir)
        if self.store.backend == "sqlite":
            return self.database_path.parent
        return self.path("var")

    def database_password(self) -> str | None:
        """The PostgreSQL password from ``password_env`` or ``password_file``, if set."""
        import os

        store = self.store
        if store.password_env:
            value = os.environ.get(store.password_env)
            if value is None:
                raise ConfigError(f"store.password_env: environment variable "
                                  f"{store.password_env} is not set")
            return value
        if store.password_file:
            try:
                return self.path(store.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"store.password_file: cannot read "
                                  f"{self.path(store.password_file)}: {exc.strerror}") from None
        return None

    @property
    def support_address(self) -> str:
        return self.outbound.from_address or self.gateway.addresses[0]

    def mailbox_defaults(self, source: str | None) -> dict[str, str]:
        """Ticket defaults (queue, sla_level) of the IMAP account a message came from."""
        if source and source.startswith("imap:"):
            name = source[5:].split("/", 1)[0]
            for account in self.imap:
                if account.name == name:
                    return {k: v for k, v in (("queue", account.queue),
                                              ("sla_level", account.sla_level)) if v}
        return {}

    def accepts(self, address: str) -> bool:
        """True when mail for ``address`` is ours (no open relay)."""
        address = address.lower()
        if address in self.gateway.addresses or any(
                account.own_address == address for account in self.imap):
            return True
        local, _, domain = address.rpartition("@")
        if domain in self.gateway.domains:
            return True
        # Sub-addressing: support+anything@example.com belongs to support@example.com.
        base = local.split("+", 1)[0]
        return f"{base}@{domain}" in self.gateway.addresses


def _unknown_imap_level(index: int, name: object, level: object, levels: Iterable[str]) -> str:
    return (f"imap.{index} (the [[imap]] named {name!r}).sla_level: unknown level {level!r} "
            f"(levels: {', '.join(sorted(levels))})")


def _raw_imap_levels(data: Any) -> list[str]:
    """The IMAP accounts' unknown levels, read from the raw tables."""
    if not isinstance(data, dict):
        return []
    sla, accounts = data.get("sla", {}), data.get("imap", [])
    levels = sla.get("levels", {"standard": {}}) if isinstance(sla, dict) else None
    if not isinstance(levels, dict) or not isinstance(accounts, list):
        return []
    return [_unknown_imap_level(i, a.get("name"), a["sla_level"], levels)
            for i, a in enumerate(accounts)
            if isinstance(a, dict) and isinstance(a.get("sla_level"), str)
            and a["sla_level"] not in levels]
