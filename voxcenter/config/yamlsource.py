"""Read YAML with ruamel's round-trip loader into plain data plus the position of every key and value.

Plain dicts, lists and scalars go to pydantic (faster and simpler than ruamel's
commented containers); positions go to a :class:`SourceMap` keyed by path.
``include:`` files are read here and merged section by section: named
collections (``queues``, ``agents``...) gain entries, other sections may be
set in one file only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from voxcenter.config.issues import ConfigIssue, Located, Path_, Position

COLLECTIONS = ("trunks", "routes", "numbers", "ivr", "queues", "agents", "groups", "schedules")
"""Top-level sections that are name -> entry mappings, which included files may extend."""

MAX_INCLUDE_DEPTH = 16


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.entries: dict[Path_, Located] = {}
        self.issues: list[ConfigIssue] = []

    def pos(self, line: int, column: int) -> Position:
        return Position(self.file, line + 1, column + 1)

    def plain(self, node: Any, path: Path_, here: Position) -> Any:
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key, value in node.items():
                try:
                    key_line, key_col = node.lc.key(key)
                    value_line, value_col = node.lc.value(key)
                    key_pos, value_pos = self.pos(key_line, key_col), self.pos(value_line, value_col)
                except (KeyError, TypeError):
                    key_pos = value_pos = here  # merged in by '<<:', no position of its own
                name = _key_text(key)
                if name is None:
                    self.issues.append(ConfigIssue.at(key_pos, "keys must be plain text or numbers"))
                    continue
                child = (*path, name)
                self.entries[child] = Located(key_pos, value_pos)
                out[name] = self.plain(value, child, value_pos)
            return out
        if isinstance(node, CommentedSeq):
            items: list[Any] = []
            for index, value in enumerate(node):
                try:
                    line, col = node.lc.item(index)
                    item_pos = self.pos(line, col)
                except (KeyError, TypeError, IndexError):
                    item_pos = here
                child = (*path, index)
                self.entries[child] = Located(item_pos, item_pos)
                items.append(self.plain(value, child, item_pos))
            return items
        if isinstance(node, TaggedScalar):
            self.issues.append(ConfigIssue.at(here, f"unsupported YAML tag {node.tag.value!r}"))
            return None
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, dt.datetime):
            return dt.datetime.fromisoformat(node.isoformat())
        if isinstance(node, dt.date):
            return dt.date(node.year, node.month, node.day)
        self.issues.append(ConfigIssue.at(here, f"unsupported YAML value of type {type(node).__name__}"))
        return None


def _key_text(key: Any) -> str | None:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float | str):
        return str(key)
    if isinstance(key, dt.date):
        return key.isoformat()
    return None


def _yaml_error(file: str, exc: YAMLError) -> ConfigIssue:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        if "undefined alias" in problem:
            problem += " (a plain * starts a YAML alias: quote codes such as '*45')"
        if "duplicate key" in problem and exc.context_mark is not None:
            problem = f"{problem.split(' with value')[0]} (first defined at line {exc.context_mark.line + 1})"
        elif exc.context:
            problem = f"{problem} ({exc.context})"
        return ConfigIssue(file, mark.line + 1, mark.column + 1, f"YAML syntax: {problem}")
    return ConfigIssue(file, 1, 1, f"YAML syntax: {exc}")


def read_one(path: Path, display: str) -> tuple[Any, dict[Path_, Located], list[ConfigIssue]]:
    """Read one file (no includes): plain data, positions and problems found."""
    reader = _Reader(display)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, {}, [ConfigIssue(display, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, {}, [ConfigIssue(display, 1, 1, f"not UTF-8 text: {exc.reason}")]
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        return None, {}, [_yaml_error(display, exc)]
    root = Position(display, 1, 1)
    reader.entries[()] = Located(root, root)
    if document is None:
        return {}, reader.entries, []
    if not isinstance(document, CommentedMap):
        return None, {}, [ConfigIssue.at(root, "the dial plan must be a mapping of sections (sip:, ivr:, queues: ...)")]
    data = reader.plain(document, (), root)
    return data, reader.entries, reader.issues


def read_with_includes(path: Path, display: str) -> tuple[dict[str, Any], dict[Path_, Located], list[str],
                                                          list[ConfigIssue]]:
    """Read ``path`` and, depth first, its ``include:`` files; merge them. Returns data, positions, files, issues."""
    files: list[str] = []
    issues: list[ConfigIssue] = []
    data, entries = _read_tree(path, display, [], files, issues)
    return data, entries, files, issues


def _read_tree(path: Path, display: str, stack: list[Path], files: list[str],
               issues: list[ConfigIssue]) -> tuple[dict[str, Any], dict[Path_, Located]]:
    files.append(display)
    data, entries, found = read_one(path, display)
    issues.extend(found)
    if not isinstance(data, dict):
        return {}, {}
    includes = data.get("include", [])
    if isinstance(includes, str):
        includes = [includes]
        entries[("include", 0)] = entries[("include",)]
    if not isinstance(includes, list):
        return data, entries
    here = path.resolve()
    for index, name in enumerate(includes):
        where = entries.get(("include", index), entries[()]).value
        if not isinstance(name, str):
            issues.append(ConfigIssue.at(where, "include: entries are file names"))
            continue
        target = path.parent / name
        shown = str(Path(display).parent / name)
        if target.resolve() in [*stack, here]:
            issues.append(ConfigIssue.at(where, f"include cycle: {name} includes itself, directly or not"))
            continue
        if len(stack) >= MAX_INCLUDE_DEPTH:
            issues.append(ConfigIssue.at(where, f"includes nested deeper than {MAX_INCLUDE_DEPTH} files"))
            continue
        if not target.is_file():
            issues.append(ConfigIssue.at(where, f"included file {shown} does not exist"))
            continue
        sub_data, sub_entries = _read_tree(target, shown, [*stack, here], files, issues)
        _merge(data, entries, sub_data, sub_entries, issues)
    data.pop("include", None)  # already read: nothing below needs the file names
    return data, entries


def _merge(data: dict[str, Any], entries: dict[Path_, Located], extra: dict[str, Any],
           extra_entries: dict[Path_, Located], issues: list[ConfigIssue]) -> None:
    for section, value in extra.items():
        if section not in data:
            data[section] = value
            entries.update({p: loc for p, loc in extra_entries.items() if p and p[0] == section})
            continue
        if section in COLLECTIONS and isinstance(data[section], dict) and isinstance(value, dict):
            for name, entry in value.items():
                if name in data[section]:
                    first = entries[(section, name)].key
                    issues.append(ConfigIssue.at(
                        extra_entries[(section, name)].key,
                        f"{section}: {name!r} is already defined at {first}",
                    ))
                    continue
                data[section][name] = entry
                entries.update({p: loc for p, loc in extra_entries.items() if p[:2] == (section, name)})
            continue
        first = entries[(section,)].key
        issues.append(ConfigIssue.at(
            extra_entries[(section,)].key,
            f"section {section!r} is already set at {first}; only named collections "
            f"({', '.join(COLLECTIONS)}) can be spread over several files",
        ))
