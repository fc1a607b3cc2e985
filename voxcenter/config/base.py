"""The base model and the small value types every part of the dial plan shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from voxcenter.config.durations import DurationError, parse_duration


class Model(BaseModel):
    """Frozen, strict about unknown keys; field docstrings become the reference documentation."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        coerce_numbers_to_str=True,  # `mailbox: 1001` is the text "1001"
        use_attribute_docstrings=True,
        validate_default=False,
    )


@dataclass(frozen=True, slots=True)
class Kind:
    """Marker in ``Annotated`` metadata: how the reference documentation names this value type."""

    label: str
    """Name shown in the "type" column of ``docs/dialplan.md``."""


class DurationType:
    """Marker in ``Annotated`` metadata: the float is seconds written with units in YAML."""


class PromptType:
    """Marker in ``Annotated`` metadata: the text (or each text of a tuple) names a prompt file."""


class RegexType:
    """Marker in ``Annotated`` metadata: the text is a regular expression that must compile."""


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


Duration = Annotated[float, BeforeValidator(_duration), DurationType(), Kind("duration")]
"""Seconds, written with units: ``500ms``, ``15s``, ``2m``, ``1h30m``, ``1d``."""


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        reason = {"reason": str(exc)}
        raise PydanticCustomError("regex", "regular expression does not compile: {reason}", reason) from None
    return value


Regex = Annotated[str, AfterValidator(_regex), RegexType(), Kind("regex")]
"""A Python regular expression (``re`` syntax), matched against the whole text."""

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN), Kind("name")]
"""An identifier: letters, digits, ``_``, ``.``, ``-``; refers to a node, queue, trunk, route, schedule..."""

Digit = Annotated[str, Field(pattern=r"^[0-9*#]$"), Kind("key")]
"""One DTMF key: ``0``-``9``, ``*`` or ``#`` (quote ``'*'`` and ``'#'`` in YAML)."""

DialString = Annotated[str, Field(pattern=r"^[0-9*#+]+$"), Kind("digits")]
"""Digits as dialled: ``0``-``9``, ``*``, ``#`` and a leading ``+``."""

SkillLevel = Annotated[int, Field(ge=1, le=5), Kind("level 1-5")]

LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$"), Kind("language code")]
"""A language code such as ``en``, ``fr`` or ``pt-BR``."""
"""Skill level from 1 (beginner) to 5 (expert)."""


def _prompt_name(value: str) -> str:
    lowered = value.lower()
    if lowered.endswith((".wav", ".mp3")):
        raise PydanticCustomError(
            "prompt_name",
            "prompt '{name}' is a name without extension: write '{stem}' (the file may be .wav or .mp3)",
            {"name": value, "stem": value.rsplit(".", 1)[0]},
        )
    if value.startswith("/") or ".." in value.split("/") or not value or "\\" in value:
        raise PydanticCustomError(
            "prompt_name", "prompt '{name}' must be a relative name inside the prompts directory", {"name": value}
        )
    return value


PromptName = Annotated[str, AfterValidator(_prompt_name), PromptType(), Kind("prompt")]
"""A prompt: a name relative to ``prompts/<language>/`` without extension (``.wav`` or ``.mp3`` on disk)."""


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


PromptList = Annotated[
    tuple[PromptName, ...], BeforeValidator(_one_or_many), PromptType(), Kind("prompt or list of prompts")
]
"""One prompt name or a list of them, played in order."""


def keys_to_text(value: Any) -> Any:
    """YAML reads ``1: sales`` with an integer key; menus and agents want the text ``"1"``."""
    if isinstance(value, dict):
        return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
    return value


def has_marker(annotation: Any, marker: type) -> bool:
    """Whether ``marker`` appears in the ``Annotated`` metadata anywhere inside ``annotation``."""
    if any(isinstance(item, marker) for item in getattr(annotation, "__metadata__", ())):
        return True
    return any(has_marker(arg, marker) for arg in getattr(annotation, "__args__", ()) or ())
