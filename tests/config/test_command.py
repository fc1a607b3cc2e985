"""voxcenter check FILE."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from voxcenter.config_commands import add_commands, main, run_check

ROOT = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).parent / "broken"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_valid_file_prints_summary() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = _parse(["check", "--no-prompts", str(ROOT / "config" / "voxcenter.yaml")])
    assert run_check(args, out, err) == 0
    assert err.getvalue() == ""
    assert "OK: 3 numbers, 17 IVR nodes, 3 queues, 3 agents" in out.getvalue()


def test_broken_file_lists_errors_and_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    out, err = io.StringIO(), io.StringIO()
    assert run_check(_parse(["check", "--no-prompts", "references.yaml"]), out, err) == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "references.yaml:2:17: number 100 is routed to unknown IVR node 'mian' (did you mean 'main'?)"
    assert lines[-1] == "references.yaml: 9 errors, refused"
    assert out.getvalue().splitlines() == [
        "references.yaml:20:3: warning: node 'lonely' is unreachable from any number",
        "references.yaml:23:3: warning: queue 'sales' hangs up on a waiting caller when no agent is logged in "
        "(join_when, leave_when) (callers of node 'sales'): give it overflow.empty (a mailbox, a callback, another "
        "queue or a node)",
    ]


def test_main_entry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(BROKEN)
    assert main(["check", "syntax.yaml"]) == 1
    assert "syntax.yaml:4:7: YAML syntax:" in capsys.readouterr().err
