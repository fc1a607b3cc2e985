"""What a reload changes, said entry by entry (the reload's log line and the API's answer)."""

from __future__ import annotations

import shutil
from pathlib import Path

from voxcenter.config import load_config
from voxcenter.config.changes import config_changes

REPO = Path(__file__).resolve().parents[2]


def test_added_removed_and_changed_agents_and_queues(tmp_path: Path) -> None:
    plan = tmp_path / "voxcenter.yaml"
    shutil.copy(REPO / "config" / "voxcenter.yaml", plan)
    text = plan.read_text().replace("directory: ../prompts", f"directory: {REPO / 'prompts'}")
    plan.write_text(text)
    old = load_config(plan)
    assert config_changes(old, old) == {}
    text = text.replace("    ring_timeout: 15s\n", "    ring_timeout: 25s\n", 1)  # queues.sales
    text = text.replace("  '1002':\n    name: Bob Lee\n", "  '1004':\n    name: Bob Lee\n", 1)
    text = text.replace("  max_calls_in_progress: 100", "  max_calls_in_progress: 50")
    plan.write_text(text)
    new = load_config(plan)
    assert config_changes(old, new) == {
        "agents": {"added": ["1004"], "removed": ["1002"]},
        "queues": {"changed": ["sales"]},
        "sections": ["security"],
    }

