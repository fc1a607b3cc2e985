"""Strict symmetric RTP learning: the RTP-bleed attack and the NAT rebinding rule."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.media.rtp import LearningState, SymmetricRtpLearner

SDP = ("198.51.100.7", 40000)
NATTED = ("203.0.113.9", 61234)  # where the phone's packets really come from
ATTACKER = ("192.0.2.66", 50000)
PEER_SSRC = 0x1234


class Stream:
    """A well-behaved sender: one SSRC, consecutive sequence numbers."""

    def __init__(self, ssrc: int, seq: int = 100) -> None:
        self.ssrc = ssrc
        self.seq = seq

    def next(self) -> tuple[int, int]:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.ssrc, self.seq


def test_learns_the_natted_source_from_a_consistent_stream() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3)
    stream = Stream(PEER_SSRC)
    verdicts = [learner.receive(NATTED, *stream.next(), now=0.02 * i) for i in range(5)]
    # Not delivered until learned (the address is not the SDP one), then locked.
    assert verdicts == [False, False, True, True, True]
    assert learner.state is LearningState.LOCKED and learner.target == NATTED


def test_packets_from_the_sdp_address_are_delivered_while_learning() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3)
    assert learner.receive(SDP, PEER_SSRC, 5, 0.0)
    assert learner.target == SDP and learner.state is LearningState.LEARNING


def test_attacker_spraying_during_probation_does_not_capture_the_stream() -> None:
    rng = random.Random(3)
    learner = SymmetricRtpLearner(SDP, probation_packets=3)
    stream = Stream(PEER_SSRC)
    now = 0.0
    for _ in range(4):
        # Between every two real packets the attacker sprays from several ports, random SSRCs and sequences.
        for port in range(5):
            learner.receive((ATTACKER[0], 50000 + port), rng.getrandbits(32), rng.getrandbits(16), now)
        learner.receive(NATTED, *stream.next(), now=now)
        now += 0.02
    assert learner.state is LearningState.LOCKED and learner.target == NATTED


def test_attacker_after_lock_is_dropped_even_with_the_peer_ssrc() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3)
    stream = Stream(PEER_SSRC)
    now = 0.0
    for _ in range(10):
        learner.receive(NATTED, *stream.next(), now=now)
        now += 0.02
    # A perfect copy of the stream (same SSRC, consecutive sequence numbers) from another address while
    # the real source is still talking: never accepted, never moves the target.
    fake = Stream(PEER_SSRC, stream.seq)
    for _ in range(50):
        assert not learner.receive(ATTACKER, *fake.next(), now=now)
        assert learner.receive(NATTED, *stream.next(), now=now)
        now += 0.02
    assert learner.target == NATTED


def test_nat_rebinding_after_silence_with_the_known_ssrc() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3, rebind_silence=2.0)
    stream = Stream(PEER_SSRC)
    for i in range(10):
        learner.receive(NATTED, *stream.next(), now=0.02 * i)
    last_heard = 0.18
    rebound = (NATTED[0], 61999)
    # Too early: the old binding has been silent for less than 2 s.
    assert not any(learner.receive(rebound, *stream.next(), now=last_heard + 1.0 + 0.02 * i) for i in range(5))
    # Another SSRC from a new address after the silence: still not ours.
    other = Stream(0x9999)
    assert not any(learner.receive(ATTACKER, *other.next(), now=last_heard + 3.0 + 0.02 * i) for i in range(5))
    # The known SSRC, consecutive, from the new address after 2 s of silence: the binding moves.
    verdicts = [learner.receive(rebound, *stream.next(), now=last_heard + 3.0 + 0.02 * i) for i in range(4)]
    assert verdicts == [False, False, True, True]
    assert learner.target == rebound
    # And the old address is now the stranger.
    assert not learner.receive(NATTED, *stream.next(), now=last_heard + 3.2)


def test_old_source_speaking_again_cancels_a_rebinding_run() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3, rebind_silence=1.0)
    stream = Stream(PEER_SSRC)
    learner.receive(NATTED, *stream.next(), now=0.0)
    learner.receive(NATTED, *stream.next(), now=0.02)
    learner.receive(NATTED, *stream.next(), now=0.04)
    rebound = (NATTED[0], 62000)
    learner.receive(rebound, *stream.next(), now=2.0)
    learner.receive(rebound, *stream.next(), now=2.02)
    assert learner.receive(NATTED, *stream.next(), now=2.03)  # the old binding is alive after all
    assert not learner.receive(rebound, *stream.next(), now=2.04)  # the run restarted and the silence is over
    assert learner.target == NATTED


def test_reset_relearns_after_reinvite() -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=2)
    stream = Stream(PEER_SSRC)
    learner.receive(NATTED, *stream.next(), now=0.0)
    learner.receive(NATTED, *stream.next(), now=0.02)
    assert learner.target == NATTED
    learner.reset(("198.51.100.8", 41000))
    assert learner.state is LearningState.LEARNING and learner.target == ("198.51.100.8", 41000)


def test_candidate_table_is_bounded() -> None:
    learner = SymmetricRtpLearner(None, probation_packets=3, max_candidates=4)
    for port in range(1000):
        learner.receive(("192.0.2.1", port), port, port, 0.0)
    assert len(learner._candidates) <= 4
    assert learner.target is None


@settings(max_examples=60, deadline=None)
@given(
    spray=st.lists(
        st.tuples(st.integers(1, 20), st.integers(0, 3), st.integers(0, 0xFFFF)), min_size=1, max_size=200
    ),
)
def test_random_spray_never_captures_a_locked_stream(spray: list[tuple[int, int, int]]) -> None:
    learner = SymmetricRtpLearner(SDP, probation_packets=3, rebind_silence=2.0)
    stream = Stream(PEER_SSRC)
    now = 0.0
    for _ in range(3):
        learner.receive(NATTED, *stream.next(), now=now)
        now += 0.02
    for port, ssrc_choice, seq in spray:
        # The attacker knows the SSRC sometimes; the real source keeps talking every 20 ms.
        ssrc = PEER_SSRC if ssrc_choice == 0 else ssrc_choice
        assert not learner.receive(("192.0.2.66", 50000 + port), ssrc, seq, now)
        assert learner.receive(NATTED, *stream.next(), now=now)
        now += 0.02
    assert learner.target == NATTED
