"""Build the pcap a SIPp caller replays with ``<exec play_pcap_audio=...>``: PCMU audio and RFC 4733 digits.

One RTP stream, one SSRC and one sequence/timestamp space, as a phone sends it:
20 ms audio frames, and for each key press the telephone-event packets of
:class:`~voxcenter.media.dtmf.Rfc4733Sender` (marker on the first, the end
packet three times, RFC 4733 §2.5.1) while the audio pauses. SIPp rewrites the
addresses and ports when it replays (source = the call's media port,
destination = the port in the answer's SDP), so the ones written here are
placeholders. File format: classic libpcap (magic ``a1b2c3d4``, version 2.4,
link type 1 = Ethernet) with IPv4/UDP frames.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voxcenter.media.codecs import PCMU, Codec
from voxcenter.media.dtmf import Rfc4733Sender

FRAME_SAMPLES = 160
FRAME_TIME = 0.020
_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_RTP_HEADER = struct.Struct("!BBHII")
_LINKTYPE_ETHERNET = 1
_EPOCH = 1_700_000_000  # capture time of the first packet; only differences matter to SIPp


@dataclass(frozen=True, slots=True)
class CallerStream:
    """The RTP stream of one caller: what is in the pcap and when."""

    datagrams: list[tuple[float, bytes]]
    """(seconds from the first packet, RTP packet) in send order."""
    digit_times: list[float]
    """When each key press starts, in seconds from the first packet."""
    duration: float
    """Seconds from the first to the last packet."""


def caller_stream(
    audio: npt.NDArray[np.int16],
    digits: str,
    *,
    first_digit_at: float = 1.0,
    press: float = 0.16,
    gap: float = 0.3,
    codec: Codec = PCMU,
    telephone_event_pt: int = 101,
    ssrc: int = 0x5A17C0DE,
    tail: float = 0.5,
) -> CallerStream:
    """Audio (8 kHz samples, padded with silence as needed) with ``digits`` pressed from ``first_digit_at`` on."""
    sender = Rfc4733Sender(clock_rate=codec.clock_rate)
    presses: list[tuple[int, str]] = []  # (start sample, digit), on the 20 ms grid
    at = first_digit_at
    for digit in digits:
        presses.append((round(at / FRAME_TIME) * FRAME_SAMPLES, digit))
        at += press + gap
    last_sample = max(audio.size, round((at + tail) * codec.clock_rate))
    samples = np.zeros(last_sample + FRAME_SAMPLES, dtype=np.int16)
    samples[: audio.size] = audio
    timed: list[tuple[float, int, bool, int, bytes]] = []  # (time, payload type, marker, timestamp, payload)
    position = 0
    first_audio = True
    for start, digit in [*presses, (last_sample, "")]:
        while position + FRAME_SAMPLES <= start:
            frame = codec.encode(samples[position : position + FRAME_SAMPLES])
            timed.append((position / codec.clock_rate, codec.payload_type, first_audio, position, frame))
            first_audio = False
            position += FRAME_SAMPLES
        if not digit:
            break
        for packet in sender.packets(digit, press, start):
            timed.append((start / codec.clock_rate + packet.send_at, telephone_event_pt, packet.marker,
                          packet.timestamp, packet.payload))
        position = sender.next_audio_timestamp(press, start)
        first_audio = True  # a new talkspurt after the event (RFC 3551 §4.1)
    timed.sort(key=lambda item: item[0])
    datagrams = [
        (when, _RTP_HEADER.pack(0x80, (0x80 if marker else 0) | pt, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
         + payload)
        for sequence, (when, pt, marker, timestamp, payload) in enumerate(timed, start=1000)
    ]
    return CallerStream(datagrams, [start / codec.clock_rate for start, _ in presses], timed[-1][0])


def write_pcap(path: Path, datagrams: Iterable[tuple[float, bytes]], *, source_port: int = 40000,
               destination_port: int = 20000) -> int:
    """Write UDP datagrams as a libpcap Ethernet capture; returns the number of packets written."""
    count = 0
    with open(path, "wb") as handle:
        handle.write(_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET))
        for when, payload in datagrams:
            frame = _ethernet_ipv4_udp(payload, source_port, destination_port)
            seconds = int(when)
            micros = min(999_999, round((when - seconds) * 1_000_000))
            handle.write(_RECORD_HEADER.pack(_EPOCH + seconds, micros, len(frame), len(frame)))
            handle.write(frame)
            count += 1
    return count


def read_pcap_udp(path: Path) -> list[tuple[float, bytes]]:
    """The UDP payloads of a capture written by :func:`write_pcap`, with their times (for checking the file)."""
    data = Path(path).read_bytes()
    magic, major, minor, _, _, _, linktype = _PCAP_HEADER.unpack_from(data, 0)
    if (magic, major, minor, linktype) != (0xA1B2C3D4, 2, 4, _LINKTYPE_ETHERNET):
        raise ValueError(f"{path}: not a little-endian libpcap 2.4 Ethernet capture")
    out: list[tuple[float, bytes]] = []
    offset = _PCAP_HEADER.size
    first: float | None = None
    while offset + _RECORD_HEADER.size <= len(data):
        seconds, micros, length, _ = _RECORD_HEADER.unpack_from(data, offset)
        offset += _RECORD_HEADER.size
        frame = data[offset : offset + length]
        offset += length
        when = seconds + micros / 1_000_000
        first = when if first is None else first
        header_length = (frame[14] & 0x0F) * 4
        out.append((when - first, frame[14 + header_length + 8 :]))
    return out


def _ethernet_ipv4_udp(payload: bytes, source_port: int, destination_port: int) -> bytes:
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload  # checksum 0: none
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2)))
    header = header[:10] + struct.pack("!H", _ipv4_checksum(header)) + header[12:]
    ethernet = bytes((0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1)) + b"\x08\x00"
    return ethernet + header + udp


def _ipv4_checksum(header: bytes) -> int:
    """RFC 791 header checksum: one's complement of the one's complement sum of the 16-bit words."""
    total = sum(int(word) for word in struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
