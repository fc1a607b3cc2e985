"""Which answered calls go to the post-call survey: every Nth, long enough, not the same number twice."""

from __future__ import annotations

from voxcenter.config.queues import PostCallSurvey
from voxcenter.runtime.surveys import SurveySampler

DAY = 86400.0


def test_every_nth_eligible_caller_is_surveyed() -> None:
    sampler, rules = SurveySampler(), PostCallSurvey(node="nps", every=3, not_within=None)
    picks = [sampler.sample("q", rules, f"06{n:08d}", 60.0, float(n)) for n in range(9)]
    assert picks == [False, False, True] * 3


def test_short_calls_are_skipped_and_do_not_count_towards_every() -> None:
    sampler, rules = SurveySampler(), PostCallSurvey(node="nps", every=2, min_talk="30s", not_within=None)
    assert not sampler.sample("q", rules, "0600000001", 29.9, 0.0)  # too short: not counted
    assert not sampler.sample("q", rules, "0600000002", 30.0, 1.0)  # first eligible
    assert sampler.sample("q", rules, "0600000003", 45.0, 2.0)  # second eligible: surveyed


def test_the_same_number_is_not_surveyed_twice_within_the_period() -> None:
    sampler, rules = SurveySampler(), PostCallSurvey(node="nps", not_within="7d")
    assert sampler.sample("q", rules, "0600000001", 60.0, 0.0)
    assert not sampler.sample("q", rules, "0600000001", 60.0, 6 * DAY)
    assert sampler.sample("other", rules, "0600000002", 60.0, 6 * DAY)
    assert sampler.sample("q", rules, "0600000001", 60.0, 7 * DAY)  # the week is over


def test_queues_count_their_callers_apart() -> None:
    sampler, rules = SurveySampler(), PostCallSurvey(node="nps", every=2, not_within=None)
    assert [sampler.sample(q, rules, None, 60.0, 0.0) for q in ("a", "b", "a", "b")] == [False, False, True, True]
