"""``cluster.shared_queues``, ``cluster.secret`` and ``cluster.address``: refused when incomplete, and a node
sharing the router tells the others where it takes SIP (``cluster_nodes.sip_address``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.harness import dial_plan, free_port, records, rtp_base_for_test, served
from voxcenter.config import ConfigError, load_config

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
