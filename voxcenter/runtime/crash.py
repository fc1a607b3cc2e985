"""What a start does about the crash before it: close the calls this node left open, link repaired recordings.

Runs after the journal's leftovers were queued for the database and before the SIP listeners open, so every
call still ``in_progress`` under this node's name belongs to the process that died.
"""

from __future__ import annotations

import time

import structlog

from voxcenter.media.recorder import RecordingInfo
from voxcenter.store.records import RecordingRecord
from voxcenter.store.recovery import find_open_calls, repaired_recording
from voxcenter.store.writer import DurableWriter

logger = structlog.get_logger(__name__)


def repaired_recording_record(info: RecordingInfo) -> RecordingRecord:
    """The ``recordings`` row of a recording ``repair_recordings`` finished (the file is named after its call)."""
    return repaired_recording(info.path, call_id=info.path.name.split(".", 1)[0], duration=info.duration,
                              size=info.size, sha256=info.sha256, modified_at=info.path.stat().st_mtime)


async def close_calls_left_open(writer: DurableWriter, url: str, node: str, *, within: float = 10.0) -> int:
    """End ``node``'s calls still open in the database (see :mod:`voxcenter.store.recovery`); how many.

    The journal's leftovers must be in the database first (they may hold the call's latest records). When the
    database cannot be read, the calls stay open and a line says so: the next start closes them.
    """
    started = time.time()
    if not await writer.flush(within):
        logger.error("crash.calls_not_closed", reason="the journal's records did not reach the database in time")
        return 0
    try:
        closing = await find_open_calls(url, node, before=started)
    except Exception as error:  # the database is away: start anyway, as restore does
        logger.error("crash.calls_not_closed", reason=repr(error))
        return 0
    for call in closing.calls:
        writer.submit(call)
    for leg in closing.legs:
        writer.submit(leg)
    if closing.calls:
        logger.warning("crash.calls_closed", calls=len(closing.calls), legs=len(closing.legs),
                       call_ids=[call.call_id for call in closing.calls])
    return len(closing.calls)
