"""Keys that did nothing were taken out of the dial plan: ``voxcenter check`` refuses them where they are written."""

from __future__ import annotations

from pathlib import Path

from voxcenter.config import analyse


def test_a_trunks_max_calls_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "voxcenter.yaml"
    path.write_text("trunks:\n  carrier:\n    max_calls: 30\n    inbound: {allow_from: [192.0.2.1]}\n")
    issues, config = analyse(path, check_prompts=False)
    assert config is None
    [issue] = [issue for issue in issues if "max_calls" in issue.message]
    assert (issue.severity, issue.line, issue.column) == ("error", 3, 5), issue
