"""Alert floods: correlate monitoring mail by a key instead of a ticket per alert.

A monitoring system that mails every state change would open hundreds of
tickets during one outage. A configured alert rule recognises its mail (by
sender and/or subject), takes a correlation key from it (``key_pattern``,
first group, searched in the subject then the body; e.g. the host name), and
all alerts of that key join the one open ticket of that key. A recovery
("RECOVERY", "OK", ...) is recorded on it as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgate.config import AlertRule, Config
from mailgate.message import Inbound
from mailgate.sla import address_matches


@dataclass(frozen=True)
class Alert:
    rule: str
    key: str
    recovered: bool

    @property
    def correlation_key(self) -> str:
        return f"{self.rule}:{self.key}"


def _matches(rule: AlertRule, inbound: Inbound) -> bool:
    if rule.from_addresses and not address_matches(rule.from_addresses, [inbound.from_addr]):
        return False
    return not (rule.subject_pattern and not re.search(rule.subject_pattern, inbound.subject))


def recognise(config: Config, inbound: Inbound) -> Alert | None:
    """The alert this mail is, or None if no alert rule matches it."""
    for rule in config.conversation.alerts:
        if not _matches(rule, inbound):
            continue
        for text in (inbound.subject, inbound.text[:20_000]):
            match = re.search(rule.key_pattern, text)
            if match and match.group(1):
                recovered = bool(re.search(rule.recovered_pattern, inbound.subject))
                return Alert(rule.name, match.group(1).strip().lower()[:200], recovered)
    return None
