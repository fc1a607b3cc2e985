"""Reads of the records for the admin API: CDRs, a call's timeline, its recordings, voicemails.

Each returns plain dicts (JSON-ready: times stay POSIX seconds). Results are bounded (``limit``) and ordered
newest first; a recording's audio is read separately (:func:`recording_audio`), never inside a listing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.store.models import Call, CallEventRow, Recording, Voicemail

MAX_LIMIT = 1000
"""The most rows one listing returns."""

_calls: Table = Call.__table__  # type: ignore[assignment]
_events: Table = CallEventRow.__table__  # type: ignore[assignment]
_recordings: Table = Recording.__table__  # type: ignore[assignment]
_voicemails: Table = Voicemail.__table__  # type: ignore[assignment]
_RECORDING_COLUMNS = [column for column in _recordings.c if column.name != "data"]


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


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
        return _rows(await connection.execute(query))


async def call_record(engine: AsyncEngine, call_id: str) -> dict[str, Any] | None:
    """One call: its CDR with its ``timeline`` (in time order), ``recordings`` and ``voicemails``; None if unknown."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(select(_calls).where(_calls.c.call_id == call_id)))
        if not found:
            return None
        cdr = found[0]
        cdr["timeline"] = _rows(await connection.execute(
            select(_events).where(_events.c.call_id == call_id).order_by(_events.c.at, _events.c.event_id)))
        cdr["recordings"] = _rows(await connection.execute(
            select(*_RECORDING_COLUMNS).where(_recordings.c.call_id == call_id)))
        cdr["voicemails"] = _rows(await connection.execute(
            select(_voicemails).where(_voicemails.c.call_id == call_id)))
    return cdr


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


async def recording_audio(engine: AsyncEngine, recording_id: str) -> tuple[dict[str, Any], bytes | None] | None:
    """A recording's metadata and, when kept in the database, its bytes (else None: read ``path``)."""
    async with engine.connect() as connection:
        found = _rows(await connection.execute(select(_recordings).where(_recordings.c.recording_id == recording_id)))
    if not found:
        return None
    row = found[0]
    data = row.pop("data")
    return row, data
