"""Two voxcenter nodes behind Kamailio (deploy/kamailio/kamailio.cfg), one PostgreSQL; an agent registering through it.

A SIPp carrier sends every call to the proxy, which dispatches them over the two nodes (``voxcenter run`` child
processes on 127.0.0.1, each with its ``--node`` name, its journal and RTP range). Each call waits in a queue
with no agent for a few seconds, then the caller hangs up along the recorded route.

- ``kill -9`` of one node while calls flow: the calls live on it are lost (their BYE goes unanswered), and no
  other: the proxy sends the next calls to the survivor (after one unanswered INVITE, or a ping, takes the dead
  node out); the survivor sees the dead node's heartbeat stop and closes its open CDRs, each saying so.
- Rolling restart: SIGTERM drains one node (its calls finish, its pings and new INVITEs get 503): no call fails.
- An agent's phone registers through the proxy: the node challenges it (digest stays in voxcenter) and keeps
  the proxy as the binding's source, the proxy saves the binding on the node's 200, and the node's call to the
  agent goes through the proxy, which finds the phone in its location table; the other node keeps a copy of
  the binding from the database (its heartbeat) and rings the phone through the proxy too.

The figures (takeover, lost calls, closing delay) are printed for docs/benchmarks.md; nothing here is timed.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, ServerProcess, plan_sections, records, rtp_base_for_test
from tests.interop.kamailio import Kamailio
from tests.interop.sipp import SippResult, free_port, run_sipp
from voxcenter.sip.transport import Address
from voxcenter.store.recovery import CRASH_CAUSE

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

PROXY_IP = "127.0.0.4"
CARRIER_IP = "127.0.0.5"
NODES = ("node-a", "node-b")


def node_plan(directory: Path, url: str, name: str) -> tuple[Path, int]:
    """A node's dial plan: the proxy is its carrier (trusted, never rate-limited); calls wait in ``hold``."""
    sip_port = free_port()
    body = textwrap.dedent(f"""\
        trunks:
          proxy:
            inbound:
              allow_from: [{PROXY_IP}/32]
              agents: true
        numbers:
          '100': {{node: wait}}
          '202': {{node: to-alice}}
        ivr:
          wait:
            type: queue
            queue: hold
          to-alice:
            type: transfer
            agent: '1001'
            ring_timeout: 5s
            on_failure: bye
          bye:
            type: hangup
            prompts: goodbye
        queues:
          hold:
            join_when: always
            leave_when: never
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [hold]}}
        cluster:
          heartbeat: 1s
          dead_after: 3s
        """)
    node_directory = directory / name
    node_directory.mkdir()
    text = plan_sections(node_directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(), database_url=url)
    text = text.replace("never_ban: [127.0.0.1/32]", f"never_ban: [127.0.0.1/32, {PROXY_IP}/32]")
    path = node_directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port


async def callers(directory: Path, proxy: Kamailio, *, calls: int, rate: float, talk: float,
                  number: str = "100") -> SippResult:
    """``calls`` SIPp calls to ``number`` through the proxy, ``talk`` seconds each after the answer."""
    workdir = directory / f"sipp-{time.monotonic_ns()}"
    workdir.mkdir()
    return await run_sipp("uac_call_talk.xml", proxy.address, workdir, calls=calls, rate=rate, limit=calls,
                          local_ip=CARRIER_IP, timeout=60, service=number,
                          extra=["-d", str(int(talk * 1000)), "-max_retrans", "3"])


async def cluster(stack: AsyncExitStack, directory: Path, url: str, names: tuple[str, ...] = NODES
                  ) -> tuple[Kamailio, dict[str, ServerProcess], dict[str, str]]:
    """The proxy and the nodes, started; the nodes by name, and the SIP address of each."""
    nodes: dict[str, ServerProcess] = {}
    addresses: dict[str, str] = {}
    for name in names:
        plan, port = node_plan(directory, url, name)
        nodes[name] = ServerProcess(plan, directory / f"{name}.log", node=name, drain=20.0)
        addresses[name] = f"127.0.0.1:{port}"
    for node in nodes.values():
        await node.start()
        stack.push_async_callback(node.kill)
    proxy = await stack.enter_async_context(Kamailio(directory, PROXY_IP, free_port(), list(addresses.values()),
                                                           ping_interval=1))
    return proxy, nodes, addresses


async def stop(node: ServerProcess) -> None:
    """SIGTERM: the node finishes its calls and writes their last records."""
    node.terminate()
    assert await node.exit_status(40) == 0


async def node_of_calls(url: str) -> dict[str, str]:
    return {row["sip_call_id"]: row["node"] for row in await records(url, "select sip_call_id, node from calls")}


async def test_kill_9_of_a_node_loses_only_its_live_calls_and_the_survivor_closes_them(
        tmp_path: Path, pg_url: str) -> None:
    async with AsyncExitStack() as stack:
        proxy, nodes, addresses = await cluster(stack, tmp_path, pg_url)
        warm = await callers(tmp_path, proxy, calls=4, rate=4, talk=1.0)
        assert (warm.successful, warm.failed) == (4, 0), warm.describe()
        assert sorted(set((await node_of_calls(pg_url)).values())) == list(NODES)  # both nodes take calls

        # 40 calls at 4 a second, 3 s each; node-a dies 4 s in, with its share of calls live.
        flow = asyncio.get_running_loop().create_task(callers(tmp_path, proxy, calls=40, rate=4, talk=3.0))
        await asyncio.sleep(4.0)
        killed_at = time.time()
        await nodes["node-a"].kill()
        live_on_a = await records(pg_url, "select call_id from calls where node = 'node-a' "
                                          "and disposition = 'in_progress'")
        result = await flow
        await nodes["node-b"].logged("cluster.node_dead", 30)
        await stop(nodes["node-b"])

    # The calls lost are the ones that were live on node-a (their BYE got no answer); every other call went on.
    assert live_on_a, "node-a had no live call when it was killed"
    # +1: a call node-a answered just before the kill, whose CDR was still in its journal
    assert len(live_on_a) <= result.failed <= len(live_on_a) + 1, result.describe()
    assert result.successful + result.failed == 40, result.describe()
    [dead] = [line for line in nodes["node-b"].lines() if line.get("event") == "cluster.node_dead"]
    assert dead["node"] == "node-a" and dead["closed_by"] == "node-b", dead
    closed = await records(pg_url, "select * from calls where node = 'node-a' and hangup_by = 'system'")
    assert {row["call_id"] for row in live_on_a} <= {row["call_id"] for row in closed}, (live_on_a, closed)
    for cdr in closed:
        assert cdr["hangup_cause"] == CRASH_CAUSE.format(node="node-a") and cdr["ended_at"] is not None, cdr
    assert not await records(pg_url, "select call_id from calls where disposition = 'in_progress'")

    # After the proxy took node-a out, every new call went to node-b.
    after = [d for d in proxy.dispatches() if d.method == "INVITE" and d.at > killed_at]
    to_dead = [d for d in after if d.node == addresses["node-a"]]
    failovers = [d for d in after if d.failover]
    takeover = (max(d.at for d in to_dead) - killed_at) if to_dead else 0.0
    print(f"\ncluster kill -9: calls={result.successful + result.failed} lost={result.failed} "
          f"(live on the dead node: {len(live_on_a)}), sent to the dead node after the kill: {len(to_dead)} "
          f"(all failed over: {len(failovers)}), last one {takeover:.2f} s after the kill, "
          f"its CDRs closed by node-b {dead['silent_seconds']:.1f} s after its last heartbeat")
    assert len(failovers) == len(to_dead)
    assert all(d.node == addresses["node-b"] for d in after if d not in to_dead)


async def test_a_rolling_restart_refuses_no_caller(tmp_path: Path, pg_url: str) -> None:
    async with AsyncExitStack() as stack:
        proxy, nodes, _ = await cluster(stack, tmp_path, pg_url)
        flow = asyncio.get_running_loop().create_task(callers(tmp_path, proxy, calls=40, rate=4, talk=2.0))
        for name in NODES:
            await asyncio.sleep(3.0)
            await stop(nodes[name])  # drains: new calls get 503 and go to the other node
            await nodes[name].start()
        result = await flow
        for node in nodes.values():
            await stop(node)
    assert (result.successful, result.failed) == (40, 0), result.describe()
    where = await node_of_calls(pg_url)
    assert sorted(set(where.values())) == list(NODES)
    assert not await records(pg_url, "select call_id from calls where disposition = 'in_progress'")
    print(f"\ncluster rolling restart: calls={result.successful + result.failed} failed={result.failed} "
          f"failovers={sum(d.failover for d in proxy.dispatches())}")


async def test_an_agent_registers_through_the_proxy_and_takes_a_call_from_it(tmp_path: Path, pg_url: str) -> None:
    """The REGISTER passes through the proxy to the node, which challenges it (digest stays in voxcenter)."""
    async with AsyncExitStack() as stack:
        proxy, nodes, _ = await cluster(stack, tmp_path, pg_url, names=("node-a",))
        host, port = proxy.address.split(":")
        alice = await stack.enter_async_context(AgentPhone("1001", "pw-1001", Address("udp", host, int(port))))
        assert await alice.register() == 200
        result = await callers(tmp_path, proxy, calls=1, rate=1, talk=1.0, number="202")
        assert result.successful == 1, result.describe()
        assert len(alice.calls) == 1
        await stop(nodes["node-a"])
    [cdr] = await records(pg_url, "select agent, node from calls")
    assert (cdr["agent"], cdr["node"]) == ("1001", "node-a"), cdr
    assert "to agent INVITE" in proxy.log()  # the node's call to the agent went through the proxy's location


async def test_an_agent_registered_through_the_proxy_takes_calls_that_entered_on_either_node(
        tmp_path: Path, pg_url: str) -> None:
    """The phone registers with one node; the other keeps a copy of the binding from the database (heartbeat)
    and rings the phone through the proxy too."""
    async with AsyncExitStack() as stack:
        proxy, nodes, addresses = await cluster(stack, tmp_path, pg_url)
        host, port = proxy.address.split(":")
        alice = await stack.enter_async_context(AgentPhone("1001", "pw-1001", Address("udp", host, int(port))))
        assert await alice.register() == 200
        for node in nodes.values():  # one took the REGISTER, the other shares it on its next heartbeat
            await node.logged("sip.binding", 20)
        [home] = [name for name, node in nodes.items() if any(
            line.get("change") == "added" for line in node.lines() if line.get("event") == "sip.binding")]
        # Her login goes to the node her REGISTER went to, which challenges it as hers.
        assert await alice.dial("*45") == 200
        # (the INVITE, and again with her credentials after the node's challenge)
        assert {d.node for d in proxy.dispatches() if d.home} == {addresses[home]}, (proxy.dispatches(), home)
        await nodes[home].logged("acd.agent_state", 10)
        for _ in range(4):  # round-robin: two calls enter on each node
            result = await callers(tmp_path, proxy, calls=1, rate=1, talk=0.5, number="202")
            assert result.successful == 1, result.describe()
        for node in nodes.values():
            await stop(node)
    assert len(alice.calls) == 4
    cdrs = await records(pg_url, "select agent, node from calls")
    assert sorted((cdr["node"], cdr["agent"]) for cdr in cdrs) == [
        ("node-a", "1001"), ("node-a", "1001"), ("node-b", "1001"), ("node-b", "1001")], cdrs
    [shared] = [line for node in nodes.values() for line in node.lines()
                if line.get("event") == "sip.binding" and line.get("change") == "shared"]
    assert shared["aor"] == "1001", shared
