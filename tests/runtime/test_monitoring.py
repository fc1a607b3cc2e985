"""Supervisor monitoring, pure: the who-hears-whom matrix of each mode, on the mixer and on a call's bridge
(by FFT: each party hears exactly whom it should), the feature codes, and who may monitor which queue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media.test_mixer import strengths, tone_frames
from tests.media.test_player import FakeClock
from tests.runtime.test_call import leg
from voxcenter.config import ConfigError, load_config
from voxcenter.media.bridge import Bridge
from voxcenter.media.codecs import PCMU
from voxcenter.media.mixer import FRAME_SAMPLES, Mixer, mix_heard, mix_minus, mix_minus_matrix
from voxcenter.media.rtp import RtpPacket
from voxcenter.runtime.call import CallBridge
from voxcenter.runtime.featurecodes import monitor_codes
from voxcenter.runtime.monitoring import (
    Monitor,
    MonitorMode,
    hearing_matrix,
    may_monitor,
    may_monitor_agent,
    monitorable_agents,
    monitorable_queues,
    parse_monitor_code,
)

HEARD = {  # mode -> party -> whom it hears (caller, agent, supervisor)
    MonitorMode.LISTEN: {"caller": {"agent"}, "agent": {"caller"}, "supervisor": {"caller", "agent"}},
    MonitorMode.WHISPER: {"caller": {"agent"}, "agent": {"caller", "supervisor"}, "supervisor": {"caller", "agent"}},
    MonitorMode.BARGE: {"caller": {"agent", "supervisor"}, "agent": {"caller", "supervisor"},
                        "supervisor": {"caller", "agent"}},
}
TONE_OF = {"caller": "customer", "agent": "agent", "supervisor": "senior"}  # the mixer tests' tone names


@pytest.mark.parametrize("mode", list(MonitorMode))
def test_the_matrix_of_each_mode(mode: MonitorMode) -> None:
    names = ("caller", "agent", "supervisor")
    matrix = hearing_matrix(2, [Monitor(1, mode)])
    heard = {name: {names[j] for j in range(3) if matrix[i, j]} for i, name in enumerate(names)}
    assert heard == HEARD[mode]


def test_two_supervisors_on_a_conference() -> None:
    # caller, agent, guest; supervisor A whispers to the agent (index 1), B listens to the guest.
    matrix = hearing_matrix(3, [Monitor(1, MonitorMode.WHISPER), Monitor(2, MonitorMode.LISTEN)])
    assert matrix.tolist() == [
        [0, 1, 1, 0, 0],
        [1, 0, 1, 1, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],  # A hears the conversation, not B (who says nothing to anyone)
        [1, 1, 1, 1, 0],  # B hears A's whisper as the agent does
    ]
    assert hearing_matrix(2, [Monitor(None, MonitorMode.WHISPER)])[:2, 2].tolist() == [0, 0]  # agent gone


def test_mix_heard_with_the_conference_matrix_is_mix_minus() -> None:
    frames = np.random.default_rng(7).integers(-32768, 32767, (4, FRAME_SAMPLES), dtype=np.int16)
    assert np.array_equal(mix_heard(mix_minus_matrix(4), frames), mix_minus(frames))


def run_monitored(mode: MonitorMode, frames: int = 50) -> tuple[dict[str, np.ndarray], list[tuple[str, bytes]]]:
    """Caller, agent and supervisor speak their tones through a mixer with the mode's matrix: what each hears."""
    from tests.media.test_bridge import FakeLeg

    clock = FakeClock()
    legs = {name: FakeLeg(PCMU, 101, ssrc) for ssrc, name in enumerate(TONE_OF, start=1)}
    mixer = Mixer(list(legs.values()), clock, customer=legs["caller"],  # type: ignore[arg-type]
                  hearing=hearing_matrix(2, [Monitor(1, mode)]))
    tapped: list[tuple[str, bytes]] = []
    mixer.add_tap(lambda direction, ts, payload, codec: tapped.append((direction, payload)))
    mixer.start()
    from tests.media.test_mixer import TONES
    spoken = {name: tone_frames(TONES[TONE_OF[name]], PCMU, frames) for name in legs}
    for i in range(frames):
        for name, fake in legs.items():
            fake.deliver(RtpPacket(0, i == 0, i, i * 160, 99, spoken[name][i]))
        mixer.tick(i * 0.02)
    heard = {name: np.concatenate([PCMU.decode(p.payload) for p in fake.sent]) for name, fake in legs.items()}
    return heard, tapped


@pytest.mark.parametrize("mode", list(MonitorMode))
def test_by_fft_each_party_hears_exactly_whom_the_mode_says(mode: MonitorMode) -> None:
    heard, tapped = run_monitored(mode)
    for name, samples in heard.items():
        levels = strengths(samples)
        for other in TONE_OF:
            if other in HEARD[mode][name]:
                assert levels[TONE_OF[other]] > 0.5, (mode, name, other, levels)
            else:
                assert levels[TONE_OF[other]] < 0.05, (mode, name, other, levels)
    # the recording's agent channel is what the caller hears: no listening or whispering supervisor on it
    agent_channel = np.concatenate([PCMU.decode(p) for d, p in tapped if d == "agent"])
    levels = strengths(agent_channel)
    assert levels["agent"] > 0.5
    assert (levels["senior"] > 0.5) == (mode is MonitorMode.BARGE), levels


def test_a_monitored_call_is_mixed_the_mode_switches_in_place_and_relay_comes_back() -> None:
    clock = FakeClock()
    bridge = CallBridge(clock, now=lambda: 0.0)  # type: ignore[arg-type]
    customer, agent, supervisor = leg("caller", 1), leg("agent", 2), leg("supervisor", 3)
    bridge.join(customer)
    bridge.join(agent)
    bridge.start()
    bridge.monitor(supervisor, agent, MonitorMode.LISTEN)
    mixer = bridge._engine
    assert isinstance(mixer, Mixer) and bridge.mixing and bridge.legs == [customer, agent]
    assert mixer.hearing is not None and mixer.hearing[:, 2].tolist() == [0, 0, 0]
    bridge.monitor(supervisor, agent, MonitorMode.WHISPER)
    assert bridge._engine is mixer and mixer.hearing is not None and mixer.hearing[:, 2].tolist() == [0, 1, 0]
    assert supervisor.talk_started is None  # a supervisor is not a party of the conversation
    bridge.unmonitor(supervisor)
    assert isinstance(bridge._engine, Bridge) and not bridge.mixing and clock.clients == []


def test_monitor_codes_are_followed_by_the_extension(tmp_path: Path) -> None:
    config = load_config(plan(tmp_path, ""), check_prompts=False)
    codes = monitor_codes(config.feature_codes)
    assert parse_monitor_code(codes, "*511001") == (MonitorMode.LISTEN, "1001")
    assert parse_monitor_code(codes, "*521001") == (MonitorMode.WHISPER, "1001")
    assert parse_monitor_code(codes, "*531001") == (MonitorMode.BARGE, "1001")
    assert parse_monitor_code(codes, "*51") is None and parse_monitor_code(codes, "*45") is None
    moved = load_config(plan(tmp_path, "feature_codes: {listen: '*61', whisper: null}\n"), check_prompts=False)
    codes = monitor_codes(moved.feature_codes)
    assert parse_monitor_code(codes, "*611001") == (MonitorMode.LISTEN, "1001")
    assert parse_monitor_code(codes, "*521001") is None


def plan(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "numbers: {}\n"
        "queues:\n"
        "  support: {supervisors: [floor]}\n"
        "  sales: {supervisors: [floor, sales-leads]}\n"
        "  billing: {}\n"
        "agents:\n"
        "  '1001': {name: A, password: a, queues: [support]}\n"
        "  '1002': {name: B, password: b, queues: [sales, billing]}\n"
        "  '1003': {name: C, password: c, queues: [billing]}\n"
        "  '1008': {name: S, password: s}\n"
        "  '1009': {name: F, password: f, queues: [support]}\n"
        "groups:\n"
        "  floor: ['1009']\n"
        "  sales-leads: ['1008']\n" + extra)
    return path


def test_only_the_queue_s_supervisor_groups_may_monitor(tmp_path: Path) -> None:
    config = load_config(plan(tmp_path, ""), check_prompts=False)
    assert may_monitor(config, "1009", "support") and may_monitor(config, "1009", "sales")
    assert not may_monitor(config, "1008", "support") and may_monitor(config, "1008", "sales")
    assert not may_monitor(config, "1009", "billing")  # no supervisor group: nobody
    assert not may_monitor(config, "1009", None) and not may_monitor(config, "1009", "gone")
    assert not may_monitor(config, "1001", "support")  # an agent of the queue is not its supervisor
    assert monitorable_queues(config, "1009") == ["sales", "support"]
    assert monitorable_queues(config, "1003") == []
    assert monitorable_agents(config, "1009") == ["1001", "1002"]  # not themselves
    assert monitorable_agents(config, "1008", [("sales", "1003"), ("billing", "1001")]) == ["1002", "1003"]


def test_an_agent_s_own_call_in_no_queue_follows_the_queues_the_agent_serves(tmp_path: Path) -> None:
    config = load_config(plan(tmp_path, ""), check_prompts=False)
    assert may_monitor_agent(config, "1009", None, "1001")  # 1001 serves support, which 1009 supervises
    assert may_monitor_agent(config, "1008", None, "1002") and not may_monitor_agent(config, "1008", None, "1001")
    assert not may_monitor_agent(config, "1009", None, "1003")  # billing has no supervisors
    assert may_monitor_agent(config, "1009", None, "1003", [("support", "1003")])  # a run-time member
    assert not may_monitor_agent(config, "1009", None, "1009")  # not themselves
    assert not may_monitor_agent(config, "1009", "billing", "1002")  # a callback: its queue's rule
    assert may_monitor_agent(config, "1008", "sales", "1002")


def test_an_unknown_supervisor_group_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("numbers: {}\nqueues:\n  support:\n    supervisors: [floor]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_prompts=False)
    [issue] = [i for i in caught.value.errors if "supervisor" in i.message]
    assert issue.severity == "error" and issue.line == 4 and "unknown supervisor group 'floor'" in issue.message
