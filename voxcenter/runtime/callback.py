"""The agent-first callback's conversation: the agent has answered; dial the customer and bridge them.

The outbound call leaves its own CDR (direction ``outbound``; its CONNECT event
names the callback's call id) and its own recording (the agent on the left, as
in the agent's other calls out; unless the queue's ``record`` is ``off``).
Either phone may hold the call, as in any other conversation, and the queue's supervisors may monitor it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from voxcenter.acd.events import Ender, StartCallback
from voxcenter.runtime.call import Call, CallBridge, Leg
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.hold import BridgeHold
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.recording import CallRecording
from voxcenter.runtime.services import Conversation, Records
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession
from voxcenter.store.records import new_id

logger = structlog.get_logger(__name__)


async def connect_callback(
    dialer: Dialer, records: Records, decision: StartCallback, agent_leg: LegMedia, agent_session: SipSession,
    on_answered: Callable[[str], None] | None = None, *, route: str | None = None,
    cdr_fields: Mapping[str, object] | None = None, on_failed: Callable[[RequestFailed], None] | None = None,
) -> Ender | None:
    """Dial the customer and bridge them to the waiting agent until one hangs up.

    ``on_answered`` runs with the outbound call's id as soon as the customer answers (the ACD counts
    the agent on a call from then on); ``on_failed`` with the final response when the customer was not
    reached. ``route`` is the outbound route (None: the first that takes the number); ``cdr_fields`` go
    into the outbound call's CDR (a campaign's name and contact). Returns who hung up, or None when the
    customer was not reached.
    """
    number = decision.number
    log = records.call_log(call_id=new_id(), direction="outbound", from_number=decision.agent_id,
                           to_number=number, trunk="", sip_call_id="")
    log.update(queue=decision.queue, agent=decision.agent_id, agent_answered_at=log.now(), **(cdr_fields or {}))
    agent_gone = asyncio.Event()  # the agent hung up while the customer's phone rang: CANCEL it
    agent_session.ended.add_done_callback(lambda _: agent_gone.set())
    try:
        leg, session = await dialer.call_number(number, route, ring_timeout=decision.ring_time, cancel=agent_gone)
    except RequestFailed as failure:
        logger.info("callback.failed", number=number, status=failure.status)
        if on_failed is not None:
            on_failed(failure)
        await agent_session.hangup("callback not answered")
        agent_leg.close()
        log.finish("failed", hangup_by="system", cause=f"customer not reached ({failure.status})")
        return None
    loop = asyncio.get_running_loop()
    log.update(answered_at=log.now(), sip_call_id=session.call_id)
    log.event("CONNECT", queue=decision.queue, agent=decision.agent_id,
              data={"callback_for": decision.call_id, "attempt": decision.attempt})
    if on_answered is not None:
        on_answered(log.call_id)
    call = Call(log.call_id, log, CallBridge(dialer.media.clock))
    agent = call.add(Leg("agent", decision.agent_id, agent_session, agent_leg))
    customer = call.add(Leg("callee", number, session, leg))
    call.bridge.join(agent)
    call.bridge.join(customer)
    hold = BridgeHold(call.bridge, {"agent": agent_leg, "callee": leg}, music="moh",
                      language=dialer.config.prompts.default_language, log=log, clock=loop.time,
                      queue=decision.queue)
    agent_session.on_offer = lambda request: hold.reoffer("agent", request.body)
    session.on_offer = lambda request: hold.reoffer("callee", request.body)
    queue = dialer.config.queues.get(decision.queue or "")
    recording = None if queue is not None and queue.record == "off" else \
        CallRecording.start(dialer.config, log.call_id, call.bridge, log)
    if recording is not None:
        agent_leg.on_digit = recording.agent_keys(dialer.config.recording, decision.agent_id)
    call.bridge.start()
    with records.conversation(Conversation(log.call_id, call, log, decision.queue, session)):
        await asyncio.wait([agent_session.ended, session.ended], return_when=asyncio.FIRST_COMPLETED)
    ender = Ender.AGENT if agent_session.ended.done() else Ender.CALLER
    hold_seconds = hold.close()
    call.bridge.stop()
    call.finish(loop.time())
    for other in (agent_session, session):
        await other.hangup("callback finished")
    agent_leg.close()
    leg.close()
    if recording is not None:
        await recording.finish(records.sink)
    log.update(talk_seconds=max(0.0, customer.talk_seconds), hold_seconds=hold_seconds)
    log.finish("answered", hangup_by=ender.value, cause=f"{ender.value} hung up")
    return ender
