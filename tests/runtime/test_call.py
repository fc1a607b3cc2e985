"""The call model: legs join and leave one bridge, which relays two and mixes three or more; taps follow it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.media.test_bridge import FakeLeg
from tests.media.test_player import FakeClock
from voxcenter.media.bridge import Bridge
from voxcenter.media.codecs import PCMU
from voxcenter.media.mixer import Mixer
from voxcenter.media.rtp import RtpPacket
from voxcenter.runtime.call import CallBridge, Leg


def leg(role: str, ssrc: int) -> Leg:
    session: Any = SimpleNamespace(is_ended=False)
    media: Any = SimpleNamespace(session=FakeLeg(PCMU, 101, ssrc))
    return Leg(role, role, session, media)


def packet(seq: int) -> RtpPacket:
    return RtpPacket(0, False, seq, seq * 160, 42, b"\x55" * 160)


def test_two_legs_relay_three_mix_and_back_to_relay_when_one_leaves() -> None:
    clock = FakeClock()
    now = [0.0]
    bridge = CallBridge(clock, now=lambda: now[0])  # type: ignore[arg-type]
    tapped: list[str] = []
    bridge.add_tap(lambda direction, ts, payload, codec: tapped.append(direction))
    customer, agent, senior = leg("caller", 1), leg("agent", 2), leg("senior", 3)
    bridge.join(customer)
    bridge.join(agent)
    bridge.start()
    assert isinstance(bridge._engine, Bridge) and not bridge.mixing
    customer.media.session.deliver(packet(1))
    assert len(agent.media.session.sent) == 1 and tapped == ["caller"]  # relayed untouched, recorded
    now[0] = 10.0
    bridge.join(senior)
    assert bridge.mixing and isinstance(bridge._engine, Mixer) and clock.clients == [bridge._engine]
    assert senior.talk_started == 10.0
    bridge._engine.tick(10.0)
    assert tapped[1:] == ["caller", "agent"]  # the recording follows the call into the mixer
    now[0] = 25.0
    bridge.leave(agent)
    assert not bridge.mixing and clock.clients == []
    assert agent.talk_seconds == 25.0 and agent.talk_started is None
    senior.media.session.deliver(packet(2))
    assert customer.media.session.sent[-1].payload == b"\x55" * 160  # the customer hears the senior directly
    now[0] = 30.0
    bridge.stop()
    assert [round(x.talked(now[0])) for x in (customer, agent, senior)] == [30, 25, 20]
    assert customer.media.session.on_packet is None and senior.media.session.on_packet is None


def test_replace_keeps_the_position_so_the_recording_keeps_its_channels() -> None:
    bridge = CallBridge(FakeClock(), now=lambda: 0.0)  # type: ignore[arg-type]
    customer, agent, target = leg("caller", 1), leg("agent", 2), leg("target", 3)
    bridge.join(customer)
    bridge.join(agent)
    bridge.start()
    bridge.replace(agent, target)
    assert bridge.legs == [customer, target] and bridge.active
    customer.media.session.deliver(packet(1))
    assert len(target.media.session.sent) == 1 and not agent.media.session.sent
