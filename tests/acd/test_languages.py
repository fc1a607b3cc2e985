"""A caller whose language is known is offered first to agents who speak it; after the queue's language
relaxation any agent may take the call (the router on a fake clock)."""

from voxcenter.acd import AgentProfile, Decision, QueuePolicy, RingAgent

from .driver import Harness, of_type


def agent(agent_id: str, *languages: str) -> AgentProfile:
    return AgentProfile(agent_id, queues=frozenset({"q"}), languages=frozenset(languages))


def rung(out: list[Decision]) -> list[str]:
    return [ring.agent_id for ring in of_type(out, RingAgent)]


def test_a_known_language_goes_to_a_speaker_first_then_to_anyone_after_the_relaxation() -> None:
    h = Harness([QueuePolicy("q", language_relaxation=30.0)], [agent("en", "en"), agent("pl", "pl", "en")])
    h.staff("en")
    h.now = 5.0
    h.staff("pl")  # "en" has been idle longer: longest-idle alone would ring "en"
    assert rung(h.join("c1", language="pl")) == ["pl"]
    h.router.ring_answered("c1", "pl", h.now)
    h.drain()
    # The only Polish speaker is on a call: the next Polish caller waits for her, "en" stays quiet...
    h.now = 10.0
    assert rung(h.join("c2", language="pl")) == []
    assert rung(h.advance(39.9)) == []
    # ...until c2 has waited the queue's 30 s: then any agent may take it.
    assert rung(h.advance(40.0)) == ["en"]
    assert h.router.waiting("q", h.now)[0].call_id == "c2"


def test_an_unknown_language_an_agent_speaking_any_and_a_queue_without_relaxation() -> None:
    h = Harness([QueuePolicy("q", language_relaxation=30.0), QueuePolicy("free", language_relaxation=0.0)],
                [agent("en", "en"), AgentProfile("any", queues=frozenset({"q"})),
                 AgentProfile("fr", queues=frozenset({"free"}), languages=frozenset({"fr"}))])
    h.staff("en", "any", "fr")
    assert rung(h.join("unknown")) == ["en"]  # no language known: the strategy alone decides
    assert rung(h.join("hr", language="hr")) == ["any"]  # no languages listed: the agent speaks any
    assert rung(h.join("elsewhere", queue="free", language="lv")) == ["fr"]  # 0: languages not matched


def test_nobody_logged_in_who_speaks_it_means_no_wait_and_a_speaker_logging_in_holds_the_next_caller() -> None:
    h = Harness([QueuePolicy("q", language_relaxation=60.0)], [agent("en", "en"), agent("ro", "ro")])
    h.staff("en")
    assert rung(h.join("c1", language="ro")) == ["en"]  # nobody could be offered it first: no point waiting
    h.router.ring_answered("c1", "en", h.now)
    h.staff("ro")
    h.router.agent_pause("ro", h.now, "lunch")
    h.drain()
    h.router.call_ended("c1", h.now)
    h.drain()
    # A speaker is logged in (paused): the next Romanian caller is kept for her, within the 60 s.
    assert rung(h.join("c2", language="ro")) == []
    h.now = 20.0
    h.router.agent_unpause("ro", h.now)
    assert rung(h.drain()) == ["ro"]


def test_never_relaxed_and_a_reload_that_shortens_the_relaxation() -> None:
    agents = [agent("en", "en"), agent("lv", "lv")]
    h = Harness([QueuePolicy("q", language_relaxation=None, announce_every=None)], agents)
    h.staff("en", "lv")
    h.router.agent_pause("lv", h.now, "training")
    h.drain()
    h.join("c1", language="lv")
    assert h.router.get_timer() is None  # held for a Latvian speaker for good: no deadline to wake up for
    assert rung(h.advance(3600.0)) == []
    # A reload shortens it to 30 s: c1 has waited 3600 s, any agent may take it at once.
    h.router.reconfigure([QueuePolicy("q", language_relaxation=30.0, announce_every=None)], agents, h.now)
    assert rung(h.drain()) == ["en"]

