"""Closing the calls a node left open (PostgreSQL, SQLite): that node's open calls only, at their last record."""

from __future__ import annotations

import asyncio
from pathlib import Path

from voxcenter.store.commands import run
from voxcenter.store.records import AgentEvent, CallEvent, CallLegRecord, CallRecord
from voxcenter.store.recovery import CRASH_CAUSE, closed_call, closed_leg, find_open_calls
from voxcenter.store.writer import DurableWriter

T0 = 1_700_000_000.0


def cdr(call_id: str, node: str, **fields: object) -> CallRecord:
    return CallRecord(call_id=call_id, version=3, node=node, direction="inbound", arrived_at=T0, **fields)  # type: ignore[arg-type]


def test_a_bridged_call_ends_answered_with_its_talk_time() -> None:
    call = cdr("C1", "a", answered_at=T0 + 1, queue="sales", queue_entered_at=T0 + 5, agent="1001",
               agent_answered_at=T0 + 20, wait_seconds=15.0, hold_seconds=4.0)
    closed = closed_call(call, T0 + 80, "stopped")
    assert (closed.version, closed.ended_at, closed.disposition, closed.hangup_by, closed.hangup_cause) == (
        4, T0 + 80, "answered", "system", "stopped")
    assert closed.talk_seconds == 56.0 and closed.wait_seconds == 15.0


def test_a_call_waiting_in_queue_fails_and_its_wait_runs_to_the_end() -> None:
    closed = closed_call(cdr("C2", "a", queue="sales", queue_entered_at=T0 + 5), T0 + 30, "stopped")
    assert (closed.disposition, closed.wait_seconds, closed.talk_seconds) == ("failed", 25.0, 0.0)


def test_an_end_before_the_start_is_moved_to_the_start() -> None:
    assert closed_call(cdr("C3", "a"), T0 - 5, "x").ended_at == T0
    leg = CallLegRecord(leg_id="L", call_id="C3", version=2, role="caller", peer="+33", started_at=T0)
    assert (closed_leg(leg, T0 - 1).ended_at, closed_leg(leg, T0 + 9).version) == (T0, 3)


async def test_only_the_nodes_open_calls_are_closed_at_their_last_record(database_url: str, tmp_path: Path) -> None:
    writer = DurableWriter(tmp_path / "journal", database_url, flush_interval=0.02)
    await writer.start()
    for record in (
        cdr("OPEN", "dead", agent="1001", agent_answered_at=T0 + 10),
        CallLegRecord(leg_id="L1", call_id="OPEN", version=1, role="caller", peer="+33", started_at=T0),
        CallLegRecord(leg_id="L2", call_id="OPEN", version=2, role="agent", peer="1001", started_at=T0 + 8,
                      answered_at=T0 + 10, ended_at=T0 + 12),
        CallEvent(event_id="E1", call_id="OPEN", at=T0 + 10, event="CONNECT"),
        AgentEvent(event_id="E2", agent="1001", at=T0 + 42, state="ON_CALL", call_id="OPEN"),
        cdr("DONE", "dead", ended_at=T0 + 5, disposition="abandoned_ivr"),
        cdr("OTHER", "alive"),
        CallRecord(call_id="NEW", version=1, node="dead", direction="inbound", arrived_at=T0 + 1000),
    ):
        writer.submit(record)
    assert await writer.flush(within=20)
    closing = await find_open_calls(database_url, "dead", before=T0 + 500)
    assert [call.call_id for call in closing.calls] == ["OPEN"]
    [call] = closing.calls
    assert (call.ended_at, call.hangup_by, call.hangup_cause, call.disposition) == (
        T0 + 42, "system", CRASH_CAUSE.format(node="dead"), "answered")
    assert [(leg.leg_id, leg.ended_at) for leg in closing.legs] == [("L1", T0 + 42)]
    for closed in closing.calls:
        writer.submit(closed)
    for leg in closing.legs:
        writer.submit(leg)
    assert await writer.flush(within=20)
    assert (await find_open_calls(database_url, "dead", before=T0 + 500)).calls == ()
    assert [c.call_id for c in (await find_open_calls(database_url, "alive")).calls] == ["OTHER"]
    await writer.close()
    # A survivor (or an operator) closes the calls of a node that will not come back.
    assert await asyncio.to_thread(run, ["db", "close-calls", "--node", "alive", "--database", database_url]) == 0
    assert (await find_open_calls(database_url, "alive")).calls == ()
    assert [c.call_id for c in (await find_open_calls(database_url, "dead")).calls] == ["NEW"]
