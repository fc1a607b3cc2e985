"""The log tells each call's story at info level, and every line of a call carries that call's ``call_id``.

``voxcenter run`` (JSON logs) in a child process; two SIPp callers from the carrier overlap in the sales
queue with one agent: the first is answered at once, the second waits until the agent's wrap-up is over
(the router decides for it while the first call's records are being written, and from its timer).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    AgentPhone,
    ServerProcess,
    caller_scenario,
    dial_plan,
    rtp_base_for_test,
    wait_for,
)
from tests.interop.sipp import SippResult, free_port, run_sipp
from voxcenter.sip.transport import Address

pytestmark = pytest.mark.interop

STORY = ["call.arrived", "call.ivr_path", "call.queued", "call.offered", "call.answered", "call.ended"]


async def test_two_overlapping_calls_each_tell_their_own_story(tmp_path: Path) -> None:
    sip_port = free_port()
    plan = dial_plan(tmp_path, sip_port=sip_port, rtp_base=rtp_base_for_test())
    server = ServerProcess(plan, tmp_path / "server.log")
    await server.start()
    try:
        address = Address("udp", "127.0.0.1", sip_port)
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            await server.logged("acd.agent_state", 10)
            target = f"127.0.0.1:{sip_port}"
            first = asyncio.create_task(_caller(tmp_path / "first", target, "+33140000001", talk=2.5))
            await wait_for(lambda: '"call.answered"' in server.log(), what="the first call answered")
            second = await _caller(tmp_path / "second", target, "+33140000002", talk=6.0)
            assert (await first).successful == 1
            assert second.successful == 1, second.describe()
            await wait_for(lambda: server.log().count('"call.ended"') == 2, what="both calls ended")
    finally:
        server.terminate()
        await server.exit_status(30)
    lines = server.lines()

    arrivals = [line for line in lines if line["event"] == "call.arrived"]
    assert len(arrivals) == 2
    sip_ids = {line["sip_call_id"]: line["call_id"] for line in arrivals}
    for arrival in arrivals:
        assert arrival["from"].startswith("+3314000000") and arrival["to"] == "200"
        assert arrival["trunk"] == "carrier"
        story = [line for line in lines if line.get("call_id") == arrival["call_id"]]
        told = [line["event"] for line in story if line["event"] in STORY]
        assert told == STORY, told
        by_event = {line["event"]: line for line in story}
        assert by_event["call.ivr_path"]["path"] == "sales" and by_event["call.ivr_path"]["then"] == "queue"
        assert by_event["call.queued"]["queue"] == "sales"
        assert by_event["call.offered"]["agent"] == "1001" and by_event["call.answered"]["agent"] == "1001"
        ended = by_event["call.ended"]
        assert ended["disposition"] == "answered" and ended["hangup_by"] == "caller"
        assert ended["talk"] > 1.0 and ended["wait"] is not None
        assert all(line["level"] != "debug" for line in story)
    first_id, second_id = (line["call_id"] for line in arrivals)
    second_wait = next(line["wait"] for line in lines if line["event"] == "call.ended"
                       and line["call_id"] == second_id)
    assert second_wait > 1.0  # it waited for the agent's first call and wrap-up

    # No line about one call carries the other's id: SIP lines name their dialog's Call-ID, agent lines the
    # call they were offered; the agent's state changes during a call carry that call's id.
    for line in lines:
        if "sip_call_id" in line and line["sip_call_id"] in sip_ids and "call_id" in line:
            assert line["call_id"] == sip_ids[line["sip_call_id"]], line
        reason = str(line.get("reason", ""))
        if reason.startswith("offered call "):
            assert line["call_id"] == reason.removeprefix("offered call "), line
    assert _ids_in_order(lines, first_id, second_id)
    for call_id in (first_id, second_id):
        states = [line["new"] for line in lines
                  if line["event"] == "acd.agent_state" and line.get("call_id") == call_id]
        assert states[:3] == ["reserved", "ringing", "on-call"], states


async def _caller(directory: Path, target: str, number: str, *, talk: float) -> SippResult:
    """A SIPp caller from the carrier to 200 who hangs up ``talk`` seconds after voxcenter answers."""
    directory.mkdir()
    scenario = directory / "caller.xml"
    scenario.write_text(caller_scenario(from_user=number, hangs_up="caller", after=talk))
    return await run_sipp(str(scenario), target, directory, service="200", local_ip=CARRIER_IP, timeout=30)


def _ids_in_order(lines: list[dict[str, Any]], first_id: str, second_id: str) -> bool:
    """The second call's offer comes after the first call ended (one agent), each under its own id."""
    events = [(line["event"], line.get("call_id")) for line in lines]
    return events.index(("call.ended", first_id)) < events.index(("call.offered", second_id))
