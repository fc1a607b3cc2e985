"""An agent's call to an outside number, through a trunk its outbound route allows.

The far end is dialled first (the agent hears ringing, and the CANCEL goes out
if the agent gives up); when it answers, the agent's call is answered, both
legs are bridged and recorded (the agent on the left, as the one who called),
and the CDR says ``outbound``.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from voxcenter.config import Config
from voxcenter.runtime.call import Call, CallBridge, Leg
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import MediaSetupError
from voxcenter.runtime.recording import CallRecording
from voxcenter.runtime.services import Records
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession
from voxcenter.store.records import new_id

logger = structlog.get_logger(__name__)


class OutboundCall:
    def __init__(self, config: Config, dialer: Dialer, records: Records, session: SipSession, agent_id: str,
                 number: str, route: str) -> None:
        self.config = config
        self.dialer = dialer
        self.records = records
        self.session = session
        self.agent_id = agent_id
        self.number = number
        self.route = route
        self.call_id = new_id()
        trunk, _ = dialer.route_for(number, route)
        self.log = records.call_log(call_id=self.call_id, direction="outbound", from_number=agent_id,
                                    to_number=number, trunk=trunk.settings.name, sip_call_id=session.call_id)

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(call_id=self.call_id):
            await self._run()

    async def _run(self) -> None:
        dialer, session = self.dialer, self.session
        if not session.remote_sdp:
            session.reject(488, "Offer Required")
            self.log.finish("rejected", hangup_by="system", cause="no SDP offer")
            return
        session.ring()
        gave_up = asyncio.Event()
        session.ended.add_done_callback(lambda _: gave_up.set())
        try:
            far_leg, far = await dialer.call_number(self.number, self.route, ring_timeout=90.0,
                                                    caller_id=self.agent_id, cancel=gave_up)
        except RequestFailed as failure:
            status = failure.status if 400 <= failure.status < 700 and failure.status != 487 else 480
            session.reject(status, failure.reason[:60])
            self.log.finish("failed" if not gave_up.is_set() else "abandoned_ivr",
                            hangup_by="agent" if gave_up.is_set() else "system", cause=f"{failure.status}")
            return
        try:
            agent_leg, answer = await dialer.media.answer(session.remote_sdp)
        except MediaSetupError as error:
            await far.hangup("media setup failed")
            far_leg.close()
            session.reject(error.status, error.reason[:60])
            self.log.finish("failed", hangup_by="system", cause=error.reason)
            return
        loop = asyncio.get_running_loop()
        call = Call(self.call_id, self.log, CallBridge(dialer.media.clock))
        agent = call.add(Leg("agent", self.agent_id, session, agent_leg))
        callee = call.add(Leg("callee", self.number, far, far_leg))
        bridge = call.bridge
        bridge.join(agent)  # first: the agent, who called, is the recording's left channel
        bridge.join(callee)
        hold = BridgeHold(bridge, {"agent": agent_leg, "callee": far_leg}, music="moh",
                          language=self.config.prompts.default_language, log=self.log, clock=loop.time)
        session.on_offer = lambda request: hold.reoffer("agent", request.body)
        far.on_offer = lambda request: hold.reoffer("callee", request.body)
        session.answer(answer)
        self.log.update(answered_at=time.time(), agent=self.agent_id, agent_answered_at=time.time())
        recording = CallRecording.start(self.config, self.call_id, bridge)
        bridge.start()
        await asyncio.wait([session.ended, far.ended], return_when=asyncio.FIRST_COMPLETED)
        by_agent = session.ended.done()
        hold_seconds = hold.close()
        bridge.stop()
        await (far.hangup("agent hung up") if by_agent else session.hangup("far end hung up"))
        agent_leg.close()
        far_leg.close()
        if recording is not None:
            await recording.finish(self.records.sink)
        self.log.finish("answered", hangup_by="agent" if by_agent else "callee",
                        cause="agent hung up" if by_agent else "far end hung up",
                        talk_seconds=callee.talk_seconds, hold_seconds=hold_seconds)
