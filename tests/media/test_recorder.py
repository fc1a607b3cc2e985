"""Stereo recorder: alignment under loss, jitter and wrap-around; pause; block writes; crash repair; compression."""

from __future__ import annotations

import errno
import hashlib
import shutil
import tempfile
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.media.codecs import PCMA, PCMU, Codec
from voxcenter.media.recorder import CallRecorder, compress, repair_recordings

RATE = 8000
FRAME = 160


def read_wav(path):
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return data[:, 0], data[:, 1]


def bursts(seconds, starts, *, frequency=1000.0, length=0.2, amplitude=8000):
    """Audio with tone bursts at the given start times and silence elsewhere."""
    signal = np.zeros(round(seconds * RATE))
    t = np.arange(round(length * RATE)) / RATE
    for start in starts:
        at = round(start * RATE)
        signal[at : at + t.size] = amplitude * np.cos(2 * np.pi * frequency * t)
    return signal.astype(np.int16)


def onsets(channel, threshold=2000):
    """Sample indexes where a burst begins (first loud sample after at least 50 ms of quiet)."""
    loud = np.flatnonzero(np.abs(channel.astype(np.int32)) > threshold)
    return [int(i) for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > 400]


def packets(audio, codec, *, first_timestamp, start_time, rng, jitter=0.0, loss=0.0, keep=()):
    """(arrival time, timestamp, payload) of 20 ms packets, shuffled by arrival, with random loss."""
    out = []
    for k in range(audio.size // FRAME):
        if k not in keep and k > 0 and rng.random() < loss:
            continue
        arrival = start_time + k * 0.02 + (rng.uniform(0, jitter) if k > 0 else 0.0)
        payload = codec.encode(audio[k * FRAME : (k + 1) * FRAME])
        out.append((arrival, (first_timestamp + k * FRAME) & 0xFFFFFFFF, payload))
    return out


def test_channels_stay_aligned_under_loss_jitter_and_wraparound(tmp_path):
    rng = np.random.default_rng(7)
    burst_times = [1.0, 2.5, 4.0]
    caller_audio = bursts(5.0, burst_times)
    agent_audio = bursts(5.0 - 0.5, [t - 0.5 for t in burst_times], frequency=600)  # agent joins 0.5 s later
    keep_caller = {round(t / 0.02) for t in burst_times}
    keep_agent = {round((t - 0.5) / 0.02) for t in burst_times}
    stream = [
        ("caller", PCMU, *p)
        for p in packets(
            caller_audio,
            PCMU,
            first_timestamp=0xFFFFF000,
            start_time=0.0,
            rng=rng,
            jitter=0.04,
            loss=0.05,
            keep=keep_caller,
        )
    ]
    stream += [
        ("agent", PCMA, *p)
        for p in packets(
            agent_audio, PCMA, first_timestamp=123456, start_time=0.5, rng=rng, jitter=0.04, loss=0.05, keep=keep_agent
        )
    ]
    stream.sort(key=lambda item: item[2])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    for channel, codec, arrival, timestamp, payload in stream:
        recorder.write(channel, timestamp, payload, codec, now=arrival)
    assert not (tmp_path / "call.wav").exists() and (tmp_path / "call.wav.part").exists()
    info = recorder.close(now=5.0)
    assert recorder.late == 0
    caller, agent = read_wav(info.path)
    assert caller.size == agent.size == 5 * RATE
    expected = [round(t * RATE) for t in burst_times]
    assert onsets(caller) == expected
    assert onsets(agent) == expected
    # the sine itself survived placement: a 1 kHz burst on the left, 600 Hz on the right
    window = slice(expected[1] + 200, expected[1] + 1200)
    for channel, frequency in ((caller, 1000), (agent, 600)):
        spectrum = np.abs(np.fft.rfft(channel[window]))
        assert np.fft.rfftfreq(1000, 1 / RATE)[np.argmax(spectrum)] == pytest.approx(frequency, abs=10)


def test_jitter_on_the_first_packet_shifts_a_channel_but_never_drifts(tmp_path):
    rng = np.random.default_rng(11)
    audio = bursts(3.0, [0.5, 2.5])
    recorder = CallRecorder(tmp_path / "call.wav", now=10.0)
    stream = [("caller", *p) for p in packets(audio, PCMU, first_timestamp=0, start_time=10.0, rng=rng, jitter=0.03)]
    late_first = packets(audio, PCMU, first_timestamp=999, start_time=10.0, rng=rng, jitter=0.03)
    late_first[0] = (10.025, *late_first[0][1:])  # the agent's first packet was 25 ms late
    stream += [("agent", *p) for p in late_first]
    for channel, arrival, timestamp, payload in sorted(stream, key=lambda item: item[1]):
        recorder.write(channel, timestamp, payload, PCMU, now=arrival)
    caller, agent = read_wav(recorder.close().path)
    shift = [a - c for c, a in zip(onsets(caller), onsets(agent), strict=True)]
    assert shift == [200, 200]  # 25 ms, the same at the start and 2 s later


def test_without_wall_clock_a_channel_starts_where_the_other_one_is(tmp_path):
    audio = bursts(2.0, [1.5])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    for k in range(100):
        recorder.write("caller", 5000 + k * FRAME, PCMU.encode(audio[k * FRAME : (k + 1) * FRAME]), PCMU)
        if k >= 50:  # the agent's first packet comes with the caller's 51st
            j = k - 50
            recorder.write("agent", 77 + j * FRAME, PCMU.encode(audio[(j + 50) * FRAME : (j + 51) * FRAME]), PCMU)
    caller, agent = read_wav(recorder.close().path)
    assert onsets(caller) == [12000]
    assert abs(onsets(agent)[0] - 12000) <= FRAME


def test_sender_clock_drift_is_followed(tmp_path):
    # the agent's phone clock runs 1 % slow: its packets carry 20 ms of audio but arrive every 20.2 ms
    audio = bursts(12.0, [1.0, 11.0])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    stream = [(k * 0.02, "caller", k * FRAME, k) for k in range(600)]
    stream += [(k * 0.0202, "agent", 5555 + k * FRAME, k) for k in range(600)]
    for now, channel, timestamp, k in sorted(stream):
        recorder.write(channel, timestamp, PCMU.encode(audio[k * FRAME : (k + 1) * FRAME]), PCMU, now=now)
    caller, agent = read_wav(recorder.close().path)
    assert recorder.late == 0 and recorder.drift_corrections >= 1
    assert onsets(caller) == [8000, 88000]
    first, last = onsets(agent)
    assert first == 8000
    assert abs(last - 88000 * 1.01) <= 0.07 * RATE  # follows the sender's clock within half the window


def test_reordering_late_packets_and_timestamp_reset(tmp_path):
    audio = bursts(2.0, [0.3, 1.7])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0, reorder_window=0.1)
    frames = [PCMU.encode(audio[k * FRAME : (k + 1) * FRAME]) for k in range(100)]
    order = list(range(100))
    order[10], order[12] = order[12], order[10]  # reordered within the window: kept
    straggler = order.pop(20)
    order.insert(60, straggler)  # 0.8 s late: its place is written already
    for k in order:
        recorder.write("caller", 1000 + k * FRAME, frames[k], PCMU, now=k * 0.02 + (0.8 if k == straggler else 0))
    # the sender restarts its timestamps: placed by the wall clock again
    restart = bursts(0.4, [0.1])
    for k in range(20):
        recorder.write("agent", 0, b"", PCMU, now=0.0)  # empty payloads are ignored
        recorder.write(
            "caller", 7 + k * FRAME, PCMU.encode(restart[k * FRAME : (k + 1) * FRAME]), PCMU, now=3 + k * 0.02
        )
    assert recorder.late == 1
    caller, agent = read_wav(recorder.close().path)
    assert onsets(caller) == [2400, 13600, 24800]
    assert not caller[160 * 20 : 160 * 21].any()  # the late frame is silence
    assert not agent.any()


def test_pause_records_silence_on_both_channels(tmp_path):
    tone = bursts(3.0, [0.0], length=3.0)
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    for k in range(150):
        now = k * 0.02
        if k == 50:
            recorder.pause(now)
            recorder.pause(now + 0.5)  # a second pause while paused changes nothing
            assert recorder.paused
        if k == 100:
            recorder.resume(now)
            assert not recorder.paused
        for channel in ("caller", "agent"):
            recorder.write(channel, k * FRAME, PCMA.encode(tone[k * FRAME : (k + 1) * FRAME]), PCMA, now=now)
    caller, agent = read_wav(recorder.close(now=3.0).path)
    for channel in (caller, agent):
        assert not channel[8000:16000].any()
        assert np.abs(channel[100:7900].astype(int)).max() > 7000
        assert np.abs(channel[16100:23900].astype(int)).max() > 7000


def test_close_reports_the_file(tmp_path):
    recorder = CallRecorder(tmp_path / "a" / "call.wav", now=0.0)
    for k in range(25):
        recorder.write("caller", k * FRAME, PCMU.silence(FRAME), PCMU, now=k * 0.02)
    info = recorder.close()
    data = info.path.read_bytes()
    assert info.path == tmp_path / "a" / "call.wav"
    assert info.size == len(data) == 44 + 25 * FRAME * 4
    assert info.duration == pytest.approx(0.5)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert not info.truncated
    with pytest.raises(RuntimeError):
        recorder.close()
    recorder.write("caller", 0, b"\xff", PCMU)  # a tap firing after close is ignored
    with pytest.raises(ValueError):
        CallRecorder(tmp_path / "b.wav", now=0.0).write("supervisor", 0, b"\xff", PCMU)  # type: ignore[arg-type]


def test_header_sizes_follow_the_audio_while_recording(tmp_path):
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0, header_interval=1.0)
    for k in range(175):  # 3.5 s
        recorder.write("caller", k * FRAME, PCMU.silence(FRAME), PCMU, now=k * 0.02)
    with wave.open(str(recorder.partial_path), "rb") as wav:
        assert 2.0 <= wav.getnframes() / RATE <= recorder.duration <= 3.5
    recorder.close()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    packets_per_channel=st.integers(1, 120),
    agent_start=st.floats(0.0, 1.0),
    block=st.floats(0.02, 1.5),
    first_block=st.floats(0.01, 1.0),
    switch_at=st.integers(0, 130),
)
def test_blocks_hold_every_packet_in_its_place(seed, packets_per_channel, agent_start, block, first_block, switch_at):
    """Whatever the block size and phase, loss, reordering within the window and a codec change mid-call:
    each kept payload decodes to its RTP place, everything else is exact silence."""
    rng = np.random.default_rng(seed)
    plan = []  # (arrival, channel, timestamp, payload, codec, place)
    for channel, start in (("caller", 0.0), ("agent", agent_start)):
        first_timestamp = int(rng.integers(0, 2**32))
        place0 = round(start * RATE)
        for k in range(packets_per_channel):
            if k and rng.random() < 0.1:
                continue  # lost
            codec = PCMA if channel == "caller" and k >= switch_at else PCMU if channel == "caller" else PCMA
            payload = rng.integers(0, 256, FRAME, dtype=np.uint8).tobytes()
            arrival = start + k * 0.02 + (rng.uniform(0, 0.05) if k else 0.0)  # jitter well inside the window
            timestamp = (first_timestamp + k * FRAME) & 0xFFFFFFFF
            plan.append((arrival, channel, timestamp, payload, codec, place0 + k * FRAME))
    plan.sort(key=lambda item: item[0])
    with tempfile.TemporaryDirectory() as directory:
        recorder = CallRecorder(Path(directory) / "call.wav", now=0.0, block=block, first_block=first_block)
        for arrival, channel, timestamp, payload, codec, _ in plan:
            recorder.write(channel, timestamp, payload, codec, now=arrival)
        caller, agent = read_wav(recorder.close().path)
    assert recorder.late == 0 and recorder.drift_corrections == 0
    expected = {"caller": np.zeros(caller.size, dtype=np.int16), "agent": np.zeros(agent.size, dtype=np.int16)}
    for _, channel, _, payload, codec, place in plan:
        expected[channel][place : place + FRAME] = codec.decode(payload)
    assert caller.size == max(place + FRAME for *_, place in plan)
    assert np.array_equal(caller, expected["caller"]) and np.array_equal(agent, expected["agent"])


def test_first_block_is_cut_short_so_recorders_started_together_write_apart(tmp_path):
    """Blocks are written once a block of audio has left the reorder window (0.12 s); the first one is shortened
    by ``first_block``, and the default draws it at random. The header follows once a second of audio."""
    recorders = [
        CallRecorder(tmp_path / f"{fraction}.wav", now=0.0, block=1.0, first_block=fraction) for fraction in (0.25, 1.0)
    ]
    written_at: dict[float, list[float]] = {0.25: [], 1.0: []}
    claimed: dict[float, list[int]] = {0.25: [], 1.0: []}
    for k in range(150):
        for fraction, recorder in zip((0.25, 1.0), recorders, strict=True):
            before = recorder.duration
            recorder.write("caller", k * FRAME, PCMU.silence(FRAME), PCMU, now=k * 0.02)
            if recorder.duration != before:
                written_at[fraction].append(round(k * 0.02, 2))
                with wave.open(str(recorder.partial_path), "rb") as wav:
                    claimed[fraction].append(wav.getnframes())
    assert written_at == {0.25: [0.38, 1.38, 2.38], 1.0: [1.12, 2.12]}
    assert claimed == {0.25: [0, 10080, 18080], 1.0: [8000, 16000]}
    for recorder in recorders:
        assert recorder.close(now=3.0).duration == 3.0
    phases = set()
    for n in range(8):
        recorder = CallRecorder(tmp_path / f"random-{n}.wav", now=0.0)
        k = 0
        while recorder.duration == 0:
            recorder.write("agent", k * FRAME, PCMA.silence(FRAME), PCMA, now=k * 0.02)
            k += 1
        phases.add(k)
        assert 0.0 < recorder.duration <= 1.0
        recorder.close()
    assert len(phases) > 1


def test_lateness_depends_on_the_window_not_on_when_blocks_are_written(tmp_path):
    for block in (0.2, 5.0):
        recorder = CallRecorder(tmp_path / f"{block}.wav", now=0.0, block=block, first_block=1.0)
        for k in range(50):
            recorder.write("caller", k * FRAME, PCMU.silence(FRAME), PCMU, now=k * 0.02)
        recorder.write("caller", 40 * FRAME - 1, b"\x00" * FRAME, PCMU, now=1.0)  # 0.2 s late: outside the window
        recorder.write("caller", 45 * FRAME - 1, b"\x00" * FRAME, PCMU, now=1.0)  # 0.1 s late: inside
        assert recorder.late == 1
        caller, _ = read_wav(recorder.close().path)
        assert not caller[: 45 * FRAME - 1].any() and caller[45 * FRAME - 1 : 46 * FRAME - 1].all()


def test_codec_clock_other_than_8khz_is_placed_exactly(tmp_path):
    wideband = Codec("TEST16", 96, 16000, PCMU.silence_code, PCMU.decode_table, PCMU.encode_table)
    audio = bursts(2.0, [0.5, 1.5])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    for k in range(100):  # 20 ms of 8 kHz audio per packet, timestamps on a 16 kHz clock, wrapping
        timestamp = (0xFFFFFC00 + k * 2 * FRAME) & 0xFFFFFFFF
        recorder.write("agent", timestamp, PCMU.encode(audio[k * FRAME : (k + 1) * FRAME]), wideband, now=k * 0.02)
    _, agent = read_wav(recorder.close().path)
    assert onsets(agent) == [4000, 12000]


class _DiskThatFills:
    """A recording file whose writes fail with ENOSPC once ``full`` is set."""

    def __init__(self, file):
        self.file = file
        self.full = False

    def write(self, data):
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_failed_write_stops_the_recording_and_keeps_what_was_written(tmp_path):
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0, block=0.5, first_block=1.0)
    disk = recorder._file = _DiskThatFills(recorder._file)
    for k in range(100):
        if k == 60:
            disk.full = True
        recorder.write("caller", k * FRAME, PCMU.silence(FRAME), PCMU, now=k * 0.02)  # never raises into the bridge
    assert isinstance(recorder.error, OSError) and recorder.error.errno == errno.ENOSPC
    assert recorder.duration == 1.0  # the blocks before the disk filled
    info = recorder.close(now=2.0)
    assert info.truncated and info.duration == 1.0 and info.path.exists()


def test_bad_settings_are_refused(tmp_path):
    for settings_ in ({"block": 0}, {"reorder_window": -1}, {"first_block": 0.0}, {"first_block": 1.5}):
        with pytest.raises(ValueError, match="CallRecorder"):
            CallRecorder(tmp_path / "call.wav", now=0.0, **settings_)


def crash_copy(tmp_path, seconds, *, cut_bytes=0):
    """Record ``seconds`` of audio and keep a copy of the partial file as a crash would leave it."""
    audio = bursts(seconds, [0.1], length=seconds - 0.2)
    # 0.2 s blocks from the start and a header rewritten once a second: the 0.6 s copy holds audio that its
    # header does not claim yet
    recorder = CallRecorder(tmp_path / "rec" / "call.wav", now=0.0, block=0.2, first_block=1.0)
    for k in range(audio.size // FRAME):
        payload = PCMU.encode(audio[k * FRAME : (k + 1) * FRAME])
        recorder.write("caller", k * FRAME, payload, PCMU, now=k * 0.02)
        recorder.write("agent", k * FRAME, payload, PCMU, now=k * 0.02)
    recorder._file.flush()  # what the OS holds at the moment of the crash
    snapshot = tmp_path / "snapshot"
    shutil.copyfile(recorder.partial_path, snapshot)
    recorder.close().path.unlink()
    data = snapshot.read_bytes()
    (tmp_path / "rec" / "call.wav.part").write_bytes(data[: len(data) - cut_bytes])
    return len(data) - cut_bytes


@pytest.mark.parametrize(("seconds", "cut"), [(2.5, 3), (0.6, 0)])
def test_crash_repair(tmp_path, seconds, cut):
    length = crash_copy(tmp_path, seconds, cut_bytes=cut)
    (tmp_path / "rec" / "junk.wav.part").write_bytes(b"not a wav at all")
    repaired = repair_recordings(tmp_path)
    assert [info.path.name for info in repaired] == ["call.wav"]
    info = repaired[0]
    assert info.truncated
    frames = (length - 44) // 4
    assert info.size == 44 + frames * 4 and info.duration == pytest.approx(frames / RATE)
    assert (tmp_path / "rec" / "call.wav.truncated").read_text().startswith("recording cut short")
    assert not (tmp_path / "rec" / "call.wav.part").exists()
    assert (tmp_path / "rec" / "junk.wav.part").exists()  # unreadable: left alone
    caller, agent = read_wav(info.path)
    assert caller.size == frames and np.array_equal(caller, agent)
    assert np.abs(caller[1000:3000].astype(int)).max() > 7000
    with av.open(str(info.path)) as container:
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert decoded == frames
    assert repair_recordings(tmp_path) == []  # nothing left to repair


async def test_compress_to_flac_is_lossless_and_opus_decodes(tmp_path):
    audio = bursts(1.0, [0.2])
    recorder = CallRecorder(tmp_path / "call.wav", now=0.0)
    for k in range(50):
        recorder.write("caller", k * FRAME, PCMU.encode(audio[k * FRAME : (k + 1) * FRAME]), PCMU, now=k * 0.02)
    info = await recorder.close_async()
    caller, _agent = read_wav(info.path)
    flac = await compress(info, "flac")
    assert flac.path.suffix == ".flac" and flac.size < info.size and flac.duration == info.duration
    with av.open(str(flac.path)) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert np.array_equal(decoded.reshape(-1, 2)[:, 0], caller)
    opus = await compress(info, "opus", remove_wav=True)
    assert not info.path.exists() and opus.path.suffix == ".opus"
    with av.open(str(opus.path)) as container:
        assert sum(f.samples / f.sample_rate for f in container.decode(audio=0)) == pytest.approx(1.0, abs=0.05)


def test_compress_to_mp3_and_flac(tmp_path: Path) -> None:
    import av

    from voxcenter.media.recorder import compress_sync

    recorder = CallRecorder(tmp_path / "call.wav", 0.0)
    for i in range(100):
        recorder.write("caller", i * 160, bytes([0x10]) * 160, PCMU, now=i * 0.02)
        recorder.write("agent", i * 160, bytes([0x90]) * 160, PCMU, now=i * 0.02)
    info = recorder.close(now=2.0)
    for fmt, suffix in (("mp3", ".mp3"), ("flac", ".flac")):
        packed = compress_sync(info, fmt)
        assert packed.path.suffix == suffix and packed.size > 0
        with av.open(str(packed.path)) as container:
            assert container.streams.audio[0].channels == 2
