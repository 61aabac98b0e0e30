"""Load and validate the TOML configuration.

The schema is a tree of frozen pydantic models with ``extra="forbid"``, so an
unknown key, a wrong type or a bad value is reported with its dotted key path
and the file it came from, all problems at once. Every key has a default:
``mailgate serve`` with no file runs the embedded default (SQLite and an
outbox folder under ``./var``, SMTP on 127.0.0.1:8025).

Relative paths are resolved against the directory of the config file (the
current directory when there is no file), so a config is portable with its
folder.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailgate.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Accept ``"30s"``, ``"15m"``, ``"8h"``, ``"2d"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '8h' or '30m'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2] or "s"])
    raise ValueError(f"expected a duration such as '8h', '30m' or '2d', got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _address(value: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value.lower()


Address = Annotated[str, BeforeValidator(_address)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySection(Section):
    """Who we are: the addresses we accept mail for and the ticket reference format."""

    name: str = "Support"
    addresses: list[Address] = Field(default_factory=lambda: ["support@localhost"])
    domains: list[str] = Field(default_factory=list)
    reference_prefix: str = "SUP"
    reference_width: int = Field(default=6, ge=1, le=12)
    node_name: str = ""

    @field_validator("reference_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,15}", value):
            raise ValueError("must be 1-16 letters or digits, starting with a letter")
        return value.upper()

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [d.lower().lstrip("@") for d in value]


class SmtpSection(Section):
    """The SMTP listener an MTA relays to."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=0, le=65535)
    hostname: str = "localhost"
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024)
    timeout: Duration = timedelta(minutes=5)


class StoreSection(Section):
    """Where tickets, messages, the spool and the outbox live."""

    url: str = "sqlite:///var/mailgate.db"
    busy_timeout: Duration = timedelta(seconds=5)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("sqlite:///"):
            raise ValueError("only sqlite:///PATH is supported by this version")
        return value


class OutboundSection(Section):
    """How outgoing mail leaves: written to a folder (default) or sent to a smarthost."""

    mode: Literal["folder", "smtp"] = "folder"
    folder: str = "var/outbox"
    from_address: Address | None = None
    from_name: str | None = None
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    timeout: Duration = timedelta(seconds=30)
    retry_initial: Duration = timedelta(seconds=30)
    retry_max: Duration = timedelta(hours=1)
    give_up_after: Duration = timedelta(days=2)
    lease: Duration = timedelta(minutes=5)


class ImapAccount(Section):
    """One mailbox read over IMAP; the password comes from the environment or a file."""

    name: str
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password_env: str | None = None
    password_file: str | None = None
    oauth2_token_command: str | None = None
    oauth2_token_file: str | None = None
    folder: str = "INBOX"
    after: Literal["seen", "move", "delete"] = "seen"
    move_to: str = "Processed"
    error_folder: str = "mailgate-errors"
    batch_size: int = Field(default=50, ge=1, le=5000)
    poll_interval: Duration = timedelta(seconds=60)
    idle: bool = True
    idle_timeout: Duration = timedelta(minutes=25)
    queue: str | None = None
    sla_level: str | None = None

    @model_validator(mode="after")
    def _credentials(self) -> ImapAccount:
        sources = [self.password_env, self.password_file,
                   self.oauth2_token_command, self.oauth2_token_file]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                "set exactly one of password_env, password_file, "
                "oauth2_token_command, oauth2_token_file"
            )
        if self.security == "plain" and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("security = 'plain' is allowed for loopback hosts only")
        return self


class SlaLevel(Section):
    """One service level; the business-time engine replaces the wall-clock arithmetic."""

    first_response: Duration = timedelta(hours=8)
    resolution: Duration | None = None
    description: str = ""


class SlaSection(Section):
    default_level: str = "standard"
    levels: dict[str, SlaLevel] = Field(default_factory=lambda: {"standard": SlaLevel()})

    @model_validator(mode="after")
    def _default_exists(self) -> SlaSection:
        if self.default_level not in self.levels:
            raise ValueError(
                f"default_level {self.default_level!r} is not one of the levels "
                f"({', '.join(sorted(self.levels)) or 'none defined'})"
            )
        return self


class TemplatesSection(Section):
    directory: str = "templates"
    language: str = "en"


class ProcessingSection(Section):
    """The spool processor: how much it takes per transaction and how it treats crashes."""

    batch_size: int = Field(default=32, ge=1, le=1000)
    max_attempts: int = Field(default=3, ge=1, le=100)
    lease: Duration = timedelta(minutes=2)
    poll_interval: Duration = timedelta(seconds=1)


class LoggingSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Config(Section):
    """The whole validated configuration."""

    gateway: GatewaySection = GatewaySection()
    smtp: SmtpSection = SmtpSection()
    store: StoreSection = StoreSection()
    outbound: OutboundSection = OutboundSection()
    sla: SlaSection = SlaSection()
    imap: list[ImapAccount] = Field(default_factory=list)
    templates: TemplatesSection = TemplatesSection()
    processing: ProcessingSection = ProcessingSection()
    logging: LoggingSection = LoggingSection()
    # Not from TOML: where the file was, for error messages and relative paths.
    source: str = "(defaults)"
    base_dir: str = "."

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's directory."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def database_path(self) -> Path:
        return self.path(self.store.url.removeprefix("sqlite:///"))

    @property
    def support_address(self) -> str:
        return self.outbound.from_address or self.gateway.addresses[0]

    def accepts(self, address: str) -> bool:
        """True when mail for ``address`` is ours (no open relay)."""
        address = address.lower()
        if address in self.gateway.addresses:
            return True
        local, _, domain = address.rpartition("@")
        if domain in self.gateway.domains:
            return True
        # Sub-addressing: support+anything@example.com belongs to support@example.com.
        base = local.split("+", 1)[0]
        return f"{base}@{domain}" in self.gateway.addresses


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"  {path}: unknown key")
        else:
            message = item["msg"].removeprefix("Value error, ")
            got = item.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  {path}: {message}{shown}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and return the configuration; raise ConfigError naming key and file."""
    if path is None:
        return Config(base_dir=str(Path.cwd()))
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for reserved in ("source", "base_dir"):
        if reserved in data:
            raise ConfigError(f"{path}\n  {reserved}: unknown key")
    try:
        return Config(**data, source=str(path), base_dir=str(path.resolve().parent))
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, str(path))) from None
