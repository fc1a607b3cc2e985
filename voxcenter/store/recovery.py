"""After a crash: close the calls a node left open, and give recordings repaired at start their row.

A node killed with ``kill -9`` (or a power cut) leaves its calls' CDRs ``in_progress`` with no end. When it
starts again, once the journal's leftovers are in the database, :func:`close_open_calls` ends every one of
them: the end time is the latest moment any record of the call holds (the CDR's own times, its legs, its
timeline, its agents' state changes), since nothing later was ever written; ``hangup_by`` is ``system`` and the
cause says the server stopped. It takes the node as an argument so that, in a cluster, a surviving node (or an
operator) can close the calls of a node that will not come back.

:func:`closed_call` and :func:`closed_leg` are the pure part: the record that ends a call (or a leg) at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from voxcenter.store.db import make_engine
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import CallLegRecord, CallRecord, RecordingRecord, new_id

CRASH_CAUSE: Final = "server stopped: node {node} ended without closing the call (crash or kill -9)"
"""The ``hangup_cause`` of a call closed after its node stopped; ``{node}`` is the node's name."""


@dataclass(frozen=True, slots=True)
class ClosedCalls:
    """What :func:`close_open_calls` found: the records that end the open calls and their open legs."""

    calls: tuple[CallRecord, ...]
    """A new version of each CDR that was ``in_progress``, ended."""
    legs: tuple[CallLegRecord, ...]
    """A new version of each leg of those calls that had no end."""


def closed_call(cdr: CallRecord, ended_at: float, cause: str) -> CallRecord:
    """``cdr`` ended at ``ended_at`` by the system: a call that reached an agent is ``answered`` (its talk time
    runs to the end), any other ``failed``; a wait in queue still open runs to the end too."""
    ended_at = max(ended_at, cdr.arrived_at)
    changes: dict[str, Any] = {}
    if cdr.agent_answered_at is not None:
        disposition = "answered"
        if not cdr.talk_seconds:
            changes["talk_seconds"] = max(0.0, ended_at - cdr.agent_answered_at - cdr.hold_seconds)
    else:
        disposition = "failed"
    if cdr.queue_entered_at is not None and cdr.wait_seconds is None:
        waited_until = cdr.agent_answered_at if cdr.agent_answered_at is not None else ended_at
        changes["wait_seconds"] = max(0.0, waited_until - cdr.queue_entered_at)
    return replace(cdr, version=cdr.version + 1, ended_at=ended_at, disposition=disposition, hangup_by="system",
                   hangup_cause=cause, **changes)


def closed_leg(leg: CallLegRecord, ended_at: float) -> CallLegRecord:
    """``leg`` ended at ``ended_at`` (no SIP status: nobody sent or received one)."""
    return replace(leg, version=leg.version + 1, ended_at=max(ended_at, leg.started_at))


def _record(cls: type[Any], row: Any) -> Any:
    mapping = row._mapping
    return cls(**{f.name: mapping[f.name] for f in dataclasses.fields(cls)})


async def _last_records(connection: AsyncConnection, call_ids: list[str]) -> dict[str, float]:
    """For each call, the latest time any of its legs, timeline events or agent events holds."""
    legs, events, agents = TABLE_OF_KIND["leg"], TABLE_OF_KIND["call_event"], TABLE_OF_KIND["agent_event"]
    times = union_all(
        select(legs.c.call_id, legs.c.started_at.label("at")).where(legs.c.call_id.in_(call_ids)),
        select(legs.c.call_id, legs.c.answered_at).where(legs.c.call_id.in_(call_ids)),
        select(legs.c.call_id, legs.c.ended_at).where(legs.c.call_id.in_(call_ids)),
        select(events.c.call_id, events.c.at).where(events.c.call_id.in_(call_ids)),
        select(agents.c.call_id, agents.c.at).where(agents.c.call_id.in_(call_ids)),
    ).subquery()
    rows = await connection.execute(
        select(times.c.call_id, func.max(times.c.at)).where(times.c.at.is_not(None)).group_by(times.c.call_id)
    )
    return {str(call_id): float(at) for call_id, at in rows}


def _cdr_last_time(cdr: CallRecord) -> float:
    moments = (cdr.arrived_at, cdr.answered_at, cdr.queue_entered_at, cdr.agent_answered_at)
    return max(moment for moment in moments if moment is not None)


async def find_open_calls(url: str, node: str, *, before: float | None = None,
                          statement_timeout: float = 10.0) -> ClosedCalls:
    """The records that close ``node``'s calls still ``in_progress`` in the database at ``url`` (only those that
    arrived before ``before``, when given: a live node's new calls are not touched). Nothing is written."""
    engine = make_engine(url, statement_timeout=statement_timeout, connect_timeout=statement_timeout)
    try:
        async with engine.connect() as connection:
            calls = TABLE_OF_KIND["call"]
            query = select(calls).where(calls.c.node == node, calls.c.disposition == "in_progress",
                                        calls.c.ended_at.is_(None))
            if before is not None:
                query = query.where(calls.c.arrived_at < before)
            cdrs = [_record(CallRecord, row) for row in await connection.execute(query)]
            if not cdrs:
                return ClosedCalls((), ())
            call_ids = [cdr.call_id for cdr in cdrs]
            last = await _last_records(connection, call_ids)
            legs = TABLE_OF_KIND["leg"]
            open_legs = [_record(CallLegRecord, row) for row in await connection.execute(
                select(legs).where(legs.c.call_id.in_(call_ids), legs.c.ended_at.is_(None)))]
    finally:
        await engine.dispose()
    cause = CRASH_CAUSE.format(node=node)
    ends = {cdr.call_id: max(_cdr_last_time(cdr), last.get(cdr.call_id, cdr.arrived_at)) for cdr in cdrs}
    return ClosedCalls(
        calls=tuple(closed_call(cdr, ends[cdr.call_id], cause) for cdr in cdrs),
        legs=tuple(closed_leg(leg, ends[leg.call_id]) for leg in open_legs),
    )


def repaired_recording(path: Path, *, call_id: str, duration: float, size: int, sha256: str,
                       modified_at: float) -> RecordingRecord:
    """The row of a recording a crash cut short and the start repaired: ``truncated``, linked to its call (the
    recorder names each file after its call), started ``duration`` seconds before its last write."""
    fmt = path.suffix.lstrip(".") or "wav"
    return RecordingRecord(recording_id=new_id(modified_at - duration), call_id=call_id, path=str(path),
                           format=fmt, duration_seconds=duration, size_bytes=size, sha256=sha256,
                           started_at=modified_at - duration, truncated=True)
