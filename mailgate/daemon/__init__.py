"""The daemon: ``mailgate serve``. Split by responsibility; import from here."""

from mailgate.daemon.root import Daemon, StoreCursors, describe_database

__all__ = ["Daemon", "StoreCursors", "describe_database"]
