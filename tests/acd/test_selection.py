"""Skills, relaxation and agent selection strategies."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.acd.model import AgentProfile, ConfigError, RelaxationStep, SkillRequirement, Strategy
from voxcenter.acd.selection import (
    Candidate,
    best_tier,
    meets,
    merged_requirements,
    relaxed_requirements,
    select_agents,
    skill_rank,
)


def cand(agent_id: str, order: int, idle: float = 0.0, calls: int = 0, talk: float = 0.0, weight: float = 1.0,
         rank: tuple[int, int] = (0, 0), penalty: int = 0) -> Candidate:
    return Candidate(agent_id, order, idle, calls, talk, weight, rank, penalty)


POOL = [cand("a", 0, idle=5, calls=3, talk=50), cand("b", 1, idle=2, calls=1, talk=90), cand("c", 2, idle=9, calls=2,
        talk=10)]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.LONGEST_IDLE, ["b"]),
        (Strategy.FEWEST_CALLS, ["b"]),
        (Strategy.LEAST_TALK_TIME, ["c"]),
        (Strategy.LINEAR, ["a"]),
        (Strategy.RING_ALL, ["a", "b", "c"]),
    ],
)
def test_deterministic_strategies(strategy: Strategy, expected: list[str]) -> None:
    chosen = select_agents(POOL, strategy, random.Random(0), last_rung=None)
    assert [c.agent_id for c in chosen] == expected


def test_round_robin_moves_past_the_last_rung_agent_and_wraps() -> None:
    rng = random.Random(0)
    assert select_agents(POOL, Strategy.ROUND_ROBIN, rng, last_rung=0)[0].agent_id == "b"
    assert select_agents(POOL, Strategy.ROUND_ROBIN, rng, last_rung=2)[0].agent_id == "a"


def test_weighted_random_follows_weights() -> None:
    pool = [cand("light", 0, weight=1.0), cand("heavy", 1, weight=9.0)]
    rng = random.Random(7)
    picks = [select_agents(pool, Strategy.WEIGHTED_RANDOM, rng, None)[0].agent_id for _ in range(2000)]
    share = picks.count("heavy") / len(picks)
    # Binomial(2000, 0.9): standard deviation 0.0067; six of them either side.
    assert abs(share - 0.9) < 6 * (0.9 * 0.1 / 2000) ** 0.5


def test_random_picks_from_the_pool() -> None:
    rng = random.Random(3)
    seen = {select_agents(POOL, Strategy.RANDOM, rng, None)[0].agent_id for _ in range(200)}
    assert seen == {"a", "b", "c"}


def test_best_skill_rank_comes_first() -> None:
    need = (SkillRequirement("billing", 2),)
    expert = AgentProfile("expert", skills={"billing": 5})
    junior = AgentProfile("junior", skills={"billing": 2})
    assert skill_rank(expert, need, ()) < skill_rank(junior, need, ())
    pool = [cand("junior", 0, rank=skill_rank(junior, need, ())),
            cand("expert", 1, rank=skill_rank(expert, need, ()))]
    assert select_agents(pool, Strategy.LINEAR, random.Random(0), None)[0].agent_id == "expert"


def test_cost_aware_takes_the_cheapest_of_the_best_skill_level_never_a_cheaper_less_skilled_one() -> None:
    need = (SkillRequirement("billing", 2),)
    dear = AgentProfile("dear", skills={"billing": 4}, cost=40.0)
    cheap = AgentProfile("cheap", skills={"billing": 4}, cost=25.0)
    junior = AgentProfile("junior", skills={"billing": 2}, cost=10.0)
    pool = [Candidate(p.agent_id, i, 0.0, 0, 0.0, 1.0, skill_rank(p, need, ()), 0, p.cost)
            for i, p in enumerate((dear, cheap, junior))]
    assert [c.agent_id for c in best_tier(pool, cost_aware=True)] == ["cheap"]
    assert [c.agent_id for c in best_tier(pool, cost_aware=False)] == ["dear", "cheap"]
    assert select_agents(pool, Strategy.LINEAR, random.Random(0), None, cost_aware=True)[0].agent_id == "cheap"
    assert select_agents(pool, Strategy.LINEAR, random.Random(0), None)[0].agent_id == "dear"


def test_linear_rings_by_penalty_then_file_order() -> None:
    pool = [cand("first", 0, penalty=2), cand("second", 1, penalty=0), cand("third", 2, penalty=0)]
    assert select_agents(pool, Strategy.LINEAR, random.Random(0), None)[0].agent_id == "second"
    assert select_agents(pool[:1], Strategy.LINEAR, random.Random(0), None)[0].agent_id == "first"
    assert [c.agent_id for c in select_agents(pool, Strategy.RING_ALL, random.Random(0), None)] == [
        "second", "third"]


candidates = st.lists(
    st.builds(
        Candidate,
        agent_id=st.text("abcdefgh", min_size=1, max_size=3),
        order=st.integers(0, 20),
        idle_since=st.floats(0, 100),
        calls_taken=st.integers(0, 5),
        talk_time=st.floats(0, 500),
        weight=st.sampled_from([1.0, 2.0, 5.0]),
        rank=st.tuples(st.integers(-10, 0), st.integers(-5, 0)),
        penalty=st.integers(0, 3),
        cost=st.sampled_from([0.0, 10.0, 20.0]),
    ),
    min_size=1, max_size=8, unique_by=lambda c: c.agent_id,
)


@given(candidates, st.sampled_from(list(Strategy)), st.booleans(), st.integers(0, 2**16),
       st.none() | st.integers(0, 20))
def test_every_strategy_picks_within_the_lowest_penalty_then_best_rank_then_lowest_cost(
    pool: list[Candidate], strategy: Strategy, cost_aware: bool, seed: int, last_rung: int | None,
) -> None:
    chosen = select_agents(pool, strategy, random.Random(seed), last_rung, cost_aware)
    assert chosen and len({c.agent_id for c in chosen}) == len(chosen)
    lowest = min(c.penalty for c in pool)
    assert {c.penalty for c in chosen} == {lowest}  # a higher tier only when no lower one is free
    tier = [c for c in pool if c.penalty == lowest]
    best = min(c.rank for c in tier)
    assert {c.rank for c in chosen} == {best}
    if cost_aware:
        assert {c.cost for c in chosen} == {min(c.cost for c in tier if c.rank == best)}
    if strategy is Strategy.RING_ALL:
        assert chosen == best_tier(pool, cost_aware)
    else:
        assert len(chosen) == 1


def test_weighted_random_follows_membership_weights_within_the_tier() -> None:
    pool = [cand("one", 0, weight=1.0), cand("two", 1, weight=2.0), cand("spare", 2, weight=50.0, penalty=1)]
    rng = random.Random(11)
    picks = [select_agents(pool, Strategy.WEIGHTED_RANDOM, rng, None)[0].agent_id for _ in range(3000)]
    assert "spare" not in picks
    share = picks.count("two") / len(picks)
    # Binomial(3000, 2/3): standard deviation 0.0086; six of them either side.
    assert abs(share - 2 / 3) < 6 * ((2 / 3) * (1 / 3) / 3000) ** 0.5


def test_preferred_skills_break_ties() -> None:
    need = (SkillRequirement("sales", 1),)
    prefer = (SkillRequirement("french", 3),)
    plain = AgentProfile("plain", skills={"sales": 3})
    french = AgentProfile("french", skills={"sales": 3, "french": 4})
    assert skill_rank(french, need, prefer) < skill_rank(plain, need, prefer)


def test_relaxation_lowers_levels_then_drops_skills() -> None:
    need = (SkillRequirement("billing", 4), SkillRequirement("german", 3))
    steps = (RelaxationStep(30, min_level=2), RelaxationStep(90, drop=frozenset({"german"})))
    assert relaxed_requirements(need, steps[:0]) == need
    assert relaxed_requirements(need, steps[:1]) == (SkillRequirement("billing", 2), SkillRequirement("german", 2))
    assert relaxed_requirements(need, steps) == (SkillRequirement("billing", 2),)
    agent = AgentProfile("x", skills={"billing": 2})
    assert not meets(agent, relaxed_requirements(need, steps[:1]))
    assert meets(agent, relaxed_requirements(need, steps))


def test_the_queue_skills_and_the_calls_are_both_required_at_the_higher_level() -> None:
    queue = (SkillRequirement("tech", 3), SkillRequirement("german", 2))
    call = (SkillRequirement("tech", 4), SkillRequirement("billing", 1))
    merged = dict((r.skill, r.min_level) for r in merged_requirements(queue, call))
    assert merged == {"tech": 4, "german": 2, "billing": 1}
    assert merged_requirements(queue, ()) == queue


def test_bad_levels_are_refused_with_the_culprit_named() -> None:
    with pytest.raises(ConfigError, match="'x' skill 'billing'"):
        AgentProfile("x", skills={"billing": 6})
    with pytest.raises(ConfigError, match=r"outside 1\.\.5"):
        SkillRequirement("billing", 0)
