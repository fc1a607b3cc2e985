"""The bridge: continuity of each leg's outgoing stream across switches, transcoding, DTMF, taps."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from voxcenter.media.bridge import Bridge
from voxcenter.media.codecs import PCMA, PCMU, Codec, transcode
from voxcenter.media.dtmf import DtmfEvent
from voxcenter.media.player import Player
from voxcenter.media.rtp import OutboundStream, RtpPacket, parse_rtp

from .test_player import FakeClock


class FakeLeg:
    """An RtpSession without sockets: what it sends is parsed back and kept."""

    def __init__(self, codec: Codec, telephone_event_pt: int | None, ssrc: int) -> None:
        self.codec = codec
        self.telephone_event_pt = telephone_event_pt
        self.on_packet: Callable[[RtpPacket], None] | None = None
        self.outbound = OutboundStream(ssrc, 60000, 0xFFFFF000)
        self.now = 0.0
        self.sent: list[RtpPacket] = []

    def _keep(self, data: bytes) -> bool:
        packet = parse_rtp(data)
        assert packet is not None
        self.sent.append(packet)
        return True

    def send_at(self, payload: bytes, payload_type: int, timestamp: int, marker: bool) -> bool:
        return self._keep(self.outbound.build_at(payload, payload_type, timestamp, marker, self.now))

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        pt = self.codec.payload_type if payload_type is None else payload_type
        return self._keep(self.outbound.build_next(payload, pt, timestamp_step or 160, marker, self.now))

    def skip_frame(self) -> None:
        self.outbound.skip(160)

    def talkspurt_timestamp(self) -> int:
        return self.outbound.talkspurt_timestamp(self.now, 160)

    def deliver(self, packet: RtpPacket) -> None:
        """A packet from the phone, as RtpSession would hand it over after learning."""
        if self.on_packet is not None:
            self.on_packet(packet)


def phone_packets(ssrc: int, count: int, seq: int = 10, ts: int = 5000, pt: int = 0) -> list[RtpPacket]:
    return [
        RtpPacket(pt, i == 0, (seq + i) & 0xFFFF, (ts + 160 * i) & 0xFFFFFFFF, ssrc, bytes([i % 256]) * 160)
        for i in range(count)
    ]


def assert_continuous(packets: list[RtpPacket]) -> None:
    """One RTP stream: one SSRC, sequence +1 each packet, timestamps never going back."""
    assert len({p.ssrc for p in packets}) == 1
    for a, b in itertools.pairwise(packets):
        assert b.sequence == (a.sequence + 1) & 0xFFFF
        assert 0 <= (b.timestamp - a.timestamp) & 0xFFFFFFFF < 0x80000000


def test_same_codec_relays_payload_untouched_and_rewrites_the_stream() -> None:
    caller, agent = FakeLeg(PCMU, 101, 0xC), FakeLeg(PCMU, 101, 0xA)
    bridge = Bridge(caller, agent)
    bridge.start()
    incoming = phone_packets(0x5555, 5)
    for packet in incoming:
        caller.deliver(packet)
    out = agent.sent
    assert [p.payload for p in out] == [p.payload for p in incoming]
    assert all(p.ssrc == 0xA for p in out)
    assert [p.sequence for p in out] == [60000, 60001, 60002, 60003, 60004]
    assert [(p.timestamp - out[0].timestamp) & 0xFFFFFFFF for p in out] == [0, 160, 320, 480, 640]
    assert out[0].marker and not any(p.marker for p in out[1:])
    assert bridge.relayed == (5, 0)


def test_gaps_and_reordering_keep_their_timing() -> None:
    caller, agent = FakeLeg(PCMU, 101, 1), FakeLeg(PCMU, 101, 2)
    Bridge(caller, agent).start()
    p = phone_packets(7, 6)
    for packet in (p[0], p[1], p[3], p[2], p[5]):  # 4 lost, 2 and 3 swapped
        caller.deliver(packet)
    base = agent.sent[0].timestamp
    assert [((q.timestamp - base) & 0xFFFFFFFF) // 160 for q in agent.sent] == [0, 1, 3, 2, 5]


def test_transcoding_between_pcmu_and_pcma() -> None:
    caller, agent = FakeLeg(PCMU, 101, 1), FakeLeg(PCMA, 101, 2)
    Bridge(caller, agent).start()
    incoming = phone_packets(7, 3)
    for packet in incoming:
        caller.deliver(packet)
    assert [p.payload_type for p in agent.sent] == [8, 8, 8]
    assert [p.payload for p in agent.sent] == [transcode(p.payload, PCMU, PCMA) for p in incoming]
    back = RtpPacket(8, False, 1, 0, 9, PCMA.encode([1000, -1000] * 80))
    agent.deliver(back)
    (relayed,) = caller.sent
    assert relayed.payload_type == 0 and relayed.payload == transcode(back.payload, PCMA, PCMU)


def test_dtmf_crosses_with_the_other_legs_payload_type_and_shared_timestamp() -> None:
    caller, agent = FakeLeg(PCMU, 101, 1), FakeLeg(PCMU, 96, 2)
    Bridge(caller, agent).start()
    audio = phone_packets(7, 2)
    for packet in audio:
        caller.deliver(packet)
    event_ts = audio[-1].timestamp + 160
    for i, end in enumerate((False, False, True, True, True)):
        payload = DtmfEvent(5, end, 10, 160 * (i + 1)).build()
        caller.deliver(RtpPacket(101, i == 0, 12 + i, event_ts, 7, payload))
    events = agent.sent[2:]
    assert [p.payload_type for p in events] == [96] * 5
    assert len({p.timestamp for p in events}) == 1  # every packet of one event keeps one timestamp
    assert events[0].timestamp == (agent.sent[1].timestamp + 160) & 0xFFFFFFFF
    assert events[0].marker and DtmfEvent.parse(events[-1].payload).end


def test_dtmf_dropped_towards_a_leg_without_telephone_event() -> None:
    caller, agent = FakeLeg(PCMU, 101, 1), FakeLeg(PCMU, None, 2)
    bridge = Bridge(caller, agent)
    bridge.start()
    caller.deliver(RtpPacket(101, True, 1, 0, 7, DtmfEvent(1, False, 10, 160).build()))
    caller.deliver(RtpPacket(13, False, 2, 0, 7, b"\x40"))  # comfort noise: not negotiated on the other side
    assert agent.sent == [] and bridge.dropped == (2, 0)


def test_taps_see_each_direction_with_the_senders_timestamp() -> None:
    caller, agent = FakeLeg(PCMU, 101, 1), FakeLeg(PCMA, 101, 2)
    bridge = Bridge(caller, agent)
    seen: list[tuple[str, int, bytes, str]] = []
    bridge.add_tap(lambda direction, ts, payload, codec: seen.append((direction, ts, payload, codec.name)))
    bridge.start()
    caller.deliver(phone_packets(7, 1, ts=1234)[0])
    agent.deliver(phone_packets(8, 1, ts=999, pt=8)[0])
    assert [(d, ts, name) for d, ts, _, name in seen] == [("caller", 1234, "PCMU"), ("agent", 999, "PCMA")]
    assert seen[0][2] == bytes(160)  # the payload as the caller sent it, before transcoding


def test_stream_stays_continuous_across_prompt_bridge_hold_bridge() -> None:
    clock = FakeClock(start=0.0)
    caller, agent = FakeLeg(PCMU, 101, 0xC0FFEE), FakeLeg(PCMU, 101, 0xA6E)
    bridge = Bridge(caller, agent)
    now = 0.0

    def play(leg: FakeLeg, frames: int) -> None:
        nonlocal now
        clock.start = now
        player = Player(leg, [[b"\x7f" * 160] * frames], clock)  # type: ignore[arg-type]
        player.start()
        for _ in range(frames):
            leg.now = now
            player.tick(now)
            now += 0.02
        player.stop()

    def talk(count: int, seq: int, ts: int) -> None:
        nonlocal now
        for packet in phone_packets(0x5EED, count, seq=seq, ts=ts, pt=0):
            agent.now = caller.now = now
            agent.deliver(packet)
            now += 0.02

    play(caller, 10)  # IVR prompt to the caller
    now += 1.0
    bridge.start()
    talk(10, seq=300, ts=90000)  # the agent speaks
    bridge.stop()
    hold = Player(caller, [[b"\x55" * 160] * 3], clock, loop_forever=True)  # type: ignore[arg-type]
    clock.start = now
    hold.start()
    for _ in range(25):
        caller.now = now
        hold.tick(now)
        now += 0.02
    hold.stop()
    bridge.start()
    talk(10, seq=400, ts=200000)  # the agent's phone restarted its timestamps; the caller must not notice
    sent = caller.sent
    assert len(sent) == 10 + 10 + 25 + 10
    assert_continuous(sent)
    # A marker at each switch, and nowhere else.
    assert [i for i, p in enumerate(sent) if p.marker] == [0, 10, 20, 45]
    # After the 1 s pause the timestamp advanced by the real time elapsed, not by one frame.
    assert (sent[10].timestamp - sent[9].timestamp) & 0xFFFFFFFF == round((1.0 + 0.02) * 8000)


async def test_bridge_on_real_sockets_with_recording_tap() -> None:
    from voxcenter.media.session import RtpSession

    from .test_session import HOST, eventually, free_pool

    pool = free_pool(pairs=6)
    caller_phone = await RtpSession.open(pool, HOST, PCMU, None)
    agent_phone = await RtpSession.open(pool, HOST, PCMA, None)
    caller_leg = await RtpSession.open(pool, HOST, PCMU, caller_phone.local_address)
    agent_leg = await RtpSession.open(pool, HOST, PCMA, agent_phone.local_address)
    caller_phone.update_remote(caller_leg.local_address)
    agent_phone.update_remote(agent_leg.local_address)
    sessions = (caller_phone, agent_phone, caller_leg, agent_leg)
    heard_by_agent: list[RtpPacket] = []
    heard_by_caller: list[RtpPacket] = []
    agent_phone.on_packet = heard_by_agent.append
    caller_phone.on_packet = heard_by_caller.append
    tapped: list[str] = []
    bridge = Bridge(caller_leg, agent_leg)
    bridge.add_tap(lambda direction, ts, payload, codec: tapped.append(direction))
    bridge.start()
    try:
        voice = PCMU.encode([3000, -3000] * 80)
        for i in range(10):
            caller_phone.send_payload(voice, marker=i == 0)
            agent_phone.send_payload(PCMA.encode([100] * 160), marker=i == 0)
        await eventually(lambda: len(heard_by_agent) == 10 and len(heard_by_caller) == 10)
        assert all(p.payload_type == 8 and p.payload == transcode(voice, PCMU, PCMA) for p in heard_by_agent)
        assert all(p.payload_type == 0 and p.ssrc == caller_leg.outbound.ssrc for p in heard_by_caller)
        assert tapped.count("caller") == 10 and tapped.count("agent") == 10
    finally:
        for session in sessions:
            session.close()
