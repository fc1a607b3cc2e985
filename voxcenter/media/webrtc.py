"""WebRTC media on one leg's RTP port: ICE-lite (RFC 8445 §2.5) and DTLS-SRTP (RFC 5764), the server side.

A browser reaches the port the SDP names; on it arrive, told apart by their first byte (RFC 7983), STUN
connectivity checks, the DTLS handshake and then SRTP/SRTCP. voxcenter is ICE-lite: it never checks, it
answers the browser's checks (aioice's STUN messages, signed with our ``ice-pwd``) and sends to the address
a check proved. It is always the DTLS server (``a=setup:passive``): pyOpenSSL does the handshake through
memory buffers with aiortc's certificate and context; the peer's certificate must match the fingerprint of
its SDP; the keys it exports go to libsrtp (:class:`~voxcenter.media.srtp.SrtpContext`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from aioice import stun
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate, certificate_digest
from OpenSSL import SSL

from voxcenter.media.rtp import Address
from voxcenter.media.session import RtpSession
from voxcenter.media.srtp import SrtpContext

log = structlog.get_logger(__name__)

_certificates: dict[str, RTCCertificate] = {}
"""Our DTLS certificates by fingerprint: the current one, and the one before it for legs opened with it."""
_current: str | None = None


def _fingerprint_of(cert: RTCCertificate) -> str:
    sha256 = next(f for f in cert.getFingerprints() if f.algorithm == "sha-256")
    return f"sha-256 {sha256.value}"


def local_fingerprint() -> str:
    """``a=fingerprint`` of the DTLS certificate for a new leg (``"sha-256 AB:CD:..."``).

    The certificate is self-signed (browsers pin it by this fingerprint) and valid 30 days; a new one is made
    a day before it runs out, and the previous one kept for the legs that named it."""
    global _current
    cert = _certificates.get(_current) if _current is not None else None
    if _current is None or cert is None or cert.expires - datetime.now(UTC) < timedelta(days=1):
        fresh = RTCCertificate.generateCertificate()
        fingerprint = _fingerprint_of(fresh)
        kept = {_current: cert} if _current is not None and cert is not None else {}
        _certificates.clear()
        _certificates.update({fingerprint: fresh, **kept})
        _current = fingerprint
        return fingerprint
    return _current


@dataclass(frozen=True, slots=True)
class IceCredentials:
    ufrag: str
    pwd: str

    @classmethod
    def new(cls) -> IceCredentials:
        # RFC 8839 §5.4: ufrag at least 24 bits and pwd at least 128 bits of randomness, ice-chars only.
        return cls(secrets.token_hex(4), secrets.token_hex(16))


class WebRtcMedia:
    """ICE-lite responder and DTLS server for one RtpSession; the SRTP keys land in ``session.srtp``."""

    def __init__(self, session: RtpSession, local: IceCredentials, fingerprint: str) -> None:
        """``fingerprint``: the one our SDP names (:func:`local_fingerprint`); its certificate does the DTLS."""
        self.session = session
        self.local = local
        self.remote_ufrag: str | None = None
        self.remote_fingerprint: str | None = None
        """``"sha-256 AB:..."`` from the peer's SDP: its DTLS certificate must match it."""
        self.remote: Address | None = None
        """The address the peer's checks come from (where we send)."""
        self.failed: str | None = None
        """Why the handshake failed, once it has."""
        self.connected = False
        """The DTLS handshake finished."""
        self._keys: SrtpContext | None = None
        """SRTP keys from a finished handshake, until the peer's fingerprint is checked."""
        self._peer_digest = ""
        context = _certificates[fingerprint]._create_ssl_context(srtp_profiles=SRTP_PROFILES)
        self._ssl = SSL.Connection(context, None)
        self._ssl.set_accept_state()
        session.encrypted = True
        session.on_other = self._datagram

    def set_remote(self, ufrag: str, fingerprint: str) -> None:
        """The peer's ICE username fragment and certificate fingerprint, from its SDP."""
        self.remote_ufrag = ufrag
        self.remote_fingerprint = fingerprint
        self._verify()

    # --- demultiplexing (RFC 7983) --------------------------------------------------------------------------------

    def _datagram(self, data: bytes, addr: Address) -> None:
        first = data[0]
        try:
            if first < 4:
                self._stun(data, addr)
            elif 20 <= first <= 63:
                self._dtls(data, addr)
        except Exception:
            log.exception("webrtc.datagram_failed", source=f"{addr[0]}:{addr[1]}")

    # --- ICE-lite -------------------------------------------------------------------------------------------------

    def _stun(self, data: bytes, addr: Address) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_method != stun.Method.BINDING or request.message_class != stun.Class.REQUEST:
            return
        username = str(request.attributes.get("USERNAME", ""))
        ours, _, theirs = username.partition(":")
        key = self.local.pwd.encode()
        if ours != self.local.ufrag or (self.remote_ufrag is not None and theirs != self.remote_ufrag):
            self._stun_error(request, addr, 401, "Unauthorized")
            return
        if not request.check_message_integrity(key):
            self._stun_error(request, addr, 401, "Unauthorized")
            return
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = (addr[0], addr[1])
        response.add_message_integrity(key)
        self.session.send_raw(bytes(response), addr)
        if self.remote is None or "USE-CANDIDATE" in request.attributes:
            if self.remote != addr:
                log.info("webrtc.ice_selected", remote=f"{addr[0]}:{addr[1]}")
            self.remote = addr
            self.session.lock_remote(addr)

    def _stun_error(self, request: stun.Message, addr: Address, code: int, reason: str) -> None:
        response = stun.Message(stun.Method.BINDING, stun.Class.ERROR, transaction_id=request.transaction_id)
        response.attributes["ERROR-CODE"] = (code, reason)
        response.add_fingerprint()
        self.session.send_raw(bytes(response), addr)

    # --- DTLS -----------------------------------------------------------------------------------------------------

    def _dtls(self, data: bytes, addr: Address) -> None:
        if self.remote is None or addr != self.remote or self.failed is not None:
            return  # DTLS only on the path ICE proved
        self._ssl.bio_write(data)
        if not self.connected:
            try:
                self._ssl.do_handshake()
            except SSL.WantReadError:
                pass
            except SSL.Error as error:
                self._fail(f"handshake: {error}")
                return
            else:
                self.connected = True
                self._flush(addr)
                self._handshake_done()
        else:
            try:
                self._ssl.recv(1500)  # alerts, a retransmitted Finished: nothing for us
            except (SSL.WantReadError, SSL.ZeroReturnError):
                pass
            except SSL.Error:
                pass
        self._flush(addr)

    def _flush(self, addr: Address) -> None:
        while True:
            try:
                record = self._ssl.bio_read(1500)
            except SSL.WantReadError:
                return
            if not record:
                return
            self.session.send_raw(record, addr)

    def _handshake_done(self) -> None:
        peer = self._ssl.get_peer_certificate(as_cryptography=True)
        selected = self._ssl.get_selected_srtp_profile()
        profile = next((p for p in SRTP_PROFILES if p.openssl_profile == selected), None)
        if peer is None or profile is None:
            self._fail("no peer certificate" if peer is None else "no SRTP protection profile negotiated")
            return
        material = self._ssl.export_keying_material(b"EXTRACTOR-dtls_srtp",
                                                    2 * (profile.key_length + profile.salt_length))
        # RFC 5764 §4.2: client key, server key, client salt, server salt; we are the server.
        self._keys = SrtpContext(profile.libsrtp_profile, profile.get_key_and_salt(material, 1),
                                 profile.get_key_and_salt(material, 0))
        self._peer_digest = certificate_digest(peer, "sha-256")
        self._verify()

    def _verify(self) -> None:
        """Use the keys once the peer's certificate is known to be the one its SDP names.

        A browser that we called checks and shakes hands as soon as it has our offer, before its answer
        (with its fingerprint) reaches us: the keys wait for the answer, and nothing is sent or taken meanwhile."""
        if self._keys is None or self.remote_fingerprint is None:
            return
        expected = self.remote_fingerprint.partition(" ")[2].upper()
        if self._peer_digest != expected:
            self._keys = None
            self._fail(f"the peer's certificate ({self._peer_digest}) does not match its SDP fingerprint ({expected})")
            return
        self.session.srtp, self._keys = self._keys, None
        log.info("webrtc.connected", remote=f"{self.remote[0]}:{self.remote[1]}" if self.remote else None)

    def _fail(self, reason: str) -> None:
        """Give up on this leg's media (it stays silent; the call's media timeout ends it)."""
        self.failed = reason
        log.warning("webrtc.dtls_failed", reason=reason, remote=str(self.remote))

    def close(self) -> None:
        self.session.on_other = None
