"""SDP parse/build and RFC 3264 offer/answer, against offers as real phones send them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.sdp import (
    G722,
    PCMA,
    PCMU,
    Attribute,
    Codec,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
    accept_answer,
    answer_offer,
    create_offer,
    parse_sdp,
)


def sdp(text: str) -> str:
    """Offer text written readably here, CRLF on the wire."""
    return "".join(line.strip() + "\r\n" for line in text.strip().splitlines())


BARESIP = sdp("""
    v=0
    o=- 1190476398 3457892345 IN IP4 192.168.1.23
    s=-
    c=IN IP4 192.168.1.23
    t=0 0
    m=audio 10372 RTP/AVP 96 0 8 101
    b=AS:64
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 stereo=1;sprop-stereo=1
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
    a=label:1
    a=ssrc:1468291283 cname:0dd1c3f2-7d0b-4a6b
    a=rtcp-rsize
""")

LINPHONE = sdp("""
    v=0
    o=agent1 3214 1587 IN IP4 192.168.1.50
    s=Talk
    c=IN IP4 192.168.1.50
    t=0 0
    a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
    a=record:off
    m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 useinbandfec=1
    a=rtpmap:97 SILK/16000
    a=rtpmap:98 speex/16000
    a=fmtp:98 vbr=on
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=yes
    a=rtpmap:101 telephone-event/48000
    a=rtpmap:99 telephone-event/16000
    a=rtpmap:100 telephone-event/8000
    a=rtcp:7079
    a=rtcp-fb:* trr-int 1000
    a=rtcp-fb:* ccm tmmbr
    m=video 9078 RTP/AVP 96
    a=rtpmap:96 VP8/90000
    a=rtcp-fb:* ccm fir
""")

ZOIPER = sdp("""
    v=0
    o=Z 1700000000000 1 IN IP4 10.0.0.7
    s=Z
    c=IN IP4 10.0.0.7
    t=0 0
    m=audio 8000 RTP/AVP 106 9 98 101 0 8 3
    a=rtpmap:106 opus/48000/2
    a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1
    a=rtpmap:98 telephone-event/48000
    a=fmtp:98 0-16
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=sendrecv
    a=rtcp-mux
""")

CISCO = sdp("""
    v=0
    o=Cisco-SIPUA 17289 0 IN IP4 192.168.1.110
    s=SIP Call
    t=0 0
    m=audio 29486 RTP/AVP 0 8 18 101
    c=IN IP4 192.168.1.110
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=sendrecv
""")

POLYCOM = sdp("""
    v=0
    o=- 1700000001 1700000001 IN IP4 172.16.0.20
    s=Polycom IP Phone
    c=IN IP4 172.16.0.20
    t=0 0
    a=sendrecv
    m=audio 2222 RTP/AVP 9 102 0 8 18 127
    a=rtpmap:9 G722/8000
    a=rtpmap:102 G7221/16000
    a=fmtp:102 bitrate=32000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=rtpmap:127 telephone-event/8000
""")

SIPP = sdp("""
    v=0
    o=user1 53655765 2353687637 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 6000 RTP/AVP 0
    a=rtpmap:0 PCMU/8000
""")

PHONES = {"baresip": BARESIP, "linphone": LINPHONE, "zoiper": ZOIPER, "cisco": CISCO, "polycom": POLYCOM,
          "sipp": SIPP}


@pytest.mark.parametrize("name", PHONES)
def test_real_offers_round_trip_byte_for_byte(name: str) -> None:
    text = PHONES[name]
    parsed = parse_sdp(text.encode())
    assert str(parsed) == text
    assert parse_sdp(parsed.encode()) == parsed


@pytest.mark.parametrize(
    ("name", "address", "port", "rtcp_port", "mux", "codec", "pt", "event_pt"),
    [
        ("baresip", "192.168.1.23", 10372, 10373, False, "PCMU", 0, 101),
        ("linphone", "192.168.1.50", 7078, 7079, False, "PCMU", 0, 100),
        ("zoiper", "10.0.0.7", 8000, 8000, True, "PCMU", 0, 101),
        ("cisco", "192.168.1.110", 29486, 29487, False, "PCMU", 0, 101),
        ("polycom", "172.16.0.20", 2222, 2223, False, "PCMU", 0, 127),
        ("sipp", "127.0.0.1", 6000, 6001, False, "PCMU", 0, None),
    ],
)
def test_answering_real_phones(
    name: str, address: str, port: int, rtcp_port: int, mux: bool, codec: str, pt: int, event_pt: int | None
) -> None:
    offer = parse_sdp(PHONES[name])
    answer, media = answer_offer(offer, "203.0.113.5", 40000, (PCMU, PCMA), session_id=42)
    assert (media.remote_address, media.remote_port, media.remote_rtcp_port, media.rtcp_mux) == (
        address, port, rtcp_port, mux)
    assert (media.codec, media.payload_type, media.clock_rate) == (codec, pt, 8000)
    assert media.telephone_event_payload_type == event_pt
    assert media.direction is Direction.SENDRECV and media.ptime == 20
    # The answer has one m= line per offered one, in order (RFC 3264 §6).
    assert [m.media for m in answer.media] == [m.media for m in offer.media]
    audio = answer.media[0]
    assert audio.port == 40000 and audio.proto == "RTP/AVP"
    assert audio.payload_types == ((pt, event_pt) if event_pt is not None else (pt,))
    assert audio.direction is Direction.SENDRECV
    assert answer.connection == Connection("203.0.113.5", "IP4")
    assert answer.origin == Origin("-", "42", 1, "203.0.113.5")
    # What we send parses back, and the phone's view of it agrees with ours.
    assert parse_sdp(answer.encode()) == answer
    theirs = accept_answer(offer, parse_sdp(answer.encode()))
    assert (theirs.payload_type, theirs.telephone_event_payload_type) == (pt, event_pt)
    assert (theirs.remote_address, theirs.remote_port) == ("203.0.113.5", 40000)


def test_linphone_video_is_declined_with_port_zero() -> None:
    answer, media = answer_offer(parse_sdp(LINPHONE), "203.0.113.5", 40000)
    assert media.media_index == 0
    assert answer.media[1] == MediaDescription("video", 0, "RTP/AVP", ("96",))
    assert "m=video 0 RTP/AVP 96\r\n" in str(answer)


def test_our_preference_order_picks_the_codec() -> None:
    offer = parse_sdp(POLYCOM)
    assert answer_offer(offer, "10.1.1.1", 4000, (G722, PCMA))[1].codec == "G722"
    assert answer_offer(offer, "10.1.1.1", 4000, (PCMA, PCMU))[1].codec == "PCMA"
    opus = Codec("opus", 48000, 2)
    _, media = answer_offer(parse_sdp(ZOIPER), "10.1.1.1", 4000, (opus, PCMU))
    assert (media.codec, media.payload_type, media.clock_rate, media.channels) == ("opus", 106, 48000, 2)
    assert media.telephone_event_payload_type == 98  # the one at opus's clock rate


def test_telephone_event_range_is_what_we_handle() -> None:
    answer, _ = answer_offer(parse_sdp(ZOIPER), "10.1.1.1", 4000)
    assert answer.media[0].fmtp(101) == "0-15"
    narrow = parse_sdp(CISCO.replace("a=fmtp:101 0-15", "a=fmtp:101 0-9,11"))
    assert answer_offer(narrow, "10.1.1.1", 4000)[0].media[0].fmtp(101) == "0-9,11"
    answer, media = answer_offer(parse_sdp(CISCO), "10.1.1.1", 4000, telephone_event=False)
    assert media.telephone_event_payload_type is None and answer.media[0].payload_types == (0,)


def test_no_common_codec_is_488_naming_both_sides() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        answer_offer(parse_sdp(LINPHONE), "10.1.1.1", 4000, (G722,))
    assert caught.value.status_hint == 488
    assert "opus/48000" in caught.value.reason and "G722/8000" in caught.value.reason


def test_offer_without_audio_is_488() -> None:
    offer = parse_sdp(sdp("""
        v=0
        o=- 1 1 IN IP4 10.0.0.1
        s=-
        c=IN IP4 10.0.0.1
        t=0 0
        m=video 5000 RTP/AVP 96
        a=rtpmap:96 H264/90000
        m=audio 5002 RTP/SAVP 0
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
    """))
    with pytest.raises(RemoteProtocolError) as caught:
        answer_offer(offer, "10.1.1.1", 4000)
    assert caught.value.status_hint == 488


def test_port_zero_stream_stays_rejected_and_the_next_audio_is_taken() -> None:
    offer = parse_sdp(sdp("""
        v=0
        o=- 1 1 IN IP4 10.0.0.1
        s=-
        c=IN IP4 10.0.0.1
        t=0 0
        m=audio 0 RTP/AVP 0
        m=audio 5002 RTP/SAVP 0
        m=audio 5004 RTP/AVP 8 0
        m=audio 5006 RTP/AVP 0
    """))
    answer, media = answer_offer(offer, "10.1.1.1", 4000)
    assert media.media_index == 2 and media.remote_port == 5004 and media.codec == "PCMU"
    assert [m.port for m in answer.media] == [0, 0, 4000, 0]
    assert [m.proto for m in answer.media] == ["RTP/AVP", "RTP/SAVP", "RTP/AVP", "RTP/AVP"]


@pytest.mark.parametrize(
    ("change", "offered", "answered"),
    [
        ("a=sendonly", Direction.SENDONLY, Direction.RECVONLY),
        ("a=recvonly", Direction.RECVONLY, Direction.SENDONLY),
        ("a=inactive", Direction.INACTIVE, Direction.INACTIVE),
        ("a=sendrecv", Direction.SENDRECV, Direction.SENDRECV),
    ],
)
def test_direction_is_mirrored(change: str, offered: Direction, answered: Direction) -> None:
    offer = parse_sdp(CISCO.replace("a=sendrecv", change))
    assert offer.direction_for(offer.media[0]) is offered
    answer, media = answer_offer(offer, "10.1.1.1", 4000)
    assert answer.media[0].direction is answered and media.direction is answered


def test_session_level_direction_applies_when_media_has_none() -> None:
    offer = parse_sdp(POLYCOM.replace("a=sendrecv", "a=sendonly"))
    assert answer_offer(offer, "10.1.1.1", 4000)[1].direction is Direction.RECVONLY
    overridden = parse_sdp(POLYCOM.replace("a=sendrecv", "a=inactive") + "a=sendrecv\r\n")
    assert answer_offer(overridden, "10.1.1.1", 4000)[1].direction is Direction.SENDRECV


def test_rfc2543_hold_with_zero_address() -> None:
    held = parse_sdp(CISCO.replace("c=IN IP4 192.168.1.110", "c=IN IP4 0.0.0.0"))
    answer, media = answer_offer(held, "10.1.1.1", 4000)
    assert media.remote_address == "0.0.0.0"
    assert media.direction is Direction.RECVONLY and not media.direction.sends
    assert answer.media[0].direction is Direction.RECVONLY


def test_hold_unhold_and_session_versions() -> None:
    offer = parse_sdp(LINPHONE)
    first, _ = answer_offer(offer, "10.1.1.1", 4000, session_id=9)
    same, _ = answer_offer(offer, "10.1.1.1", 4000, previous=first)
    assert same.origin == first.origin  # nothing changed: version kept (RFC 3264 §8)
    hold = parse_sdp(LINPHONE.replace("a=rtcp:7079", "a=rtcp:7079\r\na=sendonly"))
    held, media = answer_offer(hold, "10.1.1.1", 4000, previous=same)
    assert media.direction is Direction.RECVONLY
    assert (held.origin.session_id, held.origin.session_version) == ("9", 2)
    resumed, media = answer_offer(offer, "10.1.1.1", 4000, previous=held)
    assert media.direction is Direction.SENDRECV and resumed.origin.session_version == 3


def test_our_own_re_offers_for_hold() -> None:
    first = create_offer("10.1.1.1", 4000, session_id=77)
    assert first.origin.session_version == 1
    assert create_offer("10.1.1.1", 4000, previous=first) == first
    hold = create_offer("10.1.1.1", 4000, previous=first, direction=Direction.SENDONLY)
    assert hold.origin.session_version == 2 and hold.media[0].direction is Direction.SENDONLY
    answer = parse_sdp(CISCO.replace("a=sendrecv", "a=recvonly"))
    media = accept_answer(hold, parse_sdp(str(answer).replace(" 0 8 18 101", " 0 101")))
    assert media.direction is Direction.SENDONLY


def test_ptime_and_maxptime_are_honoured() -> None:
    answer, media = answer_offer(parse_sdp(CISCO + "a=ptime:30\r\n"), "10.1.1.1", 4000)
    assert media.ptime == 30 and answer.media[0].ptime == 30
    assert answer_offer(parse_sdp(CISCO + "a=maxptime:10\r\n"), "10.1.1.1", 4000)[1].ptime == 10
    session_level = parse_sdp(SIPP.replace("t=0 0", "t=0 0\r\na=ptime:40"))
    assert answer_offer(session_level, "10.1.1.1", 4000)[1].ptime == 40


def test_rtcp_attribute_with_address_and_ipv6() -> None:
    offer = parse_sdp(sdp("""
        v=0
        o=- 5 5 IN IP6 2001:db8::5
        s=-
        c=IN IP6 2001:db8::5
        t=0 0
        m=audio 30000 RTP/AVP 8
        a=rtcp:30011 IN IP6 2001:db8::6
    """))
    answer, media = answer_offer(offer, "2001:db8::1", 4000, (PCMA,))
    assert (media.remote_address, media.remote_rtcp_address, media.remote_rtcp_port) == (
        "2001:db8::5", "2001:db8::6", 30011)
    assert answer.connection == Connection("2001:db8::1", "IP6")
    assert "o=- " in str(answer) and " IN IP6 2001:db8::1\r\n" in str(answer)


def test_rtcp_mux_only_when_both_want_it() -> None:
    answer, media = answer_offer(parse_sdp(ZOIPER), "10.1.1.1", 4000, rtcp_mux=False)
    assert not media.rtcp_mux and not answer.media[0].rtcp_mux and media.remote_rtcp_port == 8001


def test_accept_answer_uses_the_answerers_payload_types() -> None:
    offer = create_offer("10.1.1.1", 4000, (PCMA, PCMU), session_id=1, rtcp_mux=True)
    answer = parse_sdp(sdp("""
        v=0
        o=carrier 99 1 IN IP4 198.51.100.7
        s=-
        c=IN IP4 198.51.100.7
        t=0 0
        m=audio 20000 RTP/AVP 0 96
        a=rtpmap:96 telephone-event/8000
        a=ptime:30
        a=rtcp-mux
    """))
    media = accept_answer(offer, answer)
    assert (media.codec, media.payload_type, media.telephone_event_payload_type) == ("PCMU", 0, 96)
    assert (media.remote_address, media.remote_port, media.rtcp_mux, media.ptime) == ("198.51.100.7", 20000, True, 30)


@pytest.mark.parametrize(
    "answer_text",
    [
        SIPP.replace("m=audio 6000 RTP/AVP 0", "m=audio 6000 RTP/AVP 18").replace("0 PCMU", "18 G729"),
        SIPP + "m=video 0 RTP/AVP 31\r\n",
        SIPP.replace("m=audio 6000", "m=audio 0"),
        SIPP.replace("m=audio 6000 RTP/AVP", "m=video 6000 RTP/AVP"),
    ],
)
def test_accept_answer_rejects_broken_answers(answer_text: str) -> None:
    offer = create_offer("10.1.1.1", 4000, session_id=1)
    with pytest.raises(RemoteProtocolError) as caught:
        accept_answer(offer, parse_sdp(answer_text))
    assert caught.value.status_hint == 488


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
        "v=0\r\ns=-\r\n",
        "o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
        SIPP.replace("o=user1 53655765", "o=user1 abc"),
        SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 999.1.1.1"),
        SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP6 127.0.0.1"),
        SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4"),
        SIPP.replace("m=audio 6000", "m=audio 70000"),
        SIPP.replace("RTP/AVP 0", "RTP/AVP PCMU"),
        SIPP.replace("RTP/AVP 0", "RTP/AVP"),
        SIPP + "s=late\r\n",
        SIPP + "x=unknown\r\n",
        SIPP + "a=rtpmap:0 PCMU\r\n",
        SIPP + "a=ptime:fast\r\n",
        SIPP + "c=IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.2\r\n",
        SIPP + "garbage\r\n",
        SIPP + "a=rtcp:abc\r\n",
        SIPP.replace("t=0 0", "t=now"),
        "v=0\x00",
    ],
)
def test_malformed_sdp_is_a_clear_400(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        answer_offer(parse_sdp(text), "10.1.1.1", 4000)
    assert caught.value.status_hint == 400
    assert caught.value.reason.startswith("SDP: ")


def test_missing_connection_for_an_accepted_stream_is_400() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        answer_offer(parse_sdp(SIPP.replace("c=IN IP4 127.0.0.1\r\n", "")), "10.1.1.1", 4000)
    assert caught.value.status_hint == 400 and "c=" in caught.value.reason


def test_lf_only_and_trailing_spaces_are_tolerated() -> None:
    parsed = parse_sdp(SIPP.replace("\r\n", " \n"))
    assert parsed == parse_sdp(SIPP)


# --- hypothesis ------------------------------------------------------------------

_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=10)
_value = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).filter(
    lambda v: v == v.rstrip(" \t")
)
_addresses = st.one_of(
    st.ip_addresses(v=4).map(lambda a: (str(a), "IP4")), st.ip_addresses(v=6).map(lambda a: (str(a), "IP6"))
)
_connections = _addresses.map(lambda a: Connection(a[0], a[1]))
_attributes = st.builds(Attribute, _token, st.none() | _value)
_bandwidths = st.lists(st.integers(0, 10**6).map(lambda n: f"AS:{n}"), max_size=2).map(tuple)


@st.composite
def _media(draw: st.DrawFn) -> MediaDescription:
    rtp = draw(st.booleans())
    formats = st.integers(0, 127).map(str) if rtp else _token
    return MediaDescription(
        media=draw(st.sampled_from(["audio", "video", "application"])),
        port=draw(st.integers(0, 65535)),
        proto="RTP/AVP" if rtp else "UDP/BFCP",
        formats=tuple(draw(st.lists(formats, min_size=1, max_size=5))),
        port_count=draw(st.none() | st.integers(1, 4)),
        information=draw(st.none() | _value),
        connection=draw(st.none() | _connections),
        bandwidths=draw(_bandwidths),
        attributes=tuple(draw(st.lists(_attributes, max_size=5))),
    )


@st.composite
def _sessions(draw: st.DrawFn) -> SessionDescription:
    address, addr_type = draw(_addresses)
    return SessionDescription(
        origin=Origin(draw(_token), str(draw(st.integers(0, 2**70))), draw(st.integers(0, 2**63)), address,
                      addr_type),
        session_name=draw(_value),
        information=draw(st.none() | _value),
        uri=draw(st.none() | _value.filter(bool)),
        emails=tuple(draw(st.lists(_value.filter(bool), max_size=2))),
        phones=tuple(draw(st.lists(_value.filter(bool), max_size=2))),
        connection=draw(st.none() | _connections),
        bandwidths=draw(_bandwidths),
        times=draw(st.sampled_from([("t=0 0",), ("t=3034423619 3042462419", "r=604800 3600 0 90000")])),
        attributes=tuple(draw(st.lists(_attributes, max_size=4))),
        media=tuple(draw(st.lists(_media(), max_size=4))),
    )


@given(_sessions())
def test_build_then_parse_is_identity(session: SessionDescription) -> None:
    assert parse_sdp(session.encode()) == session
    assert parse_sdp(str(session)) == session


@given(st.binary(max_size=300))
def test_parse_never_raises_anything_else_on_bytes(data: bytes) -> None:
    try:
        parse_sdp(data)
    except RemoteProtocolError as error:
        assert error.status_hint == 400


@given(st.sampled_from(list(PHONES.values())), st.data())
def test_mangled_real_offers_give_an_answer_or_a_clear_error(text: str, data: st.DataObject) -> None:
    lines = text.splitlines()
    kept = data.draw(st.lists(st.sampled_from(lines), max_size=len(lines) + 3))
    try:
        offer = parse_sdp("\r\n".join(kept))
        answer, media = answer_offer(offer, "10.1.1.1", 4000)
    except RemoteProtocolError as error:
        assert error.status_hint in (400, 488)
        return
    assert len(answer.media) == len(offer.media)
    assert accept_answer(offer, parse_sdp(answer.encode())).payload_type == media.payload_type
