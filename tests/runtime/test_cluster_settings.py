"""``cluster.shared_queues``, ``cluster.secret`` and ``cluster.address``: refused when incomplete, and a node
sharing the router tells the others where it takes SIP (``cluster_nodes.sip_address``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.harness import dial_plan, free_port, records, rtp_base_for_test, served
from voxcenter.acd.agents import AgentState
from voxcenter.config import ConfigError, load_config
from voxcenter.store.records import AgentStateRecord

CLUSTER = """
cluster:
  heartbeat: 1s
  dead_after: 3s
{extra}"""


def plan(tmp_path: Path, extra: str) -> Path:
    return dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(),
                     extra=CLUSTER.format(extra=extra))


@pytest.mark.parametrize(("extra", "message"), [
    ("  shared_queues: true\n", "cluster.shared_queues needs cluster.heartbeat"),
    ("  shared_queues: true\n  secret: s\n  address: nowhere\n", "is not host:port"),
])
def test_an_incomplete_shared_router_is_refused(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(plan(tmp_path, extra))
    assert message in str(refused.value)
    assert "voxcenter.yaml:" in str(refused.value)  # file:line:column of the cluster section


async def test_a_node_tells_the_others_where_it_takes_sip(tmp_path: Path) -> None:
    path = plan(tmp_path, "  shared_queues: true\n  secret: nodes-only\n  address: 10.1.2.3:5070\n")
    async with served(path, node="solo") as server:
        assert server.heartbeat is not None and server.heartbeat.routes_here(time.time()) is True
        assert server.acd.routing  # alone, it is the router
        url = str(server.database_url)
        [row] = await records(url, "select node, sip_address from cluster_nodes")
        [lease] = await records(url, "select name, holder from cluster_leases")
    assert (row["node"], row["sip_address"]) == ("solo", "10.1.2.3:5070")
    assert (lease["name"], lease["holder"]) == ("acd", "solo")


ROUTED = """
routes:
  anywhere:
    patterns: ['\\d+']
    trunk: carrier
    allow: {ivr: true}
cluster:
  heartbeat: 1s
  dead_after: 3s
  shared_queues: true
  secret: nodes-only
"""
CARRIER = "  carrier:\n    outbound:\n      proxy: sip:127.0.0.1:9\n"


async def test_the_router_takes_what_other_nodes_wrote_for_it_at_its_heartbeat(tmp_path: Path) -> None:
    """Logins, pauses and callbacks written by another node (rows in the database) reach the router's ACD."""
    path = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), extra=ROUTED, trunks=CARRIER)
    async with served(path, node="router") as server:
        assert server.heartbeat is not None and server.acd.routing
        now = time.time()
        # Another node took Bob's login and pause, and booked a callback (a follower writes it, routes nothing).
        server.writer.submit(AgentStateRecord(agent="1002", version=time.time_ns() // 1000, state="paused",
                                              at=now, node="elsewhere", pause_reason="lunch"))
        server.acd.routing = False
        booked = server.acd.book_callback("0612345678", "sales", now + 600, None)
        assert booked.callback_id not in server.acd.callback_records  # written for the router, not routed here
        server.acd.routing = True
        assert await server.writer.flush(10)
        await server.heartbeat.tick()
        router = server.acd.router
        # logged in and paused (unavailable too: his phone is not registered in this test)
        assert router.agent_state("1002") is not AgentState.OFFLINE and router.agent_pause_reason("1002") == "lunch"
        assert booked.callback_id in server.acd.callback_records
        # The next heartbeat reads the same rows again: nothing is applied twice.
        await server.heartbeat.tick()
        assert list(server.acd.callback_records) == [booked.callback_id]
        # Bob logs out on the other node: the router logs him out too.
        server.writer.submit(AgentStateRecord(agent="1002", version=time.time_ns() // 1000, state="offline",
                                              at=time.time(), node="elsewhere", pause_reason=None))
        assert await server.writer.flush(10)
        await server.heartbeat.tick()
        assert router.agent_state("1002") is AgentState.OFFLINE


def test_campaigns_are_refused_with_one_router_for_every_node(tmp_path: Path) -> None:
    campaign = ("routes:\n  anywhere:\n    patterns: ['\\d+']\n    trunk: carrier\n    allow: {ivr: true}\n"
                "campaigns:\n  renewals:\n    queue: sales\n    route: anywhere\n")
    path = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), trunks=CARRIER,
                     extra=campaign + CLUSTER.format(extra="  shared_queues: true\n  secret: s\n"))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "campaigns are not run with cluster.shared_queues" in str(refused.value)
