"""Shared test set-up: quiet, structured logs (warnings and up) so failures are readable."""

from __future__ import annotations

from voxcenter.logs import configure_logging

configure_logging("warning", json=False)
