"""Where things are in the YAML, and what is wrong with them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

Path_ = tuple[str | int, ...]
"""A location inside the dial plan as keys and list indexes: ``("queues", "sales", "ring_timeout")``."""


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a file, 1-based like editors and compilers show it."""

    file: str
    """The file, as given to ``load_config`` or named by ``include:``."""
    line: int
    """Line, from 1."""
    column: int
    """Column, from 1."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Located:
    """Where a mapping key and its value were written."""

    key: Position
    """The key (for list items: the item itself)."""
    value: Position
    """The value."""


class SourceMap(Mapping[Path_, Located]):
    """Path inside the dial plan -> where it was written. Immutable once loading has finished."""

    __slots__ = ("_entries", "_files")

    def __init__(self, entries: Mapping[Path_, Located] | None = None, files: Iterable[str] = ()) -> None:
        self._entries: dict[Path_, Located] = dict(entries or {})
        self._files: tuple[str, ...] = tuple(files)

    def __getitem__(self, path: Path_) -> Located:
        return self._entries[path]

    def __iter__(self) -> Iterator[Path_]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceMap):
            return NotImplemented
        return self._entries == other._entries and self._files == other._files

    def __hash__(self) -> int:
        return hash((len(self._entries), self._files))

    def __repr__(self) -> str:
        return f"SourceMap({len(self._entries)} locations in {list(self._files)})"

    @property
    def files(self) -> tuple[str, ...]:
        """Every file read, the main one first."""
        return self._files

    def nearest(self, path: Path_) -> tuple[Path_, Located]:
        """The entry for ``path`` or for its closest recorded ancestor (the root's entry as last resort)."""
        for length in range(len(path), -1, -1):
            found = self._entries.get(path[:length])
            if found is not None:
                return path[:length], found
        return (), Located(Position(self._files[0] if self._files else "<config>", 1, 1),
                           Position(self._files[0] if self._files else "<config>", 1, 1))

    def key_position(self, path: Path_) -> Position:
        """Where the key of ``path`` (or its nearest ancestor) was written."""
        return self.nearest(path)[1].key

    def value_position(self, path: Path_) -> Position:
        """Where the value at ``path`` was written; the ancestor's key when the path itself is absent."""
        found_path, located = self.nearest(path)
        return located.value if found_path == path else located.key


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One thing wrong (or suspicious) in the dial plan."""

    file: str
    """File the problem is in."""
    line: int
    """Line, from 1."""
    column: int
    """Column, from 1."""
    message: str
    """What is wrong, in words an operator can act on."""
    severity: Literal["error", "warning"] = "error"
    """Errors refuse the config; warnings are printed and the config is used."""

    @classmethod
    def at(cls, position: Position, message: str, severity: Literal["error", "warning"] = "error") -> ConfigIssue:
        """An issue at a position."""
        return cls(position.file, position.line, position.column, message, severity)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"


class ConfigError(Exception):
    """The dial plan was refused; ``errors`` lists every problem found (warnings included), in file order."""

    def __init__(self, errors: list[ConfigIssue]) -> None:
        self.errors = errors
        count = sum(1 for issue in errors if issue.severity == "error")
        lines = "\n".join(str(issue) for issue in errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the dial plan:\n{lines}")
