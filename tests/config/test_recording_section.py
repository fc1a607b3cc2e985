"""The recording section as ``voxcenter check`` sees it: a key file that is not a key, codes an agent could
never key, a relative key file next to the dial plan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voxcenter.config import ConfigError, load_config


def write(tmp_path: Path, recording: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text("numbers: {}\nrecording:\n" + recording)
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_prompts=False)
    return [issue.message for issue in caught.value.errors if issue.severity == "error"]


def test_a_key_file_must_hold_a_key(tmp_path: Path) -> None:
    assert any("No such file" in e for e in errors(write(tmp_path, "  key_file: missing.key\n")))
    (tmp_path / "short.key").write_text("abcd")
    assert any("32 bytes" in e for e in errors(write(tmp_path, "  key_file: short.key\n")))
    (tmp_path / "good.key").write_text(os.urandom(32).hex())
    config = load_config(write(tmp_path, "  key_file: good.key\n"), check_prompts=False)
    assert config.recording.key_file == tmp_path / "good.key"  # relative to the dial plan


def test_codes_that_hide_one_another_are_refused(tmp_path: Path) -> None:
    found = errors(write(tmp_path, "  pause_code: '*3'\n"))
    assert found == ["recording.pause_code *3 overlaps transfers.conference *3: the agent could never key the "
                     "longer one"]
    found = errors(write(tmp_path, "  pause_code: '*1'\n  resume_code: '*12'\n"))
    assert found == ["recording.pause_code *1 overlaps recording.resume_code *12: the agent could never key the "
                     "longer one"]
    assert errors(write(tmp_path, "  pause_code: '*1'\n  resume_code: '*1'\n"))
    load_config(write(tmp_path, "  pause_code: '*7'\n  resume_code: null\n"), check_prompts=False)
