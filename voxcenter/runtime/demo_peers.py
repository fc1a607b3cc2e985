"""Simulated people for ``voxcenter demo``: agents on softphones and callers on a carrier, over real SIP and RTP.

Both are built from voxcenter's own SIP endpoint and media legs, on loopback. An agent's phone registers with
digest, logs in with the login feature code, rings for a random while before answering, speaks (a tone) for a
random handle time and hangs up; the queue's wrap-up follows. A caller arrives from the carrier address, speaks
(another tone), presses keys through the menu as RFC 4733 telephone-events, and hangs up when its patience runs
out before an agent answers (an abandon) or when the agent ends the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from voxcenter.media.dtmf import Rfc4733Sender
from voxcenter.media.player import MediaClock, Player
from voxcenter.media.ports import PortPool
from voxcenter.media.prompts import PromptLibrary
from voxcenter.runtime.legmedia import LegMedia, tone_frames
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import EndpointSettings, Listener, RequestFailed, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import NameAddr, SipUri

logger = structlog.get_logger(__name__)

AGENT_HZ = 660.0
CALLER_HZ = 440.0
PRESS_SECONDS = 0.12


@dataclass(slots=True)
class PeerMedia:
    """What the simulated peers share: their own RTP port pool, a media clock, and (unused) prompts."""

    pool: PortPool
    clock: MediaClock
    prompts: PromptLibrary


def _speak(leg: LegMedia, clock: MediaClock, frequency: float) -> Player:
    """Send a tone for as long as the call lasts (the peer's voice)."""
    player = Player(leg.session, [tone_frames(leg.session.codec, frequency, 1.0)], clock, loop_forever=True)
    player.start()
    return player


async def press(leg: LegMedia, digit: str) -> None:
    """One key press as RFC 4733 telephone-events (RFC 4733 §2.5: start with marker, three end packets)."""
    session = leg.session
    event_pt = session.telephone_event_pt
    if event_pt is None:
        return
    loop = asyncio.get_running_loop()
    start = loop.time()
    timestamp = session.talkspurt_timestamp()
    for packet in Rfc4733Sender(clock_rate=session.codec.clock_rate).packets(digit, PRESS_SECONDS, timestamp):
        delay = start + packet.send_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        session.send_at(packet.payload, event_pt, packet.timestamp, packet.marker)


@dataclass
class DemoAgent:
    """An agent's softphone: register, log in, answer after a random ring, talk, hang up."""

    extension: str
    password: str
    server: Address
    media: PeerMedia
    rng: random.Random
    mean_handle: float
    login_code: str = "*45"
    answered: int = 0
    endpoint: SipEndpoint | None = None
    _calls: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        # Like a desk phone, it takes calls from its registrar without challenging them.
        settings = EndpointSettings(listeners=[Listener("udp", "127.0.0.1", 0)], realm="phone",
                                    user_agent=f"voxcenter-demo-agent-{self.extension}",
                                    trusted_networks={"registrar": ("127.0.0.0/8",)})
        self.endpoint = SipEndpoint(settings, credentials=lambda *_: None, application=self._incoming)
        await self.endpoint.start()
        status = await self._register()
        if status != 200:
            raise RuntimeError(f"agent {self.extension}: REGISTER answered {status}")
        await self._feature_code(self.login_code)

    async def stop(self) -> None:
        for task in list(self._calls):
            task.cancel()
        if self.endpoint is not None:
            await self.endpoint.stop()

    def _uri(self, user: str | None = None) -> SipUri:
        return SipUri("sip", user, None, self.server.host, self.server.port)

    async def _register(self) -> int:
        assert self.endpoint is not None
        response = await self.endpoint.request(
            "REGISTER", self._uri(), self.server, from_user=self.extension, to=NameAddr(self._uri(self.extension)),
            headers=[("Expires", "300")], credentials=DigestClient(self.extension, self.password),
        )
        return response.status

    async def _feature_code(self, code: str) -> None:
        assert self.endpoint is not None
        leg, offer = await LegMedia.offer(self.media.pool, "127.0.0.1", self.media.prompts, self.media.clock,
                                          inactivity_timeout=None)
        try:
            session = await self.endpoint.invite(self._uri(code), self.server, offer, from_user=self.extension,
                                                 credentials=DigestClient(self.extension, self.password),
                                                 ring_timeout=10)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(session.ended), 2.0)  # the confirmation tone, then BYE
            await session.hangup()
        finally:
            leg.close()

    async def _incoming(self, session: SipSession) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._calls.add(task)
        try:
            await self._take(session)
        finally:
            if task is not None:
                self._calls.discard(task)

    async def _take(self, session: SipSession) -> None:
        session.ring()
        ring = self.rng.uniform(0.5, 4.0)
        await asyncio.wait([session.ended], timeout=ring)
        if session.is_ended or not session.remote_sdp:
            return
        leg, answer = await LegMedia.answer(session.remote_sdp, self.media.pool, "127.0.0.1", self.media.prompts,
                                            self.media.clock, inactivity_timeout=None)
        try:
            session.answer(answer)
            self.answered += 1
            voice = _speak(leg, self.media.clock, AGENT_HZ)
            handle = min(4 * self.mean_handle, max(3.0, self.rng.expovariate(1 / self.mean_handle)))
            await asyncio.wait([session.ended], timeout=handle)
            voice.stop()
            await session.hangup("handled")
        finally:
            leg.close()


@dataclass
class CallerOutcome:
    """How one simulated call went, from the caller's side."""

    number: str
    keys: str = ""
    status: int | None = None
    bridged: bool = False
    abandoned: bool = False
    finished: bool = False
    """The call is over (from the caller's side)."""


class DemoCallers:
    """Callers from the carrier address: Poisson arrivals, menu keys, patience (see the module docstring)."""

    def __init__(self, host: str, server: Address, media: PeerMedia, rng: random.Random, *, number: str,
                 mean_patience: float, is_bridged: Callable[[str], bool]) -> None:
        self.host = host
        self.server = server
        self.media = media
        self.rng = rng
        self.number = number
        self.mean_patience = mean_patience
        self.is_bridged = is_bridged
        """Whether the call with this SIP Call-ID is talking to an agent (the simulation's only shortcut)."""
        self.outcomes: list[CallerOutcome] = []
        self.endpoint: SipEndpoint | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        settings = EndpointSettings(listeners=[Listener("udp", self.host, 0)], realm="carrier",
                                    user_agent="voxcenter-demo-carrier")
        self.endpoint = SipEndpoint(settings, credentials=lambda *_: None, application=self._refuse)
        await self.endpoint.start()

    @staticmethod
    async def _refuse(session: SipSession) -> None:
        session.reject(403, "Callers Do Not Take Calls")

    async def arrivals(self, rate_per_second: float, until: float) -> None:
        """Place calls with exponential gaps (a Poisson process) until the loop time ``until``.

        The first caller arrives at once: a short demo at a low rate (15 s at 12 a minute) would otherwise
        place no call at all in one run out of twenty.
        """
        loop = asyncio.get_running_loop()
        serial = 0
        gap = 0.0
        while True:
            if serial and loop.time() + gap >= until:
                return
            await asyncio.sleep(gap)
            gap = self.rng.expovariate(rate_per_second)
            serial += 1
            task = loop.create_task(self._call(f"+3315550{serial:04d}"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def finish(self, grace: float) -> None:
        """Let calls in progress end by themselves for up to ``grace`` seconds, then hang them up."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)

    async def stop(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()

    def _keys(self) -> str:
        """Menu keys: mostly sales (1), some support (2 then billing 1 or technical 2), a few none at all."""
        draw = self.rng.random()
        if draw < 0.1:
            return ""
        if draw < 0.7:
            return "1"
        return "2" + self.rng.choice("12")

    async def _call(self, caller_number: str) -> None:
        assert self.endpoint is not None
        outcome = CallerOutcome(caller_number, self._keys())
        self.outcomes.append(outcome)
        leg, offer = await LegMedia.offer(self.media.pool, self.host, self.media.prompts, self.media.clock,
                                          inactivity_timeout=None)
        session: SipSession | None = None
        try:
            try:
                session = await self.endpoint.invite(SipUri("sip", self.number, None, self.server.host,
                                                            self.server.port), self.server, offer,
                                                     from_user=caller_number, ring_timeout=20)
            except RequestFailed as failure:
                outcome.status = failure.status
                return
            outcome.status = 200
            leg.accept(session.remote_sdp or b"")
            voice = _speak(leg, self.media.clock, CALLER_HZ)
            await self._menu(leg, session, outcome.keys)
            patience = self.rng.expovariate(1 / self.mean_patience)
            loop = asyncio.get_running_loop()
            give_up = loop.time() + (patience if outcome.keys else self.rng.uniform(2.0, 6.0))
            while not session.is_ended and loop.time() < give_up:
                if self.is_bridged(session.call_id):
                    outcome.bridged = True
                    await session.ended  # the agent ends the conversation
                    break
                await asyncio.sleep(0.1)
            voice.stop()
            if not session.is_ended:
                outcome.abandoned = True
                await session.hangup("caller gave up")
        except asyncio.CancelledError:
            if session is not None and not session.is_ended:
                await session.hangup("demo over")
            raise
        finally:
            outcome.finished = True
            leg.close()

    async def _menu(self, leg: LegMedia, session: SipSession, keys: str) -> None:
        """Listen to the start of the menu, then press the keys with a pause between them."""
        for digit in keys:
            await asyncio.wait([session.ended], timeout=self.rng.uniform(1.5, 3.0))
            if session.is_ended:
                return
            await press(leg, digit)
