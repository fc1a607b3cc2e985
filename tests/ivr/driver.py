"""A fake-clock driver for IvrRun: scripted keys, timers fired at their deadlines, actions split from timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from voxcenter.config.schema import Config
from voxcenter.ivr import Action, CallInfo, IvrRun, TimelineEvent

MONDAY_NOON_PARIS = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
"""A Monday, 12:00 in Paris (UTC+1 in winter)."""


def make_config(ivr: dict[str, Any], **sections: Any) -> Config:
    """A Config from plain data (no file, no prompt check)."""
    data: dict[str, Any] = {"ivr": ivr, "queues": {"sales": {}, "support": {}}}
    data.update(sections)
    return Config.model_validate(data)


class Driver:
    """Runs one IvrRun on a fake clock; ``actions`` holds what the call was asked to do, ``timeline`` the CDR."""

    def __init__(self, config: Config, entry: str, *, caller: str | None = "+33612345678",
                 language: str | None = None, start_at: dt.datetime = MONDAY_NOON_PARIS) -> None:
        self.now = 0.0
        self.run = IvrRun(config, entry, CallInfo("call-1", caller, "100", language),
                          wall_clock=lambda now: start_at + dt.timedelta(seconds=now))
        self.actions: list[Action] = []
        self.timeline: list[TimelineEvent] = []

    def pull(self) -> list[Action]:
        """Actions emitted since the last pull (timeline events go to ``timeline``)."""
        out: list[Action] = []
        while (action := self.run.next_action()) is not None:
            if isinstance(action, TimelineEvent):
                self.timeline.append(action)
            else:
                out.append(action)
        self.actions.extend(out)
        return out

    def start(self) -> list[Action]:
        self.run.start(self.now)
        return self.pull()

    def advance(self, seconds: float) -> list[Action]:
        """Let time pass, firing the timer whenever it falls due."""
        end = self.now + seconds
        while (deadline := self.run.get_timer()) is not None and deadline <= end:
            self.now = deadline
            self.run.handle_timer(self.now)
        self.now = end
        return self.pull()

    def press(self, keys: str, gap: float = 0.5) -> list[Action]:
        out: list[Action] = []
        for key in keys:
            out += self.advance(gap)
            self.run.digit(key, self.now)
            out += self.pull()
        return out

    def finish_prompt(self, after: float = 1.0) -> list[Action]:
        self.advance(after)
        self.run.prompt_finished(self.now)
        return self.pull()

    def events(self, name: str) -> list[TimelineEvent]:
        return [event for event in self.timeline if event.name == name]

    def nodes(self) -> list[str | None]:
        return [event.node for event in self.events("node")]
