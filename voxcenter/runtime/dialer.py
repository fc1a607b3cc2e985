"""Placing outbound legs: an agent's registered phone, or an outside number through a route's trunk.

Deciding *who* may dial *what* is the dial plan's outbound routes (``route_allowed``);
nothing reaches a trunk without having passed it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping

from voxcenter.config import Config
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.services import MediaService
from voxcenter.sip.endpoint import RequestFailed, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.trunks import Trunk


class Dialer:
    """Rings phones and numbers for the calls; see the module docstring."""

    def __init__(self, endpoint: SipEndpoint, media: MediaService, trunks: Mapping[str, Trunk],
                 config: Config) -> None:
        self.endpoint = endpoint
        self.media = media
        self.trunks = trunks
        self.config = config

    def reconfigure(self, config: Config) -> None:
        """Routes of the reloaded dial plan, for calls placed from now on."""
        self.config = config

    def registered(self, extension: str) -> bool:
        """The phone of ``extension`` has a binding (it can be rung)."""
        return bool(self.endpoint.registrar.lookup(extension))

    async def call_extension(
        self, extension: str, *, caller_id: str, cancel: asyncio.Event | None = None,
        on_alerting: Callable[[], None] | None = None, ring_timeout: float | None = None,
    ) -> tuple[LegMedia, SipSession]:
        """Ring a registered phone (an agent's) and return its answered leg; RequestFailed otherwise."""
        bindings = self.endpoint.registrar.lookup(extension)
        if not bindings:
            raise RequestFailed(480, "Not Registered")
        binding = bindings[0]
        destination = Address(binding.source.transport, binding.source.host, binding.source.port)
        try:
            leg, offer = await self.media.offer()
        except Exception as error:
            raise RequestFailed(503, f"no media: {error}") from error

        def provisional(response: object) -> None:
            if on_alerting is not None and getattr(response, "status", 0) in (180, 183):
                on_alerting()

        try:
            session = await self.endpoint.invite(
                binding.contact.uri, destination, offer, from_user=re.sub(r"[^0-9A-Za-z+*#._-]", "", caller_id)
                or "anonymous", on_provisional=provisional, ring_timeout=ring_timeout, cancel=cancel,
            )
        except BaseException:
            leg.close("not answered")
            raise
        try:
            leg.accept(session.remote_sdp or b"")
        except Exception as error:
            await session.hangup("bad SDP answer")
            leg.close("bad SDP answer")
            raise RequestFailed(488, f"unusable answer: {error}") from error
        return leg, session

    def route_for(self, number: str, route_name: str | None) -> tuple[Trunk, str]:
        """The trunk and the number to send for an outside call (the dial plan checked who may use it)."""
        routes = self.config.routes
        candidates = [(route_name, routes[route_name])] if route_name in routes else list(routes.items())
        for _, route in candidates:
            if any(re.fullmatch(pattern, number) for pattern in route.patterns):
                trunk = self.trunks.get(route.trunk)
                if trunk is not None:
                    return trunk, (route.prepend or "") + number[route.strip:]
        raise RequestFailed(404, "No Route")

    def route_allowed(self, agent_id: str, number: str) -> str | None:
        """The first outbound route that lets ``agent_id`` dial ``number``, or None (toll fraud stops here)."""
        groups = {name for name, members in self.config.groups.items() if agent_id in members}
        for name, route in self.config.routes.items():
            allowed = agent_id in route.allow.agents or bool(groups & set(route.allow.groups))
            if allowed and any(re.fullmatch(pattern, number) for pattern in route.patterns):
                return name
        return None

    async def call_number(self, number: str, route: str | None, *, ring_timeout: float | None = None,
                          caller_id: str | None = None, cancel: asyncio.Event | None = None,
                          ) -> tuple[LegMedia, SipSession]:
        """Call an outside number through the route's trunk; RequestFailed when it is not answered."""
        trunk, dialed = self.route_for(number, route)
        outbound = self.config.trunks[trunk.settings.name].outbound
        caller_id = (outbound.caller_id if outbound is not None and outbound.caller_id else None) or caller_id
        leg, offer = await self.media.offer()
        try:
            session = await trunk.invite(dialed, offer, ring_timeout=ring_timeout, caller_id=caller_id,
                                         cancel=cancel)
        except BaseException:
            leg.close("not answered")
            raise
        leg.accept(session.remote_sdp or b"")
        return leg, session
