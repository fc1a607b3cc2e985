"""How a stream is encrypted, as SDP says it: SDES keys (RFC 4568) or ICE and DTLS-SRTP for WebRTC (RFC 5764,
RFC 8839, RFC 8842). Pure: parsing and writing the attributes; the keys and handshakes live in ``media/``.

``a=crypto`` carries the SRTP master key and salt in the clear, so it is only safe when the signalling is
encrypted (SIP over TLS): the caller of offer/answer decides that and passes our key only then.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from voxcenter.sip.sdp import Attribute, MediaDescription, SessionDescription

SDES_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
"""Crypto suites voxcenter takes (RFC 4568 §6.2), in order of preference; both use a 30-octet key and salt."""
SDES_KEY_LENGTH = 30

_CRYPTO = re.compile(r"(\d{1,9})\s+([A-Za-z0-9_]+)\s+(.+)")
_INLINE = re.compile(r"inline:([A-Za-z0-9+/=]+)(\|[^|\s]+)?(\|[^|\s]+)?")


@dataclass(frozen=True, slots=True)
class Sdes:
    """One ``a=crypto`` line: a suite and the sender's master key and salt (base64, as written)."""

    tag: int
    suite: str
    key: str

    @property
    def key_bytes(self) -> bytes:
        return base64.b64decode(self.key)

    def attribute(self) -> Attribute:
        return Attribute("crypto", f"{self.tag} {self.suite} inline:{self.key}")


def parse_crypto(value: str) -> Sdes | None:
    """An ``a=crypto`` value we can use, or None (unknown suite, session parameters, MKI, bad key length).

    A lifetime is allowed (rekeying never happens on a call that short); an MKI or any session parameter
    (``UNENCRYPTED_SRTP``, ``KDR`` ...) makes the line unusable rather than half understood.
    """
    match = _CRYPTO.fullmatch(value.strip())
    if match is None or match.group(2) not in SDES_SUITES:
        return None
    params = match.group(3).split()
    if len(params) != 1:
        return None
    inline = _INLINE.fullmatch(params[0])
    if inline is None or (inline.group(2) and ":" in inline.group(2)) or inline.group(3):
        return None
    try:
        raw = base64.b64decode(inline.group(1), validate=True)
    except ValueError:
        return None
    if len(raw) != SDES_KEY_LENGTH:
        return None
    return Sdes(int(match.group(1)), match.group(2), inline.group(1))


def usable_crypto(media: MediaDescription) -> list[Sdes]:
    """The offered ``a=crypto`` lines we can use, in our preference of suite, then the offer's order."""
    lines = [c for a in media.attributes if a.name == "crypto" and (c := parse_crypto(a.value or ""))]
    return sorted(lines, key=lambda c: SDES_SUITES.index(c.suite))


@dataclass(frozen=True, slots=True)
class IceDtls:
    """A side's ICE credentials and DTLS certificate fingerprint (WebRTC)."""

    ufrag: str
    pwd: str
    fingerprint: str
    """``"sha-256 AB:CD:..."`` as in ``a=fingerprint``."""
    setup: str = "actpass"
    """``a=setup`` (RFC 4145): actpass in an offer; voxcenter is always the DTLS server, so it answers passive
    and expects its peer to be active."""

    def attributes(self, candidate_host: str, port: int) -> list[Attribute]:
        """The media-level attributes of this side: ICE-lite has one host candidate, the RTP socket."""
        return [
            Attribute("ice-ufrag", self.ufrag),
            Attribute("ice-pwd", self.pwd),
            Attribute("fingerprint", self.fingerprint),
            Attribute("setup", self.setup),
            Attribute("candidate", f"1 1 UDP 2130706431 {candidate_host} {port} typ host"),
            Attribute("end-of-candidates"),
        ]


def remote_ice_dtls(offer: SessionDescription, media: MediaDescription) -> IceDtls | None:
    """The peer's ICE credentials, fingerprint and setup role (media level first, then session level)."""

    def find(name: str) -> str | None:
        return media.attribute(name) or offer.attribute(name)

    ufrag, pwd, fingerprint = find("ice-ufrag"), find("ice-pwd"), _sha256_fingerprint(
        [a.value or "" for a in (*media.attributes, *offer.attributes) if a.name == "fingerprint"])
    if not ufrag or not pwd or fingerprint is None:
        return None
    return IceDtls(ufrag, pwd, fingerprint, (find("setup") or "actpass").lower())


def _sha256_fingerprint(values: Sequence[str]) -> str | None:
    for value in values:
        algorithm, _, digest = value.strip().partition(" ")
        if algorithm.lower() == "sha-256" and re.fullmatch(r"([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}", digest.strip()):
            return f"sha-256 {digest.strip().upper()}"
    return None
