"""``voxcenter demo``: the example dial plan rewritten for loopback and any hour, and a short run end to end."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from voxcenter.config import load_config
from voxcenter.runtime.demo import ConfigErrorText, add_commands, demo_plan, run_demo
from voxcenter.runtime.demo_peers import DemoCallers
from voxcenter.sip.transport import Address
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


async def test_a_short_slow_demo_places_calls_shows_progress_and_serves_the_wallboard(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxcenter.cli", "demo", "--config", str(EXAMPLE), "--seconds", "15", "--rate", "12",
        "--handle-time", "2s", "--patience", "20s", "--progress", "3s", "--database",
        f"sqlite+aiosqlite:///{database}", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    lines: list[str] = []
    board = None
    while board is None:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line, "".join(lines)
        lines.append(line)
        board = re.search(r"wallboard at (http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
    async with aiohttp.ClientSession() as session:
        async with session.get(board.group(1)) as page:
            assert page.status == 200 and "wallboard" in await page.text()
        async with session.get(board.group(1) + "api/queues",
                               headers={"Authorization": f"Bearer {board.group(2)}"}) as queues:
            assert queues.status == 200
            assert {queue["name"] for queue in (await queues.json())["queues"]} == {"sales", "support", "vip"}
    rest, _ = await asyncio.wait_for(process.communicate(), 120)
    output = "".join(lines) + rest.decode()
    assert process.returncode == 0, output
    progress = re.findall(r"demo: +(\d+) s · \d+ in the IVR · \d+ waiting · \d+ talking · \d+ done", output)
    assert len(progress) >= 4 and [int(seconds) for seconds in progress[:4]] == [3, 6, 9, 12], output
    placed = re.search(r"(\d+) calls placed, (\d+) reached an agent", output)
    assert placed is not None and int(placed.group(1)) >= 1, output
    assert "per 15m" in output and "total" in output, output

    async def rows() -> list[tuple[object, ...]]:
        from sqlalchemy import text

        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text("select disposition, agent from calls"))
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    calls = await rows()
    assert len(calls) == int(placed.group(1)) and all(disposition != "in_progress" for disposition, _ in calls), calls


async def test_the_first_caller_arrives_at_once_even_at_a_low_rate() -> None:
    callers = DemoCallers("127.0.0.2", Address("udp", "127.0.0.1", 5060), None,  # type: ignore[arg-type]
                          random.Random(1), number="100", mean_patience=10.0, is_bridged=lambda _: False)
    placed: list[str] = []

    async def call(number: str) -> None:
        placed.append(number)

    callers._call = call  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    await callers.arrivals(12 / 60.0, loop.time() + 0.2)  # mean gap 5 s: only the first call fits
    await asyncio.sleep(0)
    assert placed == ["+33155500001"]
