"""The daemon behind ``mailgate serve``, one module per responsibility.

``root`` assembles the components (the ``Daemon``); ``reload`` switches config on
SIGHUP, ``schedule`` runs the SLA reminder jobs, ``http`` serves /healthz and
/metrics, ``pidfile`` lets ``mailgate reload`` find the daemon, and ``fetchers``
runs IMAP intake. Callers import the names below from here.
"""

from mailgate.daemon.fetchers import StoreCursors
from mailgate.daemon.reload import ReloadResult, restart_needed
from mailgate.daemon.root import Daemon, describe_database

__all__ = ["Daemon", "ReloadResult", "StoreCursors", "describe_database", "restart_needed"]
