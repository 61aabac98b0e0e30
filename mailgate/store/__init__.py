"""The store layer: all SQL lives here; the rest of mailgate calls these functions."""

from mailgate.store.rows import OutboxItem, SpoolItem, Ticket
from mailgate.store.sqlite import DuplicateMessageError, Store

__all__ = ["DuplicateMessageError", "OutboxItem", "SpoolItem", "Store", "Ticket"]
