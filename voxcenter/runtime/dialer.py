"""Placing outbound legs: an agent's registered phone, or an outside number through a route's trunk.

Deciding *who* may dial *what* is the dial plan's outbound routes (``route_allowed``);
nothing reaches a trunk without having passed it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping

import structlog

from voxcenter.config import Config
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.services import MediaService
from voxcenter.sip.endpoint import RequestFailed, SipEndpoint
from voxcenter.sip.message import Response
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.trunks import Trunk

logger = structlog.get_logger(__name__)


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
            leg, offer = await self.media.offer(destination.transport)
        except Exception as error:
            raise RequestFailed(503, f"no media: {error}") from error

        def provisional(response: object) -> None:
            if on_alerting is not None and getattr(response, "status", 0) in (180, 183):
                on_alerting()

        try:
            session = await self.endpoint.invite(
                binding.contact.uri, destination, offer, from_user=re.sub(r"[^0-9A-Za-z+*#._-]", "", caller_id)
                or "anonymous", on_provisional=provisional, ring_timeout=ring_timeout, cancel=cancel,
                agent_leg=True,
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

    def route_for(self, number: str, route_name: str | None) -> list[tuple[Trunk, str]]:
        """The trunks (in failover order) and the number to send for an outside call (the dial plan checked
        who may use the route); RequestFailed(404) when no route matches."""
        routes = self.config.routes
        candidates = [(route_name, routes[route_name])] if route_name in routes else list(routes.items())
        for _, route in candidates:
            if any(re.fullmatch(pattern, number) for pattern in route.patterns):
                dialed = (route.prepend or "") + number[route.strip:]
                trunks = [self.trunks.get(name) for name in (route.trunk, *route.failover)]
                usable = [(trunk, dialed) for trunk in trunks if trunk is not None]
                if usable:
                    return usable
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
                          on_early_media: Callable[[LegMedia], None] | None = None,
                          ) -> tuple[LegMedia, SipSession]:
        """Call an outside number through the route's trunks, in failover order; RequestFailed when none
        answers. The answered session's ``trunk`` names the trunk that carried the call.

        A 183 with SDP (the carrier's ringback or announcement) opens the leg's media early:
        ``on_early_media`` gets the leg, once, and may bridge it before the answer."""
        failure = RequestFailed(404, "No Route")
        for trunk, dialed in self.route_for(number, route):
            name = trunk.settings.name
            outbound = self.config.trunks[name].outbound
            shown = (outbound.caller_id if outbound is not None and outbound.caller_id else None) or caller_id
            leg, offer = await self.media.offer()
            progress = _Progress(leg, on_early_media)
            try:
                session = await trunk.invite(dialed, offer, ring_timeout=ring_timeout, caller_id=shown,
                                             cancel=cancel, on_provisional=progress.provisional)
            except RequestFailed as error:
                leg.close("not answered")
                failure = error
                # A far end that rang (180/183) and did not answer is the callee, not the trunk: no failover.
                if (error.status not in FAILOVER_STATUSES or progress.alerted
                        or (cancel is not None and cancel.is_set())):
                    raise
                logger.warning("trunk.failover", trunk=name, status=error.status, reason=error.reason)
                continue
            except OSError as error:  # the trunk's host does not resolve
                leg.close("not answered")
                failure = RequestFailed(503, f"trunk {name}: {error}")
                logger.warning("trunk.failover", trunk=name, status=503, reason=str(error))
                continue
            except BaseException:
                leg.close("not answered")
                raise
            session.trunk = name
            leg.accept(session.remote_sdp or b"")
            return leg, session
        raise failure


class _Progress:
    """The 1xx of one attempt: whether the far end alerted, and its early media (the first 183 with SDP opens
    the leg's media and goes to ``on_early_media``)."""

    def __init__(self, leg: LegMedia, on_early_media: Callable[[LegMedia], None] | None) -> None:
        self.leg = leg
        self.on_early_media = on_early_media
        self.alerted = False
        self._opened = False

    def provisional(self, response: Response) -> None:
        if response.status in (180, 181, 182, 183):
            self.alerted = True
        if self.on_early_media is None or self._opened or response.status != 183 or not response.body:
            return
        try:
            self.leg.accept(response.body)
        except Exception as error:  # an early answer we cannot use: wait for the real one
            logger.info("call.early_media_refused", reason=str(error))
            return
        self._opened = True
        self.on_early_media(self.leg)


FAILOVER_STATUSES = frozenset({408, 500, 502, 503, 504})
"""A trunk answering one of these before any ringing (or down, or silent until Timer B: 408) passes the call
to the next one."""
