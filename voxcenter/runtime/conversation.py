"""The caller's conversation with agents: bridging, hold, transfers and conferences.

This is the half of an inbound call that comes after the IVR and the queue.
The caller's leg and each agent's or outside party's leg belong to the call
(:class:`~voxcenter.runtime.call.Call`) and talk in its one bridge; the
agent's phone can hold, transfer blind (REFER, RFC 3515) or attended (REFER
with Replaces, RFC 3891), or add a party with the conference code (three or
more legs meet in the mixer). Events for the call's driving loop (a party
hung up, a transfer sent the caller back to the IVR) go on ``inputs``.
:class:`~voxcenter.runtime.inbound.InboundCall` is built on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import structlog

from voxcenter.acd.events import Ender
from voxcenter.config import Config
from voxcenter.runtime.acd import AcdService
from voxcenter.runtime.call import Call, CallBridge, Leg
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.customers import CustomerDirectory
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.featurecodes import InCallKeys
from voxcenter.runtime.forward import RouterLink
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.recording import CallRecording
from voxcenter.runtime.services import Consultations, MediaService, Records
from voxcenter.runtime.surveys import SurveySampler
from voxcenter.runtime.transfer import (
    TargetKind,
    TransferRefused,
    TransferTarget,
    parse_refer_to,
    queue_node,
    resolve_target,
)
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.message import Request
from voxcenter.sip.session import SipSession

logger = structlog.get_logger(__name__)

BYE_WAIT = 5.0
"""How long a hang-up waits for the BYE's answer before the call's records are finished anyway."""
MEDIA_TIMEOUT_CAUSE = "media timeout: no RTP from the caller"
"""The CDR's ``hangup_cause`` when voxcenter hung up a caller whose audio stopped (``hangup_by: system``)."""


@dataclass(frozen=True, slots=True)
class CallServices:
    """What an inbound call is handed: it never sees the server."""

    media: MediaService
    """Opens the legs' media."""
    dialer: Dialer
    """Rings agents and outside numbers (IVR transfers)."""
    acd: AcdService
    """Queues and agents."""
    records: Records
    """Where the CDR, timeline, surveys and callbacks go."""
    customers: CustomerDirectory
    """Caller lookup for the IVR's ``lookup`` node."""
    consultations: Consultations
    """Agents' own calls, where an attended transfer (REFER with Replaces) finds the party to connect."""
    surveys: SurveySampler = field(default_factory=SurveySampler)
    """Which answered calls go to their queue's post-call survey."""
    router: RouterLink | None = None
    """Where callers are queued when the nodes share one ACD router (``cluster.shared_queues``); None: here."""


@dataclass(eq=False)
class DeskConsult:
    """A consultation the agent page started: the caller on hold, the agent's phone talks to ``target``."""

    target: TransferTarget
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to stop ringing the target (the agent went back to the caller, or the call ended)."""
    guest: Leg | None = None
    """The target's leg once it answered."""
    bridge: CallBridge | None = None
    """The agent's and the target's legs, while they talk (the call's own bridge is held meanwhile)."""

    @property
    def phase(self) -> str:
        return "ringing" if self.guest is None else "talking"


class Conversation:
    """The conversation half of an inbound call (see the module docstring); the state is the call's."""

    services: CallServices
    acd: AcdService
    records: Records
    config: Config
    session: SipSession
    """The caller's SIP side."""
    call_id: str
    log: CallLog
    call: Call
    leg: LegMedia | None
    """The caller's media."""
    inputs: asyncio.Queue[tuple[str, object]]
    queue: str | None
    language: str
    agent_id: str | None
    agent_leg: LegMedia | None
    agent_session: SipSession | None
    bridge: CallBridge | None
    """The call's bridge once the caller is connected to someone."""
    hold: BridgeHold | None
    recording: CallRecording | None
    connected_at: float | None
    disposition: str
    hangup_by: str | None
    cause: str | None
    agent: Leg | None
    _hold_before: float
    _agent_in_acd: bool
    _blind: asyncio.Task[None] | None
    _consult: DeskConsult | None
    _caller_gone: asyncio.Event
    _keys: InCallKeys
    _tasks: set[asyncio.Task[None]]

    def _connect(self, agent_id: str, agent_leg: LegMedia, agent_session: SipSession, role: str = "agent") -> None:
        """The caller talks to ``agent_id`` (an agent, or whoever a transfer reached) from now on."""
        assert self.leg is not None
        if self.agent_id is None:
            self.agent_id = agent_id  # the CDR's agent: who took the call first
        self.agent_leg, self.agent_session = agent_leg, agent_session
        self.disposition = "answered"
        self.connected_at = asyncio.get_running_loop().time()
        self.bridge = self.call.bridge
        self.bridge.join(self.call.legs[0])
        self.agent = self.call.add(Leg(role, agent_id, agent_session, agent_leg))
        self.bridge.join(self.agent)
        self._new_hold(agent_leg)
        self._start_recording("conversation")  # one recording per call: it follows the call through transfers
        self.bridge.start()
        agent_leg.on_timeout = lambda _: self.inputs.put_nowait(("agent-hangup", agent_session))
        agent_session.on_offer = lambda request: self._reoffer(agent_leg, request.body)
        agent_session.on_refer = lambda request: self._refer(request, agent_session)
        agent_leg.on_digit = lambda event: self._agent_key(agent_session, event.digit)
        self._watch(agent_session, "agent-hangup")

    def _start_recording(self, moment: str) -> None:
        """Start the call's one recording if the dial plan records it from ``moment``: ``answer`` (the number
        records ``everything``), ``queue`` (the queue does), ``conversation`` (unless the number or the queue
        says ``off``; a number's ``everything`` wins over its queue)."""
        if self.recording is not None:
            return
        number = self.config.numbers.get(self.session.called)
        by_number = number.record if number is not None else "conversation"
        queue = self.config.queues.get(self.queue or "")
        by_queue = queue.record if queue is not None else "conversation"
        wanted = by_number == "everything" or {
            "answer": False,
            "queue": by_queue == "everything",
            "conversation": by_queue != "off",
        }[moment]
        if by_number == "off" or not wanted:
            return
        self.recording = CallRecording.start(self.config, self.call_id, self.call.bridge, self.log)
        if self.recording is not None and self.leg is not None:
            bridge = self.call.bridge
            self.recording.follow(self.leg, lambda: bridge.active)
            if moment != "conversation":  # the file starts before the agent answers: the timeline says where
                self.log.event("RECORDING", queue=self.queue, data={"from": moment})

    def _new_hold(self, agent_leg: LegMedia) -> None:
        """Hold for the conversation of the caller and ``agent_leg`` (the previous one's time is kept)."""
        assert self.leg is not None
        if self.hold is not None:
            self._hold_before += self.hold.close()
        queue = self.config.queues.get(self.queue or "")
        music = (queue.announcements.music_on_hold if queue is not None else None) or "moh"
        self.hold = BridgeHold(self.call.bridge, {"caller": self.leg, "agent": agent_leg}, music=music,
                               language=self.language, log=self.log, clock=asyncio.get_running_loop().time,
                               queue=self.queue)

    async def _bridged(self) -> str | None:
        """Wait until either side hangs up, then end the other side; or return the IVR node a transfer chose."""
        while True:
            kind, value = await self.inputs.get()
            if kind == "to-node":
                return str(value)
            if kind == "party-left":
                assert isinstance(value, Leg)
                self.call.bridge.leave(value)  # a conference guest hung up: the others go on
                continue
            if kind == "agent-hangup" and (value is not self.agent_session or self._blind is not None):
                continue  # a transferring agent's phone: the transfer decides what happens to the caller
            if kind == "agent-hangup" and self._hand_to_guest():
                continue
            if kind in ("caller-hangup", "media-timeout", "agent-hangup", "agent-gone", "system-hangup"):
                break
        loop = asyncio.get_running_loop()
        ender = Ender.AGENT if kind in ("agent-hangup", "agent-gone") else Ender.CALLER
        far_end = ender is Ender.AGENT and self.agent is not None and self.agent.role == "callee"
        # A caller whose RTP stopped is hung up by voxcenter at the media timeout: the system ended the call.
        self.hangup_by = ("system" if kind in ("system-hangup", "media-timeout") else "far_end" if far_end
                          else ender.value)
        self.cause = {"media-timeout": MEDIA_TIMEOUT_CAUSE, "system-hangup": str(value)}.get(kind,
                                                                                          f"{ender.value} hung up")
        if ender is Ender.CALLER:
            self._caller_gone.set()
        self._drop_consult("call over")
        hold_seconds = self._hold_before + (self.hold.close() if self.hold is not None else 0.0)
        self.hold = None
        if self.bridge is not None:
            self.bridge.stop()
        talk_seconds = self.call.legs[0].talked(loop.time())
        self.log.update(talk_seconds=talk_seconds, hold_seconds=hold_seconds)
        survey = self._survey_node(talk_seconds) if ender is Ender.AGENT and not far_end else None
        if survey is not None:  # the caller stays on the line: the survey, then the IVR ends the call
            if self.agent_session is not None:
                await self.agent_session.hangup("agent hung up", wait=BYE_WAIT)
            self._release_agent(ender)
            self.log.event("SURVEY", queue=self.queue, agent=self.agent_id, data={"node": survey})
            return survey
        if ender is Ender.AGENT:
            await self.session.hangup("agent hung up", wait=BYE_WAIT)
        elif self.agent_session is not None:
            await self.agent_session.hangup("caller hung up", wait=BYE_WAIT)
        self._release_agent(ender)
        return None

    def _survey_node(self, talk_seconds: float) -> str | None:
        """The survey node this call goes to now that its agent hung up, or None (see ``runtime/surveys.py``)."""
        queue = self.config.queues.get(self.queue or "")
        if queue is None or queue.survey is None or queue.survey.node not in self.config.ivr:
            return None
        sampled = self.services.surveys.sample(self.queue or "", queue.survey, self.session.caller or None,
                                               talk_seconds, time.time())
        return queue.survey.node if sampled else None

    def _hand_to_guest(self) -> bool:
        """The agent left a conference: the caller goes on with the party the agent added (who talked to both
        first: an attended transfer). False when nobody else is there."""
        guests = [leg for leg in self.call.bridge.legs[1:] if leg is not self.agent and not leg.session.is_ended]
        if not guests or self.agent is None:
            return False
        transferor, guest = self.agent, guests[0]
        loop = asyncio.get_running_loop()
        self.log.event("ATTENDEDTRANSFER", queue=self.queue, agent=transferor.party,
                       value=self.call.legs[0].talked(loop.time()),
                       data={"target": guest.party, "kind": "agent" if guest.role == "agent" else "outside",
                             "via": "conference"})
        logger.info("call.attended_transfer", agent=transferor.party, target=guest.party, via="conference")
        self.call.bridge.leave(transferor)
        self._release_agent(Ender.AGENT)
        self.agent, self.agent_leg, self.agent_session = guest, guest.media, guest.session
        self._new_hold(guest.media)
        guest.session.on_offer = lambda request: self._reoffer(guest.media, request.body)
        guest.session.on_refer = lambda request: self._refer(request, guest.session)
        guest.media.on_digit = lambda event: self._agent_key(guest.session, event.digit)
        self._watch(guest.session, "agent-hangup")
        self.call.bridge.start()
        return True

    # --- conference: the agent adds a party ----------------------------------------------------------------------

    def _agent_key(self, session: SipSession, digit: str) -> None:
        """A key from the agent's phone: the recording's pause and resume codes; the conference code, a number
        and ``#`` add that party to the call."""
        if session is not self.agent_session:
            return
        keyed = self._keys.feed(digit)
        if keyed is None:
            return
        agent = self.agent.party if self.agent is not None else None
        if keyed.name == "pause_recording":
            self.pause_recording("agent", agent)
        elif keyed.name == "resume_recording":
            self.resume_recording("agent", agent)
        elif keyed.name == "conference":
            self._spawn(self._add_party(keyed.number))

    def desk_conference(self, agent_id: str, number: str) -> TransferTarget:
        """The agent page adds ``number`` to the conversation (as ``*3`` and the number would): LookupError when
        ``agent_id`` is not the one talking; TransferRefused when the dial plan does not let it call that."""
        if self.agent is None or self.agent.party != agent_id or self.bridge is None:
            raise LookupError(f"agent {agent_id} is not talking on this call")
        target = resolve_target(self.config, agent_id, number, self.services.dialer.route_allowed(agent_id, number))
        if target.kind is TargetKind.NODE:
            raise TransferRefused(403, "A Conference Needs A Person")
        self._spawn(self._add_party(number))
        return target

    def desk_hold(self, agent_id: str, held: bool) -> bool:
        """The agent page holds or resumes the call (the caller hears music meanwhile); LookupError: the agent is
        not the one talking to the caller; False when it is so already."""
        if self.hold is None or self.agent is None or self.agent.party != agent_id:
            raise LookupError(f"agent {agent_id} is not talking on this call")
        return self.hold.desk_hold("agent", held)

    def pause_recording(self, by: str, who: str | None = None) -> bool:
        """Silence in the recording from now on (``by`` agent, api or ivr); LookupError: the call is not
        recorded; False when already paused."""
        if self.recording is None:
            raise LookupError("the call is not being recorded")
        return self.recording.pause(by, who)

    def resume_recording(self, by: str, who: str | None = None) -> bool:
        """Record again; LookupError: the call is not recorded; False when not paused."""
        if self.recording is None:
            raise LookupError("the call is not being recorded")
        return self.recording.resume(by, who)

    async def _add_party(self, user: str) -> None:
        """Ring ``user`` and join them to the conversation: three or more legs meet in the mixer."""
        agent = self.agent.party if self.agent is not None else ""
        try:
            target = resolve_target(self.config, agent, user, self.services.dialer.route_allowed(agent, user))
            if target.kind is TargetKind.NODE:
                raise TransferRefused(403, "A Conference Needs A Person")
            leg, answered = await self._ring_target(target)
        except (TransferRefused, RequestFailed) as failure:
            status = failure.status
            self.log.event("CONFERENCEFAILED", agent=agent, data={"target": user, "status": status})
            logger.info("call.conference_failed", target=user, status=status)
            return
        if self.bridge is None or self.session.is_ended:
            await answered.hangup("call over")
            leg.close()
            return
        guest = self.call.add(Leg("agent" if target.kind is TargetKind.AGENT else "callee", target.target,
                                  answered, leg))
        self.call.bridge.join(guest)
        self.log.event("CONFERENCE", agent=agent, data={"target": target.target, "kind": target.kind.value})
        logger.info("call.conference", agent=agent, target=target.target, parties=len(self.call.bridge.legs))

        def left(_: object) -> None:
            if guest is not self.agent:
                self.inputs.put_nowait(("party-left", guest))

        answered.ended.add_done_callback(left)

    def _release_agent(self, ender: Ender) -> None:
        """Tell the ACD the queue agent's part of the call is over (wrap-up starts); once."""
        if self._agent_in_acd:
            self._agent_in_acd = False
            self.acd.call_ended(self.call_id, ender)

    def _reoffer(self, leg: LegMedia | None, body: bytes) -> bytes | None:
        """A re-INVITE from either phone (hold, resume, a new address): answer it and re-anchor the bridge."""
        if leg is None or not body:
            return None
        if self.hold is not None:
            return self.hold.reoffer("agent" if leg is self.agent_leg else "caller", body)
        answer = leg.answer_reoffer(body)
        if answer is not None and self.bridge is not None:
            self.bridge.start()  # take the legs' codecs and addresses as they are now
        self.log.event("REINVITE", data={"leg": "agent" if leg is self.agent_leg else "caller",
                                         "accepted": answer is not None})
        return answer

    def _watch(self, session: SipSession, kind: str) -> None:
        def ended(_: object) -> None:
            if kind == "caller-hangup":
                self._caller_gone.set()
            self.inputs.put_nowait((kind, session))

        session.ended.add_done_callback(ended)

    # --- transfers from the agent's phone ---------------------------------------------------------------------------

    def _refer(self, request: Request, session: SipSession) -> int:
        """The agent's phone sent REFER: check the target, answer 202, carry the transfer out in the background."""
        if session is not self.agent_session:
            return 403
        if self._blind is not None:
            return 491  # Request Pending: one transfer at a time
        agent = self.agent.party if self.agent is not None else ""
        try:
            refer = parse_refer_to(request)
            if refer.replaces is not None:
                return self._refer_replacing(session, refer.replaces)
            target = resolve_target(self.config, agent, refer.user,
                                    self.services.dialer.route_allowed(agent, refer.user))
        except TransferRefused as refused:
            logger.info("call.transfer_refused", status=refused.status, reason=refused.reason)
            return refused.status
        self._blind = self._spawn(self._blind_transfer(session, target))
        return 202

    def desk_transfer(self, agent_id: str, number: str) -> TransferTarget:
        """The agent page transfers the caller blind to ``number`` (as the phone's REFER would, without its
        NOTIFYs): LookupError when ``agent_id`` is not the one talking; TransferRefused with the reason."""
        if self.agent is None or self.agent.party != agent_id or self.agent_session is None:
            raise LookupError(f"agent {agent_id} is not talking on this call")
        if self._blind is not None:
            raise TransferRefused(491, "A Transfer Is Under Way")
        target = resolve_target(self.config, agent_id, number, self.services.dialer.route_allowed(agent_id, number))
        self._blind = self._spawn(self._blind_transfer(self.agent_session, target, notify=False))
        return target

    # --- a consultation from the agent page (attended transfer) ---------------------------------------------------

    def desk_consult(self, agent_id: str, number: str) -> TransferTarget:
        """The agent page holds the caller (music) and rings ``number``; once it answers the agent's phone talks
        to it, until :meth:`desk_consult_end` completes the transfer or goes back to the caller. LookupError: the
        agent is not the one talking; TransferRefused: not a person this agent may call, or one consultation or
        transfer is already under way."""
        if self.agent is None or self.agent.party != agent_id or self.agent_session is None or self.hold is None:
            raise LookupError(f"agent {agent_id} is not talking on this call")
        if self._blind is not None or self._consult is not None:
            raise TransferRefused(491, "A Transfer Is Under Way")
        target = resolve_target(self.config, agent_id, number, self.services.dialer.route_allowed(agent_id, number))
        if target.kind is TargetKind.NODE:
            raise TransferRefused(403, "A Consultation Needs A Person")
        consult = self._consult = DeskConsult(target)
        self.hold.desk_hold("agent", True)
        self.log.event("CONSULT", queue=self.queue, agent=agent_id,
                       data={"target": target.target, "kind": target.kind.value})
        logger.info("call.consult", agent=agent_id, target=target.target, by="page")
        self._spawn(self._consult_with(consult))
        return target

    def consult_view(self) -> tuple[str, str] | None:
        """Whom the agent consults and ``ringing`` or ``talking``; None when it does not."""
        consult = self._consult
        return None if consult is None else (consult.target.target, consult.phase)

    async def _consult_with(self, consult: DeskConsult) -> None:
        try:
            leg, answered = await self._ring_target(consult.target, consult.cancel)
        except RequestFailed as failure:
            self.log.event("CONSULTFAILED", agent=self.agent.party if self.agent is not None else None,
                           data={"target": consult.target.target, "status": failure.status})
            logger.info("call.consult_failed", target=consult.target.target, status=failure.status)
            if self._consult is consult:
                self._back_to_caller(consult)
            return
        if self._consult is not consult or self.agent is None or self.session.is_ended:
            await answered.hangup("consultation over", wait=BYE_WAIT)
            leg.close()
            return
        guest = Leg("agent" if consult.target.kind is TargetKind.AGENT else "callee", consult.target.target,
                    answered, leg)
        bridge = CallBridge(self.call.bridge.clock)
        bridge.join(self.agent)
        bridge.join(guest)
        bridge.start()
        consult.guest, consult.bridge = guest, bridge
        logger.info("call.consulting", target=guest.party)

        def gone(_: object) -> None:  # the target hung up: the agent talks to the caller again
            if self._consult is consult:
                self._back_to_caller(consult)

        answered.ended.add_done_callback(gone)

    def desk_consult_end(self, agent_id: str, complete: bool) -> None:
        """``complete``: the caller talks to the consulted party and the agent's phone is let go (an attended
        transfer); else the consulted party is hung up and the agent talks to the caller again. LookupError: no
        consultation of this agent; TransferRefused: completing before the target answered."""
        consult = self._consult
        if consult is None or self.agent is None or self.agent.party != agent_id:
            raise LookupError(f"agent {agent_id} consults nobody on this call")
        if not complete:
            self._back_to_caller(consult)
            return
        if consult.guest is None:
            raise TransferRefused(409, f"{consult.target.target} Has Not Answered Yet")
        self._consult = None
        if consult.bridge is not None:
            consult.bridge.stop()
        self._blind = self._spawn(self._complete_consult(consult.guest))

    def _back_to_caller(self, consult: DeskConsult) -> None:
        """End the consultation: the target is hung up (or no longer rung), the caller taken off hold."""
        self._consult = None
        self._end_consult_leg(consult, "consultation over")
        self.log.event("CONSULTEND", agent=self.agent.party if self.agent is not None else None,
                       data={"target": consult.target.target})
        if self.hold is not None:
            self.hold.desk_hold("agent", False)

    def _drop_consult(self, reason: str) -> None:
        consult, self._consult = self._consult, None
        if consult is not None:
            self._end_consult_leg(consult, reason)

    def _end_consult_leg(self, consult: DeskConsult, reason: str) -> None:
        consult.cancel.set()
        if consult.bridge is not None:
            consult.bridge.stop()
        guest = consult.guest
        if guest is not None and not guest.session.is_ended:
            async def hang_up() -> None:
                await guest.session.hangup(reason, wait=BYE_WAIT)
                guest.media.close()

            self._spawn(hang_up())

    async def _complete_consult(self, guest: Leg) -> None:
        loop = asyncio.get_running_loop()
        transferor = self.agent
        assert transferor is not None and self.leg is not None and self.agent_session is not None
        session = self.agent_session
        try:
            self.log.event("ATTENDEDTRANSFER", queue=self.queue, agent=transferor.party,
                           value=self.call.legs[0].talked(loop.time()),
                           data={"target": guest.party, "kind": "agent" if guest.role == "agent" else "outside",
                                 "by": "page"})
            logger.info("call.attended_transfer", agent=transferor.party, target=guest.party, by="page")
            if self.hold is not None:
                self._hold_before += self.hold.close()
                self.hold = None
            self.call.bridge.leave(transferor)
            self.leg.stop()
            self._connect(guest.party, guest.media, guest.session, role=guest.role)
            await self._transferor_done(session, 200, "OK", notify=False)
        finally:
            self._blind = None

    def _refer_replacing(self, session: SipSession, replaces: str) -> int:
        """An attended transfer (RFC 3891): the agent's phone consulted someone on another call and now joins
        the caller to that party."""
        # Not 481: that answer to a request inside a dialog would end the dialog itself (RFC 5057 §5.1).
        consultation = self.services.consultations.find(replaces)
        if consultation is None:
            logger.info("call.transfer_refused", status=404, reason="no such consultation", replaces=replaces)
            return 404
        target = consultation.hand_over()
        if target is None:
            return 404
        self._blind = self._spawn(self._attended_transfer(session, target))
        return 202

    async def _attended_transfer(self, session: SipSession, target: Leg) -> None:
        loop = asyncio.get_running_loop()
        transferor = self.agent
        assert transferor is not None and self.leg is not None
        try:
            self.log.event("ATTENDEDTRANSFER", queue=self.queue, agent=transferor.party,
                           value=self.call.legs[0].talked(loop.time()),
                           data={"target": target.party, "kind": "agent" if target.role == "agent" else "outside"})
            logger.info("call.attended_transfer", agent=transferor.party, target=target.party)
            self.call.bridge.leave(transferor)
            self.leg.stop()
            self._connect(target.party, target.media, target.session, role=target.role)
            await self._transferor_done(session, 200, "OK")
        finally:
            self._blind = None

    async def _blind_transfer(self, session: SipSession, target: TransferTarget, *, notify: bool = True) -> None:
        """RFC 3515 with NOTIFY progress (``notify``: the phone sent a REFER): the caller hears music while the
        target rings, then talks to it."""
        loop = asyncio.get_running_loop()
        transferor = self.agent
        assert transferor is not None and self.leg is not None
        try:
            self.log.event("BLINDTRANSFER", queue=self.queue, agent=transferor.party,
                           value=self.call.legs[0].talked(loop.time()),
                           data={"target": target.target, "kind": target.kind.value})
            logger.info("call.blind_transfer", agent=transferor.party, target=target.target, kind=target.kind.value,
                        by="phone" if notify else "page")
            if notify:
                await session.notify_refer(100, "Trying", final=False)
            if self.hold is not None:
                self._hold_before += self.hold.close()
                self.hold = None
            self.call.bridge.leave(transferor)
            await self._music_for_caller()
            if target.kind is TargetKind.NODE:
                await self._transferor_done(session, 200, "OK", notify=notify)
                self.inputs.put_nowait(("to-node", target.target))
                return
            try:
                leg, answered = await self._ring_target(target)
            except RequestFailed as failure:
                await self._transfer_failed(session, transferor, target, failure, notify=notify)
                return
            self.leg.stop()
            self._connect(target.target, leg, answered, role="agent" if target.kind is TargetKind.AGENT else "callee")
            self.log.event("TRANSFER", agent=target.target, data={"kind": target.kind.value, "by": transferor.party})
            await self._transferor_done(session, 200, "OK", notify=notify)
        finally:
            self._blind = None

    async def _music_for_caller(self) -> None:
        assert self.leg is not None
        queue = self.config.queues.get(self.queue or "")
        music = (queue.announcements.music_on_hold if queue is not None else None) or "moh"
        await self.leg.play([music], self.language, loop=True)

    async def _ring_target(self, target: TransferTarget,
                           cancel: asyncio.Event | None = None) -> tuple[LegMedia, SipSession]:
        ring_timeout = self.config.transfers.ring_timeout
        dialer = self.services.dialer
        cancel = cancel or self._caller_gone
        if target.kind is TargetKind.AGENT:
            busy = self.acd.busy_status(target.target, paused_reachable=self.config.internal_calls.paused_reachable)
            if busy is not None:
                raise RequestFailed(busy, "Busy Here" if busy == 486 else "Temporarily Unavailable")
            leg, answered = await dialer.call_extension(target.target, caller_id=self.session.caller,
                                                        ring_timeout=ring_timeout, cancel=cancel)
            self.acd.engage(target.target)  # on this call now: busy for the queue's and others' direct calls
            answered.ended.add_done_callback(lambda _: self.acd.disengage(target.target))
            return leg, answered
        return await dialer.call_number(target.target, target.route, ring_timeout=ring_timeout,
                                        caller_id=self.session.caller, cancel=cancel)

    async def _transferor_done(self, session: SipSession, status: int, reason: str, *, notify: bool = True) -> None:
        """The final NOTIFY, then the transferring agent's phone is hung up and the ACD lets the agent go."""
        if notify:
            await session.notify_refer(status, reason, final=True)
        await session.hangup("transferred", wait=BYE_WAIT)
        self._release_agent(Ender.AGENT)

    async def _transfer_failed(self, session: SipSession, transferor: Leg, target: TransferTarget,
                               failure: RequestFailed, *, notify: bool = True) -> None:
        """The target did not answer: back to the transferring agent or into the queue, as the dial plan says."""
        self.log.event("TRANSFERFAILED", agent=transferor.party,
                       data={"target": target.target, "status": failure.status})
        logger.info("call.transfer_failed", target=target.target, status=failure.status)
        if self._caller_gone.is_set():
            if notify:
                await session.notify_refer(487, "Request Terminated", final=True)
            return
        node = queue_node(self.config, self.queue) if self.queue is not None else None
        if self.config.transfers.on_failure == "queue" and node is not None:
            await self._transferor_done(session, failure.status, failure.reason, notify=notify)
            self.inputs.put_nowait(("to-node", node))
            return
        if notify:
            await session.notify_refer(failure.status, failure.reason, final=True)
        assert self.leg is not None
        if not session.is_ended:  # the agent is still there: the caller talks to them again
            self.leg.stop()
            self.agent = transferor
            self.call.bridge.join(transferor)
            self._new_hold(transferor.media)
            self.call.bridge.start()
            return
        try:  # the agent's phone already hung up: ring it again
            leg, answered = await self.services.dialer.call_extension(
                transferor.party, caller_id=self.session.caller, ring_timeout=self.config.transfers.ring_timeout,
                cancel=self._caller_gone)
        except RequestFailed:
            self.inputs.put_nowait(("agent-gone", None))  # nobody left to talk to
            return
        self.leg.stop()
        self._connect(transferor.party, leg, answered)

    def _spawn(self, coroutine: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        with contextlib.suppress(Exception):
            logger.error("call.task_failed", error=repr(task.exception()))
