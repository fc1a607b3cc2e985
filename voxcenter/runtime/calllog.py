"""A call's CDR and timeline, handed to the durable writer as the call goes.

The CDR is written from the first moment (disposition ``in_progress``) and
again at each milestone with a higher ``version``; the store keeps the newest,
so a crash at any point leaves the most complete row written so far, and the
journal replay at start finishes the job. Times are wall-clock POSIX seconds
(records from several nodes are compared), taken when the log is updated, on
the call's own clock: the wall clock read once when the call arrives, moved on
by the monotonic clock. A step of the system clock during a call (NTP, an
operator) then changes neither its durations nor the order of its records.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Protocol

from voxcenter.store.records import AgentEvent, CallEvent, CallRecord, Record, new_id


class RecordSink(Protocol):
    """Where records go: the DurableWriter (``submit`` never blocks and never waits on the database)."""

    def submit(self, record: Record) -> None: ...


class CallLog:
    """The records of one call; every change is submitted at once."""

    def __init__(
        self, sink: RecordSink, *, node: str, call_id: str, direction: str, from_number: str, to_number: str,
        trunk: str, sip_call_id: str,
    ) -> None:
        self.sink = sink
        self._wall_start = time.time()
        self._monotonic_start = time.monotonic()
        self.cdr = CallRecord(
            call_id=call_id, version=1, node=node, direction=direction, arrived_at=self._wall_start,
            from_number=from_number, to_number=to_number, trunk=trunk, sip_call_id=sip_call_id,
        )
        self.handed_over = False
        """Another node writes this call's records now (a caller sent on to the router node): nothing is written."""
        self.sink.submit(self.cdr)

    @classmethod
    def taken_over(cls, sink: RecordSink, cdr: CallRecord) -> CallLog:
        """Go on with a call another node started: ``cdr`` is its last version there (this node's come after)."""
        log = cls.__new__(cls)
        log.sink = sink
        log._wall_start = time.time()
        log._monotonic_start = time.monotonic()
        log.cdr = cdr
        log.handed_over = False
        log.update()
        return log

    def hand_over(self) -> CallRecord:
        """Stop writing this call's records (another node goes on with them); the last version written."""
        self.handed_over = True
        return self.cdr

    def take_back(self) -> None:
        """The hand-over did not happen: this node writes the call's records again."""
        self.handed_over = False

    def resume(self, cdr: CallRecord) -> None:
        """Write the call's records again from ``cdr`` on (the node they were handed to was lost)."""
        self.handed_over = False
        self.cdr = cdr
        self.sink.submit(cdr)

    def now(self) -> float:
        """The call's wall-clock time now: its arrival plus the monotonic time since (see the module docstring)."""
        return self._wall_start + (time.monotonic() - self._monotonic_start)

    @property
    def call_id(self) -> str:
        return self.cdr.call_id

    def update(self, **changes: object) -> None:
        """A new version of the CDR with ``changes``."""
        if self.handed_over:
            return
        self.cdr = replace(self.cdr, version=self.cdr.version + 1, **changes)  # type: ignore[arg-type]
        self.sink.submit(self.cdr)

    def event(
        self, name: str, *, queue: str | None = None, agent: str | None = None,
        data: dict[str, object] | None = None, value: float | None = None,
    ) -> None:
        """One entry of the call's timeline (IVR nodes, digits, queue_log events, estimates)."""
        if self.handed_over:
            return
        self.sink.submit(
            CallEvent(
                event_id=new_id(), call_id=self.cdr.call_id, at=self.now(), event=name, queue=queue, agent=agent,
                data=json.dumps(data, default=str, separators=(",", ":")) if data else None, value=value,
            )
        )

    def finish(self, disposition: str, *, hangup_by: str | None, cause: str | None, **changes: object) -> None:
        """The final version: end time, disposition and who ended the call."""
        self.update(ended_at=self.now(), disposition=disposition, hangup_by=hangup_by, hangup_cause=cause,
                    **changes)


def agent_event(sink: RecordSink, *, node: str, agent: str, state: str, reason: str | None,
                call_id: str | None) -> None:
    sink.submit(AgentEvent(event_id=new_id(), agent=agent, at=time.time(), state=state, node=node, reason=reason,
                           call_id=call_id))
