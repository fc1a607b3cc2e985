"""/metrics: Prometheus text computed at scrape time from the router."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import AUTH, Client
from tests.api.fake import FakeControlPlane
from voxcenter.api import metrics_registry


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_follow_the_router_at_scrape_time(client: Client, control: FakeControlPlane) -> None:
    before = await scrape(client)
    assert before[("voxcenter_calls_in_progress", ())] == 0
    assert math.isnan(before[("voxcenter_queue_service_level_ratio", (("queue", "sales"),))])
    assert before[("voxcenter_agents", (("state", "offline"),))] == 4

    control.staff("1001", "1003")
    control.join("c1", "sales")
    control.answer("c1", "1001")
    control.join("c2", "support")
    control.join("c3", "support")
    control.advance(9.0)
    control.agent_command("1003", "pause", "training")  # 1003 is ringing: the pause waits
    after = await scrape(client)
    assert after[("voxcenter_calls_in_progress", ())] == 3
    assert after[("voxcenter_queue_calls_waiting", (("queue", "support"),))] == 2
    assert after[("voxcenter_queue_calls_waiting", (("queue", "sales"),))] == 0
    assert after[("voxcenter_queue_longest_wait_seconds", (("queue", "support"),))] == 9.0
    assert after[("voxcenter_queue_service_level_ratio", (("queue", "sales"),))] == 1.0
    assert after[("voxcenter_queue_asa_seconds", (("queue", "sales"),))] == 0.0
    assert after[("voxcenter_queue_offered_total", (("queue", "support"),))] == 2
    assert after[("voxcenter_queue_answered_total", (("queue", "sales"),))] == 1
    assert after[("voxcenter_queue_agents", (("queue", "sales"), ("state", "on-call")))] == 1
    assert after[("voxcenter_agents", (("state", "on-call"),))] == 1
    assert after[("voxcenter_agents", (("state", "offline"),))] == 2
    assert sum(v for (name, _), v in after.items() if name == "voxcenter_agents") == 4

    control.staff("1004")
    control.unregister("1004")  # logged in, phone gone: counted apart, not as ready
    later = await scrape(client)
    assert later[("voxcenter_agents", (("state", "unavailable"),))] == 1
    assert later[("voxcenter_queue_agents", (("queue", "support"), ("state", "unavailable")))] == 1
    assert later[("voxcenter_queue_agents", (("queue", "support"), ("state", "ready")))] == 0


async def test_metrics_can_join_an_existing_registry(control: FakeControlPlane) -> None:
    registry = CollectorRegistry()
    Gauge("voxcenter_rtp_sessions", "RTP sessions", registry=registry).set(3)
    metrics_registry(control, registry)
    names = {m.name for m in registry.collect()}
    assert {"voxcenter_rtp_sessions", "voxcenter_calls_in_progress", "voxcenter_agents"} <= names
