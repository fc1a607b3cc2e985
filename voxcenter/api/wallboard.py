"""The live wallboard: a websocket hub pushing snapshots, and the page that shows them.

Each client gets a full snapshot on connect, then a fresh snapshot at most every
``min_interval`` seconds while something changes and at least every ``max_interval`` seconds
when nothing does (so ages on the board keep moving and a dead link is noticed). Changes are
coalesced into one flag per client, so a slow client costs one pending snapshot, never a growing
queue; a client that cannot take a snapshot within ``send_timeout`` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from voxcenter.api.control import ControlPlane
from voxcenter.api.views import wallboard_snapshot

logger = structlog.get_logger(__name__)


def wallboard_page() -> bytes:
    """The self-contained wallboard page (no CDN, no build step)."""
    return resources.files("voxcenter.api").joinpath("static/wallboard.html").read_bytes()


def agent_page() -> bytes:
    """The self-contained agent page (no CDN, no build step)."""
    return static_file("agent.html")


def static_file(name: str) -> bytes:
    """A file of the package's ``static`` directory."""
    return resources.files("voxcenter.api").joinpath("static", name).read_bytes()


class _Client:
    """One connected wallboard: its socket and its coalesced 'something changed' flag."""

    __slots__ = ("changed", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.changed = asyncio.Event()


class WallboardHub:
    """Fans change notifications of a ControlPlane out to websocket clients (see the module docstring)."""

    def __init__(
        self, control: ControlPlane, min_interval: float = 0.5, max_interval: float = 5.0, send_timeout: float = 10.0
    ) -> None:
        if not 0 < min_interval <= max_interval:
            raise ValueError("wallboard intervals need 0 < min_interval <= max_interval")
        self._control = control
        self._min_interval = min_interval
        self._max_interval = max_interval
        self._send_timeout = send_timeout
        self._clients: set[_Client] = set()

    @property
    def client_count(self) -> int:
        """Connected wallboards."""
        return len(self._clients)

    async def follow_changes(self) -> None:
        """Flag every client on each change notification; runs for the application's lifetime."""
        try:
            async for _ in self._control.subscribe():
                for client in self._clients:
                    client.changed.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            # without notifications clients still get the periodic snapshot
            logger.exception("wallboard.subscription_failed")

    async def close_all(self) -> None:
        """Close every client cleanly (server shutdown)."""
        for client in list(self._clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one websocket client until it or the server closes."""
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
        await ws.prepare(request)
        client = _Client(ws)
        self._clients.add(client)
        sender = asyncio.get_running_loop().create_task(self._send_loop(client))
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
                # the board only listens; anything a client sends asks for a fresh snapshot
                client.changed.set()
        finally:
            self._clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await ws.close()
        return ws

    async def _send_loop(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not client.ws.closed:
                await self._send(client)
                sent_at = loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.changed.wait(), self._max_interval)
                rest = sent_at + self._min_interval - loop.time()
                if rest > 0:
                    await asyncio.sleep(rest)
        except (TimeoutError, ConnectionError) as exc:
            logger.info("wallboard.client_dropped", reason=type(exc).__name__)
            await client.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
        except Exception:
            logger.exception("wallboard.snapshot_failed")
            await client.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"snapshot failed")

    async def _send(self, client: _Client) -> None:
        client.changed.clear()
        text = json.dumps(wallboard_snapshot(self._control), separators=(",", ":"))
        await asyncio.wait_for(client.ws.send_str(text), self._send_timeout)
