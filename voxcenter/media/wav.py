"""The few bytes of RIFF/WAVE that recordings need: a PCM header, and reading one back to repair it.

Layout of the canonical 44-byte header (RIFF chunk, ``fmt `` chunk of 16 bytes, ``data`` chunk)::

    0 "RIFF" | 4 riff size = file size - 8 | 8 "WAVE" | 12 "fmt " | 16 16 | 20 format 1 (PCM) | 22 channels
    24 sample rate | 28 byte rate | 32 block align | 34 bits per sample | 36 "data" | 40 data size | 44 samples
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

HEADER_SIZE = 44
"""Size of the header ``pcm_header`` writes; the data chunk's size field is at offset 40."""
RIFF_SIZE_OFFSET = 4
DATA_SIZE_OFFSET = 40


class WavError(ValueError):
    """A file is not a PCM WAV file this module can read (names the reason)."""


def pcm_header(data_size: int, *, channels: int, sample_rate: int, bits: int = 16) -> bytes:
    """A 44-byte PCM WAV header for ``data_size`` bytes of samples."""
    block_align = channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, bits)
        + b"data"
        + struct.pack("<I", data_size)
    )


def sizes_fields(data_size: int) -> tuple[bytes, bytes]:
    """The RIFF size and data size fields for a file made by ``pcm_header`` holding ``data_size`` bytes."""
    return struct.pack("<I", 36 + data_size), struct.pack("<I", data_size)


@dataclass(frozen=True, slots=True)
class WavLayout:
    """Where a WAV file's samples are and what its header claims."""

    channels: int
    """Number of interleaved channels."""
    sample_rate: int
    """Samples per second per channel."""
    block_align: int
    """Bytes per frame (one sample of every channel)."""
    riff_size_offset: int
    """File offset of the RIFF chunk's size field."""
    data_size_offset: int
    """File offset of the data chunk's size field."""
    data_offset: int
    """File offset of the first sample."""
    declared_riff_size: int
    """The RIFF size the header claims."""
    declared_data_size: int
    """The data size the header claims."""


def read_layout(file: BinaryIO) -> WavLayout:
    """Walk the chunks up to ``data`` (RIFF: each chunk is id, little-endian size, body padded to even)."""
    file.seek(0)
    head = file.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    declared_riff = struct.unpack("<I", head[4:8])[0]
    fmt: tuple[int, ...] | None = None
    position = 12
    while True:
        file.seek(position)
        chunk = file.read(8)
        if len(chunk) < 8:
            raise WavError("no data chunk")
        chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"fmt ":
            body = file.read(16)
            if len(body) < 16:
                raise WavError("fmt chunk cut short")
            fmt = struct.unpack("<HHIIHH", body)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError("data chunk before fmt chunk")
            audio_format, channels, sample_rate, _, block_align, _ = fmt
            if audio_format != 1 or block_align == 0:
                raise WavError(f"not PCM (format {audio_format}, block align {block_align})")
            return WavLayout(channels, sample_rate, block_align, 4, position + 4, position + 8, declared_riff, size)
        position += 8 + size + (size & 1)
