"""The wait estimate: Erlang A's wait of the caller's place, its inputs, the goal table, and the no-growth rule."""

import random

import pytest

from voxcenter.acd import (
    AgentProfile,
    Discipline,
    Enqueued,
    QueuePolicy,
    RingAgent,
    SkillRequirement,
)
from voxcenter.acd.erlang import answered_wait_cdf
from voxcenter.acd.estimate import (
    FEWER_AGENTS,
    LONGER_CALLS,
    AbandonRate,
    SteadyMean,
    announceable_ewt,
    best_estimate,
    estimate_wait,
)
from voxcenter.acd.simulate import Goal, goals, simulate
from voxcenter.acd.stats import ewt_accuracy, ewt_band, ewt_hit, ewt_judged

from .driver import Harness, of_type


def test_the_hit_rule() -> None:
    assert ewt_hit(100.0, 129.0) and ewt_hit(100.0, 71.0)  # within 30 s
    assert ewt_hit(400.0, 533.0) and not ewt_hit(400.0, 534.0)  # within 25 % of the wait (533.3)
    assert ewt_hit(400.0, 320.0) and not ewt_hit(400.0, 319.0)  # 400 − 320 = 80 = 25 % of 320
    low, high = ewt_band(400.0)
    assert low == 320.0 and high == pytest.approx(533.333, abs=1e-3)
    assert ewt_band(10.0) == (0.0, 40.0)
    assert not ewt_judged(0.0, 30.0) and not ewt_judged(None, 30.0) and ewt_judged(12.0, 30.0)
    assert ewt_accuracy(3, 4) == 0.75 and ewt_accuracy(0, 0) is None


def test_free_agents_mean_no_wait_and_nobody_staffed_no_estimate() -> None:
    assert estimate_wait(calls_ahead=1, callbacks_ahead=0, free_agents=2, staffed_agents=5, handle_time=180) == 0.0
    assert estimate_wait(3, 0, 0, 0, 100.0) is None


def test_the_estimate_is_the_most_likely_hit_of_the_erlang_a_wait() -> None:
    rate, theta = 10 / 180, 1 / 300
    for steps in (1, 3, 8, 25):
        e = estimate_wait(steps - 1, 0, 0, 10, 180.0, theta)
        assert e is not None and e >= 30.0

        def hit(x: float, steps: int = steps) -> float:
            low, high = ewt_band(x)
            return answered_wait_cdf(steps, rate, theta, high) - answered_wait_cdf(steps, rate, theta, low)

        best_on_grid = max(hit(30.0 + i) for i in range(2000))
        assert hit(e) >= best_on_grid - 1e-3


def test_estimates_grow_with_the_place_and_shrink_with_patience_and_agents() -> None:
    by_place = [estimate_wait(k, 0, 0, 10, 180.0, 1 / 300) or 0.0 for k in range(30)]
    assert by_place == sorted(by_place) and by_place[-1] > by_place[0]
    impatient = estimate_wait(10, 0, 0, 10, 180.0, 1 / 60) or 0.0
    patient = estimate_wait(10, 0, 0, 10, 180.0, 0.0) or 0.0
    assert impatient < patient  # callers ahead hang up
    assert (estimate_wait(10, 0, 0, 20, 180.0) or 0.0) < patient
    # a callback ahead never hangs up: it costs more than a caller ahead
    assert (estimate_wait(0, 10, 0, 10, 180.0, 1 / 60) or 0.0) > impatient


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        estimate_wait(-1, 0, 0, 1, 100.0)
    with pytest.raises(ValueError):
        estimate_wait(1, 0, 0, 1, 100.0, abandon_rate=-1.0)
    with pytest.raises(ValueError):
        SteadyMean(180.0, 0.0)


def test_the_handle_time_estimate_does_not_swing() -> None:
    rng = random.Random(7)
    steady = SteadyMean(180.0, 0.005)
    values = [steady.add(rng.expovariate(1 / 180)) for _ in range(5000)]
    settled = values[1000:]
    # an α = 0.1 moving average of the same calls swings by about ±40 s; this one stays within ±12 %
    assert max(settled) - 180.0 < 22.0 and 180.0 - min(settled) < 22.0
    first = SteadyMean(100.0, 0.005)
    assert first.add(200.0) == 150.0 and first.add(300.0) == 200.0  # the plain mean, the prior counted once


def test_the_hang_up_rate_is_abandons_per_second_waited() -> None:
    rng = random.Random(3)
    rate = AbandonRate(horizon=100000)
    assert rate.rate == 0.0
    for _ in range(20000):
        patience, offered = rng.expovariate(1 / 300), rng.expovariate(1 / 60)
        rate.add(min(patience, offered), abandoned=patience < offered)
    assert rate.rate == pytest.approx(1 / 300, rel=0.05)


def test_best_estimate_is_cached_and_whole_seconds() -> None:
    e = best_estimate(4, 0.06, 0.003)
    assert e == round(e) and best_estimate(4, 0.06, 0.003) == e


@pytest.mark.parametrize("goal", goals(), ids=lambda g: g.config.describe())
def test_goal_table(goal: Goal) -> None:
    # The goal rows with the real router on a fake clock: 20 000 callers each, fixed seed (1); docs/benchmarks.md
    # has the table for other seeds.
    report = simulate(goal.config)
    assert report.ewt_accuracy is not None and report.ewt_accuracy >= goal.goal
    assert report.ewt_samples > 4000


def test_no_growth_without_a_reason() -> None:
    # told 90 s, 30 s ago: 60 s of the promise are left
    said = announceable_ewt(55.0, 90.0, 30.0, staffed_now=5, staffed_then=5)
    assert (said.ewt, said.reason) == (55.0, None)
    said = announceable_ewt(200.0, 90.0, 30.0, staffed_now=5, staffed_then=5)
    assert (said.ewt, said.reason) == (None, None)  # higher than promised, no reason: nothing said about time
    said = announceable_ewt(200.0, 90.0, 30.0, staffed_now=4, staffed_then=5)
    assert (said.ewt, said.reason) == (200.0, FEWER_AGENTS)
    said = announceable_ewt(40.0, 90.0, 100.0, staffed_now=5, staffed_then=5)
    assert (said.ewt, said.reason) == (40.0, LONGER_CALLS)  # the promise ran out: the caller waited longer
    assert announceable_ewt(100.0, 90.0, 0.0, 5, 5).ewt == 100.0  # the same started minutes: not heard as more
    assert announceable_ewt(60.0, None, 0.0, 5, 5).ewt == 60.0


def busy_harness(policies: list[QueuePolicy], agents: list[AgentProfile], busy: int) -> Harness:
    """Every agent logged in and on a call (``busy`` callers answered in the first queue)."""
    h = Harness(policies, agents)
    h.staff(*(a.agent_id for a in agents))
    for i in range(busy):
        ring = of_type(h.join(f"busy{i}", policies[0].name), RingAgent)[0]
        h.router.ring_answered(ring.call_id, ring.agent_id, 0.0)
    h.drain()
    return h


def test_shared_agents_count_the_callers_they_take_first_in_the_other_queue() -> None:
    policies = [QueuePolicy(name, announce_every=None, default_handle_time=180.0) for name in ("a", "b")]
    agents = [AgentProfile(f"x{i}", queues=frozenset({"a", "b"})) for i in range(4)]
    h = busy_harness(policies, agents, busy=4)
    for i in range(6):  # six callers of queue a, waiting longer than b's caller
        h.join(f"a{i}", "a")
    h.now = 1.0
    ewt = of_type(h.join("b0", "b"), Enqueued)[0].ewt
    # b0 is first in queue b, but the four shared agents take a's six callers first: 7 steps, not 1
    assert ewt == estimate_wait(6, 0, 0, 4, 180.0) != estimate_wait(0, 0, 0, 4, 180.0)
    assert [v.ewt for v in h.router.waiting("b", 1.0)] == [ewt]


def test_a_caller_ahead_counts_for_the_share_of_its_agents_that_can_take_this_one() -> None:
    policies = [QueuePolicy(name, announce_every=None, default_handle_time=180.0) for name in ("a", "b")]
    # queue a has four agents, two of whom also serve b: a's callers ahead take b's agents half the time
    agents = [AgentProfile("s0", queues=frozenset({"a", "b"})), AgentProfile("s1", queues=frozenset({"a", "b"})),
              AgentProfile("o0", queues=frozenset({"a"})), AgentProfile("o1", queues=frozenset({"a"}))]
    h = busy_harness(policies, agents, busy=4)
    for i in range(4):
        h.join(f"a{i}", "a")
    h.now = 1.0
    ewt = of_type(h.join("b0", "b"), Enqueued)[0].ewt
    assert ewt == estimate_wait(2.0, 0, 0, 2, 180.0)  # 4 callers × 2/4 of their agents, 2 agents for b0


def test_capacity_counts_only_the_agents_with_the_skills_the_call_needs() -> None:
    policy = QueuePolicy("q", discipline=Discipline.SKILLS, announce_every=None, default_handle_time=180.0)
    agents = [AgentProfile(f"g{i}", queues=frozenset({"q"})) for i in range(3)] + [
        AgentProfile(f"f{i}", queues=frozenset({"q"}), skills={"french": 3}) for i in range(2)]
    h = busy_harness([policy], agents, busy=5)
    for i in range(4):
        h.join(f"c{i}")
    plain = of_type(h.join("c4"), Enqueued)[0].ewt
    french = of_type(h.join("fr", required=(SkillRequirement("french", 2),)), Enqueued)[0].ewt
    assert plain == estimate_wait(4, 0, 0, 5, 180.0)
    # the five callers ahead can be taken by all five agents, two of them French speakers: 2/5 each for "fr",
    # whom only those two can take
    assert french == estimate_wait(2.0, 0, 0, 2, 180.0)
    assert french is not None and plain is not None and french > plain
