"""Ringing an agent for a queue call: the softphone, and the agent's personal number when they have one.

With ``agents.<id>.follow_me``, the personal number (a mobile) is rung through
a trunk while the softphone is not registered, or also, in parallel, once the
softphone has rung for ``after`` seconds. The first phone to answer takes the
call and the other is cancelled. A personal phone must *confirm*: once it
answers it hears a short beep every second until the agent presses
``confirm_key``; a phone that does not (a mobile's voicemail took the call) is
hung up, and the ring counts as not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from voxcenter.config.queues import FollowMe
from voxcenter.media.dtmf import DtmfReceived
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.legmedia import LegMedia, tone_frames
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession

logger = structlog.get_logger(__name__)

Answered = tuple[LegMedia, SipSession]


async def ring_agent(dialer: Dialer, agent_id: str, follow_me: FollowMe | None, *, caller_id: str,
                     cancel: asyncio.Event, on_alerting: Callable[[], None]) -> Answered:
    """The agent's answered phone (softphone or confirmed personal number); RequestFailed otherwise."""
    registered = dialer.registered(agent_id)
    if follow_me is None or (registered and follow_me.after is None):
        return await dialer.call_extension(agent_id, caller_id=caller_id, cancel=cancel, on_alerting=on_alerting)
    if not registered:
        return await ring_personal(dialer, agent_id, follow_me, caller_id=caller_id, cancel=cancel)
    return await _ring_both(dialer, agent_id, follow_me, caller_id=caller_id, cancel=cancel,
                            on_alerting=on_alerting)


async def ring_personal(dialer: Dialer, agent_id: str, follow_me: FollowMe, *, caller_id: str,
                        cancel: asyncio.Event) -> Answered:
    """Ring the personal number and wait for the agent's confirmation key."""
    logger.info("acd.follow_me", agent=agent_id, number=follow_me.number)
    leg, session = await dialer.call_number(follow_me.number, follow_me.route, caller_id=caller_id, cancel=cancel)
    confirmed = asyncio.Event()

    def key(event: DtmfReceived) -> None:
        if event.digit == follow_me.confirm_key:
            confirmed.set()

    leg.on_digit = key
    session.on_info = lambda request: leg.info_received(request.content_type or "", request.body)
    codec = leg.session.codec
    beep = tone_frames(codec, 880.0, 0.2)
    leg.play_frames([beep + [codec.silence(codec.clock_rate // 50)] * 40], loop=True)  # a beep each second
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(confirmed.wait()), asyncio.ensure_future(cancel.wait()),
                                        asyncio.ensure_future(asyncio.shield(session.ended))]
    try:
        await asyncio.wait(waits, timeout=follow_me.confirm_within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
        leg.stop()
        leg.on_digit = None
    if confirmed.is_set() and not session.is_ended and not cancel.is_set():
        logger.info("acd.follow_me_confirmed", agent=agent_id)
        return leg, session
    await session.hangup("not confirmed")
    leg.close("not confirmed")
    raise RequestFailed(480, "Not Confirmed")


async def _ring_both(dialer: Dialer, agent_id: str, follow_me: FollowMe, *, caller_id: str, cancel: asyncio.Event,
                     on_alerting: Callable[[], None]) -> Answered:
    """The softphone at once, the personal number ``after`` seconds later; the first to answer wins."""
    soft_cancel, personal_cancel = asyncio.Event(), asyncio.Event()

    async def personal() -> Answered:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(personal_cancel.wait(), follow_me.after)
        if personal_cancel.is_set():
            raise RequestFailed(487, "Request Terminated")
        return await ring_personal(dialer, agent_id, follow_me, caller_id=caller_id, cancel=personal_cancel)

    async def relay_cancel() -> None:
        await cancel.wait()
        soft_cancel.set()
        personal_cancel.set()

    attempts = {
        asyncio.ensure_future(dialer.call_extension(agent_id, caller_id=caller_id, cancel=soft_cancel,
                                                    on_alerting=on_alerting)): soft_cancel,
        asyncio.ensure_future(personal()): personal_cancel,
    }
    watcher = asyncio.ensure_future(relay_cancel())
    failure: BaseException | None = None
    winner: Answered | None = None
    try:
        pending = set(attempts)
        while pending and winner is None:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for attempt in done:
                error = attempt.exception()
                if error is None and winner is None:
                    winner = attempt.result()
                elif error is None:  # both answered at once: the later one is hung up
                    leg, session = attempt.result()
                    await session.hangup("answered elsewhere")
                    leg.close("answered elsewhere")
                elif failure is None:
                    failure = error
        for attempt in pending:
            attempts[attempt].set()  # CANCEL the phone still ringing
        for attempt in pending:
            with contextlib.suppress(Exception):
                leg, session = await attempt
                await session.hangup("answered elsewhere")  # its 200 crossed our CANCEL
                leg.close("answered elsewhere")
    finally:
        watcher.cancel()
    if winner is not None:
        return winner
    assert failure is not None
    raise failure
