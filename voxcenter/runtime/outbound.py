"""A call an agent places: to an outside number through a trunk its outbound route allows, or to another agent.

The far end is dialled first (the agent hears ringing, and the CANCEL goes out
if the agent gives up); when it answers, the agent's call is answered, both
legs are bridged and recorded (the agent on the left, as the one who called),
and a supervisor may monitor either agent (:mod:`voxcenter.runtime.supervise`).
The CDR says ``outbound`` or ``internal`` and names the caller by the identity
its phone authenticated with, whatever its From header says. A busy agent
gets 486, or takes a voicemail when ``internal_calls.busy`` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from voxcenter.config import Config
from voxcenter.ivr import RecordVoicemail
from voxcenter.media.bridge import Bridge as MediaBridge
from voxcenter.runtime.acd import AcdService
from voxcenter.runtime.call import Call, CallBridge, Leg
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError
from voxcenter.runtime.recording import CallRecording
from voxcenter.runtime.services import Consultations, Conversation, Records
from voxcenter.runtime.voicemail import record_voicemail
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession
from voxcenter.store.records import new_id

logger = structlog.get_logger(__name__)

EarlyMedia = Callable[[LegMedia], None]
"""Called with the far leg when its early media (a 183 with SDP) starts, before the answer."""
Dial = Callable[[asyncio.Event, EarlyMedia], Awaitable[tuple[LegMedia, SipSession]]]
"""Rings the far end (cancelled when the event is set); returns its answered leg or raises RequestFailed."""


class AgentCall:
    """See the module docstring; :meth:`outside` and :meth:`internal` build one."""

    def __init__(self, config: Config, dialer: Dialer, records: Records, session: SipSession, agent_id: str,
                 target: str, *, direction: str, far_role: str, trunk: str, dial: Dial,
                 consultations: Consultations | None = None, acd: AcdService | None = None) -> None:
        self.config = config
        self.dialer = dialer
        self.records = records
        self.session = session
        self.agent_id = agent_id
        self.target = target
        self.far_role = far_role
        self.dial = dial
        self.consultations = consultations
        self.acd = acd
        """Told the calling agent is busy on this call (no queue call rings their phone meanwhile)."""
        """Where an attended transfer from the agent's other call finds this one (RFC 3891 Replaces)."""
        self._far: Leg | None = None
        self._handed_over = asyncio.Event()
        self.call_id = new_id()
        self.log = records.call_log(call_id=self.call_id, direction=direction, from_number=agent_id,
                                    to_number=target, trunk=trunk, sip_call_id=session.call_id)

    @classmethod
    def outside(cls, config: Config, dialer: Dialer, records: Records, session: SipSession, agent_id: str,
                number: str, route: str, consultations: Consultations | None = None,
                acd: AcdService | None = None) -> AgentCall:
        [(trunk, _), *_] = dialer.route_for(number, route)
        return cls(config, dialer, records, session, agent_id, number, direction="outbound", far_role="callee",
                   trunk=trunk.settings.name,
                   dial=lambda cancel, early: dialer.call_number(number, route, ring_timeout=90.0,
                                                                 caller_id=agent_id, cancel=cancel,
                                                                 on_early_media=early),
                   consultations=consultations, acd=acd)

    @classmethod
    def internal(cls, config: Config, dialer: Dialer, records: Records, acd: AcdService, session: SipSession,
                 agent_id: str, extension: str, consultations: Consultations | None = None) -> AgentCall:
        settings = config.internal_calls

        async def dial(cancel: asyncio.Event, _: EarlyMedia) -> tuple[LegMedia, SipSession]:
            busy = acd.busy_status(extension, paused_reachable=settings.paused_reachable)
            if busy is not None:
                raise RequestFailed(busy, "Busy Here" if busy == 486 else "Temporarily Unavailable")
            leg, answered = await dialer.call_extension(extension, caller_id=agent_id, cancel=cancel,
                                                        ring_timeout=settings.ring_timeout)
            acd.engage(extension)
            answered.ended.add_done_callback(lambda _: acd.disengage(extension))
            return leg, answered

        return cls(config, dialer, records, session, agent_id, extension, direction="internal", far_role="agent",
                   trunk="", dial=dial, consultations=consultations, acd=acd)

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(call_id=self.call_id):
            logger.info("call.placed", agent=self.agent_id, to=self.target, direction=self.log.cdr.direction)
            if self.consultations is not None:
                self.consultations.calls[self.session.call_id] = self
            if self.acd is not None:
                self.acd.engage(self.agent_id)
            try:
                await self._run()
            finally:
                if self.consultations is not None:
                    self.consultations.calls.pop(self.session.call_id, None)
                if self.acd is not None:
                    self.acd.disengage(self.agent_id)

    # --- as a consultation (attended transfer) ----------------------------------------------------------------------

    def matches(self, local_tag: str | None, remote_tag: str | None) -> bool:
        ours = {self.session.local_tag, self.session.invite.from_.tag}
        return {tag for tag in (local_tag, remote_tag) if tag} <= ours

    def hand_over(self) -> Leg | None:
        far = self._far
        if far is None or far.session.is_ended or self._handed_over.is_set():
            return None
        self._handed_over.set()
        return far

    async def _run(self) -> None:
        dialer, session = self.dialer, self.session
        if not session.remote_sdp:
            session.reject(488, "Offer Required")
            self.log.finish("rejected", hangup_by="system", cause="no SDP offer")
            return
        session.ring()
        try:  # the agent's media first: the far end's early media (ringback, announcements) reaches it
            agent_leg, answer = await dialer.media.answer(session.remote_sdp, transport=session.remote.transport)
        except MediaSetupError as error:
            session.reject(error.status, error.reason[:60])
            self.log.finish("failed", hangup_by="system", cause=error.reason)
            return
        gave_up = asyncio.Event()
        session.ended.add_done_callback(lambda _: gave_up.set())
        early: list[MediaBridge] = []

        def early_media(far_leg: LegMedia) -> None:
            session.ring(answer)  # 183 Session Progress with our SDP: the agent hears the far end from now
            relay = MediaBridge(agent_leg.session, far_leg.session)
            relay.start()
            early.append(relay)
            self.log.event("EARLYMEDIA", data={"to": self.target})

        try:
            far_leg, far = await self.dial(gave_up, early_media)
        except RequestFailed as failure:
            for relay in early:
                relay.stop()
            if self._takes_voicemail(failure) and not gave_up.is_set():
                agent_leg.close()
                await self._voicemail(failure)
                return
            agent_leg.close()
            status = failure.status if 400 <= failure.status < 700 and failure.status != 487 else 480
            session.reject(status, failure.reason[:60])
            self.log.finish("failed" if not gave_up.is_set() else "abandoned_ivr",
                            hangup_by="agent" if gave_up.is_set() else "system", cause=f"{failure.status}")
            return
        for relay in early:
            relay.stop()  # the call's bridge takes over, with the answer's media
        loop = asyncio.get_running_loop()
        call = Call(self.call_id, self.log, CallBridge(dialer.media.clock))
        agent = call.add(Leg("agent", self.agent_id, session, agent_leg))
        far_end = call.add(Leg(self.far_role, self.target, far, far_leg))
        self._far = far_end
        bridge = call.bridge
        bridge.join(agent)  # first: the agent, who called, is the recording's left channel
        bridge.join(far_end)
        far_side = "callee" if self.far_role == "callee" else "called"  # the role HOLD names on the timeline
        hold = BridgeHold(bridge, {"agent": agent_leg, far_side: far_leg}, music="moh",
                          language=self.config.prompts.default_language, log=self.log, clock=loop.time)
        session.on_offer = lambda request: hold.reoffer("agent", request.body)
        far.on_offer = lambda request: hold.reoffer(far_side, request.body)
        session.answer(answer)
        self.log.update(answered_at=self.log.now(), agent=self.agent_id if self.far_role == "callee" else self.target,
                        agent_answered_at=self.log.now(), trunk=far.trunk or self.log.cdr.trunk)
        recording = CallRecording.start(self.config, self.call_id, bridge, self.log)
        if recording is not None:
            agent_leg.on_digit = recording.agent_keys(self.config.recording, self.agent_id)
        bridge.start()
        handed_over: asyncio.Future[object] = asyncio.ensure_future(self._handed_over.wait())
        ends: list[asyncio.Future[object]] = [session.ended, far.ended, handed_over]  # type: ignore[list-item]
        with self.records.conversation(Conversation(self.call_id, call, self.log, None, far)):
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        handed_over.cancel()
        transferred = self._handed_over.is_set()
        by_agent = session.ended.done() and not transferred
        hold_seconds = hold.close()
        bridge.stop()
        call.finish(loop.time())
        if transferred:  # the far party now talks to the agent's other caller: only the agent's leg ends here
            await session.hangup("transferred")
        else:
            await (far.hangup("agent hung up") if by_agent else session.hangup("far end hung up"))
            far_leg.close()
        agent_leg.close()
        if recording is not None:
            await recording.finish(self.records.sink)
        self.log.finish("answered", hangup_by="agent" if by_agent or transferred else "far_end",
                        cause="transferred" if transferred else "agent hung up" if by_agent else "far end hung up",
                        talk_seconds=far_end.talk_seconds, hold_seconds=hold_seconds)

    def _takes_voicemail(self, failure: RequestFailed) -> bool:
        return (self.far_role == "agent" and self.config.internal_calls.busy == "voicemail"
                and failure.status in (486, 480, 408))

    async def _voicemail(self, failure: RequestFailed) -> None:
        """The called agent is busy or away: a message for their mailbox instead."""
        session = self.session
        assert session.remote_sdp is not None
        try:
            leg, answer = await self.dialer.media.answer(session.remote_sdp,
                                                          transport=session.remote.transport)
        except MediaSetupError as error:
            session.reject(error.status, error.reason[:60])
            self.log.finish("failed", hangup_by="system", cause=error.reason)
            return
        session.on_info = lambda request: leg.info_received(request.content_type or "", request.body)
        session.answer(answer)
        await session.confirmed.wait()
        self.log.update(answered_at=self.log.now())
        digit_handler: list[Callable[[str], None] | None] = [None]
        leg.on_digit = lambda event: digit_handler[0](event.digit) if digit_handler[0] is not None else None

        def route_digits(handler: Callable[[str], None] | None) -> None:
            digit_handler[0] = handler

        action = RecordVoicemail(mailbox=self.target, max_length=120.0, silence_stop=5.0, beep=True)
        await record_voicemail(leg, session, action, log=self.log, sink=self.records.sink,
                               directory=Path(self.config.recording.directory), route_digits=route_digits)
        await session.hangup("voicemail recorded")
        leg.close()
        self.log.finish("voicemail", hangup_by="caller" if session.ended.done() and
                        session.ended.result().by_remote else "system", cause=f"{failure.status}")
