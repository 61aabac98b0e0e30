"""Load and validate the TOML configuration.

The schema is a tree of frozen pydantic models with ``extra="forbid"``, so an
unknown key, a wrong type or a bad value is reported with its dotted key path
and the file it came from, all problems at once. Every key has a default:
``mailgate serve`` with no file runs the embedded default (SQLite and an
outbox folder under ``./var``, SMTP on 127.0.0.1:8025).

Relative paths are resolved against the directory of the config file (the
current directory when there is no file), so a config is portable with its
folder.

The package is split by concern; every name is re-exported here, so callers
keep importing from ``mailgate.config``:

* ``fields``: value types (durations, addresses, SLA targets), ``STATUSES``, ``Section``
* ``sections``: gateway, SMTP, store, outbound, IMAP, processing, logging, HTTP
* ``service_levels``: calendars, SLA levels, assignment rules, custom fields
* ``policy``: conversation rules, alert mail, security, team
* ``model``: the root ``Config``
* ``loading``: ``load_config`` and its error messages
"""

from __future__ import annotations

from mailgate.config.fields import (
    STATUSES,
    Address,
    Duration,
    Section,
    Target,
    TargetField,
    parse_duration,
)
from mailgate.config.loading import config_from_text, load_config
from mailgate.config.model import Config
from mailgate.config.policy import (
    AlertRule,
    ConversationSection,
    Role,
    SecuritySection,
    TeamSection,
)
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
from mailgate.config.service_levels import CalendarSpec, FieldPattern, Rule, SlaLevel, SlaSection
from mailgate.errors import ConfigError

__all__ = [
    "STATUSES",
    "Address",
    "AlertRule",
    "CalendarSpec",
    "Config",
    "ConfigError",
    "ConversationSection",
    "Duration",
    "FieldPattern",
    "GatewaySection",
    "HttpSection",
    "ImapAccount",
    "LoggingSection",
    "OutboundSection",
    "ProcessingSection",
    "Role",
    "Rule",
    "Section",
    "SecuritySection",
    "SlaLevel",
    "SlaSection",
    "SmtpSection",
    "StoreSection",
    "Target",
    "TargetField",
    "TeamSection",
    "TemplatesSection",
    "config_from_text",
    "load_config",
    "parse_duration",
]
