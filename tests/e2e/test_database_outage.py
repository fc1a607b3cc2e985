"""A database outage under steady load: calls are set up as fast as before it, and every one leaves its CDR.

The server runs in this process on a throwaway PostgreSQL server that the test stops (as abruptly as a crash)
for the first half of the outage and freezes with SIGSTOP (connections open, nothing answers) for the second.
Callers from the carrier address, placed by voxcenter's own SIP endpoint at a steady rate, dial a number that
answers, plays a prompt and hangs up; each call's set-up latency (INVITE sent to 200 OK received) is measured,
and so is the event loop's lag. The outage lasts ``VOXCENTER_LOAD_OUTAGE_SECONDS`` (default 4; the full-length
run uses 600).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, plan_sections, rtp_base_for_test, served
from tests.e2e.whole_call_peers import fetch
from tests.interop.sipp import free_port
from tests.store.pgcluster import ThrowawayCluster
from tests.store.test_outage import LagMonitor
from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import SipUri

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(900)]

OUTAGE_SECONDS = float(os.environ.get("VOXCENTER_LOAD_OUTAGE_SECONDS", "4"))
CALLS_PER_SECOND = 4.0
OFFER = (b"v=0\r\no=load 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
         b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    pg = ThrowawayCluster()
    try:
        pg.start_blocking()
        yield pg
    finally:
        pg.destroy()


def write_plan(directory: Path, url: str) -> tuple[Path, int]:
    sip_port = free_port()
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
        numbers:
          '300': {{node: bye}}
        ivr:
          bye:
            type: hangup
            prompts: goodbye
        """)
    path = directory / "voxcenter.yaml"
    path.write_text(plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                                  database_url=url))
    return path, sip_port


async def _refuse(session: SipSession) -> None:
    session.reject(403, "Not Here")


class Load:
    """Calls placed at a steady rate; each one's set-up latency, by phase."""

    def __init__(self, endpoint: SipEndpoint, sip_port: int) -> None:
        self.endpoint = endpoint
        self.target = Address("udp", "127.0.0.1", sip_port)
        self.phase = "before"
        self.latencies: dict[str, list[float]] = {}
        self.failures: list[str] = []
        self.placed = 0
        self._calls: set[asyncio.Task[None]] = set()

    async def _call(self, number: int) -> None:
        loop = asyncio.get_running_loop()
        phase, sent = self.phase, loop.time()
        try:
            session = await self.endpoint.invite(SipUri("sip", "300", None, "127.0.0.1", self.target.port),
                                                 self.target, OFFER, from_user=f"+3314{number:06d}", ring_timeout=10)
        except Exception as error:
            self.failures.append(f"{phase}: {error!r}")
            return
        self.latencies.setdefault(phase, []).append(loop.time() - sent)
        await asyncio.wait([session.ended], timeout=10)  # voxcenter plays goodbye and hangs up
        if not session.is_ended:
            self.failures.append(f"{phase}: call {number} never ended")
            await session.hangup()

    async def run(self, seconds: float) -> None:
        for _ in range(round(seconds * CALLS_PER_SECOND)):
            self.placed += 1
            task = asyncio.get_running_loop().create_task(self._call(self.placed))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
            await asyncio.sleep(1 / CALLS_PER_SECOND)

    async def drain(self) -> None:
        if self._calls:
            await asyncio.wait(list(self._calls), timeout=30)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{len(values)} calls, median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms")


async def test_calls_are_set_up_during_a_database_outage_and_all_leave_a_cdr(cluster: ThrowawayCluster,
                                                                             tmp_path: Path) -> None:
    plan, sip_port = write_plan(tmp_path, cluster.url)
    carrier = SipEndpoint(EndpointSettings(listeners=[Listener("udp", CARRIER_IP, 0)], realm="carrier"),
                          credentials=lambda *_: None, application=_refuse)
    await carrier.start()
    try:
        async with served(plan, node="outage-test") as server, LagMonitor().running() as lag:
            load = Load(carrier, sip_port)
            await load.run(2.0)
            await cluster.stop()
            load.phase = "stopped"
            await load.run(OUTAGE_SECONDS / 2)
            await cluster.start()
            await asyncio.sleep(0.5)
            cluster.freeze()
            try:
                load.phase = "frozen"
                await load.run(OUTAGE_SECONDS / 2)
                await load.drain()
                held = server.writer.stats().pending
            finally:
                cluster.thaw()
            load.phase = "after"
            await load.run(1.0)
            await load.drain()
            assert await server.writer.flush(60)
            worst_lag = lag.worst
    finally:
        await carrier.stop()
    report = {phase: summary(values) for phase, values in load.latencies.items()}
    print(f"\nset-up latency through a {OUTAGE_SECONDS:g} s outage: {report}; loop lag max {worst_lag * 1000:.0f} ms")
    assert load.failures == [], load.failures
    assert held > 0  # the outage was felt: records waited in the journal
    during = load.latencies["stopped"] + load.latencies["frozen"]
    before = sorted(load.latencies["before"])
    assert max(during) < max(0.5, 3 * before[-1]), report  # no call waited on the database
    assert worst_lag < 0.5, worst_lag
    cdrs = await fetch(cluster.url, "select disposition, ended_at from calls")
    assert len(cdrs) == load.placed, (len(cdrs), load.placed)
    assert all(row["disposition"] == "ivr_completed" and row["ended_at"] is not None for row in cdrs), cdrs
