"""A simulated call's records, touching every table of the store."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from voxcenter.store.records import (
    AgentEvent,
    CallbackRecord,
    CallEvent,
    CallLegRecord,
    CallRecord,
    CustomerRecord,
    InteractionRecord,
    Record,
    RecordingRecord,
    SurveyRecord,
    VoicemailRecord,
    new_id,
)


def call_lifecycle(t0: float, recording_dir: Path, node: str = "node-a") -> list[Record]:
    """Records in the order voxcenter would submit them for one answered queue call."""
    call_id = new_id(t0)
    customer = CustomerRecord(new_id(t0), 1, "+15551230001", t0, language="en")
    base = CallRecord(call_id, 1, node, "inbound", t0, "+15551230001", "+15557650000", "carrier", "sip-1@x")
    queued = dataclasses.replace(
        base, version=2, answered_at=t0 + 1, queue="support", queue_entered_at=t0 + 10, customer_id=customer.customer_id
    )
    final = dataclasses.replace(
        queued,
        version=3,
        agent="alice",
        agent_answered_at=t0 + 40,
        ended_at=t0 + 200,
        wait_seconds=30.0,
        talk_seconds=150.0,
        hold_seconds=10.0,
        wrapup_seconds=20.0,
        disposition="answered",
        hangup_by="caller",
        hangup_cause="BYE",
        mos=4.3,
        jitter_ms=3.5,
        packet_loss=0.001,
        rtt_ms=42.0,
    )
    audio = recording_dir / f"{call_id}.wav"
    audio.write_bytes(b"RIFF" + bytes(100))
    recording = RecordingRecord(
        new_id(t0),
        call_id,
        str(audio),
        "wav",
        160.0,
        audio.stat().st_size,
        hashlib.sha256(audio.read_bytes()).hexdigest(),
        t0 + 40,
    )
    events = [
        CallEvent(new_id(t0), call_id, t0 + 2, "IVR_NODE", data="main-menu"),
        CallEvent(new_id(t0), call_id, t0 + 8, "DIGITS", data="2"),
        CallEvent(new_id(t0), call_id, t0 + 10, "ENTERQUEUE", queue="support"),
        CallEvent(new_id(t0), call_id, t0 + 11, "ESTIMATEDWAIT", queue="support", value=45.0),
        CallEvent(new_id(t0), call_id, t0 + 40, "CONNECT", queue="support", agent="alice", value=30.0),
        CallEvent(new_id(t0), call_id, t0 + 200, "COMPLETECALLER", queue="support", agent="alice"),
    ]
    legs = [
        CallLegRecord(
            new_id(t0), call_id, 1, "caller", "sip:+15551230001@carrier", t0, "sip-1@x", t0 + 1, t0 + 200, "PCMU", 200
        ),
        CallLegRecord(new_id(t0), call_id, 1, "agent", "alice", t0 + 35, "sip-2@x", t0 + 40, t0 + 200, "PCMU", 200),
    ]
    agents = [
        AgentEvent(new_id(t0), "alice", t0 + 35, "RINGING", node, call_id=call_id),
        AgentEvent(new_id(t0), "alice", t0 + 40, "ON_CALL", node, call_id=call_id),
        AgentEvent(new_id(t0), "alice", t0 + 200, "WRAP_UP", node, call_id=call_id),
        AgentEvent(new_id(t0), "alice", t0 + 220, "PAUSED", node, reason="lunch"),
    ]
    interaction = InteractionRecord(new_id(t0), 1, call_id, "alice", t0 + 210, "billing", "refund", "resolved")
    callback = CallbackRecord(new_id(t0), 1, call_id, "+15551230001", "support", t0 + 20)
    voicemail = VoicemailRecord(new_id(t0), call_id, "support", t0 + 25, str(audio), 5.0)
    survey = SurveyRecord(new_id(t0), call_id, t0 + 230, 9, "alice", "support")
    return [
        customer,
        base,
        *events[:2],
        queued,
        *events[2:4],
        callback,
        voicemail,
        *legs,
        *agents[:2],
        *events[4:],
        final,
        recording,
        agents[2],
        interaction,
        agents[3],
        survey,
    ]
