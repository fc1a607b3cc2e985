"""DTMF: RFC 4733 payloads, receiver and sender; Goertzel in-band detection; SIP INFO; the merged stream."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.media.codecs import PCMA, PCMU
from voxcenter.media.dtmf import (
    COLUMN_FREQUENCIES,
    DIGITS,
    ROW_FREQUENCIES,
    DigitStream,
    DtmfError,
    DtmfEvent,
    DtmfReceived,
    GoertzelDetector,
    Rfc4733Receiver,
    Rfc4733Sender,
    parse_sip_info_dtmf,
)

RATE = 8000
KEYPAD = ("123A", "456B", "789C", "*0#D")


# ------------------------------------------------------------------------------------------------ payloads


def test_payload_layout_rfc4733_2_3():
    # event 5, E bit, volume 10, duration 800 → 05 8a 03 20
    assert DtmfEvent(5, True, 10, 800).build() == bytes.fromhex("058a0320")
    parsed = DtmfEvent.parse(bytes.fromhex("0b0a00a0"))
    assert parsed == DtmfEvent(11, False, 10, 160)
    assert parsed.digit == "#"
    assert DtmfEvent(16, False, 0, 0).digit is None  # flash


def test_reserved_bit_ignored_and_extra_bytes_tolerated():
    assert DtmfEvent.parse(bytes.fromhex("01ca0140ffff")) == DtmfEvent(1, True, 10, 320)


@pytest.mark.parametrize("payload", [b"", b"\x01", b"\x01\x02\x03"])
def test_short_payload_is_the_peers_fault(payload):
    with pytest.raises(DtmfError):
        DtmfEvent.parse(payload)


@given(st.binary(min_size=4, max_size=8))
def test_parse_build_roundtrip(payload):
    event = DtmfEvent.parse(payload)
    assert DtmfEvent.parse(event.build()) == event
    assert event.build()[0] == payload[0] and event.build()[2:] == payload[2:4]


def test_out_of_range_fields_are_refused_locally():
    with pytest.raises(ValueError):
        DtmfEvent(1, False, 64, 0)
    with pytest.raises(ValueError):
        DtmfEvent(1, False, 0, 70000)


# ------------------------------------------------------------------------------------------------ receiver


def _press(digit: str, ts: int, updates: int, *, ends: int = 3, step: int = 160):
    """The packets of one press: (timestamp, marker, payload) with one update per 20 ms."""
    code = DIGITS.index(digit)
    packets = [(ts, k == 0, DtmfEvent(code, False, 10, (k + 1) * step).build()) for k in range(updates)]
    final = DtmfEvent(code, True, 10, (updates + 1) * step).build()
    packets += [(ts, False, final)] * ends
    return packets


def _feed(receiver, packets, start=0.0, interval=0.02):
    digits = []
    now = start
    for ts, marker, payload in packets:
        digits += receiver.feed(ts, marker, payload, now)
        now += interval
    return digits, now


def test_end_retransmissions_count_once():
    receiver = Rfc4733Receiver()
    digits, _ = _feed(receiver, _press("5", 1000, 4))
    assert [d.digit for d in digits] == ["5"]
    assert digits[0].duration == pytest.approx(800 / RATE)
    assert digits[0].source == "rfc4733"
    assert digits[0].started == pytest.approx(-160 / RATE)
    assert receiver.get_timer() is None


def test_long_press_counts_once():
    receiver = Rfc4733Receiver()
    digits, _ = _feed(receiver, _press("9", 50, 150))  # 3 s
    assert [d.digit for d in digits] == ["9"]
    assert digits[0].duration == pytest.approx(3.02)


def test_same_digit_pressed_again_counts_again():
    receiver = Rfc4733Receiver()
    digits, now = _feed(receiver, _press("1", 8000, 3))
    more, _ = _feed(receiver, _press("1", 8000 + 1600, 3), start=now + 0.1)
    assert [d.digit for d in digits + more] == ["1", "1"]


def test_late_duplicate_of_reported_event_is_ignored():
    receiver = Rfc4733Receiver()
    packets = _press("3", 400, 2)
    digits, now = _feed(receiver, packets)
    later, _ = _feed(receiver, packets[:1] + packets[-1:], start=now + 1.0)
    assert [d.digit for d in digits] == ["3"] and later == []


def test_lost_end_packets_reported_when_event_stops_updating():
    receiver = Rfc4733Receiver(stale_after=0.3)
    digits, now = _feed(receiver, _press("7", 2000, 5, ends=0))
    assert digits == []
    deadline = receiver.get_timer()
    assert deadline == pytest.approx(now - 0.02 + 0.3)
    assert receiver.handle_timer(deadline - 0.01) == []
    late = receiver.handle_timer(deadline)
    assert [d.digit for d in late] == ["7"]
    assert receiver.handle_timer(deadline + 1) == [] and receiver.get_timer() is None
    # a straggler of the reported event does not bring it back
    assert receiver.feed(2000, False, DtmfEvent(7, True, 10, 960).build(), deadline + 0.1) == []


def test_lost_end_packets_reported_when_next_event_starts():
    receiver = Rfc4733Receiver()
    first, now = _feed(receiver, _press("2", 100, 3, ends=0))
    second, _ = _feed(receiver, _press("4", 100 + 2400, 3), start=now + 0.1)
    assert [d.digit for d in first + second] == ["2", "4"]


def test_lost_first_packets_and_only_end_packets():
    receiver = Rfc4733Receiver()
    digits, _ = _feed(receiver, _press("#", 7, 6)[4:])
    assert [d.digit for d in digits] == ["#"]
    assert digits[0].started == pytest.approx(-5 * 160 / RATE)  # first packet seen reported 800 units


def test_timestamp_wraparound_and_malformed_payloads():
    receiver = Rfc4733Receiver()
    digits, now = _feed(receiver, _press("0", 0xFFFFFF00, 3))
    assert receiver.feed(5, True, b"\x01", now) == []
    assert receiver.malformed == 1
    more, _ = _feed(receiver, _press("0", (0xFFFFFF00 + 2000) & 0xFFFFFFFF, 3), start=now)
    assert [d.digit for d in digits + more] == ["0", "0"]


def test_non_dtmf_events_are_not_digits():
    receiver = Rfc4733Receiver()
    flash = [(10, True, DtmfEvent(16, False, 0, 160).build()), (10, False, DtmfEvent(16, True, 0, 320).build())]
    assert _feed(receiver, flash)[0] == []


# ------------------------------------------------------------------------------------------------ sender


def test_sender_packet_sequence_rfc4733_2_5_1():
    sender = Rfc4733Sender(volume=10)
    packets = sender.packets("5", 0.1, timestamp=12345)
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {12345}
    events = [DtmfEvent.parse(p.payload) for p in packets]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert {e.event for e in events} == {5} and {e.volume for e in events} == {10}
    assert [p.send_at for p in packets] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12])
    assert sender.next_audio_timestamp(0.1, 12345) == 12345 + 800


def test_sender_splits_long_events_and_receiver_joins_them():
    sender = Rfc4733Sender()
    packets = sender.packets("*", 9.0, timestamp=0xFFFF0000)
    segments = sorted({p.timestamp for p in packets}, key=lambda ts: (ts - 0xFFFF0000) & 0xFFFFFFFF)
    assert segments == [0xFFFF0000, (0xFFFF0000 + 0xFFFF) & 0xFFFFFFFF]
    first_segment = [DtmfEvent.parse(p.payload) for p in packets if p.timestamp == segments[0]]
    assert first_segment[-1].duration == 0xFFFF and not any(e.end for e in first_segment)
    assert sum(p.marker for p in packets) == 1
    receiver = Rfc4733Receiver()
    digits = []
    for p in packets:
        digits += receiver.feed(p.timestamp, p.marker, p.payload, p.send_at)
    assert [d.digit for d in digits] == ["*"]
    assert digits[0].duration == pytest.approx(9.0)


@given(st.sampled_from(DIGITS), st.floats(0.0, 2.0), st.integers(0, 0xFFFFFFFF))
def test_sender_receiver_roundtrip(digit, duration, timestamp):
    sender = Rfc4733Sender()
    receiver = Rfc4733Receiver()
    digits = []
    for p in sender.packets(digit, duration, timestamp):
        digits += receiver.feed(p.timestamp, p.marker, p.payload, p.send_at)
    assert [d.digit for d in digits] == [digit]
    assert digits[0].duration == pytest.approx(sender.total_units(duration) / RATE)


def test_sender_refuses_bad_input():
    with pytest.raises(ValueError):
        Rfc4733Sender().packets("x", 0.1, 0)
    with pytest.raises(ValueError):
        Rfc4733Sender().packets("1", float("nan"), 0)


# ------------------------------------------------------------------------------------------------ in-band

rng = np.random.default_rng(4733)


def _dtmf(digit, seconds, *, amplitude=6000.0, high_minus_low_db=0.0):
    row = next(i for i, keys in enumerate(KEYPAD) if digit in keys)
    col = KEYPAD[row].index(digit)
    t = np.arange(round(seconds * RATE)) / RATE
    low = amplitude * np.sin(2 * np.pi * ROW_FREQUENCIES[row] * t)
    high = amplitude * 10 ** (high_minus_low_db / 20) * np.sin(2 * np.pi * COLUMN_FREQUENCIES[col] * t + 0.7)
    return low + high


def _with_noise(signal, snr_db):
    power = np.mean(signal**2)
    return signal + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), signal.size)


def _detect(signal, detector=None):
    detector = detector or GoertzelDetector()
    samples = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
    samples = np.concatenate([samples, np.zeros(-samples.size % 160, dtype=np.int16)])
    digits = []
    for start in range(0, samples.size, 160):
        digits += detector.feed(samples[start : start + 160], start / RATE)
    return "".join(d.digit for d in digits)


def _silence(seconds):
    return np.zeros(round(seconds * RATE))


@pytest.mark.parametrize("digit", list(DIGITS))
def test_all_digits_40ms_with_noise_at_any_alignment(digit):
    for offset in range(0, 160, 23):  # tone starts anywhere inside a 20 ms frame
        signal = np.concatenate([_silence(0.1 + offset / RATE), _dtmf(digit, 0.040), _silence(0.1)])
        assert _detect(_with_noise(signal, 15)) == digit, offset


@pytest.mark.parametrize("digit", list(DIGITS))
def test_20ms_tone_is_not_a_digit(digit):
    for offset in range(0, 160, 23):
        signal = np.concatenate([_silence(0.1 + offset / RATE), _dtmf(digit, 0.020), _silence(0.1)])
        assert _detect(_with_noise(signal, 15)) == "", offset


def test_g711_path_detects():
    signal = np.concatenate([_silence(0.1), _dtmf("8", 0.06, amplitude=2000), _silence(0.1)])
    for codec in (PCMU, PCMA):
        decoded = codec.decode(codec.encode(np.rint(signal)))
        assert _detect(decoded.astype(np.float64)) == "8"


@pytest.mark.parametrize(("twist", "accepted"), [(-7.5, True), (3.5, True), (-9.0, False), (5.0, False)])
def test_twist_limits(twist, accepted):
    # high group relative to low group: forward twist up to 8 dB (low louder), reverse up to 4 dB (high louder)
    for digit in "1D5#":
        signal = np.concatenate([_silence(0.05), _dtmf(digit, 0.1, amplitude=5000, high_minus_low_db=twist)])
        assert _detect(signal) == (digit if accepted else "")


def test_too_quiet_is_not_a_digit():
    assert _detect(_dtmf("5", 0.2, amplitude=200)) == ""  # about -41 dBm0 per tone
    assert _detect(_dtmf("5", 0.2, amplitude=800)) == "5"


def test_one_digit_per_press_and_pauses_split_presses():
    press = _dtmf("3", 0.2)
    signal = np.concatenate([press, _silence(0.05), press, _silence(0.05), _dtmf("6", 0.1)])
    assert _detect(_with_noise(signal, 20)) == "336"
    # a 5 ms dropout inside a press does not split it
    held = np.concatenate([_dtmf("3", 0.1), _silence(0.005), _dtmf("3", 0.1)])
    assert _detect(held) == "3"


def test_off_frequency_tone_rejected():
    t = np.arange(RATE // 5) / RATE
    off = 6000 * (np.sin(2 * np.pi * 697 * 1.04 * t) + np.sin(2 * np.pi * 1209 * 1.04 * t))
    on = 6000 * (np.sin(2 * np.pi * 697 * 1.015 * t) + np.sin(2 * np.pi * 1209 * 1.015 * t))
    assert _detect(off) == ""
    assert _detect(on) == "1"


def test_voice_band_noise_not_detected():
    noise = rng.normal(0, 4000, RATE * 3)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(noise.size, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    assert _detect(np.fft.irfft(spectrum, noise.size)) == ""


def test_chirps_not_detected():
    t = np.arange(RATE * 2) / RATE
    sweep = 300 * t + (3400 - 300) / 4 * t**2  # 300 → 3400 Hz over 2 s
    single = 8000 * np.sin(2 * np.pi * sweep)
    # two gliding tones a DTMF ratio apart cross a row and a column tone together, as fast as a formant moves
    half = t[: RATE // 2]
    fast = 300 * half + (1900 - 300) / 0.5 * half**2 / 2  # 300 → 1900 Hz in 0.5 s
    double = 8000 * np.sin(2 * np.pi * fast) + 8000 * np.sin(2 * np.pi * 1.735 * fast)
    assert _detect(single) == ""
    assert _detect(double) == ""


def test_vowel_like_harmonic_signal_not_detected():
    # a pulse train at a pitch whose harmonics land on DTMF frequencies, shaped by two formants
    for pitch in (116.0, 139.4, 232.3):
        t = np.arange(RATE) / RATE
        voice = sum(
            (3000 / k) * np.sin(2 * np.pi * pitch * k * t + k) for k in range(1, int(3400 // pitch)) if pitch * k > 80
        )
        assert _detect(voice) == "", pitch


def test_music_with_harmonics_not_detected():
    # two notes exactly on 697 and 1209 Hz, with the second harmonics instruments have
    t = np.arange(RATE // 2) / RATE
    notes = sum(a * np.sin(2 * np.pi * f * t) for f, a in ((697, 6000), (1394, 3000), (1209, 6000), (2418, 3000)))
    assert _detect(notes) == ""
    assert _detect(_dtmf("1", 0.5)) == "1"


# ------------------------------------------------------------------------------------------------ SIP INFO


@pytest.mark.parametrize(
    ("content_type", "body", "digit"),
    [
        ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", "5"),
        ("Application/DTMF-Relay; charset=utf-8", "signal= #\nDuration=250", "#"),
        ("application/dtmf-relay", b"Signal=10\r\nDuration=160", "*"),
        ("application/dtmf-relay", b"Signal=11\r\n", "#"),
        ("application/dtmf-relay", b"Signal=d\r\n", "D"),
        ("application/dtmf", b"5", "5"),
        ("application/dtmf", " * \r\n", "*"),
        ("application/dtmf-relay", b"Duration=160\r\n", None),
        ("application/dtmf-relay", b"Signal=99\r\n", None),
        ("application/dtmf-relay", b"Signal=\xff\r\n", None),
        ("application/dtmf", b"55", None),
        ("text/plain", b"5", None),
        ("application/sdp", b"v=0\r\n", None),
    ],
)
def test_sip_info_bodies(content_type, body, digit):
    assert parse_sip_info_dtmf(content_type, body) == digit


@given(st.text(max_size=20), st.binary(max_size=64))
def test_sip_info_never_crashes(content_type, body):
    assert parse_sip_info_dtmf(content_type, body) in (None, *DIGITS)
    assert parse_sip_info_dtmf("application/dtmf-relay", body) in (None, *DIGITS)


# ------------------------------------------------------------------------------------------------ merged stream


def _drain(stream):
    digits = []
    while (d := stream.next_digit()) is not None:
        digits.append(d)
    return digits


def test_stream_dedupes_rfc4733_and_inband_of_one_press():
    stream = DigitStream()
    audio = np.concatenate([_silence(0.1), _dtmf("4", 0.12), _silence(0.2)])
    samples = np.rint(audio).astype(np.int16)
    sender = Rfc4733Sender()
    packets = {round(0.1 / 0.02) + k: p for k, p in enumerate(sender.packets("4", 0.12, 800))}
    for frame in range(samples.size // 160):
        now = frame * 0.02
        stream.receive_audio(samples[frame * 160 : (frame + 1) * 160], now)
        if frame in packets:
            p = packets[frame]
            stream.receive_rfc4733(p.timestamp, p.marker, p.payload, now)
    digits = _drain(stream)
    assert [(d.digit, d.source) for d in digits] == [("4", "inband")]
    assert stream.duplicates == 1


def test_stream_keeps_quick_repeats_from_both_sources():
    stream = DigitStream(dedupe_window=0.25)
    presses = [("1", 0.0), ("1", 0.2), ("2", 0.4)]
    for digit, start in presses:
        stream.push(DtmfReceived(digit, "inband", start + 0.01, start + 0.04, None))
        stream.push(DtmfReceived(digit, "rfc4733", start, start + 0.1, 0.1))
    assert [d.digit for d in _drain(stream)] == ["1", "1", "2"]
    assert stream.duplicates == 3


def test_stream_info_and_timer():
    stream = DigitStream(inband=False)
    assert stream.receive_info("application/dtmf-relay", b"Signal=9\r\nDuration=100", 1.0)
    assert not stream.receive_info("application/json", b"{}", 1.1)
    for ts, marker, payload in _press("9", 160, 2, ends=0)[:2]:
        stream.receive_rfc4733(ts, marker, payload, 1.0)
    assert stream.get_timer() == pytest.approx(1.3)
    stream.handle_timer(1.3)
    stream.receive_audio(np.zeros(160, dtype=np.int16), 1.4)  # in-band off: ignored
    assert [(d.digit, d.source) for d in _drain(stream)] == [("9", "info")]
    # the same digit much later from RFC 4733 is a new press
    for ts, marker, payload in _press("9", 16000, 2):
        stream.receive_rfc4733(ts, marker, payload, 5.0)
    assert [(d.digit, d.source) for d in _drain(stream)] == [("9", "rfc4733")]


def test_detectors_share_one_basis_per_block_size() -> None:
    from voxcenter.media.dtmf import GoertzelDetector

    first, second = GoertzelDetector(), GoertzelDetector()
    assert first._basis is second._basis and not first._basis.flags.writeable
