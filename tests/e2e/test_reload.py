"""Hot reload of the dial plan while calls are live: a real ``voxcenter run`` process, real signals, SIPp callers.

SIGHUP with a valid plan swaps it in (a new queue and number, a changed prompt, a changed queue
policy) while callers wait in a queue: none is dropped, each keeps its place. SIGHUP with an
invalid plan is refused with ``file:line:column`` errors and the running plan keeps serving.
SIGTERM drains the call in progress and the process exits 0.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, query, rtp_base_for_test, wait_for
from tests.e2e.peers import VoxcenterProcess, example_plan, held_call_scenario, timeline
from tests.interop.sipp import free_port, run_sipp
from voxcenter.acd import AgentState, CallRequest
from voxcenter.config import ConfigError
from voxcenter.runtime.server import Server
from voxcenter.sip.transport import Address

pytestmark = pytest.mark.interop

CALLERS = 6


def grown(plan: Any) -> None:
    """The reloaded plan: a new queue behind a new number, another prompt, a longer VIP ring."""
    plan["queues"]["billing"] = {"join_when": "always", "leave_when": "never"}
    plan["agents"]["1003"]["queues"].append("billing")
    plan["ivr"]["billing"] = {"type": "queue", "queue": "billing"}
    plan["numbers"]["102"] = {"node": "billing"}
    plan["ivr"]["closed"]["prompts"] = "goodbye"
    plan["queues"]["vip"]["ring_timeout"] = "25s"


def broken(plan: Any) -> None:
    grown(plan)
    plan["ivr"]["sales"]["queue"] = "no-such-queue"


def entered(db: Path, queue: str) -> int:
    if not db.exists():
        return 0
    try:
        return len(query(db, "select 1 from call_events where event = 'ENTERQUEUE' and queue = ?", queue))
    except Exception:  # the schema is created by the process at start; it may not be there yet
        return 0


async def test_reload_during_live_calls_drops_none_and_sigterm_drains(tmp_path: Path) -> None:
    sip_port, rtp_base = free_port(), rtp_base_for_test()
    plan = example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base)
    target = f"127.0.0.1:{sip_port}"
    db = tmp_path / "voxcenter.db"
    async with VoxcenterProcess(plan) as vox:
        # An agent logs in first (1002 serves support and sales, not vip: the VIP callers keep waiting).
        async with AgentPhone("1002", "demo1002", Address("udp", "127.0.0.1", sip_port)) as agent:
            assert await agent.register() == 200
            assert await agent.dial("*45") == 200
        callers = asyncio.create_task(run_sipp(
            str(held_call_scenario(tmp_path, 15.0)), target, tmp_path, calls=CALLERS, rate=20, service="101",
            local_ip=CARRIER_IP, timeout=45,
        ))
        await wait_for(lambda: entered(db, "vip") >= CALLERS, 30.0, f"{CALLERS} callers in the vip queue")
        plan_text = plan.read_text()

        example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base, change=grown)
        vox.signal(signal.SIGHUP)
        reloaded = await vox.wait_event("config.reloaded")
        assert "billing" in reloaded["queues"] and reloaded["calls"] == CALLERS

        example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base, change=broken)
        assert plan.read_text() != plan_text
        vox.signal(signal.SIGHUP)
        refused = await vox.wait_event("config.reload_refused")
        located = [e for e in refused["errors"] if re.match(rf"{re.escape(str(plan))}:\d+:\d+: ", e)]
        assert any("no-such-queue" in e for e in located), refused

        # The plan of the first reload still serves: its new number reaches its new queue.
        check = await run_sipp(str(held_call_scenario(tmp_path, 1.0)), target, tmp_path, service="102",
                               local_ip=CARRIER_IP, timeout=20)
        assert check.successful == 1 and check.failed == 0, check.describe()
        result = await callers
        assert result.successful == CALLERS and result.failed == 0, result.describe()

        # SIGTERM during a call: the call goes on to its BYE, then the process exits 0.
        last = asyncio.create_task(run_sipp(str(held_call_scenario(tmp_path, 3.0)), target, tmp_path,
                                            service="102", local_ip=CARRIER_IP, timeout=20))
        await wait_for(lambda: entered(db, "billing") >= 2, 20.0, "the last caller in the billing queue")
        vox.signal(signal.SIGTERM)
        final = await last
        assert final.successful == 1 and final.failed == 0, final.describe()
        assert await vox.exit_code() == 0
        stopped = vox.events("voxcenter.stopped")
        assert stopped, vox.raw[-20:]
        assert vox.events("voxcenter.stopping")[0]["calls"] == 1

    rows = query(db, "select call_id, queue, disposition, hangup_by from calls where queue = 'vip'")
    assert len(rows) == CALLERS
    assert {(disposition, hangup_by) for _, _, disposition, hangup_by in rows} == {("abandoned_queue", "caller")}
    for call_id, *_ in rows:
        names = [event for event, _ in timeline(db, call_id)]
        # Waited through both reloads and left only by hanging up: no exit of any other kind.
        assert names.count("ENTERQUEUE") == 1 and "ABANDON" in names, names
        assert not {"EXITEMPTY", "EXITWITHTIMEOUT", "FULL", "JOINEMPTY"} & set(names), names
    # The agent who logged in before the reloads was never logged out by them.
    states = [state for (state,) in query(db, "select state from agent_events where agent = '1002' order by at")]
    assert states[-1] == "ready" and "offline" not in states, states
    [(billing_calls,)] = query(db, "select count(*) from calls where queue = 'billing'")
    assert billing_calls == 2


async def test_server_reload_keeps_waiting_callers_and_agent_states(tmp_path: Path) -> None:
    # Server.reload() is what the admin API calls; the router's callers are joined directly (no media needed).
    sip_port, rtp_base = free_port(), rtp_base_for_test()
    plan = example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base)
    server = Server(plan, node="test")
    await server.start()
    try:
        router = server.acd.router
        now = server.acd.now()
        for agent_id in ("1002", "1003"):
            router.agent_registered(agent_id, now)  # as if their phones had registered
            router.agent_login(agent_id, now)
        router.agent_pause("1003", now, "lunch")
        for number in range(3):
            router.caller_joined(CallRequest(f"vip-{number}", "vip", priority=10), now + number)
        before = [(v.call_id, v.position, v.virtual_start) for v in router.waiting("vip", now + 5)]
        old_config = server.config

        example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base, change=broken)
        with pytest.raises(ConfigError) as refused:
            await server.reload()
        assert any(str(issue).startswith(f"{plan}:") and "no-such-queue" in str(issue)
                   for issue in refused.value.errors)
        assert server.config is old_config and "billing" not in server.config.queues

        example_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base, change=grown)
        await server.reload()
        assert "billing" in server.config.queues and server.acd.router is router
        assert [(v.call_id, v.position, v.virtual_start) for v in router.waiting("vip", now + 5)] == before
        assert router.agent_state("1002") is AgentState.READY
        assert router.agent_state("1003") is AgentState.PAUSED
        assert router.waiting("billing", now) == []
        assert server.endpoint.credentials("1001", server.config.security.realm, "MD5") is not None
        for number in range(3):
            router.caller_left(f"vip-{number}", now + 6)
    finally:
        await server.stop(drain_timeout=0)
