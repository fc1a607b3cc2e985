"""The interpreter's machinery: phases, the table of accepted inputs, the output queue, prompts, waits, entries.

Node behaviours live in :mod:`voxcenter.ivr.engine`; this module knows how to play prompts (with or without
barge-in), wait for keys until a deadline, collect an entry, walk to a node and hang up. Which input is legal
in which phase is decided in one place, :data:`ACCEPTS`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Sequence

from voxcenter.config.ivr_nodes import NodeBase, OperatorNode
from voxcenter.config.schema import Config
from voxcenter.ivr.actions import (
    Action,
    Hangup,
    Play,
    StartCollect,
    StopCollect,
    TimelineEvent,
    TimelineValue,
)
from voxcenter.ivr.context import CallContext, CallInfo
from voxcenter.ivr.entry import DigitEntry, EntryRules
from voxcenter.ivr.hours import WallClock
from voxcenter.ivr.languages import starting_language
from voxcenter.ivr.sayers import Sayer, sayer_for
from voxcenter.sip.errors import LocalProtocolError

MAX_HOPS = 50
"""Nodes entered without any input from the caller before the run is declared looping and hung up."""


class Phase(enum.Enum):
    """What the run is waiting for."""

    IDLE = "idle"
    PLAYING = "playing"
    WAITING = "waiting"
    LOOKING_UP = "looking-up"
    IN_QUEUE = "in-queue"
    TRANSFERRING = "transferring"
    RECORDING = "recording"
    DONE = "done"


class Input(enum.Enum):
    """The run's input verbs."""

    START = "start"
    DIGIT = "digit"
    PROMPT_FINISHED = "prompt_finished"
    TIMER = "handle_timer"
    LOOKUP_RESULT = "lookup_result"
    QUEUE_RESULT = "queue_result"
    TRANSFER_RESULT = "transfer_result"
    RECORDING_FINISHED = "recording_finished"
    HANGUP = "hangup"


HANDLE = True
IGNORE = False
_RACES = {Input.DIGIT: HANDLE, Input.PROMPT_FINISHED: IGNORE, Input.TIMER: IGNORE, Input.HANGUP: HANDLE}

ACCEPTS: dict[Phase, dict[Input, bool]] = {
    Phase.IDLE: {Input.START: HANDLE, Input.HANGUP: HANDLE},
    Phase.PLAYING: {**_RACES, Input.PROMPT_FINISHED: HANDLE},
    Phase.WAITING: {**_RACES, Input.TIMER: HANDLE},
    Phase.LOOKING_UP: {**_RACES, Input.LOOKUP_RESULT: HANDLE},
    Phase.IN_QUEUE: {**_RACES, Input.QUEUE_RESULT: HANDLE},
    Phase.TRANSFERRING: {**_RACES, Input.TRANSFER_RESULT: HANDLE},
    Phase.RECORDING: {**_RACES, Input.RECORDING_FINISHED: HANDLE},
    Phase.DONE: {i: IGNORE for i in Input if i is not Input.START},
}
"""Phase -> input -> handled (True) or ignored as a harmless race (False). Anything else is a shell bug."""


class RunCore:
    """State and primitives shared by every node behaviour of :class:`~voxcenter.ivr.engine.IvrRun`."""

    def __init__(self, config: Config, entry_node: str, call: CallInfo, *, wall_clock: WallClock) -> None:
        if entry_node not in config.ivr:
            raise LocalProtocolError(f"entry node {entry_node!r} is not in the dial plan")
        self.config = config
        """The dial plan the call started with; a reload does not change it."""
        self.call = call
        """The call."""
        self.starting_language = starting_language(config, call.language, call.caller)
        """The language the call starts in, and what chose it (the number, the caller's prefix, the default)."""
        self.context = CallContext(language=self.starting_language.language)
        """Variables, language, priority and skills of the call."""
        self._entry_node = entry_node
        self._wall_clock = wall_clock
        self._phase = Phase.IDLE
        self._node_id: str | None = None
        self._actions: deque[Action] = deque()
        self._deadline: float | None = None
        self._barge_in = False
        self._typeahead: list[str] = []
        self._hops = 0
        self._failures = 0
        self._sensitive = False
        self._collecting: str | None = None
        self._then: Callable[[float], None] = self._no_continuation
        self._on_digit: Callable[[str, float], None] = self._no_digit
        self._on_timeout: Callable[[float], None] = self._no_continuation

    # ------------------------------------------------------------------------------------------- outputs

    def next_action(self) -> Action | None:
        """The next thing to do, or None when there is nothing more for now."""
        return self._actions.popleft() if self._actions else None

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must be called next (loop time), or None."""
        return self._deadline

    @property
    def phase(self) -> Phase:
        """What the run waits for."""
        return self._phase

    @property
    def node(self) -> str | None:
        """The node the caller is in."""
        return self._node_id

    @property
    def finished(self) -> bool:
        """The IVR's part of the call is over (hung up, answered by an agent, transferred)."""
        return self._phase is Phase.DONE

    @property
    def sayer(self) -> Sayer:
        """The sayer of the current language."""
        return sayer_for(self.context.language, self.config.prompts.sayer)


    # ---------------------------------------------------------------------------------------- machinery

    def _accept(self, what: Input) -> bool:
        verdict = ACCEPTS[self._phase].get(what)
        if verdict is None:
            raise LocalProtocolError(f"{what.value}() is not expected while the IVR is {self._phase.value}")
        if verdict:
            self._hops = 0
        return verdict

    def _emit(self, action: Action) -> None:
        self._actions.append(action)

    def _timeline(self, event: str, now: float, **data: TimelineValue) -> None:
        self._emit(TimelineEvent(event, now, self._node_id, data))

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        if phase is not Phase.WAITING:
            self._deadline = None
        if phase is Phase.DONE:
            self._stop_collect()

    def _drop_typeahead(self, now: float) -> None:
        """Forget keys typed ahead that no node will read (still one timeline event each, without values)."""
        for _ in self._typeahead:
            self._timeline("digit-ignored", now)
        self._typeahead.clear()

    @staticmethod
    def _no_continuation(now: float) -> None:
        """Continuation of a state that has none (a late prompt end or timer lands here harmlessly); a plain
        function, so that the run does not hold itself through it."""

    def close(self) -> None:
        """The call is over: drop the continuations the nodes left, which hold this run (bound methods and
        closures over it: a reference cycle that only a full garbage collection would free)."""
        self._then = self._on_timeout = self._no_continuation
        self._on_digit = _digit_after_close

    def _no_digit(self, key: str, now: float) -> None:
        self._timeline("digit-ignored", now)

    def _hang_up(self, cause: str, now: float) -> None:
        self._drop_typeahead(now)
        self._timeline("hangup", now, cause=cause)
        self._emit(Hangup(cause))
        self._set_phase(Phase.DONE)

    def _goto(self, node_id: str | None, now: float, *, cause: str = "end of dial plan") -> None:
        self._stop_collect()
        if node_id is None:
            self._hang_up(cause, now)
            return
        self._hops += 1
        if self._hops > MAX_HOPS:
            self._hang_up(f"dial plan loop: {MAX_HOPS} nodes without a caller action", now)
            return
        node = self.config.ivr.get(node_id)
        if node is None:  # the loader refuses such plans; a hand-built config may still hold one
            self._hang_up(f"unknown node {node_id!r}", now)
            return
        self._node_id = node_id
        self._failures = 0
        self._timeline("node", now, type=getattr(node, "type", type(node).__name__))
        self._enter(node, now)

    def _fail(self, target: str | None, now: float, why: str) -> None:
        """Leave a node that could not get an answer: its ``on_failure``, else the operator, else hang up."""
        self._timeline("failed", now, reason=why)
        if target is None:
            target = next((i for i, n in self.config.ivr.items()
                           if isinstance(n, OperatorNode) and i != self._node_id), None)
        self._goto(target, now, cause=why)

    def _play(self, prompts: Sequence[str], now: float, *, barge_in: bool, then: Callable[[float], None]) -> None:
        if not prompts:
            then(now)
            return
        self._emit(Play(tuple(prompts), self.context.language, barge_in))
        self._set_phase(Phase.PLAYING)
        self._barge_in = barge_in
        self._then = then

    def _ask(
        self,
        prompts: Sequence[str],
        now: float,
        timeout: Callable[[], float],
        on_digit: Callable[[str, float], None],
        on_timeout: Callable[[float], None],
    ) -> None:
        """Play prompts with barge-in, then wait ``timeout()`` for a key; type-ahead keys skip the prompts."""
        self._on_digit = on_digit
        self._on_timeout = on_timeout

        def wait(at: float) -> None:
            self._set_phase(Phase.WAITING)
            self._deadline = at + timeout()

        if not self._typeahead:
            self._play(prompts, now, barge_in=True, then=wait)
            return
        wait(now)
        while self._typeahead and self._phase is Phase.WAITING and self._on_digit is on_digit:
            on_digit(self._typeahead.pop(0), now)

    def _start_collect(self, node_id: str, sensitive: bool) -> None:
        if self._collecting is None:
            self._collecting = node_id
            self._sensitive = sensitive
            self._emit(StartCollect(node_id, sensitive))

    def _stop_collect(self) -> None:
        if self._collecting is not None:
            self._emit(StopCollect(self._collecting))
            self._collecting = None
            self._sensitive = False

    def _digit_event(self, key: str, now: float) -> None:
        if self._sensitive:
            self._timeline("digit-masked", now)
        else:
            self._timeline("digit", now, digit=key)

    def _collect(
        self,
        prompts: Sequence[str],
        rules: EntryRules,
        now: float,
        done: Callable[[DigitEntry, float], None],
    ) -> None:
        """Ask for an entry and call ``done`` with it once finished (valid or not)."""
        entry = DigitEntry(rules)

        def on_digit(key: str, at: float) -> None:
            self._digit_event(key, at)
            if entry.add(key):
                self._on_digit = self._no_digit
                done(entry, at)
            else:
                self._set_phase(Phase.WAITING)
                self._deadline = at + entry.next_timeout()

        def on_timeout(at: float) -> None:
            entry.finish()
            self._on_digit = self._no_digit
            done(entry, at)

        self._ask(prompts, now, entry.next_timeout, on_digit, on_timeout)

    def _enter(self, node: NodeBase, now: float) -> None:
        """Run a node; :class:`~voxcenter.ivr.engine.IvrRun` gives every node type its behaviour."""
        self._hang_up(f"node type {type(node).__name__} is not supported by the interpreter", now)


def _digit_after_close(key: str, now: float) -> None:
    """Where a key lands once the run is closed: nowhere."""
