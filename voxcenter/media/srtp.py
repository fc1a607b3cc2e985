"""SRTP and SRTCP protection of one leg (RFC 3711), through libsrtp (pylibsrtp): no cipher code of our own.

A :class:`SrtpContext` holds the two libsrtp sessions of a leg: ours (protect what we send) and the peer's
(unprotect what arrives). Keys come from SDES (``a=crypto``, RFC 4568) or from a DTLS-SRTP handshake
(RFC 5764, :mod:`voxcenter.media.webrtc`). A packet that fails authentication or replays is dropped.
"""

from __future__ import annotations

import base64
import secrets

import pylibsrtp

SDES_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
"""libsrtp's profile of each SDES crypto suite voxcenter offers or accepts."""


def new_sdes_key() -> str:
    """A fresh 30-octet master key and salt, base64 as ``a=crypto`` writes it."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


class SrtpContext:
    """Protect outgoing and unprotect incoming RTP and RTCP of one leg."""

    def __init__(self, profile: int, local_key: bytes, remote_key: bytes) -> None:
        self._tx = pylibsrtp.Session(pylibsrtp.Policy(key=local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                                      srtp_profile=profile))
        self._rx = pylibsrtp.Session(pylibsrtp.Policy(key=remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                                                      srtp_profile=profile))
        self.rejected = 0
        """Incoming packets that failed authentication or replayed."""

    @classmethod
    def from_sdes(cls, suite: str, local_key: str, remote_key: str) -> SrtpContext:
        """The context of an SDES-keyed stream: both keys base64 from the ``a=crypto`` lines."""
        return cls(SDES_PROFILES[suite], base64.b64decode(local_key), base64.b64decode(remote_key))

    def protect(self, packet: bytes) -> bytes | None:
        try:
            return self._tx.protect(packet)
        except pylibsrtp.Error:
            return None

    def protect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            return self._tx.protect_rtcp(packet)
        except pylibsrtp.Error:
            return None

    def unprotect(self, packet: bytes) -> bytes | None:
        try:
            return self._rx.unprotect(packet)
        except pylibsrtp.Error:
            self.rejected += 1
            return None

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            return self._rx.unprotect_rtcp(packet)
        except pylibsrtp.Error:
            self.rejected += 1
            return None
