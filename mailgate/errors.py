"""Exceptions shared by every layer.

Faults are nouns ending in ``Error``; the split that matters for mail is
transient (the sender must retry: SMTP 451, exit 75) versus permanent.
"""


class MailgateError(Exception):
    """Base class of every error mailgate raises on purpose."""


class ConfigError(MailgateError):
    """The configuration file or a template is invalid; the message names the key and the file."""


class TransientError(MailgateError):
    """A failure that may go away by itself (database locked, disk full, smarthost down).

    Intake answers it with a temporary error so the sender retries.
    """


class StoreError(TransientError):
    """The store could not commit; nothing was written."""


class SchemaError(MailgateError):
    """The database schema is newer than this code knows: upgrade mailgate on this node."""


class NotFoundError(MailgateError):
    """A ticket, message or row asked for by the user does not exist."""


class PermanentDeliveryError(MailgateError):
    """The smarthost refused an outgoing message for good (5xx)."""
