"""The whole call path: ``voxcenter run`` end to end with SIPp callers and SIPp agent phones. A script, not a test.

    .venv/bin/python bench/call_path.py                          # S1, S2 and S4 at their target loads
    .venv/bin/python bench/call_path.py --scenarios s1 --s1-rates 300,500,700 --duration 20
    .venv/bin/python bench/call_path.py --scenarios s4 --s4-calls 300
    .venv/bin/python bench/call_path.py --scenarios overload --overload-rate 750

What runs: ``voxcenter run`` (the real command, in a child process: dial plan, IVR, queue, recordings, CDRs
and journal; ``--database`` for PostgreSQL, a SQLite file otherwise) pinned to CPU 0, and on CPU 1 SIPp
and a *media peer* (this script with ``--media-peer``) that owns the RTP sockets the callers' and the agents'
SDP name. The scenarios:

* **S1**: INVITE, answer, hang-up by the server (IVR ``hangup`` node), CDR.
* **S2**: answer, a 1 s prompt, hang-up by the server.
* **S4**: answer, a 2 s prompt, queue, an agent (one of ``--agents`` SIPp-registered phones, logged in
  through the admin API, answering after 200 ms), ``--s4-talk`` s of talk in both directions, stereo
  recording; the caller hangs up.
* **overload**: S1 at ``--overload-rate`` for ``--duration`` s, then S1 at the first S1 rate: how the
  accepted calls fare, and how long until no call is refused.

Per step it prints: calls attempted / failed and SIPp's retransmissions; INVITE → 200 time p50/p95
(SIPp ``-trace_rtt``, every call); voxcenter's CPU (``/proc/<pid>/stat``, all its threads) in % of a core and
in ms per call; its RSS growth per call in progress (peak RSS during the step minus before, over the peak
of SIPp's CurrentCall); its garbage-collector pauses (longest, and full collections); the objects the step left
alive (``obj/call``: the collector's tracked objects 2 s after the step against just before it, over the calls
attempted, while the last 64·T1 of SIP transactions linger; again ``--settle`` s after it; the server's wrapper
counts them by type on SIGUSR1) and its RSS then; the CPU of everything
else on the host; and for RTP, at the agent and at the caller: loss and added jitter. The media peer
stamps each packet it sends with its send time, so the transit time of every packet through voxcenter is
known; *added jitter* is |transit(i) − transit(i−1)| over consecutive packets (as in
``bench/media_bench.py``): what voxcenter (and the host) adds, whatever the sender's own timing. For
prompts (S2) the caller's figure is RFC 3550's D against the RTP timestamps.

The rated (clean) rate is the highest with < 0.1 % failed calls, no retransmission, p95 < 100 ms and
≥ 95 % of the rate achieved.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import gc
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from sip_cps import (  # noqa: E402  (the measuring helpers of the SIP benchmark)
    SIPP,
    children_cpu_seconds,
    host_busy_seconds,
    percentile,
    process_cpu_seconds,
    read_rtt,
    udp_receive_buffer_errors,
)

CALLER_IP = "127.0.0.2"
"""Callers come from the carrier's address (a trusted trunk); agents' phones from 127.0.0.1."""
MAGIC = b"VXBN"
"""Marks the media peer's own packets (in the payload, after which: stream id, counter, send time)."""
STAMP = struct.Struct("!4sIId")
RTP = struct.Struct("!BBHII")
SLOTS = 10
"""The 20 ms period is cut in this many slots; a stream sends in one of them (no 20 ms burst)."""

# --------------------------------------------------------------------------------------------- SIPp scenarios

_CALLER_INVITE = """
  <send retrans="500" start_rtd="true">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "bench" <sip:caller[call_number]@[local_ip]:[local_port]>;tag=uac[pid]-[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller[call_number]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 {media_host}
      t=0 0
      m=audio {media_port} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="200" rtd="true" rrs="true" />
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "bench" <sip:caller[call_number]@[local_ip]:[local_port]>;tag=uac[pid]-[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_SERVER_HANGS_UP = """
  <recv request="BYE" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

_CALLER_HANGS_UP = """
  <pause milliseconds="{hold_ms}" />
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "bench" <sip:caller[call_number]@[local_ip]:[local_port]>;tag=uac[pid]-[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />
"""

_AGENT_ANSWERS = """
  <recv request="INVITE" crlf="true" />
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=agent[pid]-[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="200" />
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=agent[pid]-[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 {media_host}
      t=0 0
      m=audio {media_port} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20

    ]]>
  </send>
  <recv request="ACK" crlf="true" />
  <recv request="BYE" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""


def scenario(name: str, body: str) -> str:
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            f'<scenario name="{name}">\n{body}\n</scenario>\n')


# --------------------------------------------------------------------------------------------- the dial plan


def write_tone(path: Path, seconds: float, hz: float = 440.0) -> None:
    import numpy as np

    samples = np.arange(int(8000 * seconds))
    wave_data = (np.sin(2 * np.pi * hz * samples / 8000) * 0.3 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(wave_data.tobytes())


def agent_ids(count: int) -> list[str]:
    return [str(5000 + n) for n in range(count)]


def dial_plan(work: Path, *, sip_port: int, rtp_base: int, api_port: int, token: str, agents: int,
              database: str | None, max_calls: int, max_loop_lag: str | None = None) -> Path:
    prompts = work / "prompts" / "en"
    prompts.mkdir(parents=True)
    for source in (ROOT / "prompts" / "en").glob("*.wav"):
        (prompts / source.name).symlink_to(source)
    write_tone(prompts / "bench-1s.wav", 1.0)
    write_tone(prompts / "bench-2s.wav", 2.0)
    agent_lines = "".join(f"  '{a}': {{name: Agent {a}, password: pw{a}, queues: [bench]}}\n"
                          for a in agent_ids(agents))
    url = database or f"sqlite+aiosqlite:///{work / 'voxcenter.db'}"
    text = f"""\
sip:
  listen:
    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
rtp:
  address: 127.0.0.1
  port_min: {rtp_base}
  port_max: {rtp_base + 3999}
  inactivity_timeout: 60s
trunks:
  carrier:
    inbound: {{allow_from: [{CALLER_IP}/32]}}
numbers:
  '1': {{node: s1}}
  '2': {{node: s2}}
  '4': {{node: s4}}
ivr:
  s1: {{type: hangup}}
  s2: {{type: hangup, prompts: bench-1s}}
  s4: {{type: play, prompts: bench-2s, next: s4-queue}}
  s4-queue: {{type: queue, queue: bench}}
queues:
  bench:
    ring_timeout: 10s
    retry_delay: 1s
    wrap_up: 0s
    join_when: always
    leave_when: never
    announcements: {{position_every: null}}
agents:
{agent_lines}prompts:
  directory: {work / "prompts"}
  default_language: en
  languages: [en]
recording:
  enabled: true
  directory: {work / "recordings"}
database:
  url: {url}
  journal_directory: {work / "journal"}
security:
  never_ban: [127.0.0.1/32]
  flood: {{trunk_requests: 0}}
  max_calls_in_progress: {max_calls}
{f"  max_loop_lag: {max_loop_lag}" + chr(10) if max_loop_lag else ""}api:
  enabled: true
  port: {api_port}
  token: {token}
"""
    path = work / "voxcenter.yaml"
    path.write_text(text)
    return path


async def register_agents(agents: list[str], port: int, server_port: int) -> None:
    """REGISTER every agent (digest, each its own password) from 127.0.0.1:``port``, where SIPp answers next.

    SIPp cannot take a per-call digest username from an injection file, so voxcenter's own client does this part;
    the agents' binding source is then SIPp's socket, where voxcenter sends their INVITEs and keep-alives."""
    from voxcenter.logs import configure_logging
    from voxcenter.sip.auth import DigestClient
    from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
    from voxcenter.sip.transport import Address
    from voxcenter.sip.uri import NameAddr, SipUri

    async def no_calls(session: Any) -> None:
        session.reject(480)

    configure_logging("warning", json=True)
    phone = SipEndpoint(EndpointSettings(listeners=[Listener("udp", "127.0.0.1", port)]),
                        credentials=lambda *_: None, application=no_calls)
    await phone.start()
    server = Address("udp", "127.0.0.1", server_port)

    async def register(agent: str) -> int:
        aor = NameAddr(SipUri("sip", agent, None, server.host, server.port))
        response = await phone.request("REGISTER", SipUri("sip", None, None, server.host, server.port), server,
                                       from_user=agent, to=aor, headers=[("Expires", "3600")],
                                       credentials=DigestClient(agent, f"pw{agent}"))
        return response.status

    try:
        for index in range(0, len(agents), 50):
            statuses = await asyncio.gather(*(register(agent) for agent in agents[index:index + 50]))
            if any(status != 200 for status in statuses):
                raise SystemExit(f"agents could not register: {statuses}")
    finally:
        await phone.stop()


# --------------------------------------------------------------------------------------------- voxcenter process


class GcWatch:
    """gc.callbacks timing every collection; a thread writes one line a second (cumulative counts, and the longest
    pause of that second) so that the driver can take the pauses of one step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = 0.0
        self.count = [0, 0, 0]
        self.total = 0.0
        self.longest = 0.0
        self.longest_by_generation = [0.0, 0.0, 0.0]
        self.longest_cpu_by_generation = [0.0, 0.0, 0.0]
        self.started_cpu = 0.0
        self.total_cpu = 0.0
        self.lock = threading.Lock()
        self.paused = False
        self.collected = [0, 0, 0]
        """Unreachable objects (reference cycles) each generation's collections freed."""
        self.census_wanted = threading.Event()

    def census(self, path: Path) -> None:
        """Every object the collector tracks, by type, after a full collection: one JSON line appended to ``path``
        (on SIGUSR1 from the driver, between steps)."""
        self.paused = True
        try:
            started, started_cpu = time.perf_counter(), time.thread_time()
            gc.collect()
            full_ms = 1000 * (time.perf_counter() - started)
            full_cpu_ms = 1000 * (time.thread_time() - started_cpu)
            counts: dict[str, int] = {}
            wanted = set(filter(None, os.environ.get("CALL_PATH_REFERRERS", "").split(",")))
            samples: list[Any] = []
            for obj in gc.get_objects():
                kind = type(obj)
                name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
                counts[name] = counts.get(name, 0) + 1
                if name in wanted and counts[name] % 997 == 0:
                    samples.append(obj)
            holders = [referrers_of(obj, {id(samples)}) for obj in samples[-4:]]
            del samples
        finally:
            self.paused = False
        with path.open("a") as out:
            out.write(json.dumps({"t": time.monotonic(), "total": sum(counts.values()), "by_type": counts,
                                  "holders": holders, "full_ms": full_ms, "full_cpu_ms": full_cpu_ms}) + "\n")

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if self.paused:
            return  # the census's own collection is not the server's
        if phase == "start":
            self.started = time.perf_counter()
            self.started_cpu = time.thread_time()
            return
        pause = time.perf_counter() - self.started
        # The collector's own CPU time: on a host whose other jobs deschedule us, wall-clock pauses include
        # the time spent waiting for the CPU, thread time does not.
        work = time.thread_time() - self.started_cpu
        with self.lock:
            generation = info["generation"]
            self.count[generation] += 1
            self.total += pause
            self.total_cpu += work
            self.longest = max(self.longest, pause)
            self.longest_by_generation[generation] = max(self.longest_by_generation[generation], pause)
            self.longest_cpu_by_generation[generation] = max(self.longest_cpu_by_generation[generation], work)
            self.collected[generation] += info.get("collected", 0)

    def run(self) -> None:
        census_file = self.path.with_name("census.jsonl")
        with self.path.open("a") as out:
            while True:
                if self.census_wanted.wait(1.0):
                    # Here, not in the signal handler: a handler that ran while the loop's thread was inside a
                    # collection (a finalizer) would find gc.collect() a no-op and count garbage as alive.
                    self.census_wanted.clear()
                    self.census(census_file)
                    continue
                with self.lock:
                    line = {"t": time.monotonic(), "count": list(self.count), "total": self.total,
                            "collected": list(self.collected),
                            "longest": self.longest, "by_generation": list(self.longest_by_generation),
                            "total_cpu": self.total_cpu, "cpu_by_generation": list(self.longest_cpu_by_generation)}
                    self.longest = 0.0
                    self.longest_by_generation = [0.0, 0.0, 0.0]
                    self.longest_cpu_by_generation = [0.0, 0.0, 0.0]
                out.write(json.dumps(line) + "\n")
                out.flush()


def referrers_of(obj: Any, ignore: set[int], depth: int = 8) -> list[str]:
    """One chain of the objects holding ``obj`` (for ``CALL_PATH_REFERRERS``: where a kept object is kept)."""
    import types

    chain: list[str] = [f"{type(obj).__qualname__} {obj!r:.100}"]
    seen = {id(obj), id(chain), *ignore}
    current = obj
    for _ in range(depth):
        found = gc.get_referrers(current)
        seen.add(id(found))
        holders = [h for h in found if id(h) not in seen and not isinstance(h, types.FrameType)]
        seen.add(id(holders))
        if not holders:
            break
        holder = next((h for h in holders if not isinstance(h, (dict, list, tuple))), holders[0])
        chain.append(f"{type(holder).__module__}.{type(holder).__qualname__} {holder!r:.160} ({len(holders)})")
        if isinstance(holder, (types.ModuleType, type)):
            break
        seen.add(id(holder))
        current = holder
    return chain


def serve_voxcenter(gc_file: Path, argv: list[str]) -> int:
    """``voxcenter run`` itself (voxcenter.cli.main), with the collector's pauses written to ``gc_file``."""
    watch = GcWatch(gc_file)
    gc.callbacks.append(watch.callback)
    thresholds = os.environ.get("CALL_PATH_GC_THRESHOLD")  # e.g. "10000,50,100": try other collector settings
    if thresholds:
        gc.set_threshold(*(int(value) for value in thresholds.split(",")))
    threading.Thread(target=watch.run, daemon=True).start()
    signal.signal(signal.SIGUSR1, lambda *_: watch.census_wanted.set())
    from voxcenter.cli import main

    return main(argv)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def gc_between(gc_file: Path, start: float, end: float) -> dict[str, float]:
    """Collections and the longest pause between two monotonic times, from the server's GC lines."""
    lines = [json.loads(line) for line in gc_file.read_text().splitlines() if line.strip()] if gc_file.exists() else []
    before = [line for line in lines if line["t"] <= start]
    during = [line for line in lines if start < line["t"] <= end + 1.0]
    if not during:
        return {"collections": 0, "full": 0, "longest_ms": 0.0, "total_ms": 0.0, "longest_ms_by_generation": []}
    first = before[-1] if before else {"count": [0, 0, 0], "total": 0.0, "total_cpu": 0.0}
    last = during[-1]
    return {
        "collections": sum(last["count"]) - sum(first["count"]),
        "full": last["count"][2] - first["count"][2],
        "longest_ms": 1000 * max(line["longest"] for line in during),
        "total_ms": 1000 * (last["total"] - first["total"]),
        "collections_by_generation": [b - a for a, b in zip(first["count"], last["count"], strict=True)],
        "longest_ms_by_generation": [round(1000 * max(line["by_generation"][g] for line in during), 1)
                                     for g in range(3)],
        "cpu_total_ms": round(1000 * (last["total_cpu"] - first["total_cpu"]), 1),
        "cpu_longest_ms_by_generation": [round(1000 * max(line["cpu_by_generation"][g] for line in during), 1)
                                         for g in range(3)],
        "collected_by_generation": [b - a for a, b in zip(first.get("collected", [0, 0, 0]),
                                                          last.get("collected", [0, 0, 0]), strict=True)],
    }


# --------------------------------------------------------------------------------------------- the media peer


@dataclass(slots=True)
class Flow:
    """One direction of one call as received: consecutive-packet transit differences and counter span."""

    received: int = 0
    first: int = -1
    last: int = -1
    previous: int = -1
    previous_transit: float = 0.0

    def add(self, counter: int, transit: float, jitter: array.array[float]) -> None:
        self.received += 1
        if self.first < 0 or counter < self.first:
            self.first = counter
        if counter > self.last:
            self.last = counter
        if counter == self.previous + 1:
            jitter.append(abs(transit - self.previous_transit))
        self.previous, self.previous_transit = counter, transit

    @property
    def expected(self) -> int:
        return self.last - self.first + 1 if self.first >= 0 else 0


@dataclass(slots=True)
class Side:
    flows: dict[Any, Flow] = field(default_factory=dict)
    jitter: array.array[float] = field(default_factory=lambda: array.array("d"))
    transit: array.array[float] = field(default_factory=lambda: array.array("d"))

    def summary(self) -> dict[str, float]:
        received = sum(f.received for f in self.flows.values())
        expected = sum(f.expected for f in self.flows.values())
        jitter = sorted(self.jitter)
        transit = sorted(self.transit)
        return {
            "streams": len(self.flows), "received": received,
            "loss_pct": 100.0 * (expected - received) / expected if expected else 0.0,
            "jitter_mean_ms": 1000 * sum(jitter) / len(jitter) if jitter else float("nan"),
            "jitter_p95_ms": 1000 * percentile(jitter, 0.95) if jitter else float("nan"),
            "latency_p50_ms": 1000 * percentile(transit, 0.50) if transit else float("nan"),
            "latency_p99_ms": 1000 * percentile(transit, 0.99) if transit else float("nan"),
        }


class _Caller(asyncio.DatagramProtocol):
    """Every caller's RTP socket: hears voxcenter's legs, talks back to each one it hears (S4)."""

    def __init__(self, talk: bool) -> None:
        self.talk = talk
        self.echo = Side()
        """The agent's audio coming back (agent → voxcenter → caller)."""
        self.prompt = Side()
        """voxcenter's own audio (prompts, music): jitter against the RTP timestamps."""
        self.prompt_state: dict[Any, tuple[int, int, float, int]] = {}
        self.streams: dict[Any, list[Any]] = {}
        """voxcenter leg address → [stream id, counter, last heard, slot]."""
        self.transport: asyncio.DatagramTransport | None = None
        self.sent = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.monotonic()
        stream = self.streams.get(addr)
        if stream is None:
            stream = self.streams[addr] = [len(self.streams) + 1, 0, now, len(self.streams) % SLOTS]
        stream[2] = now
        if data[12:16] == MAGIC:
            _, _, counter, sent = STAMP.unpack_from(data, 12)
            flow = self.echo.flows.get(addr)
            if flow is None:
                flow = self.echo.flows[addr] = Flow()
            flow.add(counter, now - sent, self.echo.jitter)
            self.echo.transit.append(now - sent)
            return
        if len(data) < 12:
            return
        _, _, seq, ts, ssrc = RTP.unpack_from(data)
        key = (addr, ssrc)  # a port is used again by a later call, with another SSRC
        flow = self.prompt.flows.get(key)
        if flow is None:
            flow = self.prompt.flows[key] = Flow()
        previous = self.prompt_state.get(key)
        if previous is not None:
            step = (seq - previous[0]) & 0xFFFF
            if step > 0x8000:  # late or duplicate: counted, not followed
                flow.received += 1
                return
            extended = previous[3] + step
            if step == 1:
                elapsed = ((ts - previous[1]) & 0xFFFFFFFF) / 8000.0
                self.prompt.jitter.append(abs((now - previous[2]) - elapsed))
        else:
            extended = 0
        flow.received += 1
        if flow.first < 0:
            flow.first = extended
        flow.last = max(flow.last, extended)
        self.prompt_state[key] = (seq, ts, now, extended)

    def send_slot(self, slot: int, now: float) -> None:
        assert self.transport is not None
        for addr, stream in self.streams.items():
            if stream[3] != slot or now - stream[2] > 2.0:
                continue
            counter = stream[1]
            stream[1] = counter + 1
            header = RTP.pack(0x80, 0, counter & 0xFFFF, (counter * 160) & 0xFFFFFFFF, 0x10000 + stream[0])
            self.transport.sendto(header + STAMP.pack(MAGIC, stream[0], counter, time.monotonic()) + PAD, addr)
            self.sent += 1


PAD = b"\xff" * (160 - STAMP.size)


class _Agent(asyncio.DatagramProtocol):
    """Every agent phone's RTP socket: measures what arrives from the callers and echoes it (re-stamped)."""

    def __init__(self) -> None:
        self.heard = Side()
        self.counters: dict[Any, int] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.monotonic()
        if data[12:16] != MAGIC:
            return  # voxcenter's own audio to the agent (none in these scenarios)
        _, stream, counter, sent = STAMP.unpack_from(data, 12)
        flow = self.heard.flows.get(stream)
        if flow is None:
            flow = self.heard.flows[stream] = Flow()
        flow.add(counter, now - sent, self.heard.jitter)
        self.heard.transit.append(now - sent)
        echo = self.counters.get(addr, 0)
        self.counters[addr] = echo + 1
        assert self.transport is not None
        self.transport.sendto(data[:12] + STAMP.pack(MAGIC, stream, echo, time.monotonic()) + data[12 + STAMP.size:],
                              addr)


def media_peer(talk: bool) -> None:
    """Runs until stdin closes; prints the ports first and the measurements last (one JSON line each)."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def run() -> None:
        caller_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        agent_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock, host in ((caller_socket, CALLER_IP), (agent_socket, "127.0.0.1")):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
            sock.bind((host, 0))
        _, caller = await loop.create_datagram_endpoint(lambda: _Caller(talk), sock=caller_socket)
        _, agent = await loop.create_datagram_endpoint(_Agent, sock=agent_socket)
        print(json.dumps({"caller_port": caller_socket.getsockname()[1],
                          "agent_port": agent_socket.getsockname()[1]}), flush=True)
        done = loop.create_future()
        loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
        late: list[float] = []
        start = loop.time()
        slot_time = 0.020 / SLOTS

        def tick(j: int) -> None:
            due = start + j * slot_time
            late.append(loop.time() - due)
            if talk:
                caller.send_slot(j % SLOTS, time.monotonic())
            if not done.done():
                loop.call_at(start + (j + 1) * slot_time, tick, j + 1)

        loop.call_at(start, tick, 0)
        await done
        late.sort()
        print(json.dumps({"agent": agent.heard.summary(), "caller": caller.echo.summary(),
                          "prompt": caller.prompt.summary(), "sent": caller.sent,
                          "late_p99_ms": 1000 * percentile(late, 0.99) if late else 0.0}), flush=True)

    loop.run_until_complete(run())


# --------------------------------------------------------------------------------------------- driver


@dataclass(slots=True)
class Result:
    name: str
    rate: float
    attempted: int = 0
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    achieved: float = 0.0
    cpu_pct: float = 0.0
    cpu_ms_per_call: float = float("nan")
    rss_kib_per_call: float = float("nan")
    peak_calls: int = 0
    gc: dict[str, float] = field(default_factory=dict)
    media: dict[str, Any] = field(default_factory=dict)
    others_pct: float = 0.0
    drops: int = 0
    wall: float = 0.0
    recovery_s: float | None = None
    refused: int = 0
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    peers_pct: float = 0.0
    """CPU of SIPp and the media peer (% of a core)."""
    retained: dict[str, Any] = field(default_factory=dict)
    """Tracked objects alive after the step against before it (``--settle`` s after SIPp ended), in all and by type."""
    core_pct_per_call: float = float("nan")
    """S4: voxcenter's CPU time over the calls' total time up (call-seconds): % of a core per call in progress."""
    """Calls refused with 503 (overload control)."""

    @property
    def failed_pct(self) -> float:
        return 100.0 * self.failed / self.attempted if self.attempted else 100.0

    @property
    def clean(self) -> bool:
        return (self.attempted > 0 and self.failed_pct < 0.1 and self.retransmissions == 0 and self.p95_ms < 100
                and self.achieved >= 0.95 * self.rate)


def _stat_rows(path: Path) -> list[dict[str, str]]:
    import csv

    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [{k: v for k, v in row.items() if k} for row in csv.DictReader(handle, delimiter=";")]


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.two_cpus = (os.cpu_count() or 1) >= 2 and not args.no_pin
        self.server: subprocess.Popen[bytes] | None = None
        self.agents_sipp: subprocess.Popen[bytes] | None = None
        self.media: subprocess.Popen[str] | None = None
        self.gc_file = work / "gc.jsonl"
        self.sip_port = _free_udp_port()
        self.api_port = _free_tcp_port()
        self.token = secrets.token_urlsafe(16)
        self.agent_sip_port = _free_udp_port()

    def pin(self, pid: int, cpu: int) -> None:
        if self.two_cpus:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {cpu})

    # --- voxcenter ---------------------------------------------------------------------------------------------

    def start_server(self) -> None:
        args = self.args
        plan = dial_plan(self.work, sip_port=self.sip_port, rtp_base=args.rtp_base, api_port=self.api_port,
                         token=self.token, agents=args.agents, database=args.database, max_calls=args.max_calls,
                         max_loop_lag=args.max_loop_lag)
        log = (self.work / "voxcenter.log").open("wb")
        command = [sys.executable, __file__, "--serve-voxcenter", str(self.gc_file), "run", "--config", str(plan),
                   "--log-json", "--drain", "0s", "--node", "bench"]
        self.server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.work)
        self.pin(self.server.pid, 0)
        deadline = time.monotonic() + 60
        while b'"voxcenter.started"' not in (self.work / "voxcenter.log").read_bytes():
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"voxcenter did not start:\n{(self.work / 'voxcenter.log').read_text()[-3000:]}")
            time.sleep(0.1)

    def census(self) -> dict[str, Any]:
        """The server's tracked objects by type (its wrapper answers SIGUSR1 with a line in census.jsonl)."""
        assert self.server is not None
        path = self.gc_file.with_name("census.jsonl")
        count = len(path.read_text().splitlines()) if path.exists() else 0
        self.server.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = path.read_text().splitlines() if path.exists() else []
            if len(lines) > count:
                line: dict[str, Any] = json.loads(lines[-1])
                return line
            time.sleep(0.1)
        raise SystemExit("voxcenter did not answer the census signal")

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    # --- peers -------------------------------------------------------------------------------------------------

    def start_media(self, talk: bool) -> dict[str, int]:
        command = [sys.executable, __file__, "--media-peer"] + (["--talk"] if talk else [])
        self.media = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pin(self.media.pid, 1)
        assert self.media.stdout is not None
        ports: dict[str, int] = json.loads(self.media.stdout.readline())
        return ports

    def stop_media(self) -> dict[str, Any]:
        assert self.media is not None and self.media.stdin is not None and self.media.stdout is not None
        self.media.stdin.close()
        line = self.media.stdout.readline()
        self.media.wait(30)
        self.media = None
        return json.loads(line) if line.strip() else {}

    def start_agents(self, agent_media_port: int) -> None:
        """Register every agent's phone from one UDP port, then answer their calls on it (SIPp); log them in."""
        asyncio.run(register_agents(agent_ids(self.args.agents), self.agent_sip_port, self.sip_port))
        answer = self.work / "agent.xml"
        answer.write_text(scenario("agent answers", _AGENT_ANSWERS.format(media_host="127.0.0.1",
                                                                          media_port=agent_media_port)))
        self.agents_sipp = subprocess.Popen(
            [SIPP, "-sf", str(answer), "-t", "u1", "-i", "127.0.0.1", "-p", str(self.agent_sip_port), "-nostdin",
             "-aa", "-buff_size", "4194304", "-l", "2000"],
            cwd=self.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pin(self.agents_sipp.pid, 1)
        time.sleep(0.5)
        for agent in agent_ids(self.args.agents):
            request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}/api/agents/{agent}/login",
                                             method="POST", data=b"{}",
                                             headers={"Authorization": f"Bearer {self.token}",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()

    # --- one step ----------------------------------------------------------------------------------------------

    def step(self, name: str, service: str, rate: float, calls: int, hold: float | None,
             media_port: int) -> Result:
        workdir = self.work / f"{name}-{rate:g}-{time.monotonic_ns()}"
        workdir.mkdir()
        body = _CALLER_INVITE.format(media_host=CALLER_IP, media_port=media_port)
        body += _SERVER_HANGS_UP if hold is None else _CALLER_HANGS_UP.format(hold_ms=int(hold * 1000))
        body += '  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000" />\n'
        caller = workdir / "caller.xml"
        caller.write_text(scenario(name, body))
        stats = workdir / "stats.csv"
        command = [
            SIPP, f"127.0.0.1:{self.sip_port}", "-sf", str(caller), "-s", service, "-t", "u1", "-i", CALLER_IP,
            "-p", str(_free_udp_port(CALLER_IP)), "-m", str(calls), "-r", f"{rate:g}", "-rp", "1000",
            "-l", str(max(1000, int(rate * 3))), "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-recv_timeout", "10000", "-timeout",
            f"{int(calls / rate + (hold or 0) + 60)}s", "-timeout_error", "-buff_size", "4194304",
        ]
        assert self.server is not None
        pid = self.server.pid
        rss_before = rss_kib(pid)
        peak_rss = rss_before
        sipp_before = children_cpu_seconds()
        host_before = host_busy_seconds()
        drops_before = udp_receive_buffer_errors()
        cpu_before = process_cpu_seconds(pid)
        media_pid = self.media.pid if self.media is not None else None
        media_before = process_cpu_seconds(media_pid) if media_pid else 0.0
        census_before = self.census()
        started = time.monotonic()
        sipp = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pin(sipp.pid, 1)
        while sipp.poll() is None:
            time.sleep(0.25)
            peak_rss = max(peak_rss, rss_kib(pid))
        ended = time.monotonic()
        wall = ended - started
        cpu = process_cpu_seconds(pid) - cpu_before
        sipp_cpu = children_cpu_seconds() - sipp_before
        media_cpu = process_cpu_seconds(media_pid) - media_before if media_pid else 0.0
        others = host_busy_seconds() - host_before - cpu - sipp_cpu - media_cpu
        rows = _stat_rows(stats)
        if not rows:
            assert sipp.stderr is not None
            raise SystemExit(f"SIPp wrote no statistics: {sipp.stderr.read()[-500:]!r}")
        last = rows[-1]
        gc_figures = gc_between(self.gc_file, started, ended)
        time.sleep(2.0)
        census_lingering = self.census()  # the SIP transactions of the last 64·T1 still linger
        time.sleep(max(0.0, self.args.settle - 2.0))
        census_after = self.census() if self.args.settle > 2.0 else census_lingering
        rss_after = rss_kib(pid)

        def top(census: dict[str, Any]) -> dict[str, int]:
            grown = {name: n - census_before["by_type"].get(name, 0) for name, n in census["by_type"].items()}
            return dict(sorted(((name, n) for name, n in grown.items() if n > 0), key=lambda item: -item[1])[:8])

        def counter(key: str) -> int:
            return int(last.get(key) or 0)

        dates, times = read_rtt(workdir)
        times.sort()
        span = (max(dates) - min(dates)) / 1000.0 if len(dates) > 1 else 0.0
        peak_calls = max(int(row.get("CurrentCall") or 0) for row in rows)
        attempted = counter("OutgoingCall(C)")
        failures = [int(row.get("FailedCall(P)") or 0) for row in rows]
        refused = sum(text.count("SIP/2.0 503") for text in
                      (path.read_text(errors="replace") for path in workdir.glob("*_errors.log")))
        last_failure = max((index for index, value in enumerate(failures) if value), default=None)
        result = Result(
            name=name, rate=rate, attempted=attempted, successful=counter("SuccessfulCall(C)"),
            failed=counter("FailedCall(C)"), retransmissions=counter("Retransmissions(C)"),
            p50_ms=percentile(times, 0.5), p95_ms=percentile(times, 0.95),
            achieved=(len(dates) - 1) / span if span > 0 else 0.0,
            cpu_pct=100.0 * cpu / wall, cpu_ms_per_call=1000.0 * cpu / attempted if attempted else float("nan"),
            rss_kib_per_call=(peak_rss - rss_before) / max(1, peak_calls), peak_calls=peak_calls,
            gc=gc_figures, others_pct=max(0.0, 100.0 * others / wall),
            drops=udp_receive_buffer_errors() - drops_before, wall=wall,
            recovery_s=None if last_failure is None else float(last_failure + 1), refused=refused,
            peers_pct=100.0 * (sipp_cpu + media_cpu) / wall, rss_before_kib=rss_before, rss_peak_kib=peak_rss,
            core_pct_per_call=100.0 * cpu / (attempted * hold) if hold and attempted else float("nan"),
            retained={"objects": census_after["total"] - census_before["total"], "after_s": self.args.settle,
                      "before": census_before["total"], "top": top(census_after),
                      "lingering": census_lingering["total"] - census_before["total"],
                      "lingering_top": top(census_lingering), "rss_after_kib": rss_after,
                      "full_ms": census_lingering["full_ms"], "full_cpu_ms": census_lingering["full_cpu_ms"]},
        )
        return result

    # --- scenarios ---------------------------------------------------------------------------------------------

    def run(self) -> list[Result]:
        args = self.args
        results: list[Result] = []
        wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        ports = self.start_media(talk=False)
        self.start_server()
        print(f"voxcenter pid {self.server.pid if self.server else '?'} on udp:127.0.0.1:{self.sip_port}"
              f"{' (CPU 0; SIPp and the media peer on CPU 1)' if self.two_cpus else ''}; "
              f"database {args.database or 'SQLite'}; {args.agents} agents", flush=True)
        print(HEADER, flush=True)
        self.step("warm-up", "1", 50, 50, None, ports["caller_port"])
        self.stop_media()

        def s12(name: str, service: str, rates: str) -> None:
            for rate in [float(r) for r in rates.split(",") if r.strip()]:
                ports = self.start_media(talk=False)
                time.sleep(1.0)
                result = self.step(name, service, rate, int(rate * args.duration), None, ports["caller_port"])
                result.media = self.stop_media()
                results.append(result)
                print(describe(result), flush=True)
                time.sleep(2.0)

        if "s1" in wanted:
            s12("S1", "1", args.s1_rates)
        if "s2" in wanted:
            s12("S2", "2", args.s2_rates)
        if "overload" in wanted:
            base = float(args.s1_rates.split(",")[0])
            rate = args.overload_rate or 1.5 * base
            ports = self.start_media(talk=False)
            time.sleep(1.0)
            result = self.step("overload", "1", rate, int(rate * args.duration), None, ports["caller_port"])
            result.media = self.stop_media()
            results.append(result)
            print(describe(result), flush=True)
            ports = self.start_media(talk=False)
            after = self.step("after", "1", base, int(base * 15), None, ports["caller_port"])
            after.media = self.stop_media()
            results.append(after)
            print(describe(after), flush=True)
        if "s4" in wanted:
            ports = self.start_media(talk=True)
            self.start_agents(ports["agent_port"])
            time.sleep(2.0)
            calls = args.s4_calls
            rate = max(1.0, calls / args.s4_ramp)
            hold = 2.0 + 0.3 + args.s4_talk
            result = self.step("S4", "4", rate, calls, hold, ports["caller_port"])
            result.media = self.stop_media()
            results.append(result)
            print(describe(result), flush=True)
        return results

    def close(self) -> None:
        if self.media is not None:
            with contextlib.suppress(Exception):
                self.stop_media()
        if self.agents_sipp is not None and self.agents_sipp.poll() is None:
            self.agents_sipp.terminate()
            self.agents_sipp.wait(10)
        self.stop_server()


HEADER = (
    f"{'step':<9} {'rate':>5} {'calls':>6} {'fail%':>6} {'503s':>5} {'retr':>5} {'p50':>5} {'p95':>6} {'CPU%':>5} "
    f"{'ms/call':>7} {'peak':>5} {'KiB/call':>8} {'gc max':>6} {'full':>4} {'obj/call':>8} {'peers%':>5} "
    f"{'others%':>7} | "
    f"{'agent loss% jit mean/p95':>24} | {'caller loss% jit mean/p95':>25}"
)


def describe(r: Result) -> str:
    def rtp(side: dict[str, Any] | None) -> str:
        if not side or not side.get("received"):
            return f"{'-':>24}"
        return f"{side['loss_pct']:>9.3f} {side['jitter_mean_ms']:>6.2f}/{side['jitter_p95_ms']:>6.2f} ms"

    caller_side = r.media.get("caller") if r.media.get("caller", {}).get("received") else r.media.get("prompt")
    return (
        f"{r.name:<9} {r.rate:>5.0f} {r.attempted:>6} {r.failed_pct:>6.2f} {r.refused:>5} {r.retransmissions:>5} "
        f"{r.p50_ms:>5.0f} "
        f"{r.p95_ms:>6.0f} {r.cpu_pct:>5.0f} {r.cpu_ms_per_call:>7.2f} {r.peak_calls:>5} {r.rss_kib_per_call:>8.1f} "
        f"{r.gc.get('longest_ms', 0):>6.0f} {r.gc.get('full', 0):>4.0f} "
        f"{r.retained.get('lingering', 0) / max(1, r.attempted):>8.2f} {r.peers_pct:>5.0f} {r.others_pct:>7.0f} | "
        f"{rtp(r.media.get('agent'))} | {rtp(caller_side)}"
    )


def _free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-voxcenter":
        sys.exit(serve_voxcenter(Path(sys.argv[2]), sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="s1,s2,s4", help="any of s1, s2, s4, overload (comma-separated)")
    parser.add_argument("--s1-rates", default="300,500", help="S1 calls/s per step")
    parser.add_argument("--s2-rates", default="150,300", help="S2 calls/s per step")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per S1/S2/overload step")
    parser.add_argument("--overload-rate", type=float, help="calls/s of the overload step (default 1.5 × S1's first)")
    parser.add_argument("--s4-calls", type=int, default=300, help="S4 calls (all up together at the peak)")
    parser.add_argument("--s4-ramp", type=float, default=10.0, help="seconds over which the S4 calls arrive")
    parser.add_argument("--s4-talk", type=float, default=20.0, help="seconds of talk per S4 call")
    parser.add_argument("--agents", type=int, default=400, help="agents registered and logged in (S4)")
    parser.add_argument("--max-calls", type=int, default=2000, help="security.max_calls_in_progress of the plan")
    parser.add_argument("--max-loop-lag", metavar="DURATION",
                        help="security.max_loop_lag of the plan (50ms; null: never shed on lag; default: the plan's)")
    parser.add_argument("--database", metavar="URL", help="postgresql+asyncpg://... (default: SQLite in the work dir)")
    parser.add_argument("--rtp-base", type=int, default=40000, help="first RTP port of the plan (4000 ports)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin voxcenter to CPU 0 and the peers to CPU 1")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after each step before counting the objects it left (34: past RFC 6026's 64·T1)")
    parser.add_argument("--keep", metavar="DIR", help="keep the work files (plan, logs, SIPp files) in DIR")
    parser.add_argument("--media-peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--talk", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.media_peer:
        media_peer(args.talk)
        return
    if shutil.which(SIPP) is None:
        raise SystemExit("SIPp is needed (apt-get install sip-tester)")
    tmp = tempfile.TemporaryDirectory(prefix="call-path-")
    work = Path(args.keep) if args.keep else Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, work)
    try:
        results = bench.run()
    finally:
        bench.close()
        log = (work / "voxcenter.log").read_text(errors="replace") if (work / "voxcenter.log").exists() else ""
        problems = [line for line in log.splitlines() if '"level": "error"' in line or "Traceback" in line]
        print(f"voxcenter log: {len(problems)} error lines" + (f", last: {problems[-1][:300]}" if problems else ""))
        tmp.cleanup()
    for r in results:
        if r.media:
            print(f"{r.name} {r.rate:g}/s media: " + json.dumps(r.media))
        print(f"{r.name} {r.rate:g}/s garbage collector: " + json.dumps(r.gc))
        if r.retained and r.attempted:
            kept = r.retained
            print(f"{r.name} {r.rate:g}/s retained: {kept['lingering']} tracked objects more than before the step 2 s "
                  f"after it ({kept['lingering'] / r.attempted:.2f} per call; {kept['before']} before); most: "
                  + json.dumps(kept["lingering_top"]))
            if kept["after_s"] > 2.0:
                print(f"{r.name} {r.rate:g}/s retained: {kept['objects']} {kept['after_s']:g} s after it "
                      f"({kept['objects'] / r.attempted:.2f} per call); most: " + json.dumps(kept["top"]))
            freed = r.gc.get("collected_by_generation", [0, 0, 0])
            print(f"{r.name} {r.rate:g}/s reference cycles freed by the collector during the step: "
                  f"{sum(freed)} objects ({sum(freed) / r.attempted:.1f} per call; by generation {freed}), longest "
                  f"full collection {r.gc.get('longest_ms_by_generation', [0, 0, 0])[2]:.0f} ms "
                  f"({r.gc.get('cpu_longest_ms_by_generation', [0, 0, 0])[2]:.0f} ms CPU); a full collection 2 s "
                  f"after the step: {kept['full_ms']:.1f} ms ({kept['full_cpu_ms']:.1f} ms CPU)")
            print(f"{r.name} {r.rate:g}/s RSS: {r.rss_before_kib / 1024:.1f} MiB before, {r.rss_peak_kib / 1024:.1f} "
                  f"peak, {kept['rss_after_kib'] / 1024:.1f} {kept['after_s']:g} s after")
        if r.name == "S4":
            late = r.media.get("late_p99_ms", 0.0)
            print(f"S4: {r.core_pct_per_call:.3f} % of a core per call in progress (voxcenter CPU over call-seconds: "
                  f"{100 / r.core_pct_per_call:.0f} calls per core); media peer late p99 {late:.1f} ms"
                  if r.core_pct_per_call == r.core_pct_per_call and r.core_pct_per_call > 0 else "S4: no calls")
        if r.name in ("overload", "after"):
            accepted = r.attempted - r.failed
            print(f"{r.name}: {accepted} calls accepted, {r.refused} refused with 503, setup p95 {r.p95_ms:.0f} ms "
                  f"(accepted calls); RSS {r.rss_before_kib / 1024:.0f} MiB before, "
                  f"{r.rss_peak_kib / 1024:.0f} MiB peak")
        if r.name == "after":
            print("after the overload: " + ("no call refused" if r.recovery_s is None else
                                            f"calls still refused during the first {r.recovery_s:.0f} s"))
    for name in ("S1", "S2"):
        clean = [r for r in results if r.name == name and r.clean]
        if clean:
            best = max(clean, key=lambda r: r.rate)
            print(f"{name} clean rate: {best.rate:g} CPS (p95 {best.p95_ms:.0f} ms, {best.cpu_ms_per_call:.2f} ms CPU "
                  f"per call, {best.cpu_pct:.0f} % of a core)")
        elif any(r.name == name for r in results):
            print(f"{name} clean rate: none of the steps (< 0.1 % failed, no retransmission, p95 < 100 ms)")


if __name__ == "__main__":
    main()
