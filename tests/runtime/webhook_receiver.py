"""A local HTTP endpoint for webhook tests: checks each request's HMAC signature, answers a scripted status."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    event: str
    delivery: str
    attempt: int
    signed: bool
    """The signature is the HMAC-SHA256 of ``<timestamp>.<raw body>`` with the shared secret."""
    body: dict[str, Any]


class Receiver:
    """``async with Receiver(secret) as hooks``: ``hooks.url``; ``hooks.received``; ``hooks.statuses`` answers the
    next requests in order (200 once they run out); ``hooks.gate``, when set, holds every request until opened."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.gate: asyncio.Event | None = None
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers["X-Voxcenter-Timestamp"]
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + raw,
                                        hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, request.headers.get("X-Voxcenter-Signature", ""))
        self.received.append(Received(request.headers["X-Voxcenter-Event"], request.headers["X-Voxcenter-Delivery"],
                                      int(request.headers["X-Voxcenter-Attempt"]), signed, json.loads(raw)))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def events(self) -> list[str]:
        return [r.event for r in self.received]
