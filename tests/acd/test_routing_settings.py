"""Routing settings of the dial plan on a fake clock: penalties, membership weights, backup groups, the queue's
own skills, cost-aware routing and the first announcement's delay."""

from __future__ import annotations

import textwrap
from pathlib import Path

from voxcenter.acd import (
    AgentProfile,
    AgentState,
    AgentStateChanged,
    Announce,
    CallRequest,
    CancelRing,
    Decision,
    Enqueued,
    QueuePolicy,
    RingAgent,
    SkillRequirement,
    Strategy,
    WrapUpEnded,
)
from voxcenter.config import load_config
from voxcenter.runtime.mapping import agent_profiles, queue_policies

from .driver import Harness, of_type


def rung(decisions: list[Decision]) -> list[str]:
    return [d.agent_id for d in of_type(decisions, RingAgent)]


def answer_and_keep(h: Harness, call_id: str, agent_id: str) -> None:
    h.router.ring_answered(call_id, agent_id, h.now)
    h.drain()


# --- penalties and weights ------------------------------------------------------------------------------------------

def test_linear_offers_the_lowest_penalty_first_and_a_higher_one_only_when_nobody_better_is_free() -> None:
    agents = [
        AgentProfile("first", queues=frozenset({"q"}), penalties={"q": 2}),
        AgentProfile("second", queues=frozenset({"q"}), penalties={"q": 1}),
        AgentProfile("third", queues=frozenset({"q"})),
    ]
    h = Harness([QueuePolicy("q", strategy=Strategy.LINEAR)], agents)
    h.staff("first", "second", "third")
    assert rung(h.join("c1")) == ["third"]
    answer_and_keep(h, "c1", "third")
    assert rung(h.join("c2")) == ["second"]
    answer_and_keep(h, "c2", "second")
    assert rung(h.join("c3")) == ["first"]


def test_every_strategy_keeps_to_the_penalty_tier_and_ring_all_rings_the_whole_tier() -> None:
    for strategy in Strategy:
        agents = [
            AgentProfile("spare", queues=frozenset({"q"}), penalties={"q": 1}),
            AgentProfile("a", queues=frozenset({"q"})),
            AgentProfile("b", queues=frozenset({"q"})),
        ]
        h = Harness([QueuePolicy("q", strategy=strategy)], agents, seed=5)
        h.staff("spare", "a", "b")
        first = rung(h.join("c1"))
        assert "spare" not in first, strategy
        if strategy is Strategy.RING_ALL:
            assert sorted(first) == ["a", "b"]
        else:
            assert len(first) == 1


def test_a_ring_the_better_tier_did_not_answer_goes_to_the_next_tier_at_once() -> None:
    agents = [AgentProfile("main", queues=frozenset({"q"})),
              AgentProfile("spare", queues=frozenset({"q"}), penalties={"q": 3})]
    h = Harness([QueuePolicy("q", ring_timeout=10.0, retry_delay=30.0)], agents)
    h.staff("main", "spare")
    assert rung(h.join("c1")) == ["main"]
    assert "spare" in rung(h.advance(10.0))


def test_membership_weights_share_the_calls_under_weighted_random() -> None:
    agents = [AgentProfile("light", queues=frozenset({"q"}), weights={"q": 1.0}),
              AgentProfile("heavy", queues=frozenset({"q"}), weights={"q": 3.0})]
    h = Harness([QueuePolicy("q", strategy=Strategy.WEIGHTED_RANDOM)], agents, seed=3)
    h.staff("light", "heavy")
    picks = []
    for n in range(2000):
        [agent] = rung(h.join(f"c{n}"))
        picks.append(agent)
        h.router.caller_left(f"c{n}", h.now)  # the ring is cancelled: both agents are free again
        h.drain()
    share = picks.count("heavy") / len(picks)
    # Binomial(2000, 0.75): standard deviation 0.0097; six of them either side.
    assert abs(share - 0.75) < 6 * (0.75 * 0.25 / 2000) ** 0.5


PLAN = textwrap.dedent("""\
    queues:
      vip: {backup_group: supervisors, backup_after: 45s, skills: {english: 2}, cost_aware: true,
            announcements: {first_after: 12s, position_every: 30s}}
      support: {}
    groups:
      supervisors: ['1009']
    agents:
      '1001': {name: Alice, password: a, cost: 30, queues: [{queue: vip, penalty: 1, weight: 2}, support]}
      '1009': {name: Sue, password: s}
    """)


def test_the_dial_plan_settings_reach_the_router(tmp_path: Path) -> None:
    path = tmp_path / "voxcenter.yaml"
    path.write_text(PLAN)
    config = load_config(path, check_prompts=False)
    vip = {p.name: p for p in queue_policies(config, 0.0)}["vip"]
    assert (vip.backup_group, vip.backup_after, vip.cost_aware) == ("supervisors", 45.0, True)
    assert vip.skills == (SkillRequirement("english", 2),)
    assert (vip.announce_first, vip.announce_every) == (12.0, 30.0)
    alice = {p.agent_id: p for p in agent_profiles(config)}["1001"]
    assert (alice.penalty("vip"), alice.penalty("support")) == (1, 0)
    assert (alice.share("vip"), alice.share("support")) == (2.0, 1.0)
    assert alice.cost == 30.0


# --- backup group ---------------------------------------------------------------------------------------------------

def test_the_backup_group_is_offered_the_caller_after_backup_after_and_the_caller_keeps_its_place() -> None:
    agents = [AgentProfile("member", queues=frozenset({"vip"})),
              AgentProfile("sue", groups=frozenset({"supervisors"}))]
    h = Harness([QueuePolicy("vip", backup_group="supervisors", backup_after=45.0, announce_every=None)], agents)
    h.staff("member", "sue")
    assert rung(h.join("c0", "vip")) == ["member"]
    answer_and_keep(h, "c0", "member")  # the member is busy
    h.now = 10.0
    assert rung(h.join("c1", "vip")) == []  # not yet: Sue is a backup, not a member
    h.now = 20.0
    assert rung(h.join("c2", "vip")) == []
    assert rung(h.advance(54.9)) == []
    assert rung(h.advance(55.0)) == ["sue"]  # c1 has waited 45 s: the first in line is the one offered
    assert [v.call_id for v in h.router.waiting("vip", h.now)] == ["c1", "c2"]
    assert [v.call_id for v in h.router.waiting("vip", h.now) if v.ringing] == ["c1"]
    assert "supervisors" not in h.router.waiting("vip", h.now)[1].backup_groups  # c2: 35 s only


def test_a_member_freed_before_the_backup_time_takes_the_caller_and_the_backup_is_never_rung() -> None:
    agents = [AgentProfile("member", queues=frozenset({"vip"})),
              AgentProfile("sue", groups=frozenset({"supervisors"}))]
    h = Harness([QueuePolicy("vip", backup_group="supervisors", backup_after=45.0, wrapup=0.0)], agents)
    h.staff("member", "sue")
    h.join("c0", "vip")
    answer_and_keep(h, "c0", "member")
    h.join("c1", "vip")
    h.now = 30.0
    h.router.call_ended("c0", h.now)
    assert rung(h.drain()) == ["member"]
    answer_and_keep(h, "c1", "member")
    assert "sue" not in rung(h.advance(100.0))


def test_the_backup_joins_the_queues_strategy_and_penalty_tiers() -> None:
    """Once open, backups are agents of the queue like the members (penalty 0, the queue's selection)."""
    agents = [AgentProfile("member", queues=frozenset({"vip"}), penalties={"vip": 1}),
              AgentProfile("sue", groups=frozenset({"supervisors"}))]
    h = Harness([QueuePolicy("vip", strategy=Strategy.RING_ALL, backup_group="supervisors", backup_after=5.0,
                             ring_timeout=30.0)], agents)
    h.staff("member", "sue")
    assert rung(h.join("c1", "vip")) == ["member"]
    h.advance(6.0)
    assert h.router.waiting("vip", h.now)[0].ringing == frozenset({"member"})  # a ring in progress goes on


# --- the queue's own skills -----------------------------------------------------------------------------------------

def test_the_queue_skills_are_required_of_every_call_and_relaxation_relaxes_them() -> None:
    from voxcenter.acd import RelaxationStep

    agents = [AgentProfile("novice", queues=frozenset({"q"}), skills={"tech": 1}),
              AgentProfile("expert", queues=frozenset({"q"}), skills={"tech": 4})]
    h = Harness([QueuePolicy("q", skills=(SkillRequirement("tech", 3),),
                             relaxation=(RelaxationStep(60.0, min_level=1),))], agents)
    h.staff("novice")
    assert rung(h.join("c1")) == []
    assert rung(h.advance(60.0)) == ["novice"]
    h.router.ring_answered("c1", "novice", h.now)
    h.staff("expert")
    assert rung(h.join("c2", required=(SkillRequirement("tech", 4),))) == ["expert"]


# --- cost-aware -----------------------------------------------------------------------------------------------------

def test_a_cost_aware_queue_offers_the_cheapest_of_the_best_skilled_free_agents() -> None:
    agents = [AgentProfile("dear", queues=frozenset({"q"}), skills={"tech": 4}, cost=40.0),
              AgentProfile("cheap", queues=frozenset({"q"}), skills={"tech": 4}, cost=20.0),
              AgentProfile("junior", queues=frozenset({"q"}), skills={"tech": 2}, cost=10.0)]
    need = (SkillRequirement("tech", 2),)
    for aware, first in ((True, "cheap"), (False, "dear")):
        h = Harness([QueuePolicy("q", strategy=Strategy.LINEAR, cost_aware=aware)], agents)
        h.staff("dear", "cheap", "junior")
        assert rung(h.join("c1", required=need)) == [first]
    h = Harness([QueuePolicy("q", cost_aware=True)], agents)
    h.staff("junior", "dear")  # the cheap expert is not free: the dear expert, never the cheaper junior
    assert rung(h.join("c1", required=need)) == ["dear"]


# --- first announcement ---------------------------------------------------------------------------------------------

def test_the_first_announcement_comes_first_after_seconds_after_joining_then_every_period() -> None:
    h = Harness([QueuePolicy("q", announce_first=12.0, announce_every=30.0, join_empty=True)],
                [AgentProfile("a", queues=frozenset({"q"}))])
    h.hold("a")
    h.join("c1")
    h.join("c2")
    [entered] = of_type(h.join("c3"), Enqueued)
    assert (entered.position, entered.announce) == (3, False)
    assert of_type(h.advance(11.9), Announce) == []
    said = of_type(h.advance(12.0), Announce)
    assert [(a.call_id, a.position, a.at) for a in said] == [("c2", 2, 12.0), ("c3", 3, 12.0)]  # c1 is next
    h.router.caller_left("c1", h.now)
    h.drain()
    said = of_type(h.advance(42.0), Announce)
    assert [(a.call_id, a.position) for a in said] == [("c3", 2)]  # c2 is next now: it hears nothing


def test_without_first_after_the_caller_is_told_on_joining_and_then_every_period() -> None:
    h = Harness([QueuePolicy("q", announce_every=30.0, join_empty=True)], [AgentProfile("a", queues=frozenset({"q"}))])
    h.hold("a")
    h.join("c1")
    [entered] = of_type(h.join("c2"), Enqueued)
    assert entered.announce
    assert of_type(h.advance(29.0), Announce) == []


# --- max_calls: call waiting ----------------------------------------------------------------------------------------

def two_lines(**policy: object) -> Harness:
    agents = [AgentProfile("duo", queues=frozenset({"q"}), max_calls=2),
              AgentProfile("solo", queues=frozenset({"q"}))]
    h = Harness([QueuePolicy("q", wrapup=5.0, ring_timeout=10.0, retry_delay=20.0, **policy)], agents)  # type: ignore[arg-type]
    h.staff("duo")
    return h


def test_an_agent_with_two_lines_is_offered_a_second_call_while_on_one_and_wraps_up_after_the_last() -> None:
    h = two_lines()
    assert rung(h.join("c1")) == ["duo"]
    answer_and_keep(h, "c1", "duo")
    out = h.join("c2")
    assert rung(out) == ["duo"]  # call waiting: the phone rings on its free line
    assert not of_type(out, AgentStateChanged)  # the agent stays on-call
    answer_and_keep(h, "c2", "duo")
    assert h.router.connected_calls() == {"c1": "duo", "c2": "duo"}
    assert rung(h.join("c3")) == []  # both lines taken
    h.now = 30.0
    h.router.call_ended("c1", h.now)
    out = h.drain()
    assert h.router.agent_state("duo") is AgentState.ON_CALL  # still on c2: no wrap-up yet
    [ended] = of_type(out, WrapUpEnded)
    assert (ended.call_id, ended.wrapup_time) == ("c1", 0.0)
    assert rung(out) == ["duo"]  # a line is free again: c3
    h.router.caller_left("c3", h.now)
    h.drain()
    h.now = 40.0
    h.router.call_ended("c2", h.now)
    h.drain()
    assert h.router.agent_state("duo") is AgentState.WRAP_UP
    h.advance(45.0)
    assert h.router.agent_state("duo") is AgentState.READY


def test_one_line_agents_are_never_rung_while_on_a_call() -> None:
    h = two_lines()
    h.router.agent_logout("duo", h.now)
    h.staff("solo")
    h.join("c1")
    answer_and_keep(h, "c1", "solo")
    assert rung(h.join("c2")) == []


def test_a_second_line_not_answered_costs_the_retry_delay_and_the_caller_goes_on() -> None:
    h = two_lines()
    h.join("c1")
    answer_and_keep(h, "c1", "duo")
    h.join("c2")
    h.staff("solo")  # solo logs in while c2 rings duo's second line
    assert rung(h.advance(10.0)) == ["solo"]  # duo's line rang out: c2 goes to solo at once
    assert h.router.agent_state("duo") is AgentState.ON_CALL
    assert not h.router.agent_offerable("duo", h.now)  # the retry delay is duo's
    assert h.router.agent_offerable("duo", 30.0)


def test_pausing_or_ending_the_last_call_withdraws_a_second_lines_ring() -> None:
    h = two_lines()
    h.join("c1")
    answer_and_keep(h, "c1", "duo")
    h.join("c2")
    h.router.agent_pause("duo", h.now, "lunch")
    [cancel] = of_type(h.drain(), CancelRing)
    assert (cancel.call_id, cancel.agent_id) == ("c2", "duo")
    assert rung(h.join("c3")) == []  # a pause waiting for the call's end: no more offers
    h = two_lines()
    h.join("c1")
    answer_and_keep(h, "c1", "duo")
    h.join("c2")
    h.router.call_ended("c1", h.now)
    out = h.drain()
    assert [(c.call_id, c.agent_id) for c in of_type(out, CancelRing)] == [("c2", "duo")]
    assert h.router.agent_state("duo") is AgentState.WRAP_UP  # wrap-up before another call
    assert rung(h.advance(5.0)) == ["duo"]


def test_callbacks_wait_for_a_free_agent_not_a_free_line() -> None:
    h = two_lines()
    h.join("c1")
    answer_and_keep(h, "c1", "duo")
    h.router.callback_restored(CallRequest("cb", "q", caller="0123"), h.now, 0, h.now)
    assert rung(h.drain()) == []


def start_callback(h: Harness) -> None:
    """A callback rings "duo", whose phone answers: the customer's number is dialled now."""
    h.router.callback_restored(CallRequest("cb", "q", caller="0123"), h.now, 0, h.now)
    assert rung(h.drain()) == ["duo"]
    answer_and_keep(h, "cb", "duo")


def test_an_agent_who_took_a_second_line_during_a_failed_callback_stays_on_that_call() -> None:
    h = two_lines()
    start_callback(h)
    h.join("c1")  # the agent waits for the customer on one line; the other rings
    answer_and_keep(h, "c1", "duo")
    h.router.callback_result("cb", False, h.now)
    h.drain()
    assert h.router.agent_state("duo") is AgentState.ON_CALL
    assert h.router.connected_calls() == {"c1": "duo"}


def test_a_second_line_ringing_when_a_callback_fails_is_withdrawn() -> None:
    h = two_lines()
    start_callback(h)
    assert rung(h.join("c1")) == ["duo"]
    h.router.callback_result("cb", False, h.now)
    out = h.drain()
    assert [(c.call_id, c.agent_id) for c in of_type(out, CancelRing)] == [("c1", "duo")]
    assert h.router.agent_state("duo") is AgentState.RESERVED  # offered c1 again, on its only call now
    assert rung(out) == ["duo"]


def test_unpausing_an_agent_with_a_pending_pause_offers_its_free_line_again() -> None:
    h = two_lines(autopause_after=1)
    h.join("c1")
    answer_and_keep(h, "c1", "duo")
    assert rung(h.join("c2")) == ["duo"]
    h.advance(10.0)  # the second line rings out: a pause is pending for after the call
    assert rung(h.advance(40.0)) == []  # past the retry delay, but pausing
    h.router.agent_unpause("duo", h.now)
    assert rung(h.drain()) == ["duo"]


def test_a_reload_that_adds_a_backup_group_opens_it_to_callers_who_waited_long_enough() -> None:
    agents = [AgentProfile("member", queues=frozenset({"vip"})),
              AgentProfile("sue", groups=frozenset({"supervisors"}))]
    h = Harness([QueuePolicy("vip", join_empty=True, leave_when_empty=False, announce_every=None)], agents)
    h.staff("sue")
    h.join("old", "vip")
    h.now = 40.0
    h.join("new", "vip")
    h.now = 50.0
    h.router.reconfigure([QueuePolicy("vip", join_empty=True, leave_when_empty=False, announce_every=None,
                                      backup_group="supervisors", backup_after=45.0)], agents, h.now)
    assert rung(h.drain()) == ["sue"]  # the caller who waited 50 s, at once
    assert [v.call_id for v in h.router.waiting("vip", h.now) if v.ringing] == ["old"]
    h.router.caller_left("old", h.now)
    assert rung(h.drain()) == []  # the other one has waited 10 s only
    assert rung(h.advance(84.9)) == []
    assert rung(h.advance(85.0)) == ["sue"]  # at 45 s of its own wait
