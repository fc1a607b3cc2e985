"""Registrations, agent states and owed callbacks survive a restart and a crash: written as they change,
restored at start from the database.

Writing: every binding change (added, refreshed, removed, expired, reachability) becomes a
:class:`RegistrationRecord`; every agent state change an :class:`AgentStateRecord`; callbacks already
have their record (``callbacks``). All go through the durable writer, so a ``kill -9`` loses at most what
the journal had not yet received, and the next start replays the journal into the database first.

Restoring, in this order: this node's unexpired UDP registrations (with their remaining expiry; a TCP or
TLS binding belongs to a connection that died with the process, so those phones register again), then
agents' logins and pauses (with their reason; an agent caught ringing, on a call or in wrap-up by the
crash comes back ready, since that call ended with the process), then the callbacks still owed, each at
the place its request time gives it, its attempts counted, and the desk sign-ins not yet expired nor
signed out (an agent's page keeps working with its token), and the webhook deliveries still being retried
(sent again when their next try is due). Times are stored on the wall clock and moved
onto the loop clock (the router's and the registrar's) here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from voxcenter.acd.agents import AgentState, AgentStateChanged
from voxcenter.acd.state import RouterError
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.registrar import Binding, BindingChange, BindingChanged, Source
from voxcenter.sip.uri import parse_name_addr
from voxcenter.store.livestate import LiveState, load_live_state
from voxcenter.store.records import AgentStateRecord, RegistrationRecord

if TYPE_CHECKING:
    from voxcenter.runtime.server import Server

logger = structlog.get_logger(__name__)

RESTORE_REASON = "restored after a restart"
"""The reason logged (and kept in ``agent_events``) for a login put back at start."""

BUSY_STATES = frozenset({AgentState.RESERVED.value, AgentState.RINGING.value, AgentState.ON_CALL.value,
                         AgentState.WRAP_UP.value})
"""Agent states of a call in progress (on another node, for a cluster's router)."""
BUSY_ELSEWHERE = "on a call on another node"
"""The pause reason of an agent the router holds out of its queues while a call on another node goes on."""


class VersionStamp:
    """Versions for upserted state rows: microseconds of the wall clock, strictly increasing in this process."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return self._last


def registration_record(change: BindingChanged, *, node: str, version: int, wall_now: float,
                        loop_now: float) -> RegistrationRecord:
    """The row for a binding after ``change``; an ended binding expires now."""
    binding = change.binding
    ended = change.change in (BindingChange.REMOVED, BindingChange.EXPIRED)
    expires_at = wall_now if ended else wall_now + (binding.expires_at - loop_now)
    return RegistrationRecord(
        node=node, aor=binding.aor, contact_uri=str(binding.contact.uri), version=version,
        contact=str(binding.contact), transport=binding.source.transport, host=binding.source.host,
        port=binding.source.port, expires_at=expires_at,
        registered_at=wall_now - (loop_now - binding.registered_at), sip_call_id=binding.call_id,
        cseq=binding.cseq, user_agent=binding.user_agent, reachable=binding.reachable,
    )


def agent_state_record(change: AgentStateChanged, *, node: str, version: int, wall_now: float,
                       pause_reason: str | None) -> AgentStateRecord:
    """The row for an agent after ``change``."""
    return AgentStateRecord(agent=change.agent_id, version=version, state=change.new.value, at=wall_now,
                            node=node, pause_reason=pause_reason)


def binding_of(record: RegistrationRecord, *, wall_now: float, loop_now: float) -> Binding | None:
    """The registrar binding a stored registration stands for, on the loop clock; None if unusable."""
    try:
        contact = parse_name_addr(record.contact)
    except RemoteProtocolError:
        return None
    return Binding(
        aor=record.aor, contact=contact, source=Source(record.transport, record.host, record.port),
        expires_at=loop_now + (record.expires_at - wall_now), call_id=record.sip_call_id, cseq=record.cseq,
        user_agent=record.user_agent, reachable=record.reachable,
        registered_at=loop_now - (wall_now - record.registered_at),
    )


async def restore_live_state(server: Server, url: str, *, router_state: bool = True) -> LiveState | None:
    """Read the live state of ``server``'s node and put it back; None when the database could not be read.

    ``router_state`` False: leave out the agents' logins and pauses and the callbacks owed (a node of a
    cluster sharing one router takes them only once it becomes the router: :func:`restore_router_state`)."""
    await server.writer.flush(5.0)  # what the journal replayed must be in the database before it is read
    try:
        state = await load_live_state(url, server.node, time.time())
    except Exception as error:  # the database is away: start empty rather than not at all
        logger.error("restore.unavailable", error=repr(error))
        return None
    apply_live_state(server, state, router_state=router_state)
    return state


async def restore_router_state(server: Server, url: str, *, handed_over: bool = False) -> bool:
    """This node became the cluster's router: take every agent's login and pause and every callback owed from
    the database, whatever node wrote them (the router that stopped held them). False: the database is away.

    ``handed_over``: the last router let the lease go as it stopped and its calls go on: an agent it had on a
    call is taken paused (``BUSY_ELSEWHERE``, until that node writes the agent free), and a callback it is
    dialling is left to it."""
    try:
        state = await load_live_state(url, server.node, time.time())
    except Exception as error:
        logger.error("restore.unavailable", error=repr(error))
        return False
    agents, paused, callbacks = apply_router_state(server, state, handed_over=handed_over)
    logger.info("restore.router", handed_over=handed_over, agents_logged_in=agents, agents_paused=paused,
                callbacks=callbacks)
    return True


def apply_live_state(server: Server, state: LiveState, *, router_state: bool = True) -> None:
    """Put ``state`` back into the endpoint's registrar and the ACD router (see the module docstring)."""
    wall_now, loop_now = time.time(), server.acd.now()
    bindings = [binding for record in state.registrations if record.transport == "udp"
                and (binding := binding_of(record, wall_now=wall_now, loop_now=loop_now)) is not None]
    registered = server.endpoint.restore_bindings(bindings)
    server.acd.restore_members({(member.queue, member.agent): member.penalty for member in state.queue_members})
    agents, paused, callbacks = apply_router_state(server, state) if router_state else (0, 0, 0)
    server.campaigns.restore(state.contacts, state.do_not_call, state.campaign_states)
    desk_sessions = server.desk_sessions.restore(state.desk_sessions)
    webhooks = server.webhooks.resume(state.webhook_deliveries)
    logger.info("restore.done", registrations=registered, agents_logged_in=agents, agents_paused=paused,
                callbacks=callbacks, contacts=len(state.contacts), desk_sessions=desk_sessions,
                webhook_deliveries=webhooks)


def apply_router_state(server: Server, state: LiveState, *, handed_over: bool = False) -> tuple[int, int, int]:
    """Agents' logins and pauses and the callbacks owed, into the ACD router: (logged in, paused, callbacks)."""
    config = server.config
    wall_now, loop_now = time.time(), server.acd.now()
    router = server.acd.router
    agents = paused = 0
    for record in state.agent_states:
        server.acd.agent_states_seen[record.agent] = record.version
        if record.agent not in config.agents or record.state == AgentState.OFFLINE.value:
            continue
        # The newest row is the truth, whatever node wrote it: an agent this node logged in already (its home
        # node) is paused too if the row says so, or if the last router has it on a call that goes on.
        wanted = record.pause_reason or (BUSY_ELSEWHERE if handed_over and record.state in BUSY_STATES else None)
        try:
            if not router.knows_agent(record.agent) or router.agent_state(record.agent) is AgentState.OFFLINE:
                router.agent_login(record.agent, loop_now, RESTORE_REASON)
            agents += 1
            if wanted and router.agent_pause_reason(record.agent) != wanted:
                router.agent_pause(record.agent, loop_now, wanted)
            paused += router.agent_pause_reason(record.agent) is not None
        except RouterError as error:
            logger.warning("restore.agent_refused", agent=record.agent, reason=str(error))
    callbacks = 0
    for callback in state.callbacks:
        if callback.callback_id in server.acd.callback_records or (handed_over and callback.status == "dialing"):
            continue
        if callback.queue not in config.queues:
            logger.warning("restore.callback_queue_gone", callback_id=callback.callback_id, queue=callback.queue)
            continue
        if server.acd.take_callback(callback, wall_now=wall_now, loop_now=loop_now):
            callbacks += 1
    server.acd.pump()
    return agents, paused, callbacks
