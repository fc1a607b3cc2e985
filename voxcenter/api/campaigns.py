"""``/api/campaigns`` and ``/api/do-not-call``: outbound campaigns started, paused, fed and followed.

- ``GET /api/campaigns``: every campaign of the dial plan with its figures; ``GET /api/campaigns/{name}``: one.
- ``POST /api/campaigns/{name}/contacts``: the request body is CSV with a header (``number`` required;
  ``name``, ``timezone`` and any other columns kept as the contact's data); answers what was added, what
  was a duplicate or on the do-not-call list, and each refused row with why.
- ``POST /api/campaigns/{name}/start`` and ``/pause``.
- ``POST /api/do-not-call`` with ``{"numbers": [...]}`` bars numbers from every campaign; ``DELETE`` with the
  same body lifts the bar.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

MAX_CSV_BYTES = 8 * 1024 * 1024
"""Largest contact list accepted in one request."""


class ImportAnswer(Protocol):
    @property
    def added(self) -> int: ...

    @property
    def duplicates(self) -> int: ...

    @property
    def do_not_call(self) -> int: ...

    @property
    def errors(self) -> tuple[str, ...]: ...


class CampaignPlane(Protocol):
    """Campaigns as the API sees them (:class:`voxcenter.runtime.campaigns.CampaignService`)."""

    @property
    def runners(self) -> dict[str, Any]: ...

    def status(self, name: str) -> dict[str, object]:
        """The campaign's figures; ValueError: no such campaign."""

    def import_csv(self, name: str, text: str) -> ImportAnswer:
        """Add the CSV's contacts; ValueError: no such campaign, or no header with a number column."""

    def start(self, name: str, *, write: bool = True) -> None: ...

    def pause(self, name: str) -> None: ...

    def bar(self, numbers: list[str], *, source: str = "api", active: bool = True) -> int:
        """Put numbers on the do-not-call list, or take them off; how many changed."""


CAMPAIGNS = web.AppKey("campaigns", CampaignPlane)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _status(plane: CampaignPlane, name: str) -> dict[str, object] | None:
    try:
        return plane.status(name)
    except ValueError:
        return None


async def list_campaigns(request: web.Request) -> web.Response:
    plane = request.app[CAMPAIGNS]
    return web.json_response({"campaigns": [plane.status(name) for name in sorted(plane.runners)]})


async def get_campaign(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    view = _status(request.app[CAMPAIGNS], name)
    return web.json_response(view) if view is not None else _error(404, f"no campaign {name!r}")


async def import_contacts(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    plane = request.app[CAMPAIGNS]
    if _status(plane, name) is None:
        return _error(404, f"no campaign {name!r}")
    body = await request.read()
    if len(body) > MAX_CSV_BYTES:
        return _error(413, f"a contact list may be at most {MAX_CSV_BYTES} bytes; split it")
    try:
        result = plane.import_csv(name, body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _error(400, "the contact list must be UTF-8 text (CSV)")
    except ValueError as error:
        return _error(400, str(error))
    return web.json_response({"added": result.added, "duplicates": result.duplicates,
                              "do_not_call": result.do_not_call, "refused": list(result.errors)}, status=201)


async def campaign_command(request: web.Request) -> web.Response:
    name, command = request.match_info["name"], request.match_info["command"]
    plane = request.app[CAMPAIGNS]
    if _status(plane, name) is None:
        return _error(404, f"no campaign {name!r}")
    if command == "start":
        plane.start(name)
    else:
        plane.pause(name)
    return web.json_response(plane.status(name))


async def do_not_call(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"the request body is not valid JSON: {exc}")
    numbers = body.get("numbers") if isinstance(body, dict) else None
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        return _error(400, "the body must be {\"numbers\": [\"+48...\", ...]}")
    changed = request.app[CAMPAIGNS].bar(numbers, active=request.method == "POST")
    return web.json_response({"changed": changed})


def add_campaign_routes(app: web.Application, plane: CampaignPlane) -> None:
    app[CAMPAIGNS] = plane
    app.router.add_get("/api/campaigns", list_campaigns)
    app.router.add_get("/api/campaigns/{name}", get_campaign)
    app.router.add_post("/api/campaigns/{name}/contacts", import_contacts)
    app.router.add_post("/api/campaigns/{name}/{command:start|pause}", campaign_command)
    app.router.add_post("/api/do-not-call", do_not_call)
    app.router.add_delete("/api/do-not-call", do_not_call)
