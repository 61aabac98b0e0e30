"""How tickets are handled: conversation rules, alert mail, security policy, the team.

The sections that decide what a reply, a stranger or a command does, as opposed
to the operational ones in ``sections`` and the SLA in ``service_levels``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mailgate.config.fields import STATUSES, Address, Duration, Section, parse_duration

Role = Literal["requester", "participant", "engineer", "stranger"]
ReplyAction = Literal["reopen", "keep", "new"]


def _default_on_reply() -> dict[str, dict[Role, ReplyAction]]:
    return {
        "closed": {"requester": "reopen", "participant": "reopen", "engineer": "keep",
                   "stranger": "new"},
        "awaiting_reply": {"requester": "reopen", "participant": "reopen"},
    }


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
    on_reply: dict[str, dict[Role, ReplyAction]] = Field(default_factory=_default_on_reply)
    notify_on_thanks: bool = False
    gratitude_file: str | None = None  # admin lexicon added to mailgate/data/replies.toml
    # the thank-you step's sentence judge (mailgate/replies/model.py): off, only the lists
    # clear a clause (fewer thank-yous kept closed, no reopen ever lost to the judge)
    sentence_judge: bool = True
    # "accept" is unsafe (an opt-in): anyone citing a ticket number writes onto it
    stranger_policy: Literal["new_linked", "quarantine", "accept"] = "new_linked"
    duplicate_scope: Literal["sender", "domain", "off"] = "sender"
    duplicate_window: Duration = timedelta(days=3)
    duplicate_similarity: float = Field(default=0.85, gt=0, le=1)
    merge_into: Literal["existing", "newest"] = "existing"
    # A new mail likely (not surely) about an open ticket's problem gets its own ticket,
    # linked to that one, and its acknowledgement says so; off: such mail is just new.
    link_related: bool = True
    # A colleague's (or the same sender's) problem report this soon after an open ticket of
    # theirs is linked to it even when the words differ (one outage, two reporters).
    related_within: Duration = timedelta(minutes=30)
    colleagues: Literal["organisation", "addressed_only"] = "organisation"
    public_domains: list[str] = Field(default_factory=list)  # added to the shipped list
    auto_reply_cap: int = Field(default=20, ge=0)
    auto_reply_cap_window: Duration = timedelta(hours=1)
    alerts: list[AlertRule] = Field(default_factory=list)
    # Close a ticket left awaiting_reply this long ("7d", "36h"; "5wd": working days of the
    # ticket's SLA calendar); the customer is reminded at half of it. Off by default.
    auto_close_after: str | None = None
    # On close: "off" (nothing to the customer), "notice" (the resolved mail), "rating"
    # (the resolved mail asking for a 1-5 rating).
    resolved_mail: Literal["off", "notice", "rating"] = "off"

    @field_validator("auto_close_after")
    @classmethod
    def _auto_close(cls, value: str | None) -> str | None:
        if value is None or not value.strip() or value.strip() in ("0", "off"):
            return None
        working_days = re.fullmatch(r"\s*[1-9]\d{0,2}\s*wd\s*", value)
        if not working_days and parse_duration(value) <= timedelta(0):  # raises if malformed
            raise ValueError("expected a positive period such as '7d' or '5wd'")
        return value.strip()

    def auto_close_days(self) -> int | None:
        """Working days of ``auto_close_after`` ("5wd"), None for wall-clock time."""
        value = self.auto_close_after
        return int(value[:-2]) if value and value.endswith("wd") else None

    @field_validator("on_reply")
    @classmethod
    def _statuses(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = sorted(set(value) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown status(es) {unknown}; one of {', '.join(STATUSES)}")
        return value

    @field_validator("public_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if "." not in d.strip(". @") or " " in d.strip()]
        if bad:
            raise ValueError(f"not mail domains: {bad} (write e.g. 'example-isp.net')")
        return [d.strip().lower().lstrip("@").rstrip(".") for d in value]

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
    # An engineer's mail acts as theirs only with proof (mailgate.identity); this lab
    # convenience believes the From header instead: UNSAFE, anyone can write it.
    trust_from_header: bool = False
    verify_dkim: bool = True  # mailgate checks an engineer's DKIM signature itself (DNS)
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
