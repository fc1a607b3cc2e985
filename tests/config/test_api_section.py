"""The admin API section: secure by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcenter.config import ConfigError, load_config


def write(tmp_path: Path, api: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text("numbers: {}\n" + api)
    return path


def test_defaults_to_loopback_without_token(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), check_prompts=False)
    assert (config.api.enabled, config.api.address, config.api.port, config.api.token) == (True, "127.0.0.1", 8088,
                                                                                           None)


def test_listening_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "api:\n  address: 0.0.0.0\n"), check_prompts=False)
    [issue] = [i for i in caught.value.errors if i.severity == "error"]
    assert issue.line == 2 and "token" in issue.message
    config = load_config(write(tmp_path, "api:\n  address: 0.0.0.0\n  token: s3cret\n"), check_prompts=False)
    assert config.api.token == "s3cret"
