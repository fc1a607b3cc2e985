"""SQLAlchemy 2 models: one table per record type of :mod:`voxcenter.store.records`.

Keys are the text ids voxcenter generates (ULIDs), unique across nodes. Event tables carry no foreign keys on
purpose: an event may reach the database before its call's CDR (separate batches, a replay), and a durable log must
never refuse a record for that. ``call_id`` is indexed everywhere instead. Times are ``timestamptz`` in PostgreSQL and
ISO 8601 text in SQLite, durations seconds rounded to the millisecond (see :mod:`voxcenter.store.types`).
The Alembic migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Double, Index, Integer, LargeBinary, MetaData, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voxcenter.store.types import Seconds, Timestamp

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations can refer to them)."""

    metadata = MetaData(naming_convention=NAMING)


_ID = String(32)


class Call(Base):
    """``calls``: the CDR, one row per call; see :class:`voxcenter.store.records.CallRecord`."""

    __tablename__ = "calls"
    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    node: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    arrived_at: Mapped[float] = mapped_column(Timestamp, index=True)
    from_number: Mapped[str] = mapped_column(String(128))
    to_number: Mapped[str] = mapped_column(String(128))
    trunk: Mapped[str] = mapped_column(String(64))
    sip_call_id: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[float | None] = mapped_column(Timestamp)
    queue: Mapped[str | None] = mapped_column(String(64), index=True)
    queue_entered_at: Mapped[float | None] = mapped_column(Timestamp)
    agent: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_answered_at: Mapped[float | None] = mapped_column(Timestamp)
    ended_at: Mapped[float | None] = mapped_column(Timestamp)
    wait_seconds: Mapped[float | None] = mapped_column(Seconds)
    ewt_seconds: Mapped[float | None] = mapped_column(Seconds)
    talk_seconds: Mapped[float] = mapped_column(Seconds)
    hold_seconds: Mapped[float] = mapped_column(Seconds)
    wrapup_seconds: Mapped[float] = mapped_column(Seconds)
    disposition: Mapped[str] = mapped_column(String(16))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(_ID)
    mos: Mapped[float | None] = mapped_column(Double)
    jitter_ms: Mapped[float | None] = mapped_column(Double)
    packet_loss: Mapped[float | None] = mapped_column(Double)
    rtt_ms: Mapped[float | None] = mapped_column(Double)
    campaign: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_id: Mapped[str | None] = mapped_column(_ID)


class CallLeg(Base):
    """``call_legs``: the SIP legs of a call."""

    __tablename__ = "call_legs"
    leg_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    version: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    peer: Mapped[str] = mapped_column(Text)
    started_at: Mapped[float] = mapped_column(Timestamp)
    sip_call_id: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[float | None] = mapped_column(Timestamp)
    ended_at: Mapped[float | None] = mapped_column(Timestamp)
    codec: Mapped[str | None] = mapped_column(String(16))
    end_status: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[float] = mapped_column(Seconds, server_default="0")


class CallEventRow(Base):
    """``call_events``: a call's timeline (IVR, digits, queue_log-style events, estimated waits announced)."""

    __tablename__ = "call_events"
    event_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    at: Mapped[float] = mapped_column(Timestamp, index=True)
    event: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Seconds)


class AgentEventRow(Base):
    """``agent_events``: agent state changes with reasons."""

    __tablename__ = "agent_events"
    __table_args__ = (Index("ix_agent_events_agent_at", "agent", "at"),)
    event_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Timestamp)
    state: Mapped[str] = mapped_column(String(16))
    node: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(_ID)


class Recording(Base):
    """``recordings``: metadata, and the audio itself in ``data`` when recordings are kept in the database."""

    __tablename__ = "recordings"
    recording_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[float] = mapped_column(Seconds)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[float] = mapped_column(Timestamp)
    truncated: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    deleted_at: Mapped[float | None] = mapped_column(Timestamp)


class Customer(Base):
    """``customers``: callers known by number; created for unknown callers, updated by agents."""

    __tablename__ = "customers"
    customer_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(128), index=True)
    updated_at: Mapped[float] = mapped_column(Timestamp)
    name: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    priority: Mapped[int] = mapped_column(Integer)


class Interaction(Base):
    """``interactions``: the agent's notes and ticket status for a call."""

    __tablename__ = "interactions"
    interaction_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    agent: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Timestamp)
    reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    ticket_status: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(_ID, index=True)
    number: Mapped[str | None] = mapped_column(String(128), index=True)
    outcome: Mapped[str | None] = mapped_column(String(64))
    follow_up_at: Mapped[float | None] = mapped_column(Timestamp)
    callback_id: Mapped[str | None] = mapped_column(_ID)


class Callback(Base):
    """``callbacks``: callbacks requested by callers who kept their place in a queue."""

    __tablename__ = "callbacks"
    callback_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    number: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[float] = mapped_column(Timestamp, index=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[float | None] = mapped_column(Timestamp)
    result_call_id: Mapped[str | None] = mapped_column(_ID)
    due_at: Mapped[float | None] = mapped_column(Timestamp)
    source: Mapped[str] = mapped_column(String(16), server_default="queue")
    customer_data: Mapped[str | None] = mapped_column(Text)
    sla_seconds: Mapped[float] = mapped_column(Seconds, server_default="300")
    first_dialled_at: Mapped[float | None] = mapped_column(Timestamp)


class Voicemail(Base):
    """``voicemails``: messages left by callers."""

    __tablename__ = "voicemails"
    voicemail_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    mailbox: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Timestamp)
    path: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[float] = mapped_column(Seconds)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    deleted_at: Mapped[float | None] = mapped_column(Timestamp)


class Survey(Base):
    """``surveys``: post-call NPS answers (0..10)."""

    __tablename__ = "surveys"
    survey_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    at: Mapped[float] = mapped_column(Timestamp, index=True)
    score: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))


class Registration(Base):
    """``registrations``: phones' registrations, restored at start (see ``RegistrationRecord``)."""

    __tablename__ = "registrations"
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    aor: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_uri: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    contact: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Timestamp)
    registered_at: Mapped[float] = mapped_column(Timestamp)
    sip_call_id: Mapped[str] = mapped_column(Text)
    cseq: Mapped[int] = mapped_column(BigInteger)
    user_agent: Mapped[str] = mapped_column(Text)
    reachable: Mapped[bool] = mapped_column(Boolean)


class AgentState(Base):
    """``agent_states``: each agent's current state, restored at start (see ``AgentStateRecord``)."""

    __tablename__ = "agent_states"
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Timestamp)
    node: Mapped[str] = mapped_column(String(64))
    pause_reason: Mapped[str | None] = mapped_column(Text)


class QueueMember(Base):
    """``queue_members``: members added to queues at run time (see ``QueueMemberRecord``)."""

    __tablename__ = "queue_members"
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[float] = mapped_column(Timestamp)
    node: Mapped[str] = mapped_column(String(64))
    penalty: Mapped[int] = mapped_column(Integer, server_default="0")


class CampaignContact(Base):
    """``campaign_contacts``: the contacts of outbound campaigns (see ``ContactRecord``)."""

    __tablename__ = "campaign_contacts"
    contact_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(128), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[float] = mapped_column(Timestamp)
    name: Mapped[str] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[float] = mapped_column(Timestamp)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_call_id: Mapped[str | None] = mapped_column(_ID)


class DoNotCall(Base):
    """``do_not_call``: numbers no campaign dials (see ``DoNotCallRecord``)."""

    __tablename__ = "do_not_call"
    number: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[float] = mapped_column(Timestamp)
    source: Mapped[str] = mapped_column(String(16))


class CampaignState(Base):
    """``campaign_states``: whether each campaign dials (see ``CampaignStateRecord``)."""

    __tablename__ = "campaign_states"
    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    running: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[float] = mapped_column(Timestamp)
    node: Mapped[str] = mapped_column(String(64))


class DeskSession(Base):
    """``desk_sessions``: agents' desk sign-ins, by the SHA-256 of their token (see ``DeskSessionRecord``)."""

    __tablename__ = "desk_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    agent: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[float] = mapped_column(Timestamp)
    expires_at: Mapped[float] = mapped_column(Timestamp, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean)


class WebhookDelivery(Base):
    """``webhook_deliveries``: deliveries being retried and how they ended (see ``WebhookDeliveryRecord``)."""

    __tablename__ = "webhook_deliveries"
    delivery: Mapped[str] = mapped_column(_ID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    next_attempt_at: Mapped[float] = mapped_column(Timestamp)
    at: Mapped[float] = mapped_column(Timestamp)


class ClusterNode(Base):
    """``cluster_nodes``: each node's heartbeat, and who closed its calls once it stopped beating
    (see :mod:`voxcenter.runtime.cluster`)."""

    __tablename__ = "cluster_nodes"
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[float] = mapped_column(Timestamp)
    heartbeat_at: Mapped[float] = mapped_column(Timestamp)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[float | None] = mapped_column(Timestamp)
    sip_address: Mapped[str | None] = mapped_column(String(128))
    """``host:port`` where the other nodes send this node SIP (calls for the ACD router)."""
    api_address: Mapped[str | None] = mapped_column(String(128))
    """``host:port`` of this node's admin API (the other nodes pass the router's requests on to it)."""


class ClusterLease(Base):
    """``cluster_leases``: a job one node at a time does for every node (``acd``: the router), held until
    ``expires_at`` and renewed each heartbeat (see :mod:`voxcenter.runtime.cluster`)."""

    __tablename__ = "cluster_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Timestamp)


TABLE_OF_KIND: dict[str, Table] = {
    kind: Base.metadata.tables[name]
    for kind, name in (
        ("call", "calls"),
        ("leg", "call_legs"),
        ("call_event", "call_events"),
        ("agent_event", "agent_events"),
        ("recording", "recordings"),
        ("customer", "customers"),
        ("interaction", "interactions"),
        ("callback", "callbacks"),
        ("voicemail", "voicemails"),
        ("survey", "surveys"),
        ("registration", "registrations"),
        ("agent_state", "agent_states"),
        ("queue_member", "queue_members"),
        ("campaign_contact", "campaign_contacts"),
        ("do_not_call", "do_not_call"),
        ("campaign_state", "campaign_states"),
        ("desk_session", "desk_sessions"),
        ("webhook_delivery", "webhook_deliveries"),
    )
}
"""Record kind → table it is written to."""
