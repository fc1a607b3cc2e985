"""SRTP in offer/answer: SDES keys (RFC 4568) and WebRTC's ICE and DTLS attributes."""

from __future__ import annotations

import base64

import pytest

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.media_keys import IceDtls, Sdes, parse_crypto
from voxcenter.sip.offer_answer import WEBRTC_CODECS, Security
from voxcenter.sip.sdp import accept_answer, answer_offer, create_offer, parse_sdp

THEIR_KEY = base64.b64encode(bytes(range(30))).decode()
OUR_KEY = base64.b64encode(bytes(range(30, 60))).decode()
OURS = Security(sdes=Sdes(1, "AES_CM_128_HMAC_SHA1_80", OUR_KEY))
FINGERPRINT = "sha-256 " + ":".join(["AB"] * 32)


def offer(proto: str, *lines: str) -> bytes:
    return ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
            f"m=audio 5000 {proto} 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            + "".join(f"{line}\r\n" for line in lines)).encode()


def test_an_sdes_offer_is_answered_with_our_key_under_the_chosen_tag_and_suite() -> None:
    sdp = parse_sdp(offer("RTP/SAVP", f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}",
                          f"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}|2^20",
                          "a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:xyz"))
    answer, negotiated = answer_offer(sdp, "10.1.1.1", 4000, security=OURS)
    assert negotiated.sdes == Sdes(2, "AES_CM_128_HMAC_SHA1_80", THEIR_KEY)
    [media] = answer.media
    assert media.proto == "RTP/SAVP"
    assert [a.value for a in media.attributes if a.name == "crypto"] == [f"2 AES_CM_128_HMAC_SHA1_80 inline:{OUR_KEY}"]


def test_sdes_is_refused_without_our_key_or_without_a_usable_line() -> None:
    sdp = parse_sdp(offer("RTP/SAVP", f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}"))
    with pytest.raises(RemoteProtocolError):
        answer_offer(sdp, "10.1.1.1", 4000)  # signalling in the clear: the key would be too
    with pytest.raises(RemoteProtocolError):
        answer_offer(parse_sdp(offer("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=")),
                     "10.1.1.1", 4000, security=OURS)
    assert parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}|2^20|1:4") is None  # an MKI
    assert parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY} UNENCRYPTED_SRTP") is None
    # A plain offer over TLS is still answered plainly.
    _, plain = answer_offer(parse_sdp(offer("RTP/AVP")), "10.1.1.1", 4000, security=OURS)
    assert plain.sdes is None


def test_our_sdes_offer_needs_an_sdes_answer() -> None:
    ours = create_offer("10.1.1.1", 4000, security=OURS)
    [media] = ours.media
    assert media.proto == "RTP/SAVP" and media.attribute("crypto") == f"1 AES_CM_128_HMAC_SHA1_80 inline:{OUR_KEY}"
    answer = parse_sdp(offer("RTP/SAVP", f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}"))
    assert accept_answer(ours, answer).sdes == Sdes(1, "AES_CM_128_HMAC_SHA1_80", THEIR_KEY)
    with pytest.raises(RemoteProtocolError):
        accept_answer(ours, parse_sdp(offer("RTP/AVP")))
    with pytest.raises(RemoteProtocolError):  # a suite under a tag we did not offer
        accept_answer(ours, parse_sdp(offer("RTP/SAVP", f"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}")))


def test_a_webrtc_offer_is_answered_ice_lite_passive_with_one_host_candidate() -> None:
    ours = Security(ice_dtls=IceDtls("srvufrag", "serverpassword0123456789", FINGERPRINT))
    sdp = parse_sdp(offer("UDP/TLS/RTP/SAVPF", "a=ice-ufrag:abcd", "a=ice-pwd:browserpassword0123456789",
                          f"a=fingerprint:sha-256 {':'.join(['cd'] * 32)}", "a=setup:actpass", "a=mid:0",
                          "a=rtcp-mux", "a=candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host"))
    answer, negotiated = answer_offer(sdp, "10.1.1.1", 4000, security=ours)
    assert negotiated.ice_dtls == IceDtls("abcd", "browserpassword0123456789", "sha-256 " + ":".join(["CD"] * 32),
                                          "actpass")
    assert negotiated.rtcp_mux
    assert answer.attribute("ice-lite") is not None
    [media] = answer.media
    assert (media.proto, media.attribute("setup"), media.attribute("mid")) == ("UDP/TLS/RTP/SAVPF", "passive", "0")
    assert media.attribute("candidate") == "1 1 UDP 2130706431 10.1.1.1 4000 typ host"
    with pytest.raises(RemoteProtocolError):  # a browser that wants to be the DTLS server
        answer_offer(parse_sdp(offer("UDP/TLS/RTP/SAVPF", "a=ice-ufrag:abcd", "a=ice-pwd:browserpassword01234",
                                     f"a=fingerprint:sha-256 {':'.join(['cd'] * 32)}", "a=setup:passive",
                                     "a=rtcp-mux")), "10.1.1.1", 4000, security=ours)
    offered = create_offer("10.1.1.1", 4000, WEBRTC_CODECS, security=ours)
    assert offered.media[0].proto == "UDP/TLS/RTP/SAVPF" and offered.media[0].rtcp_mux
    assert offered.media[0].formats[:3] == ("96", "0", "8")  # Opus first
    assert offered.media[0].attribute("rtpmap") == "96 opus/48000/2"
    assert offered.media[0].attribute("setup") == "actpass"
