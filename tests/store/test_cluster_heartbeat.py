"""Nodes sharing one database: a node whose heartbeat stops has its open calls closed by exactly one survivor.

Three heartbeats on one database with a clock the test moves: ``b`` stops beating (as after ``kill -9``), and
after ``dead_after`` both survivors look; one claims it and closes its call, the other does nothing. A node that
stopped cleanly is never claimed; a dead node that starts again beats again and is alive.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import records
from voxcenter.runtime.cluster import Heartbeat, NodeBeat, dead_nodes
from voxcenter.store.records import CallRecord
from voxcenter.store.recovery import CRASH_CAUSE, find_open_calls
from voxcenter.store.writer import DurableWriter

T0 = 1_700_000_000.0


def test_the_dead_are_the_others_silent_too_long_and_not_closed() -> None:
    rows = [NodeBeat("me", T0 - 100, False), NodeBeat("late", T0 - 4, False), NodeBeat("dead", T0 - 6, False),
            NodeBeat("stopped", T0 - 600, True)]
    assert dead_nodes(rows, me="me", now=T0, dead_after=5.0) == ["dead"]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def test_one_survivor_closes_the_dead_nodes_calls(database_url: str, tmp_path: Path) -> None:
    clock = Clock()
    writer = DurableWriter(tmp_path / "journal", database_url, flush_interval=0.02)
    await writer.start()
    beats = {name: Heartbeat(database_url, name, writer, interval=3600, dead_after=5.0, clock=clock)
             for name in ("a", "b", "c", "quits")}
    try:
        for beat in beats.values():
            await beat.start()
        writer.submit(CallRecord(call_id="ON-B", version=2, node="b", direction="inbound", arrived_at=T0 + 1,
                                 agent="1001", agent_answered_at=T0 + 2))
        writer.submit(CallRecord(call_id="ON-A", version=1, node="a", direction="inbound", arrived_at=T0 + 1))
        assert await writer.flush(within=20)
        await beats["quits"].stop()
        clock.now = T0 + 4
        for name in ("a", "b", "c"):
            await beats[name].tick()
        clock.now = T0 + 8  # b beat last at T0 + 4: not yet dead
        await beats["a"].tick()
        assert beats["a"].closed_nodes == []
        clock.now = T0 + 10  # b has been silent 6 s
        await beats["c"].tick()
        await beats["a"].tick()
        assert (beats["c"].closed_nodes, beats["a"].closed_nodes) == (["b"], [])
        assert await writer.flush(within=20)
        assert (await find_open_calls(database_url, "b")).calls == ()
        assert [call.call_id for call in (await find_open_calls(database_url, "a")).calls] == ["ON-A"]
        [cdr] = await records(database_url, "select * from calls where call_id = 'ON-B'")
        assert (cdr["disposition"], cdr["hangup_by"], cdr["hangup_cause"]) == (
            "answered", "system", CRASH_CAUSE.format(node="b"))
        # b starts again: its row is alive, and it is not claimed again while it beats.
        await beats["b"].start()
        clock.now = T0 + 12
        await beats["b"].tick()
        await beats["a"].tick()
        assert beats["a"].closed_nodes == []
    finally:
        for name in ("a", "b", "c"):
            await beats[name].stop()
        await writer.close(within=10)


async def test_one_node_holds_the_router_lease_and_the_next_takes_it_when_it_stops_or_dies(
        database_url: str, tmp_path: Path) -> None:
    clock = Clock()
    writer = DurableWriter(tmp_path / "journal", database_url, flush_interval=0.02)
    await writer.start()
    changes: list[tuple[str, bool]] = []
    handed_over: list[bool] = []

    def watched(name: str) -> Heartbeat:
        beat = Heartbeat(database_url, name, writer, interval=3600, dead_after=5.0, clock=clock,
                         router_lease=True, sip_address=f"10.0.0.{ord(name) - 96}:5060")

        async def changed(routing: bool, released: bool) -> None:
            changes.append((name, routing))
            if routing:
                handed_over.append(released)

        beat.on_router = changed
        return beat

    a, b, c = watched("a"), watched("b"), watched("c")
    try:
        await a.start()  # the first node to start takes the lease at once
        await b.start()
        await c.start()
        assert changes == [("a", True)]
        assert (a.routes_here(clock.now), b.routes_here(clock.now), c.routes_here(clock.now)) == (True, False, False)
        assert b.router is not None and (b.router.holder, b.router.address) == ("a", "10.0.0.1:5060")
        clock.now = T0 + 4
        for beat in (b, c, a):  # a renews before its lease runs out: nobody else takes it
            await beat.tick()
        clock.now = T0 + 8
        await b.tick()
        assert changes == [("a", True)] and b.routes_here(clock.now) is False
        # a dies (no more beats): its lease runs out at T0 + 9; the first to look after takes it, once.
        clock.now = T0 + 9.5
        assert b.routes_here(clock.now) is None  # no live lease: callers bound for a router wait
        await c.tick()
        await b.tick()
        assert changes == [("a", True), ("c", True)]
        assert b.routes_here(clock.now) is False and b.router is not None and b.router.holder == "c"
        # c stops cleanly: it lets the lease go, and b takes it on its next beat.
        await c.stop()
        clock.now = T0 + 10
        await b.tick()
        assert changes == [("a", True), ("c", True), ("b", True)]
        assert handed_over == [False, False, True]  # only c let the lease go; a's ran out
        # a comes back (same name): b keeps the lease, a follows it.
        await a.tick()
        assert changes[-1] == ("a", False) and a.routes_here(clock.now) is False
    finally:
        for beat in (a, b):
            await beat.stop()
        await writer.close(within=10)
