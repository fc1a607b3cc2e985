"""Finished calls leave nothing behind: after a few hundred calls through the Server and the end of their SIP
transactions' linger timers, the objects the garbage collector tracks are back to what they were before; no
finished call is a reference cycle left for the collector; a lingering transaction holds a few objects.

A full collection walks every tracked object; anything a call leaves alive makes every later one longer
(docs/benchmarks.md, the S1 garbage-collector figures). The census counts objects by type, so that a failure
names what stayed.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, plan_sections, rtp_base_for_test, served, wait_for
from tests.interop.sipp import free_port, run_sipp
from voxcenter.runtime.server import Server
from voxcenter.sip.timers import DEFAULT_TIMERS, TimerValues

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

QUICK = TimerValues(t1=0.05, t2=0.4, t4=0.3)
"""Short SIP timers, so that the transactions' linger (64·T1, T4) ends within seconds on loopback."""
SLACK = 150
"""Objects the census may differ by whatever the calls: caches warmed by a later call, the SQLite driver's list of
cursor references (pruned every 200 cursors), the event loop's free lists."""


def census() -> collections.Counter[str]:
    gc.collect()
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


def garbage() -> dict[str, int]:
    """The objects only the collector can free (unreachable reference cycles), by type."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        counts = collections.Counter(f"{type(obj).__module__}.{type(obj).__qualname__}" for obj in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return dict(counts)


def grown(before: collections.Counter[str], after: collections.Counter[str]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] > before[name]}


def plan(tmp: Path) -> Path:
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
        numbers:
          '299': {{node: hang-up}}
          '300': {{node: sales}}
        ivr:
          hang-up:
            type: hangup
          sales:
            type: queue
            queue: sales
        queues:
          sales:
            ring_timeout: 5s
            retry_delay: 0s
            wrap_up: 0s
            join_when: always
            leave_when: never
            announcements: {{position_every: null}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [sales]}}
        """)
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test()))
    return path


async def settled(server: Server, phone: AgentPhone, login: set[object]) -> None:
    """No call in progress, no SIP transaction left on either side (but the login's, ``login``), every record
    written."""
    assert phone.endpoint is not None
    await wait_for(lambda: not server.calls, what="calls over")
    layers = (server.endpoint.ua.transactions, phone.endpoint.ua.transactions)

    def over() -> bool:
        return all(set(layer.transactions()) <= login for layer in layers)

    try:
        await wait_for(over, what="transactions over")
    except AssertionError as error:
        raise AssertionError(f"{error}: {[layer.transactions()[:5] for layer in layers]}") from None
    await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="agent ready")
    assert await server.writer.flush(20.0), "records not written"
    phone.calls.clear()  # the phone's own list of the calls it took


async def calls(server: Server, tmp: Path, port: int, answered: int, hung_up: int) -> None:
    """``hung_up`` calls the IVR hangs up at once, then ``answered`` calls an agent takes (one at a time: one agent)
    and the caller ends; all from the carrier's ``port``, as a trunk sends (voxcenter keeps one ``Address`` per
    peer, up to ``MAX_KNOWN_SOURCES``)."""
    address = server.endpoint.address("udp")
    target = f"{address.host}:{address.port}"
    s1 = await run_sipp("uac_remote_bye.xml", target, tmp, service="299", local_ip=CARRIER_IP, local_port=port,
                        calls=hung_up, rate=50, limit=50)
    assert s1.successful == hung_up, s1.describe()
    for _ in range(answered):
        queued = await run_sipp("uac_call.xml", target, tmp, service="300", local_ip=CARRIER_IP, local_port=port)
        assert queued.successful == 1, queued.describe()


async def test_finished_calls_leave_no_objects_behind(tmp_path: Path) -> None:
    async with served(plan(tmp_path)) as server:
        server.endpoint.ua.transactions.timers = QUICK
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address, ring_seconds=0.05) as phone:
            assert phone.endpoint is not None
            phone.endpoint.ua.transactions.timers = QUICK
            assert await phone.register() == 200
            assert await phone.dial("*45", hold=0.1) == 200
            login = set(phone.endpoint.ua.transactions.transactions())  # its INVITE lingers 32 s (Timer D)
            port = free_port()
            await calls(server, tmp_path, port, answered=3, hung_up=30)  # warm-up: first-call caches, pools, prompts
            await settled(server, phone, login)
            await asyncio.sleep(0.5)
            before = census()
            await calls(server, tmp_path, port, answered=10, hung_up=300)
            await settled(server, phone, login)
            await asyncio.sleep(0.5)
            after = census()
            gc.disable()  # every reference cycle the calls leave stays for the count below
            try:
                await calls(server, tmp_path, port, answered=5, hung_up=100)
                await settled(server, phone, login)
                cyclic = garbage()
            finally:
                gc.enable()
            # While they linger (RFC 6026's 64·T1, here the real 32 s), the calls' transactions hold only what
            # absorbing retransmissions takes: not the parsed requests (~13 objects a call, walked by every
            # full collection meanwhile).
            server.endpoint.ua.transactions.timers = DEFAULT_TIMERS
            lingering_before = census()
            await calls(server, tmp_path, port, answered=0, hung_up=200)
            await wait_for(lambda: not server.calls, what="calls over")
            assert await server.writer.flush(20.0), "records not written"
            lingering = len(server.endpoint.ua.transactions.transactions())
            during = census()
    # A finished call is freed by reference counting the moment the server lets it go: a call in a reference
    # cycle waits for a full collection, which then walks every such call (about 110 objects each). What is
    # left is the test's own (asyncio's transports of the SIPp processes).
    in_cycles = {name: n for name, n in cyclic.items() if name.startswith("voxcenter.")}
    assert not in_cycles, in_cycles
    assert sum(cyclic.values()) <= 2 * 105 + SLACK, sorted(cyclic.items(), key=lambda item: -item[1])[:25]
    left = grown(before, after)
    ours = {name: n for name, n in left.items() if name.startswith("voxcenter.")}
    # Once those timers are over, none of the 310 calls may have left anything.
    assert sum(left.values()) <= SLACK, sorted(left.items(), key=lambda item: -item[1])[:20]
    assert sum(ours.values()) <= 5, ours
    held = grown(lingering_before, during)
    assert lingering >= 200  # every INVITE server transaction (Timer L), the last BYEs' (Timer K)
    assert sum(held.values()) <= 4 * lingering + SLACK, sorted(held.items(), key=lambda item: -item[1])[:20]
