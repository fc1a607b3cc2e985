"""The prompt library: operators' WAV/MP3 files, decoded once to 8 kHz frames ready to send.

Files live in ``<root>/<language>/<name>.<ext>``. A prompt is decoded with PyAV and resampled **once** to
8 kHz mono s16 by FFmpeg's resampler (which low-pass filters, so content above 4 kHz is removed rather than
folded back into the voice band), cut into 20 ms frames (the last padded with silence), and kept in memory;
each codec's encoded frames are computed on first use and kept too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from voxcenter.media.codecs import Codec

SAMPLE_RATE = 8000
"""Rate of every decoded prompt."""
FRAME_SAMPLES = 160
"""Samples per 20 ms frame."""
EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg")
"""File types looked for, in this order, when a prompt name has no extension."""


class PromptError(Exception):
    """A prompt file is missing or cannot be decoded (the operator's to fix); names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        """The file, or where it was looked for."""
        self.reason = reason
        """What is wrong with it."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """One decoded prompt: 8 kHz mono int16 samples, a whole number of 20 ms frames."""

    language: str
    """The language directory it came from."""
    name: str
    """The name it was asked for."""
    path: Path
    """The file it was decoded from."""
    samples: npt.NDArray[np.int16] = field(repr=False)
    """The audio, padded with silence to a multiple of 160 samples; read-only."""
    _frames: dict[str, list[bytes]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration(self) -> float:
        """Length in seconds (including the padding of the last frame)."""
        return self.samples.size / SAMPLE_RATE

    @property
    def frame_count(self) -> int:
        """Number of 20 ms frames."""
        return self.samples.size // FRAME_SAMPLES

    def frames(self, codec: Codec) -> list[bytes]:
        """The prompt as 20 ms payloads in ``codec``, encoded on first use and cached."""
        cached = self._frames.get(codec.name)
        if cached is None:
            encoded = codec.encode(self.samples)
            cached = [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
            self._frames[codec.name] = cached
        return cached


def decode_audio_file(path: Path) -> npt.NDArray[np.int16]:
    """Decode any audio file FFmpeg reads to 8 kHz mono int16 samples; PromptError when it cannot."""
    if not path.is_file():
        raise PromptError(path, "no such file" if not path.exists() else "not a regular file")
    chunks: list[npt.NDArray[np.int16]] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise PromptError(path, "the file has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
            for out in resampler.resample(None):  # flush the resampler's filter delay
                chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
    except PromptError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PromptError(path, f"cannot decode audio: {exc}") from exc
    samples = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)
    if samples.size == 0:
        raise PromptError(path, "the file holds no audio samples")
    return samples


def pad_to_frames(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Append silence up to a whole number of 20 ms frames."""
    missing = -samples.size % FRAME_SAMPLES
    padded = np.concatenate([samples, np.zeros(missing, dtype=np.int16)]) if missing else samples.copy()
    padded.flags.writeable = False
    return padded


class PromptLibrary:
    """Prompts under ``root/<language>/``, decoded once and cached (thread-safe, so loads may run in executors)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str], Prompt] = {}
        self._lock = threading.Lock()

    def path_for(self, language: str, name: str) -> Path:
        """The file a prompt is read from; PromptError for names that would leave the library or are absent."""
        for part, what in ((language, "language"), (name, "prompt name")):
            if not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part:
                raise PromptError(self.root / language / name, f"invalid {what} {part!r}")
        directory = self.root / language
        if Path(name).suffix:
            return directory / name
        for extension in EXTENSIONS:
            candidate = directory / f"{name}{extension}"
            if candidate.is_file():
                return candidate
        raise PromptError(directory / name, f"no prompt file ({', '.join(EXTENSIONS)}) under {directory}")

    def load(self, language: str, name: str) -> Prompt:
        """The prompt, decoding it on first use (blocking: from the event loop use ``load_async``)."""
        key = (language, name)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        path = self.path_for(language, name)
        prompt = Prompt(language, name, path, pad_to_frames(decode_audio_file(path)))
        with self._lock:
            return self._cache.setdefault(key, prompt)

    def cached(self, language: str, name: str) -> Prompt | None:
        """The prompt if it is already decoded, without touching the disk."""
        with self._lock:
            return self._cache.get((language, name))

    async def load_async(self, language: str, name: str) -> Prompt:
        """``load`` off the event loop (in the default executor) unless the prompt is already cached."""
        cached = self.cached(language, name)
        if cached is not None:
            return cached
        return await asyncio.get_running_loop().run_in_executor(None, self.load, language, name)

    def validate(self, names_by_language: Mapping[str, Iterable[str]]) -> list[PromptError]:
        """Load every prompt the configuration names; the errors found (empty when all are playable)."""
        errors: list[PromptError] = []
        for language, names in names_by_language.items():
            for name in names:
                try:
                    self.load(language, name)
                except PromptError as exc:
                    errors.append(exc)
        return errors

    def clear(self) -> None:
        """Forget decoded prompts, e.g. after operators replaced files and the configuration was reloaded."""
        with self._lock:
            self._cache.clear()
