"""What a reload changes: agents and queues added, removed or changed, and the other sections that differ.

Pure: two loaded dial plans in, a small JSON-ready summary out (the reload's log line and the API's answer).
"""

from __future__ import annotations

from typing import Any

from voxcenter.config.schema import Config

_NAMED = ("agents", "queues", "numbers", "ivr", "trunks", "routes", "schedules")
"""Sections keyed by name: reported entry by entry."""


def _keyed(section: Any) -> dict[str, Any]:
    return {str(name): entry.model_dump(mode="json") if hasattr(entry, "model_dump") else entry
            for name, entry in section.items()}


def config_changes(old: Config, new: Config) -> dict[str, Any]:
    """``{"agents": {"added": [...], "removed": [...], "changed": [...]}, ..., "sections": [...]}``; only what
    changed is in it (an empty dict: the same plan)."""
    changes: dict[str, Any] = {}
    for section in _NAMED:
        before, after = _keyed(getattr(old, section)), _keyed(getattr(new, section))
        entry = {
            "added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "changed": sorted(name for name in set(before) & set(after) if before[name] != after[name]),
        }
        entry = {kind: names for kind, names in entry.items() if names}
        if entry:
            changes[section] = entry
    others = [name for name in type(new).model_fields if name not in _NAMED and name != "include"
              and getattr(old, name) != getattr(new, name)]
    if others:
        changes["sections"] = sorted(others)
    return changes
