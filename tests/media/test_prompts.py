"""Prompt library: files generated with PyAV, resampled once to 8 kHz without aliasing, cached per codec."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from voxcenter.media.codecs import PCMA, PCMU
from voxcenter.media.prompts import PromptError, PromptLibrary


def write_tone(path: Path, *, rate: int, channels: int, frequency: float, seconds: float, codec: str) -> None:
    """Write a sine tone (same on every channel) with PyAV."""
    t = np.arange(round(rate * seconds)) / rate
    mono = (8000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        sample_format = "s16p" if codec == "libmp3lame" else "s16"
        chunk = 1152
        for start in range(0, mono.size, chunk):
            piece = mono[start : start + chunk]
            if sample_format == "s16p":
                data = np.tile(piece, (channels, 1))
            else:
                data = np.repeat(piece, channels).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=sample_format, layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def peak_frequency_and_level(samples: np.ndarray) -> tuple[float, float]:
    """Strongest frequency (Hz) of 8 kHz audio and its RMS level."""
    body = samples[800:-800].astype(np.float64)  # skip resampler edges
    spectrum = np.abs(np.fft.rfft(body * np.hanning(body.size)))
    frequencies = np.fft.rfftfreq(body.size, 1 / 8000)
    return float(frequencies[int(np.argmax(spectrum))]), float(np.sqrt(np.mean(body**2)))


def band_level(samples: np.ndarray, low: float, high: float) -> float:
    body = samples[800:-800].astype(np.float64)
    spectrum = np.fft.rfft(body)
    frequencies = np.fft.rfftfreq(body.size, 1 / 8000)
    band = spectrum[(frequencies >= low) & (frequencies <= high)]
    return float(np.sqrt(np.sum(np.abs(band) ** 2) * 2) / body.size)


@pytest.fixture
def library(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "fr").mkdir()
    write_tone(tmp_path / "en" / "tone1k.wav", rate=44100, channels=2, frequency=1000, seconds=0.5, codec="pcm_s16le")
    write_tone(tmp_path / "en" / "high.wav", rate=44100, channels=2, frequency=6000, seconds=0.5, codec="pcm_s16le")
    write_tone(tmp_path / "fr" / "bonjour.wav", rate=16000, channels=1, frequency=440, seconds=0.3, codec="pcm_s16le")
    write_tone(tmp_path / "fr" / "music.mp3", rate=44100, channels=2, frequency=1500, seconds=0.6, codec="libmp3lame")
    (tmp_path / "en" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    return PromptLibrary(tmp_path)


def test_44k_stereo_wav_keeps_its_frequency(library):
    prompt = library.load("en", "tone1k")
    assert prompt.samples.dtype == np.int16 and prompt.samples.size % 160 == 0
    assert prompt.duration == pytest.approx(0.5, abs=0.021)
    frequency, level = peak_frequency_and_level(prompt.samples)
    assert frequency == pytest.approx(1000, abs=10)
    assert level == pytest.approx(8000 / np.sqrt(2), rel=0.1)


def test_tone_above_nyquist_is_removed_not_aliased(library):
    prompt = library.load("en", "high")
    tone_level = 8000 / np.sqrt(2)
    # a 6 kHz tone folded at 8 kHz would appear at 2 kHz
    assert band_level(prompt.samples, 1900, 2100) < tone_level / 100
    assert np.sqrt(np.mean(prompt.samples[800:-800].astype(np.float64) ** 2)) < tone_level / 30


def test_16k_mono_wav_and_mp3(library):
    bonjour = library.load("fr", "bonjour")
    assert peak_frequency_and_level(bonjour.samples)[0] == pytest.approx(440, abs=10)
    music = library.load("fr", "music")  # found by trying the extensions in turn
    assert music.path.suffix == ".mp3"
    assert peak_frequency_and_level(music.samples)[0] == pytest.approx(1500, abs=10)


def test_frames_per_codec_are_cached_and_padded(library):
    prompt = library.load("fr", "bonjour")
    frames = prompt.frames(PCMU)
    assert len(frames) == prompt.frame_count == prompt.samples.size // 160
    assert all(len(frame) == 160 for frame in frames)
    assert prompt.frames(PCMU) is frames
    assert prompt.frames(PCMA) is not frames
    assert b"".join(prompt.frames(PCMA)) == PCMA.encode(prompt.samples)
    # 0.3 s at 8 kHz is 2400 samples = 15 frames; whatever the resampler's tail, the padding is silence
    assert prompt.frame_count in (15, 16)
    assert library.load("fr", "bonjour") is prompt


def test_missing_broken_and_hostile_names(library, tmp_path):
    with pytest.raises(PromptError) as missing:
        library.load("en", "nothing")
    assert "nothing" in str(missing.value) and missing.value.path.parent == tmp_path / "en"
    with pytest.raises(PromptError) as broken:
        library.load("en", "broken.wav")
    assert broken.value.path == tmp_path / "en" / "broken.wav" and "decode" in broken.value.reason
    with pytest.raises(PromptError, match="invalid prompt name"):
        library.load("en", "../fr/bonjour")
    with pytest.raises(PromptError, match="invalid language"):
        library.load("..", "x")
    with pytest.raises(PromptError, match="no such file"):
        library.load("de", "hallo.wav")


def test_validate_lists_every_problem(library):
    errors = library.validate({"en": ["tone1k", "nothing", "broken.wav"], "fr": ["bonjour"], "de": ["hallo"]})
    assert sorted(error.path.name for error in errors) == ["broken.wav", "hallo", "nothing"]
    assert library.cached("en", "tone1k") is not None


async def test_load_async_runs_off_the_loop_and_caches(library):
    prompt = await library.load_async("fr", "bonjour")
    assert await library.load_async("fr", "bonjour") is prompt
    with pytest.raises(PromptError):
        await library.load_async("fr", "absent")
    library.clear()
    assert library.cached("fr", "bonjour") is None
