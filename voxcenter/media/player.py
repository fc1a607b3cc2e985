"""Drift-free prompt and music-on-hold playback on a shared 20 ms clock.

Frame ``k`` of a playback is due at ``start + k × 20 ms``, an absolute
deadline: a late wake-up never shifts the grid. When the loop was late, the
frames already due are sent at once, at most ``max_burst`` of them; older
ones are dropped (their timestamps still advance, so the far end sees a short
loss rather than a stream that drifts behind real time).

One :class:`MediaClock` drives every active player from a single
``loop.call_at`` per 20 ms tick: with hundreds of callers on hold that is one
timer wake-up per tick instead of one per player (``bench/media_bench.py``
measures both).
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Sequence
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

FRAME_TIME = 0.020
_EARLY_TOLERANCE = 0.0005  # call_at may wake a hair before its deadline (clock resolution)


class FramePacer:
    """Pure pacing of one playback: which frames are due at ``now`` on the grid ``start + k × frame_time``."""

    __slots__ = ("frame_time", "index", "max_burst", "start")

    def __init__(self, start: float, frame_time: float = FRAME_TIME, max_burst: int = 3) -> None:
        if frame_time <= 0 or max_burst < 1:
            raise ValueError("FramePacer: frame_time > 0 and max_burst >= 1")
        self.start = start
        """Deadline of frame 0."""
        self.frame_time = frame_time
        """Spacing of the grid in seconds."""
        self.max_burst = max_burst
        """Most frames sent in one wake-up; older due frames are dropped."""
        self.index = 0
        """Index of the next frame not yet sent or dropped."""

    def deadline(self) -> float:
        """When the next frame is due."""
        return self.start + self.index * self.frame_time

    def due(self, now: float) -> tuple[int, int]:
        """Frames to drop and frames to send at ``now`` (both consumed from the grid)."""
        last_due = math.floor((now + _EARLY_TOLERANCE - self.start) / self.frame_time)
        count = last_due + 1 - self.index
        if count <= 0:
            return 0, 0
        self.index += count
        dropped = max(0, count - self.max_burst)
        return dropped, count - dropped


class Ticking(Protocol):
    """Anything a :class:`MediaClock` drives."""

    def tick(self, now: float) -> None:
        """One clock tick at ``now``."""


class MediaClock:
    """One 20 ms ticker shared by many players: ticks at ``epoch + n × frame_time``, skipping ticks it missed."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, frame_time: float = FRAME_TIME) -> None:
        self._loop = loop
        self.frame_time = frame_time
        """Tick spacing."""
        self._clients: dict[Ticking, None] = {}
        self._epoch = 0.0
        self._next_tick = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._ticking = False
        self.ticks = 0
        """Ticks run so far (for measurements)."""

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def add(self, client: Ticking) -> float:
        """Start driving ``client``; returns the time of its first tick (the start of its grid)."""
        loop = self._get_loop()
        self._clients[client] = None
        if self._ticking:
            return self._following_tick(loop.time())  # _tick arms that one when it is done
        if self._handle is None:
            self._epoch = self._next_tick = loop.time()
            self._handle = loop.call_at(self._next_tick, self._tick)
        return self._next_tick

    def remove(self, client: Ticking) -> None:
        """Stop driving ``client``; the ticker stops when nobody is left."""
        self._clients.pop(client, None)
        if not self._clients and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def __len__(self) -> int:
        return len(self._clients)

    def _following_tick(self, now: float) -> float:
        """The grid point strictly after ``now``: never drift, never run a backlog of ticks."""
        n = math.floor((now + _EARLY_TOLERANCE - self._epoch) / self.frame_time) + 1
        return self._epoch + n * self.frame_time

    def _tick(self) -> None:
        loop = self._get_loop()
        now = loop.time()
        self._handle = None
        self.ticks += 1
        self._ticking = True
        try:
            for client in list(self._clients):
                try:
                    client.tick(now)
                except Exception:
                    log.exception("media_clock_client_failed")
                    self._clients.pop(client, None)
        finally:
            self._ticking = False
        if self._clients:
            self._next_tick = self._following_tick(now)
            self._handle = loop.call_at(self._next_tick, self._tick)


class FrameSink(Protocol):
    """Where a player sends frames: an RtpSession (or a test double)."""

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        """Send one 20 ms frame."""

    def skip_frame(self) -> None:
        """Advance the timestamp by one frame without sending."""


class PlayOutcome(enum.Enum):
    """How a playback ended."""

    FINISHED = "finished"
    INTERRUPTED = "interrupted"


class Player:
    """Plays prompts (each a list of 20 ms payloads) once, or loops them (music on hold), into a sink.

    ``start()`` puts it on the clock; ``stop()`` ends it at once (barge-in);
    ``await wait()`` returns the :class:`PlayOutcome`. A marker bit starts
    each prompt (RFC 3551 §4.1: first packet of a talkspurt); a loop restarts
    without one, since music on hold is one continuous talkspurt.
    """

    def __init__(
        self,
        sink: FrameSink,
        prompts: Sequence[Sequence[bytes]],
        clock: MediaClock,
        *,
        loop_forever: bool = False,
        max_burst: int = 3,
    ) -> None:
        self.sink = sink
        """The session frames go to."""
        self.prompts = [p for p in prompts if p]
        """The non-empty prompts, in order."""
        self.clock = clock
        """The shared ticker."""
        self.loop_forever = loop_forever
        """Music on hold: start over after the last prompt until stopped."""
        self.max_burst = max_burst
        self.frames_sent = 0
        """Frames handed to the sink."""
        self.frames_dropped = 0
        """Frames dropped because the loop was late by more than ``max_burst`` frames."""
        self.outcome: PlayOutcome | None = None
        """Set once the playback ended."""
        self._pacer: FramePacer | None = None
        self._prompt = 0
        self._frame = 0
        self._marker = True
        self._done: asyncio.Future[PlayOutcome] | None = None

    def start(self) -> None:
        """Begin playback on the next clock tick."""
        if self._pacer is not None:
            return
        if not self.prompts:
            self._finish(PlayOutcome.FINISHED)
            return
        start = self.clock.add(self)
        self._pacer = FramePacer(start, self.clock.frame_time, self.max_burst)

    def stop(self) -> None:
        """End playback now (a digit, an agent answered, the caller hung up)."""
        self._finish(PlayOutcome.INTERRUPTED)

    async def wait(self) -> PlayOutcome:
        """Wait for the playback to end."""
        if self.outcome is not None:
            return self.outcome
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._done)

    def _finish(self, outcome: PlayOutcome) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self.clock.remove(self)
        if self._done is not None and not self._done.done():
            self._done.set_result(outcome)

    def _next_frame(self) -> bytes | None:
        """The next payload, advancing the position; ``None`` past the end of a one-shot playback."""
        if self._prompt >= len(self.prompts):
            if not self.loop_forever:
                return None
            self._prompt = 0
        frames = self.prompts[self._prompt]
        payload = frames[self._frame]
        self._frame += 1
        if self._frame >= len(frames):
            self._prompt += 1
            self._frame = 0
            if self._prompt < len(self.prompts):
                self._marker = True
        return payload

    def tick(self, now: float) -> None:
        """Send the frames due at ``now`` (called by the clock)."""
        pacer = self._pacer
        if pacer is None or self.outcome is not None:
            return
        dropped, send = pacer.due(now)
        for _ in range(dropped):
            if self._next_frame() is None:
                break
            self.sink.skip_frame()
            self.frames_dropped += 1
        for _ in range(send):
            was_start = self._marker
            self._marker = False  # _next_frame sets it again when this frame ends a prompt
            payload = self._next_frame()
            if payload is None:
                break
            self.sink.send_payload(payload, marker=was_start)
            self.frames_sent += 1
        if not self.loop_forever and self._prompt >= len(self.prompts):
            self._finish(PlayOutcome.FINISHED)
