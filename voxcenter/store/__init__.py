"""voxcenter.store: CDRs, events and recordings in PostgreSQL or SQLite, through a journal that loses nothing.

Call control builds :mod:`~voxcenter.store.records` (frozen, JSON-serializable) and hands them to
:meth:`DurableWriter.submit`; the writer journals them to disk and then writes them to the database.
"""

from voxcenter.store.db import DatabaseUrlError, default_database_url, make_engine, upgrade, upgrade_async
from voxcenter.store.journal import Journal, JournalError
from voxcenter.store.records import (
    DISPOSITIONS,
    QUEUE_EVENTS,
    AgentEvent,
    CallbackRecord,
    CallEvent,
    CallLegRecord,
    CallRecord,
    CustomerRecord,
    InteractionRecord,
    Record,
    RecordError,
    RecordingRecord,
    SurveyRecord,
    VoicemailRecord,
    new_id,
)
from voxcenter.store.writer import DurableWriter, WriterClosedError, WriterStats

__all__ = [
    "DISPOSITIONS",
    "QUEUE_EVENTS",
    "AgentEvent",
    "CallEvent",
    "CallLegRecord",
    "CallRecord",
    "CallbackRecord",
    "CustomerRecord",
    "DatabaseUrlError",
    "DurableWriter",
    "InteractionRecord",
    "Journal",
    "JournalError",
    "Record",
    "RecordError",
    "RecordingRecord",
    "SurveyRecord",
    "VoicemailRecord",
    "WriterClosedError",
    "WriterStats",
    "default_database_url",
    "make_engine",
    "new_id",
    "upgrade",
    "upgrade_async",
]
