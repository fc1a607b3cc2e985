"""WebRTC media on a real RTP socket: ICE-lite answers only checks signed with our password, DTLS-SRTP keys
are used only once the peer's certificate matches the fingerprint of its SDP. The peer side is built from
the same field libraries a browser stack uses (aioice's STUN, pyOpenSSL DTLS with aiortc's certificate)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aioice import stun
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate
from OpenSSL import SSL

from tests.media.test_session import HOST, eventually, free_pool
from voxcenter.media.codecs import PCMU
from voxcenter.media.rtp import RtpPacket, build_rtp
from voxcenter.media.session import RtpSession
from voxcenter.media.srtp import SrtpContext
from voxcenter.media.webrtc import IceCredentials, WebRtcMedia, local_fingerprint


class Browser:
    """The far end: one UDP socket that checks, shakes hands as the DTLS client and speaks SRTP."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((HOST, 0))
        self.socket.setblocking(False)
        self.address = self.socket.getsockname()
        self.certificate = RTCCertificate.generateCertificate()
        self.ssl = SSL.Connection(self.certificate._create_ssl_context(srtp_profiles=SRTP_PROFILES), None)
        self.ssl.set_connect_state()

    @property
    def fingerprint(self) -> str:
        return "sha-256 " + next(f.value for f in self.certificate.getFingerprints() if f.algorithm == "sha-256")

    async def receive(self, timeout: float = 2.0) -> bytes:
        return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.socket, 2048), timeout)

    async def check(self, server: tuple[str, int], username: str, pwd: str) -> stun.Message:
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes["USERNAME"] = username
        request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(pwd.encode())
        self.socket.sendto(bytes(request), server)
        return stun.parse_message(await self.receive())

    async def handshake(self, server: tuple[str, int]) -> SrtpContext:
        while True:
            try:
                self.ssl.do_handshake()
                done = True
            except SSL.WantReadError:
                done = False
            while True:
                try:
                    self.socket.sendto(self.ssl.bio_read(1500), server)
                except SSL.WantReadError:
                    break
            if done:
                break
            self.ssl.bio_write(await self.receive())
        profile = next(p for p in SRTP_PROFILES if p.openssl_profile == self.ssl.get_selected_srtp_profile())
        material = self.ssl.export_keying_material(b"EXTRACTOR-dtls_srtp",
                                                   2 * (profile.key_length + profile.salt_length))
        return SrtpContext(profile.libsrtp_profile, profile.get_key_and_salt(material, 0),
                           profile.get_key_and_salt(material, 1))


@pytest.mark.parametrize("fingerprint_matches", [True, False], ids=["matching", "forged"])
async def test_ice_lite_and_dtls_srtp_with_a_browser_like_peer(fingerprint_matches: bool) -> None:
    session = await RtpSession.open(free_pool(), HOST, PCMU, None, rtcp_mux=True, inactivity_timeout=None)
    ice = IceCredentials.new()
    webrtc = WebRtcMedia(session, ice, local_fingerprint())
    received: list[RtpPacket] = []
    session.on_packet = received.append
    browser = Browser()
    try:
        assert local_fingerprint().startswith("sha-256 ")
        # A check with the wrong password is refused, and teaches the session nothing.
        refused = await browser.check(session.local_address, f"{ice.ufrag}:b1", "not-the-password")
        assert refused.message_class == stun.Class.ERROR and refused.error_code == 401
        assert webrtc.remote is None
        answered = await browser.check(session.local_address, f"{ice.ufrag}:b1", ice.pwd)
        assert answered.message_class == stun.Class.RESPONSE
        assert answered.attributes["XOR-MAPPED-ADDRESS"] == browser.address
        assert webrtc.remote == browser.address and session.remote == browser.address
        # Nothing is sent before the keys are there: the stream is SRTP or nothing.
        assert not session.send_payload(b"\xff" * 160)
        keys = await browser.handshake(session.local_address)
        assert webrtc.connected and session.srtp is None  # the browser's answer (its fingerprint) is not in yet
        webrtc.set_remote("b1", browser.fingerprint if fingerprint_matches else local_fingerprint())
        if not fingerprint_matches:
            assert session.srtp is None and webrtc.failed is not None and "fingerprint" in webrtc.failed
            return
        protected = keys.protect(build_rtp(0, False, 1, 160, 0xB10, b"\x7f" * 160))
        assert protected is not None
        browser.socket.sendto(protected, session.local_address)
        await eventually(lambda: len(received) == 1)
        assert received[0].payload == b"\x7f" * 160
        assert session.send_payload(b"\xff" * 160)
        while (data := await browser.receive())[0] < 128:
            pass  # a retransmitted handshake record
        packet = keys.unprotect(data)
        assert packet is not None and packet.endswith(b"\xff" * 160)
    finally:
        webrtc.close()
        session.close()
        browser.socket.close()


def test_the_certificate_is_renewed_before_it_expires_and_the_old_one_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    from voxcenter.media import webrtc

    first = local_fingerprint()
    assert local_fingerprint() == first

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(days=29, hours=1)

    monkeypatch.setattr(webrtc, "datetime", Later)
    second = local_fingerprint()
    assert second != first and set(webrtc._certificates) == {first, second}
