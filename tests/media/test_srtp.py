"""SRTP protection through libsrtp: a packet protected by one side is unprotected by the other, and only then."""

from __future__ import annotations

from voxcenter.media.rtp import build_rtp
from voxcenter.media.srtp import SrtpContext, new_sdes_key


def test_two_sides_keyed_by_sdes_understand_each_other_and_reject_tampering_and_replays() -> None:
    ours, theirs = new_sdes_key(), new_sdes_key()
    alice = SrtpContext.from_sdes("AES_CM_128_HMAC_SHA1_80", ours, theirs)
    bob = SrtpContext.from_sdes("AES_CM_128_HMAC_SHA1_80", theirs, ours)
    packet = build_rtp(0, False, 1, 160, 0x1234, b"\xff" * 160)
    protected = alice.protect(packet)
    assert protected is not None and len(protected) == len(packet) + 10 and protected[12:172] != packet[12:]
    assert bob.unprotect(protected) == packet
    assert bob.unprotect(protected) is None  # replayed
    tampered = alice.protect(build_rtp(0, False, 2, 320, 0x1234, b"\xff" * 160))
    assert tampered is not None
    assert bob.unprotect(tampered[:-1] + bytes([tampered[-1] ^ 1])) is None
    assert bob.rejected == 2
    # Keyed the wrong way round, nothing is understood.
    assert SrtpContext.from_sdes("AES_CM_128_HMAC_SHA1_80", theirs, theirs).unprotect(
        alice.protect(build_rtp(0, False, 3, 480, 0x1234, b"\x7f" * 160)) or b"") is None
