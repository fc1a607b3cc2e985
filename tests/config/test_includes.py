"""include: merges named collections from other files; positions keep pointing into the file that wrote them."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcenter.config import ConfigError, load_config

MAIN = """\
include: [parts/queues.yaml]
numbers:
  '100': {node: main}
ivr:
  main: {type: queue, queue: support}
agents:
  '1001': {name: Alice, password: a, queues: [support, sales]}
"""

QUEUES = """\
include: [more.yaml]
queues:
  support:
    strategy: skills
    ring_timeout: 20s
"""

MORE = """\
queues:
  sales: {}
feature_codes:
  login: '*55'
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    (tmp_path / "parts").mkdir()
    (tmp_path / "main.yaml").write_text(MAIN)
    (tmp_path / "parts" / "queues.yaml").write_text(QUEUES)
    (tmp_path / "parts" / "more.yaml").write_text(MORE)
    return tmp_path / "main.yaml"


def test_merged(plan: Path) -> None:
    config = load_config(plan, check_prompts=False)
    assert list(config.queues) == ["support", "sales"]
    assert config.queues["support"].ring_timeout == 20.0
    assert config.feature_codes.login == "*55"
    main_dir = plan.parent
    assert config.files == (str(plan), str(main_dir / "parts" / "queues.yaml"), str(main_dir / "parts" / "more.yaml"))


def test_positions_point_into_included_files(plan: Path) -> None:
    config = load_config(plan, check_prompts=False)
    located = config.source[("queues", "support", "ring_timeout")]
    assert (located.value.file, located.value.line, located.value.column) == (
        str(plan.parent / "parts" / "queues.yaml"), 5, 19)
    assert config.source[("feature_codes", "login")].key.file.endswith("more.yaml")


def test_error_in_nested_include(plan: Path) -> None:
    (plan.parent / "parts" / "more.yaml").write_text(MORE.replace("{}", "{ring_timeout: 5}"))
    with pytest.raises(ConfigError) as caught:
        load_config(plan, check_prompts=False)
    (issue,) = caught.value.errors
    assert (issue.file, issue.line, issue.column) == (str(plan.parent / "parts" / "more.yaml"), 2, 25)
    assert "needs a unit" in issue.message


def test_include_as_single_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("include: b.yaml\nnumbers: {'1': {node: x}}\nivr: {x: {type: hangup}}\n")
    (tmp_path / "b.yaml").write_text("security: {realm: example}\n")
    assert load_config(tmp_path / "a.yaml", check_prompts=False).security.realm == "example"


def test_include_must_be_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("include: [{file: b.yaml}]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "a.yaml")
    (issue,) = caught.value.errors
    assert (issue.line, issue.column, issue.message) == (1, 11, "include: entries are file names")
