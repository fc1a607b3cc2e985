"""``voxcenter demo``: the example dial plan rewritten for loopback and any hour, and a short run end to end."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from voxcenter.config import load_config
from voxcenter.runtime.demo import ConfigErrorText, add_commands, demo_plan, run_demo
from voxcenter.store.db import make_engine

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "voxcenter.yaml"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["demo", *argv])


def test_example_plan_is_rewritten_into_the_directory_and_open_all_week(tmp_path: Path) -> None:
    plan = demo_plan(EXAMPLE, tmp_path)
    config = load_config(plan.path)
    assert plan.number == "100" and set(plan.agents) == {"1001", "1002", "1003"}
    assert [(listen.transport, str(listen.address), listen.port) for listen in config.sip.listen] == [
        ("udp", "127.0.0.1", plan.sip_port)]
    assert Path(config.recording.directory).is_relative_to(tmp_path)
    assert config.database.url is not None and str(tmp_path) in config.database.url
    assert (Path(config.prompts.directory) / "en").is_dir()
    assert config.rtp.port_max < plan.rtp_range[0]  # the peers' RTP never meets the server's
    for schedule in config.schedules.values():
        assert not schedule.holidays and {day for hours in schedule.hours for day in hours.days} == set(range(7))
    for extension, password in plan.agents.items():
        assert config.agents[extension].password == password


def test_a_plan_without_numbers_is_refused_plainly(tmp_path: Path) -> None:
    source = tmp_path / "empty.yaml"
    source.write_text("queues: {}\n")
    with pytest.raises(ConfigErrorText, match="no numbers"):
        demo_plan(source, tmp_path)
    assert run_demo(parse("--config", str(tmp_path / "missing.yaml"))) == 2


def test_short_demo_places_calls_and_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "demo.db"
    status = run_demo(parse("--config", str(EXAMPLE), "--seconds", "8", "--rate", "30", "--handle-time", "2",
                            "--patience", "20", "--seed", "7", "--database", f"sqlite+aiosqlite:///{database}"))
    output = capsys.readouterr().out
    assert status == 0, output
    assert "logged in" in output and "per 15m" in output and "total" in output, output

    async def rows() -> list[tuple[object, ...]]:
        from sqlalchemy import text

        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text("select disposition, agent from calls"))
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    calls = asyncio.run(rows())
    assert calls and all(disposition != "in_progress" for disposition, _ in calls), calls
    assert any(disposition == "answered" and agent for disposition, agent in calls), calls
