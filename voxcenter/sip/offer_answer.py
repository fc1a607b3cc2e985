"""RFC 3264 offer/answer over the SDP model of :mod:`voxcenter.sip.sdp`: one audio stream, negotiated.

``answer_offer``, ``create_offer`` and ``accept_answer`` produce ``NegotiatedMedia``,
everything the RTP layer needs. An offer voxcenter understands but cannot accept
raises ``RemoteProtocolError(status_hint=488)`` (Not Acceptable Here).
:mod:`voxcenter.sip.sdp` re-exports everything public here.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.media_keys import IceDtls, Sdes, remote_ice_dtls, usable_crypto
from voxcenter.sip.sdp import (
    _DTMF_EVENTS,
    DEFAULT_PTIME,
    DTLS_PROFILES,
    RTP_PROFILES,
    SDES_PROFILES,
    TELEPHONE_EVENT,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
    _bad,
    _milliseconds,
    _not_acceptable,
)
from voxcenter.sip.sdp_checks import check_description


@dataclass(frozen=True, slots=True)
class Codec:
    """An audio format we can send and receive, matched by name, clock rate and channels."""

    name: str
    """Encoding name ("PCMU"); compared case-insensitively."""
    clock_rate: int = 8000
    """RTP clock rate in Hz."""
    channels: int = 1
    """Audio channels."""
    static_payload_type: int | None = None
    """RFC 3551 static payload type, None for formats that need a dynamic one."""


PCMU = Codec("PCMU", 8000, 1, 0)
PCMA = Codec("PCMA", 8000, 1, 8)
G722 = Codec("G722", 8000, 1, 9)
OPUS = Codec("opus", 48000, 2)
"""RFC 7587: always written opus/48000/2; offered to browsers only (WebRTC requires it)."""
DEFAULT_CODECS: tuple[Codec, ...] = (PCMU, PCMA)
WEBRTC_CODECS: tuple[Codec, ...] = (OPUS, PCMU, PCMA)


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of offer/answer for the one audio stream: what the RTP session is set up with."""

    media_index: int
    """Index of the m= section carrying the audio stream."""
    remote_address: str
    """Where to send RTP (from c=); "0.0.0.0" for an RFC 2543 hold, in which case ``direction`` does not send."""
    remote_port: int
    """Where to send RTP."""
    remote_rtcp_address: str
    """Where to send RTCP (a=rtcp address, else the RTP address)."""
    remote_rtcp_port: int
    """Where to send RTCP: the RTP port with rtcp-mux, else a=rtcp, else RTP port + 1 (RFC 3550 §11)."""
    rtcp_mux: bool
    """RTP and RTCP share a port in both directions (RFC 5761)."""
    codec: str
    """Encoding name of the voice codec, as the peer wrote it."""
    payload_type: int
    """Payload type number to send and expect for the voice codec."""
    clock_rate: int
    """RTP clock rate of the voice codec in Hz."""
    channels: int
    """Audio channels of the voice codec."""
    telephone_event_payload_type: int | None
    """Payload type of RFC 4733 telephone-events, None when the peer does not support them."""
    ptime: int
    """Packetization time to send with, in milliseconds."""
    direction: Direction
    """Our direction: SENDONLY means we send and must not expect media, and so on."""
    sdes: Sdes | None = None
    """The peer's SRTP key (RFC 4568) when the stream is SDES-SRTP; ours is the one we offered or answered."""
    ice_dtls: IceDtls | None = None
    """The peer's ICE credentials and DTLS fingerprint when the stream is WebRTC (DTLS-SRTP)."""


@dataclass(frozen=True, slots=True)
class Security:
    """What our side can encrypt a stream with, for ``answer_offer`` and ``create_offer``.

    ``sdes`` is our own key: given only when the signalling is encrypted (its suite is replaced by the one the
    offer chose). ``ice_dtls`` is our ICE-lite credentials and certificate fingerprint (WebRTC). With neither,
    only plain RTP is answered or offered."""

    sdes: Sdes | None = None
    ice_dtls: IceDtls | None = None


PLAIN = Security()


def _usable_profile(proto: str, security: Security) -> bool:
    if proto in RTP_PROFILES:
        return True
    if proto in SDES_PROFILES:
        return security.sdes is not None
    return proto in DTLS_PROFILES and security.ice_dtls is not None


def _rejected(media: MediaDescription) -> MediaDescription:
    """A declined stream in an answer: same media and proto, port 0, formats kept (RFC 3264 §6)."""
    return MediaDescription(media.media, 0, media.proto, media.formats)


def _addr_type(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"  # a host name


def _event_range(offered_fmtp: str | None) -> str:
    """The DTMF events both sides handle, as an RFC 4733 §7.1.1 event list (default 0-15)."""
    if not offered_fmtp:
        return "0-15"
    offered: set[int] = set()
    for item in offered_fmtp.replace(" ", "").split(","):
        low, _, high = item.partition("-")
        if low.isdigit() and (not high or high.isdigit()) and len(item) < 12:
            offered.update(range(int(low), int(high or low) + 1))
    events = [e for e in _DTMF_EVENTS if e in offered] or list(_DTMF_EVENTS)
    runs: list[str] = []
    start = previous = events[0]
    for event in [*events[1:], -2]:
        if event != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = event
        previous = event
    return ",".join(runs)


def _with_origin(
    body: SessionDescription, previous: SessionDescription | None, session_id: int | None, address: str
) -> SessionDescription:
    """Fill in o= by RFC 3264 §8: same id, version + 1 only when the description changed."""
    if previous is None:
        sid = str(session_id if session_id is not None else secrets.randbelow(2**62) + 1)
        return replace(body, origin=Origin("-", sid, 1, address, _addr_type(address)))
    unchanged = replace(body, origin=previous.origin)
    if unchanged == previous:
        return previous
    origin = replace(
        previous.origin,
        session_version=previous.origin.session_version + 1,
        address=address,
        addr_type=_addr_type(address),
    )
    return replace(body, origin=origin)


def _ptime(offer: SessionDescription, media: MediaDescription, default: int) -> int:
    ptime = media.ptime or _milliseconds(offer.attribute("ptime"), "ptime") or default
    maxptime = media.maxptime
    return min(ptime, maxptime) if maxptime else ptime


def _rtcp_target(media: MediaDescription, address: str, mux: bool) -> tuple[str, int]:
    if mux:
        return address, media.port
    rtcp = media.rtcp
    if rtcp is None:
        return address, media.port + 1
    return rtcp[1].split("/", 1)[0] if rtcp[1] else address, rtcp[0]


def answer_offer(
    offer: SessionDescription,
    local_address: str,
    local_port: int,
    supported_codecs: Sequence[Codec] = DEFAULT_CODECS,
    *,
    previous: SessionDescription | None = None,
    session_id: int | None = None,
    direction: Direction = Direction.SENDRECV,
    telephone_event: bool = True,
    rtcp_mux: bool = True,
    default_ptime: int = DEFAULT_PTIME,
    security: Security = PLAIN,
) -> tuple[SessionDescription, NegotiatedMedia]:
    """Answer ``offer`` (RFC 3264 §6): accept the first audio stream we can, decline every other m= line.

    The voice codec is the first of ``supported_codecs`` (our order of preference)
    that the offer lists, answered with the offerer's payload type number;
    telephone-event is kept with the offerer's number. ``previous`` is the last
    description we sent in this dialog, for the o= line rules of §8.
    Raises RemoteProtocolError(488) when no audio stream can be accepted, and 400 or 488 for an offer that
    cannot be right (:func:`~voxcenter.sip.sdp_checks.check_description`).
    """
    if not supported_codecs:
        raise LocalProtocolError("answer_offer needs at least one supported codec")
    check_description(offer)
    answer_media: list[MediaDescription] = []
    negotiated: NegotiatedMedia | None = None
    offered_names: list[str] = []
    for index, media in enumerate(offer.media):
        if negotiated is not None or media.media != "audio" or media.port == 0 or not _usable_profile(
                media.proto, security):
            answer_media.append(_rejected(media))
            continue
        keys: list[Attribute] = []
        their_sdes: Sdes | None = None
        their_dtls: IceDtls | None = None
        if media.proto in SDES_PROFILES:
            offered_keys = usable_crypto(media)
            if not offered_keys or security.sdes is None:
                answer_media.append(_rejected(media))
                continue
            their_sdes = offered_keys[0]
            keys.append(Sdes(their_sdes.tag, their_sdes.suite, security.sdes.key).attribute())
        elif media.proto in DTLS_PROFILES:
            their_dtls = remote_ice_dtls(offer, media)
            if their_dtls is None or their_dtls.setup not in ("actpass", "active") or security.ice_dtls is None:
                answer_media.append(_rejected(media))
                continue
            ours_dtls = IceDtls(security.ice_dtls.ufrag, security.ice_dtls.pwd, security.ice_dtls.fingerprint,
                                "passive")
            keys.extend(ours_dtls.attributes(local_address, local_port))
            mid = media.attribute("mid")
            if mid is not None:
                keys.append(Attribute("mid", mid))
        rtpmaps = media.rtpmaps()
        offered_names.extend(f"{r.encoding}/{r.clock_rate}" for r in rtpmaps.values())
        voice = next(
            (
                rtpmaps[pt]
                for codec in supported_codecs
                for pt in media.payload_types
                if pt in rtpmaps and rtpmaps[pt].same_format(codec.name, codec.clock_rate, codec.channels)
            ),
            None,
        )
        connection = offer.connection_for(media)
        if voice is None or connection is None:
            if voice is not None:
                raise _bad(f"m= line {index + 1} has no c= line")
            answer_media.append(_rejected(media))
            continue
        event = None
        if telephone_event:
            event = next(
                (r for r in rtpmaps.values() if r.same_format(TELEPHONE_EVENT, voice.clock_rate, 1)), None
            )
        ptime = _ptime(offer, media, default_ptime)
        mux = (rtcp_mux or their_dtls is not None) and media.rtcp_mux
        if their_dtls is not None and not mux:
            answer_media.append(_rejected(media))  # WebRTC multiplexes RTCP, and our DTLS runs on one port
            continue
        ours = offer.direction_for(media).reversed().limit(direction)
        attributes = [Attribute("rtpmap", f"{voice.payload_type} {voice.encoding}/{voice.clock_rate}"
                                + (f"/{voice.channels}" if voice.channels != 1 else ""))]
        formats = [str(voice.payload_type)]
        if event is not None:
            formats.append(str(event.payload_type))
            attributes.append(Attribute("rtpmap", f"{event.payload_type} {event.encoding}/{event.clock_rate}"))
            attributes.append(Attribute("fmtp", f"{event.payload_type} {_event_range(media.fmtp(event.payload_type))}"))
        attributes.append(Attribute("ptime", str(ptime)))
        if mux:
            attributes.append(Attribute("rtcp-mux"))
        attributes.append(Attribute(ours.value))
        attributes.extend(keys)
        answer_media.append(
            MediaDescription("audio", local_port, media.proto, tuple(formats), attributes=tuple(attributes))
        )
        rtcp_address, rtcp_port = _rtcp_target(media, connection.host, mux)
        negotiated = NegotiatedMedia(
            index, connection.host, media.port, rtcp_address, rtcp_port, mux, voice.encoding, voice.payload_type,
            voice.clock_rate, voice.channels, event.payload_type if event else None, ptime, ours, their_sdes,
            their_dtls,
        )
    if negotiated is None:
        if offered_names:
            wanted = ", ".join(f"{c.name}/{c.clock_rate}" for c in supported_codecs)
            raise _not_acceptable(f"no common codec: offered {', '.join(offered_names)}; we support {wanted}")
        raise _not_acceptable("no RTP/AVP audio stream offered" if security == PLAIN
                              else "no audio stream offered that we can take (plain, or with keys we support)")
    body = SessionDescription(
        origin=offer.origin,
        session_name="voxcenter",
        connection=Connection(local_address, _addr_type(local_address)),
        times=tuple(t for t in offer.times if t.startswith("t=")) or ("t=0 0",),
        attributes=(Attribute("ice-lite"),) if negotiated.ice_dtls is not None else (),
        media=tuple(answer_media),
    )
    return _with_origin(body, previous, session_id, local_address), negotiated


def create_offer(
    local_address: str,
    local_port: int,
    codecs: Sequence[Codec] = DEFAULT_CODECS,
    *,
    previous: SessionDescription | None = None,
    session_id: int | None = None,
    direction: Direction = Direction.SENDRECV,
    telephone_event_payload_type: int | None = 101,
    ptime: int = DEFAULT_PTIME,
    rtcp_mux: bool = False,
    security: Security = PLAIN,
) -> SessionDescription:
    """An offer with one audio stream (RFC 3264 §5); pass ``previous`` for a re-offer (hold, unhold, §8).

    With ``security.ice_dtls`` the stream is WebRTC's (UDP/TLS/RTP/SAVPF, ICE-lite, rtcp-mux); else with
    ``security.sdes`` it is RTP/SAVP with our key in ``a=crypto``; else plain RTP/AVP."""
    if not codecs:
        raise LocalProtocolError("create_offer needs at least one codec")
    formats: list[str] = []
    attributes: list[Attribute] = []
    used = {c.static_payload_type for c in codecs} | {telephone_event_payload_type}
    dynamic = (pt for pt in range(96, 128) if pt not in used)
    for codec in codecs:
        pt = codec.static_payload_type if codec.static_payload_type is not None else next(dynamic, None)
        if pt is None:
            raise LocalProtocolError("more codecs than dynamic payload types")
        formats.append(str(pt))
        channels = f"/{codec.channels}" if codec.channels != 1 else ""
        attributes.append(Attribute("rtpmap", f"{pt} {codec.name}/{codec.clock_rate}{channels}"))
    if telephone_event_payload_type is not None:
        formats.append(str(telephone_event_payload_type))
        attributes.append(Attribute("rtpmap", f"{telephone_event_payload_type} {TELEPHONE_EVENT}/8000"))
        attributes.append(Attribute("fmtp", f"{telephone_event_payload_type} 0-15"))
    attributes.append(Attribute("ptime", str(ptime)))
    proto = "RTP/AVP"
    if security.ice_dtls is not None:
        proto, rtcp_mux = "UDP/TLS/RTP/SAVPF", True
    elif security.sdes is not None:
        proto = "RTP/SAVP"
    if rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    attributes.append(Attribute(direction.value))
    if security.ice_dtls is not None:
        attributes.extend(security.ice_dtls.attributes(local_address, local_port))
        attributes.append(Attribute("mid", "0"))
    elif security.sdes is not None:
        attributes.append(security.sdes.attribute())
    media = MediaDescription("audio", local_port, proto, tuple(formats), attributes=tuple(attributes))
    body = SessionDescription(
        origin=Origin("-", "0", 0, local_address),
        session_name="voxcenter",
        connection=Connection(local_address, _addr_type(local_address)),
        attributes=(Attribute("ice-lite"),) if security.ice_dtls is not None else (),
        media=(media,),
    )
    return _with_origin(body, previous, session_id, local_address)


def accept_answer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Check the answer to our ``offer`` and say how to send (RFC 3264 §6, §7).

    We send with the answer's payload type numbers. Raises RemoteProtocolError
    (488) when the answer breaks §6 or accepts no audio stream we offered.
    """
    check_description(answer)
    if len(answer.media) != len(offer.media):
        raise _not_acceptable(f"answer has {len(answer.media)} m= lines, the offer had {len(offer.media)}")
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        if ours.media != theirs.media:
            raise _not_acceptable(f"m= line {index + 1} is {theirs.media!r} in the answer, {ours.media!r} in the offer")
        if ours.media != "audio" or ours.port == 0 or theirs.port == 0:
            continue
        if theirs.proto != ours.proto and not {theirs.proto, ours.proto} <= RTP_PROFILES:
            raise _not_acceptable(f"answer m= line {index + 1} is {theirs.proto}, we offered {ours.proto}")
        their_sdes: Sdes | None = None
        their_dtls: IceDtls | None = None
        if ours.proto in SDES_PROFILES:
            offered_tags = {a.value.split()[0]: a.value.split()[1] for a in ours.attributes
                            if a.name == "crypto" and a.value and len(a.value.split()) > 1}
            their_sdes = next((c for c in usable_crypto(theirs) if offered_tags.get(str(c.tag)) == c.suite), None)
            if their_sdes is None:
                raise _not_acceptable(f"answer m= line {index + 1} has no a=crypto for a suite we offered")
        elif ours.proto in DTLS_PROFILES:
            their_dtls = remote_ice_dtls(answer, theirs)
            if their_dtls is None or their_dtls.setup != "active":
                raise _not_acceptable(f"answer m= line {index + 1} lacks ICE credentials, a SHA-256 fingerprint "
                                      "or a=setup:active")
        elif theirs.proto not in RTP_PROFILES:
            continue
        offered = list(ours.rtpmaps().values())
        rtpmaps = theirs.rtpmaps()
        chosen = (rtpmaps[pt] for pt in theirs.payload_types if pt in rtpmaps)
        voice = next(
            (
                r
                for r in chosen
                if r.encoding.lower() != TELEPHONE_EVENT
                and any(o.same_format(r.encoding, r.clock_rate, r.channels) for o in offered)
            ),
            None,
        )
        if voice is None:
            raise _not_acceptable(f"answer accepted m= line {index + 1} with no codec from our offer")
        connection = answer.connection_for(theirs)
        if connection is None:
            raise _bad(f"answer m= line {index + 1} has no c= line")
        event = None
        if any(o.encoding.lower() == TELEPHONE_EVENT for o in offered):
            event = next((r for r in rtpmaps.values() if r.same_format(TELEPHONE_EVENT, voice.clock_rate, 1)), None)
        mux = ours.rtcp_mux and theirs.rtcp_mux
        if their_dtls is not None and not mux:
            raise _not_acceptable(f"answer m= line {index + 1} does not multiplex RTCP (a=rtcp-mux)")
        rtcp_address, rtcp_port = _rtcp_target(theirs, connection.host, mux)
        direction = offer.direction_for(ours).limit(answer.direction_for(theirs).reversed())
        return NegotiatedMedia(
            index, connection.host, theirs.port, rtcp_address, rtcp_port, mux, voice.encoding, voice.payload_type,
            voice.clock_rate, voice.channels, event.payload_type if event else None,
            _ptime(answer, theirs, ours.ptime or DEFAULT_PTIME), direction, their_sdes, their_dtls,
        )
    raise _not_acceptable("answer accepted no audio stream")
