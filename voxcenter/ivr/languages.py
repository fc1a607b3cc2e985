"""The language a call starts in: the number's own, else the caller's number prefix, else the default.

Later in the call a ``language`` node (the caller's choice), a ``set`` node or a ``lookup`` node (the
customer record's preferred language) changes it; whatever is current when the caller joins a queue is the
language the router matches agents on (``EnterQueue.language``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from voxcenter.config.schema import Config

VISUAL_SEPARATORS = str.maketrans("", "", " -.()")
"""Characters a number may carry for readability (RFC 3966 visual separators, and spaces): ignored."""


@dataclass(frozen=True, slots=True)
class StartingLanguage:
    """The starting language and what chose it."""

    language: str
    """A language of ``prompts.languages``."""
    source: str
    """``number`` (the number's ``language``), ``caller-prefix`` or ``default``."""
    prefix: str | None = None
    """The ``prompts.caller_languages`` prefix that matched, for ``caller-prefix``."""


def caller_prefix(rules: Mapping[str, str], caller: str | None) -> str | None:
    """The longest prefix of ``rules`` that ``caller`` starts with (separators ignored), or None."""
    if not caller:
        return None
    number = caller.translate(VISUAL_SEPARATORS)
    matching = [prefix for prefix in rules if number.startswith(prefix)]
    return max(matching, key=len) if matching else None


def starting_language(config: Config, number_language: str | None, caller: str | None) -> StartingLanguage:
    """The language a call to a number with ``number_language`` from ``caller`` starts in."""
    prompts = config.prompts
    if number_language is not None:
        return StartingLanguage(number_language, "number")
    prefix = caller_prefix(prompts.caller_languages, caller)
    if prefix is not None and prompts.caller_languages[prefix] in prompts.languages:
        return StartingLanguage(prompts.caller_languages[prefix], "caller-prefix", prefix)
    return StartingLanguage(prompts.default_language, "default")
