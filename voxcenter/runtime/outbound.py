"""An agent's call to an outside number, through a trunk its outbound route allows.

The far end is dialled first (the agent hears ringing, and the CANCEL goes out
if the agent gives up); when it answers, the agent's call is answered, both
legs are bridged and recorded (the agent on the left, as the one who called),
and the CDR says ``outbound``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from voxcenter.media.bridge import Bridge as MediaBridge
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError
from voxcenter.runtime.recording import CallRecording
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession
from voxcenter.store.records import new_id

if TYPE_CHECKING:
    from voxcenter.runtime.server import Server

logger = structlog.get_logger(__name__)


class OutboundCall:
    def __init__(self, server: Server, session: SipSession, agent_id: str, number: str, route: str) -> None:
        self.server = server
        self.session = session
        self.agent_id = agent_id
        self.number = number
        self.route = route
        self.call_id = new_id()
        trunk, _ = server.route_for(number, route)
        self.log = CallLog(server.writer, node=server.node, call_id=self.call_id, direction="outbound",
                           from_number=agent_id, to_number=number, trunk=trunk.settings.name,
                           sip_call_id=session.call_id)

    async def run(self) -> None:
        with structlog.contextvars.bound_contextvars(call_id=self.call_id):
            await self._run()

    async def _run(self) -> None:
        server, session = self.server, self.session
        if not session.remote_sdp:
            session.reject(488, "Offer Required")
            self.log.finish("rejected", hangup_by="system", cause="no SDP offer")
            return
        session.ring()
        gave_up = asyncio.Event()
        session.ended.add_done_callback(lambda _: gave_up.set())
        try:
            far_leg, far = await server.call_number(self.number, self.route, ring_timeout=90.0,
                                                    caller_id=self.agent_id, cancel=gave_up)
        except RequestFailed as failure:
            status = failure.status if 400 <= failure.status < 700 and failure.status != 487 else 480
            session.reject(status, failure.reason[:60])
            self.log.finish("failed" if not gave_up.is_set() else "abandoned_ivr",
                            hangup_by="agent" if gave_up.is_set() else "system", cause=f"{failure.status}")
            return
        try:
            agent_leg, answer = await LegMedia.answer(
                session.remote_sdp, server.ports, server.media_host, server.prompts, server.clock,
                inactivity_timeout=server.config.rtp.inactivity_timeout, advertised_host=server.media_advertised,
            )
        except MediaSetupError as error:
            await far.hangup("media setup failed")
            far_leg.close()
            session.reject(error.status, error.reason[:60])
            self.log.finish("failed", hangup_by="system", cause=error.reason)
            return
        bridge = MediaBridge(agent_leg.session, far_leg.session)
        loop = asyncio.get_running_loop()
        hold = BridgeHold(bridge, {"agent": agent_leg, "callee": far_leg}, music="moh",
                          language=server.config.prompts.default_language, log=self.log, clock=loop.time)
        session.on_offer = lambda request: hold.reoffer("agent", request.body)
        far.on_offer = lambda request: hold.reoffer("callee", request.body)
        session.answer(answer)
        self.log.update(answered_at=time.time(), agent=self.agent_id, agent_answered_at=time.time())
        recording = CallRecording.start(server.config, self.call_id, bridge)
        bridge.start()
        started = loop.time()
        await asyncio.wait([session.ended, far.ended], return_when=asyncio.FIRST_COMPLETED)
        by_agent = session.ended.done()
        hold_seconds = hold.close()
        bridge.stop()
        await (far.hangup("agent hung up") if by_agent else session.hangup("far end hung up"))
        agent_leg.close()
        far_leg.close()
        if recording is not None:
            await recording.finish(server.writer)
        self.log.finish("answered", hangup_by="agent" if by_agent else "callee",
                        cause="agent hung up" if by_agent else "far end hung up",
                        talk_seconds=max(0.0, loop.time() - started - hold_seconds), hold_seconds=hold_seconds)
