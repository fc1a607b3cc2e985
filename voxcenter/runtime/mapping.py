"""From the dial plan to the settings of each part: endpoint, trunks, router, credentials.

Pure functions of an immutable :class:`~voxcenter.config.Config`; a reload maps the
new config again and hands the results to the running parts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from voxcenter.acd.model import (
    HANGUP,
    AgentProfile,
    Discipline,
    QueuePolicy,
    RelaxationStep,
    SkillRequirement,
    Strategy,
)
from voxcenter.config import Config
from voxcenter.config.schema import Schedule
from voxcenter.ivr.hours import next_open
from voxcenter.runtime.forward import CLUSTER_USER
from voxcenter.sip.auth import ha1
from voxcenter.sip.endpoint import CredentialLookup, EndpointSettings, Listener
from voxcenter.sip.transport import TransportLimits
from voxcenter.sip.trunks import TrunkSettings
from voxcenter.sip.uri import parse_uri


def endpoint_settings(config: Config) -> EndpointSettings:
    """Listeners, realm, trusted trunk networks and security limits."""
    shared = config.sip.certificate()
    listeners = []
    for listen in config.sip.listen:
        cert, key = listen.cert, listen.key
        if cert is None and listen.transport == "wss" and shared is not None:
            cert, key = shared
        listeners.append(Listener(listen.transport, str(listen.address), listen.effective_port,
                                  str(cert) if cert else None, str(key) if key else None))
    trusted: dict[str, tuple[str, ...]] = {}
    for name, trunk in config.trunks.items():
        if trunk.inbound is not None and trunk.inbound.auth == "none" and trunk.inbound.allow_from:
            trusted[name] = tuple(str(network) for network in trunk.inbound.allow_from)
    security = config.security
    return EndpointSettings(
        listeners=listeners,
        realm=security.realm,
        auth_algorithms=tuple(security.digest_algorithms),
        user_agent=config.sip.user_agent,
        advertised_host=str(config.sip.external_address) if config.sip.external_address else None,
        trusted_networks=trusted,
        agent_trunks=frozenset(name for name, trunk in config.trunks.items()
                               if trunk.inbound is not None and trunk.inbound.agents and name in trusted),
        max_calls=security.max_calls_in_progress,
        max_call_rate=security.max_call_rate,
        max_loop_lag=security.max_loop_lag,
        auth_max_failures=security.auth_failures,
        auth_window=security.auth_window,
        auth_ban_time=security.ban_time,
        never_ban=tuple(str(network) for network in security.never_ban),
        flood_requests=security.flood.requests,
        flood_window=security.flood.window,
        flood_ban_time=security.flood.ban_time,
        trunk_networks=tuple(
            str(network)
            for trunk in config.trunks.values() if trunk.inbound is not None
            for network in trunk.inbound.allow_from
        ),
        trunk_flood_requests=security.flood.trunk_requests,
        account_max_failures=security.account_failures,
        account_window=security.account_window,
        account_delay=security.account_delay,
        transport_limits=TransportLimits(message_timeout=config.sip.message_timeout,
                                         tls_handshake_timeout=config.sip.tls_handshake_timeout),
    )


def trunk_users(config: Config) -> dict[str, str]:
    """Digest username → trunk name, for trunks whose inbound calls authenticate (``auth: digest``)."""
    return {
        trunk.inbound.username: name
        for name, trunk in config.trunks.items()
        if trunk.inbound is not None and trunk.inbound.auth == "digest" and trunk.inbound.username
    }


def credential_lookup(config: Config) -> CredentialLookup:
    """Digest credentials: agents (HA1 from the password, or the configured HA1 for its algorithm) and
    trunks that authenticate their inbound calls. An agent extension wins over a trunk username."""
    agents = dict(config.agents)
    trunk_passwords = {
        trunk.inbound.username: trunk.inbound.password
        for trunk in config.trunks.values()
        if trunk.inbound is not None and trunk.inbound.auth == "digest" and trunk.inbound.username
    }

    cluster_secret = config.cluster.secret if config.cluster.shared_queues else None

    def lookup(username: str, realm: str, algorithm: str) -> str | None:
        agent = agents.get(username)
        if username == CLUSTER_USER and agent is None:  # another node sending a caller on to the router
            return ha1(username, realm, cluster_secret, algorithm) if cluster_secret else None
        if agent is None:
            password = trunk_passwords.get(username)
            return ha1(username, realm, password, algorithm) if password else None
        if agent.password is not None:
            return ha1(username, realm, agent.password, algorithm)
        stored = agent.ha1 or ""
        # The hash's length says its algorithm: 32 hex digits MD5, 64 SHA-256.
        if (len(stored) == 32) == (algorithm.upper() == "MD5"):
            return stored.lower()
        return None

    return lookup


def trunk_settings(config: Config) -> list[TrunkSettings]:
    """Outbound sides of the configured trunks."""
    out: list[TrunkSettings] = []
    for name, trunk in config.trunks.items():
        outbound = trunk.outbound
        if outbound is None:
            continue
        out.append(
            TrunkSettings(
                name=name,
                proxy=parse_uri(str(outbound.proxy)),
                username=outbound.username,
                password=outbound.password,
                register=outbound.registration,
                register_expires=int(outbound.registration_expiry),
                options_interval=outbound.options_interval or 0.0,
            )
        )
    return out


_DISCIPLINES = {
    "longest-wait": Discipline.LONGEST_WAIT,
    "priority": Discipline.PRIORITY,
    "skills": Discipline.SKILLS,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleHours:
    """A queue's calling window: a dial-plan schedule seen on the router's (loop) clock."""

    schedule: Schedule
    """The schedule (time zone, hours, holidays)."""
    wall_offset: float
    """Unix time minus loop time: the loop instant ``now`` is the Unix instant ``now + wall_offset``."""

    def next_open(self, now: float) -> float | None:
        """The first loop instant at or after ``now`` inside the schedule's opening hours."""
        opens = next_open(self.schedule, dt.datetime.fromtimestamp(now + self.wall_offset, tz=dt.UTC))
        return None if opens is None else max(now, opens.timestamp() - self.wall_offset)


def queue_policies(config: Config, wall_offset: float) -> list[QueuePolicy]:
    """One router policy per queue (``wall_offset``: Unix time minus the router's clock, for calling hours).

    Overflow destinations stay with the IVR (a queue node's ``on_exit`` and the
    queue's ``overflow`` say where the caller goes): the router only reports why a
    caller left, so every router-side target is "leave the queue".
    """
    policies: list[QueuePolicy] = []
    for name, queue in config.queues.items():
        announcements = queue.announcements
        relaxation = tuple(
            RelaxationStep(
                after=step.after,
                min_level=step.min_level,
                drop=frozenset({step.drop}) if step.drop else frozenset(),
            )
            for step in queue.relaxation
        )
        policies.append(
            QueuePolicy(
                name=name,
                discipline=_DISCIPLINES[queue.strategy],
                strategy=Strategy(queue.selection),
                weight=float(max(queue.weight, 0) + 1),
                ring_timeout=queue.ring_timeout,
                retry_delay=queue.retry_delay,
                wrapup=queue.wrap_up,
                max_length=queue.max_length,
                max_wait=queue.max_wait,
                join_empty=queue.join_when == "always",
                leave_when_empty=queue.leave_when != "never",
                on_full=HANGUP,
                on_timeout=HANGUP,
                on_empty=HANGUP,
                announce_every=(
                    announcements.position_every
                    if announcements.announce_position or announcements.estimated_wait
                    else None
                ),
                announce_first=(
                    announcements.first_after
                    if announcements.announce_position or announcements.estimated_wait
                    else 0.0
                ),
                announce_position_limit=announcements.position_limit or 1_000_000,
                service_level=queue.service_level,
                relaxation=relaxation,
                language_relaxation=queue.language_relaxation,
                skills=tuple(SkillRequirement(skill, level) for skill, level in queue.skills.items()),
                cost_aware=queue.cost_aware,
                backup_group=queue.backup_group,
                backup_after=queue.backup_after,
                callback_offer_after=queue.callback.offer_after if queue.callback.enabled else None,
                callback_max_wait=queue.callback.expire_after,
                callback_retry_delay=queue.callback.retry_delay,
                callback_max_attempts=queue.callback.attempts,
                callback_ring_time=queue.callback.ring_time,
                callback_hours=(
                    None if queue.callback.hours is None
                    else ScheduleHours(config.schedules[queue.callback.hours], wall_offset)
                ),
                autopause_after=queue.auto_pause_after,
            )
        )
    return policies


def agent_profiles(config: Config) -> list[AgentProfile]:
    groups_of: dict[str, set[str]] = {}
    for group, members in config.groups.items():
        for member in members:
            groups_of.setdefault(member, set()).add(group)
    return [
        AgentProfile(
            agent_id=extension,
            queues=frozenset(membership.queue for membership in agent.queues),
            skills=dict(agent.skills),
            groups=frozenset(groups_of.get(extension, ())),
            wrapup=agent.wrap_up,
            languages=frozenset(agent.languages),
            penalties={m.queue: m.penalty for m in agent.queues if m.penalty},
            weights={m.queue: float(m.weight) for m in agent.queues},
            cost=agent.cost,
            max_calls=agent.max_calls,
        )
        for extension, agent in config.agents.items()
    ]


def with_members(profiles: list[AgentProfile], dynamic: set[tuple[str, str]],
                 penalties: Mapping[tuple[str, str], int] | None = None) -> list[AgentProfile]:
    """``profiles`` with the run-time members (``(queue, agent)``) added to their agents' queues, with their
    ``penalties`` (none: 0)."""
    extra: dict[str, set[str]] = {}
    for queue, agent in dynamic:
        extra.setdefault(agent, set()).add(queue)
    penalties = penalties or {}
    return [dataclasses.replace(p, queues=p.queues | extra[p.agent_id],
                                penalties={**p.penalties, **{q: penalties[q, p.agent_id] for q in extra[p.agent_id]
                                                             if penalties.get((q, p.agent_id))}})
            if p.agent_id in extra else p for p in profiles]


def static_members(config: Config) -> set[tuple[str, str]]:
    """``(queue, agent)`` of every membership the dial plan itself writes."""
    return {(membership.queue, extension) for extension, agent in config.agents.items()
            for membership in agent.queues}
