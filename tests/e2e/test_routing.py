"""Routing rules with real peers: who is offered which caller, and when.

SIPp callers from the carrier (``queue_peers.calling``) and the harness's ``AgentPhone`` softphones
(digest REGISTER, feature codes, answering or ringing on). Every check reads what a phone saw, the
admin API, or what the store holds (CDRs, the queue timeline, agent events).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, plan_sections, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import call_of, calling, timeline
from tests.interop.sipp import free_port
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

TOKEN = {"Authorization": "Bearer test-token"}

ROUTING_PLAN = textwrap.dedent(f"""\
    trunks:
      carrier:
        inbound:
          allow_from: [{CARRIER_IP}/32]
    numbers:
      '400': {{node: order}}
      '401': {{node: present}}
    ivr:
      order: {{type: queue, queue: order}}
      present: {{type: queue, queue: present}}
    queues:
      order:
        strategy: longest-wait
        ring_timeout: 2s
        retry_delay: 20s
        wrap_up: 0s
        auto_pause_after: null
        join_when: always
        leave_when: never
        announcements: {{position_every: null}}
      present:
        ring_timeout: 5s
        wrap_up: 0s
        join_when: agents-logged-in
        leave_when: no-agents-logged-in
        announcements: {{position_every: null}}
        overflow: {{empty: {{voicemail: '500'}}}}
    agents:
      '1003': {{name: Carol, password: pw-1003, queues: [order]}}
      '1004': {{name: Dave, password: pw-1004, queues: [order]}}
      '1005': {{name: Eve, password: pw-1005, queues: [present]}}
    """)


@asynccontextmanager
async def routing_server(tmp: Path, api_port: int | None = None) -> AsyncIterator[Server]:
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, ROUTING_PLAN, sip_port=free_port(), rtp_base=rtp_base_for_test(),
                                  api_port=api_port))
    async with served(path) as server:
        yield server


def state(server: Server, agent_id: str) -> str:
    return server.acd.router.agent_state(agent_id).value


def waiting(server: Server, queue: str) -> int:
    return len(server.acd.router.waiting(queue, server.acd.now()))


async def test_after_a_missed_ring_the_head_of_the_queue_is_offered_first_and_the_delay_is_the_agents(
    tmp_path: Path,
) -> None:
    async with routing_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with (
            AgentPhone("1004", "pw-1004", address) as dave,
            AgentPhone("1003", "pw-1003", address, answer=False) as carol,
        ):
            for phone in (dave, carol):  # Dave logs in first: idle longest, he takes the first call
                assert await phone.register() == 200
                assert await phone.dial("*45") == 200
            async with calling(server, tmp_path, "400", name="busy", number="0800000000") as busy:
                await wait_for(lambda: state(server, "1004") == "on-call", what="Dave on the first call")
                async with calling(server, tmp_path, "400", name="head", number="0800000001") as head:
                    await wait_for(lambda: len(carol.calls) == 1, what="Carol rung for the head caller")
                    async with calling(server, tmp_path, "400", name="next", number="0800000002") as after:
                        await wait_for(lambda: waiting(server, "order") == 2, what="two waiting")
                        await wait_for(lambda: carol.calls[0].ended.done(), what="Carol's ring timed out")
                        # Dave is free well within Carol's 20 s retry delay: the head caller is his.
                        await dave.calls[0].hangup()
                        assert (await busy.finished()).successful == 1
                        await wait_for(lambda: len(dave.calls) == 2 and state(server, "1004") == "on-call",
                                       what="Dave's second call")
                        await dave.calls[1].hangup()
                        assert (await head.finished()).successful == 1
                        await wait_for(lambda: len(dave.calls) == 3 and state(server, "1004") == "on-call",
                                       what="Dave's third call")
                        await dave.calls[2].hangup()
                        assert (await after.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
            assert len(carol.calls) == 1  # her retry delay kept her phone quiet
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    head_id, next_id = call_of(db, "0800000001"), call_of(db, "0800000002")
    for call_id in (head_id, next_id):
        [(disposition, agent)] = query(db, "select disposition, agent from calls where call_id=?", call_id)
        assert (disposition, agent) == ("answered", "1004")
    head_events, next_events = timeline(db, head_id), timeline(db, next_id)
    [no_answer] = [e for e in head_events if e[0] == "RINGNOANSWER"]
    assert no_answer[2] == "1003"
    [head_connect] = [e for e in head_events if e[0] == "CONNECT"]
    [next_connect] = [e for e in next_events if e[0] == "CONNECT"]
    assert head_connect[1] < next_connect[1]
    assert head_connect[1] - no_answer[1] < 20.0  # not held back by a retry delay of its own


async def test_an_agent_without_a_registration_is_unavailable_counts_as_nobody_and_comes_back(
    tmp_path: Path,
) -> None:
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}"
    async with routing_server(tmp_path, api_port=api_port) as server, aiohttp.ClientSession() as http:
        address = server.endpoint.address("udp")
        async with http.post(f"{base}/api/agents/1005/login", headers=TOKEN, json={}) as response:
            assert response.status == 409, await response.text()
            assert "no registration" in (await response.json())["error"]
        async with AgentPhone("1005", "pw-1005", address) as eve:
            assert await eve.register() == 200
            async with http.post(f"{base}/api/agents/1005/login", headers=TOKEN, json={}) as response:
                assert response.status == 200 and (await response.json())["state"] == "ready"
            assert await eve.register(expires=0) == 200  # the phone unregisters
            await wait_for(lambda: state(server, "1005") == "unavailable", what="Eve unavailable")
            async with http.get(f"{base}/api/agents/1005", headers=TOKEN) as response:
                agent = await response.json()
            assert (agent["state"], agent["reachable"]) == ("unavailable", False), agent
            async with http.get(f"{base}/api/queues", headers=TOKEN) as response:
                [present] = [q for q in (await response.json())["queues"] if q["name"] == "present"]
            assert (present["agents"]["ready"], present["agents"]["unavailable"]) == (0, 1), present
            async with http.get(f"{base}/metrics", headers=TOKEN) as response:
                assert 'voxcenter_agents{state="unavailable"} 1.0' in await response.text()
            # Joining needs an agent logged in: an unavailable one is nobody, the caller goes to voicemail.
            async with calling(server, tmp_path, "401", name="refused", number="0810000001", hold=3.0) as refused:
                assert (await refused.finished()).successful == 1
            assert eve.calls == []
            assert await eve.register() == 200  # the registration is back: so is the logged-in state
            await wait_for(lambda: state(server, "1005") == "ready", what="Eve ready again")
            async with calling(server, tmp_path, "401", name="served", number="0810000002") as served_caller:
                await wait_for(lambda: state(server, "1005") == "on-call", what="Eve on the call")
                await eve.calls[0].hangup()
                assert (await served_caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    refused_events = [e[0] for e in timeline(db, call_of(db, "0810000001"))]
    assert "JOINEMPTY" in refused_events and "CONNECT" not in refused_events, refused_events
    [(disposition, agent)] = query(db, "select disposition, agent from calls where call_id=?",
                                   call_of(db, "0810000002"))
    assert (disposition, agent) == ("answered", "1005")
    states = [str(s) for (s,) in query(db, "select state from agent_events where agent='1005' order by at, rowid")]
    assert states[:3] == ["ready", "unavailable", "ready"], states
