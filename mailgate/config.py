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
from dataclasses import dataclass
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

from mailgate.bizcal import WEEKDAYS
from mailgate.bizcal import Calendar as BizCalendar
from mailgate.errors import ConfigError

STATUSES = (
    "open", "in_progress", "awaiting_reply", "on_hold", "planned", "acceptance",
    "waiting_for_deploy", "closed",
)

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
    """Where tickets, messages, the spool and the outbox live.

    ``sqlite:///PATH`` (the embedded default, one host) or ``postgresql://USER@HOST/DB``
    (several nodes sharing one database); the PostgreSQL password comes from
    ``password_env`` or ``password_file`` (or libpq's own PGPASSWORD / ~/.pgpass), never
    from the URL. ``state_dir`` holds this node's pid and reload-status files (default: the
    SQLite database's folder, or ``var`` next to the config file with PostgreSQL).
    """

    url: str = "sqlite:///var/mailgate.db"
    busy_timeout: Duration = timedelta(seconds=5)
    password_env: str | None = None
    password_file: str | None = None
    state_dir: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            if not value.removeprefix("sqlite:///"):
                raise ValueError("sqlite:///PATH needs a path")
            return value
        if value.startswith(("postgresql://", "postgres://")):
            from urllib.parse import urlsplit

            try:  # (several host:port pairs are allowed: libpq's multi-host failover)
                parts = urlsplit(value)
            except ValueError as exc:
                raise ValueError(f"not a valid PostgreSQL URL: {exc}") from None
            if parts.password is not None:
                raise ValueError("no password in the URL: use store.password_env or "
                                 "store.password_file")
            return value
        raise ValueError("must be sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE")

    @model_validator(mode="after")
    def _password(self) -> StoreSection:
        if self.password_env and self.password_file:
            raise ValueError("set at most one of password_env, password_file")
        if (self.password_env or self.password_file) and self.backend == "sqlite":
            raise ValueError("password_env and password_file are for a postgresql:// url")
        return self

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"


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
    # One node reads the account at a time: how long its claim lasts without a renewal,
    # so how soon another node takes over from one that died.
    lease: Duration = timedelta(seconds=60)

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=2) <= value <= timedelta(hours=1):
            raise ValueError("must be between 2 seconds and 1 hour")
        return value

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


_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|wd)\s*$")


@dataclass(frozen=True)
class Target:
    """An SLA target in working time: ``"30m"``/``"8h"`` of working hours or ``"24wd"`` days."""

    amount: float
    unit: str  # "m", "h" or "wd"

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{self.unit}"

    @property
    def text(self) -> str:
        words = {"m": "working minutes", "h": "working hours", "wd": "working days"}
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {words[self.unit]}"


def _target(value: Any) -> Target:
    if isinstance(value, Target):
        return value
    match = _TARGET.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(
            f"expected working time such as '30m', '8h' or '24wd' (working days), got {value!r}"
        )
    return Target(float(match[1]), match[2])


TargetField = Annotated[Target, BeforeValidator(_target)]


class CalendarSpec(Section):
    """Working time of a desk: zone, weekly hours, holidays, exceptions (see bizcal)."""

    timezone: str = "UTC"
    hours: dict[str, list[str] | str] = Field(
        default_factory=lambda: {d: ["00:00-24:00"] for d in WEEKDAYS}
    )
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    closed_dates: list[str] = Field(default_factory=list)
    open_dates: list[str] = Field(default_factory=list)
    open_hours: list[str] | str = "mon"
    holiday_workdays: bool = True

    def build(self, name: str) -> BizCalendar:
        return BizCalendar.from_spec(
            name, timezone=self.timezone, hours=self.hours,
            holidays_country=self.holidays_country, holidays_subdiv=self.holidays_subdiv,
            closed_dates=self.closed_dates, open_dates=self.open_dates,
            open_hours=self.open_hours, holiday_workdays=self.holiday_workdays,
        )

    @model_validator(mode="after")
    def _valid(self) -> CalendarSpec:
        self.build("calendar")  # raises ValueError with the problem
        return self


class SlaLevel(Section):
    """One service level: targets in the working time of its calendar, and its reminders."""

    calendar: str = "24x7"
    first_response: TargetField = Target(8, "h")
    resolution: TargetField | None = None
    reminders: list[float] = Field(default_factory=lambda: [0.75, 1.0])
    repeat_after_breach: Duration | None = None
    notify: list[Literal["team", "escalation", "assignee"]] = Field(
        default_factory=lambda: ["team"])
    description: str = ""

    @field_validator("reminders")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in value):
            raise ValueError("reminder points are fractions of the target, > 0 and <= 1")
        return sorted(set(value))


class Rule(Section):
    """One assignment rule: all given conditions must match; the first matching rule wins."""

    name: str
    from_addresses: list[str] = Field(default_factory=list)
    to_addresses: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    stated_priority: list[str] = Field(default_factory=list)
    importance: list[Literal["high", "normal", "low"]] = Field(default_factory=list)
    level: str | None = None
    category: str | None = None
    priority: str | None = None
    queue: str | None = None


class FieldPattern(Section):
    """A custom field taken from the mail by a regular expression (first group)."""

    name: str
    pattern: str
    where: Literal["body", "subject", "both"] = "both"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("the pattern needs one (group) holding the value")
        return value


class SlaSection(Section):
    default_level: str = "standard"
    team_address: Address | None = None
    escalation_address: Address | None = None
    pause_statuses: list[str] = Field(default_factory=lambda: ["awaiting_reply", "on_hold"])
    trust_stated_priority: bool = False
    trust_importance: bool = False
    categories: list[str] = Field(default_factory=lambda: [
        "incident", "service_request", "change", "server_management", "maintenance"])
    priorities: list[str] = Field(default_factory=lambda: ["low", "normal", "high", "urgent"])
    default_priority: str = "normal"
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    levels: dict[str, SlaLevel] = Field(default_factory=lambda: {"standard": SlaLevel()})
    rules: list[Rule] = Field(default_factory=list)
    fields: list[FieldPattern] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> SlaSection:
        problems = []
        if self.default_level not in self.levels:
            problems.append(
                f"default_level {self.default_level!r} is not one of the levels "
                f"({', '.join(sorted(self.levels)) or 'none defined'})"
            )
        for name, level in self.levels.items():
            if level.calendar != "24x7" and level.calendar not in self.calendars:
                problems.append(f"levels.{name}.calendar: unknown calendar {level.calendar!r}")
        if self.default_priority not in self.priorities:
            problems.append(f"default_priority {self.default_priority!r} not in priorities")
        for i, rule in enumerate(self.rules):
            if rule.level is not None and rule.level not in self.levels:
                problems.append(f"rules.{i}.level: unknown level {rule.level!r}")
            if rule.category is not None and rule.category not in self.categories:
                problems.append(f"rules.{i}.category: {rule.category!r} not in categories")
            if rule.priority is not None and rule.priority not in self.priorities:
                problems.append(f"rules.{i}.priority: {rule.priority!r} not in priorities")
        for status in self.pause_statuses:
            if status not in STATUSES or status == "closed":
                problems.append(f"pause_statuses: {status!r} is not a pausable status")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def calendar(self, name: str) -> BizCalendar:
        """The built calendar of a level (cached per config object)."""
        built = self.__dict__.setdefault("_built", {})
        if name not in built:
            built[name] = (BizCalendar.always_open() if name == "24x7" and name not in
                           self.calendars else self.calendars[name].build(name))
        return built[name]


Role = Literal["requester", "participant", "engineer", "stranger"]


class AlertRule(Section):
    """Mail from a monitoring system: one open ticket per correlation key, not one per alert."""

    name: str
    from_addresses: list[str] = Field(default_factory=list)
    subject_pattern: str | None = None
    key_pattern: str
    recovered_pattern: str = r"(?i)\b(recovery|recovered|resolved|ok)\b"

    @model_validator(mode="after")
    def _valid(self) -> AlertRule:
        if not self.from_addresses and not self.subject_pattern:
            raise ValueError("give from_addresses or subject_pattern (or both)")
        for key, value in (("subject_pattern", self.subject_pattern),
                           ("key_pattern", self.key_pattern),
                           ("recovered_pattern", self.recovered_pattern)):
            if value is None:
                continue
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"{key}: not a valid regular expression: {exc}") from None
            if key == "key_pattern" and compiled.groups < 1:
                raise ValueError("key_pattern needs one (group) holding the key")
        return self


class ConversationSection(Section):
    """How replies, reopens, duplicates and strangers are treated (the seeds' rules)."""

    reopen_window: Duration = timedelta(days=30)
    on_reply: dict[str, dict[Role, Literal["reopen", "keep", "new"]]] = Field(
        default_factory=lambda: {
            "closed": {"requester": "reopen", "participant": "reopen", "engineer": "keep",
                       "stranger": "new"},
            "awaiting_reply": {"requester": "reopen", "participant": "reopen"},
        })
    notify_on_thanks: bool = False
    stranger_policy: Literal["new_linked", "quarantine", "accept"] = "new_linked"
    duplicate_scope: Literal["sender", "domain", "off"] = "sender"
    duplicate_window: Duration = timedelta(days=3)
    duplicate_similarity: float = Field(default=0.85, gt=0, le=1)
    merge_into: Literal["existing", "newest"] = "existing"
    auto_reply_cap: int = Field(default=20, ge=0)
    auto_reply_cap_window: Duration = timedelta(hours=1)
    alerts: list[AlertRule] = Field(default_factory=list)

    @field_validator("on_reply")
    @classmethod
    def _statuses(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = sorted(set(value) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown status(es) {unknown}; one of {', '.join(STATUSES)}")
        return value

    def reply_action(self, status: str, role: str) -> str:
        """What a reply by ``role`` does to a ticket in ``status`` (default: keep)."""
        return self.on_reply.get(status, {}).get(role, "keep")  # type: ignore[call-overload]


class SecuritySection(Section):
    """Spam and authentication policy, command authorisation, per-ticket reply tokens."""

    spam_headers: list[str] = Field(
        default_factory=lambda: ["X-Spam-Flag: YES", "X-Spam-Status: Yes"])
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    require_auth: list[Literal["spf", "dkim", "dmarc"]] = Field(default_factory=list)
    commands_require: Literal["engineer", "auth", "token", "auth_or_token"] = "engineer"
    reply_tokens: bool = False
    token_secret_env: str | None = None
    token_secret_file: str | None = None

    @field_validator("spam_headers")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if ":" not in rule or not rule.partition(":")[0].strip():
                raise ValueError(f"{rule!r}: write 'Header-Name: value prefix'")
        return value

    @model_validator(mode="after")
    def _secret(self) -> SecuritySection:
        if (self.reply_tokens or self.commands_require in ("token", "auth_or_token")) and not (
                self.token_secret_env or self.token_secret_file):
            raise ValueError("reply tokens need token_secret_env or token_secret_file")
        if self.commands_require in ("token", "auth_or_token") and not self.reply_tokens:
            raise ValueError("commands_require with tokens needs reply_tokens = true")
        if (self.require_auth or self.commands_require in ("auth", "auth_or_token")) and \
                not self.trusted_authserv_ids:
            raise ValueError("authentication rules need trusted_authserv_ids")
        return self


class TeamSection(Section):
    """The engineers: who may answer and command by mail, and where notifications go."""

    address: Address | None = None
    engineers: dict[str, Address] = Field(default_factory=dict)
    domains: list[str] = Field(default_factory=list)
    reveal_engineer_address: bool = False

    @field_validator("domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [d.lower().lstrip("@") for d in value]

    def engineer_address(self, who: str) -> str | None:
        """An engineer's address from a short name or an address; None if not an engineer."""
        who = who.strip().lower()
        if who in self.engineers:
            return self.engineers[who]
        return who if self.is_engineer(who) else None

    def is_engineer(self, address: str) -> bool:
        address = address.lower()
        if address in self.engineers.values():
            return True
        return address.rpartition("@")[2] in self.domains


class TemplatesSection(Section):
    directory: str = "templates"
    language: str = "en"


class ProcessingSection(Section):
    """The spool processor: how much it takes per transaction and how it treats crashes."""

    batch_size: int = Field(default=32, ge=1, le=1000)
    # Processor processes beside the daemon's (mailgate/workers.py), and then the sender in
    # one more; 0: a thread (and a task) of the daemon itself (one core for everything;
    # what tests that freeze the clock need).
    processes: int = Field(default=1, ge=0, le=16)
    max_attempts: int = Field(default=3, ge=1, le=100)
    lease: Duration = timedelta(minutes=2)
    poll_interval: Duration = timedelta(seconds=1)
    reminder_sweep: Duration = timedelta(seconds=60)


class LoggingSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class HttpSection(Section):
    """The optional HTTP endpoint: /healthz for load balancers, /metrics for Prometheus."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8026, ge=0, le=65535)


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

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's directory."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

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
