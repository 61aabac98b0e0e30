"""Service levels: which level a ticket gets and when its first response is due.

This is the single seam the business-time engine plugs into: callers ask
``assign_level`` and ``first_response_due`` and never do deadline arithmetic
themselves. For now the level is the configured default and the due time is
wall-clock time after the ticket was opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailgate.config import Config
from mailgate.message import Inbound


@dataclass(frozen=True)
class LevelDecision:
    level: str
    reason: str


def assign_level(config: Config, inbound: Inbound) -> LevelDecision:
    """The SLA level for a new ticket opened by ``inbound``."""
    return LevelDecision(config.sla.default_level, "default level")


def first_response_due(config: Config, level: str, opened_at: datetime) -> datetime:
    """When the first public reply is due for a ticket of ``level`` opened at ``opened_at``."""
    return opened_at + config.sla.levels[level].first_response
