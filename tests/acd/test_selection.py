"""Skills, relaxation and agent selection strategies."""

import random

import pytest

from voxcenter.acd.model import AgentProfile, ConfigError, RelaxationStep, SkillRequirement, Strategy
from voxcenter.acd.selection import Candidate, meets, relaxed_requirements, select_agents, skill_rank


def cand(agent_id: str, order: int, idle: float = 0.0, calls: int = 0, talk: float = 0.0, weight: float = 1.0,
         rank: tuple[int, int] = (0, 0)) -> Candidate:
    return Candidate(agent_id, order, idle, calls, talk, weight, rank)


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


def test_best_skill_rank_comes_first_and_cost_aware_reverses_it() -> None:
    need = (SkillRequirement("billing", 2),)
    expert = AgentProfile("expert", skills={"billing": 5})
    junior = AgentProfile("junior", skills={"billing": 2})
    assert skill_rank(expert, need, (), cost_aware=False) < skill_rank(junior, need, (), cost_aware=False)
    assert skill_rank(junior, need, (), cost_aware=True) < skill_rank(expert, need, (), cost_aware=True)
    pool = [cand("junior", 0, rank=skill_rank(junior, need, (), False)),
            cand("expert", 1, rank=skill_rank(expert, need, (), False))]
    assert select_agents(pool, Strategy.LINEAR, random.Random(0), None)[0].agent_id == "expert"


def test_preferred_skills_break_ties() -> None:
    need = (SkillRequirement("sales", 1),)
    prefer = (SkillRequirement("french", 3),)
    plain = AgentProfile("plain", skills={"sales": 3})
    french = AgentProfile("french", skills={"sales": 3, "french": 4})
    assert skill_rank(french, need, prefer, False) < skill_rank(plain, need, prefer, False)


def test_relaxation_lowers_levels_then_drops_skills() -> None:
    need = (SkillRequirement("billing", 4), SkillRequirement("german", 3))
    steps = (RelaxationStep(30, min_level=2), RelaxationStep(90, drop=frozenset({"german"})))
    assert relaxed_requirements(need, steps[:0]) == need
    assert relaxed_requirements(need, steps[:1]) == (SkillRequirement("billing", 2), SkillRequirement("german", 2))
    assert relaxed_requirements(need, steps) == (SkillRequirement("billing", 2),)
    agent = AgentProfile("x", skills={"billing": 2})
    assert not meets(agent, relaxed_requirements(need, steps[:1]))
    assert meets(agent, relaxed_requirements(need, steps))


def test_bad_levels_are_refused_with_the_culprit_named() -> None:
    with pytest.raises(ConfigError, match="'x' skill 'billing'"):
        AgentProfile("x", skills={"billing": 6})
    with pytest.raises(ConfigError, match=r"outside 1\.\.5"):
        SkillRequirement("billing", 0)
