"""The SLA section: working-time calendars, service levels, assignment rules, fields.

Kept apart from the other policy sections because it is the one that reaches
into ``bizcal``: a calendar is built (and so checked) while the file is validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mailgate.bizcal import WEEKDAYS
from mailgate.bizcal import Calendar as BizCalendar
from mailgate.config.fields import (
    STATUSES,
    Address,
    Duration,
    Section,
    Target,
    TargetField,
    with_raw_problems,
)

Notify = Literal["team", "escalation", "assignee"]


def _all_day() -> dict[str, list[str] | str]:
    return {d: ["00:00-24:00"] for d in WEEKDAYS}


def _notify_team() -> list[Notify]:
    return ["team"]


class CalendarSpec(Section):
    """Working time of a desk: zone, weekly hours, holidays, exceptions (see bizcal)."""

    timezone: str = "UTC"
    hours: dict[str, list[str] | str] = Field(default_factory=_all_day)
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


class SlaLevel(Section):
    """One service level: targets in the working time of its calendar, and its reminders."""

    calendar: str = "24x7"
    first_response: TargetField = Target(8, "h")
    resolution: TargetField | None = None
    reminders: list[float] = Field(default_factory=lambda: [0.75, 1.0])
    repeat_after_breach: Duration | None = None
    notify: list[Notify] = Field(default_factory=_notify_team)
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
    # Mail from a mailing list opens no SLA clock unless the rule that matched it says so.
    mailing_lists: bool = False


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

    @field_validator("calendars")
    @classmethod
    def _build_calendars(cls, value: dict[str, CalendarSpec]) -> dict[str, CalendarSpec]:
        """Build each calendar (which checks it) under its table name, so a mistake is
        reported as ``sla.calendars.office: calendar 'office': ...``."""
        errors = []
        for name, spec in value.items():
            try:
                spec.build(name)
            except ValueError as exc:
                errors.append(InitErrorDetails(
                    type=PydanticCustomError("calendar", "{error}", {"error": str(exc)}),
                    loc=(name,), input=spec.model_dump()))
        if errors:
            raise ValidationError.from_exception_data("calendars", errors)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _all_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[SlaSection],
                     ) -> SlaSection:
        """An unknown level (a rule's, the default's) is reported together with a field
        error elsewhere in the section (read from the raw tables), not in the next run."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise with_raw_problems(exc, _raw_references(data), data) from None

    @model_validator(mode="after")
    def _references(self) -> SlaSection:
        problems = []
        if self.default_level not in self.levels:
            problems.append(_unknown_default(self.default_level, self.levels))
        for name, level in self.levels.items():
            if level.calendar != "24x7" and level.calendar not in self.calendars:
                problems.append(f"levels.{name}.calendar: unknown calendar {level.calendar!r}")
        if self.default_priority not in self.priorities:
            problems.append(f"default_priority {self.default_priority!r} not in priorities")
        for i, rule in enumerate(self.rules):
            where = f"rules.{i} (the [[sla.rules]] named {rule.name!r})"
            if rule.level is not None and rule.level not in self.levels:
                problems.append(_unknown_rule_level(i, rule.name, rule.level, self.levels))
            if rule.category is not None and rule.category not in self.categories:
                problems.append(f"{where}.category: {rule.category!r} not in categories")
            if rule.priority is not None and rule.priority not in self.priorities:
                problems.append(f"{where}.priority: {rule.priority!r} not in priorities")
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


def _unknown_rule_level(index: int, name: object, level: object, levels: Iterable[str]) -> str:
    return (f"rules.{index} (the [[sla.rules]] named {name!r}).level: unknown level "
            f"{level!r} (levels: {', '.join(sorted(levels))})")


def _unknown_default(level: object, levels: Iterable[str]) -> str:
    return (f"default_level {level!r} is not one of the levels "
            f"({', '.join(sorted(levels)) or 'none defined'})")


def _raw_references(data: Any) -> list[str]:
    """Unknown levels (the default's, the rules') and calendars (the levels'), read from
    the section's raw tables."""
    if not isinstance(data, dict):
        return []
    levels = data.get("levels", {"standard": {}})
    rules = data.get("rules", [])
    if not isinstance(levels, dict) or not isinstance(rules, list):
        return []
    default = data.get("default_level", "standard")
    found = [_unknown_default(default, levels)] \
        if isinstance(default, str) and default not in levels else []
    calendars = data.get("calendars", {})
    if isinstance(calendars, dict):
        found += [f"levels.{name}.calendar: unknown calendar {level['calendar']!r}"
                  for name, level in levels.items()
                  if isinstance(level, dict) and isinstance(level.get("calendar"), str)
                  and level["calendar"] != "24x7" and level["calendar"] not in calendars]
    return found + [_unknown_rule_level(i, rule.get("name"), rule["level"], levels)
                    for i, rule in enumerate(rules)
                    if isinstance(rule, dict) and isinstance(rule.get("level"), str)
                    and rule["level"] not in levels]
