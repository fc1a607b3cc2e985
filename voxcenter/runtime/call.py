"""The call model: a call owns its legs, and the legs that hear each other meet in one bridge.

A :class:`Leg` is one party: a SIP dialog with its media (the customer's phone,
an agent's, an outside number). A :class:`CallBridge` holds the legs that are in
conversation: with two it relays their RTP directly (the fast path of
:class:`~voxcenter.media.bridge.Bridge`: payloads untouched when the codecs
match); with three or more it mixes them (:class:`~voxcenter.media.mixer.Mixer`:
each hears the others, not itself). Legs join and leave while the call goes on
(a transfer, a consult, a conference); the bridge switches between relay and
mixer by itself, and its taps (the recording) follow it, so the recording,
the CDR and the timeline belong to the :class:`Call`, not to any leg.

A supervisor's leg is not one of the conversation's legs: it is a *monitor*
(:meth:`CallBridge.monitor`), mixed after them with a who-hears-whom matrix
(:func:`~voxcenter.runtime.monitoring.hearing_matrix`): listening, whispering
to the agent, or barging in. A monitored two-party call is mixed, not relayed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voxcenter.media.bridge import Bridge, Tap
from voxcenter.media.mixer import Mixer
from voxcenter.media.player import MediaClock
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.monitoring import Monitor, MonitorMode, hearing_matrix
from voxcenter.sip.session import SipSession
from voxcenter.store.records import CallLegRecord, new_id


@dataclass(eq=False, slots=True)
class Leg:
    """One party of a call: its SIP dialog and its media."""

    role: str
    """What the party is to the call: ``caller``, ``agent``, ``callee`` (an outside number), ``target``…"""
    party: str
    """Who it is: the agent's extension or the number."""
    session: SipSession
    media: LegMedia
    talk_started: float | None = None
    """Loop time the leg last joined the conversation (None while out of it)."""
    talk_seconds: float = 0.0
    """Time in conversation so far (closed stretches)."""
    leg_id: str = field(default_factory=new_id)
    started_at: float = field(default_factory=time.time)
    """Wall-clock time the leg joined the call (answered: legs are added once their phone answered)."""
    ended_at: float | None = None
    """Wall-clock time its SIP dialog ended."""
    version: int = 0
    """Of the leg's ``call_legs`` row."""

    def talked(self, now: float) -> float:
        """Time in conversation, including a stretch still going on."""
        current = now - self.talk_started if self.talk_started is not None else 0.0
        return self.talk_seconds + current


class CallBridge:
    """The legs in conversation; relay for two, mixer for three or more (see the module docstring)."""

    def __init__(self, clock: MediaClock, *, now: Callable[[], float] | None = None) -> None:
        self.clock = clock
        self._now = now or (lambda: asyncio.get_running_loop().time())
        self.legs: list[Leg] = []
        """In joining order; the first is the recording's left channel (the customer, or the agent who dialled)."""
        self.monitors: dict[Leg, tuple[Leg, MonitorMode]] = {}
        """Supervisors' legs on the call → (the agent's leg they monitor, the mode); not in ``legs``."""
        self._taps: list[Tap] = []
        self._engine: Bridge | Mixer | None = None
        self.active = False
        """Audio flows between the legs (False while held, before the first start, after stop)."""

    # --- membership ---------------------------------------------------------------------------------------------

    def join(self, leg: Leg) -> None:
        """Add ``leg`` to the conversation (it hears the others from the next packet or tick)."""
        if leg in self.legs:
            return
        self.legs.append(leg)
        self._rebuild()

    def leave(self, leg: Leg) -> None:
        """Take ``leg`` out of the conversation; the others go on (relay again when two are left)."""
        if leg not in self.legs:
            return
        self.legs.remove(leg)
        self._close_talk(leg)
        self._rebuild()

    def replace(self, old: Leg, new: Leg) -> None:
        """``new`` takes ``old``'s place (a transfer): same position, so the recording keeps its channels."""
        index = self.legs.index(old)
        self._close_talk(old)
        self.legs[index] = new
        self._rebuild()

    def monitor(self, supervisor: Leg, agent: Leg, mode: MonitorMode) -> None:
        """``supervisor`` monitors ``agent``'s conversation in ``mode`` from the next tick on."""
        known = supervisor in self.monitors
        self.monitors[supervisor] = (agent, mode)
        if known and isinstance(self._engine, Mixer):
            self._engine.set_hearing(self._hearing())  # a mode switch: same mixer, new matrix
        else:
            self._rebuild()

    def unmonitor(self, supervisor: Leg) -> None:
        """The supervisor's session is over; the conversation goes on as before."""
        if self.monitors.pop(supervisor, None) is not None:
            self._rebuild()

    def _hearing(self) -> npt.NDArray[np.int32]:
        monitors = [Monitor(self.legs.index(agent) if agent in self.legs else None, mode)
                    for agent, mode in self.monitors.values()]
        return hearing_matrix(len(self.legs), monitors)

    @property
    def mixing(self) -> bool:
        """Three or more legs (or a monitored call): the mixer is in use."""
        return isinstance(self._engine, Mixer)

    # --- audio ---------------------------------------------------------------------------------------------------

    def add_tap(self, tap: Tap) -> None:
        """Listen to the conversation (the recorder); kept across relay ↔ mixer switches."""
        self._taps.append(tap)
        if self._engine is not None:
            self._engine.add_tap(tap)

    def remove_tap(self, tap: Tap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)
        if self._engine is not None:
            self._engine.remove_tap(tap)

    def start(self) -> None:
        """Let audio flow (again): take each leg's codec and address as they are now."""
        self.active = True
        now = self._now()
        for leg in self.legs if len(self.legs) > 1 else ():  # nobody talks alone (waiting on a transfer)
            if leg.talk_started is None:
                leg.talk_started = now
        if self._engine is not None:
            self._engine.start()

    def stop(self) -> None:
        """Stop the audio (hold, hang-up); the legs keep their streams for the next player or bridge."""
        self.active = False
        for leg in self.legs:
            self._close_talk(leg)
        if self._engine is not None:
            self._engine.stop()

    def _close_talk(self, leg: Leg) -> None:
        if leg.talk_started is not None:
            leg.talk_seconds += self._now() - leg.talk_started
            leg.talk_started = None

    def _rebuild(self) -> None:
        if self._engine is not None:
            self._engine.stop()
        engine: Bridge | Mixer | None
        if len(self.legs) < 2:
            for leg in self.legs:
                self._close_talk(leg)
        if len(self.legs) == 2 and not self.monitors:
            engine = Bridge(self.legs[0].media.session, self.legs[1].media.session)
        elif len(self.legs) > 2 and not self.monitors:
            engine = Mixer([leg.media.session for leg in self.legs], self.clock,
                           customer=self.legs[0].media.session)
        elif len(self.legs) >= 2:
            engine = Mixer([leg.media.session for leg in (*self.legs, *self.monitors)], self.clock,
                           customer=self.legs[0].media.session, hearing=self._hearing())
        else:
            engine = None
        self._engine = engine
        if engine is not None:
            for tap in self._taps:
                engine.add_tap(tap)
            if self.active:
                self.start()

    @property
    def relayed(self) -> tuple[int, int]:
        """Packets relayed in each direction by the two-leg fast path (0, 0 while mixing)."""
        return self._engine.relayed if isinstance(self._engine, Bridge) else (0, 0)


@dataclass(eq=False)
class Call:
    """One customer call (or an agent's call out): its legs, its bridge, its records."""

    call_id: str
    log: CallLog
    bridge: CallBridge
    legs: list[Leg] = field(default_factory=list)
    """Every leg the call has had, in order (legs that left stay: the CDR tells their story)."""

    def add(self, leg: Leg) -> Leg:
        """A new party (answered) on the call: its row in ``call_legs`` follows it until the call ends."""
        leg.started_at = self.log.now()
        self.legs.append(leg)
        self._write(leg, None)

        def ended(_: object) -> None:
            leg.ended_at = self.log.now()

        leg.session.ended.add_done_callback(ended)
        return leg

    def finish(self, now: float) -> None:
        """The call is over: each leg's final row, with its talk time."""
        for leg in self.legs:
            self._write(leg, now)

    def _write(self, leg: Leg, now: float | None) -> None:
        leg.version += 1
        final = now is not None
        self.log.sink.submit(CallLegRecord(
            leg_id=leg.leg_id, call_id=self.call_id, version=leg.version, role=leg.role, peer=leg.party,
            started_at=leg.started_at, sip_call_id=leg.session.call_id, answered_at=leg.started_at,
            ended_at=(leg.ended_at or self.log.now()) if final else None, codec=leg.media.session.codec.name,
            talk_seconds=round(leg.talked(now), 3) if now is not None else 0.0,
        ))

    def live(self, role: str | None = None) -> list[Leg]:
        """Legs still connected (of ``role``, when given)."""
        return [leg for leg in self.legs if not leg.session.is_ended and (role is None or leg.role == role)]

    def story(self, now: float) -> list[dict[str, object]]:
        """Who was on the call and for how long: one entry per leg, in order."""
        return [{"role": leg.role, "party": leg.party, "talk": round(leg.talked(now), 1)} for leg in self.legs]
