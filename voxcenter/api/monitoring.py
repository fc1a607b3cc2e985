"""``/api/supervisors/{supervisor}``: whom a supervisor may monitor, and monitoring started or switched.

``GET`` answers the queues, agents and live calls the supervisor may monitor (the dial plan's
``queues.<name>.supervisors`` groups; an agent's call in no queue, ``"queue": null``, by the supervisors
of a queue the agent serves) and their session in progress. ``POST .../monitor`` with
``{"agent", "mode"}`` rings the supervisor's phone, which listens, whispers or barges once answered
(202); ``POST .../mode`` with ``{"mode"}`` switches a session's mode. A supervisor outside the queue's
groups gets 403, an agent on no call 404, a phone not registered or already monitoring 409.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

MODES = ("listen", "whisper", "barge")
STATUS = {480: 409, 486: 409}
"""SIP refusals of a session → the HTTP status (the others are the same number)."""


class MonitoringPlane(Protocol):
    """Supervisor monitoring as the API sees it (:class:`voxcenter.runtime.supervise.Supervision`)."""

    def overview(self, supervisor: str) -> dict[str, object] | None:
        """Whom ``supervisor`` may monitor; None: no such agent."""

    def api_monitor(self, supervisor: str, agent: str, mode: str) -> tuple[int, dict[str, object]]:
        """Start a session (the supervisor's phone rings): (status, session or the refusal)."""

    def api_mode(self, supervisor: str, mode: str) -> tuple[int, dict[str, object]]:
        """Switch the session's mode: (status, session or the refusal)."""


MONITORING = web.AppKey("monitoring", MonitoringPlane)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _mode(request: web.Request) -> tuple[dict[str, Any], str]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the request body must be a JSON object")
    mode = body.get("mode", "listen")
    if mode not in MODES:
        raise web.HTTPBadRequest(text=f"'mode' must be one of {list(MODES)}")
    return body, str(mode)


async def supervisor_overview(request: web.Request) -> web.Response:
    """GET /api/supervisors/{supervisor}: the queues, agents and calls they may monitor, their session."""
    supervisor = request.match_info["supervisor"]
    view = request.app[MONITORING].overview(supervisor)
    if view is None:
        return _error(404, f"no agent {supervisor!r}")
    return web.json_response(view)


async def start_monitoring(request: web.Request) -> web.Response:
    """POST /api/supervisors/{supervisor}/monitor ``{"agent", "mode"}``: ring the supervisor's phone."""
    body, mode = await _mode(request)
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent:
        return _error(400, "'agent' must name the extension of the agent to monitor")
    status, view = request.app[MONITORING].api_monitor(request.match_info["supervisor"], agent, mode)
    if status >= 300:
        return _error(STATUS.get(status, status), str(view.get("error", "refused")))
    return web.json_response(view, status=202)


async def switch_mode(request: web.Request) -> web.Response:
    """POST /api/supervisors/{supervisor}/mode ``{"mode"}``: listen, whisper or barge from now on."""
    _, mode = await _mode(request)
    status, view = request.app[MONITORING].api_mode(request.match_info["supervisor"], mode)
    if status >= 300:
        return _error(STATUS.get(status, status), str(view.get("error", "refused")))
    return web.json_response(view)


def add_monitoring_routes(app: web.Application, plane: MonitoringPlane) -> None:
    app[MONITORING] = plane
    app.router.add_get("/api/supervisors/{supervisor}", supervisor_overview)
    app.router.add_post("/api/supervisors/{supervisor}/monitor", start_monitoring)
    app.router.add_post("/api/supervisors/{supervisor}/mode", switch_mode)
