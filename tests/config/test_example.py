"""The shipped example dial plan is valid, runs on loopback, and its prompts are all listed in prompts.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from voxcenter.config import Config, ConfigError, load_config
from voxcenter.config.checks import prompt_references
from voxcenter.config.ivr_nodes import LanguageNode, MenuNode, QueueNode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "voxcenter.yaml"
PROMPT_TEXTS = ROOT / "prompts" / "prompts.yaml"


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(EXAMPLE, check_prompts=False)


def test_valid_without_warnings(example: Config) -> None:
    assert example.warnings == ()
    assert example.files == (str(EXAMPLE),)


def test_loopback_defaults(example: Config) -> None:
    assert [(item.transport, item.address, item.effective_port) for item in example.sip.listen] == [
        ("udp", "127.0.0.1", 5080),
        ("tcp", "127.0.0.1", 5080),
    ]
    assert (example.rtp.address, example.rtp.port_min, example.rtp.port_max) == ("127.0.0.1", 20000, 20999)
    assert example.database.url == f"sqlite+aiosqlite:///{EXAMPLE.parent / 'voxcenter.db'}"
    assert example.prompts.directory == ROOT / "prompts"
    assert example.prompts.languages == ("en", "fr", "pl", "lv", "ro", "hr")


def test_main_menu(example: Config) -> None:
    main = example.ivr[example.numbers["100"].node]
    assert isinstance(main, MenuNode)
    assert sorted(main.options) == ["0", "1", "2", "3"]
    assert main.timeout == 8.0
    assert isinstance(example.ivr[main.options["3"]], LanguageNode)
    sales = example.ivr["sales"]
    assert isinstance(sales, QueueNode) and sales.queue == "sales"


def test_queues_and_agents(example: Config) -> None:
    assert {name: q.strategy for name, q in example.queues.items()} == {
        "sales": "longest-wait",
        "support": "skills",
        "vip": "priority",
    }
    assert sorted(example.agents) == ["1001", "1002", "1003"]
    assert example.agents["1003"].ha1 is not None and example.agents["1001"].password == "demo1001"
    assert example.queues["support"].relaxation[1].drop == "billing"
    assert example.queues["sales"].ring_timeout == 15.0
    assert example.schedules["office"].timezone == "Europe/Paris"


def test_loading_twice_gives_equal_objects(example: Config) -> None:
    again = load_config(EXAMPLE, check_prompts=False)
    assert again == example
    assert again.source == example.source


def test_immutable(example: Config) -> None:
    with pytest.raises(ValidationError):
        example.queues["sales"].ring_timeout = 1.0
    with pytest.raises(ValidationError):
        example.rtp = example.rtp


def test_source_map_points_at_keys(example: Config) -> None:
    located = example.source[("queues", "sales", "ring_timeout")]
    line = EXAMPLE.read_text(encoding="utf-8").splitlines()[located.key.line - 1]
    assert line[located.key.column - 1 :].startswith("ring_timeout: 15s")
    assert line[located.value.column - 1 :] == "15s"


def _used_prompts(config: Config) -> set[str]:
    return {name for _, name in prompt_references(config)}


def test_prompt_texts_cover_the_example(example: Config) -> None:
    texts = YAML(typ="safe").load(PROMPT_TEXTS.read_text(encoding="utf-8"))
    assert set(texts) == _used_prompts(example)
    for name, by_language in texts.items():
        assert set(by_language) == set(example.prompts.languages), name
        assert all(isinstance(text, str) and text.strip() for text in by_language.values()), name


def test_with_prompt_files_present(tmp_path: Path, example: Config) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(EXAMPLE, config_dir / "voxcenter.yaml")
    texts = YAML(typ="safe").load(PROMPT_TEXTS.read_text(encoding="utf-8"))
    for language in example.prompts.languages:
        (tmp_path / "prompts" / language).mkdir(parents=True)
        for index, name in enumerate(texts):
            # either extension will do
            (tmp_path / "prompts" / language / f"{name}{'.wav' if index % 2 else '.mp3'}").write_bytes(b"")
    loaded = load_config(config_dir / "voxcenter.yaml")
    assert loaded.prompts.directory == tmp_path / "prompts"
    for extension in (".wav", ".mp3"):
        (tmp_path / "prompts" / "fr" / f"goodbye{extension}").unlink(missing_ok=True)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir / "voxcenter.yaml")
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    line, lookup = lines.index("    prompts: goodbye") + 1, lines.index("  vip-line:") + 1
    # The missing prompt, and what makes a caller reach it in French first: a VIP caller's customer record.
    assert [(issue.line, issue.message) for issue in caught.value.errors] == [
        (line, "prompt 'goodbye' is missing: no ../prompts/fr/goodbye.wav (nor .mp3, .flac, .ogg); fr is reached "
               f"through the customer record of lookup node 'vip-line' at {config_dir / 'voxcenter.yaml'}:{lookup}:3")
    ]
