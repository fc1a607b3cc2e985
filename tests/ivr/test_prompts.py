"""The shipped prompts: every name the example dial plan, each language's sayer and the interpreter use is a
WAV file in prompts/<language>, 8 kHz mono 16-bit; the generator reproduces that format, marks what it wrote,
and never overwrites an operator's recording."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import wave
from pathlib import Path
from types import ModuleType

import pytest
from ruamel.yaml import YAML

from tests.interop.audio import spectrum, write_tone_wav
from voxcenter.config import load_config
from voxcenter.config.checks import prompt_references
from voxcenter.ivr import SYSTEM_PROMPTS, sayer_for
from voxcenter.media.prompts import PromptLibrary

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "prompts"
LANGUAGES = ("en", "fr", "pl", "lv", "ro", "hr")


def texts() -> dict[str, dict[str, str]]:
    yaml = YAML(typ="safe")
    out: dict[str, dict[str, str]] = {}
    for name in ("prompts.yaml", "sayers.yaml"):
        out.update(yaml.load((PROMPTS / name).read_text(encoding="utf-8")))
    return out


def used_names(language: str) -> set[str]:
    config = load_config(ROOT / "config" / "voxcenter.yaml", check_prompts=False)
    return {name for _, name in prompt_references(config)} | sayer_for(language).fragments | set(SYSTEM_PROMPTS)


def test_the_example_offers_every_shipped_language() -> None:
    config = load_config(ROOT / "config" / "voxcenter.yaml", check_prompts=False)
    assert set(config.prompts.languages) == set(LANGUAGES)


def assert_phone_wav(path: Path) -> None:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), path
        assert 0.1 < wav.getnframes() / 8000 < 30, path


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_prompt_has_a_text_in_its_language(language: str) -> None:
    known = texts()
    missing = sorted(name for name in used_names(language) if language not in known.get(name, {}))
    assert not missing


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_prompt_is_an_8khz_mono_wav(language: str) -> None:
    written = {name for name, per_language in texts().items() if language in per_language}
    for name in sorted(used_names(language) | written):
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


def test_an_operators_recording_replaces_a_prompt_and_survives_regeneration(tmp_path: Path) -> None:
    script = load_script()
    texts_file = tmp_path / "texts.yaml"
    texts_file.write_text('main-menu:\n  pl: "Witamy."\ngoodbye:\n  pl: "Do widzenia."\n', encoding="utf-8")
    script.SOURCES = (texts_file,)
    output = tmp_path / "prompts"
    assert script.main(["--output", str(output)]) == 0
    generated = output / "pl" / "goodbye.wav"
    assert not script.is_recording(generated) and not script.is_recording(output / "pl" / "main-menu.wav")
    # The operator records the menu with a real voice (here a tone) under the same name.
    recording = output / "pl" / "main-menu.wav"
    write_tone_wav(recording, 440.0, 1.0)
    before = generated.stat().st_mtime_ns
    assert script.main(["--output", str(output)]) == 0
    assert generated.stat().st_mtime_ns != before  # generated files are regenerated...
    assert script.is_recording(recording)  # ...the recording is kept
    played = PromptLibrary(output).load("pl", "main-menu")
    assert abs(spectrum(played.samples, 8000).dominant - 440.0) < 5
    # A recording in another format takes the generated WAV's place once that is removed.
    recording.unlink()
    flac = output / "pl" / "main-menu.flac"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(flac), "synth", "1", "sine", "660"], check=True,
                   capture_output=True)
    assert script.main(["--output", str(output)]) == 0
    assert not recording.exists()  # no WAV is written next to the recording
    assert abs(spectrum(PromptLibrary(output).load("pl", "main-menu").samples, 8000).dominant - 660.0) < 5
    assert script.main(["--output", str(output), "--check"]) == 0


def test_generated_prompts_carry_the_mark_and_stay_readable() -> None:
    script = load_script()
    for language in LANGUAGES:
        path = PROMPTS / language / "goodbye.wav"
        assert not script.is_recording(path), path
        assert_phone_wav(path)
