"""``voxcenter queues | agents | calls`` (and ``--watch``) against a served API over the scripted contact center."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from tests.api.demo import scripted
from voxcenter.api import ApiSettings, start_api
from voxcenter.api.views_cli import CLEAR
from voxcenter.cli import main

TOKEN = "views-token-0123456789"


@pytest.fixture
async def api_url() -> AsyncIterator[str]:
    control = scripted()
    runner, port = await start_api(control, ApiSettings(port=0, token=TOKEN))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def in_thread(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in a thread (the API keeps serving in this loop), with what it printed."""
    status = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_queues_agents_and_calls(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, queues, _ = await in_thread(capsys, "queues", "--api", api_url, "--token", TOKEN)
    assert status == 0
    header = queues.splitlines()[0].split()
    assert header[:9] == ["queue", "waiting", "longest", "SL", "ASA", "abandoned", "overflowed", "no", "agent"]
    assert any(line.startswith("claims ") and line.split()[7] == "2" for line in queues.splitlines())  # no agent
    assert "support: waiting callers" in queues and "+4420790" in queues
    status, agents, _ = await in_thread(capsys, "agents", "--api", api_url, "--token", TOKEN)
    assert status == 0 and "Alice Martin" in agents and "sales · +3361200" in agents and "team meeting" in agents
    status, calls, _ = await in_thread(capsys, "calls", "--api", api_url, "--token", TOKEN)
    assert status == 0 and calls.splitlines()[0].split()[:4] == ["call", "caller", "called", "state"]
    status, _, error = await in_thread(capsys, "calls", "--api", api_url, "--token", "wrong-token-000000000")
    assert status == 1 and "401" in error


async def watched(*argv: str, frames: int) -> tuple[int | None, str]:
    """Run a ``--watch`` command until it has drawn ``frames`` whole frames, then Ctrl-C it."""
    # Ctrl-C as a terminal gives it, even when the suite itself runs in the background of a shell (which
    # starts it, and so this child, with SIGINT ignored).
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxcenter.cli", *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    out = b""
    while out.count(CLEAR.encode()) <= frames:  # a frame is whole once the next one starts
        chunk = await asyncio.wait_for(process.stdout.read(4096), 60)
        assert chunk, f"the command ended after {out.count(CLEAR.encode())} frames"
        out += chunk
    process.send_signal(signal.SIGINT)  # as Ctrl-C
    rest, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, (out + rest).decode()


async def test_watch_redraws_in_place_until_ctrl_c(api_url: str) -> None:
    status, out = await watched("agents", "--api", api_url, "--token", TOKEN, "--watch", "300ms", frames=3)
    assert status == 0
    frames = out.split(CLEAR)[1:]
    assert len(frames) >= 3 and all("Alice Martin" in frame for frame in frames)
    assert "every 0.3s, Ctrl-C to stop" in frames[0]


async def test_an_api_that_is_not_there_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, error = await in_thread(capsys, "queues", "--api", "http://127.0.0.1:9", "--token", TOKEN)
    assert status == 1 and "cannot reach the admin API at http://127.0.0.1:9" in error
