"""Each broken dial plan under broken/ gives exactly the problems listed in its .expected file."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcenter.config import ConfigError, analyse, load_config

BROKEN = Path(__file__).parent / "broken"
CHECKS_PROMPTS = {"prompts.yaml"}  # the others leave prompts unchecked so that only their own subject shows
CASES = sorted(path.name for path in BROKEN.glob("*.yaml"))


def test_every_case_has_expectations() -> None:
    assert CASES
    for name in CASES:
        assert (BROKEN / name).with_suffix(".expected").is_file(), name


@pytest.mark.parametrize("name", CASES)
def test_expected_problems(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    expected = (BROKEN / name).with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    issues, config = analyse(name, check_prompts=name in CHECKS_PROMPTS)
    assert [str(issue) for issue in issues] == expected
    assert config is None
    with pytest.raises(ConfigError) as caught:
        load_config(name, check_prompts=name in CHECKS_PROMPTS)
    assert [str(issue) for issue in caught.value.errors] == expected


def test_several_errors_in_one_file_all_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    issues, _ = analyse("types.yaml", check_prompts=False)
    errors = [issue for issue in issues if issue.severity == "error"]
    assert len(errors) >= 10
    assert len({(issue.line, issue.column) for issue in errors}) == len(errors)


def test_issue_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    issues, _ = analyse("types.yaml", check_prompts=False)
    first = issues[0]
    assert (first.file, first.line, first.column, first.severity) == ("types.yaml", 1, 1, "error")
    assert "did you mean 'queues'" in first.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    (issue,) = caught.value.errors
    assert issue.line == 1 and "cannot read file" in issue.message


def test_include_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\n")
    (tmp_path / "b.yaml").write_text("queues: {}\ninclude: [a.yaml]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "a.yaml")
    (issue,) = caught.value.errors
    assert issue.file.endswith("b.yaml") and (issue.line, issue.column) == (2, 11)
    assert "include cycle" in issue.message


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"agents: {'1001': {name: \xe9}}\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "latin1.yaml")
