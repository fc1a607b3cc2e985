"""One call leg's media as the call logic uses it: SDP, prompts, music on hold, digits.

Wraps an :class:`~voxcenter.media.session.RtpSession` with the things every leg
needs: the SDP offer/answer that opened it, one playback at a time (a prompt
list or a music loop), and one stream of digits whatever way the phone sends
them (RFC 4733, in-band tones when no telephone-event was negotiated, SIP
INFO).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np
import structlog

from voxcenter.media.codecs import Codec, codec_by_name
from voxcenter.media.dtmf import DigitStream, DtmfReceived
from voxcenter.media.opus import OpusWire
from voxcenter.media.player import MediaClock, Player, PlayOutcome
from voxcenter.media.ports import PortLease, PortPool
from voxcenter.media.prompts import PromptError, PromptLibrary
from voxcenter.media.rtp import RtpPacket
from voxcenter.media.session import MediaTimedOut, RtpSession
from voxcenter.media.srtp import SrtpContext, new_sdes_key
from voxcenter.media.webrtc import IceCredentials, WebRtcMedia, local_fingerprint
from voxcenter.sip.media_keys import IceDtls, Sdes
from voxcenter.sip.offer_answer import DEFAULT_CODECS, PLAIN, WEBRTC_CODECS, Security
from voxcenter.sip.offer_answer import Codec as SdpCodec
from voxcenter.sip.sdp import (
    Direction,
    NegotiatedMedia,
    SessionDescription,
    accept_answer,
    answer_offer,
    create_offer,
    parse_sdp,
)

logger = structlog.get_logger(__name__)


class MediaSetupError(Exception):
    """The leg's media could not be set up (no common codec, no free port); ``status`` is the SIP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def media_security(transport: str) -> str | None:
    """How a leg whose signalling came over ``transport`` may encrypt its media: "sdes" (SRTP keyed in the
    SDP: only over TLS, where the keys are not in the clear), "webrtc" (ICE-lite and DTLS-SRTP, for browsers on
    SIP over WebSocket), or None (plain RTP)."""
    return {"tls": "sdes", "ws": "webrtc", "wss": "webrtc"}.get(transport.lower())


class LegMedia:
    """Media of one leg: create with :meth:`answer` (inbound offer) or :meth:`offer` (outbound)."""

    def __init__(self, session: RtpSession, prompts: PromptLibrary, clock: MediaClock,
                 security: Security = PLAIN) -> None:
        self.session = session
        self.security = security
        """What our SDP offers or accepts to encrypt the stream with (our SDES key)."""
        self.remote_sdes: Sdes | None = None
        """The peer's SDES key in use."""
        self.webrtc: WebRtcMedia | None = None
        """ICE-lite and DTLS-SRTP on the RTP port, for a browser's leg."""
        if security.ice_dtls is not None:
            ice_dtls = security.ice_dtls
            self.webrtc = WebRtcMedia(session, IceCredentials(ice_dtls.ufrag, ice_dtls.pwd), ice_dtls.fingerprint)
        self.prompts = prompts
        self.clock = clock
        self.local_sdp: SessionDescription | None = None
        self.sdp_host = session.local_address[0]
        """The address our SDP advertises (the external one behind NAT)."""
        self.inactivity_timeout: float | None = None
        self.digits = DigitStream(inband=session.telephone_event_pt is None)
        self.on_digit: Callable[[DtmfReceived], None] | None = None
        """Called for every digit, once per press, whatever its source."""
        self.on_timeout: Callable[[MediaTimedOut], None] | None = None
        self.on_audio: Callable[[bytes], None] | None = None
        """Called with each audio payload the peer sends (voicemail recording)."""
        self.on_heard: Callable[[RtpPacket], None] | None = None
        """Called with each audio packet the peer sends while no bridge carries it (the call's recording)."""
        self.held = False
        """The phone put this leg on hold: its last offer lets us send nothing (RFC 3264 §8.4)."""
        self._player: Player | None = None
        self._inband = session.telephone_event_pt is None
        session.on_dtmf = self._digit_from_rtp
        session.on_packet = self._packet
        session.on_timeout = self._timed_out

    # --- creation ---------------------------------------------------------------------------------------------------

    @classmethod
    async def answer(
        cls, offer_body: bytes, pool: PortPool, host: str, prompts: PromptLibrary, clock: MediaClock,
        *, inactivity_timeout: float | None, advertised_host: str | None = None, secure: str | None = None,
        open_sockets: bool = True,
    ) -> tuple[LegMedia, bytes]:
        """Answer an SDP offer: returns the leg and our SDP answer (RFC 3264).

        ``secure`` (:func:`media_security`) says which SRTP offers may be taken besides plain RTP.
        ``open_sockets=False``: the answer names a reserved port pair, but nothing is bound until
        ``leg.session.start()`` (a call the IVR hangs up at once never needs a socket)."""
        security = _security(secure)
        try:
            offer = parse_sdp(offer_body)
        except Exception as error:
            status = getattr(error, "status_hint", None) or 488
            raise MediaSetupError(status, str(error)) from error
        try:
            lease = pool.reserve(host)
        except Exception as error:  # port pool exhausted
            raise MediaSetupError(503, f"no media port: {error}") from error
        try:
            try:
                answer, negotiated = answer_offer(offer, advertised_host or host, lease.port, _codecs(security),
                                                  security=security)
            except Exception as error:
                status = getattr(error, "status_hint", None) or 488
                raise MediaSetupError(status, str(error)) from error
            session = await cls._open(negotiated, pool, host, inactivity_timeout, lease, start=False)
        except BaseException:
            lease.release()
            raise
        if open_sockets:
            try:
                await session.start()
            except OSError:
                # Another process holds the reserved pair: take one the pool can bind, and answer with it.
                session.close()
                session = await cls._open(negotiated, pool, host, inactivity_timeout, None, start=True)
                answer, negotiated = answer_offer(offer, advertised_host or host, session.local_address[1],
                                                  _codecs(security), security=security)
        leg = cls(session, prompts, clock, security)
        leg._secure(negotiated)
        _set_wire(session, negotiated)
        leg.local_sdp = answer
        leg.sdp_host = advertised_host or host
        leg.inactivity_timeout = inactivity_timeout
        return leg, answer.encode()

    @classmethod
    async def offer(
        cls, pool: PortPool, host: str, prompts: PromptLibrary, clock: MediaClock, *,
        inactivity_timeout: float | None, advertised_host: str | None = None, secure: str | None = None,
    ) -> tuple[LegMedia, bytes]:
        """Open a leg for an outbound call: returns the leg and our SDP offer; call :meth:`accept` on answer.

        ``secure`` (:func:`media_security`) makes the offer SRTP only: an SRTP phone is never offered plain
        RTP, and an answer without keys is refused."""
        codec = _codec("PCMU")
        security = _security(secure)
        session = await RtpSession.open(pool, host, codec, None, telephone_event_pt=101,
                                        inactivity_timeout=inactivity_timeout)
        session.encrypted = security != PLAIN
        offer = create_offer(advertised_host or host, session.local_address[1], _codecs(security), security=security)
        leg = cls(session, prompts, clock, security)
        leg.local_sdp = offer
        leg.sdp_host = advertised_host or host
        leg.inactivity_timeout = inactivity_timeout
        return leg, offer.encode()

    def answer_reoffer(self, offer_body: bytes) -> bytes | None:
        """Answer a re-INVITE/UPDATE offer (hold, resume, new address or codec); None when unacceptable (488).

        A peer that will send nothing (we are ``sendonly`` or ``inactive``), or that holds the call (many
        phones fall silent on hold even when they offer ``sendonly`` or ``c=0.0.0.0``), must not be hung up
        for silence: the inactivity timer waits until media flows again.
        """
        try:
            offer = parse_sdp(offer_body)
            answer, negotiated = answer_offer(offer, self.sdp_host, self.session.local_address[1],
                                              _codecs(self.security), previous=self.local_sdp,
                                              security=self.security)
        except Exception as error:
            logger.info("media.reoffer_refused", reason=str(error))
            return None
        self._apply(negotiated)
        self.local_sdp = answer
        self.held = not negotiated.direction.sends
        silent_peer = self.held or negotiated.direction in (Direction.SENDONLY, Direction.INACTIVE)
        self.session.set_inactivity_timeout(None if silent_peer else self.inactivity_timeout)
        return answer.encode()

    def accept(self, answer_body: bytes) -> None:
        """Apply the far end's SDP answer to our offer (codec, address, telephone-event, SRTP keys)."""
        assert self.local_sdp is not None
        negotiated = accept_answer(self.local_sdp, parse_sdp(answer_body))
        self._apply(negotiated)

    @staticmethod
    async def _open(negotiated: NegotiatedMedia, pool: PortPool, host: str, inactivity_timeout: float | None,
                    lease: PortLease | None, *, start: bool) -> RtpSession:
        remote = (negotiated.remote_address, negotiated.remote_port) if negotiated.remote_port else None
        remote_rtcp = (
            (negotiated.remote_rtcp_address or negotiated.remote_address, negotiated.remote_rtcp_port)
            if negotiated.remote_rtcp_port else None
        )
        try:
            return await RtpSession.open(
                pool, host, _codec(negotiated.codec), remote,
                telephone_event_pt=negotiated.telephone_event_payload_type,
                rtcp_mux=negotiated.rtcp_mux, remote_rtcp=remote_rtcp, inactivity_timeout=inactivity_timeout,
                lease=lease, start=start,
            )
        except Exception as error:  # port pool exhausted, bind failure
            raise MediaSetupError(503, f"no media port: {error}") from error

    def _secure(self, negotiated: NegotiatedMedia) -> None:
        """Key the stream as negotiated: SDES now; plain RTP when the peer chose it (only in an answer)."""
        session = self.session
        session.encrypted = negotiated.sdes is not None or negotiated.ice_dtls is not None
        self.remote_sdes = negotiated.sdes
        ours = self.security.sdes
        if negotiated.sdes is not None and ours is not None:
            session.srtp = SrtpContext.from_sdes(negotiated.sdes.suite, ours.key, negotiated.sdes.key)
        if negotiated.ice_dtls is not None and self.webrtc is not None:
            self.webrtc.set_remote(negotiated.ice_dtls.ufrag, negotiated.ice_dtls.fingerprint)

    def _apply(self, negotiated: NegotiatedMedia) -> None:
        if negotiated.sdes != self.remote_sdes:
            self._secure(negotiated)
        session = self.session
        session.codec = _codec(negotiated.codec)
        session.telephone_event_pt = negotiated.telephone_event_payload_type
        _set_wire(session, negotiated)
        remote = (negotiated.remote_address, negotiated.remote_port) if negotiated.remote_port else None
        session.update_remote(remote)
        if self.webrtc is not None:
            if negotiated.ice_dtls is not None and negotiated.ice_dtls.ufrag != self.webrtc.remote_ufrag:
                self.webrtc.set_remote(negotiated.ice_dtls.ufrag, negotiated.ice_dtls.fingerprint)
            if self.webrtc.remote is not None:
                session.lock_remote(self.webrtc.remote)  # ICE chose the path, not the c= line
        self._inband = negotiated.telephone_event_payload_type is None
        self.digits = DigitStream(inband=self._inband)

    # --- playback ---------------------------------------------------------------------------------------------------

    async def load(self, names: Sequence[str], language: str) -> list[list[bytes]]:
        """The 20 ms frames of each prompt; a prompt that cannot be read is logged and skipped, never fatal."""
        frames: list[list[bytes]] = []
        for name in names:
            try:
                prompt = self.prompts.cached(language, name) or await self.prompts.load_async(language, name)
            except PromptError as error:
                logger.warning("media.prompt_unreadable", prompt=name, language=language, reason=error.reason)
                continue
            frames.append(prompt.frames(self.session.codec))
        return frames

    async def play(self, names: Sequence[str], language: str, *, loop: bool = False) -> Player:
        """Start playing (stopping whatever played before); await ``player.wait()`` for the outcome."""
        self.stop()
        frames = await self.load(names, language)
        player = Player(self.session, frames, self.clock, loop_forever=loop)
        self._player = player
        player.start()
        return player

    def play_frames(self, frames: list[list[bytes]], *, loop: bool = False) -> Player:
        """Play ready-made payloads (a generated tone, music loaded beforehand)."""
        self.stop()
        player = Player(self.session, frames, self.clock, loop_forever=loop)
        self._player = player
        player.start()
        return player

    async def play_to_end(self, names: Sequence[str], language: str) -> PlayOutcome:
        player = await self.play(names, language)
        return await player.wait()

    def stop(self) -> None:
        """Stop the current playback at once (barge-in, an agent answered, the caller hung up)."""
        if self._player is not None:
            self._player.stop()
            self._player = None

    @property
    def playing(self) -> bool:
        return self._player is not None and self._player.outcome is None

    # --- digits -----------------------------------------------------------------------------------------------------

    def info_received(self, content_type: str, body: bytes) -> None:
        now = asyncio.get_running_loop().time()
        if self.digits.receive_info(content_type, body, now):
            self._deliver()

    def _digit_from_rtp(self, event: DtmfReceived) -> None:
        self.digits.push(event)
        self._deliver()

    def _packet(self, packet: RtpPacket) -> None:
        if packet.payload_type == self.session.codec.payload_type and self.on_heard is not None:
            self.on_heard(packet)
        if packet.payload_type == self.session.codec.payload_type and self.on_audio is not None:
            self.on_audio(packet.payload)
        if self._inband and packet.payload_type == self.session.codec.payload_type:
            self.digits.receive_audio(self.session.codec.decode(packet.payload), self.session.now())
            self._deliver()

    def _deliver(self) -> None:
        while (event := self.digits.next_digit()) is not None:
            if self.on_digit is not None:
                self.on_digit(event)

    def _timed_out(self, event: MediaTimedOut) -> None:
        if self.on_timeout is not None:
            self.on_timeout(event)

    def close(self, reason: str = "") -> None:
        self.stop()
        if self.webrtc is not None:
            self.webrtc.close()
        self.session.close(reason)
        # Nothing arrives on a closed leg: the call's handlers (which hold the call, which holds this leg) go.
        self.on_digit = self.on_timeout = self.on_audio = self.on_heard = None


def tone_frames(codec: Codec, frequency: float, seconds: float, level: float = 0.3) -> list[bytes]:
    """A sine tone as 20 ms payloads (confirmation beeps, the voicemail beep): no prompt file needed."""
    samples = np.arange(int(seconds * codec.clock_rate))
    wave = (np.sin(2 * np.pi * frequency * samples / codec.clock_rate) * level * 32767).astype(np.int16)
    step = codec.clock_rate // 50
    return [codec.encode(wave[i : i + step]) for i in range(0, len(wave) - step + 1, step)]


def _security(secure: str | None) -> Security:
    if secure == "sdes":
        return Security(sdes=Sdes(1, "AES_CM_128_HMAC_SHA1_80", new_sdes_key()))
    if secure == "webrtc":
        ice = IceCredentials.new()
        return Security(ice_dtls=IceDtls(ice.ufrag, ice.pwd, local_fingerprint()))
    return PLAIN


def _codecs(security: Security) -> tuple[SdpCodec, ...]:
    """What a leg offers or accepts, in order of preference: Opus first toward a browser."""
    return WEBRTC_CODECS if security.ice_dtls is not None else DEFAULT_CODECS


def _set_wire(session: RtpSession, negotiated: NegotiatedMedia) -> None:
    """Opus on the wire (the leg stays PCMU inside); none for G.711."""
    if negotiated.codec.lower() != "opus":
        session.wire = None
        return
    wire = session.wire
    te = negotiated.telephone_event_payload_type
    if not isinstance(wire, OpusWire) or (wire.payload_type, wire.telephone_event_pt) != (negotiated.payload_type, te):
        session.wire = OpusWire(negotiated.payload_type, te)


def _codec(name: str) -> Codec:
    """The leg's own codec for a negotiated one (Opus legs are PCMU inside, see ``_set_wire``)."""
    codec = codec_by_name("PCMU" if name.lower() == "opus" else name)
    if codec is None:
        raise MediaSetupError(488, f"codec {name} is not supported")
    return codec
