"""Player pacing on a fake clock: absolute deadlines, bounded bursts, markers, barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.media.player import FramePacer, MediaClock, Player, PlayOutcome
from voxcenter.media.rtp import OutboundStream, RtpPacket, parse_rtp


class FakeClock:
    """Stands in for MediaClock: the test calls tick() itself."""

    frame_time = 0.020

    def __init__(self, start: float = 100.0) -> None:
        self.start = start
        self.clients: list[Player] = []

    def add(self, client: Player) -> float:
        self.clients.append(client)
        return self.start

    def remove(self, client: Player) -> None:
        if client in self.clients:
            self.clients.remove(client)


class RecordingSink:
    """Collects what the player sends, as the RTP packets an OutboundStream would build."""

    def __init__(self) -> None:
        self.stream = OutboundStream(1, 1000, 50000)
        self.now = 0.0
        self.packets: list[RtpPacket] = []
        self.send_times: list[float] = []
        self.on_send: Callable[[], object] | None = None

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        packet = parse_rtp(self.stream.build_next(payload, 0, timestamp_step or 160, marker, self.now))
        assert packet is not None
        self.packets.append(packet)
        self.send_times.append(self.now)
        if self.on_send is not None:
            self.on_send()
        return True

    def skip_frame(self) -> None:
        self.stream.skip(160)


def frames(tag: int, count: int) -> list[bytes]:
    return [bytes([tag, i % 256]) * 80 for i in range(count)]


def run(player: Player, sink: RecordingSink, times: list[float]) -> None:
    for now in times:
        sink.now = now
        player.tick(now)


def test_pacer_deadlines_are_absolute() -> None:
    pacer = FramePacer(start=10.0)
    assert pacer.due(10.0) == (0, 1)
    assert pacer.due(10.005) == (0, 0)
    assert pacer.deadline() == 10.02
    assert pacer.due(10.019) == (0, 0)
    assert pacer.due(10.0197) == (0, 1)  # 0.3 ms early counts as on time (call_at's clock resolution)
    # 43 ms late for frame 2: frames 2, 3 and 4 (deadlines 10.04, 10.06, 10.08) are due; the grid does not move.
    assert pacer.due(10.083) == (0, 3)
    assert pacer.deadline() == 10.0 + 5 * 0.02


def test_pacer_drops_beyond_the_burst_limit() -> None:
    pacer = FramePacer(start=0.0, max_burst=3)
    pacer.due(0.0)
    assert pacer.due(0.2) == (7, 3)  # frames 1..10 due: 7 dropped, 3 sent
    assert pacer.index == 11 and abs(pacer.deadline() - 0.22) < 1e-12


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 0.07), min_size=1, max_size=150))
def test_pacer_never_drifts(wakeup_delays: list[float]) -> None:
    """Whatever the wake-up lateness, after each wake-up every frame with deadline <= now is consumed and none later."""
    pacer = FramePacer(start=0.0, max_burst=3)
    consumed = 0
    for delay in wakeup_delays:
        now = pacer.deadline() + delay
        dropped, sent = pacer.due(now)
        consumed += dropped + sent
        assert sent <= 3
        assert consumed == pacer.index
        assert pacer.deadline() > now + 0.0005 - 1e-9
        assert pacer.start + (pacer.index - 1) * pacer.frame_time <= now + 0.0005


def test_player_sends_on_the_grid_with_continuous_timestamps_and_markers() -> None:
    clock = FakeClock(start=100.0)
    sink = RecordingSink()
    player = Player(sink, [frames(1, 3), frames(2, 2)], clock)  # type: ignore[arg-type]
    player.start()
    run(player, sink, [100.0 + 0.02 * k + 0.0003 for k in range(8)])
    assert player.outcome is PlayOutcome.FINISHED and clock.clients == []
    assert len(sink.packets) == 5
    assert [p.marker for p in sink.packets] == [True, False, False, True, False]
    assert [p.sequence for p in sink.packets] == list(range(1000, 1005))
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(sink.packets, sink.packets[1:], strict=False)]
    assert steps == [160] * 4  # back-to-back prompts leave no gap on the wire
    assert [p.payload[:2] for p in sink.packets] == [b"\x01\x00", b"\x01\x01", b"\x01\x02", b"\x02\x00", b"\x02\x01"]


def test_late_loop_sends_due_frames_without_drift() -> None:
    clock = FakeClock(start=0.0)
    sink = RecordingSink()
    player = Player(sink, [frames(1, 20)], clock, max_burst=3)  # type: ignore[arg-type]
    player.start()
    # On time for 3 frames, then the loop stalls 100 ms (frames 3..8 due at once), then on time again.
    run(player, sink, [0.0, 0.02, 0.04, 0.161, 0.18, 0.20])
    sent_indexes = [p.payload[1] for p in sink.packets]
    assert sent_indexes == [0, 1, 2, 6, 7, 8, 9, 10]  # 3, 4, 5 dropped; at most 3 per wake-up
    assert player.frames_dropped == 3
    # Timestamps still follow the 20 ms grid: frame k carries base + 160 k.
    base = sink.packets[0].timestamp
    assert [(p.timestamp - base) // 160 for p in sink.packets] == sent_indexes


def test_music_on_hold_loops_until_stopped() -> None:
    clock = FakeClock(start=0.0)
    sink = RecordingSink()
    player = Player(sink, [frames(7, 3)], clock, loop_forever=True)  # type: ignore[arg-type]
    player.start()
    run(player, sink, [0.02 * k for k in range(10)])
    assert len(sink.packets) == 10 and player.outcome is None
    assert [p.marker for p in sink.packets] == [True] + [False] * 9
    player.stop()
    run(player, sink, [0.2, 0.22])
    assert len(sink.packets) == 10 and player.outcome is PlayOutcome.INTERRUPTED


def test_empty_playlist_finishes_at_once() -> None:
    player = Player(RecordingSink(), [[], []], FakeClock())  # type: ignore[arg-type]
    player.start()
    assert player.outcome is PlayOutcome.FINISHED


async def test_barge_in_on_the_real_clock() -> None:
    clock = MediaClock()
    sink = RecordingSink()
    player = Player(sink, [frames(1, 500)], clock)
    player.start()
    waiter = asyncio.ensure_future(player.wait())
    three_sent = asyncio.Event()
    sink.on_send = lambda: three_sent.set() if len(sink.packets) >= 3 else None
    await asyncio.wait_for(three_sent.wait(), timeout=5)
    player.stop()  # a digit arrived
    assert await waiter is PlayOutcome.INTERRUPTED
    count = len(sink.packets)
    await asyncio.sleep(0.06)
    assert len(sink.packets) == count and len(clock) == 0


async def test_shared_clock_drives_several_players_and_finishes_them() -> None:
    clock = MediaClock()
    sinks = [RecordingSink() for _ in range(5)]
    players = [Player(s, [frames(i, 3)], clock) for i, s in enumerate(sinks)]
    for player in players:
        player.start()
    outcomes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in players)), timeout=5)
    assert outcomes == [PlayOutcome.FINISHED] * 5
    assert all(len(s.packets) == 3 for s in sinks)
    assert len(clock) == 0


async def test_player_started_from_a_finishing_players_tick_shares_the_one_timer() -> None:
    clock = MediaClock()
    first_sink, second_sink = RecordingSink(), RecordingSink()
    second = Player(second_sink, [frames(2, 3)], clock)
    first = Player(first_sink, [frames(1, 2)], clock)

    class Chain:
        """Starts the next prompt from inside the clock's tick, as an IVR does when a prompt ends."""

        def tick(self, now: float) -> None:
            if first.outcome is not None and second._pacer is None:
                second.start()
                clock.remove(self)

    first.start()
    clock.add(Chain())
    assert await asyncio.wait_for(second.wait(), timeout=5) is PlayOutcome.FINISHED
    assert len(second_sink.packets) == 3 and len(clock) == 0
    ticks = clock.ticks
    await asyncio.sleep(0.05)
    assert clock.ticks == ticks  # no stray timer left running
