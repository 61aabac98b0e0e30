"""The ticket statuses, in their workflow order.

A plain tuple in a module of its own, so that a read command can check
``--status`` without importing the config models (``mailgate.config`` re-exports it).
"""

STATUSES = (
    "open", "in_progress", "awaiting_reply", "on_hold", "planned", "acceptance",
    "waiting_for_deploy", "closed",
)
