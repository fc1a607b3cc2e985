"""/metrics beyond the router: trunks, registrations, RTP quality, calls by disposition, the wait histogram."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import AUTH, Client
from tests.api.fake import FakeControlPlane
from voxcenter.api.control import WAIT_BUCKETS, CallTally, ServerFigures, TrunkFigure


def test_tally_counts_dispositions_and_buckets_waits() -> None:
    tally = CallTally()
    for disposition, wait in [("answered", 3.0), ("answered", 20.0), ("abandoned_queue", 45.5),
                              ("abandoned_ivr", None), ("timeout", 900.0)]:
        tally.call_ended(disposition, wait)
    assert tally.dispositions == {"answered": 2, "abandoned_queue": 1, "abandoned_ivr": 1, "timeout": 1}
    bounds = [*WAIT_BUCKETS, float("inf")]
    assert [bounds[i] for i, count in enumerate(tally.wait_counts) for _ in range(count)] == [5.0, 20.0, 60.0,
                                                                                           float("inf")]
    assert tally.wait_sum == 968.5


async def test_server_figures_are_exported_rounded(client: Client, control: FakeControlPlane) -> None:
    tally = CallTally()
    tally.call_ended("answered", 12.345)
    tally.call_ended("abandoned_queue", 70.0)
    control.server_figures = ServerFigures(
        trunks=(TrunkFigure("carrier", "up", "registered"), TrunkFigure("backup", "down", None),
                TrunkFigure("new", "unknown", "registering")),
        registrations=3, reachable_registrations=2, rtp=((4.26, 0.01234), (10.0, 0.0)), tally=tally)
    text = await (await client.get("/metrics", headers=AUTH)).text()
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(text) for sample in family.samples}
    assert samples[("voxcenter_trunk_up", (("trunk", "carrier"),))] == 1.0
    assert samples[("voxcenter_trunk_up", (("trunk", "backup"),))] == 0.0
    assert samples[("voxcenter_trunk_up", (("trunk", "new"),))] != samples[("voxcenter_trunk_up", (("trunk", "new"),))]
    assert samples[("voxcenter_trunk_registered", (("trunk", "carrier"),))] == 1.0
    assert samples[("voxcenter_trunk_registered", (("trunk", "new"),))] == 0.0
    assert ("voxcenter_trunk_registered", (("trunk", "backup"),)) not in samples
    assert samples[("voxcenter_registrations", (("reachable", "true"),))] == 2.0
    assert samples[("voxcenter_registrations", (("reachable", "false"),))] == 1.0
    assert samples[("voxcenter_rtp_jitter_seconds", (("stat", "mean"),))] == 0.0071
    assert samples[("voxcenter_rtp_jitter_seconds", (("stat", "max"),))] == 0.01
    assert samples[("voxcenter_rtp_packet_loss_ratio", (("stat", "max"),))] == 0.0123
    assert samples[("voxcenter_calls_ended_total", (("disposition", "answered"),))] == 1.0
    assert samples[("voxcenter_queue_wait_seconds_bucket", (("le", "20.0"),))] == 1.0
    assert samples[("voxcenter_queue_wait_seconds_bucket", (("le", "120.0"),))] == 2.0
    assert samples[("voxcenter_queue_wait_seconds_count", ())] == 2.0
    assert samples[("voxcenter_queue_wait_seconds_sum", ())] == 82.3


async def test_router_figures_are_rounded(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001")
    control.join("c1", "sales")
    control.advance(1.23456)
    text = await (await client.get("/metrics", headers=AUTH)).text()
    prefix = 'voxcenter_queue_longest_wait_seconds{queue="sales"}'
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    assert line.endswith(" 1.2")
