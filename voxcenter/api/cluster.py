"""On a node that is not the cluster's router (``cluster.shared_queues``), the API answers for the router.

The queues, agents, callbacks, calls in the queues and the agents' desks live on the router node. A request for
them that reaches another node is passed on to the router node's API (same path, query, method, body and
``Authorization``; the router checks the token, as every node has the same dial plan) and its answer is given
back, with ``X-Voxcenter-Node`` naming the node that answered. The pages (wallboard, agent page) and the
wallboard's websocket are redirected there instead (307), so that the browser talks to the router node from then
on. Everything read from the database (CDRs, reports, recordings, customers, ``/api/cluster``) and the node's
own ``/metrics``, ``/healthz`` and ``/api/reload`` are answered where they arrive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp
import structlog
from aiohttp import web

logger = structlog.get_logger(__name__)

ROUTER_PREFIXES: Final = ("/api/queues", "/api/agents", "/api/callbacks", "/api/calls", "/api/desk",
                          "/api/supervisors")
"""API paths whose answer is the router's state."""

ROUTER_PAGES: Final = frozenset({"/", "/wallboard", "/agent", "/api/wallboard/ws"})
"""Pages (and the wallboard's websocket) a browser is sent to the router node for."""

PASSED_HEADERS: Final = ("Authorization", "Content-Type", "Accept")

ROUTER_TIMEOUT: Final = 10.0
"""How long a request passed on waits for the router node's answer."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def for_the_router(path: str) -> bool:
    """Whether ``path`` asks for state that only the router node holds."""
    return path in ROUTER_PAGES or any(path == prefix or path.startswith(prefix + "/") for prefix in ROUTER_PREFIXES)


class RouterPassing:
    """The middleware passing router requests on to ``router()``: ``(node, "http://host:port")`` of the router
    node while it is another node, None while this node answers for itself; :meth:`close` at shutdown."""

    def __init__(self, router: Callable[[], tuple[str, str] | None]) -> None:
        self.router = router
        self._client: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        where = self.router() if for_the_router(request.path) else None
        if where is None:
            return await handler(request)
        node, base = where
        if request.path in ROUTER_PAGES:
            raise web.HTTPTemporaryRedirect(f"{base}{request.path_qs}")
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ROUTER_TIMEOUT))
        headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
        try:
            async with self._client.request(request.method, f"{base}{request.path_qs}", headers=headers,
                                            data=await request.read(), allow_redirects=False) as answer:
                response = web.Response(status=answer.status, body=await answer.read(),
                                        content_type=answer.content_type or "application/json")
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("api.router_unreachable", router=node, path=request.path, error=repr(error))
            return web.json_response({"error": f"the router node {node} did not answer: {error!r}"}, status=503)
        response.headers["X-Voxcenter-Node"] = node
        return response
