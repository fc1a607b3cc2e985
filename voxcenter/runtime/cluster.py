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

With ``cluster.shared_queues`` each heartbeat also takes or renews the router lease (``cluster_leases``, one
conditional UPDATE like the claim): its holder runs the ACD router for every node, the others send their
callers to it (:mod:`voxcenter.runtime.forward`). While it holds the lease, the router reads at each heartbeat
the agent states and callbacks the other nodes wrote for it (:class:`RouterInputs`).

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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from voxcenter.store.db import make_engine
from voxcenter.store.livestate import record_of
from voxcenter.store.models import TABLE_OF_KIND, Base, ClusterLease, ClusterNode
from voxcenter.store.records import AgentStateRecord, CallbackRecord, CallRecord, RegistrationRecord
from voxcenter.store.recovery import ClosedCalls, find_open_calls
from voxcenter.store.writer import DurableWriter

logger = structlog.get_logger(__name__)

NODES = Base.metadata.tables[ClusterNode.__tablename__]
LEASES = Base.metadata.tables[ClusterLease.__tablename__]
REGISTRATIONS = TABLE_OF_KIND["registration"]
AGENT_STATES = TABLE_OF_KIND["agent_state"]
CALLS = TABLE_OF_KIND["call"]
CALLBACKS = TABLE_OF_KIND["callback"]
ROUTER_LEASE = "acd"
"""The lease whose holder runs the ACD router for every node (``cluster.shared_queues``)."""
RELEASED = ""
"""The holder of a lease its last holder let go (it stopped): the next node to beat takes it."""


class _Yielding(Exception):
    """Raised inside the election's transaction of a stopping node: it takes nothing."""


@dataclass(frozen=True, slots=True)
class NodeBeat:
    """One row of ``cluster_nodes`` as the watcher sees it."""

    node: str
    heartbeat_at: float
    closed: bool


@dataclass(frozen=True, slots=True)
class RouterSeen:
    """Who holds the router lease, as the last heartbeat read it."""

    holder: str
    address: str | None
    """The holder's SIP ``host:port`` (``cluster_nodes.sip_address``)."""
    expires_at: float
    api_address: str | None = None
    """The holder's admin API ``host:port`` (``cluster_nodes.api_address``)."""


@dataclass(frozen=True, slots=True)
class RouterInputs:
    """What other nodes wrote for the router since the last heartbeat: agent states and callbacks booked."""

    agent_states: tuple[AgentStateRecord, ...]
    callbacks: tuple[CallbackRecord, ...]


def dead_nodes(rows: Iterable[NodeBeat], *, me: str, now: float, dead_after: float) -> list[str]:
    """The nodes to claim at ``now``: not this one, not closed already, silent for longer than ``dead_after``."""
    return sorted(row.node for row in rows
                  if row.node != me and not row.closed and now - row.heartbeat_at > dead_after)


class Heartbeat:
    """This node's heartbeat in the shared database, and the watch over the others' (see the module)."""

    def __init__(self, url: str, node: str, writer: DurableWriter, *, interval: float, dead_after: float,
                 clock: Callable[[], float] = time.time, router_lease: bool = False,
                 sip_address: str | None = None, api_address: str | None = None) -> None:
        self.url = url
        self.node = node
        self.writer = writer
        self.interval = interval
        self.dead_after = dead_after
        self.clock = clock
        self.router_lease = router_lease
        """Take part in the election of the ACD router (``cluster.shared_queues``)."""
        self.sip_address = sip_address
        self.api_address = api_address
        self.router: RouterSeen | None = None
        """The router lease as the last heartbeat saw it (None: not read yet, or no election)."""
        self.on_router: Callable[[bool, bool], Awaitable[None]] | None = None
        """Awaited when this node becomes the router (True) or another node took the lease from it (False); the
        second argument: the lease was let go by a router that stopped (its calls go on meanwhile), not lost."""
        self.on_router_inputs: Callable[[RouterInputs], None] | None = None
        """Given, each heartbeat while this node is the router, what the other nodes wrote for it."""
        self.on_router_seen: Callable[[], None] | None = None
        """Called after each heartbeat has read the router lease (:attr:`router`)."""
        self._routing = False
        self._yielding = False
        self.alive_nodes: set[str] = set()
        """Nodes whose heartbeat was younger than ``dead_after`` at the last heartbeat (this one included)."""
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
        if self.router_lease:  # the router is known from the start (or the election begins now)
            try:
                now = self.clock()
                await self._elect(now, now)
            except Exception as error:
                logger.warning("cluster.heartbeat_failed", error=repr(error))
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
                    # The router lease is let go at once: another node takes it on its next heartbeat.
                    await connection.execute(update(LEASES).where(LEASES.c.name == ROUTER_LEASE,
                                                                  LEASES.c.holder == self.node)
                                             .values(holder=RELEASED, expires_at=now))
            await self._engine.dispose()

    async def _announce(self) -> None:
        assert self._engine is not None
        now = self.clock()
        async with self._engine.begin() as connection:
            changed = await connection.execute(update(NODES).where(NODES.c.node == self.node).values(
                started_at=now, heartbeat_at=now, closed_by=None, closed_at=None, **self._addresses()))
            if changed.rowcount == 0:
                await connection.execute(insert(NODES).values(node=self.node, started_at=now, heartbeat_at=now,
                                                              **self._addresses()))

    def _addresses(self) -> dict[str, str | None]:
        return {"sip_address": self.sip_address, "api_address": self.api_address}

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
                await connection.execute(insert(NODES).values(node=self.node, started_at=now, heartbeat_at=now,
                                                              **self._addresses()))
            rows = [NodeBeat(row.node, row.heartbeat_at, row.closed_at is not None)
                    for row in await connection.execute(select(NODES))]
            if self.on_registrations is not None:
                since = now - self.dead_after if self._last_tick is None else self._last_tick - self.interval
                shared = [record_of(RegistrationRecord, row) for row in await connection.execute(
                    select(REGISTRATIONS).where(REGISTRATIONS.c.node != self.node,
                                                REGISTRATIONS.c.expires_at > since))]
        since = now - 2 * self.interval if self._last_tick is None else self._last_tick - self.interval
        self._last_tick = now
        if self.on_registrations is not None:
            self.on_registrations(shared)
        self.alive_nodes = {row.node for row in rows if not row.closed and now - row.heartbeat_at <= self.dead_after}
        if self.router_lease:
            await self._elect(now, since)
        last_beat = {row.node: row.heartbeat_at for row in rows}
        for node in dead_nodes(rows, me=self.node, now=now, dead_after=self.dead_after):
            closing = await find_open_calls(self.url, node, before=now)
            if await self._claim(node, now):
                self._close(node, closing, silent=now - last_beat[node])

    def routes_here(self, now: float) -> bool | None:
        """Whether this node runs the ACD router at ``now``: True, False (another node's lease is live), or None
        (no live lease: the election is under way)."""
        router = self.router
        if router is None or now >= router.expires_at or router.holder == RELEASED:
            return None
        return router.holder == self.node

    async def _elect(self, now: float, since: float) -> None:
        """Take or renew the router lease, read who holds it, and tell the server what changed."""
        assert self._engine is not None
        released = False
        try:
            async with self._engine.begin() as connection:
                before = (await connection.execute(select(LEASES.c.holder).where(
                    LEASES.c.name == ROUTER_LEASE))).first() if not self._routing else None
                released = before is not None and before.holder == RELEASED
                if self._yielding:
                    raise _Yielding
                taken = await connection.execute(
                    update(LEASES).where(LEASES.c.name == ROUTER_LEASE,
                                         or_(LEASES.c.holder == self.node, LEASES.c.expires_at < now))
                    .values(holder=self.node, expires_at=now + self.dead_after))
                if taken.rowcount == 0 and (await connection.execute(
                        select(LEASES.c.name).where(LEASES.c.name == ROUTER_LEASE))).first() is None:
                    await connection.execute(insert(LEASES).values(name=ROUTER_LEASE, holder=self.node,
                                                                   expires_at=now + self.dead_after))
        except IntegrityError:
            pass  # another node inserted the lease first: it holds it
        except _Yielding:
            pass  # this node is stopping: it follows the lease, never takes it
        async with self._engine.begin() as connection:
            row = (await connection.execute(
                select(LEASES.c.holder, LEASES.c.expires_at, NODES.c.sip_address, NODES.c.api_address)
                .select_from(LEASES.outerjoin(NODES, NODES.c.node == LEASES.c.holder))
                .where(LEASES.c.name == ROUTER_LEASE))).first()
            self.router = None if row is None else RouterSeen(row.holder, row.sip_address, row.expires_at,
                                                              row.api_address)
            routing = self.routes_here(now) is True
            inputs = await self._router_inputs(connection, since) if routing and self._routing else None
        if routing != self._routing:
            self._routing = routing
            logger.warning("cluster.router", node=self.node, router=self.router.holder if self.router else None,
                           taken=routing)
            if self.on_router is not None:
                await self.on_router(routing, released)
        elif inputs is not None and self.on_router_inputs is not None:
            self.on_router_inputs(inputs)
        if self.on_router_seen is not None:
            self.on_router_seen()

    async def yield_lease(self) -> None:
        """This node stops: let the router lease go now (another node takes it at its next heartbeat) and never
        take it again; the heartbeat goes on reading who holds it."""
        assert self._engine is not None
        self._yielding = True
        self._routing = False
        now = self.clock()
        async with self._engine.begin() as connection:
            await connection.execute(update(LEASES).where(LEASES.c.name == ROUTER_LEASE, LEASES.c.holder == self.node)
                                     .values(holder=RELEASED, expires_at=now))
        if self.router is not None and self.router.holder == self.node:
            self.router = RouterSeen(RELEASED, None, now)

    async def latest_call(self, call_id: str) -> CallRecord | None:
        """The newest version of a call's CDR in the database (None: no such call)."""
        assert self._engine is not None
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(CALLS).where(CALLS.c.call_id == call_id))).first()
        return None if row is None else record_of(CallRecord, row)

    async def _router_inputs(self, connection: AsyncConnection, since: float) -> RouterInputs:
        states = await connection.execute(select(AGENT_STATES).where(AGENT_STATES.c.node != self.node,
                                                                     AGENT_STATES.c.at >= since))
        owed = await connection.execute(select(CALLBACKS).where(CALLBACKS.c.status == "pending")
                                        .order_by(CALLBACKS.c.requested_at))
        return RouterInputs(tuple(record_of(AgentStateRecord, row) for row in states),
                            tuple(record_of(CallbackRecord, row) for row in owed))

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
