"""Peers for the queue tests: a dial plan with short timers, SIPp callers whose media a test socket carries.

A caller is two halves. SIPp does the signalling from the carrier's address
(127.0.0.2, a trusted trunk): INVITE, ACK, then either the server's BYE or,
after ``hold`` seconds, its own. The SDP it offers names a UDP socket of the
test (:class:`CallerMedia`) instead of SIPp's own media port, so the test
hears every RTP packet voxcenter sends the caller (announcements, music, the
voicemail beep), can speak (a tone) and press keys (RFC 4733 events), all with
exact payloads: a prompt is recognised by its G.711 frames, byte for byte.
"""

from __future__ import annotations

import asyncio
import secrets
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.e2e.harness import (
    CARRIER_IP,
    caller_scenario,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    voiced_frames,
)
from tests.interop.audio import tone
from tests.interop.sipp import SippResult, free_port, run_sipp
from voxcenter.media.codecs import PCMU
from voxcenter.media.dtmf import Rfc4733Sender
from voxcenter.media.rtp import build_rtp, parse_rtp
from voxcenter.runtime.server import Server
from voxcenter.store.types import from_iso_text

TELEPHONE_EVENT = 101
FRAME = 0.020
SILENCE = PCMU.encode(np.zeros(160, dtype=np.int16))


DEFAULT_CALLBACK = "{enabled: true, offer_after: 1s, key: '1'}"
"""The ``callbacks`` queue's ``callback`` setting unless a test gives its own."""


def queue_dial_plan(tmp: Path, *, sip_port: int, rtp_base: int, far_end: str | None = None,
                    callback: str = DEFAULT_CALLBACK) -> Path:
    """Queues with short ring timeouts, wrap-ups and announcement intervals; ``far_end``: the trunk's proxy;
    ``callback``: the ``callbacks`` queue's callback settings (YAML flow mapping)."""
    trunks = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n"
    if far_end is not None:
        trunks += f"    outbound:\n      proxy: sip:{far_end}\n      options_interval: null\n"
        trunks += "routes:\n  callbacks:\n    patterns: ['0[0-9]{9}']\n    trunk: carrier\n    allow: {ivr: true}\n"
    body = trunks + textwrap.dedent("""\
        numbers:
          '300': {node: support}
          '301': {node: vip}
          '302': {node: standard}
          '303': {node: billing}
          '304': {node: sales}
          '305': {node: callbacks}
          '306': {node: after-hours}
        ivr:
          support: {type: queue, queue: support}
          vip: {type: queue, queue: priority, priority: 10}
          standard: {type: queue, queue: priority, priority: 0}
          billing: {type: queue, queue: skills, required_skills: {billing: 2}}
          sales: {type: queue, queue: sales}
          callbacks: {type: queue, queue: callbacks}
          after-hours: {type: queue, queue: messages}
        queues:
          support:
            strategy: longest-wait
            ring_timeout: 5s
            retry_delay: 1s
            wrap_up: 2s
            join_when: always
            leave_when: never
            announcements: {music_on_hold: moh, position_every: 6s}  # longer than one announcement
          priority:
            strategy: priority
            ring_timeout: 5s
            wrap_up: 1s
            join_when: always
            leave_when: never
          skills:
            strategy: skills
            ring_timeout: 5s
            wrap_up: 1s
            join_when: always
            leave_when: never
          sales:
            strategy: longest-wait
            ring_timeout: 2s
            retry_delay: 1s
            wrap_up: 1s
            auto_pause_after: 1
            join_when: always
            leave_when: never
          callbacks:
            ring_timeout: 5s
            wrap_up: 1s
            join_when: always
            leave_when: never
            callback: CALLBACK_SETTINGS
          messages:
            join_when: always
            leave_when: never
            max_wait: 2s
            overflow: {timeout: {voicemail: '500'}}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [support, priority, skills, callbacks],
                   skills: {tech: 4}}
          '1002': {name: Bob, password: pw-1002, queues: [skills, messages], skills: {billing: 3}}
          '1003': {name: Carol, password: pw-1003, queues: [sales]}
          '1004': {name: Dave, password: pw-1004, queues: [sales]}
        """)
    path = tmp / "voxcenter.yaml"
    body = body.replace("CALLBACK_SETTINGS", callback)
    path.write_text(plan_sections(tmp, body, sip_port=sip_port, rtp_base=rtp_base))
    return path


@asynccontextmanager
async def queue_server(tmp: Path, *, far_end: str | None = None,
                       callback: str = DEFAULT_CALLBACK) -> AsyncIterator[Server]:
    """A Server on the queue suite's dial plan."""
    async with served(queue_dial_plan(tmp, sip_port=free_port(), rtp_base=rtp_base_for_test(),
                                      far_end=far_end, callback=callback)) as server:
        yield server


# --- what a caller hears -------------------------------------------------------------------------------------------

def describe(heard: list[bytes], names: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """What the caller heard as runs of (prompt, first index, frames): for assertion messages."""
    owner = {frame: name for name in names for frame in voiced_frames(name)}
    runs: list[tuple[str, int, int]] = []
    for index, frame in enumerate(heard):
        name = owner.get(frame, "?")
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((name, index, 1))
    return runs


class CallerMedia(asyncio.DatagramProtocol):
    """The caller's RTP socket on the carrier address: records what arrives, sends a 20 ms PCMU stream back.

    It speaks only once voxcenter has sent something (that tells it where to send: voxcenter's port is in
    the SDP answer SIPp received, not here); until then nothing is lost, voxcenter plays first.
    """

    def __init__(self) -> None:
        self.heard: list[bytes] = []
        """PCMU payloads received, in arrival order."""
        self.peer: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self._voice: list[bytes] = []
        self._sender: asyncio.Task[None] | None = None
        self._pressing = False

    async def __aenter__(self) -> CallerMedia:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(CARRIER_IP, 0))
        self._sender = loop.create_task(self._send_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sender is not None:
            self._sender.cancel()
        if self.transport is not None:
            self.transport.close()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        packet = parse_rtp(data)
        if packet is None:
            return
        self.peer = addr
        if packet.payload_type == PCMU.payload_type:
            self.heard.append(bytes(packet.payload))

    def speak(self, frequency: float, seconds: float) -> None:
        """Send a tone for ``seconds`` (then silence again)."""
        samples = tone(frequency, seconds)
        encoded = PCMU.encode(samples)
        self._voice = [encoded[i:i + 160] for i in range(0, len(encoded) - 159, 160)]

    async def press(self, digit: str) -> None:
        """One key press as RFC 4733 telephone-events (the audio pauses meanwhile, as phones do)."""
        assert self.transport is not None and self.peer is not None, "voxcenter has not sent any audio yet"
        sender = Rfc4733Sender()
        self._pressing = True
        try:
            started = asyncio.get_running_loop().time()
            for packet in sender.packets(digit, 0.12, self.timestamp):
                delay = started + packet.send_at - asyncio.get_running_loop().time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.sequence = (self.sequence + 1) & 0xFFFF
                self.transport.sendto(build_rtp(TELEPHONE_EVENT, packet.marker, self.sequence, packet.timestamp,
                                                self.ssrc, packet.payload), self.peer)
            self.timestamp = sender.next_audio_timestamp(0.12, self.timestamp)
        finally:
            self._pressing = False

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += FRAME
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - next_at > 0.5:
                next_at = loop.time()  # the machine stalled: carry on rather than burst
            if self.peer is None or self._pressing or self.transport is None:
                continue
            payload = self._voice.pop(0) if self._voice else SILENCE
            self.sequence = (self.sequence + 1) & 0xFFFF
            self.transport.sendto(build_rtp(PCMU.payload_type, False, self.sequence, self.timestamp, self.ssrc,
                                            payload), self.peer)
            self.timestamp = (self.timestamp + 160) & 0xFFFFFFFF


# --- SIPp for the signalling -----------------------------------------------------------------------------------------

@dataclass
class Caller:
    """One SIPp caller (signalling) with its :class:`CallerMedia` (audio), running in the background."""

    name: str
    media: CallerMedia
    task: asyncio.Task[SippResult]

    async def finished(self, timeout: float = 60.0) -> SippResult:
        """SIPp's verdict once the call is over (the server's BYE, or the caller's after ``hold``)."""
        return await asyncio.wait_for(asyncio.shield(self.task), timeout)


@asynccontextmanager
async def calling(server: Server, workdir: Path, service: str, *, name: str, number: str = "0123456789",
                  hold: float = 50.0) -> AsyncIterator[Caller]:
    """A caller from the carrier dialing ``service``; hangs up by itself after ``hold`` seconds if nobody did."""
    address = server.endpoint.address("udp")
    async with CallerMedia() as media:
        scenario = workdir / f"caller-{name}.xml"
        scenario.write_text(caller_scenario(from_user=number, hangs_up="either", after=hold,
                                            media=(CARRIER_IP, media.port)))
        # SIPp opens a media socket of its own even when the SDP names ours: give it a free port.
        extra = ["-mi", CARRIER_IP, "-mp", str(free_port() & ~1)]
        task = asyncio.get_running_loop().create_task(run_sipp(
            str(scenario), f"{address.host}:{address.port}", workdir, service=service, local_ip=CARRIER_IP,
            extra=extra, timeout=hold + 10,
        ))
        caller = Caller(name, media, task)
        try:
            yield caller
        finally:
            if not task.done():
                await asyncio.wait([task], timeout=hold + 30)


# --- the database --------------------------------------------------------------------------------------------------

def timeline(db: Path, call_id: str) -> list[tuple[str, float, object, object, object]]:
    """(event, at (POSIX seconds), agent, value, data) of one call, in order."""
    return [(str(e), from_iso_text(at), agent, value, data) for e, at, agent, value, data in query(
        db, "select event, at, agent, value, data from call_events where call_id=? order by at, rowid", call_id)]


def call_of(db: Path, from_number: str) -> str:
    """The call id of the (only) call from ``from_number``."""
    [(call_id,)] = query(db, "select call_id from calls where from_number=?", from_number)
    return str(call_id)
