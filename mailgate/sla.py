"""Classification and SLA deadlines: which level, category, priority and fields a ticket gets.

Rules are tried in order and the first whose every given condition matches
wins (sender address or domain, recipient address, keywords, the priority the
customer states, the ``Importance``/``X-Priority`` header). What the rule does
not set falls back to the mailbox's defaults, then to the config's defaults.
A priority the customer states ("Priority: high", "Приоритет: высокий") or
the ``Importance`` header sets the ticket's priority only when the admin
trusts it (``sla.trust_stated_priority``, ``sla.trust_importance``).

Deadlines are working time in the level's calendar (``mailgate.bizcal``):
``due(...)`` is the one function that turns a start instant and a target into
an instant, so every caller agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailgate import bizcal
from mailgate.config import Config, Rule, SlaLevel, Target
from mailgate.message import Inbound, header

# Searched in the text after a "\n" (see stated_priority): a line start written as "\n", not
# as "(?m)^", is a literal the regex engine skips to, instead of trying every character.
_STATED = re.compile(
    r"(?i)\n[ \t>*]{0,4}(?:priority|severity|urgency|prioritet|allvarlighetsgrad|приоритет"
    r"|срочность|важность|prioriteit|urgentie|priorität|dringlichkeit|priorité|prioridad"
    r")[ \t]{0,4}[:=][ \t]{0,4}([^\W\d_]{2,20}|\d)"
)
# What customers write, mapped to the default priority names (low, normal, high, urgent).
SYNONYMS = {
    "critical": "urgent", "urgent": "urgent", "blocker": "urgent", "kritisk": "urgent",
    "akut": "urgent", "kritiek": "urgent", "spoed": "urgent", "критический": "urgent",
    "критичный": "urgent", "срочный": "urgent", "срочно": "urgent", "dringend": "urgent",
    "kritisch": "urgent", "critique": "urgent", "urgente": "urgent", "crítica": "urgent",
    "1": "urgent", "high": "high", "hög": "high", "hoog": "high", "высокий": "high",
    "hoch": "high", "haute": "high", "élevée": "high", "alta": "high", "2": "high",
    "major": "high", "normal": "normal", "medium": "normal", "normaal": "normal",
    "средний": "normal", "обычный": "normal", "mittel": "normal", "normale": "normal",
    "media": "normal", "3": "normal", "low": "low", "låg": "low", "laag": "low",
    "низкий": "low", "niedrig": "low", "basse": "low", "baja": "low", "minor": "low",
    "4": "low",
}
MAX_SCAN = 20_000


@dataclass(frozen=True)
class Classification:
    """What the rules decided for a new ticket, with the reasons shown in its events."""

    level: str
    category: str | None
    priority: str
    queue: str | None
    fields: dict[str, str] = field(default_factory=dict)
    rule: str | None = None
    reasons: tuple[str, ...] = ()


def stated_priority(inbound: Inbound, config: Config) -> str | None:
    """The priority the customer wrote in the subject or body, mapped to a configured one."""
    for text in (inbound.subject, inbound.text[:MAX_SCAN]):
        match = _STATED.search("\n" + text)
        if match:
            word = match[1].casefold()
            value = word if word in config.sla.priorities else SYNONYMS.get(word)
            if value in config.sla.priorities:
                return value
    return None


def importance(inbound: Inbound) -> str | None:
    """``high``/``low`` from ``Importance``, ``X-Priority`` or ``Priority`` headers."""
    value = header(inbound.msg, "Importance").strip().lower()
    if value in ("high", "low", "normal"):
        return value
    x_priority = header(inbound.msg, "X-Priority").strip()[:1]
    if x_priority in ("1", "2"):
        return "high"
    if x_priority in ("4", "5"):
        return "low"
    value = header(inbound.msg, "Priority").strip().lower()
    return {"urgent": "high", "non-urgent": "low", "normal": "normal"}.get(value)


def address_matches(patterns: list[str], addresses: list[str]) -> str | None:
    for pattern in patterns:
        pattern = pattern.lower()
        for address in addresses:
            domain = address.rpartition("@")[2]
            if "@" in pattern.lstrip("@"):
                if address == pattern:
                    return address
            else:
                bare = pattern.lstrip("@")
                if domain == bare or domain.endswith("." + bare):
                    return address
    return None


def _keyword(keywords: list[str], text: str) -> str | None:
    for keyword in keywords:
        if re.search(r"(?<!\w)" + re.escape(keyword) + r"(?!\w)", text, re.IGNORECASE):
            return keyword
    return None


def classify(config: Config, inbound: Inbound, rcpt_tos: list[str] | None = None, *,
             default_level: str | None = None, default_queue: str | None = None,
             ) -> Classification:
    """Apply the rules to a new ticket's first message."""
    sla = config.sla
    text = f"{inbound.subject}\n{inbound.text[:MAX_SCAN]}"
    recipients = [a for _, a in [*inbound.to, *inbound.cc]] + [r.lower() for r in rcpt_tos or []]
    stated = stated_priority(inbound, config)
    header_importance = importance(inbound)
    chosen = None
    reasons: list[str] = []
    for rule in sla.rules:
        why = _rule_matches(rule, inbound, recipients, text, stated, header_importance)
        if why is None:
            continue
        chosen = rule
        reasons.append(f"rule {rule.name!r} matched: {', '.join(why) or 'always'}")
        break
    level = (chosen and chosen.level) or default_level or sla.default_level
    if not (chosen and chosen.level):
        reasons.append(f"level {level}: {'mailbox default' if default_level else 'default'}")
    if chosen and chosen.priority:
        priority = chosen.priority
    elif stated and sla.trust_stated_priority:
        priority = stated
        reasons.append(f"priority {stated} as stated by the customer")
    elif header_importance in sla.priorities and sla.trust_importance:
        priority = header_importance
        reasons.append(f"priority {header_importance} from the Importance header")
    else:
        priority = sla.default_priority
    return Classification(
        level=level,
        category=chosen.category if chosen else None,
        priority=priority,
        queue=(chosen and chosen.queue) or default_queue,
        fields=extract_fields(config, inbound),
        rule=chosen.name if chosen else None,
        reasons=tuple(reasons),
    )


def _rule_matches(rule: Rule, inbound: Inbound, recipients: list[str], text: str,
                  stated: str | None, header_importance: str | None) -> list[str] | None:
    """Why ``rule`` matches (every condition it sets must hold), or None when it does not."""
    why = []
    if rule.from_addresses:
        hit = address_matches(rule.from_addresses, [inbound.from_addr])
        if not hit:
            return None
        why.append(f"sender {hit}")
    if rule.to_addresses:
        hit = address_matches(rule.to_addresses, recipients)
        if not hit:
            return None
        why.append(f"sent to {hit}")
    if rule.keywords:
        hit = _keyword(rule.keywords, text)
        if not hit:
            return None
        why.append(f"keyword {hit!r}")
    if rule.stated_priority:
        if stated not in rule.stated_priority:
            return None
        why.append(f"stated priority {stated}")
    if rule.importance:
        if header_importance not in rule.importance:
            return None
        why.append(f"importance {header_importance}")
    return why


def extract_fields(config: Config, inbound: Inbound) -> dict[str, str]:
    """Custom fields from the configured patterns (first match, first group)."""
    found: dict[str, str] = {}
    for spec in config.sla.fields:
        sources = {"subject": [inbound.subject], "body": [inbound.text[:MAX_SCAN]],
                   "both": [inbound.subject, inbound.text[:MAX_SCAN]]}[spec.where]
        for text in sources:
            match = re.search(spec.pattern, text)
            if match and match.group(1):
                found[spec.name] = match.group(1).strip()[:200]
                break
    return found


def level_of(config: Config, name: str) -> SlaLevel:
    return config.sla.levels.get(name) or config.sla.levels[config.sla.default_level]


def due(config: Config, level: str, target: Target, start: datetime,
        paused: timedelta = timedelta(0)) -> datetime:
    """When ``target`` of working time counted from ``start`` ends, plus paused working time."""
    calendar = config.sla.calendar(level_of(config, level).calendar)
    if target.unit == "wd":
        end = bizcal.add_business_days(calendar, start, int(target.amount))
    else:
        minutes = target.amount * (60 if target.unit == "h" else 1)
        end = bizcal.add_business_time(calendar, start, timedelta(minutes=minutes))
    if paused > timedelta(0):
        end = bizcal.add_business_time(calendar, end, paused)
    return end


def first_response_due(config: Config, level: str, opened_at: datetime) -> datetime:
    """When the first public reply is due for a ticket of ``level`` opened at ``opened_at``."""
    return due(config, level, level_of(config, level).first_response, opened_at)


def working_time_between(config: Config, level: str, a: datetime, b: datetime) -> timedelta:
    calendar = config.sla.calendar(level_of(config, level).calendar)
    return bizcal.business_time_between(calendar, a, b)


def local(config: Config, level: str, instant: datetime | None) -> datetime | None:
    """``instant`` in the time zone of the level's calendar (the customer's terms)."""
    if instant is None:
        return None
    return instant.astimezone(config.sla.calendar(level_of(config, level).calendar).tz)
