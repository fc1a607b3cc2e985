"""Which answered calls go to their queue's post-call survey: every Nth, long enough, not the same number twice.

Pure: the caller's number, the talk time and ``now`` (Unix seconds) come in, a yes or no goes out. The
memory of who was surveyed lives in this process (a restart forgets it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voxcenter.config.queues import PostCallSurvey

REMEMBERED_NUMBERS = 100_000
"""Numbers remembered for ``not_within`` before the expired ones are dropped."""


@dataclass
class SurveySampler:
    """The sampling rules of ``queues.<name>.survey`` applied across calls."""

    eligible: dict[str, int] = field(default_factory=dict)
    """Per queue, answered calls that passed the length and repeat rules so far (for ``every``)."""
    surveyed_at: dict[str, float] = field(default_factory=dict)
    """Number → when it was last sent to a survey."""

    def sample(self, queue: str, rules: PostCallSurvey, number: str | None, talk_seconds: float, now: float) -> bool:
        """Whether this call (its agent just hung up) goes to the survey; records it when it does."""
        if talk_seconds < rules.min_talk:
            return False
        if number and rules.not_within is not None:
            last = self.surveyed_at.get(number)
            if last is not None and now - last < rules.not_within:
                return False
        count = self.eligible.get(queue, 0) + 1
        self.eligible[queue] = count
        if count % rules.every:
            return False
        if number:
            self.surveyed_at[number] = now
            if len(self.surveyed_at) > REMEMBERED_NUMBERS and rules.not_within is not None:
                horizon = now - rules.not_within
                self.surveyed_at = {n: at for n, at in self.surveyed_at.items() if at >= horizon}
        return True
