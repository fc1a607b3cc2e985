"""Shared test set-up: quiet, structured logs (warnings and up, or $VOXCENTER_TEST_LOG) so failures are readable."""

from __future__ import annotations

import os

from voxcenter.logs import configure_logging

configure_logging(os.environ.get("VOXCENTER_TEST_LOG", "warning"), json=False)
