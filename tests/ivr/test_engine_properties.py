"""Random key and timer schedules: the interpreter never raises, never leaks a sensitive key, and always ends
in a hang-up, a queue or a transfer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.ivr import CallerProfile, EnterQueue, Hangup, Phase, TimelineEvent, Transfer

from .driver import Driver, make_config

PLAN: dict[str, Any] = {
    "main": {"type": "menu", "prompts": "m", "options": {1: "card", 2: "lang", 3: "who", 4: "cb", 5: "nps",
                                                         6: "intro", 7: "t", 0: "desk"},
             "invalid_prompt": "bad", "timeout_prompt": "none", "timeout": "4s"},
    "card": {"type": "collect", "prompts": "c", "variable": "card", "sensitive": True, "min_digits": 4,
             "max_digits": 6, "pattern": "[0-9]+", "next": "q", "on_failure": "bye"},
    "lang": {"type": "language", "prompts": "l", "options": {1: "en", 2: "fr"}, "next": "main"},
    "who": {"type": "lookup", "next": "vip"},
    "vip": {"type": "set", "priority": 3, "skills": {"billing": 2}, "next": "q"},
    "q": {"type": "queue", "queue": "sales", "exit_key": "*", "on_exit": {"key": "vm", "timeout": "bye"}},
    "vm": {"type": "voicemail", "mailbox": "sales", "greeting": "g", "next": "bye"},
    "cb": {"type": "callback", "prompts": "o", "queue": "sales"},
    "nps": {"type": "survey", "prompts": "s", "thanks_prompt": "thanks", "next": "main"},
    "intro": {"type": "play", "prompts": "i", "barge_in": True, "next": "main"},
    "t": {"type": "transfer", "extension": "1001", "on_failure": "desk"},
    "desk": {"type": "operator", "queue": "support"},
    "bye": {"type": "hangup", "prompts": "goodbye"},
}
CONFIG = make_config(PLAN, prompts={"languages": ["en", "fr"]})
KEYS = "0123456789*#"

steps = st.lists(
    st.one_of(
        st.tuples(st.just("key"), st.sampled_from(KEYS)),
        st.tuples(st.just("wait"), st.floats(min_value=0.0, max_value=12.0)),
        st.tuples(st.just("prompt-end"), st.none()),
        st.tuples(st.just("hangup"), st.none()),
        st.tuples(st.just("result"), st.sampled_from(["answered", "timeout", "key", "empty", "callback", "fail"])),
    ),
    max_size=60,
)


def settle(d: Driver, outcome: str) -> None:
    """Answer whatever the run waits for that is not a key or a timer."""
    phase = d.run.phase
    if phase is Phase.LOOKING_UP:
        d.run.lookup_result(None if outcome == "fail" else CallerProfile("1", known=True, priority=2), d.now)
    elif phase is Phase.IN_QUEUE and outcome != "fail":
        d.run.queue_result(outcome, d.now)
    elif phase is Phase.TRANSFERRING:
        d.run.transfer_result(outcome == "answered", d.now)
    elif phase is Phase.RECORDING:
        d.run.recording_finished(3.0, "silence", d.now)
    d.pull()


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from(["main", "card", "cb", "nps", "intro"]), st.booleans())
def test_random_schedules_end_in_a_terminal_action(schedule: list[tuple[str, Any]], entry: str,
                                                   withheld: bool) -> None:
    d = Driver(CONFIG, entry, caller=None if withheld else "+15550100")
    d.start()
    for kind, value in schedule:
        if d.run.finished:
            break
        if kind == "key":
            d.press(value, gap=0.0)
        elif kind == "wait":
            d.advance(value)
        elif kind == "prompt-end":
            d.finish_prompt(after=0.0)
        elif kind == "hangup":
            d.run.hangup(d.now)
            d.pull()
        else:
            settle(d, value)
    # Then a silent caller who lets every prompt finish: the run must end or be handed over.
    for _ in range(200):
        phase = d.run.phase
        if phase in (Phase.DONE, Phase.IN_QUEUE, Phase.TRANSFERRING):
            break
        if phase is Phase.PLAYING:
            d.finish_prompt(after=0.0)
        elif phase is Phase.WAITING:
            assert d.run.get_timer() is not None  # waiting always has a deadline
            d.advance(d.run.get_timer() - d.now)  # type: ignore[operator]
        else:
            settle(d, "timeout")
    else:
        raise AssertionError(f"no end after 200 steps: {d.run.phase} at {d.run.node}")
    ended_by_caller = any(e.name == "caller-hangup" for e in d.timeline)
    handed_over = any(e.name in ("queue-answered", "transferred") for e in d.timeline)
    if not (ended_by_caller or handed_over):
        assert isinstance(d.actions[-1], Hangup | EnterQueue | Transfer), d.actions[-1]
    # Keys entered in the sensitive node are never shown.
    for event in d.timeline:
        assert isinstance(event, TimelineEvent)
        if event.node == "card":
            assert event.name != "digit" and event.data.get("value") in (None, "***")
