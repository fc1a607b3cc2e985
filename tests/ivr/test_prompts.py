"""The shipped prompts: every name the example dial plan, the sayers and the interpreter use is a WAV file
in prompts/en and prompts/fr, 8 kHz mono 16-bit, and the generator reproduces that format."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import wave
from pathlib import Path
from types import ModuleType

import pytest
from ruamel.yaml import YAML

from voxcenter.config import load_config
from voxcenter.config.checks import prompt_references
from voxcenter.ivr import ALL_FRAGMENTS, SYSTEM_PROMPTS

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "prompts"
LANGUAGES = ("en", "fr")


def texts() -> dict[str, dict[str, str]]:
    yaml = YAML(typ="safe")
    out: dict[str, dict[str, str]] = {}
    for name in ("prompts.yaml", "sayers.yaml"):
        out.update(yaml.load((PROMPTS / name).read_text(encoding="utf-8")))
    return out


def used_names() -> set[str]:
    config = load_config(ROOT / "config" / "voxcenter.yaml", check_prompts=False)
    return {name for _, name in prompt_references(config)} | set(ALL_FRAGMENTS) | set(SYSTEM_PROMPTS)


def assert_phone_wav(path: Path) -> None:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), path
        assert 0.1 < wav.getnframes() / 8000 < 30, path


def test_every_used_prompt_has_a_text_in_both_languages() -> None:
    known = texts()
    missing = sorted(name for name in used_names() if name not in known)
    assert not missing
    for name in used_names():
        assert set(LANGUAGES) <= set(known[name]), name


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_prompt_is_an_8khz_mono_wav(language: str) -> None:
    for name in sorted(used_names() | set(texts())):
        assert_phone_wav(PROMPTS / language / f"{name}.wav")


def test_generator_check_finds_nothing_missing() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "make-prompts"), "--check"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def load_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("make_prompts", str(ROOT / "scripts" / "make-prompts"))
    spec = importlib.util.spec_from_loader("make_prompts", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_generator_makes_trimmed_phone_wavs(tmp_path: Path) -> None:
    script = load_script()
    target = tmp_path / "fr" / "num-71.wav"
    script.synthesize("soixante et onze", "fr", target, "fr-fr")
    assert_phone_wav(target)
    with wave.open(str(target), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
    samples = memoryview(frames).cast("h")
    peak = max(abs(s) for s in samples)
    assert 0.6 * 32767 < peak < 0.75 * 32767  # normalized to -3 dBFS
    lead = next(i for i, s in enumerate(samples) if abs(s) > 0.05 * peak)
    assert lead < 0.2 * 8000  # leading silence trimmed to a few tens of ms


def test_generator_refuses_a_broken_text_file(tmp_path: Path) -> None:
    script = load_script()
    bad = tmp_path / "bad.yaml"
    bad.write_text("hello:\n  en: ''\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="non-empty texts"):
        script.load_texts((bad,))
