"""Value types shared by the config sections: durations, addresses, SLA targets.

Each is a plain parser wrapped as a pydantic ``BeforeValidator``, so TOML can
write ``"8h"`` or ``"support@example.com"`` and the models hold ``timedelta``,
lower-cased addresses and ``Target`` values; a bad value is a ``ValueError``
that the loader reports with its key and file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from mailgate.statuses import STATUSES as STATUSES  # re-exported (mailgate.config too)

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


def _optional_duration(value: Any) -> timedelta | None:
    """A duration, or ``"off"`` (or nothing) for none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("off", "")):
        return None
    return parse_duration(value)


OptionalDuration = Annotated[timedelta | None, BeforeValidator(_optional_duration)]
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _address(value: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value.lower()


Address = Annotated[str, BeforeValidator(_address)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors (typos) and a loaded config is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def with_raw_problems(exc: ValidationError, problems: list[str], data: Any) -> ValidationError:
    """``exc`` plus the cross-reference ``problems`` found in a section's raw ``data``
    (those its own messages do not already say): a field error stops pydantic before
    the section's cross-checks run, and an admin should get every mistake in one run."""
    said = " ".join(str(e["msg"]) for e in exc.errors())
    new = [p for p in problems if p not in said]
    if not new:
        return exc
    errors: list[Any] = [e if e["type"] in _KNOWN_ERRORS else InitErrorDetails(
        type=PydanticCustomError(e["type"], "{error}", {"error": e["msg"]}),
        loc=e["loc"], input=e["input"]) for e in exc.errors()]  # ours, from a section
    errors += [InitErrorDetails(type=PydanticCustomError("reference", "{error}", {"error": p}),
                                loc=(), input=data) for p in new]
    return ValidationError.from_exception_data(exc.title, errors)


_KNOWN_ERRORS = frozenset(get_args(core_schema.ErrorType))  # pydantic-core's own types


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
        return self.said(working=True)

    def said(self, working: bool) -> str:
        """"8 working hours", or on a round-the-clock calendar "8 hours"."""
        words = {"m": "minutes", "h": "hours", "wd": "days"}
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {'working ' if working else ''}{words[self.unit]}"


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
