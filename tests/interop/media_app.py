"""A small real call application for the media integration tests: the SIP endpoint and the media engine together.

What a dialed number (the Request-URI user part) does:

``digits``
    answer (SDP answer from ``answer_offer``, an RtpSession from the PortPool) and report every digit the caller
    sends, whatever carries it (RFC 4733 telephone-events, in-band tones, SIP INFO), through one DigitStream,
    until the caller hangs up;
``ivr``
    the same, while playing the prompt ``MediaApp.prompt`` through the Player (a digit stops it);
``agent-<aor>``
    answer, ring the phone registered as ``<aor>`` (``endpoint.invite`` to its binding, offer from
    ``create_offer``), bridge the two legs with the Bridge and record both in stereo with the CallRecorder
    (caller left, agent right) until either side hangs up.

``play_to(aor)`` calls a registered phone and plays it the prompt. Every call leaves a :class:`CallReport` in
``MediaApp.reports`` when it is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import rtp_base_for_test
from tests.interop.apps import running_endpoint
from voxcenter.media.bridge import Bridge
from voxcenter.media.codecs import Codec, codec_by_name
from voxcenter.media.dtmf import DigitStream, DtmfReceived
from voxcenter.media.player import MediaClock, Player, PlayOutcome
from voxcenter.media.ports import PortPool
from voxcenter.media.prompts import PromptLibrary
from voxcenter.media.recorder import CallRecorder, RecordingInfo
from voxcenter.media.rtp import RtpPacket
from voxcenter.media.session import MediaTimedOut, RtpSession
from voxcenter.sip import sdp
from voxcenter.sip.endpoint import RequestFailed, SipEndpoint
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request
from voxcenter.sip.session import SessionEnded, SipSession
from voxcenter.sip.transport import Address

HOST = "127.0.0.1"
SDP_CODECS = (sdp.PCMU, sdp.PCMA)
"""What the application accepts, in order of preference."""


@dataclass(slots=True)
class CallReport:
    """What happened in one call, for the tests to check."""

    call_id: str
    """SIP Call-ID of the (first) leg."""
    service: str
    """The dialed service ("digits", "ivr", "agent-1002") or "play" for an outbound prompt call."""
    digits: str = ""
    """Every digit reported, in order."""
    digit_sources: list[str] = field(default_factory=list)
    """Which source reported each digit ("rfc4733", "inband", "info")."""
    frames_played: int = 0
    """Prompt frames the Player sent."""
    frames_dropped: int = 0
    """Prompt frames the Player skipped because the loop was late (sent + dropped = the prompt's frames)."""
    prompt_outcome: PlayOutcome | None = None
    """How the prompt ended: FINISHED, or INTERRUPTED by a digit or a hang-up; None when none was played."""
    relayed: tuple[int, int] = (0, 0)
    """Packets the Bridge relayed caller→agent and agent→caller."""
    recording: RecordingInfo | None = None
    """The stereo recording of a bridged call."""
    ended: SessionEnded | None = None
    """How the (first) leg ended."""
    error: str | None = None
    """Why the call failed, when it did."""


class MediaLeg:
    """One call leg: its SIP session and its RTP session."""

    def __init__(self, session: SipSession, rtp: RtpSession, negotiated: sdp.NegotiatedMedia) -> None:
        self.session = session
        self.rtp = rtp
        self.negotiated = negotiated

    def close(self) -> None:
        self.rtp.close()


class MediaApp:
    """The application (see the module docstring); ``running_media_app`` starts it on an endpoint."""

    def __init__(self, prompts: PromptLibrary, recordings: Path, pool: PortPool, *,
                 prompt: tuple[str, str] = ("en", "tone")) -> None:
        self.prompts = prompts
        self.recordings = recordings
        self.pool = pool
        self.prompt = prompt
        """(language, name) of the prompt ``ivr`` and ``play_to`` play."""
        self.clock = MediaClock()
        self.reports: asyncio.Queue[CallReport] = asyncio.Queue()
        self.digits: asyncio.Queue[tuple[str, DtmfReceived]] = asyncio.Queue()
        """(call_id, digit) as each digit is reported."""
        self._endpoint: SipEndpoint | None = None

    @property
    def endpoint(self) -> SipEndpoint:
        if self._endpoint is None:
            raise RuntimeError("MediaApp is not attached to a running endpoint")
        return self._endpoint

    # ---------------------------------------------------------------------------------------------- inbound

    async def __call__(self, session: SipSession) -> None:
        service = session.called
        report = CallReport(session.call_id, service)
        try:
            if service in ("digits", "ivr"):
                await self._collect_digits(session, report, play=service == "ivr")
            elif service.startswith("agent-"):
                await self._bridge_to_agent(session, service.removeprefix("agent-"), report)
            else:
                session.reject(404, "No Such Service")
                report.error = f"unknown service {service!r}"
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            report.ended = session.ended.result() if session.ended.done() else None
            self.reports.put_nowait(report)

    async def answer(self, session: SipSession) -> MediaLeg | None:
        """Answer with an SDP answer (RFC 3264 §6) for an RtpSession from the pool; None (call rejected) if we can't."""
        try:
            offer = sdp.parse_sdp(session.remote_sdp or b"")
            # First pass: which codec and where to send; the port comes from the RtpSession opened with them.
            _, negotiated = sdp.answer_offer(offer, HOST, 9, SDP_CODECS)
        except RemoteProtocolError as exc:
            session.reject(exc.status_hint or 488)
            return None
        rtp = await self._open_rtp(negotiated)
        body, _ = sdp.answer_offer(offer, HOST, rtp.local_address[1], SDP_CODECS)
        session.answer(body.encode())
        return MediaLeg(session, rtp, negotiated)

    async def _open_rtp(self, negotiated: sdp.NegotiatedMedia) -> RtpSession:
        codec = _media_codec(negotiated.codec)
        remote = None if negotiated.remote_address == "0.0.0.0" else (negotiated.remote_address, negotiated.remote_port)
        return await RtpSession.open(
            self.pool, HOST, codec, remote, telephone_event_pt=negotiated.telephone_event_payload_type,
            rtcp_mux=negotiated.rtcp_mux, remote_rtcp=(negotiated.remote_rtcp_address, negotiated.remote_rtcp_port),
        )

    async def _collect_digits(self, session: SipSession, report: CallReport, *, play: bool) -> None:
        leg = await self.answer(session)
        if leg is None:
            return
        rtp = leg.rtp
        stream = DigitStream()
        player: Player | None = None

        def drain() -> None:
            while (event := stream.next_digit()) is not None:
                report.digits += event.digit
                report.digit_sources.append(event.source)
                self.digits.put_nowait((session.call_id, event))
                if player is not None:
                    player.stop()  # barge-in

        def on_packet(packet: RtpPacket) -> None:
            if packet.payload_type == rtp.codec.payload_type:
                stream.receive_audio(rtp.codec.decode(packet.payload), rtp.now())
                drain()

        def on_dtmf(event: DtmfReceived) -> None:
            stream.push(event)
            drain()

        def on_info(request: Request) -> None:
            stream.receive_info(request.headers.get("Content-Type") or "", request.body, rtp.now())
            drain()

        rtp.on_packet, rtp.on_dtmf, session.on_info = on_packet, on_dtmf, on_info
        rtp.on_timeout = self._media_timeout_handler(session)
        try:
            await session.confirmed.wait()
            if play and not session.is_ended:
                prompt = await self.prompts.load_async(*self.prompt)
                player = Player(rtp, [prompt.frames(rtp.codec)], self.clock)
                player.start()
            await session.ended
        finally:
            if player is not None:
                player.stop()
                _note_playback(report, player)
            leg.close()

    # ---------------------------------------------------------------------------------------------- outbound

    async def call_agent(self, aor: str, *, ring_timeout: float = 10.0) -> MediaLeg:
        """Ring the phone registered as ``aor`` with an offer for a fresh RtpSession; the answered leg.

        Raises RequestFailed (not registered → 480, busy, no answer ...) or RemoteProtocolError (bad answer SDP).
        """
        bindings = self.endpoint.registrar.lookup(aor)
        if not bindings:
            raise RequestFailed(480, f"{aor} is not registered")
        binding = bindings[0]
        destination = Address(binding.source.transport, binding.source.host, binding.source.port)
        rtp = await RtpSession.open(self.pool, HOST, _media_codec("PCMU"), None, telephone_event_pt=101)
        try:
            offer = sdp.create_offer(HOST, rtp.local_address[1], (sdp.PCMU,), telephone_event_payload_type=101)
            session = await self.endpoint.invite(binding.contact.uri, destination, offer.encode(),
                                                 from_user="voxcenter", ring_timeout=ring_timeout)
            try:
                negotiated = sdp.accept_answer(offer, sdp.parse_sdp(session.remote_sdp or b""))
            except RemoteProtocolError:
                await session.hangup("bad answer SDP")
                raise
        except BaseException:
            rtp.close()
            raise
        rtp.update_remote((negotiated.remote_address, negotiated.remote_port),
                          (negotiated.remote_rtcp_address, negotiated.remote_rtcp_port))
        rtp.telephone_event_pt = negotiated.telephone_event_payload_type
        return MediaLeg(session, rtp, negotiated)

    async def play_to(self, aor: str, *, after: float = 0.3) -> CallReport:
        """Call ``aor``, play it the prompt, wait ``after`` seconds, hang up; the call's report."""
        leg = await self.call_agent(aor)
        report = CallReport(leg.session.call_id, "play")
        try:
            prompt = await self.prompts.load_async(*self.prompt)
            player = Player(leg.rtp, [prompt.frames(leg.rtp.codec)], self.clock)
            player.start()
            ended: asyncio.Future[SessionEnded] = asyncio.ensure_future(leg.session.ended)
            finished: asyncio.Future[PlayOutcome] = asyncio.ensure_future(player.wait())
            waiters: list[asyncio.Future[Any]] = [ended, finished]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finished.cancel()
            player.stop()
            _note_playback(report, player)
            if not ended.done():
                await asyncio.sleep(after)
            await leg.session.hangup()
            report.ended = leg.session.ended.result()
        finally:
            leg.close()
        self.reports.put_nowait(report)
        return report

    async def _bridge_to_agent(self, session: SipSession, aor: str, report: CallReport) -> None:
        caller = await self.answer(session)
        if caller is None:
            return
        agent: MediaLeg | None = None
        recorder: CallRecorder | None = None
        bridge: Bridge | None = None
        try:
            await session.confirmed.wait()
            if session.is_ended:
                return
            try:
                agent = await self.call_agent(aor)
            except (RequestFailed, RemoteProtocolError) as exc:
                report.error = f"agent {aor}: {exc}"
                await session.hangup("agent unavailable")
                return
            loop = asyncio.get_running_loop()
            recorder = CallRecorder(self.recordings / f"{session.call_id}.wav", loop.time(), clock=loop.time)
            bridge = Bridge(caller.rtp, agent.rtp)
            bridge.add_tap(recorder.write)
            bridge.start()
            caller.rtp.on_timeout = self._media_timeout_handler(caller.session)
            agent.rtp.on_timeout = self._media_timeout_handler(agent.session)
            await asyncio.wait([asyncio.ensure_future(session.ended), asyncio.ensure_future(agent.session.ended)],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            if bridge is not None:
                bridge.stop()
                report.relayed = bridge.relayed
            for ending in (caller, agent):
                if ending is not None:
                    await ending.session.hangup("other party hung up")
                    ending.close()
            if recorder is not None:
                report.recording = await recorder.close_async()

    # ---------------------------------------------------------------------------------------------- internals

    def _media_timeout_handler(self, session: SipSession) -> Callable[[MediaTimedOut], None]:
        def on_timeout(_: MediaTimedOut) -> None:
            self._hang_up_later(session, "media timeout")

        return on_timeout

    def _hang_up_later(self, session: SipSession, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(session.hangup(reason))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


def _note_playback(report: CallReport, player: Player) -> None:
    report.frames_played = player.frames_sent
    report.frames_dropped = player.frames_dropped
    report.prompt_outcome = player.outcome


def _media_codec(name: str) -> Codec:
    codec = codec_by_name(name)
    if codec is None:
        raise RemoteProtocolError(f"negotiated codec {name} has no media implementation", status_hint=488)
    return codec


@asynccontextmanager
async def running_media_app(
    workdir: Path, prompts: PromptLibrary, *, trusted: tuple[str, ...] = ("127.0.0.0/8",),
    prompt: tuple[str, str] = ("en", "tone"), rtp_ports: tuple[int, int] | None = None,
    auth_algorithms: tuple[str, ...] = ("MD5", "SHA-256"),
) -> AsyncIterator[MediaApp]:
    """The media app on an endpoint listening on a free UDP port of 127.0.0.1 (``app.endpoint``)."""
    recordings = workdir / "recordings"
    if rtp_ports is None:  # the test servers' ports (see rtp_base_for_test)
        base = rtp_base_for_test()
        rtp_ports = (base, base + 999)
    app = MediaApp(prompts, recordings, PortPool(*rtp_ports), prompt=prompt)
    async with running_endpoint(app, transports=("udp",), trusted=trusted,
                                auth_algorithms=auth_algorithms) as endpoint:
        app._endpoint = endpoint
        yield app
