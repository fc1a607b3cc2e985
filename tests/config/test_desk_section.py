"""The desk section: outcomes, and a browser phone library that must be there with a WebSocket listener."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcenter.config import ConfigError, load_config

PLAN = ("numbers: {}\nsip:\n  listen:\n    - {transport: udp, port: 5060}\n%s\n"
        "desk:\n  phone_library: web/node_modules\n")
WS = "    - {transport: ws, port: 5066}"


def test_a_browser_phone_library_is_found_relative_to_the_plan_and_needs_a_websocket_listener(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN % WS)
    with pytest.raises(ConfigError) as missing:
        load_config(plan, check_prompts=False)
    assert any("no JsSIP in" in issue.message and issue.line == 7 for issue in missing.value.errors), missing.value
    (tmp_path / "web" / "node_modules" / "jssip").mkdir(parents=True)
    (tmp_path / "web" / "node_modules" / "jssip" / "package.json").write_text("{}")
    config = load_config(plan, check_prompts=False)
    assert config.desk.phone_library == tmp_path / "web" / "node_modules"
    plan.write_text(PLAN % "")
    with pytest.raises(ConfigError) as no_websocket:
        load_config(plan, check_prompts=False)
    assert any("ws or wss listener" in issue.message for issue in no_websocket.value.errors), no_websocket.value
