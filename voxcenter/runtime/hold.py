"""Hold inside a bridged call: the held party hears music, and the bridge resumes when the phone does.

A phone puts the call on hold with a re-INVITE whose offer lets us send it
nothing: ``a=sendonly``, ``a=inactive``, or the RFC 2543 ``c=0.0.0.0``
(RFC 3264 §8.4). Then the relay stops in both directions and the *other* leg
plays the music on hold in a loop on its own outgoing stream, so the held
party's RTP stays one continuous stream (the player and the bridge share it).
When the phone offers ``a=sendrecv`` again, the music stops and the bridge
restarts (a new talkspurt, marker bit set). Either phone may hold; while both
do, nobody gets music (neither wants media from us).

The timeline gets HOLD and UNHOLD (queue_log names), and the time with at
least one side on hold is counted for the CDR's ``hold_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from voxcenter.runtime.call import CallBridge
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.legmedia import LegMedia

logger = structlog.get_logger(__name__)


class BridgeHold:
    """Answers both legs' re-offers for a bridge, switching between the relay and music on hold."""

    def __init__(
        self, bridge: CallBridge, legs: dict[str, LegMedia], *, music: str, language: str, log: CallLog,
        clock: Callable[[], float], queue: str | None = None,
    ) -> None:
        if len(legs) != 2:
            raise ValueError("BridgeHold needs exactly two legs")
        self.bridge = bridge
        self.legs = legs
        """The two legs by role (``caller``/``agent``, ``agent``/``callee``): the role is logged with HOLD."""
        self.music = music
        """The prompt looped to a held party."""
        self.language = language
        self.log = log
        self.clock = clock
        self.queue = queue
        self._held_since: float | None = None
        self._hold_total = 0.0
        self._music_tasks: dict[str, asyncio.Task[None]] = {}
        self._desk_held: set[str] = set()
        """Roles whose party holds the call from the agent page rather than from the phone."""

    # --- the re-offer ----------------------------------------------------------------------------------------------

    def reoffer(self, role: str, body: bytes) -> bytes | None:
        """Answer the re-INVITE/UPDATE offer of the phone on leg ``role``; None refuses it (488)."""
        leg = self.legs[role]
        if not body:
            return None
        was_held = leg.held
        answer = leg.answer_reoffer(body)
        if answer is None:
            self.log.event("REINVITE", data={"leg": role, "accepted": False})
            return None
        if leg.held and not was_held:
            self.log.event("HOLD", queue=self.queue, data={"leg": role})
            logger.info("call.hold", leg=role)
        elif was_held and not leg.held:
            self.log.event("UNHOLD", queue=self.queue, data={"leg": role})
            logger.info("call.unhold", leg=role)
        else:
            self.log.event("REINVITE", data={"leg": role, "accepted": True})
        self._settle()
        return answer

    def desk_hold(self, role: str, held: bool) -> bool:
        """The agent page holds (``held``) or resumes the call for the party on leg ``role``, as that phone's own
        re-INVITE would: the other party hears music meanwhile. False when it is so already."""
        if held == (role in self._desk_held):
            return False
        was_held = self._holds(role)
        if held:
            self._desk_held.add(role)
        else:
            self._desk_held.discard(role)
        if self._holds(role) != was_held:
            self.log.event("HOLD" if held else "UNHOLD", queue=self.queue, data={"leg": role, "by": "page"})
            logger.info("call.hold" if held else "call.unhold", leg=role, by="page")
        self._settle()
        return True

    def _holds(self, role: str) -> bool:
        return self.legs[role].held or role in self._desk_held

    @property
    def on_hold(self) -> bool:
        """At least one party holds the call (from its phone or the agent page)."""
        return any(self._holds(role) for role in self.legs)

    def hold_seconds(self) -> float:
        """Time with at least one side on hold so far, including a hold still in progress."""
        current = self.clock() - self._held_since if self._held_since is not None else 0.0
        return self._hold_total + current

    def close(self) -> float:
        """The call is over: stop any music; returns the total hold time."""
        total = self.hold_seconds()
        if self._held_since is not None:
            self._hold_total, self._held_since = total, None
        for role in list(self._music_tasks):
            self._stop_music(role)
        return total

    # --- the switch ------------------------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Make the media match the legs' hold states: relay when nobody holds, else music to each held party."""
        now = self.clock()
        if self.on_hold:
            if self._held_since is None:
                self._held_since = now
            self.bridge.stop()
            for role, leg in self.legs.items():
                # ``leg`` hears music when the other party holds it and ``leg``'s phone itself still wants media.
                if self._holds(self._other(role)) and not leg.held:
                    self._start_music(role)
                else:
                    self._stop_music(role)
            return
        if self._held_since is not None:
            self._hold_total += now - self._held_since
            self._held_since = None
        for role in list(self._music_tasks):
            self._stop_music(role)
        self.bridge.start()  # also re-anchors the relay on a new address or codec

    def _other(self, role: str) -> str:
        return next(name for name in self.legs if name != role)

    def _start_music(self, role: str) -> None:
        if role in self._music_tasks:
            return
        leg = self.legs[role]

        async def music() -> None:
            frames = await leg.load([self.music], self.language)
            if frames:  # an unreadable prompt is logged by load(); the held party then hears silence
                leg.play_frames(frames, loop=True)  # until _stop_music() stops the leg's player

        task = asyncio.get_running_loop().create_task(music())
        task.add_done_callback(_log_failure)
        self._music_tasks[role] = task

    def _stop_music(self, role: str) -> None:
        task = self._music_tasks.pop(role, None)
        if task is not None:
            task.cancel()
            self.legs[role].stop()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        with contextlib.suppress(Exception):
            logger.error("call.hold_music_failed", error=repr(task.exception()))
