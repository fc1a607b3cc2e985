"""Nodes sharing one database: each beats a heartbeat, and a survivor closes the calls of a node that stopped.

Every node with ``cluster.heartbeat`` set keeps a row in ``cluster_nodes`` and writes the time into it once a
heartbeat. On the same tick it looks at the others' rows: one whose heartbeat is older than
``cluster.dead_after`` (killed with ``kill -9``, its machine gone) is claimed by a single conditional UPDATE
(the first node to run it wins; the others see no row changed), and the winner closes the dead node's calls
still ``in_progress`` exactly as a restart of that node would (:func:`voxcenter.store.recovery.find_open_calls`):
ended at the last moment any record of the call holds, ``hangup_by: system``, a cause naming the node.

Each heartbeat also reads the registrations the other nodes hold (phones registered through the proxy land on
one node) and hands them to the server, which keeps a copy of those it can reach, so that any node can ring any
agent's phone through the proxy (see ``Server._share_registrations``).

A node that stops cleanly marks its own row closed (it ended its calls itself); one that starts again under the
same name clears the mark and closes what it left open itself, as a single node does. Records the dead node had
in its journal but not yet in the database are not seen by the survivor: they reach the database when that node
starts again.

:func:`dead_nodes` is the pure part (which rows to claim at a time); :class:`Heartbeat` is the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.store.db import make_engine
from voxcenter.store.livestate import record_of
from voxcenter.store.models import TABLE_OF_KIND, Base, ClusterNode
from voxcenter.store.records import RegistrationRecord
from voxcenter.store.recovery import ClosedCalls, find_open_calls
from voxcenter.store.writer import DurableWriter

logger = structlog.get_logger(__name__)

NODES = Base.metadata.tables[ClusterNode.__tablename__]
REGISTRATIONS = TABLE_OF_KIND["registration"]


@dataclass(frozen=True, slots=True)
class NodeBeat:
    """One row of ``cluster_nodes`` as the watcher sees it."""

    node: str
    heartbeat_at: float
    closed: bool


def dead_nodes(rows: Iterable[NodeBeat], *, me: str, now: float, dead_after: float) -> list[str]:
    """The nodes to claim at ``now``: not this one, not closed already, silent for longer than ``dead_after``."""
    return sorted(row.node for row in rows
                  if row.node != me and not row.closed and now - row.heartbeat_at > dead_after)


class Heartbeat:
    """This node's heartbeat in the shared database, and the watch over the others' (see the module)."""

    def __init__(self, url: str, node: str, writer: DurableWriter, *, interval: float, dead_after: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.node = node
        self.writer = writer
        self.interval = interval
        self.dead_after = dead_after
        self.clock = clock
        self.closed_nodes: list[str] = []
        """Nodes whose calls this one closed, in order (for tests and the log)."""
        self.on_registrations: Callable[[list[RegistrationRecord]], None] | None = None
        """Given, each heartbeat, the other nodes' registrations live now or ended since the last heartbeat."""
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_tick: float | None = None

    async def start(self) -> None:
        """Write this node's row (alive, not closed) and start beating; a database away is retried each beat."""
        self._engine = make_engine(self.url, statement_timeout=max(1.0, self.interval),
                                   connect_timeout=max(1.0, self.interval))
        with contextlib.suppress(Exception):
            await self._announce()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop beating and mark the row closed: this node ended its own calls."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._engine is not None:
            with contextlib.suppress(Exception):
                now = self.clock()
                async with self._engine.begin() as connection:
                    await connection.execute(update(NODES).where(NODES.c.node == self.node)
                                             .values(heartbeat_at=now, closed_by=self.node, closed_at=now))
            await self._engine.dispose()

    async def _announce(self) -> None:
        assert self._engine is not None
        now = self.clock()
        async with self._engine.begin() as connection:
            changed = await connection.execute(update(NODES).where(NODES.c.node == self.node).values(
                started_at=now, heartbeat_at=now, closed_by=None, closed_at=None))
            if changed.rowcount == 0:
                await connection.execute(insert(NODES).values(node=self.node, started_at=now, heartbeat_at=now))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: beat again next time
                logger.warning("cluster.heartbeat_failed", error=repr(error))

    async def tick(self) -> None:
        """One heartbeat: write ours, hand on the others' registrations, claim the dead, close their calls."""
        assert self._engine is not None
        now = self.clock()
        async with self._engine.begin() as connection:
            beat = await connection.execute(update(NODES).where(NODES.c.node == self.node).values(heartbeat_at=now))
            if beat.rowcount == 0:  # the row was not written at start (database away then)
                await connection.execute(insert(NODES).values(node=self.node, started_at=now, heartbeat_at=now))
            rows = [NodeBeat(row.node, row.heartbeat_at, row.closed_at is not None)
                    for row in await connection.execute(select(NODES))]
            if self.on_registrations is not None:
                since = now - self.dead_after if self._last_tick is None else self._last_tick - self.interval
                shared = [record_of(RegistrationRecord, row) for row in await connection.execute(
                    select(REGISTRATIONS).where(REGISTRATIONS.c.node != self.node,
                                                REGISTRATIONS.c.expires_at > since))]
        self._last_tick = now
        if self.on_registrations is not None:
            self.on_registrations(shared)
        last_beat = {row.node: row.heartbeat_at for row in rows}
        for node in dead_nodes(rows, me=self.node, now=now, dead_after=self.dead_after):
            closing = await find_open_calls(self.url, node, before=now)
            if await self._claim(node, now):
                self._close(node, closing, silent=now - last_beat[node])

    async def _claim(self, node: str, now: float) -> bool:
        """Mark ``node`` closed by this one, unless another node did first or it beat meanwhile."""
        assert self._engine is not None
        async with self._engine.begin() as connection:
            claimed = await connection.execute(
                update(NODES).where(NODES.c.node == node, NODES.c.closed_at.is_(None),
                                    NODES.c.heartbeat_at < now - self.dead_after)
                .values(closed_by=self.node, closed_at=now))
        return claimed.rowcount == 1

    def _close(self, node: str, closing: ClosedCalls, *, silent: float) -> None:
        for call in closing.calls:
            self.writer.submit(call)
        for leg in closing.legs:
            self.writer.submit(leg)
        self.closed_nodes.append(node)
        logger.warning("cluster.node_dead", node=node, closed_by=self.node, silent_seconds=round(silent, 3),
                       calls=len(closing.calls),
                       legs=len(closing.legs), call_ids=[call.call_id for call in closing.calls])
