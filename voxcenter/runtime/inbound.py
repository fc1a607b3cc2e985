"""One inbound call from answer to hang-up: the IVR, the queue, the agent, the recording, the CDR.

The call answers the caller's offer, then runs the pure IVR interpreter:
its actions become prompts, queue entries, transfers and recordings; digits,
prompt ends, queue results and timers are fed back to it. When an agent
answers, the conversation takes over (``conversation.py``: the call's bridge,
hold, transfers, conferences; one stereo recording), and a transfer may hand
the caller back to the IVR at another node. Whatever ends the call, the
``finally`` writes the last CDR version: every call is accounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import structlog

from voxcenter.acd.events import Announce, Bridge, CallbackQueued, Ender, Enqueued, OfferCallback
from voxcenter.acd.model import CallRequest, SkillRequirement
from voxcenter.acd.state import RouterError
from voxcenter.api.control import CallSnapshot
from voxcenter.config import Config
from voxcenter.config.ivr_nodes import HangupNode
from voxcenter.ivr import (
    CallInfo,
    EnterQueue,
    Hangup,
    IvrRun,
    LeaveQueue,
    LookupCaller,
    Play,
    RecordingControl,
    RecordVoicemail,
    RequestCallback,
    StartCollect,
    StopCollect,
    StopPlayback,
    StoreSurvey,
    TimelineEvent,
    Transfer,
    sayer_for,
    starting_language,
    wall_clock_from_offset,
)
from voxcenter.media.dtmf import DtmfReceived
from voxcenter.media.player import PlayOutcome
from voxcenter.runtime.call import Call, CallBridge, Leg
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.conversation import BYE_WAIT, MEDIA_TIMEOUT_CAUSE, CallServices, Conversation, DeskConsult
from voxcenter.runtime.featurecodes import InCallKeys
from voxcenter.runtime.forward import CLUSTER_USER, ForwardedEntry, entry_header
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError
from voxcenter.runtime.recording import CallRecording
from voxcenter.runtime.voicemail import record_voicemail
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import SipUri
from voxcenter.store.records import CallbackRecord, SurveyRecord, new_id

logger = structlog.get_logger(__name__)

_IVR_HANDOFFS: dict[type, str] = {EnterQueue: "queue", Transfer: "transfer", RecordVoicemail: "voicemail",
                                  Hangup: "hangup"}
"""The IVR actions that end a stretch of the IVR path (what the ``call.ivr_path`` line says came next)."""

END_CAUSES = {"caller-hangup": "caller hung up", "media-timeout": MEDIA_TIMEOUT_CAUSE, "no-ack": "no ACK"}
"""The ``hangup_cause`` of a call that ended by one of these inputs before reaching an agent."""

ACK_WAIT = 32.0
"""How long to wait for the ACK of our 200 (64·T1) before giving the call up."""

ROUTER_PATIENCE = 30.0
"""How long a caller bound for the router node waits for one (an election under way, the router node refusing)
before this node queues them itself rather than not at all."""

ROUTER_RETRY = 0.5
"""The wait between two tries to reach the router node."""

MOVED_TEXT = "moved to the next router"
MOVED_REASON = f'SIP;cause=503;text="{MOVED_TEXT}"'
"""The ``Reason`` (RFC 3326) of the BYE a stopping router node sends a caller's entry node: queue them again."""

RESUMED_VERSIONS = 1000
"""How far above the database's last version a caller's records go on when their router node was lost (that
node's journal may still hold a few later versions, written when it starts again)."""


class InboundCall(Conversation):
    """See the module docstring."""

    def __init__(self, services: CallServices, config: Config, session: SipSession, entry_node: str,
                 language: str | None, log: CallLog | None = None, forwarded: ForwardedEntry | None = None) -> None:
        self.services = services
        self.acd = services.acd
        self.records = services.records
        self.config: Config = config  # this call keeps the config it started with
        self.session = session
        self.entry_node = entry_node
        self.call_id = log.call_id if log is not None else new_id()
        self.started = asyncio.get_running_loop().time()
        self.number_language = language
        """The number's own language (None: the caller's prefix or the default decides)."""
        self.language = starting_language(self.config, language, session.caller).language
        self.log = log or services.records.call_log(
            call_id=self.call_id, direction="inbound", from_number=session.caller, to_number=session.called,
            trunk=session.trunk or "", sip_call_id=session.call_id,
        )
        self.call = Call(self.call_id, self.log, CallBridge(services.media.clock))
        """The legs of this call and the bridge they talk in."""
        self.leg: LegMedia | None = None
        self.inputs: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        self.queue: str | None = None
        self.queued = False
        self.callback_booked = False
        self.callback_offered = False
        self.ewt_recorded = False
        self.agent_id: str | None = None
        self.agent_leg: LegMedia | None = None
        self.agent_session: SipSession | None = None
        self.bridge: CallBridge | None = None
        """The call's bridge once the caller is connected to someone."""
        self.hold: BridgeHold | None = None
        """Music on hold while either phone of the bridged call holds it."""
        self._hold_before = 0.0
        """Hold time of the conversations before the current one (a transfer starts a new one)."""
        self.agent: Leg | None = None
        """The agent's (or transfer target's) leg the caller talks to now."""
        self._agent_in_acd = False
        """The ACD counts ``agent_id`` on this call (a queue call): it must hear when the agent leaves it."""
        self._blind: asyncio.Task[None] | None = None
        """A blind transfer in progress (REFER from the agent's phone)."""
        self._consult: DeskConsult | None = None
        """A consultation the agent page started (the caller on hold meanwhile)."""
        self._caller_gone = asyncio.Event()
        """Set when the caller hangs up: a transfer target still ringing is cancelled."""
        self._keys = InCallKeys({"pause_recording": config.recording.pause_code,
                                 "resume_recording": config.recording.resume_code}, config.transfers.conference)
        """The codes the agent keys during the conversation (recording pause and resume, the conference)."""
        self.recording: CallRecording | None = None
        self.connected_at: float | None = None
        self.disposition = "abandoned_ivr"
        self.hangup_by: str | None = None
        self.cause: str | None = None
        self._play_token = 0
        self._queue_audio: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.ivr: IvrRun | None = None
        self.voicemail_digit: Callable[[str], None] | None = None
        """While a voicemail records, digits go here (the stop key) instead of to the IVR."""
        self.ivr_path: list[str] = []
        """The IVR nodes walked since the IVR last handed the call on (menu keys and hours in brackets)."""
        self.ivr_trail: list[str] = []
        """Every stretch of ``ivr_path`` already handed on, in order (what the agent's screen pop shows)."""
        self._ivr_node: str | None = None
        self.forwarded = forwarded
        """This node is the router and another node sent this caller on to its queue (``cluster.shared_queues``)."""
        self.sent_on = forwarded is not None
        """The caller came from another node (which holds their leg)."""
        self.relayed_to: str | None = None
        """The router node this node sent the caller on to (its call carries the caller's media and records)."""
        self.relayed_to_node: str | None = None
        """That node's name, while the caller is relayed to it."""
        self._relay_leg: Leg | None = None
        self._router_task: asyncio.Task[None] | None = None
        """Sending the caller on to the router node (a call that hangs up meanwhile lets it end first: its INVITE
        is cancelled, so no call is left open on the router node)."""
        self._queue_entry: tuple[EnterQueue, float] | None = None
        """The queue the caller was sent on to the router for, and when they entered it (kept to queue them again
        if that router node is lost)."""

    @property
    def caller(self) -> str:
        """The caller's number (what the ACD shows the agent's phone)."""
        return self.session.caller

    def snapshot(self) -> CallSnapshot:
        """What the API and wallboard show of this call."""
        if self.bridge is not None:
            state = "talking"
        elif self.queued:
            state = "queued"
        else:
            state = "ivr"
        number = self.config.numbers.get(self.session.called)
        entered = self.ivr.context.loggable_variables() if self.ivr is not None else {}
        return CallSnapshot(call_id=self.call_id, caller=self.session.caller, called=self.session.called,
                            state=state, queue=self.queue, agent=self.agent_id, started=self.started,
                            language=self.language,
                            recording=None if self.recording is None else
                            "paused" if self.recording.paused else "on",
                            ivr_path=tuple(self.ivr_trail + self.ivr_path),
                            entered=tuple((name, str(value)) for name, value in entered.items()),
                            client=number.client if number is not None else None,
                            waited=self.log.cdr.wait_seconds if self.bridge is not None else None,
                            held=self.hold is not None and self.hold.on_hold,
                            consulting=self.consult_view(),
                            talking_to=self.agent.party if self.agent is not None and self.bridge is not None
                            else None,
                            monitors=tuple((supervisor.party, agent.party, mode.value)
                                           for supervisor, (agent, mode) in self.call.bridge.monitors.items()))

    # --- the call's life ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(call_id=self.call_id):
            self._log_arrival()
            try:
                await self._run()
            except Exception:
                logger.exception("call.failed")
                self.disposition, self.cause = "failed", "internal error"
            finally:
                await self._finish()

    def _log_arrival(self) -> None:
        logger.info("call.arrived", **{"from": self.session.caller or None}, to=self.session.called,
                    trunk=self.session.trunk, sip_call_id=self.session.call_id)

    async def _run(self) -> None:
        session = self.session
        loop = asyncio.get_running_loop()
        if not session.remote_sdp:
            session.reject(488, "Offer Required")  # late offer (INVITE without SDP) is not supported
            self.disposition, self.cause = "rejected", "no SDP offer"
            return
        try:
            # A call the IVR hangs up at once (a bare hangup node) is answered without opening a socket.
            self.leg, answer = await self.services.media.answer(session.remote_sdp,
                                                                transport=session.remote.transport,
                                                                open_sockets=not self._hangs_up_at_once())
        except MediaSetupError as error:
            session.reject(error.status, error.reason[:80])
            self.disposition, self.cause = "rejected", error.reason
            return
        self.call.add(Leg("caller", session.caller, session, self.leg))
        self.leg.on_digit = self._digit
        self.leg.on_timeout = lambda _: self.inputs.put_nowait(("media-timeout", None))
        session.on_info = lambda request: self.leg.info_received(request.content_type or "", request.body) \
            if self.leg is not None else None
        session.on_offer = lambda request: self._reoffer(self.leg, request.body)
        session.answer(answer)
        # The call is answered with our 200, as the caller hears it: the IVR starts now and keys pressed before
        # a lost ACK's retransmission arrives count. A caller whose ACK never comes is hung up after 64·T1.
        self._spawn(self._expect_ack(session))
        if self.forwarded is None:  # a caller sent on by another node was answered there
            self.log.update(answered_at=self.log.now())
        self._start_recording("answer")
        self._watch(session, "caller-hangup")
        self.ivr = IvrRun(
            self.config, self.entry_node,
            CallInfo(self.call_id, session.caller or None, session.called, self.number_language, session.trunk),
            wall_clock=wall_clock_from_offset(time.time() - loop.time()),
        )
        self.ivr.start(loop.time())
        await self._drive(self.ivr)

    def _hangs_up_at_once(self) -> bool:
        """The entry node is a ``hangup`` with nothing to play: the call needs no media at all."""
        node = self.config.ivr.get(self.entry_node)
        return isinstance(node, HangupNode) and not node.prompts

    async def _drive(self, ivr: IvrRun) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._carry_out_actions(ivr)
            if self.bridge is not None:
                node = await self._bridged()
                if node is None:
                    return
                ivr = self._restart_ivr(node)  # an agent transferred the caller to an IVR node or a queue
                continue
            if ivr.finished:
                return
            deadline = ivr.get_timer()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                kind, value = await asyncio.wait_for(self.inputs.get(), timeout)
            except TimeoutError:
                ivr.handle_timer(loop.time())
                continue
            now = loop.time()
            if kind == "digit":
                ivr.digit(str(value), now)
            elif kind == "prompt-done":
                if value == self._play_token:
                    ivr.prompt_finished(now)
            elif kind == "queue-result":
                ivr.queue_result(str(value), now)
            elif kind == "transfer-result":
                ivr.transfer_result(bool(value), now)
            elif kind == "recording-done":
                assert isinstance(value, tuple)
                ivr.recording_finished(float(value[0]), str(value[1]), now)
            elif kind == "lookup-result":
                ivr.lookup_result(value, now)  # type: ignore[arg-type]
            elif kind == "relayed":
                if await self._relay():
                    continue  # the router node was lost while the caller waited: queued again, same place
                return
            elif kind == "system-hangup":  # the server stops: _finish hangs up and leaves the queue
                self.hangup_by, self.cause = "system", str(value)
                return
            elif kind in ("caller-hangup", "media-timeout", "no-ack"):
                # A caller who went silent, or never acknowledged the answer, did not hang up: voxcenter did.
                self.hangup_by = "caller" if kind == "caller-hangup" else "system"
                self.cause = END_CAUSES[kind]
                if self.queued:
                    self.disposition = "abandoned_queue"
                    if not self.callback_booked:
                        self.acd.leave(self.call_id)
                ivr.hangup(now)
                return

    async def _carry_out_actions(self, ivr: IvrRun) -> None:
        while (action := ivr.next_action()) is not None:
            if isinstance(action, TimelineEvent):
                self.log.event(action.name, data={"node": action.node, **action.data} if action.node else
                               dict(action.data) or None, queue=self.queue)
                self._walked(action)
                continue
            handed_to = _IVR_HANDOFFS.get(type(action))
            if handed_to is not None:
                self._log_ivr_path(handed_to)
            if isinstance(action, Play):
                await self._play(action.prompts, action.language)
            elif isinstance(action, StopPlayback):
                self._play_token += 1
                if self.leg is not None:
                    self.leg.stop()
            elif isinstance(action, StartCollect | StopCollect):
                pass  # the interpreter collects digits itself; sensitive digits never reach our logs
            elif isinstance(action, EnterQueue):
                self._enter_queue(action)
            elif isinstance(action, LeaveQueue):
                self._leave_queue()
            elif isinstance(action, Transfer):
                self._spawn(self._transfer(action))
            elif isinstance(action, RecordVoicemail):
                self._spawn(self._voicemail(action))
            elif isinstance(action, RequestCallback):
                self._book_callback(action.number, action.queue)
            elif isinstance(action, LookupCaller):
                self._spawn(self._lookup(action.key))
            elif isinstance(action, StoreSurvey):
                self.records.sink.submit(SurveyRecord(survey_id=new_id(), call_id=self.call_id, at=time.time(),
                                                       score=action.score, agent=self.agent_id,
                                                       queue=self.queue))
            elif isinstance(action, RecordingControl):
                if self.recording is not None and action.action == "pause":
                    self.recording.pause("ivr", action.node)
                elif self.recording is not None:
                    self.recording.resume("ivr", action.node)
            elif isinstance(action, Hangup):
                self.cause = action.cause
                if self.disposition == "abandoned_ivr" and self.hangup_by is None:
                    self.disposition = "ivr_completed"
                self.hangup_by = self.hangup_by or "system"

    def _walked(self, event: TimelineEvent) -> None:
        """Follow the caller's way through the IVR for the ``call.ivr_path`` line (no collected digits)."""
        if event.node and event.node != self._ivr_node:
            self.ivr_path.append(event.node)
            self._ivr_node = event.node
        if not self.ivr_path:
            return
        if event.name == "menu-choice":
            self.ivr_path[-1] += f" [{event.data.get('digit')}]"
        elif event.name == "hours":
            self.ivr_path[-1] += f" [{event.data.get('status')}]"
        elif event.name == "language":
            self.ivr_path[-1] += f" [{event.data.get('language')}]"

    def _log_ivr_path(self, handed_to: str) -> None:
        if self.ivr_path:
            logger.info("call.ivr_path", path=" > ".join(self.ivr_path), then=handed_to.lower())
            self.ivr_trail.extend(self.ivr_path)
            self.ivr_path = []

    # --- prompts and digits -----------------------------------------------------------------------------------------

    async def _play(self, names: tuple[str, ...], language: str) -> None:
        self._play_token += 1
        token = self._play_token
        self._stop_queue_audio()
        if self.leg is None:
            return
        await self.leg.session.start()  # a no-op unless the leg was answered without sockets
        player = await self.leg.play(names, language)

        async def finished() -> None:
            if await player.wait() is PlayOutcome.FINISHED:
                self.inputs.put_nowait(("prompt-done", token))

        self._spawn(finished())

    def _digit(self, event: DtmfReceived) -> None:
        if self.bridge is not None:
            return  # digits during the conversation cross the bridge; the IVR is done
        if self.voicemail_digit is not None:
            self.voicemail_digit(event.digit)
            return
        if self.callback_offered and self.queued and event.digit == self._callback_key():
            self.callback_offered = False
            self.acd.request_callback(self.call_id, self.session.caller)
            return
        self.inputs.put_nowait(("digit", event.digit))

    def _callback_key(self) -> str:
        queue = self.config.queues.get(self.queue or "")
        return queue.callback.key if queue is not None else "1"

    # --- queue ------------------------------------------------------------------------------------------------------

    def _enter_queue(self, action: EnterQueue) -> None:
        self.queue = action.queue
        self.language = action.language
        self.queued = True
        self.disposition = "abandoned_queue"
        entered = self.log.now()
        if self.forwarded is not None:  # the caller's place is the time they entered the queue on the first node
            entry, self.forwarded = self.forwarded, None
            action = replace(action, priority=entry.priority, required_skills=entry.required,
                             preferred_skills=entry.preferred, language=entry.language or action.language)
            entered = min(entered, entry.entered_at)
        self._route_entry(action, entered)

    def _route_entry(self, action: EnterQueue, entered: float) -> None:
        """Queue the caller here, or send them on to the cluster's router node."""
        if self.services.router is not None and self.services.router.routes_here() is not True:
            self._router_task = self._spawn(self._send_to_router(action, entered))
            return
        self._join_here(action, entered)

    def _join_here(self, action: EnterQueue, entered: float) -> None:
        self._queue_entry = (action, entered)
        self.log.update(queue=action.queue, queue_entered_at=entered)
        request = CallRequest(
            call_id=self.call_id, queue=action.queue, priority=action.priority,
            required=tuple(SkillRequirement(skill, level) for skill, level in action.required_skills.items()),
            preferred=tuple(SkillRequirement(skill, level) for skill, level in action.preferred_skills.items()),
            caller=self.session.caller, language=action.language,
        )
        self.acd.join(self, request, waited=max(0.0, self.log.now() - entered))

    # --- one router for every node (cluster.shared_queues) -------------------------------------------------------

    async def _send_to_router(self, action: EnterQueue, entered: float) -> None:
        """Send the caller on to the router node's queue; queue them here when no router node takes them."""
        router = self.services.router
        assert router is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + ROUTER_PATIENCE
        while not self._caller_gone.is_set():
            where = router.routes_here()
            if where is True:
                break
            address = router.address() if where is False else None
            if address is not None:
                try:
                    await self._relay_to(address, router.secret, action, entered)
                    return
                except (RequestFailed, OSError, ValueError) as error:
                    logger.warning("call.router_refused", router=address,
                                   status=getattr(error, "status", None), reason=str(error))
            if loop.time() >= give_up:
                logger.warning("call.queued_here", reason="no router node took the caller")
                break
            await asyncio.sleep(ROUTER_RETRY)
        if not self._caller_gone.is_set():
            self._join_here(action, entered)

    async def _relay_to(self, address: str, secret: str, action: EnterQueue, entered: float) -> None:
        """Call the router node with the caller's entry and bridge the caller to that call (see forward.py)."""
        host, _, port = address.rpartition(":")
        assert self.leg is not None and self.ivr is not None
        leg, offer = await self.services.media.offer("udp")
        last = self.log.hand_over()  # from here the router node writes the call's records
        entry = ForwardedEntry(
            call_id=self.call_id, version=last.version, node=self.ivr.node or "", queue=action.queue,
            entered_at=entered, arrived_at=last.arrived_at, answered_at=last.answered_at,
            from_number=last.from_number, to_number=last.to_number, trunk=last.trunk, sip_call_id=last.sip_call_id,
            language=action.language, priority=action.priority, required=dict(action.required_skills),
            preferred=dict(action.preferred_skills))
        try:
            session = await self.services.dialer.endpoint.invite(
                SipUri("sip", user=last.to_number or action.queue, host=host, port=int(port)),
                Address("udp", host, int(port)), offer,
                from_user=self.session.caller or "anonymous", headers=[entry_header(entry)],
                credentials=DigestClient(CLUSTER_USER, secret), agent_leg=True, ring_timeout=10.0,
                cancel=self._caller_gone)
            leg.accept(session.remote_sdp or b"")
        except BaseException:
            leg.close("not answered")
            self.log.take_back()
            raise
        if self._caller_gone.is_set():
            await session.hangup("caller hung up")
            leg.close("caller hung up")
            return
        self.queued = False
        self.relayed_to, self.relayed_to_node = address, self.services.router.holder() if self.services.router \
            else None
        self._queue_entry = (action, entered)
        self._stop_queue_audio()
        if self.recording is not None:  # recorded from the answer: this node's file ends here, the router's begins
            recording, self.recording = self.recording, None
            self._spawn(recording.finish(self.records.sink))
        relay = self._relay_leg = self.call.add(Leg("router", address, session, leg))
        self.call.bridge.join(self.call.legs[0])
        self.call.bridge.join(relay)
        self.call.bridge.start()
        leg.on_timeout = lambda _: self.inputs.put_nowait(("media-timeout", None))
        self._watch(session, "router-hangup")
        logger.info("call.sent_to_router", router=address, queue=action.queue)
        self.inputs.put_nowait(("relayed", None))

    def leave_for_router(self) -> bool:
        """This router node stops: if the caller waits in its queue, send them on to the next router (one who came
        from another node goes back to it with a ``Reason`` saying so, and that node queues them again).
        False: not waiting here."""
        entry = self._queue_entry
        if not self.queued or self.bridge is not None or entry is None or not self.acd.move_caller(self.call_id):
            return False
        self.queued = False
        if self.sent_on:
            self.log.hand_over()  # the entry node goes on with the call's records
            self.disposition, self.hangup_by = "moved_to_next_router", "system"  # for this node's log only
            self._spawn(self.session.hangup("moved to the next router", wait=BYE_WAIT, reason_header=MOVED_REASON))
        else:
            self._router_task = self._spawn(self._send_to_router(*entry))
        logger.info("call.moved_to_next_router", back_to_entry_node=self.sent_on)
        return True

    def router_lost(self) -> None:
        """Another node holds the router lease now: the node this caller was sent on to stopped or died."""
        if self.relayed_to_node is not None:
            node, self.relayed_to_node = self.relayed_to_node, None
            self.inputs.put_nowait(("router-lost", node))

    async def _relay(self) -> bool:
        """The caller talks through this node to the router node's call until either ends; True: the router node
        was lost while the caller still waited, and the caller is queued again at the place they had."""
        while True:
            kind, value = await self.inputs.get()
            if kind == "router-hangup" and (self._relay_leg is None or value is not self._relay_leg.session):
                continue  # the call to a router node lost earlier ended
            moved = kind == "router-hangup" and MOVED_TEXT in (self._relay_leg.session.remote_reason or "") \
                if self._relay_leg is not None else False
            if (kind == "router-lost" or moved) and await self._queue_again(moved):
                return True
            if kind == "router-lost" and (self.services.router is None or self.services.router.alive(str(value))):
                continue  # talking to an agent there: a router node that stops lets its calls finish
            if kind in ("caller-hangup", "router-hangup", "media-timeout", "system-hangup", "no-ack", "router-lost"):
                self.disposition = "sent_to_router"  # for this node's log only: the router node ends the CDR
                self.hangup_by = "caller" if kind == "caller-hangup" else "far_end"
                self.cause = str(value) if kind == "system-hangup" else END_CAUSES.get(
                    kind, "router node lost" if kind == "router-lost" else "router node hung up")
                return False

    async def _queue_again(self, moved: bool) -> bool:
        """The router node stopped and sent this caller back (``moved``), or died with the caller waiting in its
        queue (its CDR has no agent answer): let its call go, take the call's records back from their last
        version (in the database; this node's own when they have not reached it yet), and queue the caller
        again with the time they first entered the queue. False when a dead router had the caller talking to
        an agent (lost with that node), or the database cannot tell."""
        router, relay, entry = self.services.router, self._relay_leg, self._queue_entry
        if router is None or relay is None or entry is None:
            return False
        try:
            cdr = await router.latest_call(self.call_id)
        except Exception as error:
            if not moved:  # the database is away: whether an agent had answered is unknown
                logger.warning("call.router_lost", requeued=False, reason=repr(error))
                return False
            cdr = None
        if not moved and cdr is not None and cdr.agent_answered_at is not None:
            logger.warning("call.router_lost", requeued=False, reason="talking to an agent on the lost node")
            return False
        cdr = cdr if cdr is not None and cdr.version >= self.log.cdr.version else self.log.cdr
        self.call.bridge.leave(relay)
        relay.media.close("router node lost")
        self._spawn(relay.session.hangup("router node lost", wait=1.0))
        self._relay_leg = self.relayed_to = None
        # The lost node's journal may hold versions the database has not seen: stay far above them.
        self.log.resume(replace(cdr, version=cdr.version + RESUMED_VERSIONS, node=self.records.node))
        action, entered = entry
        self.queued = True
        logger.warning("call.router_lost", requeued=True, queue=action.queue, moved=moved,
                       waited=round(time.time() - entered, 1))
        self._route_entry(action, entered)
        return True

    def _leave_queue(self) -> None:
        if self.queued:
            self.queued = False
            self._stop_queue_audio()
            self.acd.leave(self.call_id)

    def enqueued(self, decision: Enqueued) -> None:
        """The router took the caller into a queue (also after an overflow to another queue)."""
        self.queue = decision.queue
        if not self.ewt_recorded:  # the estimate at join, judged against the wait (EWT accuracy in reports)
            self.ewt_recorded = True
            self.log.update(ewt_seconds=decision.ewt)
        self.log.event("ENTERQUEUE", queue=decision.queue, value=decision.ewt,
                       data={"position": decision.position})
        self._start_recording("queue")
        logger.info("call.queued", queue=decision.queue, position=decision.position,
                    ewt=None if decision.ewt is None else round(decision.ewt))
        announcements = self.config.queues[decision.queue].announcements
        words: list[str] = []
        if decision.announce and (announcements.announce_position or announcements.estimated_wait):
            sayer = sayer_for(self.language, self.config.prompts.sayer)
            ewt = decision.ewt if announcements.estimated_wait else None
            if decision.position > 1 or ewt:
                words = list(sayer.announcement(decision.position if announcements.announce_position else 0,
                                                False, ewt))
        if decision.ewt is not None:
            self.log.event("ESTIMATEDWAIT", queue=decision.queue, value=decision.ewt)
        self._queue_audio_with(words)

    def announce(self, decision: Announce) -> None:
        announcements = self.config.queues[decision.queue].announcements
        sayer = sayer_for(self.language, self.config.prompts.sayer)
        ewt = decision.ewt if announcements.estimated_wait else None
        position = decision.position if announcements.announce_position else 0
        if decision.ewt is not None:
            self.log.event("ESTIMATEDWAIT", queue=decision.queue, value=decision.ewt,
                           data={"position": decision.position, "reason": decision.ewt_reason})
        self._queue_audio_with(list(sayer.announcement(position, decision.more_than, ewt)))

    def offer_callback(self, decision: OfferCallback) -> None:
        if not self.session.caller.lstrip("+").isdigit():  # withheld or not a number: nobody to call back
            logger.info("queue.callback_not_offered", caller=self.session.caller or None)
            return
        queue = self.config.queues[decision.queue]
        self.callback_offered = True
        self.log.event("CALLBACKOFFER", queue=decision.queue, value=decision.ewt)
        self._queue_audio_with([queue.callback.prompt])

    def callback_queued(self, decision: CallbackQueued) -> None:
        self.callback_booked = True
        self.disposition = "callback"
        self.acd.callback_booked(CallbackRecord(
            callback_id=self.call_id, version=1, call_id=self.call_id, number=decision.number,
            queue=decision.queue, requested_at=time.time(),
        ))
        self.log.event("EXITWITHKEY", queue=decision.queue, data={"callback": decision.number})
        self.queue_exit("callback-requested")

    def queue_exit(self, reason: str) -> None:
        """The caller left the queue without an agent: the IVR continues at the queue node's exit."""
        if not self.queued:
            return
        self.queued = False
        self._stop_queue_audio()
        self.disposition = {"timeout": "timeout", "queue-full": "overflow", "join-empty": "overflow",
                            "empty": "overflow", "callback-requested": "callback"}.get(reason, self.disposition)
        self.acd.forget(self.call_id)
        self.inputs.put_nowait(("queue-result", reason))

    def _queue_audio_with(self, words: list[str]) -> None:
        """Say ``words`` (if any), then music on hold until the next announcement or an agent."""
        self._stop_queue_audio()
        if self.leg is None or not self.queued:
            return
        music = self.config.queues[self.queue or ""].announcements.music_on_hold
        leg, language = self.leg, self.language

        async def program() -> None:
            if words:
                await leg.play_to_end(words, language)
            if music:
                await leg.play([music], language, loop=True)

        self._queue_audio = self._spawn(program())

    def _stop_queue_audio(self) -> None:
        if self._queue_audio is not None:
            self._queue_audio.cancel()
            self._queue_audio = None
        if self.leg is not None:
            self.leg.stop()

    # --- the agent --------------------------------------------------------------------------------------------------

    def connect_agent(self, decision: Bridge, agent_leg: LegMedia, agent_session: SipSession) -> None:
        """An agent answered: bridge, record, and tell the IVR it is done."""
        self._stop_queue_audio()
        self.queued = False
        first = self.agent_id is None
        self._connect(decision.agent_id, agent_leg, agent_session)
        self._agent_in_acd = True
        self.log.event("CONNECT", queue=decision.queue, agent=decision.agent_id, value=decision.waited,
                       data={"first_ewt": decision.first_ewt})
        if first:  # a caller transferred back into a queue keeps the first agent and wait in the CDR
            self.log.update(agent=decision.agent_id, agent_answered_at=self.log.now(), wait_seconds=decision.waited)
        logger.info("call.answered", agent=decision.agent_id, queue=decision.queue, wait=round(decision.waited, 1))
        self.inputs.put_nowait(("queue-result", "answered"))

    def _restart_ivr(self, node: str) -> IvrRun:
        """The caller goes on in the IVR at ``node`` (a transfer to a queue, a menu, the survey)."""
        loop = asyncio.get_running_loop()
        self.bridge = None
        self.agent_leg = None
        self.agent_session = None
        self.agent = None
        self._log_ivr_path("transfer")
        if self.ivr is not None:
            self.ivr.close()
        self.ivr = IvrRun(
            self.config, node,
            CallInfo(self.call_id, self.session.caller or None, self.session.called, self.language,
                     self.session.trunk),
            wall_clock=wall_clock_from_offset(time.time() - loop.time()),
        )
        self.ivr.start(loop.time())
        return self.ivr

    def end(self, cause: str) -> None:
        """End the call from our side (the server stops at its drain deadline); the CDR says the system did."""
        self.inputs.put_nowait(("system-hangup", cause))

    # --- other IVR actions ------------------------------------------------------------------------------------------

    async def _transfer(self, action: Transfer) -> None:
        """Ring an agent or extension (or an outside number through an allowed route) and bridge on answer."""
        try:
            if action.kind == "number":
                leg, session = await self.services.dialer.call_number(action.target, action.route,
                                                             ring_timeout=action.ring_timeout)
            else:
                leg, session = await self.services.dialer.call_extension(action.target,
                                                                         caller_id=self.session.caller,
                                                                ring_timeout=action.ring_timeout)
        except RequestFailed as failure:
            self.log.event("TRANSFERFAILED", data={"target": action.target, "status": failure.status})
            self.inputs.put_nowait(("transfer-result", False))
            return
        self._stop_queue_audio()
        self._connect(action.target, leg, session)
        self.log.event("TRANSFER", agent=action.target, data={"kind": action.kind})
        logger.info("call.transferred", target=action.target, kind=action.kind)
        self.log.update(agent=action.target, agent_answered_at=self.log.now())
        self.inputs.put_nowait(("transfer-result", True))

    async def _voicemail(self, action: RecordVoicemail) -> None:
        assert self.leg is not None
        self.disposition = "voicemail"
        duration, reason = await record_voicemail(
            self.leg, self.session, action, log=self.log, sink=self.records.sink,
            directory=Path(self.config.recording.directory), route_digits=self._route_digits)
        self.inputs.put_nowait(("recording-done", (duration, reason)))

    def _route_digits(self, handler: Callable[[str], None] | None) -> None:
        self.voicemail_digit = handler

    def _book_callback(self, number: str, queue: str | None) -> None:
        """An IVR callback node (or a queue's callback overflow) booked a callback: it waits in its queue."""
        self.disposition = "callback"
        target = queue or self.queue or ""
        self.log.event("CALLBACKREQUEST", queue=target or None, data={"number": number})
        try:
            self.acd.book_callback(number, target, None, None, source="ivr", callback_id=self.call_id)
        except (KeyError, ValueError, RouterError) as error:  # kept as failed: the request is not lost silently
            logger.warning("callback.not_booked", number=number, queue=target or None, reason=str(error))
            self.records.sink.submit(CallbackRecord(
                callback_id=self.call_id, version=1, call_id=self.call_id, number=number, queue=target,
                requested_at=time.time(), status="failed", source="ivr",
            ))

    async def _expect_ack(self, session: SipSession) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.confirmed.wait(), ACK_WAIT)
        if session.ack_timed_out or not session.confirmed.is_set():
            self.inputs.put_nowait(("no-ack", None))

    async def _lookup(self, key: str) -> None:
        profile = await self.services.customers.lookup(key)
        self.inputs.put_nowait(("lookup-result", profile))

    # --- the end ----------------------------------------------------------------------------------------------------

    async def _finish(self) -> None:
        self._play_token += 1
        self._stop_queue_audio()
        self._caller_gone.set()
        if self._blind is not None:  # let a ringing target be CANCELled before the call's tasks go
            await asyncio.wait([self._blind], timeout=BYE_WAIT)
        if self._router_task is not None and not self._router_task.done():  # likewise the call to the router
            await asyncio.wait([self._router_task], timeout=BYE_WAIT)
        for task in list(self._tasks):
            task.cancel()
        if self.queued and not self.callback_booked:
            self.acd.leave(self.call_id)
        # BYE whoever is still there, together; the call is over whatever they answer, so the CDR never
        # waits out a silent phone's Timer F.
        hangups = []
        if not self.session.is_ended:
            hangups.append(self.session.hangup(self.cause or "call finished", wait=BYE_WAIT))
            self.hangup_by = self.hangup_by or "system"
        for leg in self.call.legs[1:]:
            if not leg.session.is_ended:
                hangups.append(leg.session.hangup("call finished", wait=BYE_WAIT))
        await asyncio.gather(*hangups)
        if self.hold is not None:
            self.hold.close()
        self.call.bridge.stop()
        self.call.finish(asyncio.get_running_loop().time())
        self._release_agent(Ender.CALLER)
        if self.recording is not None:
            await self.recording.finish(self.records.sink)
        if self.leg is not None:
            self.leg.close(self.cause or "")
        for leg in self.call.legs[1:]:
            leg.media.close(self.cause or "")
        quality: dict[str, float] = {}
        if self.leg is not None:  # the caller leg's RTCP view: what the caller experienced
            stats = self.leg.session.stats
            quality = {"jitter_ms": stats.jitter_ms, "packet_loss": stats.fraction_lost}
            if stats.rtt_ms is not None:
                quality["rtt_ms"] = stats.rtt_ms
        self._log_ivr_path("hangup")  # the caller hung up in the IVR: where they were
        self.log.finish(self.disposition, hangup_by=self.hangup_by, cause=self.cause, **quality)
        self.acd.forget(self.call_id)
        cdr = self.log.cdr
        logger.info("call.ended", disposition=self.disposition, cause=self.cause, hangup_by=self.hangup_by,
                    queue=self.queue, agent=self.agent_id, **({"router": self.relayed_to} if self.relayed_to else {}),
                    wait=None if cdr.wait_seconds is None else round(cdr.wait_seconds, 1),
                    talk=round(cdr.talk_seconds, 1), duration=round(cdr.ended_at - cdr.arrived_at, 1)
                    if cdr.ended_at is not None else None)
        self._let_go()

    def _let_go(self) -> None:
        """The call is over: drop the callbacks its legs, sessions and IVR hold on to it, so that it is freed as
        soon as the server lets it go. Each of them holds the call (a bound method, a closure over ``self``)
        while the call holds them: reference cycles that only a full garbage collection frees, and each call
        that waits for one makes every full collection longer (docs/benchmarks.md)."""
        for leg in self.call.legs:
            leg.media.on_digit = leg.media.on_timeout = leg.media.on_audio = leg.media.on_heard = None
            session = leg.session
            session.on_info = session.on_offer = session.on_notify = session.on_refer = None
        if self.leg is not None:
            self.leg.on_digit = self.leg.on_timeout = None
        self.session.on_info = self.session.on_offer = None
        if self.ivr is not None:
            self.ivr.close()
        self.voicemail_digit = None
        while not self.inputs.empty():  # what came after the end (a hang-up, a timer) holds sessions
            self.inputs.get_nowait()
