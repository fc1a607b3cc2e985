"""The durable writer: records go to the local journal first, then in batches to the database. Nothing is lost.

Flow of a record::

    submit(record)            on the event loop: appended to an in-memory list, nothing else
      └─ journal task         every flush_interval (or batch_size records): JSON-encode, append and fsync the
                              batch in a dedicated thread (the loop never waits on the disk)
          └─ database task    batches of journaled records, idempotent inserts in one transaction each; on
                              success, the journal checkpoint moves past them (in the same thread)

Idempotence: events are ``INSERT ... ON CONFLICT DO NOTHING`` on their ids; the CDR and other versioned rows are
``INSERT ... ON CONFLICT DO UPDATE ... WHERE table.version < excluded.version``, so a later, more complete version
replaces an earlier one and never the reverse. A crash between the insert and the checkpoint therefore writes
nothing twice when :meth:`DurableWriter.start` replays the journal.

Outages: a failed or timed-out transaction (asyncpg's ``command_timeout`` fires even when the server is frozen by
SIGSTOP) is retried with exponential backoff on a fresh connection pool; meanwhile calls go on and the journal
grows. A record the database refuses on its own merits (a constraint or data error) is retried alone, then set
aside in ``rejected.jsonl`` in the journal directory with the error, so one bad record cannot block the rest.

Recordings: the metadata row goes in the same transaction as the CDR when both are in a batch; with
``recordings_in_database`` the audio file is read (in a thread) and stored in ``recordings.data``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.store.db import make_engine, normalize_url
from voxcenter.store.journal import Journal
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import RECORD_TYPES, Record, RecordError, decode_record, encode_record, record_fields

log = structlog.get_logger(__name__)

# Parents first, so that a reader inside the transaction's snapshot sees the CDR with its recording.
WRITE_ORDER: Final = (
    "customer",
    "call",
    "leg",
    "recording",
    "call_event",
    "agent_event",
    "interaction",
    "callback",
    "voicemail",
    "survey",
    "registration",
    "agent_state",
    "queue_member",
    "campaign_contact",
    "do_not_call",
    "campaign_state",
    "desk_session",
    "webhook_delivery",
)
VERSIONED_KINDS: Final = frozenset(
    {"call", "leg", "customer", "interaction", "callback", "registration", "agent_state", "queue_member",
     "voicemail", "recording", "campaign_contact", "do_not_call", "campaign_state",
     "desk_session", "webhook_delivery"}
)
REJECTED_NAME: Final = "rejected.jsonl"
_RECORD_CLASSES: Final = tuple(RECORD_TYPES.values())


class WriterClosedError(RuntimeError):
    """A record was submitted after :meth:`DurableWriter.close`: a bug in the caller."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot of the writer's counters."""

    submitted: int
    """Records accepted by :meth:`DurableWriter.submit` since start."""
    journaled: int
    """Records appended and fsync'd to the journal since start."""
    written: int
    """Records committed to the database since start (replayed ones included)."""
    replayed: int
    """Records found in the journal at start and re-sent."""
    rejected: int
    """Records the database refused on their own merits (see ``rejected.jsonl``)."""
    buffered: int
    """Submitted, not yet in the journal."""
    pending: int
    """In the journal, not yet in the database."""
    database_failures: int
    """Failed or timed-out batch transactions since start."""
    database_ok: bool
    """Whether the last attempt to write succeeded."""
    last_error: str | None
    """Text of the last database error."""


def _is_record_fault(exc: BaseException) -> bool:
    """True when the database refused the data itself, so retrying the same rows cannot succeed.

    Everything else (connection refused or lost, timeouts, a missing table before ``voxcenter db upgrade``) is
    the database's or the operator's to fix, and is retried with backoff.
    """
    if isinstance(exc, IntegrityError | DataError):
        return True
    # asyncpg's errors reach us as a generic DBAPIError: classify by SQLSTATE, class 22 (data exception) and
    # class 23 (integrity constraint violation) are the data's fault.
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        sqlstate = getattr(candidate, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate[:2] in ("22", "23")
    # Binding failures (a value of the wrong type for its column) are raised before anything reaches the server.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class DurableWriter:
    """Journal-then-database writer of :mod:`voxcenter.store.records` (see the module docstring)."""

    def __init__(
        self,
        journal_dir: str | Path,
        database_url: str,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        *,
        statement_timeout: float = 5.0,
        max_backoff: float = 5.0,
        recordings_in_database: bool = False,
        segment_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if flush_interval <= 0 or statement_timeout <= 0 or max_backoff <= 0:
            raise ValueError("flush_interval, statement_timeout and max_backoff must be positive")
        self.journal_dir = Path(journal_dir)
        self.database_url = database_url
        self.dialect = normalize_url(database_url).get_backend_name()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.statement_timeout = statement_timeout
        self.max_backoff = max_backoff
        self.recordings_in_database = recordings_in_database
        self.segment_bytes = segment_bytes
        self._io = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxcenter-journal")
        self._journal: Journal | None = None
        self._engine: AsyncEngine | None = None
        self._buffer: list[Record] = []
        self._pending: collections.deque[tuple[int, Record]] = collections.deque()
        self._journal_busy = 0
        self._wake_journal = asyncio.Event()
        self._wake_database = asyncio.Event()
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._closed = False
        self._statements: dict[str, Any] = {}
        self._submitted = self._journaled = self._written = self._replayed = self._rejected = 0
        self._failures = 0
        self._database_ok = True
        self._last_error: str | None = None

    # -- public API ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal, replay what the database has not confirmed, start the background tasks."""
        loop = asyncio.get_running_loop()
        self._journal = await loop.run_in_executor(self._io, Journal, self.journal_dir, self.segment_bytes)
        self._engine = make_engine(
            self.database_url, statement_timeout=self.statement_timeout, connect_timeout=self.statement_timeout
        )
        await self.replay()
        self._tasks = [
            asyncio.create_task(self._journal_loop(), name="voxcenter-writer-journal"),
            asyncio.create_task(self._database_loop(), name="voxcenter-writer-database"),
        ]

    async def replay(self) -> int:
        """Queue every journaled record after the checkpoint for the database again; returns how many."""
        journal = self._require_journal()
        loop = asyncio.get_running_loop()
        entries, bad = await loop.run_in_executor(self._io, self._read_uncommitted, journal)
        for seq, payload, error in bad:
            await loop.run_in_executor(self._io, self._reject_payload, payload, f"seq {seq}: {error}")
        known = {seq for seq, _ in self._pending}
        fresh = [(seq, record) for seq, record in entries if seq not in known]
        self._pending.extend(fresh)
        self._pending = collections.deque(sorted(self._pending, key=lambda item: item[0]))
        self._replayed += len(fresh)
        if fresh:
            log.info("writer.replay", records=len(fresh), committed_seq=journal.committed_seq)
            self._wake_database.set()
        return len(fresh)

    def submit(self, record: Record) -> None:
        """Accept ``record`` for durable writing. Cheap and synchronous: safe on the event loop's hot path."""
        if self._closing:
            raise WriterClosedError("record submitted to a closed DurableWriter")
        if not isinstance(record, _RECORD_CLASSES):
            raise TypeError(f"DurableWriter.submit takes a store record, not {type(record).__name__}")
        self._buffer.append(record)
        self._submitted += 1
        if len(self._buffer) >= self.batch_size:
            self._wake_journal.set()

    async def flush(self, within: float) -> bool:
        """Wait until everything submitted so far is in the database; ``False`` if ``within`` seconds passed first."""
        self._wake_journal.set()
        try:
            async with asyncio.timeout(within), self._progress:
                await self._progress.wait_for(self._drained)
        except TimeoutError:
            return False
        return True

    async def close(self, within: float = 10.0) -> bool:
        """Stop accepting records, flush for at most ``within`` seconds, stop. ``True`` if all reached the
        database; otherwise the rest is safe in the journal and is replayed by the next :meth:`start`."""
        if self._closed:
            return self._drained()
        self._closing = True
        deadline = time.monotonic() + within
        drained = await self.flush(within) if self._tasks else False
        # Whatever is still only in memory must at least reach the journal before we go.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._buffer and self._journal is not None:
            batch, self._buffer = self._buffer, []
            remaining = max(0.5, deadline - time.monotonic())
            try:
                await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(self._io, self._append, batch), remaining
                )
            except (OSError, TimeoutError) as exc:
                log.error("writer.close_journal_failed", error=str(exc), lost=len(batch))
        loop = asyncio.get_running_loop()
        if self._journal is not None:
            await loop.run_in_executor(self._io, self._journal.close)
        if self._engine is not None:
            await self._engine.dispose(close=drained)
        self._io.shutdown(wait=False)
        self._closed = True
        return drained

    def stats(self) -> WriterStats:
        """Current counters."""
        return WriterStats(
            submitted=self._submitted,
            journaled=self._journaled,
            written=self._written,
            replayed=self._replayed,
            rejected=self._rejected,
            buffered=len(self._buffer) + self._journal_busy,
            pending=len(self._pending),
            database_failures=self._failures,
            database_ok=self._database_ok,
            last_error=self._last_error,
        )

    # -- journal side (thread) -------------------------------------------------------------------------------

    def _require_journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("DurableWriter.start() was not called")
        return self._journal

    def _append(self, batch: Sequence[Record]) -> tuple[int, list[Record]]:
        """Encode and append ``batch`` in the journal thread: (last sequence number, records appended).

        A record that cannot be encoded (a field holding something JSON does not know) is set aside in
        ``rejected.jsonl`` rather than stopping the others.
        """
        journal = self._require_journal()
        kept: list[Record] = []
        payloads: list[bytes] = []
        for record in batch:
            try:
                payloads.append(encode_record(record))
            except (TypeError, ValueError) as exc:
                self._reject_payload(repr(record).encode(), f"cannot encode {record.kind} record: {exc}")
                continue
            kept.append(record)
        return journal.append(payloads), kept

    @staticmethod
    def _read_uncommitted(journal: Journal) -> tuple[list[tuple[int, Record]], list[tuple[int, bytes, str]]]:
        good: list[tuple[int, Record]] = []
        bad: list[tuple[int, bytes, str]] = []
        for seq, payload in journal.uncommitted():
            try:
                good.append((seq, decode_record(payload)))
            except RecordError as exc:
                bad.append((seq, payload, str(exc)))
        return good, bad

    def _reject_payload(self, payload: bytes, error: str) -> None:
        self._rejected += 1
        line = json.dumps({"error": error, "record": payload.decode("utf-8", "replace")})
        with (self.journal_dir / REJECTED_NAME).open("a") as handle:
            handle.write(line + "\n")
        log.error("writer.record_rejected", error=error)

    async def _journal_loop(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.05
        while True:
            try:
                async with asyncio.timeout(self.flush_interval):
                    await self._wake_journal.wait()
            except TimeoutError:
                pass
            self._wake_journal.clear()
            if not self._buffer:
                continue
            batch, self._buffer = self._buffer, []
            self._journal_busy = len(batch)
            try:
                last_seq, batch = await loop.run_in_executor(self._io, self._append, batch)
            except OSError as exc:
                # Disk full or failing: keep the records in memory, in order, and try again.
                self._buffer[:0] = batch
                self._journal_busy = 0
                log.error("writer.journal_append_failed", error=str(exc), buffered=len(self._buffer))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.05
            self._journal_busy = 0
            first_seq = last_seq - len(batch) + 1
            self._pending.extend(zip(range(first_seq, last_seq + 1), batch, strict=True))
            self._journaled += len(batch)
            del batch  # not kept by this frame while it waits for the next one (the records are the queue's now)
            self._wake_database.set()
            async with self._progress:
                self._progress.notify_all()

    # -- database side ---------------------------------------------------------------------------------------

    def _drained(self) -> bool:
        return not self._buffer and not self._journal_busy and not self._pending

    def _statement(self, kind: str) -> Any:
        """The idempotent insert for records of ``kind`` in this dialect (built once)."""
        cached = self._statements.get(kind)
        if cached is not None:
            return cached
        table: Table = TABLE_OF_KIND[kind]
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        key = [column.name for column in table.primary_key.columns]
        if kind in VERSIONED_KINDS:
            updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key}
            stmt = stmt.on_conflict_do_update(
                index_elements=key, set_=updates, where=table.c.version < stmt.excluded.version
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=key)
        self._statements[kind] = stmt
        return stmt

    async def _rows_by_kind(self, batch: Sequence[tuple[int, Record]]) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, dict[str, dict[str, Any]]] = {}
        for _seq, record in batch:
            fields = record_fields(record)
            table: Table = TABLE_OF_KIND[record.kind]
            key = "\x00".join(str(fields[c.name]) for c in table.primary_key.columns)
            rows = grouped.setdefault(record.kind, {})
            previous = rows.get(key)
            # One statement may not touch a row twice (PostgreSQL refuses): keep the highest version.
            if previous is None or fields.get("version", 0) > previous.get("version", 0):
                rows[key] = fields
        result = {kind: list(rows.values()) for kind, rows in grouped.items()}
        for row in result.get("recording", []):
            keep = self.recordings_in_database and row.get("deleted_at") is None  # a deleted one keeps no audio
            row["data"] = await self._recording_blob(row["path"]) if keep else None
        return result

    async def _recording_blob(self, path: str) -> bytes | None:
        try:
            return await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            log.error("writer.recording_unreadable", path=path, error=str(exc))
            return None

    async def _write(self, batch: Sequence[tuple[int, Record]]) -> None:
        engine = self._engine
        assert engine is not None
        rows_by_kind = await self._rows_by_kind(batch)
        async with engine.begin() as conn:
            for kind in WRITE_ORDER:
                rows = rows_by_kind.get(kind)
                if rows:
                    await conn.execute(self._statement(kind), rows)

    async def _write_with_deadline(self, batch: Sequence[tuple[int, Record]]) -> None:
        # asyncpg's command_timeout bounds each statement; this bounds the whole transaction (connect included).
        async with asyncio.timeout(self.statement_timeout * 3):
            await self._write(batch)

    async def _reset_engine(self) -> None:
        old = self._engine
        self._engine = make_engine(
            self.database_url, statement_timeout=self.statement_timeout, connect_timeout=self.statement_timeout
        )
        if old is not None:
            # Do not wait on sockets to a server that may be frozen: drop the pool, let the OS reclaim them.
            await old.dispose(close=False)

    async def _commit_checkpoint(self, seq: int) -> None:
        journal = self._require_journal()
        await asyncio.get_running_loop().run_in_executor(self._io, journal.commit, seq)

    async def _write_one_by_one(self, batch: Sequence[tuple[int, Record]]) -> None:
        """After a batch failed on its data: write each record alone, set aside the ones refused."""
        loop = asyncio.get_running_loop()
        for item in batch:
            try:
                await self._write_with_deadline([item])
            except Exception as exc:
                if not _is_record_fault(exc):
                    raise
                await loop.run_in_executor(self._io, self._reject_payload, encode_record(item[1]), str(exc))

    async def _database_loop(self) -> None:
        backoff = 0.1
        while True:
            if not self._pending:
                try:
                    async with asyncio.timeout(self.flush_interval):
                        await self._wake_database.wait()
                except TimeoutError:
                    pass
                self._wake_database.clear()
                continue
            batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
            try:
                try:
                    await self._write_with_deadline(batch)
                except Exception as exc:
                    if not _is_record_fault(exc):
                        raise
                    await self._write_one_by_one(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                self._database_ok = False
                self._last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning(
                    "writer.database_unavailable",
                    error=self._last_error,
                    pending=len(self._pending),
                    retry_in=round(backoff, 2),
                )
                await self._reset_engine()
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if not self._database_ok:
                log.info("writer.database_back", pending=len(self._pending))
            self._database_ok = True
            backoff = 0.1
            try:
                await self._commit_checkpoint(batch[-1][0])
            except OSError as exc:
                # The rows are in: at worst they are replayed (idempotently) after a restart.
                log.error("writer.checkpoint_failed", error=str(exc))
            for _ in batch:
                self._pending.popleft()
            self._written += len(batch)
            del batch  # written: nothing of it stays alive while the loop waits for more
            async with self._progress:
                self._progress.notify_all()
