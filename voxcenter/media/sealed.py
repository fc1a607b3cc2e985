"""Recordings encrypted at rest: AES-256-GCM, one sealed file per finished recording.

A sealed file is ``MAGIC``, a 12-byte random nonce, then the ciphertext with its 16-byte tag; the associated
data is ``MAGIC`` itself, so a file of another format is refused rather than misread. The key is 32 bytes,
written base64 (or hex) in the file ``recording.key_file`` names (``openssl rand -base64 32``). The file is sealed
once the recording is finished (and re-encoded): the ``.part`` file of a call in progress stays plain, so a crash
can be repaired; the repair seals what it finishes. Decryption is whole-file, in memory (a 10-minute call is
about 20 MB of WAV).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"VXSEAL1\n"
SEALED_SUFFIX = ".enc"
"""Added to a recording's name once sealed (``<call id>.wav.enc``)."""
_NONCE = 12


class SealError(Exception):
    """A key that is not 32 bytes, or a sealed file that does not open with it."""


def load_key(path: Path) -> bytes:
    """The 32-byte key in ``path`` (base64 or hex text); SealError says what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SealError(f"recording key file {path}: {getattr(error, 'strerror', None) or error}") from error
    for decode in (base64.b64decode, bytes.fromhex):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    raise SealError(f"recording key file {path} must hold 32 bytes, base64 or hex (openssl rand -base64 32)")


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def seal(data: bytes, key: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, MAGIC)


def unseal(data: bytes, key: bytes) -> bytes:
    if not is_sealed(data):
        raise SealError("not a sealed recording")
    nonce = data[len(MAGIC):len(MAGIC) + _NONCE]
    try:
        return AESGCM(key).decrypt(nonce, data[len(MAGIC) + _NONCE:], MAGIC)
    except InvalidTag:
        raise SealError("the recording does not open with this key (another key, or a damaged file)") from None


def seal_file(path: Path, key: bytes) -> Path:
    """Seal the finished recording at ``path`` into ``<path>.enc`` (written aside, then renamed) and remove the
    plain file; the sealed file's path (blocking: run it in a thread)."""
    path = Path(path)
    target = path.with_name(path.name + SEALED_SUFFIX)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(seal(path.read_bytes(), key))
    os.replace(partial, target)
    path.unlink()
    return target
