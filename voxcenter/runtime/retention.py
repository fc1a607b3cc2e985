"""Recordings kept for ``recording.retention_days``: older ones are deleted, and each call's timeline says so.

At start and then every :data:`RETENTION_EVERY` seconds, the recordings that started more than the dial plan's
number of days ago and are not deleted yet are read from the database (at most :data:`BATCH` a round); each one's
audio file (and its ``.truncated`` marker) is removed, its row is written again with ``deleted_at`` (the row
stays, for the record; a copy kept in the database goes with the file), and its call gets a ``RECORDINGDELETED``
line (the recording, the period, when it was made). The rows go through the durable writer like every other
record. The setting is read each round, so a reload changes it.

Each round also deletes the rows that only served while something was live: desk sign-ins a day after they
expired (:data:`DESK_SESSIONS_KEPT`), and webhook deliveries :data:`DELIVERIES_KEPT` after their event once they
ended (delivered, refused, given up or dropped), so that neither table grows for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import structlog
from sqlalchemy import delete, select

from voxcenter.media.recorder import TRUNCATED_SUFFIX
from voxcenter.runtime.calllog import RecordSink
from voxcenter.store.db import make_engine
from voxcenter.store.livestate import record_of
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import CallEvent, RecordingRecord, new_id

logger = structlog.get_logger(__name__)

DAY = 86400.0
RETENTION_EVERY = 3600.0
"""Seconds between two rounds."""
BATCH = 500
"""The most recordings one round deletes (the next round takes the rest)."""
DESK_SESSIONS_KEPT = DAY
"""How long a desk sign-in's row stays after it expired."""
DELIVERIES_KEPT = 30 * DAY
"""How long an ended webhook delivery's row stays after its event."""
ENDED_DELIVERIES = ("delivered", "refused", "gave_up", "dropped")


async def expired_recordings(url: str, before: float, limit: int = BATCH) -> list[RecordingRecord]:
    """Recordings started before ``before`` and not deleted yet, oldest first."""
    table = TABLE_OF_KIND["recording"]
    columns = [column for column in table.c if column.name != "data"]
    engine = make_engine(url, statement_timeout=10.0, connect_timeout=10.0)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(*columns).where(table.c.started_at < before, table.c.deleted_at.is_(None))
                .order_by(table.c.started_at).limit(limit))
            return [record_of(RecordingRecord, row) for row in rows]
    finally:
        await engine.dispose()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + TRUNCATED_SUFFIX).unlink(missing_ok=True)


async def delete_expired(url: str, sink: RecordSink, days: int, now: float, done: set[str] | None = None) -> int:
    """One round: delete the recordings older than ``days`` days at ``now`` (wall clock); how many.

    ``done`` holds the ids deleted by earlier rounds, skipped while their new rows may still be on their way to
    the database (so no call gets the line twice)."""
    deleted = 0
    done = set() if done is None else done
    for recording in await expired_recordings(url, now - days * DAY):
        if recording.recording_id in done:
            continue
        try:
            await asyncio.to_thread(_remove, Path(recording.path))
        except OSError as error:  # kept for the next round
            logger.error("recording.retention_failed", recording_id=recording.recording_id, path=recording.path,
                         reason=error.strerror or str(error))
            continue
        sink.submit(replace(recording, version=recording.version + 1, deleted_at=now))
        sink.submit(CallEvent(
            event_id=new_id(), call_id=recording.call_id, at=now, event="RECORDINGDELETED",
            data=json.dumps({"recording_id": recording.recording_id, "reason": "retention", "days": days,
                             "recorded_at": recording.started_at}, separators=(",", ":")),
        ))
        done.add(recording.recording_id)
        deleted += 1
    if deleted:
        logger.info("recording.retention", deleted=deleted, days=days)
    return deleted


async def prune_ended(url: str, now: float) -> tuple[int, int]:
    """Delete desk sign-ins and webhook deliveries kept past their time (see the module); how many of each."""
    sessions, deliveries = TABLE_OF_KIND["desk_session"], TABLE_OF_KIND["webhook_delivery"]
    engine = make_engine(url, statement_timeout=10.0, connect_timeout=10.0)
    try:
        async with engine.begin() as connection:
            signed_out = await connection.execute(
                delete(sessions).where(sessions.c.expires_at < now - DESK_SESSIONS_KEPT))
            ended = await connection.execute(
                delete(deliveries).where(deliveries.c.status.in_(ENDED_DELIVERIES),
                                         deliveries.c.at < now - DELIVERIES_KEPT))
    finally:
        await engine.dispose()
    counts = (signed_out.rowcount or 0, ended.rowcount or 0)
    if any(counts):
        logger.info("retention.pruned", desk_sessions=counts[0], webhook_deliveries=counts[1])
    return counts


async def keep_recordings(url: str, sink: RecordSink, days: Callable[[], int | None],
                          wall_clock: Callable[[], float], *, every: float = RETENTION_EVERY) -> None:
    """Run :func:`delete_expired` now and every ``every`` seconds while ``days()`` is set, and
    :func:`prune_ended` every round (until cancelled)."""
    done: set[str] = set()
    while True:
        period = days()
        if period is not None:
            try:
                await delete_expired(url, sink, period, wall_clock(), done)
            except Exception as error:  # the database is away: the next round tries again
                logger.error("recording.retention_failed", reason=repr(error))
        try:
            await prune_ended(url, wall_clock())
        except Exception as error:
            logger.error("retention.prune_failed", reason=repr(error))
        await asyncio.sleep(every)


async def stop_keeping(task: asyncio.Task[None] | None) -> None:
    """Cancel the task :func:`keep_recordings` runs in, and wait for it."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
