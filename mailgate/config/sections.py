"""The operational sections: identity, listeners, store, outbound mail, IMAP, runtime.

What a node needs to receive, keep and send mail; the ticket-handling policy
(SLA, conversation, security, team) is in ``service_levels`` and ``policy``.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from mailgate.config.fields import (
    Address,
    Duration,
    OptionalDuration,
    Section,
    with_raw_problems,
)


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
    # our name in the listener's greeting and in EHLO to the smarthost; "": the FQDN
    hostname: str = ""
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024)
    timeout: Duration = timedelta(minutes=5)

    def host_name(self) -> str:
        """``hostname``, else this machine's fully-qualified name (looked up once: with a
        slow resolver ``getfqdn`` takes seconds, not to be paid per connection)."""
        return self.hostname or _fqdn()


@functools.cache
def _fqdn() -> str:
    import socket

    return socket.getfqdn()


class StoreSection(Section):
    """Where tickets, messages, the spool and the outbox live.

    ``sqlite:///PATH`` (the embedded default, one host) or ``postgresql://USER@HOST/DB``
    (several nodes sharing one database); the PostgreSQL password comes from
    ``password_env`` or ``password_file`` (or libpq's own PGPASSWORD / ~/.pgpass), never
    from the URL. ``state_dir`` holds this node's pid and reload-status files (default: the
    SQLite database's folder, or ``var`` next to the config file with PostgreSQL).
    ``keep_raw_for`` (default off: kept for good) is how long the raw mail and the
    attachments of a closed ticket are kept after it was closed (``mailgate.privacy``).
    """

    url: str = "sqlite:///var/mailgate.db"
    busy_timeout: Duration = timedelta(seconds=5)
    password_env: str | None = None
    password_file: str | None = None
    state_dir: str | None = None
    keep_raw_for: OptionalDuration = None

    @field_validator("keep_raw_for")
    @classmethod
    def _keep_raw_for(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError('must be a positive duration such as "180d", or "off"')
        return value

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


BLOCKED_EXTENSIONS = (
    "exe", "com", "scr", "pif", "cpl", "msi", "msp", "mst", "dll", "sys", "bat", "cmd", "vb",
    "vbs", "vbe", "js", "jse", "wsf", "wsh", "wsc", "ps1", "psm1", "psd1", "hta", "jar",
    "lnk", "reg", "inf", "scf", "application", "appref-ms", "gadget", "msc", "sh", "bash",
    "csh", "ksh", "command", "app", "apk", "elf", "run", "iso", "img", "vhd", "vhdx",
    "docm", "xlsm", "pptm", "dotm", "xltm", "xlam", "ppam", "sldm")
BLOCKED_TYPES = (
    "application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
    "application/x-executable", "application/x-elf", "application/x-sharedlib",
    "application/vnd.microsoft.portable-executable", "application/x-ms-installer",
    "application/x-msi", "application/x-bat", "application/x-sh", "application/x-csh",
    "application/x-shellscript", "text/x-shellscript", "application/javascript",
    "application/x-javascript", "text/javascript", "text/vbscript", "application/hta",
    "application/java-archive", "application/x-java-archive", "application/x-apple-diskimage",
    "application/vnd.android.package-archive",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12")


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
    # Files passed on with notifications and relays, at most this many bytes per mail (before
    # base64's third more); the rest are listed with name and size (``mailgate attachment``).
    # 7 MiB: with base64 under Postfix's default message_size_limit (10,240,000 bytes).
    max_attachment_bytes: int = Field(default=7 * 1024 * 1024, ge=0)
    # Never passed on (by name extension, case-insensitive, or by content type); still
    # stored and listed. Executables and scripts that run on a click.
    blocked_extensions: list[str] = Field(default_factory=lambda: list(BLOCKED_EXTENSIONS))
    blocked_types: list[str] = Field(default_factory=lambda: list(BLOCKED_TYPES))

    @field_validator("blocked_extensions")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip(".") for v in value if v.strip().strip(".")]

    @field_validator("blocked_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if "/" not in v]
        if bad:
            raise ValueError(f"not a content type (type/subtype): {', '.join(bad)}")
        return [v.strip().lower() for v in value]


class ImapAccount(Section):
    """One mailbox read over IMAP; the password comes from the environment or a file."""

    name: str
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    #: the mailbox's own mail address (default: ``username`` when it is one): mail that
    #: names it in To/Cc was sent to the desk, so it is never a ticket's participant
    address: Address | None = None
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

    @property
    def own_address(self) -> str | None:
        """The mailbox's address: ``address``, else ``username`` when it is an address."""
        if self.address:
            return self.address.lower()
        return self.username.lower() if "@" in self.username else None

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=2) <= value <= timedelta(hours=1):
            raise ValueError("must be between 2 seconds and 1 hour")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _all_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[ImapAccount],
                     ) -> ImapAccount:
        """The credential and plain-text checks are reported together with a field error
        elsewhere in the table (read from the raw table), not in the admin's next run."""
        try:
            return handler(data)
        except ValidationError as exc:
            raw = _credential_problems(
                *(data.get(k) for k in _CREDENTIALS), data.get("security"),
                data.get("host")) if isinstance(data, dict) else []
            raise with_raw_problems(exc, raw, data) from None

    @model_validator(mode="after")
    def _credentials(self) -> ImapAccount:
        problems = _credential_problems(self.password_env, self.password_file,
                                        self.oauth2_token_command, self.oauth2_token_file,
                                        self.security, self.host)
        if problems:
            raise ValueError("; ".join(problems))  # every one at once: fixed in one go
        return self


_CREDENTIALS = ("password_env", "password_file", "oauth2_token_command", "oauth2_token_file")


def _credential_problems(*values: Any) -> list[str]:
    """What is wrong with an IMAP account's credential sources and plain-text setting
    (``values``: the four sources of ``_CREDENTIALS``, then ``security`` and ``host``)."""
    *sources, security, host = values
    problems = []
    if sum(s is not None for s in sources) != 1:
        problems.append("set exactly one of password_env, password_file, "
                        "oauth2_token_command, oauth2_token_file")
    if security == "plain" and host not in ("127.0.0.1", "::1", "localhost"):
        problems.append("security = 'plain' is allowed for loopback hosts only")
    return problems


class TemplatesSection(Section):
    # empty: the templates shipped inside the package (mailgate/defaults/templates)
    directory: str = ""
    language: str = "en"


class ProcessingSection(Section):
    """The spool processor: how much it takes per transaction and how it treats crashes."""

    batch_size: int = Field(default=32, ge=1, le=1000)
    # Processor processes beside the daemon's (mailgate/workers.py), and then the sender in
    # one more; 0: a thread (and a task) of the daemon itself (one core for everything;
    # what tests that freeze the clock need); "auto": one per usable core (``process_count``).
    processes: int | Literal["auto"] = 1
    max_attempts: int = Field(default=3, ge=1, le=100)
    lease: Duration = timedelta(minutes=2)
    poll_interval: Duration = timedelta(seconds=1)
    reminder_sweep: Duration = timedelta(seconds=60)

    @field_validator("processes", mode="before")
    @classmethod
    def _processes(cls, value: object) -> object:
        if value == "auto" or (type(value) is int and 0 <= value <= 16):
            return value
        raise ValueError('must be a number of processes from 0 to 16, or "auto"')

    @property
    def process_count(self) -> int:
        """``processes`` as a number: ``"auto"`` is one per core this process may run on, at
        most ``AUTO_PROCESSES``: the processors after the first run at a lower priority and
        take only what intake leaves (mailgate/workers.py), so a core idle beside the listener
        is used; more than four gain little against one database's write lock."""
        if self.processes != "auto":
            return self.processes
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, AUTO_PROCESSES))


AUTO_PROCESSES = 4


class LoggingSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class HttpSection(Section):
    """The optional HTTP endpoint: /healthz for load balancers, /metrics for Prometheus."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8026, ge=0, le=65535)
