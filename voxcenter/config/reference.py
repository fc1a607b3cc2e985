"""Render the dial-plan reference (every key: type, default, meaning) from the models themselves.

``docs/dialplan.md`` holds the output between two marker lines; defaults and
meanings are written once, in the models, and a test keeps the file in sync.
Regenerate with ``python -m voxcenter.config.reference --write docs/dialplan.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from voxcenter.config.base import DurationType, Kind
from voxcenter.config.durations import format_duration
from voxcenter.config.ivr_nodes import NODE_TYPES
from voxcenter.config.proofs import PROOFS, key_of
from voxcenter.config.schema import Config

BEGIN = "<!-- BEGIN GENERATED REFERENCE: python -m voxcenter.config.reference --write docs/dialplan.md -->"
END = "<!-- END GENERATED REFERENCE -->"

_PLAIN = {bool: "bool", int: "integer", float: "number", str: "text", Path: "path", dt.date: "date", dt.time: "time"}


def _full(field: FieldInfo) -> Any:
    if field.metadata:
        return typing.Annotated[(field.annotation, *field.metadata)]
    return field.annotation


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(tp):
        found.extend(_models_in(arg))
    return found


def all_models() -> dict[type[BaseModel], str]:
    """Every model of the dial plan -> the YAML path it first appears at, depth first from :class:`Config`."""
    order: dict[type[BaseModel], str] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        if model in order:
            return
        order[model] = path
        for name, field in model.model_fields.items():
            full = _full(field)
            step = f"{path}.{name}" if path else name
            if typing.get_origin(_bare(full)) is dict:
                step += ".<name>"
            elif typing.get_origin(_bare(full)) in (tuple, list):
                step += "[]"
            for child in _models_in(full):
                visit(child, step)

    visit(Config, "")
    return order


def _bare(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated or (
        typing.get_origin(tp) in (typing.Union, types.UnionType) and len(typing.get_args(tp)) == 2
        and type(None) in typing.get_args(tp)
    ):
        args = typing.get_args(tp)
        tp = args[0] if args[0] is not type(None) else args[1]
    return tp


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def type_label(tp: Any) -> str:
    """How the reference names a type: ``duration``, ``list of name``, ``map of key → name``..."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        for item in tp.__metadata__:
            if isinstance(item, Kind):
                return item.label
        return type_label(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        labels = [type_label(member) for member in members if member is not type(None)]
        if all(_models_in(m) for m in members if m is not type(None)) and len(labels) > 3:
            labels = ["IVR node"]
        text = " or ".join(labels)
        return f"{text} or none" if type(None) in members else text
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(tp))
    if origin in (tuple, list):
        return f"list of {type_label(typing.get_args(tp)[0])}"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"map of {type_label(key)} → {type_label(value)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{_anchor(tp)})"
    return _PLAIN.get(tp, getattr(tp, "__name__", str(tp)))


def _is_duration(tp: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated and any(isinstance(m, DurationType) for m in tp.__metadata__):
        return True
    return any(_is_duration(arg) for arg in typing.get_args(tp))


def default_label(field: FieldInfo) -> str:
    """The default as YAML would write it, or ``required``."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return _yaml_value(value, _is_duration(_full(field)))


def _yaml_value(value: Any, duration: bool) -> str:
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if duration and isinstance(value, int | float):
        return f"`{format_duration(value)}`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(_inline(item) for item in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if value == "":
        return '`""`'
    return f"`{value}`"


def _inline(value: Any) -> str:
    if isinstance(value, BaseModel):
        pairs = ", ".join(f"{k}: {v}" for k, v in value.model_dump(exclude_none=True).items())
        return "{" + pairs + "}"
    return str(value)


def _title(model: type[BaseModel]) -> str:
    for type_name, node_model in NODE_TYPES.items():
        if node_model is model:
            return f"IVR node `type: {type_name}`"
    return model.__name__


def render_reference() -> str:
    """The generated part of ``docs/dialplan.md``."""
    lines: list[str] = []
    for model, path in all_models().items():
        doc = (model.__doc__ or "").strip().splitlines()[0]
        where = f"`{path}`" if path else "top level"
        lines += [f'<a id="{_anchor(model)}"></a>', f"### {_title(model)} ({where})", "", doc, ""]
        lines += ["| key | type | default | meaning | proved by |", "| --- | --- | --- | --- | --- |"]
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("\n", " ").replace("|", "\\|")
            if name == "type" and model in NODE_TYPES.values():
                meaning = "Selects this kind of node."
            proof = PROOFS.get(key_of(model, path, name))
            proved = f"`{proof}`" if proof else "no test yet"
            lines.append(f"| `{name}` | {type_label(_full(field))} | {default_label(field)} | {meaning} | {proved} |")
        lines.append("")
    return "\n".join(lines)


def splice(document: str, generated: str) -> str:
    """Replace what lies between the marker lines of ``document`` with ``generated``."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError("the document has no generated-reference markers")
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or rewrite it inside a document with ``--write``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="FILE", type=Path, help="update the generated part of this file")
    args = parser.parse_args(argv)
    generated = render_reference()
    if args.write is None:
        sys.stdout.write(generated)
        return 0
    args.write.write_text(splice(args.write.read_text(encoding="utf-8"), generated), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
