"""docs/dialplan.md documents every key, with the defaults the models state."""

from __future__ import annotations

from pathlib import Path

from voxcenter.config.reference import BEGIN, END, all_models, render_reference, splice

DOC = Path(__file__).resolve().parents[2] / "docs" / "dialplan.md"


def test_generated_part_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    hint = "run: python -m voxcenter.config.reference --write docs/dialplan.md"
    assert splice(text, render_reference()) == text, hint


def test_every_key_documented() -> None:
    generated = DOC.read_text(encoding="utf-8").split(BEGIN)[1].split(END)[0]
    models = all_models()
    assert len(models) > 30
    for model, path in models.items():
        assert not path or f"(`{path}`)" in generated, path
        for name in model.model_fields:
            assert f"| `{name}` |" in generated, f"{model.__name__}.{name} is not in {DOC.name}"


def test_defaults_rendered_as_written_in_yaml() -> None:
    generated = render_reference()
    assert "| `ring_timeout` | duration | `15s` |" in generated
    assert "| `login` | digits | `*45` |" in generated
    assert "| `timeout` | duration | `10s` |" in generated
    assert "| `max_length` | duration | `2m` |" in generated
    assert "| `transport` | `udp` \\| `tcp` \\| `tls` \\| `ws` \\| `wss` | required |" in generated
