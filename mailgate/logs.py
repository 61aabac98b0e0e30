"""structlog setup: one JSON line per event off a TTY, readable console lines on one.

Per-message context (spool id, Message-ID, ticket) is bound with contextvars
by the processor, so every line about a message carries them.
"""

from __future__ import annotations

import logging
import sys

import structlog

from mailgate.config import LoggingSection


def configure_logging(settings: LoggingSection, stream: object = None) -> None:
    """Configure structlog (and the stdlib loggers of our libraries) once per process."""
    stream = stream or sys.stderr
    fmt = settings.format
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: structlog.types.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    level = getattr(logging, settings.level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if fmt == "json"
            else structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # aiosmtpd and aiosmtplib log through the stdlib; keep their warnings only.
    logging.basicConfig(level=logging.WARNING, stream=stream)  # type: ignore[arg-type]
    logging.getLogger("mail.log").setLevel(logging.WARNING)
