"""Run-time queue members through the API and ``voxcenter member``: routed to at once, shown apart from the dial
plan's own, kept across a reload and a restart (from the database)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import aiohttp

from tests.e2e.harness import dial_plan, query, rtp_base_for_test, served
from tests.interop.sipp import free_port
from voxcenter.cli import main

HEADERS = {"Authorization": "Bearer test-token"}


async def cli(*argv: str) -> tuple[int, str, str]:
    """``voxcenter`` in a thread (the server keeps running in this loop), with what it printed."""
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(list(argv))

    status = await asyncio.to_thread(run)
    return status, out.getvalue(), err.getvalue()


async def test_members_added_and_removed_at_run_time(tmp_path: Path) -> None:
    api_port = free_port()
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port)
    base = f"http://127.0.0.1:{api_port}"
    async with served(plan) as server, aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{base}/api/queues/short/members/1002") as response:
            assert response.status == 201
            members = {m["agent"]: m["dynamic"] for m in (await response.json())["members"]}
            assert members == {"1001": False, "1002": True}
        async with http.post(f"{base}/api/queues/short/members/1002") as response:
            assert response.status == 409 and "already a member" in (await response.json())["error"]
        async with http.delete(f"{base}/api/queues/sales/members/1001") as response:
            assert response.status == 409 and "in the dial plan" in (await response.json())["error"]
        async with http.post(f"{base}/api/queues/nope/members/1002") as response:
            assert response.status == 404
        async with http.get(f"{base}/api/agents/1002") as response:
            agent = await response.json()
            assert agent["queues"] == ["sales", "short"] and agent["dynamic_queues"] == ["short"]
        # The router counts the new member: logged in, 1002 is the one agent of 'short' not offline.
        server.acd.router.agent_registered("1002", server.acd.now())  # as its phone's REGISTER would
        server.acd.agent_command("1002", "login")
        agents = server.acd.router.stats(server.acd.now())["short"].agents
        assert sum(count for state, count in agents.items() if state.value != "offline") == 1
        # The command line, through the same API.
        status, out, err = await cli("member", "add", "sales", "1003", "--api", base, "--token", "test-token")
        assert status == 1 and "unknown agent" in err
        status, out, _ = await cli("agents", "--api", base, "--token", "test-token")
        assert status == 0 and "short*" in out and "added at run time" in out
        await server.reload()  # a reload keeps run-time members
        assert server.acd.dynamic == {("short", "1002")}
        await server.writer.flush(5.0)
    rows = query(tmp_path / "voxcenter.db", "select queue, agent, active from queue_members")
    assert rows == [("short", "1002", 1)]
    async with served(plan) as server, aiohttp.ClientSession(headers=HEADERS) as http:
        assert server.acd.dynamic == {("short", "1002")}  # restored from the database
        status, out, _ = await cli("member", "remove", "short", "1002", "--api", base, "--token", "test-token")
        assert status == 0 and out.strip() == "queue short: 1001"
        async with http.get(f"{base}/api/agents/1002") as response:
            assert (await response.json())["dynamic_queues"] == []
        await server.writer.flush(5.0)
    assert query(tmp_path / "voxcenter.db", "select active from queue_members") == [(0,)]
    async with served(plan) as server:
        assert server.acd.dynamic == set()


async def test_a_run_time_members_penalty_is_set_changed_routed_by_and_kept(tmp_path: Path) -> None:
    api_port = free_port()
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port)
    base = f"http://127.0.0.1:{api_port}"
    async with served(plan) as server, aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{base}/api/queues/short/members/1002", json={"penalty": 3}) as response:
            assert response.status == 201
            members = {m["agent"]: m["penalty"] for m in (await response.json())["members"]}
            assert members == {"1001": 0, "1002": 3}
        assert server.acd.router.penalty_of("1002", "short") == 3  # what the router offers calls by
        for body, status in (({"penalty": -1}, 400), ({"penalty": "high"}, 400), ({"penalties": 1}, 400), ({}, 400)):
            async with http.patch(f"{base}/api/queues/short/members/1002", json=body) as response:
                assert response.status == status, body
        async with http.patch(f"{base}/api/queues/short/members/1001", json={"penalty": 1}) as response:
            assert response.status == 409 and "the dial plan's" in (await response.json())["error"]
        status, out, _ = await cli("member", "penalty", "short", "1002", "5", "--api", base, "--token", "test-token")
        assert status == 0 and out.strip() == "queue short: 1001, 1002 (dynamic) penalty 5", out
        assert server.acd.router.penalty_of("1002", "short") == 5
        await server.writer.flush(5.0)
    assert query(tmp_path / "voxcenter.db", "select agent, penalty from queue_members") == [("1002", 5)]
    async with served(plan) as server:
        assert server.acd.router.penalty_of("1002", "short") == 5  # restored with its penalty
