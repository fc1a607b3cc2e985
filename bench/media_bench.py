"""Media benchmark: bridged G.711 calls on loopback, and player pacing. A script, not a test.

    .venv/bin/python bench/media_bench.py                       # 50 calls × 6 s on asyncio and uvloop
    .venv/bin/python bench/media_bench.py --calls 225 --seconds 20 --loops uvloop

Calls: a separate *traffic process* plays both phones of every call (caller
and agent each send 20 ms PCMU/PCMA packets on one absolute 20 ms grid and
receive what the bridge relays), so the measured process holds only
voxcenter: per call two RtpSessions from a PortPool, a Bridge (PCMU caller,
PCMA agent: the transcoding path) and, as taps, a CallRecorder writing a
stereo WAV to a temp dir. Figures: loss, added delay variation (RFC 3550 |D|
of the transit time phone → bridge → phone, mean and p95), latency, CPU of
the voxcenter process per call, resident memory per call (after setting the
calls up, and ``_live`` at the end of the run, with every recorder's pending
audio held), and the garbage collector's collections and longest pause.

Players: 200 players of a long prompt into in-memory sinks, driven by ONE
shared MediaClock versus one MediaClock per player; send-time lateness
against each player's 20 ms grid (p50, p99) and CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import multiprocessing as mp
import os
import socket
import struct
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from voxcenter.media.bridge import Bridge
from voxcenter.media.codecs import PCMA, PCMU
from voxcenter.media.player import MediaClock, Player
from voxcenter.media.ports import PortPool
from voxcenter.media.rtp import OutboundStream
from voxcenter.media.session import RtpSession

HOST = "127.0.0.1"
FRAME = 0.020
PHASES = 10
HEADER = struct.Struct("!BBHII")


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------------------------- traffic process


# The frame index travels in the first two payload octets as two base-N digits, using only the μ-law codes that
# survive PCMU → PCMA → PCMU, so the index reads back whichever law the bridge delivers.
def _index_codes() -> tuple[list[int], list[int]]:
    from voxcenter.media.codecs import transcode

    ulaw = [c for c in range(256) if transcode(transcode(bytes([c]), PCMU, PCMA), PCMA, PCMU) == bytes([c])]
    alaw = [transcode(bytes([c]), PCMU, PCMA)[0] for c in ulaw]
    return ulaw, alaw


def _same(protocol: asyncio.DatagramProtocol) -> asyncio.DatagramProtocol:
    return protocol


class _PhoneSink(asyncio.DatagramProtocol):
    """A phone's receiving side: notes when each frame index arrives."""

    def __init__(self, arrivals: np.ndarray, loop: asyncio.AbstractEventLoop, index_of: dict[int, int]) -> None:
        self.arrivals = arrivals
        self.time = time.monotonic  # uvloop's loop.time() ticks in whole milliseconds: too coarse to measure jitter
        self.index_of = index_of
        self.base = len(index_of)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        hi, lo = self.index_of.get(data[12]), self.index_of.get(data[13])
        if hi is None or lo is None:
            return
        index = hi * self.base + lo
        if index < len(self.arrivals) and self.arrivals[index] == 0:
            self.arrivals[index] = self.time()


def traffic_process(conn: Connection, calls: int, seconds: float, loop_kind: str) -> None:
    loop = new_loop(loop_kind)
    asyncio.set_event_loop(loop)
    frames = int(seconds / FRAME)
    ulaw_codes, alaw_codes = _index_codes()
    ulaw_index = {c: i for i, c in enumerate(ulaw_codes)}
    alaw_index = {c: i for i, c in enumerate(alaw_codes)}
    base = len(ulaw_codes)
    if frames >= base * base:
        raise SystemExit("run too long for the frame index encoding")

    async def main() -> None:
        socks = []
        transports = []
        # Direction 0: caller phone → agent phone; direction 1: agent phone → caller phone.
        arrivals = np.zeros((2, calls, frames))
        sent = np.zeros((2, calls, frames))
        for call in range(calls):
            for side in range(2):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((HOST, 0))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                # The caller phone (side 0) hears PCMU relayed from the agent; the agent phone hears PCMA.
                sink = _PhoneSink(arrivals[1 - side][call], loop, ulaw_index if side == 0 else alaw_index)
                transport, _ = await loop.create_datagram_endpoint(functools.partial(_same, sink), sock=sock)
                socks.append(sock.getsockname())
                transports.append(transport)
        conn.send(socks)
        leg_addresses = conn.recv()
        start = loop.time() + 0.1
        done = loop.create_future()
        late: list[float] = []

        # Real calls are not phase-aligned: call i sends in slot i % PHASES of each 20 ms period, so the
        # bridge sees the steady trickle a real trunk delivers rather than one burst every 20 ms.
        slot = FRAME / PHASES

        def tick(j: int) -> None:
            k, phase = divmod(j, PHASES)
            late.append(loop.time() - (start + j * slot))
            hi, lo = divmod(k, base)
            for call in range(phase, calls, PHASES):
                for side in range(2):
                    codes = ulaw_codes if side == 0 else alaw_codes
                    payload = bytes((codes[hi], codes[lo])) + (b"\xff" if side == 0 else b"\xd5") * 158
                    packet = HEADER.pack(0x80, 0 if side == 0 else 8, k & 0xFFFF, k * 160, 1000 + 2 * call + side)
                    sent[side][call][k] = time.monotonic()
                    transports[2 * call + side].sendto(packet + payload, leg_addresses[2 * call + side])
            if j + 1 < frames * PHASES:
                loop.call_at(start + (j + 1) * slot, tick, j + 1)
            else:
                loop.call_later(0.3, done.set_result, None)

        loop.call_at(start, tick, 0)
        await done
        for transport in transports:
            transport.close()
        received = arrivals > 0
        transit = np.where(received, arrivals - sent, np.nan)
        conn.send(
            {
                "sent": 2 * calls * frames,
                "received": int(received.sum()),
                "transit": transit,
                "generator_late_p99_ms": float(np.percentile(late, 99) * 1000),
            }
        )

    loop.run_until_complete(main())
    loop.close()


# --------------------------------------------------------------------------------------------- voxcenter process


class GcPauses:
    """A ``gc.callbacks`` entry: how many collections ran and the longest pause one caused."""

    def __init__(self) -> None:
        self.count = 0
        self.full = 0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.count += 1
        self.full += info["generation"] == 2
        self.longest = max(self.longest, time.perf_counter() - self._started)


async def run_calls(calls: int, seconds: float, loop_kind: str, record: bool) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=traffic_process, args=(child, calls, seconds, loop_kind))
    proc.start()
    phones = await loop.run_in_executor(None, parent.recv)
    pool = PortPool(30000, 30000 + 4 * calls + 400)
    rss_before = rss_bytes()
    sessions: list[RtpSession] = []
    recorders = []
    tmp = tempfile.TemporaryDirectory(prefix="voxcenter-bench-")
    for call in range(calls):
        caller_leg = await RtpSession.open(pool, HOST, PCMU, tuple(phones[2 * call]), inactivity_timeout=None)
        agent_leg = await RtpSession.open(pool, HOST, PCMA, tuple(phones[2 * call + 1]), inactivity_timeout=None)
        bridge = Bridge(caller_leg, agent_leg)
        if record:
            from voxcenter.media.recorder import CallRecorder

            recorder = CallRecorder(Path(tmp.name) / f"call-{call}.wav", loop.time(), clock=loop.time)
            bridge.add_tap(recorder.write)
            recorders.append(recorder)
        bridge.start()
        sessions += [caller_leg, agent_leg]
    rss_after = rss_bytes()
    parent.send([s.local_address for s in sessions])
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await loop.run_in_executor(None, parent.recv)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc.callbacks.remove(gc_pauses)
    rss_live = rss_bytes()  # with the calls' buffers (recorders' pending audio) still held
    proc.join()
    for recorder in recorders:
        recorder.close()
    recorded = sum(recorder.path.stat().st_size for recorder in recorders)
    for session in sessions:
        session.close()
    tmp.cleanup()
    transit: np.ndarray = result["transit"]
    d = np.abs(np.diff(transit, axis=2))
    d = d[~np.isnan(d)]
    flat = transit[~np.isnan(transit)]
    return {
        "loss_pct": 100 * (1 - result["received"] / result["sent"]),
        "jitter_mean_ms": float(d.mean() * 1000) if d.size else float("nan"),
        "jitter_p95_ms": float(np.percentile(d, 95) * 1000) if d.size else float("nan"),
        "latency_p50_ms": float(np.percentile(flat, 50) * 1000) if flat.size else float("nan"),
        "latency_p99_ms": float(np.percentile(flat, 99) * 1000) if flat.size else float("nan"),
        "cpu_pct_per_call": 100 * cpu / wall / calls,
        "calls_per_core": wall / cpu * calls if cpu else float("inf"),
        "rss_kb_per_call": (rss_after - rss_before) / calls / 1024,
        "rss_kb_per_call_live": (rss_live - rss_before) / calls / 1024,
        "gc_collections": gc_pauses.count,
        "gc_full_collections": gc_pauses.full,
        "gc_longest_ms": gc_pauses.longest * 1000,
        "recorded_mb": recorded / 1e6,
        "generator_late_p99_ms": result["generator_late_p99_ms"],
    }


# --------------------------------------------------------------------------------------------- players


class _TimingSink:
    """Builds the real RTP packet (as RtpSession would) and notes the send time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stream = OutboundStream(1, 1, 1)
        self.time = time.perf_counter  # finer than uvloop's millisecond loop.time()
        self.times: list[float] = []

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        now = self.time()
        self.stream.build_next(payload, 0, 160, marker, now)
        self.times.append(now)
        return True

    def skip_frame(self) -> None:
        self.stream.skip(160)


async def run_players(count: int, seconds: float, shared: bool) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    prompt = [b"\xff" * 160] * int(seconds / FRAME + 100)
    clock = MediaClock(loop)
    players = []
    sinks = []
    cpu0 = time.process_time()
    for _ in range(count):
        sink = _TimingSink(loop)
        player = Player(sink, [prompt], clock if shared else MediaClock(loop))
        player.start()
        players.append(player)
        sinks.append(sink)
        await asyncio.sleep(0.0007)  # players start at scattered moments, as calls do
    await asyncio.sleep(seconds)
    for player in players:
        player.stop()
    cpu = time.process_time() - cpu0
    lateness = []
    for sink in sinks:
        # Lateness against a perfect 20 ms grid through the player's earliest frame.
        times = np.array(sink.times)
        late = times - (times[0] + np.arange(len(times)) * FRAME)
        lateness.append(late - late.min())
    late = np.concatenate(lateness)
    return {
        "late_p50_ms": float(np.percentile(late, 50) * 1000),
        "late_p99_ms": float(np.percentile(late, 99) * 1000),
        "late_max_ms": float(late.max() * 1000),
        "dropped_frames": sum(p.frames_dropped for p in players),
        "cpu_pct": 100 * cpu / (seconds + count * 0.0007),
    }


class _NullTransport:
    def sendto(self, data: bytes, addr: Any = None) -> None:
        pass

    def close(self) -> None:
        pass


async def relay_cost(record: bool, transcoding: bool, packets: int = 20000) -> float:
    """Microseconds of Python per relayed packet (parse, learning, stats, bridge, build, recording taps), without
    socket calls; the recorder's block writes (decode, interleave, file write) are included, amortized."""
    loop = asyncio.get_running_loop()
    pool = PortPool(31000, 31200)
    caller = await RtpSession.open(pool, HOST, PCMU, (HOST, 9), inactivity_timeout=None)
    agent = await RtpSession.open(pool, HOST, PCMA if transcoding else PCMU, (HOST, 11), inactivity_timeout=None)
    real = caller._transport, agent._transport
    caller._transport = agent._transport = _NullTransport()  # type: ignore[assignment]
    bridge = Bridge(caller, agent)
    tmp = tempfile.TemporaryDirectory(prefix="voxcenter-bench-")
    recorder = None
    if record:
        from voxcenter.media.recorder import CallRecorder

        # The loop is not running here, so its clock stands still: give the recorder one that advances 20 ms
        # per packet, as a live call's does, so its per-block writes are part of the measured cost.
        start = loop.time()
        recorder = CallRecorder(
            Path(tmp.name) / "relay.wav", start, clock=functools.partial(next, itertools.count(start, FRAME))
        )
        bridge.add_tap(recorder.write)
    bridge.start()
    datagrams = [HEADER.pack(0x80, 0, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, 77) + b"\xff" * 160 for i in range(packets)]
    source = (HOST, 9)
    t0 = time.perf_counter()
    for datagram in datagrams:
        caller._rtp_datagram(datagram, source)
    elapsed = time.perf_counter() - t0
    caller._transport, agent._transport = real
    if recorder is not None:
        recorder.close()
    caller.close()
    agent.close()
    tmp.cleanup()
    return elapsed / packets * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--loops", choices=["asyncio", "uvloop", "both"], default="both")
    parser.add_argument("--no-record", action="store_true", help="bridge without the recording taps")
    parser.add_argument("--players", type=int, default=200)
    parser.add_argument("--player-seconds", type=float, default=2.0)
    args = parser.parse_args()
    kinds = ["asyncio", "uvloop"] if args.loops == "both" else [args.loops]
    for kind in kinds:
        loop = new_loop(kind)
        figures = loop.run_until_complete(run_calls(args.calls, args.seconds, kind, not args.no_record))
        loop.close()
        print(f"calls loop={kind} calls={args.calls} seconds={args.seconds} record={not args.no_record}")
        for name, value in figures.items():
            print(f"  {name:24} {value:10.3f}")
    kind = kinds[-1]
    loop = new_loop(kind)
    print("relay hot path (µs of Python per packet, no syscalls)")
    for record in (False, True):
        for transcoding in (False, True):
            cost = loop.run_until_complete(relay_cost(record, transcoding))
            print(f"  record={record!s:5} transcode={transcoding!s:5} {cost:8.2f}")
    loop.close()
    for shared in (True, False) if args.players else ():
        loop = new_loop(kind)
        figures = loop.run_until_complete(run_players(args.players, args.player_seconds, shared))
        loop.close()
        label = "one shared MediaClock" if shared else "one MediaClock per player"
        print(f"players loop={kind} players={args.players} {label}")
        for name, value in figures.items():
            print(f"  {name:24} {value:10.3f}")


if __name__ == "__main__":
    main()
