"""The router driven by scripted events on a fake clock."""

import pytest

from voxcenter.acd import (
    AgentProfile,
    AgentState,
    AgentStateChanged,
    Announce,
    Bridge,
    CallbackQueued,
    CallCompleted,
    CallRequest,
    CancelRing,
    ConfigError,
    Ender,
    Enqueued,
    ExitReason,
    OfferCallback,
    Overflow,
    OverflowKind,
    OverflowTarget,
    QueueExit,
    QueuePolicy,
    RelaxationStep,
    RingAgent,
    RingNoAnswer,
    Router,
    RouterError,
    SkillRequirement,
    StartCallback,
    Strategy,
    WrapUpEnded,
)
from voxcenter.acd.estimate import announceable_ewt, estimate_wait
from voxcenter.acd.model import Discipline
from voxcenter.acd.stats import HandleTime

from .driver import Harness, of_type


def member(agent_id: str, *queues: str, skills: dict[str, int] | None = None) -> AgentProfile:
    return AgentProfile(agent_id, queues=frozenset(queues or ("q",)), skills=skills or {})


def test_caller_is_rung_to_the_longest_idle_agent_bridged_and_wrapped_up() -> None:
    h = Harness([QueuePolicy("q", wrapup=10.0)], [member("a"), member("b")])
    h.staff("a")
    h.now = 5.0
    h.staff("b")  # b became ready later: a has been idle longer
    out = h.join("c1")
    entered = of_type(out, Enqueued)[0]
    assert (entered.position, entered.ewt, entered.queue_log) == (1, 0.0, "ENTERQUEUE")
    ring = of_type(out, RingAgent)[0]
    assert (ring.agent_id, ring.timeout_at) == ("a", 20.0)
    h.now = 7.0
    h.router.ring_alerting("c1", "a", h.now)
    h.router.ring_answered("c1", "a", h.now)
    out = h.drain()
    bridge = of_type(out, Bridge)[0]
    assert (bridge.agent_id, bridge.waited, bridge.first_ewt, bridge.queue_log) == ("a", 2.0, 0.0, "CONNECT")
    assert h.router.agent_state("a") is AgentState.ON_CALL
    h.now = 67.0
    h.router.call_ended("c1", h.now, Ender.AGENT)
    out = h.drain()
    done = of_type(out, CallCompleted)[0]
    assert (done.talk_time, done.queue_log) == (60.0, "COMPLETEAGENT")
    assert h.router.agent_state("a") is AgentState.WRAP_UP
    assert h.router.get_timer() == 77.0
    h.advance(77.0)
    assert h.router.agent_state("a") is AgentState.READY
    stats = h.router.stats(h.now)["q"]
    assert (stats.offered, stats.answered, stats.asa, stats.service_level) == (1, 1, 2.0, 1.0)


def test_handle_time_is_the_prior_until_a_wrap_up_ends_then_the_measured_mean_of_talk_and_real_wrap_up() -> None:
    h = Harness([QueuePolicy("q", wrapup=10.0, default_handle_time=180.0, join_empty=True)], [member("a")])
    h.staff("a")
    assert h.router.stats(0.0)["q"].handle_time == HandleTime(180.0, 0)
    assert h.router.stats(0.0)["q"].handle_time.is_prior
    h.join("c1")
    h.router.ring_answered("c1", "a", 0.0)
    h.router.call_ended("c1", 60.0)
    h.drain()
    assert h.router.stats(60.0)["q"].handle_time.is_prior  # still wrapping up: nothing measured yet
    h.router.wrapup_done("a", 64.0)  # ended early: 4 s of wrap-up, not the 10 s configured
    [ended] = of_type(h.drain(), WrapUpEnded)
    assert (ended.call_id, ended.talk_time, ended.wrapup_time, ended.handle_time) == ("c1", 60.0, 4.0, 64.0)
    h.now = 64.0
    h.join("c2")
    h.router.ring_answered("c2", "a", 64.0)
    h.router.call_ended("c2", 84.0)
    h.advance(94.0)  # the full 10 s this time
    assert [e.wrapup_time for e in of_type(h.log, WrapUpEnded)] == [4.0, 10.0]
    assert h.router.stats(94.0)["q"].handle_time == HandleTime((64.0 + 30.0) / 2, 2)


def test_every_agent_state_change_about_a_call_names_it() -> None:
    h = Harness([QueuePolicy("q", wrapup=5.0)], [member("a")])
    h.staff("a")
    h.join("c1")
    h.router.ring_alerting("c1", "a", 0.0)
    h.router.ring_answered("c1", "a", 1.0)
    h.router.call_ended("c1", 10.0)
    h.advance(15.0)
    changes = of_type(h.log, AgentStateChanged)
    assert [(c.new.value, c.call_id) for c in changes] == [
        ("ready", None), ("reserved", "c1"), ("ringing", "c1"), ("on-call", "c1"), ("wrap-up", "c1"),
        ("ready", "c1"),
    ]


def test_ring_timeout_moves_the_caller_on_at_once_and_the_retry_delay_is_the_agents() -> None:
    h = Harness([QueuePolicy("q", ring_timeout=15.0, retry_delay=5.0, strategy=Strategy.LINEAR)],
                [member("a"), member("b")])
    h.staff("a", "b")
    first = of_type(h.join("c1"), RingAgent)[0]
    assert first.agent_id == "a"
    out = h.advance(15.0)
    assert of_type(out, CancelRing)[0].reason == "ring timeout"
    noanswer = of_type(out, RingNoAnswer)[0]
    assert (noanswer.agent_id, noanswer.rang_for, noanswer.queue_log) == ("a", 15.0, "RINGNOANSWER")
    assert [(r.call_id, r.agent_id) for r in of_type(out, RingAgent)] == [("c1", "b")]  # no wait for the caller
    h.now = 16.0
    assert not of_type(h.join("c2"), RingAgent)  # a is ready but within its own retry delay
    assert h.router.get_timer() == 20.0
    assert [(r.call_id, r.agent_id) for r in of_type(h.advance(20.0), RingAgent)] == [("c2", "a")]


def test_after_a_missed_ring_the_head_of_the_queue_is_offered_first() -> None:
    """The bug seen with phones: the next free agent got caller 2 while caller 1 waited out a retry delay."""
    h = Harness([QueuePolicy("q", ring_timeout=10.0, retry_delay=30.0, wrapup=0.0)],
                [member("a"), member("b")])
    h.staff("b")
    h.join("c0")
    h.router.ring_answered("c0", "b", 0.0)  # b is busy
    h.staff("a")
    assert of_type(h.join("c1"), RingAgent)[0].agent_id == "a"
    h.now = 1.0
    h.join("c2")
    out = h.advance(10.0)  # a did not answer c1
    assert of_type(out, RingNoAnswer)[0].call_id == "c1" and not of_type(out, RingAgent)
    h.router.call_ended("c0", 12.0)  # b is free within a's retry delay: the head caller is offered first
    assert [(r.call_id, r.agent_id) for r in of_type(h.drain(), RingAgent)] == [("c1", "b")]
    assert [v.call_id for v in h.router.waiting("q", 12.0)] == ["c1", "c2"]
    out = h.advance(40.0)  # b did not answer either; a's delay is over at 40: a new round on the head
    rings = [(r.call_id, r.agent_id) for r in of_type(out, RingAgent)]
    assert rings == [("c1", "a")], rings


def test_an_unreachable_phone_is_never_rung_and_a_ring_to_it_fails() -> None:
    h = Harness([QueuePolicy("q", join_empty=True, leave_when_empty=False)], [member("a"), member("b")])
    h.router.agent_login("a", 0.0)
    h.staff("b")
    h.router.agent_unreachable("b", 0.0)
    h.drain()
    out = h.join("c1")
    assert not of_type(out, RingAgent)
    h.router.agent_registered("a", 0.0)
    assert of_type(h.drain(), RingAgent)[0].agent_id == "a"
    h.router.agent_unreachable("a", 1.0)
    out = h.drain()
    assert of_type(out, RingNoAnswer)[0].reason == "unreachable"
    assert h.router.agent_state("a") is AgentState.UNAVAILABLE


def test_an_agent_without_a_registered_phone_is_unavailable_and_counts_as_nobody() -> None:
    h = Harness([QueuePolicy("q", on_empty=OverflowTarget(OverflowKind.VOICEMAIL, "500"))], [member("a")])
    h.router.agent_login("a", 0.0)  # logged in, but no registration
    assert h.router.agent_state("a") is AgentState.UNAVAILABLE
    assert h.router.stats(0.0)["q"].agents[AgentState.UNAVAILABLE] == 1
    assert h.router.stats(0.0)["q"].agents[AgentState.READY] == 0
    refused = of_type(h.join("c1"), Overflow)[0]  # join-empty: an unavailable agent is nobody
    assert (refused.reason, refused.target.target) == (ExitReason.JOIN_EMPTY, "500")
    h.router.agent_pause("a", 1.0, "lunch")  # a pause while unavailable is kept for the phone's return
    assert h.router.agent_pause_reason("a") == "lunch"
    h.router.agent_registered("a", 2.0)
    back = of_type(h.drain(), AgentStateChanged)[-1]
    assert (back.old, back.new, h.router.agent_pause_reason("a")) == (AgentState.UNAVAILABLE, AgentState.PAUSED,
                                                                       "lunch")
    h.router.agent_unpause("a", 3.0)
    h.join("c2")
    assert of_type(h.log, RingAgent)[-1].call_id == "c2"
    h.router.agent_unreachable("a", 4.0)  # the phone unregisters while ringing: the ring fails, the caller leaves
    out = h.drain()
    assert of_type(out, RingNoAnswer)[0].reason == "unreachable"
    assert of_type(out, Overflow)[0].reason is ExitReason.EMPTY
    assert h.router.agent_state("a") is AgentState.UNAVAILABLE
    h.router.agent_registered("a", 5.0)  # back to the logged-in state it had: ready
    assert h.router.agent_state("a") is AgentState.READY


def test_a_call_in_progress_survives_a_lost_registration_and_its_wrap_up_ends_unavailable() -> None:
    h = Harness([QueuePolicy("q", wrapup=5.0, join_empty=True, leave_when_empty=False)], [member("a")])
    h.staff("a")
    h.join("c1")
    h.router.ring_answered("c1", "a", 1.0)
    h.router.agent_unreachable("a", 2.0)
    assert h.router.agent_state("a") is AgentState.ON_CALL
    h.router.call_ended("c1", 10.0)
    h.advance(15.0)
    assert h.router.agent_state("a") is AgentState.UNAVAILABLE


def test_auto_pause_after_consecutive_no_answers() -> None:
    h = Harness([QueuePolicy("q", autopause_after=2, retry_delay=0.0)], [member("a")])
    h.staff("a")
    h.join("c1")
    h.router.ring_rejected("c1", "a", 1.0)
    h.drain()
    # the only agent is rung again (a new round) and rejects again
    h.router.ring_rejected("c1", "a", 2.0)
    out = h.drain()
    paused = [c for c in of_type(out, AgentStateChanged) if c.new is AgentState.PAUSED]
    assert paused and paused[0].reason.startswith("auto-pause after 2") and paused[0].queue_log == "PAUSE"


def test_ring_all_cancels_the_others_on_answer() -> None:
    h = Harness([QueuePolicy("q", strategy=Strategy.RING_ALL)], [member("a"), member("b"), member("c")])
    h.staff("a", "b", "c")
    rings = of_type(h.join("c1"), RingAgent)
    assert sorted(r.agent_id for r in rings) == ["a", "b", "c"]
    h.router.ring_answered("c1", "b", 3.0)
    out = h.drain()
    assert sorted(c.agent_id for c in of_type(out, CancelRing)) == ["a", "c"]
    assert h.router.agent_state("a") is AgentState.READY
    # a late answer from a phone that was cancelled gets hung up
    h.router.ring_answered("c1", "a", 3.1)
    assert of_type(h.drain(), CancelRing)[0].reason == "answered too late"


def test_skills_best_first_then_relaxation_keeps_the_place() -> None:
    policy = QueuePolicy(
        "q", discipline=Discipline.SKILLS,
        relaxation=(RelaxationStep(30.0, min_level=2), RelaxationStep(90.0, drop=frozenset({"billing"}))),
    )
    agents = [member("junior", skills={"billing": 2}), member("senior", skills={"billing": 5}),
              member("other", skills={"sales": 3})]
    h = Harness([policy], agents)
    need = (SkillRequirement("billing", 4),)
    h.staff("junior", "senior")
    ring = of_type(h.join("c1", required=need), RingAgent)[0]
    assert ring.agent_id == "senior"
    h.router.ring_answered("c1", "senior", 0.0)
    h.drain()
    assert not of_type(h.join("c2", required=need), RingAgent)  # junior lacks level 4
    assert of_type(h.advance(30.0), RingAgent)[0].agent_id == "junior"  # relaxed to level 2
    h.router.ring_answered("c2", "junior", 30.0)
    h.drain()
    h.staff("other")
    h.join("c3", required=need)
    assert h.router.waiting("q", h.now)[0].call_id == "c3"
    out = h.advance(119.0)  # c3 joined at 30 s: billing is dropped at 120 s
    assert not of_type(out, RingAgent)
    assert of_type(h.advance(120.0), RingAgent)[0].agent_id == "other"


def test_max_wait_overflows_to_another_queue_keeping_the_virtual_start() -> None:
    first = QueuePolicy("q", max_wait=60.0, on_timeout=OverflowTarget(OverflowKind.QUEUE, "backup"))
    backup = QueuePolicy("backup")
    h = Harness([first, backup], [member("a", "q"), member("b", "backup")])
    h.staff("a")
    h.hold("b")  # logged in, paused
    h.join("c0")
    h.router.ring_answered("c0", "a", 0.0)
    h.now = 10.0
    h.join("c1")
    out = h.advance(70.0)
    over = of_type(out, Overflow)[0]
    assert (over.reason, over.queue_log, over.waited) == (ExitReason.TIMEOUT, "EXITWITHTIMEOUT", 60.0)
    assert of_type(out, Enqueued)[0].queue == "backup"
    view = h.router.waiting("backup", h.now)[0]
    assert (view.virtual_start, view.joined_at) == (10.0, 70.0)
    h.router.agent_unpause("b", 70.0)
    h.router.ring_answered("c1", "b", 71.0)
    assert of_type(h.drain(), Bridge)[0].waited == 61.0


def test_overflow_loops_are_stopped() -> None:
    a = QueuePolicy("a", max_wait=1.0, on_timeout=OverflowTarget(OverflowKind.QUEUE, "b"), join_empty=True)
    b = QueuePolicy("b", max_wait=1.0, on_timeout=OverflowTarget(OverflowKind.QUEUE, "a"), join_empty=True)
    h = Harness([a, b], [])
    h.join("c1", queue="a")
    out = h.advance(100.0)
    assert of_type(out, QueueExit)[-1].reason is ExitReason.OVERFLOW_LOOP
    assert h.router.get_timer() is None


def test_full_empty_and_leave_when_empty() -> None:
    policy = QueuePolicy("q", max_length=1, on_full=OverflowTarget(OverflowKind.VOICEMAIL, "sales-box"))
    h = Harness([policy], [member("a")])
    out = h.join("c0")
    assert of_type(out, Overflow)[0].queue_log == "JOINEMPTY"
    h.hold("a")  # logged in but paused: callers may join, nobody is rung
    h.join("c1")
    out = h.join("c2")
    full = of_type(out, Overflow)[0]
    assert (full.queue_log, full.target.target) == ("FULL", "sales-box")
    h.router.agent_logout("a", 1.0)
    out = h.drain()
    assert of_type(out, Overflow)[0].queue_log == "EXITEMPTY"
    assert h.router.waiting("q", 1.0) == []
    assert h.router.stats(1.0)["q"].exits == {ExitReason.JOIN_EMPTY: 1, ExitReason.QUEUE_FULL: 1,
                                              ExitReason.EMPTY: 1}


def test_backup_agent_group_joins_after_max_wait() -> None:
    policy = QueuePolicy("q", max_wait=30.0, on_timeout=OverflowTarget(OverflowKind.AGENT_GROUP, "helpers"))
    h = Harness([policy], [member("a"), AgentProfile("h", groups=frozenset({"helpers"}))])
    h.staff("a", "h")
    h.join("c0")  # a is busy with c0
    h.router.ring_answered("c0", "a", 0.0)
    assert not of_type(h.join("c1"), RingAgent)
    out = h.advance(30.0)
    assert of_type(out, Overflow)[0].target.kind is OverflowKind.AGENT_GROUP
    assert of_type(out, RingAgent)[0].agent_id == "h"


def test_announcements_only_when_there_is_something_new() -> None:
    policy = QueuePolicy("q", announce_every=30.0, announce_position_limit=2, default_handle_time=60.0)
    h = Harness([policy], [member("a")])
    h.staff("a")
    h.join("c0")
    h.router.ring_answered("c0", "a", 0.0)
    entered = {e.call_id: e for e in of_type([d for i in range(1, 6) for d in h.join(f"c{i}")], Enqueued)}
    assert [entered[f"c{i}"].position for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert not of_type(h.advance(30.0), Announce)  # nothing changed since the entry message
    h.router.caller_left("c1", 31.0)
    h.drain()
    said = {a.call_id: a for a in of_type(h.advance(60.0), Announce)}
    assert "c2" not in said  # the next caller hears nothing
    # one caller ahead, who may hang up (one hang-up after 31 s of waiting so far: θ = 1/31 s): the fresh
    # estimate, said when it is not more than what is left of the one given at join (60 s ago)
    fresh = estimate_wait(1, 0, 0, 1, 60.0, abandon_rate=1 / 31)
    expected = announceable_ewt(fresh, entered["c3"].ewt, 60.0, 1, 1).ewt
    assert (said["c3"].position, said["c3"].more_than, said["c3"].ewt) == (2, False, expected)
    assert (said["c5"].position, said["c5"].more_than) == (2, True)  # "more than 2", a shorter wait
    assert not of_type(h.advance(90.0), Announce)  # unchanged: silence
    h.router.caller_joined(CallRequest("vip", "q", priority=9), 91.0)  # longest-wait: no overtaking
    h.drain()
    assert h.router.waiting("q", 91.0)[-1].call_id == "vip"


def test_a_position_never_goes_backwards() -> None:
    policy = QueuePolicy("q", discipline=Discipline.PRIORITY, announce_every=30.0, default_handle_time=60.0)
    h = Harness([policy], [member("a")])
    h.staff("a")
    h.join("c0")
    h.router.ring_answered("c0", "a", 0.0)
    h.join("c1")
    h.join("c2")
    h.join("vip", priority=9)  # overtakes both: c2 is now third
    assert [v.call_id for v in h.router.waiting("q", 0.0)] == ["vip", "c1", "c2"]
    assert not [a for a in of_type(h.advance(30.0), Announce) if a.call_id == "c2"]


def test_estimate_does_not_grow_without_a_reason() -> None:
    policy = QueuePolicy("q", announce_every=30.0, default_handle_time=60.0, handle_time_smoothing=0.5)
    h = Harness([policy], [member("a")])
    h.staff("a")
    h.join("busy")
    h.router.ring_answered("busy", "a", 0.0)
    for call_id in ("c1", "c2"):
        h.join(call_id)
    told = of_type(h.join("c3"), Enqueued)[0].ewt
    assert told == estimate_wait(2, 0, 0, 1, 60.0)
    assert not [a for a in of_type(h.advance(90.0), Announce) if a.call_id == "c3"]  # nothing new to say
    h.router.call_ended("busy", 100.0)  # a long call: the handle-time average rises to 80 s
    h.router.ring_answered("c1", "a", 100.0)
    h.drain()
    fresh = estimate_wait(1, 0, 0, 1, 80.0)
    # more than what is left of the promise at 120 s
    assert fresh is not None and told is not None and fresh > told - 120.0
    ann = [a for a in of_type(h.advance(120.0), Announce) if a.call_id == "c3"]
    assert ann and ann[0].position == 2
    assert ann[0].ewt is None and ann[0].ewt_reason is None  # the new place is said, no figure above the promise


def test_estimate_grows_when_agents_leave_and_says_why() -> None:
    policy = QueuePolicy("q", announce_every=30.0, default_handle_time=100.0)
    h = Harness([policy], [member("a"), member("b")])
    h.staff("a", "b")
    for i in range(2):
        h.join(f"busy{i}")
    h.router.ring_answered("busy0", "a", 0.0)
    h.router.ring_answered("busy1", "b", 0.0)
    h.join("c1")
    told = of_type(h.join("c2"), Enqueued)[0].ewt
    assert told == estimate_wait(1, 0, 0, 2, 100.0)  # 2 completions at 2/100 s
    h.router.agent_logout("b", 10.0)  # waits for b's call to end
    h.router.call_ended("busy1", 20.0)
    h.drain()
    assert h.router.agent_state("b") is AgentState.OFFLINE
    ann = [a for a in of_type(h.advance(30.0), Announce) if a.call_id == "c2"]
    assert ann and ann[0].ewt is not None and told is not None and ann[0].ewt > told
    assert ann[0].ewt_reason == "fewer agents are available"


def test_callback_keeps_the_place_and_is_agent_first_with_retries() -> None:
    policy = QueuePolicy("q", callback_offer_after=20.0, callback_retry_delay=60.0, callback_max_attempts=2)
    h = Harness([policy], [member("a")])
    h.staff("a")
    h.join("c0")
    h.router.ring_answered("c0", "a", 0.0)
    h.join("c1", caller="+15551230001")
    h.now = 1.0
    h.join("c2")
    out = h.advance(20.0)
    assert {o.call_id for o in of_type(out, OfferCallback)} == {"c1"}
    h.router.callback_requested("c1", 20.0)
    queued = of_type(h.drain(), CallbackQueued)[0]
    assert (queued.number, queued.queue_log) == ("+15551230001", "EXITWITHKEY")
    assert [v.call_id for v in h.router.waiting("q", 20.0)] == ["c1", "c2"]  # the place is kept
    h.router.call_ended("c0", 100.0)
    ring = of_type(h.drain(), RingAgent)[0]
    assert (ring.call_id, ring.callback) == ("c1", True)
    h.router.ring_answered("c1", "a", 101.0)
    start = of_type(h.drain(), StartCallback)[0]
    assert (start.agent_id, start.attempt) == ("a", 1)
    h.router.callback_result("c1", answered=False, now=130.0)
    out = h.drain()
    # the agent is free again and takes c2, the callback waits for its retry
    assert of_type(out, RingAgent)[0].call_id == "c2"
    assert h.router.waiting("q", 130.0)[0].call_id == "c1"
    with pytest.raises(RouterError, match="no callback attempt"):
        h.router.callback_result("c1", answered=True, now=131.0)
    h.router.ring_answered("c2", "a", 131.0)
    h.router.call_ended("c2", 150.0)
    h.drain()
    h.advance(190.0)
    h.router.ring_answered("c1", "a", 191.0)
    assert of_type(h.drain(), StartCallback)[0].attempt == 2
    h.router.callback_result("c1", answered=False, now=200.0)
    exit_ = of_type(h.drain(), QueueExit)[0]
    assert exit_.reason is ExitReason.CALLBACK_FAILED


def test_answered_callback_is_bridged() -> None:
    h = Harness([QueuePolicy("q")], [member("a")])
    h.hold("a")
    h.join("c1", caller="100")
    h.router.callback_requested("c1", 1.0, number="200")
    h.router.agent_unpause("a", 2.0)
    h.drain()
    h.router.ring_answered("c1", "a", 3.0)
    assert of_type(h.drain(), StartCallback)[0].number == "200"
    h.router.callback_result("c1", answered=True, now=10.0)
    assert of_type(h.drain(), Bridge)[0].waited == 10.0


def test_agent_in_two_queues_gets_the_longest_weighted_wait() -> None:
    h = Harness([QueuePolicy("sales", weight=1.0), QueuePolicy("vip", weight=3.0)], [member("a", "sales", "vip")])
    h.hold("a")
    h.join("s1", queue="sales")
    h.now = 40.0
    h.join("v1", queue="vip")
    h.router.agent_unpause("a", 60.0)  # sales waited 60 s, vip 20 s × 3 = 60 s: tie → earlier start
    assert of_type(h.drain(), RingAgent)[0].call_id == "s1"
    h2 = Harness([QueuePolicy("sales", weight=1.0), QueuePolicy("vip", weight=3.0)], [member("a", "sales", "vip")])
    h2.hold("a")
    h2.join("s1", queue="sales")
    h2.now = 40.0
    h2.join("v1", queue="vip")
    h2.router.agent_unpause("a", 70.0)  # 70 s against 90 s weighted
    assert of_type(h2.drain(), RingAgent)[0].call_id == "v1"


def test_priority_direction_higher_first() -> None:
    h = Harness([QueuePolicy("q", discipline=Discipline.PRIORITY)], [member("a")])
    h.hold("a")
    h.join("low", priority=1)
    h.join("high", priority=5)
    assert [v.call_id for v in h.router.waiting("q", 0.0)] == ["high", "low"]


def test_abandon_statistics_exclude_short_abandons() -> None:
    h = Harness([QueuePolicy("q", short_abandon=5.0, service_level=20.0)], [member("a")])
    h.hold("a")
    h.join("quick")
    h.join("slow")
    h.join("served")
    h.router.caller_left("quick", 3.0)
    h.router.caller_left("slow", 40.0)
    h.router.agent_unpause("a", 50.0)
    h.router.ring_answered("served", "a", 50.0)
    exits = of_type(h.drain(), QueueExit)
    assert [(e.call_id, e.short, e.queue_log) for e in exits] == [("quick", True, "ABANDON"),
                                                                 ("slow", False, "ABANDON")]
    stats = h.router.stats(50.0)["q"]
    assert (stats.abandoned, stats.short_abandoned, stats.answered) == (1, 1, 1)
    assert stats.service_level == 0.0 and stats.abandon_ratio == 0.5


def test_pause_and_logout_during_a_call_wait_for_its_end() -> None:
    h = Harness([QueuePolicy("q", wrapup=5.0)], [member("a")])
    h.staff("a")
    h.join("c1")
    h.router.ring_answered("c1", "a", 1.0)
    h.router.agent_pause("a", 2.0, "break")
    assert h.router.agent_state("a") is AgentState.ON_CALL
    h.router.call_ended("c1", 10.0)
    h.advance(15.0)
    assert h.router.agent_state("a") is AgentState.PAUSED
    h.join("c2")
    assert not of_type(h.log[-3:], RingAgent)
    h.router.agent_unpause("a", 20.0)
    assert of_type(h.drain(), RingAgent)[0].call_id == "c2"


def test_wrong_ids_and_configs_say_whose_fault() -> None:
    router = Router([QueuePolicy("q")], [member("a")], now=0.0)
    with pytest.raises(RouterError, match="unknown agent 'zed'"):
        router.agent_login("zed", 0.0)
    with pytest.raises(RouterError, match="unknown queue 'nope'"):
        router.caller_joined(CallRequest("c1", "nope"), 0.0)
    router.agent_registered("a", 0.0)
    router.agent_login("a", 0.0)
    router.caller_joined(CallRequest("c1", "q"), 0.0)
    with pytest.raises(RouterError, match="already"):
        router.caller_joined(CallRequest("c1", "q"), 0.0)
    with pytest.raises(ConfigError, match="unknown queues"):
        Router([QueuePolicy("q")], [member("a", "other")], now=0.0)
    with pytest.raises(ConfigError, match="unknown queue 'x'"):
        Router([QueuePolicy("q", on_timeout=OverflowTarget(OverflowKind.QUEUE, "x"))], [], now=0.0)
    with pytest.raises(ConfigError, match="increasing"):
        QueuePolicy("q", relaxation=(RelaxationStep(90), RelaxationStep(30)))
    with pytest.raises(ConfigError, match="ring_timeout"):
        QueuePolicy("q", ring_timeout=-1)


def test_pause_asked_during_a_ring_applies_when_the_ring_ends() -> None:
    h = Harness([QueuePolicy("q", leave_when_empty=False)], [member("a")])
    h.staff("a")
    h.join("c1")
    h.router.agent_pause("a", 1.0, "meeting")
    assert h.router.agent_state("a") is AgentState.RESERVED
    out = h.advance(15.0)
    paused = [c for c in of_type(out, AgentStateChanged) if c.new is AgentState.PAUSED]
    assert paused and paused[0].reason == "meeting"
    h.router.agent_logout("a", 16.0, "*46")
    assert h.router.agent_state("a") is AgentState.OFFLINE
    h.router.agent_login("a", 17.0)
    h.drain()
    h.advance(21.0)  # a's retry delay after its missed ring is over: a is rung again
    assert h.router.agent_state("a") is AgentState.RESERVED
    h.router.agent_pause("a", 22.0, "coffee")
    h.router.caller_left("c1", 23.0)  # the ring is cancelled, the pause applies
    assert h.router.agent_state("a") is AgentState.PAUSED


def test_callback_requests_expire() -> None:
    h = Harness([QueuePolicy("q", callback_max_wait=600.0)], [member("a")])
    h.hold("a")
    h.join("c1", caller="100")
    h.router.callback_requested("c1", 10.0)
    out = h.advance(610.0)
    assert of_type(out, QueueExit)[0].reason is ExitReason.CALLBACK_EXPIRED


def test_restored_callback_takes_the_place_its_request_time_gives_and_keeps_its_expiry_and_attempts() -> None:
    policy = QueuePolicy("q", callback_max_wait=600.0, callback_max_attempts=2, join_empty=True)
    h = Harness([policy], [member("a")])
    h.now = 1000.0
    h.join("live", caller="200")  # a caller who arrived after the restart
    # Requested at 900 (before the restart), one attempt already made: first in line, one attempt left.
    h.router.callback_restored(CallRequest("owed", "q", caller="100"), 900.0, 1, h.now)
    assert [(v.call_id, v.callback) for v in h.router.waiting("q", h.now)] == [("owed", True), ("live", False)]
    with pytest.raises(RouterError, match="already in the router"):
        h.router.callback_restored(CallRequest("owed", "q"), 900.0, 1, h.now)
    ring = of_type(h.staff("a"), RingAgent)[0]
    assert (ring.call_id, ring.callback) == ("owed", True)
    h.router.ring_answered("owed", "a", h.now)
    start = of_type(h.drain(), StartCallback)[0]
    assert (start.number, start.attempt) == ("100", 2)
    h.router.callback_result("owed", answered=False, now=h.now)
    assert of_type(h.drain(), QueueExit)[0].reason is ExitReason.CALLBACK_FAILED  # two attempts in all


def test_restored_callback_past_its_expiry_expires_at_the_next_timer() -> None:
    h = Harness([QueuePolicy("q", callback_max_wait=600.0)], [member("a")])
    h.now = 2000.0
    h.router.callback_restored(CallRequest("owed", "q", caller="100"), 1000.0, 0, h.now)
    assert h.router.get_timer() == 1600.0
    assert of_type(h.advance(2000.0), QueueExit)[0].reason is ExitReason.CALLBACK_EXPIRED


def test_feature_codes_from_the_softphone() -> None:
    h = Harness([QueuePolicy("q")], [member("a")])
    r = h.router
    r.agent_registered("a", 0.0)
    assert r.agent_feature_code("a", "*45", 0.0) and r.agent_state("a") is AgentState.READY
    assert r.agent_feature_code("a", "*47", 1.0) and r.agent_state("a") is AgentState.PAUSED
    assert r.agent_feature_code("a", "*47", 2.0) and r.agent_state("a") is AgentState.READY
    assert r.agent_feature_code("a", "*46", 3.0) and r.agent_state("a") is AgentState.OFFLINE
    assert not r.agent_feature_code("a", "*99", 4.0)
    reasons = [c.reason for c in of_type(h.drain(), AgentStateChanged)]
    assert reasons == ["feature code *45", "feature code *47", "feature code *47", "feature code *46"]


def test_overflow_to_callback_without_a_number_hangs_up() -> None:
    policy = QueuePolicy("q", max_length=0, on_full=OverflowTarget(OverflowKind.CALLBACK))
    h = Harness([policy], [member("a")])
    h.staff("a")
    assert of_type(h.join("anon"), Overflow)[0].target.kind is OverflowKind.HANGUP
    out = h.join("known", caller="+15550001")
    assert of_type(out, Overflow)[0].target.kind is OverflowKind.CALLBACK
    assert of_type(out, CallbackQueued)[0].number == "+15550001"
    assert of_type(out, RingAgent)[0].callback
