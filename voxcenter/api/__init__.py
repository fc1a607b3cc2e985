"""voxcenter.api: the admin HTTP API, the live wallboard (websocket) and Prometheus metrics.

``create_app(control, settings)`` builds the aiohttp application over a ``ControlPlane`` (the
running server); ``start_api`` serves it. Pure helpers: ``AgentLedger`` (per-agent figures from
router decisions) and the JSON views.
"""

from voxcenter.api.app import ApiSettings, StructuredAccessLogger, create_app, is_loopback, start_api
from voxcenter.api.control import (
    AGENT_COMMANDS,
    AgentLedger,
    AgentSnapshot,
    CallSnapshot,
    ControlPlane,
    apply_agent_command,
)
from voxcenter.api.metrics import RouterCollector, metrics_registry
from voxcenter.api.wallboard import WallboardHub

__all__ = [
    "AGENT_COMMANDS",
    "AgentLedger",
    "AgentSnapshot",
    "ApiSettings",
    "CallSnapshot",
    "ControlPlane",
    "RouterCollector",
    "StructuredAccessLogger",
    "WallboardHub",
    "apply_agent_command",
    "create_app",
    "is_loopback",
    "metrics_registry",
    "start_api",
]
