"""Monitoring benchmark: calls with a supervisor on them (three legs each, mixed). A script, not a test.

    .venv/bin/python bench/monitor_bench.py                          # 100 whispered calls × 10 s, uvloop
    .venv/bin/python bench/monitor_bench.py --calls 100 --seconds 20 --mode listen --no-record

Calls: a separate *traffic process* plays the three phones of every call (caller, agent, supervisor),
each sending 20 ms PCMU packets on one absolute 20 ms grid (calls spread over ten phases of the
period, as a trunk delivers them) and counting what comes back. The measured process holds only
voxcenter's part: per call three RtpSessions from a PortPool, one Mixer over them with the mode's
who-hears-whom matrix (:func:`voxcenter.runtime.monitoring.hearing_matrix`), the caller as the
recording's customer and, as a tap, a CallRecorder writing a stereo WAV to a temp dir; every mixer is
driven by one shared MediaClock, as in the server. Figures: the voxcenter process's CPU (per call,
and the calls one core would hold at that rate), what the phones received of what the mixers should
have sent (one packet per phone per tick), how long one clock tick (all mixers) takes (p50, p99) and
the resident memory per call.

Mixer: µs of one ``Mixer.tick`` for three parties on in-memory legs (no socket), with the monitoring
matrix and with the conference's mix-minus, so the matrix's own cost shows.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import multiprocessing as mp
import socket
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from media_bench import FRAME, HEADER, HOST, PHASES, GcPauses, new_loop, rss_bytes

from voxcenter.media.codecs import PCMU
from voxcenter.media.mixer import Mixer
from voxcenter.media.player import MediaClock
from voxcenter.media.ports import PortPool
from voxcenter.media.recorder import CallRecorder
from voxcenter.media.rtp import RtpPacket
from voxcenter.media.session import RtpSession
from voxcenter.runtime.monitoring import Monitor, MonitorMode, hearing_matrix

PARTIES = 3


class _Counter(asyncio.DatagramProtocol):
    def __init__(self, counts: np.ndarray, index: int) -> None:
        self.counts = counts
        self.index = index

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.counts[self.index] += 1


def _same(protocol: asyncio.DatagramProtocol) -> asyncio.DatagramProtocol:
    return protocol


def traffic_process(conn: Connection, calls: int, seconds: float, loop_kind: str) -> None:
    loop = new_loop(loop_kind)
    asyncio.set_event_loop(loop)
    frames = int(seconds / FRAME)
    voices = [PCMU.encode((np.sin(2 * np.pi * hz * np.arange(160) / 8000) * 8000).astype(np.int16))
              for hz in (440.0, 660.0, 880.0)]

    async def main() -> None:
        transports = []
        addresses = []
        counts = np.zeros(calls * PARTIES, dtype=np.int64)
        for index in range(calls * PARTIES):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_same, _Counter(counts, index)), sock=sock)
            addresses.append(sock.getsockname())
            transports.append(transport)
        conn.send(addresses)
        legs = conn.recv()
        start = loop.time() + 0.1
        done = loop.create_future()
        late: list[float] = []
        slot = FRAME / PHASES

        def tick(j: int) -> None:
            k, phase = divmod(j, PHASES)
            late.append(loop.time() - (start + j * slot))
            for call in range(phase, calls, PHASES):
                for party in range(PARTIES):
                    index = call * PARTIES + party
                    packet = HEADER.pack(0x80, 0, k & 0xFFFF, k * 160, 1000 + index)
                    transports[index].sendto(packet + voices[party], legs[index])
            if j + 1 < frames * PHASES:
                loop.call_at(start + (j + 1) * slot, tick, j + 1)
            else:
                loop.call_later(0.3, done.set_result, None)

        loop.call_at(start, tick, 0)
        await done
        for transport in transports:
            transport.close()
        conn.send({"received": counts, "generator_late_p99_ms": float(np.percentile(late, 99) * 1000)})

    loop.run_until_complete(main())
    loop.close()


class _TickTimer:
    """Two clock clients around the mixers: the first notes when a tick starts, the second how long it took."""

    def __init__(self) -> None:
        self.started = 0.0
        self.cpu_started = 0.0
        self.durations: list[float] = []
        self.cpu: list[float] = []
        self.first = _Mark(self, True)
        self.last = _Mark(self, False)


class _Mark:
    def __init__(self, timer: _TickTimer, first: bool) -> None:
        self.timer = timer
        self.is_first = first

    def tick(self, now: float) -> None:
        if self.is_first:
            self.timer.started, self.timer.cpu_started = time.perf_counter(), time.thread_time()
        else:
            self.timer.durations.append(time.perf_counter() - self.timer.started)
            self.timer.cpu.append(time.thread_time() - self.timer.cpu_started)


async def run_calls(calls: int, seconds: float, loop_kind: str, mode: MonitorMode, record: bool) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=traffic_process, args=(child, calls, seconds, loop_kind))
    proc.start()
    phones = await loop.run_in_executor(None, parent.recv)
    pool = PortPool(31000, 31000 + 4 * PARTIES * calls + 400)
    clock = MediaClock()
    timer = _TickTimer()
    clock.add(timer.first)
    rss_before = rss_bytes()
    sessions: list[RtpSession] = []
    mixers: list[Mixer] = []
    recorders: list[CallRecorder] = []
    tmp = tempfile.TemporaryDirectory(prefix="voxcenter-bench-")
    hearing = hearing_matrix(2, [Monitor(1, mode)])
    for call in range(calls):
        legs = [await RtpSession.open(pool, HOST, PCMU, tuple(phones[call * PARTIES + party]),
                                      inactivity_timeout=None) for party in range(PARTIES)]
        mixer = Mixer(legs, clock, customer=legs[0], hearing=hearing)
        if record:
            recorder = CallRecorder(Path(tmp.name) / f"call-{call}.wav", loop.time(), clock=loop.time)
            mixer.add_tap(recorder.write)
            recorders.append(recorder)
        sessions += legs
        mixers.append(mixer)
    rss_after = rss_bytes()
    ticks0 = clock.ticks
    for mixer in mixers:
        mixer.start()
    clock.add(timer.last)
    parent.send([s.local_address for s in sessions])
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await loop.run_in_executor(None, parent.recv)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ticks = clock.ticks - ticks0
    gc.callbacks.remove(gc_pauses)
    proc.join()
    for mixer in mixers:
        mixer.stop()
    clock.remove(timer.first)
    clock.remove(timer.last)
    for recorder in recorders:
        recorder.close()
    for session in sessions:
        session.close()
    tmp.cleanup()
    received = int(result["received"].sum())
    durations = np.array(timer.durations[5:] or [0.0])
    tick_cpu = np.array(timer.cpu[5:] or [0.0])
    # On a busy host the clock skips the ticks it was not scheduled for: the share of a core that the calls
    # take at the full 50 ticks a second is the mean tick's CPU × 50 plus the rest (receiving) as measured.
    tick_cpu_all = float(np.sum(timer.cpu))
    full_rate = float(np.mean(tick_cpu)) / FRAME + max(0.0, cpu - tick_cpu_all) / wall
    return {
        "full_rate_core_pct": 100 * full_rate,
        "calls_per_core_full_rate": calls / full_rate if full_rate else float("inf"),
        "cpu_pct_per_call": 100 * cpu / wall / calls,
        "voxcenter_cpu_pct": 100 * cpu / wall,
        "calls_per_core": wall / cpu * calls if cpu else float("inf"),
        "received_pct": 100 * received / max(1, ticks * calls * PARTIES),
        "ticks_pct": 100 * ticks * FRAME / wall,
        "tick_cpu_p50_ms": float(np.percentile(tick_cpu, 50) * 1000),
        "tick_cpu_p99_ms": float(np.percentile(tick_cpu, 99) * 1000),
        "tick_wall_p50_ms": float(np.percentile(durations, 50) * 1000),
        "tick_wall_p99_ms": float(np.percentile(durations, 99) * 1000),
        "rss_kb_per_call": (rss_after - rss_before) / calls / 1024,
        "gc_longest_ms": gc_pauses.longest * 1000,
        "generator_late_p99_ms": result["generator_late_p99_ms"],
    }


class _MemoryLeg:
    """A leg for :func:`mixer_cost`: takes sent frames, holds no socket."""

    def __init__(self) -> None:
        self.codec = PCMU
        self.on_packet: Any = None
        self.sent = 0

    def send_payload(self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None,
                     marker: bool = False) -> bool:
        self.sent += 1
        return True


def mixer_cost(matrix: bool, tap: bool = False, ticks: int = 5000, runs: int = 5) -> float:
    """µs per ``Mixer.tick`` for three parties that each sent a frame (decode, mix, encode, send; with ``tap``
    the recording's two channels to a tap that keeps nothing); the best of ``runs`` (load only ever adds)."""
    legs = [_MemoryLeg() for _ in range(PARTIES)]

    class _Clock:
        def add(self, client: object) -> float:
            return 0.0

        def remove(self, client: object) -> None:
            pass

    hearing = hearing_matrix(2, [Monitor(1, MonitorMode.WHISPER)]) if matrix else None
    mixer = Mixer(legs, _Clock(), customer=legs[0], hearing=hearing)  # type: ignore[arg-type]
    if tap:
        mixer.add_tap(lambda direction, timestamp, payload, codec: None)
    mixer.start()
    packets = [RtpPacket(0, False, 1, 160, 7, PCMU.encode((np.arange(160) * (i + 1) % 4000).astype(np.int16)))
               for i in range(PARTIES)]
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(ticks):
            for leg, packet in zip(legs, packets, strict=True):
                leg.on_packet(packet)
            mixer.tick(0.0)
        best = min(best, (time.perf_counter() - started) / ticks * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    parser.add_argument("--mode", choices=[m.value for m in MonitorMode], default="whisper")
    parser.add_argument("--no-record", action="store_true", help="mix without the recording tap")
    args = parser.parse_args()
    print(f"mixer tick, 3 parties: {mixer_cost(True):.1f} µs with the monitoring matrix, "
          f"{mixer_cost(False):.1f} µs mix-minus, {mixer_cost(True, tap=True):.1f} µs matrix and a recording tap")
    loop = new_loop(args.loop)
    try:
        figures = loop.run_until_complete(run_calls(args.calls, args.seconds, args.loop, MonitorMode(args.mode),
                                                    not args.no_record))
    finally:
        loop.close()
    print(f"{args.calls} {args.mode} calls × {args.seconds:g} s ({args.loop}, "
          f"{'no recording' if args.no_record else 'recorded'}):")
    for name, value in figures.items():
        print(f"  {name:24} {value:10.3f}")


if __name__ == "__main__":
    main()
