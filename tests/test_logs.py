"""Logging set-up: a second configuration reaches loggers that were already used."""

from __future__ import annotations

import structlog

from voxcenter.logs import configure_logging


def test_a_logger_used_before_a_second_configuration_is_still_captured() -> None:
    logger = structlog.get_logger("test.logs")
    logger.warning("before")  # cached on first use, with the processors of the configuration then
    configure_logging("warning", json=False)  # what an in-process `voxcenter` command does
    with structlog.testing.capture_logs() as lines:
        logger.warning("after")
    assert [line["event"] for line in lines] == ["after"]
