"""Audio utilities for the media integration tests: tone WAVs in, dominant frequencies out.

The checks look at *frequency content*, not length: a recording that holds the
right number of seconds of silence or of the wrong party's voice must fail.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000


@dataclass(frozen=True, slots=True)
class Spectrum:
    """What one channel of a recording holds."""

    dominant: float
    """Frequency (Hz) of the strongest FFT bin, DC excluded."""
    peak_share: float
    """Share of the channel's energy (DC excluded) within ±``band`` Hz of ``dominant``: near 1 for a clean tone."""
    rms: float
    """Root mean square of the samples (int16 scale): 0 for digital silence."""


def write_tone_wav(path: Path, frequency: float, seconds: float, *, amplitude: float = 0.4,
                   rate: int = SAMPLE_RATE) -> Path:
    """A mono 16-bit WAV holding a sine of ``frequency`` Hz (what an aufile source or a prompt plays)."""
    samples = tone(frequency, seconds, amplitude=amplitude, rate=rate).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


def tone(frequency: float, seconds: float, *, amplitude: float = 0.4, rate: int = SAMPLE_RATE) -> npt.NDArray[np.int16]:
    """Sine samples as int16."""
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


_KEYPAD_ROWS = ("123A", "456B", "789C", "*0#D")
_ROW_HZ = (697.0, 770.0, 852.0, 941.0)
_COLUMN_HZ = (1209.0, 1336.0, 1477.0, 1633.0)


def dtmf_tones(digits: str, *, first_at: float = 0.3, press: float = 0.12, gap: float = 0.15,
               tail: float = 0.3, amplitude: float = 0.2, rate: int = SAMPLE_RATE) -> npt.NDArray[np.int16]:
    """In-band key presses (ITU-T Q.23 frequency pairs, each sine at ``amplitude`` of full scale) in silence."""
    pieces = [np.zeros(round(first_at * rate), dtype=np.float64)]
    t = np.arange(round(press * rate), dtype=np.float64) / rate
    for digit in digits:
        row = next((i for i, keys in enumerate(_KEYPAD_ROWS) if digit.upper() in keys), None)
        if row is None:
            raise ValueError(f"{digit!r} is not a DTMF key")
        column = _KEYPAD_ROWS[row].index(digit.upper())
        pieces.append(amplitude * 32767 * (np.sin(2 * np.pi * _ROW_HZ[row] * t)
                                           + np.sin(2 * np.pi * _COLUMN_HZ[column] * t)))
        pieces.append(np.zeros(round(gap * rate), dtype=np.float64))
    pieces.append(np.zeros(round(tail * rate), dtype=np.float64))
    return np.round(np.concatenate(pieces)).astype(np.int16)


def read_wav(path: Path) -> tuple[int, npt.NDArray[np.int16]]:
    """(sample rate, samples shaped (channels, frames)) of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * handle.getsampwidth()}-bit samples")
        channels = handle.getnchannels()
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    frames = data.size // channels
    return rate, data[: frames * channels].reshape(frames, channels).T.astype(np.int16)


def band_share(samples: npt.ArrayLike, rate: int, frequency: float, band: float = 40.0) -> float:
    """Share of the energy (DC excluded) within ±``band`` Hz of ``frequency``; 0 for silence."""
    power, freqs = _power(samples, rate)
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    return float(power[np.abs(freqs - frequency) <= band].sum()) / total


def spectrum(samples: npt.ArrayLike, rate: int, band: float = 40.0) -> Spectrum:
    """Dominant frequency, how clean it is, and the level of one channel."""
    values = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(values**2))) if values.size else 0.0
    power, freqs = _power(values, rate)
    if power.size == 0 or float(power.sum()) <= 0.0:
        return Spectrum(0.0, 0.0, rms)
    dominant = float(freqs[int(np.argmax(power))])
    share = float(power[np.abs(freqs - dominant) <= band].sum()) / float(power.sum())
    return Spectrum(dominant, share, rms)


def wav_spectra(path: Path, *, skip: float = 0.0) -> list[Spectrum]:
    """One :class:`Spectrum` per channel of a WAV file, ignoring its first ``skip`` seconds."""
    rate, channels = read_wav(path)
    start = round(skip * rate)
    return [spectrum(channel[start:], rate) for channel in channels]


def _power(samples: npt.ArrayLike, rate: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    values = np.asarray(samples, dtype=np.float64)
    if values.size < 2:
        return np.zeros(0), np.zeros(0)
    windowed = (values - values.mean()) * np.hanning(values.size)
    power: npt.NDArray[np.float64] = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(values.size, 1.0 / rate).astype(np.float64)
    power[freqs < 20.0] = 0.0  # DC and rumble say nothing about who spoke
    return power, freqs


@dataclass(frozen=True, slots=True)
class Match:
    """Where a known sound lies in a longer recording."""

    offset: int
    """First sample of the best fit in the recording."""
    score: float
    """Normalized cross-correlation at that offset: 1.0 for an exact copy, near 0 for unrelated audio."""
    length: int
    """Samples of the sound looked for."""

    @property
    def end(self) -> int:
        """The sample after the match."""
        return self.offset + self.length


def locate(recording: npt.ArrayLike, sound: npt.ArrayLike) -> Match:
    """Find ``sound`` in ``recording`` by normalized cross-correlation (FFT), whatever its level."""
    x = np.asarray(recording, dtype=np.float64)
    t = np.asarray(sound, dtype=np.float64)
    if t.size == 0 or x.size < t.size:
        return Match(0, 0.0, t.size)
    size = 1 << int(np.ceil(np.log2(x.size + t.size)))
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(t, size)), size)[: x.size - t.size + 1]
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    window = np.sqrt(np.maximum(energy[t.size:] - energy[: x.size - t.size + 1], 0.0))
    score = corr / (window * float(np.linalg.norm(t)) + 1e-9)
    best = int(np.argmax(score))
    return Match(best, float(score[best]), t.size)
