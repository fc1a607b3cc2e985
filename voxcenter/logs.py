"""Structured logging: JSON lines in production, readable on a terminal.

Every line about a call carries its ``call_id``: the call's task binds it with
``structlog.contextvars.bound_contextvars(call_id=...)`` and the processor below
merges it into each event logged from that task. Code that acts for several
calls (the ACD, the SIP endpoint's timer) runs each piece of work in a context
of its own (``contextvars.Context().run``), so no line inherits the id of the
call whose task happened to trigger it. Lines of the standard library's
loggers (Alembic's migrations, asyncio) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

DEBUG = False
"""Whether debug lines are written at all (set by :func:`configure_logging`). Hot paths (a SIP transaction's
every state change) test it before building a debug line: even a filtered-out structlog call costs a proxy
lookup and its keyword arguments."""


class _Stderr:
    """Writes to whatever ``sys.stderr`` is when a line is logged, not when logging was configured
    (a test runner or a daemon wrapper may replace the stream later)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Configure structlog and the standard library logging once, at start."""
    global DEBUG
    if json is None:
        json = not sys.stderr.isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    DEBUG = numeric <= logging.DEBUG
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The processor list is changed in place: loggers cached on first use hold the list itself, so a second
    # configuration (a command run in-process by a test, structlog.testing.capture_logs) reaches them too.
    processors: list[structlog.types.Processor] = structlog.get_config()["processors"]
    processors[:] = [
        *shared,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(cast(TextIO, _Stderr())),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(cast(TextIO, _Stderr()))
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.processors.format_exc_info],
    ))
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
