"""The admin HTTP API: an aiohttp application over a ``ControlPlane``.

Secure by default: every endpoint but ``/healthz`` and the (data-free) wallboard page needs
``Authorization: Bearer <token>``, compared in constant time; the wallboard's websocket may
carry the token as a ``token`` query parameter because browsers cannot set headers on
websockets. Without a configured token ``start_api`` binds loopback only and says so.

Each token carries a role (``PERMISSIONS``): ``admin`` may do everything, ``supervisor`` everything
but reloading the dial plan, ``agent`` may read the queues and act on its own agent only (403
otherwise). Without any token every request is served as ``admin`` (loopback only).

Every error is JSON, ``{"error": "..."}``: 400 bad request, 401 no or wrong token, 404 unknown
queue/agent/path, 405 wrong method, 409 an agent transition the router refuses or a reload
already running, 422 a refused dial plan (with ``file:line:column: message`` errors); an
unexpected failure is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.api.callbacks import callback_view, parse_booking
from voxcenter.api.campaigns import CampaignPlane, add_campaign_routes
from voxcenter.api.cluster import RouterPassing
from voxcenter.api.control import ControlPlane
from voxcenter.api.desk import (
    INTERACTION_FIELDS,
    DeskBackend,
    DeskSessions,
    FieldError,
    Remembered,
    TransferNotPossible,
    check_fields,
    customer_view,
    desk_view,
    interaction_changes,
    interaction_view,
    new_customer,
    newest,
    password_matches,
    text_field,
    updated_customer,
)
from voxcenter.api.metrics import metrics_registry, render
from voxcenter.api.monitoring import MonitoringPlane, add_monitoring_routes
from voxcenter.api.views import agent_views, call_view, queue_detail, queue_view
from voxcenter.api.wallboard import WallboardHub, agent_page, static_file, wallboard_page
from voxcenter.config import ConfigError
from voxcenter.media.sealed import SEALED_SUFFIX, SealError, is_sealed, unseal
from voxcenter.sip.errors import LocalProtocolError
from voxcenter.store.queries import (
    MAX_LIMIT,
    agent_history,
    call_agents,
    call_record,
    call_recordings,
    cluster_nodes,
    customer_history,
    find_customers,
    get_customer,
    get_interaction,
    list_cdrs,
    list_interactions,
    list_voicemails,
    recording_audio,
)
from voxcenter.store.records import CustomerRecord, InteractionRecord, new_id

logger = structlog.get_logger(__name__)

MAX_BODY = 64 * 1024
"""Largest request body accepted, bytes."""
MAX_REASON = 200
"""Longest pause reason accepted, characters."""
PUBLIC_PATHS = frozenset({"/healthz", "/", "/wallboard", "/agent", "/agent/cjs.js", "/api/desk/login"})
"""Paths served without a token: a liveness probe, pages that hold no data, and the agents' sign-in."""
PUBLIC_PREFIXES = ("/node_modules/",)
"""Path prefixes served without a token: the browser phone's library (an open-source package, no data)."""
WEBSOCKET_PATH = "/api/wallboard/ws"


ROLES = ("agent", "supervisor", "admin")
"""Roles from least to most allowed."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token and what it may do."""

    token: str
    role: str
    """One of ``ROLES``."""
    agent: str | None = None
    """The agent an ``agent`` token acts for."""


PERMISSIONS: dict[tuple[str, str], str] = {
    ("GET", "/metrics"): "supervisor",
    ("GET", "/api/queues"): "agent",
    ("GET", "/api/queues/{name}"): "agent",
    ("POST", "/api/queues/{name}/members/{agent_id}"): "supervisor",
    ("DELETE", "/api/queues/{name}/members/{agent_id}"): "supervisor",
    ("PATCH", "/api/queues/{name}/members/{agent_id}"): "supervisor",
    ("GET", "/api/agents"): "supervisor",
    ("GET", "/api/agents/{agent_id}"): "agent",
    ("POST", "/api/agents/{agent_id}/{command}"): "agent",
    ("GET", "/api/calls"): "supervisor",
    ("POST", "/api/calls/{call_id}/hangup"): "supervisor",
    ("POST", "/api/calls/{call_id}/recording/{action}"): "agent",
    ("GET", "/api/callbacks"): "supervisor",
    ("POST", "/api/callbacks"): "supervisor",
    ("DELETE", "/api/callbacks/{callback_id}"): "supervisor",
    ("GET", "/api/campaigns"): "supervisor",
    ("GET", "/api/campaigns/{name}"): "supervisor",
    ("POST", "/api/campaigns/{name}/contacts"): "supervisor",
    ("POST", "/api/campaigns/{name}/{command}"): "supervisor",
    ("POST", "/api/do-not-call"): "supervisor",
    ("DELETE", "/api/do-not-call"): "supervisor",
    ("GET", "/api/cdrs"): "agent",
    ("GET", "/api/cdrs/{call_id}"): "agent",
    ("GET", "/api/cdrs/{call_id}/recordings"): "agent",
    ("GET", "/api/recordings/{recording_id}"): "agent",
    ("GET", "/api/voicemails"): "supervisor",
    ("GET", "/api/cluster"): "supervisor",
    ("POST", "/api/reload"): "admin",
    ("GET", "/api/supervisors/{supervisor}"): "supervisor",
    ("POST", "/api/supervisors/{supervisor}/monitor"): "supervisor",
    ("POST", "/api/supervisors/{supervisor}/mode"): "supervisor",
    ("GET", WEBSOCKET_PATH): "supervisor",
    ("POST", "/api/desk/logout"): "agent",
    ("POST", "/api/desk/tokens"): "supervisor",
    ("GET", "/api/desk"): "agent",
    ("POST", "/api/desk/hangup"): "agent",
    ("POST", "/api/desk/{action}"): "agent",
    ("POST", "/api/desk/transfer"): "agent",
    ("POST", "/api/desk/conference"): "agent",
    ("POST", "/api/desk/consult"): "agent",
    ("POST", "/api/desk/consult/{action}"): "agent",
    ("GET", "/api/desk/history"): "agent",
    ("GET", "/api/customers"): "agent",
    ("POST", "/api/customers"): "agent",
    ("GET", "/api/customers/{customer_id}"): "agent",
    ("PATCH", "/api/customers/{customer_id}"): "agent",
    ("GET", "/api/interactions"): "agent",
    ("POST", "/api/interactions"): "agent",
    ("GET", "/api/interactions/{interaction_id}"): "agent",
    ("PATCH", "/api/interactions/{interaction_id}"): "agent",
}
"""(method, route) -> the least role allowed; a route not listed needs ``admin``. An ``agent`` token reaches
``/api/agents/{agent_id}`` only for its own agent, reads only its own CDRs and recordings, and pauses the
recording of its own calls only; on the desk it sees its own call and history, and writes interactions as
itself only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """Where the API listens and how it authenticates (``token`` must be given, even as None, on purpose)."""

    host: str = "127.0.0.1"
    """Address to bind (``start_api`` forces loopback when ``token`` is None)."""
    port: int = 8080
    """TCP port (0 picks a free one)."""
    token: str | None
    """Bearer token every request must carry (the admin role); None and no ``tokens``: no authentication,
    loopback only."""
    tokens: tuple[ApiToken, ...] = ()
    """More tokens, each with its role."""
    cors: bool = False
    """Answer CORS preflights and allow any origin (the token still guards every request)."""
    wallboard_min_interval: float = 0.5
    """Shortest time between two wallboard snapshots to one client, seconds."""
    wallboard_max_interval: float = 5.0
    """Longest time between two wallboard snapshots to one client, seconds."""
    router: Callable[[], tuple[str, str] | None] | None = None
    """The cluster's router node ``(node, "http://host:port")`` while it is another node (``cluster.shared_queues``):
    the queue, agent, callback, call and desk requests are passed on to it (see api/cluster.py)."""

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the API token must not be empty (leave it unset for a loopback-only API)")
        for entry in self.tokens:
            if entry.role not in ROLES or not entry.token.strip() or (entry.role == "agent") != bool(entry.agent):
                raise ValueError(f"API token with role {entry.role!r}: roles are {ROLES}; "
                                 "an agent token names its agent")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"API port {self.port} is outside 0..65535")
        if not 0 < self.wallboard_min_interval <= self.wallboard_max_interval:
            raise ValueError("wallboard intervals need 0 < min <= max")


CONTROL = web.AppKey("control", ControlPlane)
SETTINGS = web.AppKey("settings", ApiSettings)
HUB = web.AppKey("hub", WallboardHub)
REGISTRY = web.AppKey("registry", CollectorRegistry)
RELOAD_LOCK = web.AppKey("reload_lock", asyncio.Lock)
DESK: web.AppKey[DeskBackend | None] = web.AppKey("desk")
SESSIONS = web.AppKey("sessions", DeskSessions)
REMEMBERED = web.AppKey("remembered", Remembered)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


# --- middlewares ---------------------------------------------------------------------------------------------------


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.app[SETTINGS].cors:
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    if not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text or ""
        if not message or message.startswith(f"{exc.status}:"):
            message = f"no such path {request.path!r}" if exc.status == 404 else exc.reason.lower()
        response = _error(exc.status, message)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
        return response
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("api.handler_failed", method=request.method, path=request.path)
        return _error(500, "internal error; the server log has the details")


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.path == WEBSOCKET_PATH:
        return request.query.get("token")
    return None


def _principal(settings: ApiSettings, presented: str | None) -> ApiToken | None:
    """The token ``presented`` matches (every one compared, in constant time), or None."""
    known = ([ApiToken(settings.token, "admin")] if settings.token is not None else []) + list(settings.tokens)
    found = None
    for entry in known:
        if presented is not None and hmac.compare_digest(presented.encode(), entry.token.encode()):
            found = found or entry
    return found


PRINCIPAL = web.RequestKey("principal", ApiToken)
"""Where the request's ApiToken is kept (``request[PRINCIPAL]``)."""


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    presented = _presented_token(request)
    signed_in = request.app[SESSIONS].agent_of(presented) if presented else None
    public = request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES)
    if public or (signed_in is None and settings.token is None and not settings.tokens):
        request[PRINCIPAL] = ApiToken("", "admin")
        return await handler(request)
    principal = ApiToken(str(presented), "agent", signed_in) if signed_in is not None else \
        _principal(settings, presented)
    if principal is None:
        response = _error(401, "missing or wrong bearer token (send 'Authorization: Bearer <token>')")
        response.headers["WWW-Authenticate"] = 'Bearer realm="voxcenter"'
        return response
    route = request.match_info.route
    resource = route.resource
    if resource is not None and not isinstance(request.match_info.http_exception, web.HTTPException):
        needed = PERMISSIONS.get((request.method, resource.canonical), "admin")
        if ROLES.index(principal.role) < ROLES.index(needed):
            return _error(403, f"this needs the {needed} role; the token has {principal.role}")
        own = request.match_info.get("agent_id")
        if principal.role == "agent" and own is not None and own != principal.agent \
                and resource.canonical.startswith("/api/agents/"):
            return _error(403, f"an agent token acts for agent {principal.agent} only")
    request[PRINCIPAL] = principal
    return await handler(request)


# --- handlers ------------------------------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """Liveness probe, no authentication."""
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, computed now from the router."""
    return web.Response(body=render(request.app[REGISTRY]), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def list_queues(request: web.Request) -> web.Response:
    """Live figures of every queue."""
    control = request.app[CONTROL]
    stats = control.router.stats(control.now())
    return web.json_response({"queues": [queue_view(s) for s in stats.values()]})


async def get_queue(request: web.Request) -> web.Response:
    """One queue's figures and its waiting callers with position, wait and estimated wait."""
    name = request.match_info["name"]
    detail = queue_detail(request.app[CONTROL], name)
    if detail is None:
        return _error(404, f"unknown queue {name!r}")
    return web.json_response(detail)


async def list_agents(request: web.Request) -> web.Response:
    """Every agent with state, time in state and calls handled."""
    control = request.app[CONTROL]
    return web.json_response({"agents": agent_views(control, control.now())})


def _agent_or_404(control: ControlPlane, agent_id: str) -> web.Response | dict[str, object]:
    for view in agent_views(control, control.now()):
        if view["id"] == agent_id:
            return view
    return _error(404, f"unknown agent {agent_id!r}")


async def get_agent(request: web.Request) -> web.Response:
    """One agent."""
    found = _agent_or_404(request.app[CONTROL], request.match_info["agent_id"])
    return found if isinstance(found, web.Response) else web.json_response(found)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the request body must be a JSON object")
    return body


async def agent_command(request: web.Request) -> web.Response:
    """POST /api/agents/{id}/login|logout|pause|unpause; pause takes ``{"reason": "..."}``."""
    control = request.app[CONTROL]
    agent_id = request.match_info["agent_id"]
    command = request.match_info["command"]
    body = await _json_object(request)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON):
        return _error(400, f"'reason' must be a non-empty string of at most {MAX_REASON} characters")
    unknown = set(body) - {"reason"}
    if unknown:
        return _error(400, f"unknown field(s) {sorted(unknown)}; only 'reason' is accepted")
    try:
        control.agent_command(agent_id, command, reason.strip() if reason else None)
    except KeyError:
        return _error(404, f"unknown agent {agent_id!r}")
    except LocalProtocolError as exc:
        return _error(409, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))
    logger.info("api.agent_command", agent=agent_id, command=command, reason=reason)
    found = _agent_or_404(control, agent_id)
    return found if isinstance(found, web.Response) else web.json_response(found)


async def list_calls(request: web.Request) -> web.Response:
    """Live calls."""
    control = request.app[CONTROL]
    now = control.now()
    return web.json_response({"calls": [call_view(c, now) for c in control.calls()]})


async def member(request: web.Request) -> web.Response:
    """POST (add, ``{"penalty": n}`` optional), PATCH (``{"penalty": n}``) or DELETE (remove)
    /api/queues/{name}/members/{agent_id}: run-time queue membership."""
    control = request.app[CONTROL]
    queue, agent_id = request.match_info["name"], request.match_info["agent_id"]
    body = await _json_object(request) if request.method != "DELETE" else {}
    unknown = set(body) - {"penalty"}
    if unknown:
        return _error(400, f"unknown field(s) {sorted(unknown)}; only 'penalty' is accepted")
    penalty = body.get("penalty", 0)
    if request.method == "PATCH" and "penalty" not in body:
        return _error(400, "PATCH needs {\"penalty\": n}")
    if not isinstance(penalty, int) or isinstance(penalty, bool) or not 0 <= penalty <= 1000:
        return _error(400, "'penalty' must be a whole number from 0 to 1000")
    try:
        if request.method == "POST":
            control.add_member(queue, agent_id, penalty)
        elif request.method == "PATCH":
            control.set_penalty(queue, agent_id, penalty)
        else:
            control.remove_member(queue, agent_id)
    except KeyError as exc:
        return _error(404, str(exc.args[0]) if exc.args else "unknown queue or agent")
    except ValueError as exc:
        return _error(409, str(exc))
    logger.info("api.member", method=request.method, queue=queue, agent=agent_id)
    detail = queue_detail(control, queue)
    return web.json_response(detail, status=201 if request.method == "POST" else 200)


async def hang_up_call(request: web.Request) -> web.Response:
    """POST /api/calls/{call_id}/hangup: end a live call from the server's side."""
    call_id = request.match_info["call_id"]
    if not request.app[CONTROL].hang_up(call_id):
        return _error(404, f"no call {call_id!r} in progress")
    logger.info("api.hangup", call_id=call_id, role=request[PRINCIPAL].role)
    return web.json_response({"status": "hanging up", "call_id": call_id}, status=202)


async def recording_control(request: web.Request) -> web.Response:
    """POST /api/calls/{call_id}/recording/pause|resume: silence in the live call's recording (a card number read
    out), or the conversation recorded again; the timeline says who (``by: api``, the token's role or agent)."""
    control = request.app[CONTROL]
    principal = request[PRINCIPAL]
    call_id, action = request.match_info["call_id"], request.match_info["action"]
    live = next((call for call in control.calls() if call.call_id == call_id), None)
    if live is None:
        return _error(404, f"no call {call_id!r} in progress")
    if principal.role == "agent" and live.agent != principal.agent:
        return _error(403, "an agent token controls the recording of its own calls only")
    who = principal.agent if principal.role == "agent" else principal.role
    try:
        changed = control.recording_control(call_id, action, "api", who)
    except KeyError:
        return _error(404, f"no call {call_id!r} in progress")
    except LookupError as exc:
        return _error(409, str(exc))
    logger.info("api.recording", call_id=call_id, action=action, who=who, changed=changed)
    return web.json_response({"call_id": call_id, "recording": "paused" if action == "pause" else "on",
                              "changed": changed})


async def book_callback(request: web.Request) -> web.Response:
    """POST /api/callbacks: book a callback (``{"number", "queue", "due", "customer"}``, see api/callbacks.py)."""
    control = request.app[CONTROL]
    try:
        booking = parse_booking(await _json_object(request), time.time())
        record = control.book_callback(booking.number, booking.queue, booking.due_at, booking.customer_data)
    except KeyError as exc:
        return _error(404, str(exc.args[0]) if exc.args else "unknown queue")
    except ValueError as exc:
        return _error(400, str(exc))
    logger.info("api.callback_booked", callback_id=record.callback_id, queue=record.queue,
                role=request[PRINCIPAL].role)
    return web.json_response(callback_view(record), status=201)


async def list_callbacks(request: web.Request) -> web.Response:
    """GET /api/callbacks: the callbacks still owed (pending, or being dialled)."""
    return web.json_response({"callbacks": [callback_view(r) for r in request.app[CONTROL].pending_callbacks()]})


async def cancel_callback(request: web.Request) -> web.Response:
    """DELETE /api/callbacks/{callback_id}: cancel a pending callback."""
    callback_id = request.match_info["callback_id"]
    try:
        record = request.app[CONTROL].cancel_callback(callback_id)
    except KeyError:
        return _error(404, f"no pending callback {callback_id!r}")
    except ValueError as exc:
        return _error(409, str(exc))
    logger.info("api.callback_cancelled", callback_id=callback_id, role=request[PRINCIPAL].role)
    return web.json_response(callback_view(record))


def _moment(request: web.Request, name: str) -> float | None:
    """A query parameter as POSIX seconds: a number, or ISO 8601 (UTC unless it says otherwise)."""
    text = request.query.get(name)
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name!r} must be POSIX seconds or an ISO 8601 time, not {text!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _records(request: web.Request) -> AsyncEngine:
    engine = request.app[CONTROL].database
    if engine is None:
        raise web.HTTPServiceUnavailable(text="the records are not available on this server")
    return engine


async def list_cdrs_handler(request: web.Request) -> web.Response:
    """GET /api/cdrs?from=&to=&queue=&agent=&limit=: CDRs, newest first (an agent token: its own calls)."""
    principal = request[PRINCIPAL]
    agent = principal.agent if principal.role == "agent" else request.query.get("agent")
    rows = await list_cdrs(_records(request), since=_moment(request, "from"), until=_moment(request, "to"),
                           queue=request.query.get("queue"), agent=agent, limit=_limit(request))
    return web.json_response({"cdrs": rows})


async def _not_theirs(request: web.Request, call_id: str) -> web.Response | None:
    """403 for an agent token asking for a call the agent took no part in; None when it may read it."""
    principal = request[PRINCIPAL]
    if principal.role != "agent" or principal.agent in await call_agents(_records(request), call_id):
        return None
    return _error(403, "an agent token reads its own calls only")


async def get_cdr(request: web.Request) -> web.Response:
    """GET /api/cdrs/{call_id}: the CDR with its timeline, recordings (each with its ``url``) and voicemails."""
    call_id = request.match_info["call_id"]
    record = await call_record(_records(request), call_id)
    if record is None:
        return _error(404, f"no CDR for call {call_id!r}")
    return await _not_theirs(request, call_id) or web.json_response(record)


async def list_call_recordings(request: web.Request) -> web.Response:
    """GET /api/cdrs/{call_id}/recordings: the call's recordings, oldest first, each with the ``url`` of its audio."""
    call_id = request.match_info["call_id"]
    rows = await call_recordings(_records(request), call_id)
    if rows is None:
        return _error(404, f"no CDR for call {call_id!r}")
    return await _not_theirs(request, call_id) or web.json_response({"call_id": call_id, "recordings": rows})


async def list_voicemails_handler(request: web.Request) -> web.Response:
    """GET /api/voicemails?mailbox=&from=&limit=: voicemails, newest first."""
    rows = await list_voicemails(_records(request), mailbox=request.query.get("mailbox"),
                                 since=_moment(request, "from"), limit=_limit(request))
    return web.json_response({"voicemails": rows})


async def list_cluster_nodes(request: web.Request) -> web.Response:
    """GET /api/cluster: every node beating a heartbeat in this database (``cluster.heartbeat``), from any node."""
    return web.json_response({"nodes": await cluster_nodes(_records(request), time.time())})


RECORDING_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg"}


async def get_recording(request: web.Request) -> web.StreamResponse:
    """GET /api/recordings/{recording_id}: the audio, from the database or the recordings directory; a ``Range``
    request gets the part it asks for (206), so a player can seek."""
    recording_id = request.match_info["recording_id"]
    found = await recording_audio(_records(request), recording_id)
    if found is None:
        return _error(404, f"no recording {recording_id!r}")
    row, data = found
    refused = await _not_theirs(request, str(row["call_id"]))
    if refused is not None:
        return refused
    if row.get("deleted_at") is not None:
        when = datetime.fromtimestamp(float(row["deleted_at"]), UTC).isoformat(timespec="seconds")
        return _error(410, f"recording {recording_id!r} was deleted at {when} (recording.retention_days)")
    content_type = RECORDING_TYPES.get(str(row["format"]), "application/octet-stream")
    headers = {"Content-Disposition": f'inline; filename="{row["call_id"]}.{row["format"]}"',
               "Cache-Control": "private, no-store"}
    path = Path(str(row["path"]))
    if data is None and path.suffix == SEALED_SUFFIX:
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return _error(410, f"recording {recording_id!r} is no longer at {path}")
    if data is not None and is_sealed(data):
        key = request.app[CONTROL].recording_key()
        if key is None:
            return _error(503, "the recording is encrypted and recording.key_file is not set on this server")
        try:
            data = await asyncio.to_thread(unseal, data, key)
        except SealError as exc:
            return _error(503, f"recording {recording_id!r}: {exc}")
    if data is not None:
        return _ranged(request, data, content_type, headers)
    if not await asyncio.to_thread(path.is_file):
        return _error(410, f"recording {recording_id!r} is no longer at {path}")
    return web.FileResponse(path, headers={**headers, "Content-Type": content_type})


def _ranged(request: web.Request, data: bytes, content_type: str, headers: dict[str, str]) -> web.Response:
    """``data`` whole (200), or the one byte range the request asks for (206; 416 when outside it)."""
    size = len(data)
    headers = {**headers, "Accept-Ranges": "bytes"}
    try:
        wanted = request.http_range
    except ValueError:
        wanted = slice(size, None)  # a malformed range: answered like one beyond the end
    if wanted.start is None and wanted.stop is None:
        return web.Response(body=data, content_type=content_type, headers=headers)
    start = wanted.start if wanted.start is not None else 0
    if start < 0:
        start = max(0, size + start)  # bytes=-N: the last N bytes
    stop = size if wanted.stop is None else min(wanted.stop, size)
    if start >= stop:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    return web.Response(status=206, body=data[start:stop], content_type=content_type,
                        headers={**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}"})


async def reload(request: web.Request) -> web.Response:
    """Reload the dial plan: 200 with warnings, 422 with every error, 409 when a reload is running."""
    lock = request.app[RELOAD_LOCK]
    if lock.locked():
        return _error(409, "a reload is already in progress")
    async with lock:
        try:
            warnings = await request.app[CONTROL].reload()
        except ConfigError as exc:
            logger.warning("api.reload_refused", errors=len(exc.errors))
            return _error(422, "the dial plan was refused; the running one is kept",
                          errors=[str(issue) for issue in exc.errors])
    changes = request.app[CONTROL].reload_changes()
    logger.info("api.reloaded", warnings=len(warnings), changes=changes or "none")
    return web.json_response({"status": "reloaded", "warnings": [str(issue) for issue in warnings],
                              "changes": changes})


async def wallboard(request: web.Request) -> web.Response:
    """The wallboard page (it asks for the token, or takes it from ``?token=``)."""
    return web.Response(body=wallboard_page(), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def wallboard_ws(request: web.Request) -> web.WebSocketResponse:
    """The wallboard's websocket: a snapshot now, then on change (≤ 2/s) and at least every 5 s."""
    return await request.app[HUB].handle(request)


# --- the agent desk, customers and interactions --------------------------------------------------------------------


def _desk(request: web.Request) -> DeskBackend:
    backend = request.app[DESK]
    if backend is None:
        raise web.HTTPServiceUnavailable(text="the agent desk is not available on this server")
    return backend


def _acting_agent(request: web.Request) -> str:
    """The agent a desk request is for: an agent token's own, else the ``agent`` query parameter."""
    principal = request[PRINCIPAL]
    if principal.role == "agent" and principal.agent is not None:
        return principal.agent
    agent = request.query.get("agent")
    if not agent:
        raise web.HTTPBadRequest(text="say which agent with ?agent= (an agent's own token needs none)")
    return agent


async def desk_page(request: web.Request) -> web.Response:
    """The agent page (it signs in with the phone's credentials or takes a token)."""
    return web.Response(body=agent_page(), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def desk_loader(request: web.Request) -> web.Response:
    """The CommonJS loader the agent page loads the browser phone's library with."""
    return web.Response(body=static_file("cjs.js"), content_type="text/javascript", charset="utf-8")


LIBRARY_TYPES = {".js": "text/javascript", ".json": "application/json"}


async def desk_library(request: web.Request) -> web.StreamResponse:
    """GET /node_modules/{path}: a file of the browser phone's library (``desk.phone_library``), .js and .json only."""
    backend = request.app[DESK]
    root = backend.desk_settings().phone_library if backend is not None else None
    wanted = request.match_info["path"]
    if root is None:
        return _error(404, "no browser phone library on this server (desk.phone_library)")
    def find() -> Path | None:
        base = Path(root).resolve()
        path = (base / wanted).resolve()
        inside = path.is_relative_to(base) and path.suffix in LIBRARY_TYPES and path.is_file()
        return path if inside else None

    path = await asyncio.to_thread(find)
    if path is None:
        return _error(404, f"no such file {wanted!r}")
    kind = LIBRARY_TYPES[path.suffix]
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "max-age=3600"})


async def desk_login(request: web.Request) -> web.Response:
    """POST /api/desk/login ``{"agent", "password"}`` (the phone's SIP credentials): a desk token."""
    backend = _desk(request)
    body = await _json_object(request)
    agent, password = body.get("agent"), body.get("password")
    if not isinstance(agent, str) or not isinstance(password, str) or not agent or not password:
        return _error(400, "send {'agent': extension, 'password': the phone's SIP password}")
    sessions = request.app[SESSIONS]
    if sessions.refused(agent):
        return _error(429, "too many wrong passwords for this agent; wait a minute")
    secret = backend.desk_settings().secrets.get(agent)
    if secret is None or not password_matches(secret, agent, password):
        sessions.failed(agent)
        logger.warning("desk.sign_in_refused", agent=agent, peer=request.remote)
        return _error(401, "wrong agent or password")
    token, lifetime = sessions.issue(agent)
    logger.info("desk.signed_in", agent=agent, peer=request.remote)
    return web.json_response({"token": token, "agent": agent, "expires_in": lifetime})


async def desk_token(request: web.Request) -> web.Response:
    """POST /api/desk/tokens ``{"agent"}``: a desk token for that agent, as its sign-in would give (for a
    single sign-on portal, or a supervisor setting up a desk)."""
    body = await _json_object(request)
    agent = body.get("agent")
    if set(body) - {"agent"} or not isinstance(agent, str) or not agent:
        return _error(400, "send {'agent': extension}")
    if agent not in _desk(request).desk_settings().secrets:
        return _error(404, f"unknown agent {agent!r}")
    token, lifetime = request.app[SESSIONS].issue(agent)
    logger.info("desk.token_issued", agent=agent, role=request[PRINCIPAL].role)
    return web.json_response({"token": token, "agent": agent, "expires_in": lifetime}, status=201)


async def desk_logout(request: web.Request) -> web.Response:
    """POST /api/desk/logout: the desk token presented is revoked (the agent's queue state is not touched)."""
    request.app[SESSIONS].revoke(request[PRINCIPAL].token)
    return web.json_response({"status": "signed out"})


async def desk_state(request: web.Request) -> web.Response:
    """GET /api/desk: the agent's state, wrap-up countdown, choices and call (see voxcenter.api.desk)."""
    agent = _acting_agent(request)
    view = desk_view(request.app[CONTROL], _desk(request).desk_settings(), agent)
    if view is None:
        return _error(404, f"unknown agent {agent!r}")
    return web.json_response(view)


async def desk_hangup(request: web.Request) -> web.Response:
    """POST /api/desk/hangup: end the call the agent is talking on."""
    agent = _acting_agent(request)
    view = desk_view(request.app[CONTROL], _desk(request).desk_settings(), agent)
    call = view["call"] if view is not None else None
    if call is None or call["phase"] != "talking":
        return _error(409, "the agent is on no call")
    request.app[CONTROL].hang_up(str(call["call_id"]))
    logger.info("desk.hangup", agent=agent, call_id=call["call_id"])
    return web.json_response({"status": "hanging up", "call_id": call["call_id"]}, status=202)


async def desk_hold(request: web.Request) -> web.Response:
    """POST /api/desk/hold|unhold: put the agent's call on hold (the caller hears music) or take it off."""
    agent = _acting_agent(request)
    backend = _desk(request)
    view = desk_view(request.app[CONTROL], backend.desk_settings(), agent)
    call = view["call"] if view is not None else None
    if call is None or call["phase"] != "talking":
        return _error(409, "the agent is on no call")
    held = request.match_info["action"] == "hold"
    try:
        changed = backend.hold_call(str(call["call_id"]), agent, held)
    except LookupError as exc:
        return _error(409, str(exc.args[0]) if exc.args else "the agent is on no call")
    logger.info("desk.hold", agent=agent, call_id=call["call_id"], held=held, changed=changed)
    return web.json_response({"call_id": call["call_id"], "held": held, "changed": changed})


async def desk_transfer(request: web.Request) -> web.Response:
    """POST /api/desk/transfer ``{"to": number}``: transfer the agent's caller blind (to an agent, a dial-plan
    number, a queue, or an outside number a route allows the agent); 202, or 403/404 with the reason.
    POST /api/desk/conference: ring that party (a person) and add it to the conversation; POST /api/desk/consult:
    hold the caller and ring that person for the agent to talk to first (``/api/desk/consult/complete|cancel``)."""
    conference = request.path.endswith("/conference")
    consult = request.path.endswith("/consult")
    agent = _acting_agent(request)
    backend = _desk(request)
    body = await _json_object(request)
    try:
        check_fields(body, {"to"})
        number = text_field(body, "to")
    except FieldError as exc:
        return _error(400, str(exc))
    if not number:
        return _error(400, "say where to with {'to': an extension, number or queue}")
    view = desk_view(request.app[CONTROL], backend.desk_settings(), agent)
    call = view["call"] if view is not None else None
    if call is None or call["phase"] != "talking":
        return _error(409, "the agent is on no call")
    try:
        backend.transfer_call(str(call["call_id"]), agent, number, conference=conference, consult=consult)
    except LookupError as exc:
        return _error(409, str(exc.args[0]) if exc.args else "the agent is on no call")
    except TransferNotPossible as exc:
        return _error(409 if exc.status == 491 else 404 if exc.status == 404 else 403, str(exc))
    kind = "conference" if conference else "consult" if consult else "transfer"
    logger.info(f"desk.{kind}", agent=agent, call_id=call["call_id"], to=number)
    status = {"conference": "adding", "consult": "consulting", "transfer": "transferring"}[kind]
    return web.json_response({"call_id": call["call_id"], "to": number, "status": status}, status=202)


async def desk_consult_end(request: web.Request) -> web.Response:
    """POST /api/desk/consult/complete: the caller is connected to the party the agent consults and the agent's
    phone let go (an attended transfer); POST /api/desk/consult/cancel: that party is hung up, and the agent
    talks to the caller again."""
    agent = _acting_agent(request)
    backend = _desk(request)
    complete = request.match_info["action"] == "complete"
    view = desk_view(request.app[CONTROL], backend.desk_settings(), agent)
    call = view["call"] if view is not None else None
    if call is None or call["phase"] != "talking" or call.get("consulting") is None:
        return _error(409, "the agent consults nobody")
    try:
        backend.end_consultation(str(call["call_id"]), agent, complete)
    except LookupError as exc:
        return _error(409, str(exc.args[0]) if exc.args else "the agent consults nobody")
    except TransferNotPossible as exc:
        return _error(409, str(exc))
    logger.info("desk.consult_" + request.match_info["action"], agent=agent, call_id=call["call_id"])
    return web.json_response({"call_id": call["call_id"],
                              "status": "transferring" if complete else "back to the caller"}, status=202)


async def desk_history(request: web.Request) -> web.Response:
    """GET /api/desk/history?q=&from=&to=&limit=: the agent's own calls with what was written about them."""
    agent = _acting_agent(request)
    rows = await agent_history(_records(request), agent, text=request.query.get("q") or None,
                               since=_moment(request, "from"), until=_moment(request, "to"), limit=_limit(request))
    return web.json_response({"calls": rows})


async def list_customers_handler(request: web.Request) -> web.Response:
    """GET /api/customers?number=&q=&history=1: customers (with their interactions and last agent on ``history``)."""
    engine = _records(request)
    number = request.query.get("number") or None
    text = request.query.get("q") or None
    if number is None and text is None:
        return _error(400, "say which customers with ?number= or ?q=")
    rows = await find_customers(engine, number=number, text=text, limit=_limit(request))
    if request.query.get("history") in ("1", "true"):
        for row in rows:
            row.update(await customer_history(engine, row))
    return web.json_response({"customers": rows})


async def _current_customer(request: web.Request, customer_id: str) -> CustomerRecord | None:
    stored = await get_customer(_records(request), customer_id)
    found = newest(stored, request.app[REMEMBERED].get(customer_id), CustomerRecord)
    return found if isinstance(found, CustomerRecord) else None


async def get_customer_handler(request: web.Request) -> web.Response:
    """GET /api/customers/{customer_id}: the customer, its interactions (newest first) and last agent."""
    customer_id = request.match_info["customer_id"]
    found = await _current_customer(request, customer_id)
    if found is None:
        return _error(404, f"no customer {customer_id!r}")
    view = customer_view(found)
    view.update(await customer_history(_records(request), view))
    return web.json_response(view)


async def create_customer(request: web.Request) -> web.Response:
    """POST /api/customers ``{"number", "name", "company", "language", "priority", "notes"}``."""
    backend = _desk(request)
    try:
        record = new_customer(await _json_object(request), time.time())
    except FieldError as exc:
        return _error(400, str(exc))
    backend.submit(record)
    request.app[REMEMBERED].put(record.customer_id, record)
    logger.info("desk.customer_created", customer_id=record.customer_id, role=request[PRINCIPAL].role)
    return web.json_response(customer_view(record), status=201)


async def update_customer(request: web.Request) -> web.Response:
    """PATCH /api/customers/{customer_id}: change the fields given."""
    backend = _desk(request)
    customer_id = request.match_info["customer_id"]
    current = await _current_customer(request, customer_id)
    if current is None:
        return _error(404, f"no customer {customer_id!r}")
    try:
        record = updated_customer(current, await _json_object(request), time.time())
    except FieldError as exc:
        return _error(400, str(exc))
    backend.submit(record)
    request.app[REMEMBERED].put(customer_id, record)
    logger.info("desk.customer_updated", customer_id=customer_id, version=record.version)
    return web.json_response(customer_view(record))


async def list_interactions_handler(request: web.Request) -> web.Response:
    """GET /api/interactions?customer=&call=&agent=&from=&to=&limit=: an agent token sees its own unless it
    names a customer (whose history it may read)."""
    principal = request[PRINCIPAL]
    customer = request.query.get("customer") or None
    agent = request.query.get("agent") or None
    if principal.role == "agent" and customer is None:
        agent = principal.agent
    rows = await list_interactions(_records(request), customer=customer, call_id=request.query.get("call") or None,
                                   agent=agent, since=_moment(request, "from"), until=_moment(request, "to"),
                                   limit=_limit(request))
    return web.json_response({"interactions": rows})


async def _current_interaction(request: web.Request, interaction_id: str) -> InteractionRecord | None:
    stored = await get_interaction(_records(request), interaction_id)
    found = newest(stored, request.app[REMEMBERED].get(interaction_id), InteractionRecord)
    return found if isinstance(found, InteractionRecord) else None


async def get_interaction_handler(request: web.Request) -> web.Response:
    """GET /api/interactions/{interaction_id}."""
    interaction_id = request.match_info["interaction_id"]
    found = await _current_interaction(request, interaction_id)
    if found is None:
        return _error(404, f"no interaction {interaction_id!r}")
    return web.json_response(interaction_view(found))


def _follow_up(request: web.Request, body: dict[str, Any], number: str | None,
               record: InteractionRecord) -> InteractionRecord:
    """Book the follow-up callback a request asks for (``"follow_up": {"at", "queue"}``) and note it."""
    follow_up = body.get("follow_up")
    if follow_up is None:
        return record
    if not isinstance(follow_up, dict) or set(follow_up) - {"at", "queue"} or "queue" not in follow_up:
        raise FieldError("'follow_up' is {'at': POSIX seconds or ISO 8601, 'queue': the queue that calls back}")
    if not number:
        raise FieldError("a follow-up needs the customer's 'number'")
    at = follow_up.get("at")
    try:
        due = float(at) if isinstance(at, int | float) else datetime.fromisoformat(str(at)).timestamp()
    except ValueError:
        raise FieldError(f"'follow_up.at' must be POSIX seconds or an ISO 8601 time, not {at!r}") from None
    data = json.dumps({"interaction_id": record.interaction_id, "call_id": record.call_id,
                       "agent": record.agent, "reason": record.reason})
    booked = request.app[CONTROL].book_callback(number, str(follow_up["queue"]), due, data)
    status = record.ticket_status if "ticket_status" in body else "needs_follow_up"
    return replace(record, follow_up_at=due, callback_id=booked.callback_id, ticket_status=status)


async def _save_interaction(request: web.Request, body: dict[str, Any], record: InteractionRecord,
                            number: str | None, status: int) -> web.Response:
    try:
        record = _follow_up(request, body, number, record)
    except KeyError as exc:
        return _error(404, str(exc.args[0]) if exc.args else "unknown queue")
    except ValueError as exc:
        return _error(400, str(exc))
    backend = _desk(request)
    backend.submit(record)
    request.app[REMEMBERED].put(record.interaction_id, record)
    view = interaction_view(record)
    backend.event("interaction.saved", view)
    logger.info("desk.interaction_saved", interaction_id=record.interaction_id, call_id=record.call_id,
                agent=record.agent, version=record.version, outcome=record.outcome, ticket=record.ticket_status)
    return web.json_response(view, status=status)


async def create_interaction(request: web.Request) -> web.Response:
    """POST /api/interactions ``{"call_id", "customer_id", "number", "reason", "notes", "outcome",
    "ticket_status", "follow_up"}``: what the agent writes about a call (an agent token writes as itself)."""
    backend = _desk(request)
    body = await _json_object(request)
    principal = request[PRINCIPAL]
    try:
        check_fields(body, {*INTERACTION_FIELDS, "follow_up"})
        changes = interaction_changes(body, backend.desk_settings().outcomes)
        agent = principal.agent if principal.role == "agent" else text_field(body, "agent")
        if not changes.get("call_id"):
            raise FieldError("an interaction needs the 'call_id' it is about")
        if not agent:
            raise FieldError("say which 'agent' wrote it (an agent's own token needs none)")
    except FieldError as exc:
        return _error(400, str(exc))
    if principal.role == "agent" and body.get("agent") not in (None, agent):
        return _error(403, f"an agent token acts for agent {agent} only")
    number = changes.get("number")
    if number is None:
        live = {call.call_id: call for call in request.app[CONTROL].calls()}.get(changes["call_id"])
        number = changes["number"] = live.caller if live is not None else None
    now = time.time()
    record = InteractionRecord(interaction_id=new_id(now), version=1, agent=agent, at=now, **changes)
    return await _save_interaction(request, body, record, number, 201)


async def update_interaction(request: web.Request) -> web.Response:
    """PATCH /api/interactions/{interaction_id}: change notes, outcome, status, reason; book a follow-up."""
    backend = _desk(request)
    interaction_id = request.match_info["interaction_id"]
    current = await _current_interaction(request, interaction_id)
    if current is None:
        return _error(404, f"no interaction {interaction_id!r}")
    principal = request[PRINCIPAL]
    if principal.role == "agent" and current.agent != principal.agent:
        return _error(403, f"interaction {interaction_id!r} was written by agent {current.agent}")
    body = await _json_object(request)
    try:
        check_fields(body, {"customer_id", "number", "reason", "notes", "outcome", "ticket_status", "follow_up"})
        changes = interaction_changes(body, backend.desk_settings().outcomes)
    except FieldError as exc:
        return _error(400, str(exc))
    record = replace(current, version=current.version + 1, at=time.time(), **changes)
    return await _save_interaction(request, body, record, record.number, 200)


# --- the application -----------------------------------------------------------------------------------------------


def create_app(
    control: ControlPlane, settings: ApiSettings, *, registry: CollectorRegistry | None = None,
    desk: DeskBackend | None = None, monitoring: MonitoringPlane | None = None,
    campaigns: CampaignPlane | None = None, sessions: DeskSessions | None = None,
) -> web.Application:
    """The API application; ``registry`` (e.g. prometheus_client.REGISTRY) also exports its own metrics;
    without ``desk`` the agent desk's writes and sign-in answer 503; ``monitoring``: supervisors'
    monitoring (``/api/supervisors/...``, see api/monitoring.py); ``sessions``: the desk sign-ins (the server's
    are kept in the database; by default they live in memory)."""
    passing = RouterPassing(settings.router) if settings.router is not None else None
    app = web.Application(middlewares=[_cors, _errors] + ([passing.middleware] if passing else []) + [_auth],
                          client_max_size=MAX_BODY)
    if passing is not None:
        app.on_cleanup.append(lambda _: passing.close())
    app[CONTROL] = control
    app[DESK] = desk
    app[SESSIONS] = sessions if sessions is not None else DeskSessions()
    app[REMEMBERED] = Remembered()
    app[SETTINGS] = settings
    app[HUB] = WallboardHub(control, settings.wallboard_min_interval, settings.wallboard_max_interval)
    app[REGISTRY] = metrics_registry(control, registry)
    app[RELOAD_LOCK] = asyncio.Lock()

    async def follow_changes(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(app[HUB].follow_changes())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def close_wallboards(app: web.Application) -> None:
        await app[HUB].close_all()

    app.cleanup_ctx.append(follow_changes)
    app.on_shutdown.append(close_wallboards)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/queues", list_queues)
    app.router.add_get("/api/queues/{name}", get_queue)
    app.router.add_post("/api/queues/{name}/members/{agent_id}", member)
    app.router.add_delete("/api/queues/{name}/members/{agent_id}", member)
    app.router.add_patch("/api/queues/{name}/members/{agent_id}", member)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_post("/api/agents/{agent_id}/{command:login|logout|pause|unpause|ready}", agent_command)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_post("/api/calls/{call_id}/hangup", hang_up_call)
    app.router.add_post("/api/calls/{call_id}/recording/{action:pause|resume}", recording_control)
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_post("/api/callbacks", book_callback)
    app.router.add_delete("/api/callbacks/{callback_id}", cancel_callback)
    app.router.add_get("/api/cdrs", list_cdrs_handler)
    app.router.add_get("/api/cdrs/{call_id}", get_cdr)
    app.router.add_get("/api/cdrs/{call_id}/recordings", list_call_recordings)
    app.router.add_get("/api/recordings/{recording_id}", get_recording)
    app.router.add_get("/api/voicemails", list_voicemails_handler)
    app.router.add_get("/api/cluster", list_cluster_nodes)
    app.router.add_post("/api/reload", reload)
    app.router.add_get("/", wallboard)
    app.router.add_get("/wallboard", wallboard)
    app.router.add_get(WEBSOCKET_PATH, wallboard_ws)
    app.router.add_get("/agent", desk_page)
    app.router.add_get("/agent/cjs.js", desk_loader)
    app.router.add_get("/node_modules/{path:.+}", desk_library)
    app.router.add_post("/api/desk/login", desk_login)
    app.router.add_post("/api/desk/logout", desk_logout)
    app.router.add_post("/api/desk/tokens", desk_token)
    app.router.add_get("/api/desk", desk_state)
    app.router.add_post("/api/desk/hangup", desk_hangup)
    app.router.add_post("/api/desk/{action:hold|unhold}", desk_hold)
    app.router.add_post("/api/desk/transfer", desk_transfer)
    app.router.add_post("/api/desk/conference", desk_transfer)
    app.router.add_post("/api/desk/consult", desk_transfer)
    app.router.add_post("/api/desk/consult/{action:complete|cancel}", desk_consult_end)
    app.router.add_get("/api/desk/history", desk_history)
    app.router.add_get("/api/customers", list_customers_handler)
    app.router.add_post("/api/customers", create_customer)
    app.router.add_get("/api/customers/{customer_id}", get_customer_handler)
    app.router.add_patch("/api/customers/{customer_id}", update_customer)
    app.router.add_get("/api/interactions", list_interactions_handler)
    app.router.add_post("/api/interactions", create_interaction)
    app.router.add_get("/api/interactions/{interaction_id}", get_interaction_handler)
    app.router.add_patch("/api/interactions/{interaction_id}", update_interaction)
    if monitoring is not None:
        add_monitoring_routes(app, monitoring)
    if campaigns is not None:
        add_campaign_routes(app, campaigns)
    return app


class StructuredAccessLogger(AbstractAccessLogger):
    """One structured line per request, with the path but never the query (it may hold the token)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        logger.info("api.request", method=request.method, path=request.path, status=response.status,
                    seconds=round(time, 4), peer=request.remote)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def start_api(
    control: ControlPlane, settings: ApiSettings, *, registry: CollectorRegistry | None = None,
    desk: DeskBackend | None = None, monitoring: MonitoringPlane | None = None,
    campaigns: CampaignPlane | None = None, sessions: DeskSessions | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the API; returns the runner (``await runner.cleanup()`` to stop) and the bound port.

    Without a token the API is bound to loopback whatever ``settings.host`` says, and a log
    line says so.
    """
    host = settings.host
    if settings.token is None and not settings.tokens:
        if not is_loopback(host):
            logger.warning("api.loopback_only", requested_host=host, reason="no API token is configured")
            host = "127.0.0.1"
        else:
            logger.warning("api.no_token", host=host, note="no API token: serving on loopback only")
    runner = web.AppRunner(create_app(control, settings, registry=registry, desk=desk, monitoring=monitoring,
                                      campaigns=campaigns, sessions=sessions),
                           access_log_class=StructuredAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    await site.start()
    port = int(runner.addresses[0][1]) if runner.addresses else settings.port
    logger.info("api.listening", host=host, port=port, auth=settings.token is not None or bool(settings.tokens))
    return runner, port
