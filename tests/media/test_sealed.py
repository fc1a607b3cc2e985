"""Recordings sealed at rest (AES-256-GCM): what goes in comes out with the key, and only with it."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from voxcenter.media.sealed import SealError, is_sealed, load_key, seal, seal_file, unseal


def test_a_sealed_file_opens_with_its_key_only(tmp_path: Path) -> None:
    key, other = os.urandom(32), os.urandom(32)
    plain = tmp_path / "call.wav"
    plain.write_bytes(b"RIFF" + os.urandom(5000))
    content = plain.read_bytes()
    sealed = seal_file(plain, key)
    assert sealed.name == "call.wav.enc" and not plain.exists()
    data = sealed.read_bytes()
    assert is_sealed(data) and b"RIFF" not in data and unseal(data, key) == content
    with pytest.raises(SealError, match="does not open"):
        unseal(data, other)
    damaged = bytearray(data)
    damaged[-1] ^= 1
    with pytest.raises(SealError):
        unseal(bytes(damaged), key)
    with pytest.raises(SealError, match="not a sealed"):
        unseal(content, key)
    assert seal(b"", key) != seal(b"", key)  # a fresh nonce each time


def test_keys_are_32_bytes_in_base64_or_hex(tmp_path: Path) -> None:
    key = os.urandom(32)
    (tmp_path / "b64").write_text(base64.b64encode(key).decode() + "\n")
    (tmp_path / "hex").write_text(key.hex())
    (tmp_path / "short").write_text(base64.b64encode(key[:16]).decode())
    assert load_key(tmp_path / "b64") == key == load_key(tmp_path / "hex")
    with pytest.raises(SealError, match="32 bytes"):
        load_key(tmp_path / "short")
    with pytest.raises(SealError, match="No such file"):
        load_key(tmp_path / "missing")
