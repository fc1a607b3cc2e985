"""``load_config``: YAML -> validated, immutable :class:`Config`, or every problem with its file:line:column.

Three passes, all of whose problems are reported together:

1. YAML syntax (per file, with includes);
2. types and values (pydantic), each error mapped back to the key or value it is about;
3. cross-references and policy (:mod:`voxcenter.config.checks`): unknown nodes, queues, agents, prompts,
   toll-fraud routes, clashing codes...

When pass 2 fails for some entries, pass 3 still runs on the rest so that one bad
queue does not hide a menu pointing nowhere.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from voxcenter.config.checks import Invalid, run_checks
from voxcenter.config.issues import ConfigError, ConfigIssue, Path_, SourceMap
from voxcenter.config.ivr_nodes import NODE_TYPES
from voxcenter.config.schema import Config
from voxcenter.config.yamlsource import COLLECTIONS, read_with_includes


def load_config(path: str | Path, *, check_prompts: bool = True) -> Config:
    """Load and check a dial plan. Raises :class:`ConfigError` listing every problem (errors and warnings).

    ``check_prompts=False`` skips the check that every prompt file exists in every language a caller can reach it in.
    """
    issues, config = analyse(path, check_prompts=check_prompts)
    if config is None or any(issue.severity == "error" for issue in issues):
        raise ConfigError(issues)
    return config


def analyse(path: str | Path, *, check_prompts: bool = True) -> tuple[list[ConfigIssue], Config | None]:
    """Every problem found (sorted by file then position) and the config when there is no error."""
    display = str(path)
    main = Path(path)
    data, entries, files, issues = read_with_includes(main, display)
    source = SourceMap(entries, files)
    if any(issue.severity == "error" for issue in issues) and not data:
        return _sorted(issues, files), None

    config, schema_issues, invalid = _validate(data, source)
    issues.extend(schema_issues)
    base_dir = main.resolve().parent
    if config is not None:
        issues.extend(run_checks(config, source, invalid, base_dir=base_dir, check_prompts=check_prompts))
    issues = _sorted(_dedupe(issues), files)
    if config is None or invalid or any(issue.severity == "error" for issue in issues):
        return issues, None
    final = _resolve_paths(config, base_dir)
    final._source = source
    final._warnings = tuple(issues)
    return issues, final


# ------------------------------------------------------------------------------------------- pass 2: pydantic


def _validate(data: dict[str, Any], source: SourceMap) -> tuple[Config | None, list[ConfigIssue], Invalid]:
    issues: list[ConfigIssue] = []
    invalid = Invalid()
    pruned = data
    for attempt in range(4):
        try:
            return Config.model_validate(pruned), issues, invalid
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        if attempt == 0:
            # "at least 1 item after validation" only repeats that an item was refused.
            shown = [e for e in errors if not (e["type"] == "too_short" and "after validation" in e["msg"])]
            issues.extend(_issue(error, data, source) for error in shown)
        pruned = _prune(pruned, errors, invalid)
    return None, issues, invalid


def _prune(data: dict[str, Any], errors: list[Any], invalid: Invalid) -> dict[str, Any]:
    """Drop the entries (or whole sections) pydantic refused, remembering their names for pass 3."""
    pruned = {section: dict(value) if isinstance(value, dict) else value for section, value in data.items()}
    for error in errors:
        path, _ = _data_path(data, error["loc"])
        if not path:
            continue
        section = str(path[0])
        if section in COLLECTIONS and len(path) >= 2 and isinstance(pruned.get(section), dict):
            pruned[section].pop(path[1], None)
            invalid.entries.add((section, str(path[1])))
        else:
            pruned.pop(section, None)
            invalid.sections.add(section)
    return pruned


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[Path_, bool]:
    """Follow pydantic's ``loc`` through the data, skipping union tags and validator names.

    Returns the path that exists in the data and whether the error is about a whole mapping or list
    (a model-level rule, or a bad ``[key]``) rather than one value.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
    return tuple(path), isinstance(node, dict | list)


def _issue(error: Any, data: dict[str, Any], source: SourceMap) -> ConfigIssue:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    path, whole = _data_path(data, loc)
    kind: str = error["type"]
    where = ".".join(str(p) for p in path)
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        hint = ""
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        elif allowed:
            hint = f" (expected one of: {', '.join(allowed)})"
        parent = ".".join(str(p) for p in path[:-1]) or "top level"
        return ConfigIssue.at(source.key_position(path), f"{parent}: unknown key {key!r}{hint}")
    if kind == "missing":
        return ConfigIssue.at(source.key_position(path), f"{where or 'top level'}: missing required key {loc[-1]!r}")
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", ""))
        close = difflib.get_close_matches(tag, NODE_TYPES, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return ConfigIssue.at(
            source.value_position((*path, "type")),
            f"{where}: unknown node type {tag!r}{hint}; expected one of: {', '.join(NODE_TYPES)}",
        )
    if kind == "union_tag_not_found":
        return ConfigIssue.at(
            source.key_position(path), f"{where}: a node needs 'type:' (one of: {', '.join(NODE_TYPES)})"
        )
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if whole and loc and loc[-1] == "[key]":
        return ConfigIssue.at(source.key_position(path), f"{where}: bad key: {message}")
    if whole:
        return ConfigIssue.at(source.key_position(path), f"{where or 'top level'}: {message}")
    if kind.startswith("string_pattern"):
        message = f"{error.get('input')!r} does not have the expected form ({_pattern_hint(loc)})"
    return ConfigIssue.at(source.value_position(path), f"{where or 'top level'}: {message}")


def _pattern_hint(loc: tuple[int | str, ...]) -> str:
    names = [p for p in loc if isinstance(p, str)]
    last = names[-1] if names else ""
    if last in ("login", "logout", "pause", "wrap_up_end", "voicemail", "echo_test", "extension", "number",
                "prepend", "caller_id"):
        return "digits, *, # and a leading +"
    if last in ("exit_key", "terminator", "key"):
        return "one key: 0-9, * or #"
    if last == "ha1":
        return "32 or 64 hexadecimal digits"
    return "letters, digits, _, . and -"


# --------------------------------------------------------------------------- "did you mean": the model at a loc


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _step(tp: Any, part: int | str) -> Any:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            member = _unwrap(member)
            if isinstance(member, type) and issubclass(member, BaseModel):
                field = member.model_fields.get("type")
                if field is not None and typing.get_args(field.annotation) == (part,):
                    return member
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return None if field is None else field.annotation
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin in (tuple, list):
        return typing.get_args(tp)[0]
    return None


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    tp: Any = Config
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


# ------------------------------------------------------------------------------------------------- finishing


def _dedupe(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    seen: set[tuple[str, int, int]] = set()
    out: list[ConfigIssue] = []
    for issue in issues:
        # Union members each explain why a value failed; one message per place is enough.
        key = (issue.file, issue.line, issue.column)
        if key in seen and issue.severity == "error":
            continue
        seen.add(key)
        out.append(issue)
    return out


def _sorted(issues: list[ConfigIssue], files: list[str]) -> list[ConfigIssue]:
    order = {name: index for index, name in enumerate(files)}
    return sorted(issues, key=lambda i: (order.get(i.file, len(order)), i.line, i.column))


def _resolve_paths(config: Config, base_dir: Path) -> Config:
    """Relative paths are relative to the main config file's directory; the default database lives there too."""

    def resolved(value: Path | None) -> Path | None:
        return value if value is None or value.is_absolute() else Path(os.path.normpath(base_dir / value))

    listen = tuple(
        item.model_copy(update={"cert": resolved(item.cert), "key": resolved(item.key)}) for item in config.sip.listen
    )
    database_url = config.database.url or f"sqlite+aiosqlite:///{base_dir / 'voxcenter.db'}"
    return config.model_copy(
        update={
            "sip": config.sip.model_copy(update={"listen": listen}),
            "prompts": config.prompts.model_copy(update={"directory": resolved(config.prompts.directory)}),
            "recording": config.recording.model_copy(update={
                "directory": resolved(config.recording.directory),
                "key_file": None if config.recording.key_file is None else resolved(config.recording.key_file)}),
            "desk": config.desk.model_copy(update={"phone_library": resolved(config.desk.phone_library)}),
            "database": config.database.model_copy(
                update={"url": database_url, "journal_directory": resolved(config.database.journal_directory)}
            ),
        }
    )
