"""Whatever the YAML holds, loading answers with located problems or a config, never a crash."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxcenter.config import analyse
from voxcenter.config.reference import all_models

KEYS = sorted({name for model in all_models() for name in model.model_fields} | {"sales", "main", "1001", "100"})
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70000),
    st.sampled_from(["15s", "2m", "udp", "menu", "queue", "sales", "main", "*45", "en", "(", "sip:127.0.0.1", "x"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_never_crashes(document: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "plan.yaml"
        path.write_text(json.dumps(document))  # JSON is YAML
        issues, config = analyse(path, check_prompts=False)
    for issue in issues:
        assert issue.file == str(path)
        assert issue.line >= 1 and issue.column >= 1
        assert issue.message
    if config is None:
        assert any(issue.severity == "error" for issue in issues)


EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "voxcenter.yaml"


def _example_data() -> tuple[dict[str, object], list[tuple[str | int, ...]]]:
    from voxcenter.config.yamlsource import read_one

    data, entries, _ = read_one(EXAMPLE, "example")
    assert isinstance(data, dict)
    return data, sorted((path for path in entries if path), key=str)


EXAMPLE_DATA, EXAMPLE_PATHS = _example_data()


def _replaced(data: object, path: tuple[str | int, ...], value: object) -> object:
    if not path:
        return value
    if isinstance(data, dict):
        return {k: _replaced(v, path[1:], value) if k == path[0] else v for k, v in data.items()}
    if isinstance(data, list):
        return [_replaced(v, path[1:], value) if i == path[0] else v for i, v in enumerate(data)]
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), VALUES), min_size=1, max_size=3))
def test_example_with_damage(changes: list[tuple[tuple[str | int, ...], object]]) -> None:
    document: object = EXAMPLE_DATA
    for where, value in changes:
        document = _replaced(document, where, value)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "plan.yaml"
        path.write_text(json.dumps(document, default=str))
        issues, config = analyse(path, check_prompts=False)
    assert all(issue.line >= 1 and issue.column >= 1 and issue.message for issue in issues)
    if config is None:
        assert any(issue.severity == "error" for issue in issues)
