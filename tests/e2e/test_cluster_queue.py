"""One queue over two nodes (``cluster.shared_queues``): Kamailio in front, one PostgreSQL, SIPp callers.

The node holding the router lease runs the ACD for both. A caller who comes in through the other node is sent
on to it (a digest-authenticated SIP call carrying the caller's place), so callers wait in one order whatever
node the proxy gave them, and agents registered through the proxy on either node are offered by one router.

- Four callers come in one a second, alternately on each node; then four agents log in one after another
  (each ``*45`` goes to the agent's own node, which may not be the router's): each new agent gets the caller
  who has waited longest, so the agents take the callers in the order they came, across both nodes. Every
  CDR is one row per caller, written first by the node the caller came in on and finished by the router node.
- ``kill -9`` of the router node with two callers waiting in its queue, one relayed from the other node: the
  other node takes the lease once it runs out (``dead_after``), with the callback that was waiting and the
  paused agent; the caller whose audio went through the dead node is lost, the relayed one is queued again
  on the survivor at the place they had and answered; new callers are queued and answered there.

The figures (takeover) are printed for docs/benchmarks.md; nothing here is timed.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import AgentPhone, ServerProcess, plan_sections, records, rtp_base_for_test
from tests.e2e.test_cluster import PROXY_IP, callers, stop
from tests.interop.kamailio import Kamailio
from tests.interop.sipp import free_port
from voxcenter.sip.transport import Address

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]

NODES = ("node-a", "node-b")
AGENTS = ("1001", "1002", "1003", "1004")


def node_plan(directory: Path, url: str, name: str) -> tuple[Path, int]:
    """A node's dial plan: the proxy is its carrier; callers wait in ``sales``; the nodes share its router."""
    sip_port, api_port = free_port(), free_port()
    agents = "".join(f"  '{agent}': {{name: Agent {agent}, password: pw-{agent}, queues: [sales]}}\n"
                     for agent in AGENTS)
    body = textwrap.dedent("""\
        trunks:
          proxy:
            inbound:
              allow_from: [PROXY/32]
              agents: true
          carrier:
            outbound:
              proxy: sip:127.0.0.1:9
        routes:
          anywhere:
            patterns: ['\\d+']
            trunk: carrier
            allow: {ivr: true}
        numbers:
          '100': {node: wait, record: everything}
        ivr:
          wait:
            type: queue
            queue: sales
        queues:
          sales:
            join_when: always
            leave_when: never
            wrap_up: 0s
            ring_timeout: 10s
        agents:
        """).replace("PROXY", PROXY_IP) + agents + textwrap.dedent("""\
        cluster:
          heartbeat: 1s
          dead_after: 3s
          shared_queues: true
          secret: nodes-only
        """)
    node_directory = directory / name
    node_directory.mkdir()
    text = plan_sections(node_directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(), database_url=url,
                         api_port=api_port, inactivity_timeout="60s")  # the SIPp callers send no RTP
    text = text.replace("never_ban: [127.0.0.1/32]", f"never_ban: [127.0.0.1/32, {PROXY_IP}/32]")
    path = node_directory / "voxcenter.yaml"
    path.write_text(text)
    return path, api_port


async def api(port: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, f"http://127.0.0.1:{port}{path}", json=body,
            headers={"Authorization": "Bearer test-token"}) as response:
        return response.status, await response.json()


async def start_cluster(stack: AsyncExitStack, directory: Path, url: str
                        ) -> tuple[Kamailio, dict[str, ServerProcess], dict[str, int]]:
    """node-a first (it takes the router lease), then node-b, then the proxy in front of both."""
    nodes: dict[str, ServerProcess] = {}
    api_ports: dict[str, int] = {}
    addresses = []
    for name in NODES:
        plan, api_ports[name] = node_plan(directory, url, name)
        nodes[name] = ServerProcess(plan, directory / f"{name}.log", node=name, drain=40.0)
        await nodes[name].start()
        stack.push_async_callback(nodes[name].kill)
        sip = next(line["sip"][0] for line in nodes[name].lines() if line.get("event") == "voxcenter.started")
        addresses.append(sip.split(":", 1)[1])  # "udp:127.0.0.1:port"
    proxy = await stack.enter_async_context(Kamailio(directory, PROXY_IP, free_port(), addresses,
                                                     ping_interval=1))
    return proxy, nodes, api_ports


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def router_of(nodes: dict[str, ServerProcess]) -> str:
    """The node whose last ``cluster.router`` line says it took the lease."""
    taken = [(line["timestamp"], name) for name, node in nodes.items() for line in node.lines()
             if line.get("event") == "cluster.router" and line.get("taken")]
    assert taken, "no node took the router lease"
    return max(taken)[1]


async def phones(stack: AsyncExitStack, proxy: Kamailio) -> dict[str, AgentPhone]:
    host, port = proxy.address.split(":")
    registered = {}
    for agent in AGENTS:
        phone = await stack.enter_async_context(AgentPhone(agent, f"pw-{agent}", Address("udp", host, int(port))))
        assert await phone.register() == 200
        registered[agent] = phone
    return registered


async def test_callers_on_both_nodes_are_answered_in_the_order_they_came(tmp_path: Path, pg_url: str) -> None:
    async with AsyncExitStack() as stack:
        proxy, nodes, api_ports = await start_cluster(stack, tmp_path, pg_url)
        assert router_of(nodes) == "node-a"
        agents = await phones(stack, proxy)
        await asyncio.sleep(2.5)  # every node's heartbeat has shared every binding
        flow = asyncio.get_running_loop().create_task(callers(tmp_path, proxy, calls=4, rate=1, talk=25.0))
        await asyncio.sleep(6.0)  # all four wait: two came in on each node
        for agent in AGENTS:  # each new agent takes the caller who has waited longest
            assert await agents[agent].dial("*45") == 200
            await asyncio.sleep(2.5)  # the login reaches the router at its next heartbeat, then it rings
        # node-b's API answers for the router: the agents as node-a sees them, the wallboard sent there.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{api_ports['node-b']}/api/agents",
                                headers={"Authorization": "Bearer test-token"}) as answer:
                seen_on_b = (answer.status, answer.headers.get("X-Voxcenter-Node"), await answer.json())
            async with http.get(f"http://127.0.0.1:{api_ports['node-b']}/wallboard", allow_redirects=False) as page:
                wallboard = (page.status, page.headers.get("Location"))
        result = await flow
        for node in nodes.values():
            await stop(node)
    assert (result.successful, result.failed) == (4, 0), result.describe()
    status, answered_by, listed = seen_on_b
    assert (status, answered_by) == (200, "node-a"), seen_on_b
    assert {agent["id"]: agent["state"] for agent in listed["agents"]} == dict.fromkeys(AGENTS, "on-call"), listed
    assert wallboard == (307, f"http://127.0.0.1:{api_ports['node-a']}/wallboard"), wallboard
    cdrs = await records(pg_url, "select * from calls order by queue_entered_at")
    assert len(cdrs) == 4, cdrs  # one row per caller, whatever node they came in on
    assert all(row["node"] == "node-a" and row["disposition"] == "answered" for row in cdrs), cdrs
    assert [row["agent"] for row in cdrs] == list(AGENTS), [(row["agent"], row["queue_entered_at"]) for row in cdrs]
    assert all(len(agents[agent].calls) == 1 for agent in AGENTS)  # nobody offered two callers at once
    sent_on = [line for line in nodes["node-b"].lines() if line.get("event") == "call.sent_to_router"]
    assert len(sent_on) == 2, sent_on  # node-b's two callers went to node-a's queue
    # Recorded from the answer: a caller relayed from node-b has node-b's recording up to the queue and node-a's
    # from there on; one who came in on node-a has one.
    relayed = {line["call_id"] for line in sent_on}
    files = await records(pg_url, "select call_id, count(*) as n from recordings group by call_id")
    assert {row["call_id"]: row["n"] for row in files} == {row["call_id"]: 2 if row["call_id"] in relayed else 1
                                                           for row in cdrs}, files
    events = await records(pg_url, "select call_id, event from call_events where event in ('ENTERQUEUE', 'CONNECT')")
    assert sorted(row["event"] for row in events) == ["CONNECT"] * 4 + ["ENTERQUEUE"] * 4, events


async def test_kill_9_of_the_router_node_hands_its_queues_and_callbacks_to_the_other(
        tmp_path: Path, pg_url: str) -> None:
    async with AsyncExitStack() as stack:
        proxy, nodes, api_ports = await start_cluster(stack, tmp_path, pg_url)
        assert router_of(nodes) == "node-a"
        agents = await phones(stack, proxy)
        # A web lead booked through node-b (not the router), due in ten minutes: node-b's API passes the
        # booking on to the router node, which holds it.
        due = time.time() + 600
        status, booked = await api(api_ports["node-b"], "POST", "/api/callbacks",
                                   {"number": "0612345678", "queue": "sales", "due": due})
        assert (status, booked["status"]) == (201, "pending"), booked
        await nodes["node-a"].logged("callback.booked", 10)
        # Agent 1002 logs in and pauses on her home node: the router (node-a) has her paused.
        assert await agents["1002"].dial("*45") == 200
        assert await agents["1002"].dial("*47") == 200
        await wait_until(lambda: any(line.get("event") == "acd.agent_state" and line.get("agent") == "1002"
                                     and line.get("new") == "paused" for line in nodes["node-a"].lines()), 10)
        # Two callers wait in node-a's queue, one of them relayed from node-b.
        flow = asyncio.get_running_loop().create_task(callers(tmp_path, proxy, calls=2, rate=2, talk=25.0))
        await wait_until(lambda: any(line.get("event") == "call.sent_to_router"
                                     for line in nodes["node-b"].lines()), 10)
        await asyncio.sleep(1.0)
        killed_at = time.time()
        await nodes["node-a"].kill()
        await nodes["node-b"].logged("restore.router", 20)
        [took] = [line for line in nodes["node-b"].lines() if line.get("event") == "restore.router"]
        assert (took["callbacks"], took["agents_logged_in"], took["agents_paused"]) == (1, 1, 1), took
        takeover = next(line for line in nodes["node-b"].lines()
                        if line.get("event") == "cluster.router" and line.get("taken"))
        # node-b's caller is queued again on node-b at the place they had; the next agent to log in takes them.
        await nodes["node-b"].logged("call.router_lost", 10)
        assert await agents["1001"].dial("*45") == 200
        await wait_until(lambda: len(agents["1001"].calls) == 1, 10)
        # The survivor routes new callers too.
        assert await agents["1003"].dial("*45") == 200
        await asyncio.sleep(1.0)
        later = await callers(tmp_path, proxy, calls=2, rate=1, talk=2.0)
        first = await flow
        status, waiting = await api(api_ports["node-b"], "GET", "/api/callbacks")
        await stop(nodes["node-b"])
    # The caller whose audio went through node-a was lost with it; node-b's was answered.
    assert (first.successful, first.failed) == (1, 1), first.describe()
    assert (later.successful, later.failed) == (2, 0), later.describe()
    assert status == 200 and [c["id"] for c in waiting["callbacks"]] == [booked["id"]], waiting
    [lost] = [line for line in nodes["node-b"].lines() if line.get("event") == "call.router_lost"]
    assert lost["requeued"] is True, lost
    [kept] = await records(pg_url, "select * from calls where agent = '1001'")
    assert (kept["disposition"], kept["node"]) == ("answered", "node-b"), kept
    # its wait counts from when it first entered the queue, on node-a, before the kill
    assert kept["wait_seconds"] >= killed_at - kept["queue_entered_at"] > 0, kept
    answered = await records(pg_url, "select agent, node from calls where disposition = 'answered'")
    assert sorted(row["agent"] for row in answered) == ["1001", "1003", "1003"], answered
    taken_after = datetime.fromisoformat(takeover["timestamp"].replace("Z", "+00:00")).timestamp() - killed_at
    assert taken_after < 3.0 + 2 * 1.0 + 1.0, taken_after  # dead_after, then at most two heartbeats (and slack)
    print(f"\ncluster router kill -9: node-b took the router lease {taken_after:.2f} s after the kill, "
          f"with {took['callbacks']} callback owed and {took['agents_paused']} paused agent; the caller relayed "
          f"from node-b queued again (waited {kept['wait_seconds']:.1f} s in all) and answered; "
          f"{later.successful} new callers answered on it after")


async def test_stopping_the_router_node_moves_its_waiting_callers_to_the_next(tmp_path: Path, pg_url: str) -> None:
    """SIGTERM of the router node with two callers talking to agents and two waiting: the lease goes to the other
    node at its next heartbeat, the waiting callers move there (the one relayed from it goes back to it, the
    other is relayed to it), the busy agents are held out of its queues until their calls on the stopping node
    end, and then take the waiting callers. No caller is refused or lost; no agent has two calls at once."""
    async with AsyncExitStack() as stack:
        proxy, nodes, _ = await start_cluster(stack, tmp_path, pg_url)
        agents = await phones(stack, proxy)
        for agent in ("1001", "1002"):
            assert await agents[agent].dial("*45") == 200
        await wait_until(lambda: sum(line.get("event") == "acd.agent_state" and line.get("new") == "ready"
                                     for line in nodes["node-a"].lines()) >= 2, 10)
        loop = asyncio.get_running_loop()
        talking = loop.create_task(callers(tmp_path, proxy, calls=2, rate=2, talk=8.0))
        await wait_until(lambda: all(len(agents[agent].calls) == 1 for agent in ("1001", "1002")), 10)
        waiting = loop.create_task(callers(tmp_path, proxy, calls=2, rate=2, talk=25.0))
        await asyncio.sleep(2.0)  # both wait in node-a's queue, one of them relayed from node-b
        nodes["node-a"].terminate()
        await nodes["node-a"].logged("cluster.router_handed_over", 10)
        await nodes["node-b"].logged("restore.router", 10)
        first, second = await talking, await waiting
        assert await nodes["node-a"].exit_status(60) == 0
        await stop(nodes["node-b"])
    assert (first.successful, first.failed, second.successful, second.failed) == (2, 0, 2, 0), (
        first.describe(), second.describe())
    [handed] = [line for line in nodes["node-a"].lines() if line.get("event") == "cluster.router_handed_over"]
    assert handed["callers"] == 2, handed
    [took] = [line for line in nodes["node-b"].lines() if line.get("event") == "restore.router"]
    assert (took["handed_over"], took["agents_logged_in"], took["agents_paused"]) == (True, 2, 2), took
    cdrs = await records(pg_url, "select * from calls order by queue_entered_at")
    assert [(row["disposition"], row["agent"] is not None) for row in cdrs] == [("answered", True)] * 4, cdrs
    assert {row["node"] for row in cdrs[2:]} == {"node-b"}, cdrs  # the moved callers ended on the new router
    for agent in ("1001", "1002"):  # each took a talking caller, then a moved one, never both at once
        mine = sorted((row["agent_answered_at"], row["ended_at"]) for row in cdrs if row["agent"] == agent)
        assert len(mine) == 2 and mine[0][1] <= mine[1][0], (agent, mine)


async def test_a_rolling_restart_with_one_router_refuses_no_caller(tmp_path: Path, pg_url: str) -> None:
    """40 callers at 4 a second wait 2 s each while first the router node, then the other, is stopped (SIGTERM)
    and started again: the lease moves twice, callers entering meanwhile wait for the next router, none fails."""
    async with AsyncExitStack() as stack:
        proxy, nodes, _ = await start_cluster(stack, tmp_path, pg_url)
        flow = asyncio.get_running_loop().create_task(callers(tmp_path, proxy, calls=40, rate=4, talk=2.0))
        for name in NODES:
            await asyncio.sleep(3.0)
            await stop(nodes[name])
            shutil.copy(nodes[name].log_path, tmp_path / f"{name}-before-restart.log")  # start() begins a new log
            await nodes[name].start()
        result = await flow
        for node in nodes.values():
            await stop(node)
    assert (result.successful, result.failed) == (40, 0), result.describe()
    cdrs = await records(pg_url, "select * from calls")
    assert len(cdrs) == 40, cdrs
    odd = [row for row in cdrs if (row["disposition"], row["queue"]) != ("abandoned_queue", "sales")]
    assert not odd, odd
    handed = [line for node in nodes.values() for line in node.lines()
              if line.get("event") == "cluster.router_handed_over"]
    assert handed, "the router node never handed its queues over"
