"""Reads of the records for the admin API: CDRs, a call's timeline, its recordings, voicemails.

Each returns plain dicts (JSON-ready: times stay POSIX seconds). Results are bounded (``limit``) and ordered
newest first; a recording's audio is read separately (:func:`recording_audio`), never inside a listing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.store.models import (
    Call,
    CallEventRow,
    CallLeg,
    ClusterNode,
    Customer,
    Interaction,
    Recording,
    Voicemail,
)

MAX_LIMIT = 1000
"""The most rows one listing returns."""

_calls: Table = Call.__table__  # type: ignore[assignment]
_events: Table = CallEventRow.__table__  # type: ignore[assignment]
_recordings: Table = Recording.__table__  # type: ignore[assignment]
_legs: Table = CallLeg.__table__  # type: ignore[assignment]
_voicemails: Table = Voicemail.__table__  # type: ignore[assignment]
_customers: Table = Customer.__table__  # type: ignore[assignment]
_interactions: Table = Interaction.__table__  # type: ignore[assignment]
_RECORDING_COLUMNS = [column for column in _recordings.c if column.name != "data"]


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


def recording_url(recording_id: str) -> str:
    """Where the API serves a recording's audio (the link CDRs and listings carry)."""
    return f"/api/recordings/{recording_id}"


def _linked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each recording with the ``url`` of its audio (None once the retention period deleted it)."""
    for row in rows:
        row["url"] = recording_url(str(row["recording_id"])) if row.get("deleted_at") is None else None
    return rows


async def list_cdrs(engine: AsyncEngine, *, since: float | None = None, until: float | None = None,
                    queue: str | None = None, agent: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """CDRs that arrived in ``[since, until)``, newest first, optionally of one queue or agent."""
    query = select(_calls).order_by(_calls.c.arrived_at.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if since is not None:
        query = query.where(_calls.c.arrived_at >= since)
    if until is not None:
        query = query.where(_calls.c.arrived_at < until)
    if queue is not None:
        query = query.where(_calls.c.queue == queue)
    if agent is not None:
        query = query.where(_calls.c.agent == agent)
    async with engine.connect() as connection:
        cdrs = _rows(await connection.execute(query))
        links: dict[str, list[str]] = {}
        ids = [cdr["call_id"] for cdr in cdrs]
        if ids:
            found = await connection.execute(select(_recordings.c.call_id, _recordings.c.recording_id)
                                             .where(_recordings.c.call_id.in_(ids),
                                                    _recordings.c.deleted_at.is_(None))
                                             .order_by(_recordings.c.started_at))
            for call_id, recording_id in found:
                links.setdefault(call_id, []).append(recording_url(recording_id))
    for cdr in cdrs:
        cdr["recordings"] = links.get(cdr["call_id"], [])
    return cdrs


async def call_record(engine: AsyncEngine, call_id: str) -> dict[str, Any] | None:
    """One call: its CDR with its ``timeline`` (in time order), ``recordings`` and ``voicemails``; None if unknown."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(select(_calls).where(_calls.c.call_id == call_id)))
        if not found:
            return None
        cdr = found[0]
        cdr["timeline"] = _rows(await connection.execute(
            select(_events).where(_events.c.call_id == call_id).order_by(_events.c.at, _events.c.event_id)))
        cdr["recordings"] = _linked(_rows(await connection.execute(
            select(*_RECORDING_COLUMNS).where(_recordings.c.call_id == call_id).order_by(_recordings.c.started_at))))
        cdr["voicemails"] = _rows(await connection.execute(
            select(_voicemails).where(_voicemails.c.call_id == call_id)))
    return cdr


async def call_recordings(engine: AsyncEngine, call_id: str) -> list[dict[str, Any]] | None:
    """A call's recordings (metadata and ``url``), oldest first; None when there is no such call."""
    async with engine.connect() as connection:
        known = (await connection.execute(select(_calls.c.call_id).where(_calls.c.call_id == call_id))).first()
        rows = _linked(_rows(await connection.execute(
            select(*_RECORDING_COLUMNS).where(_recordings.c.call_id == call_id).order_by(_recordings.c.started_at))))
    return rows if known is not None or rows else None


async def call_agents(engine: AsyncEngine, call_id: str) -> set[str]:
    """The agents who took part in a call: its CDR's agent and every agent leg (transfer targets, conference
    guests, the agent who dialled)."""
    async with engine.connect() as connection:
        agents = {row[0] for row in await connection.execute(select(_calls.c.agent).where(_calls.c.call_id == call_id))}
        agents |= {row[0] for row in await connection.execute(
            select(_legs.c.peer).where(_legs.c.call_id == call_id, _legs.c.role == "agent"))}
    agents.discard(None)
    return agents


async def list_voicemails(engine: AsyncEngine, *, mailbox: str | None = None, since: float | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
    """Voicemails, newest first, optionally of one mailbox."""
    query = select(_voicemails).order_by(_voicemails.c.at.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if mailbox is not None:
        query = query.where(_voicemails.c.mailbox == mailbox)
    if since is not None:
        query = query.where(_voicemails.c.at >= since)
    async with engine.connect() as connection:
        return _rows(await connection.execute(query))


async def cluster_nodes(engine: AsyncEngine, now: float) -> list[dict[str, Any]]:
    """The nodes that beat a heartbeat in this database, by name: when each started and last beat, how long it
    has been silent, its state (``running``; ``stopped`` when it stopped itself; ``dead`` when another node
    closed its calls, ``closed_by``) and its calls in progress in the CDRs."""
    nodes: Table = ClusterNode.__table__  # type: ignore[assignment]
    calls: Table = Call.__table__  # type: ignore[assignment]
    async with engine.connect() as connection:
        rows = _rows(await connection.execute(select(nodes).order_by(nodes.c.node)))
        open_calls = {str(node): int(count) for node, count in await connection.execute(
            select(calls.c.node, func.count()).where(calls.c.disposition == "in_progress").group_by(calls.c.node))}
    for row in rows:
        closed_by = row["closed_by"]
        row["state"] = "running" if closed_by is None else "stopped" if closed_by == row["node"] else "dead"
        row["silent_seconds"] = round(max(0.0, now - row["heartbeat_at"]), 3)
        row["calls_in_progress"] = open_calls.get(row["node"], 0)
    return rows


async def recording_audio(engine: AsyncEngine, recording_id: str) -> tuple[dict[str, Any], bytes | None] | None:
    """A recording's metadata and, when kept in the database, its bytes (else None: read ``path``)."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(select(_recordings).where(_recordings.c.recording_id == recording_id)))
    if not found:
        return None
    row = found[0]
    data = row.pop("data")
    return row, data


def _like(text: str) -> str:
    """``text`` as a case-insensitive LIKE pattern matching it anywhere (its own wildcards taken literally)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def find_customers(engine: AsyncEngine, *, number: str | None = None, text: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
    """Customers with ``number``, or whose name, company or number contains ``text``; last updated first."""
    query = select(_customers).order_by(_customers.c.updated_at.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if number is not None:
        query = query.where(_customers.c.number == number)
    if text:
        pattern = _like(text)
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in
                                  (_customers.c.name, _customers.c.company, _customers.c.number))))
    async with engine.connect() as connection:
        return _rows(await connection.execute(query))


async def get_customer(engine: AsyncEngine, customer_id: str) -> dict[str, Any] | None:
    """One customer; None if unknown."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(select(_customers).where(_customers.c.customer_id == customer_id)))
    return found[0] if found else None


async def customer_history(engine: AsyncEngine, customer: dict[str, Any], *, limit: int = 20) -> dict[str, Any]:
    """What the agent sees of a customer's past: interactions (newest first) and the last agent they talked to."""
    async with engine.connect() as connection:
        interactions = _rows(await connection.execute(
            select(_interactions)
            .where(or_(_interactions.c.customer_id == customer["customer_id"],
                       _interactions.c.number == customer["number"]))
            .order_by(_interactions.c.at.desc()).limit(max(1, min(limit, MAX_LIMIT)))))
        last_agent = (await connection.execute(
            select(_calls.c.agent).where(_calls.c.from_number == customer["number"], _calls.c.agent.is_not(None),
                                         _calls.c.ended_at.is_not(None))
            .order_by(_calls.c.arrived_at.desc()).limit(1))).scalar_one_or_none()
        calls = len((await connection.execute(
            select(_calls.c.call_id).where(_calls.c.from_number == customer["number"]).limit(MAX_LIMIT))).all())
    return {"interactions": interactions, "last_agent": last_agent, "calls": calls}


async def get_interaction(engine: AsyncEngine, interaction_id: str) -> dict[str, Any] | None:
    """One interaction; None if unknown."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(
            select(_interactions).where(_interactions.c.interaction_id == interaction_id)))
    return found[0] if found else None


async def list_interactions(engine: AsyncEngine, *, customer: str | None = None, call_id: str | None = None,
                            agent: str | None = None, since: float | None = None, until: float | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
    """Interactions written in ``[since, until)``, newest first, optionally of a customer, call or agent."""
    query = select(_interactions).order_by(_interactions.c.at.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if customer is not None:
        query = query.where(_interactions.c.customer_id == customer)
    if call_id is not None:
        query = query.where(_interactions.c.call_id == call_id)
    if agent is not None:
        query = query.where(_interactions.c.agent == agent)
    if since is not None:
        query = query.where(_interactions.c.at >= since)
    if until is not None:
        query = query.where(_interactions.c.at < until)
    async with engine.connect() as connection:
        return _rows(await connection.execute(query))


async def agent_history(engine: AsyncEngine, agent: str, *, text: str | None = None, since: float | None = None,
                        until: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """An agent's own calls, newest first, each with what was written about it (``interaction``, or None).

    ``text`` keeps the calls whose number, notes, reason or outcome contain it (case-insensitive).
    """
    columns = [_calls.c.call_id, _calls.c.arrived_at, _calls.c.from_number, _calls.c.to_number, _calls.c.queue,
               _calls.c.disposition, _calls.c.wait_seconds, _calls.c.talk_seconds, _calls.c.customer_id]
    noted = [_interactions.c.interaction_id, _interactions.c.reason, _interactions.c.notes,
             _interactions.c.outcome, _interactions.c.ticket_status, _interactions.c.follow_up_at]
    query = (select(*columns, *noted)
             .select_from(_calls.outerjoin(_interactions, (_interactions.c.call_id == _calls.c.call_id)
                                           & (_interactions.c.agent == agent)))
             .where(_calls.c.agent == agent)
             .order_by(_calls.c.arrived_at.desc()).limit(max(1, min(limit, MAX_LIMIT))))
    if since is not None:
        query = query.where(_calls.c.arrived_at >= since)
    if until is not None:
        query = query.where(_calls.c.arrived_at < until)
    if text:
        pattern = _like(text)
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in
                                  (_calls.c.from_number, _calls.c.to_number, _interactions.c.notes,
                                   _interactions.c.reason, _interactions.c.outcome))))
    async with engine.connect() as connection:
        found = _rows(await connection.execute(query))
    async with engine.connect() as connection:
        ids = [row["call_id"] for row in found]
        recorded = {row[0] for row in (await connection.execute(
            select(_recordings.c.call_id).where(_recordings.c.call_id.in_(ids)))).all()} if ids else set()
    history = []
    for row in found:
        interaction = {name: row.pop(name) for name in [c.name for c in noted]}
        row["interaction"] = interaction if interaction["interaction_id"] is not None else None
        row["recorded"] = row["call_id"] in recorded
        history.append(row)
    return history
