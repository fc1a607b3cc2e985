"""A simulated call's records, touching every table of the store."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from voxcenter.store.records import (
    AgentEvent,
    AgentStateRecord,
    CallbackRecord,
    CallEvent,
    CallLegRecord,
    CallRecord,
    CampaignStateRecord,
    ContactRecord,
    CustomerRecord,
    DeskSessionRecord,
    DoNotCallRecord,
    InteractionRecord,
    QueueMemberRecord,
    Record,
    RecordingRecord,
    RegistrationRecord,
    SurveyRecord,
    VoicemailRecord,
    WebhookDeliveryRecord,
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
    registration = RegistrationRecord(node, "alice", "sip:alice@192.0.2.7:5060", 1, "<sip:alice@192.0.2.7:5060>",
                                      "udp", "192.0.2.7", 5060, t0 + 3600, t0 - 60, "reg-1@x", 7, "phone/1.0")
    states = [AgentStateRecord("alice", version, state, at, node, reason)
              for version, (state, at, reason) in enumerate(
                  [("ready", t0 - 50, None), ("on-call", t0 + 40, None), ("paused", t0 + 220, "lunch")], 1)]
    members = [QueueMemberRecord("vip", "alice", 1, True, t0 - 40, node),
               QueueMemberRecord("vip", "alice", 2, False, t0 + 300, node)]
    contact = ContactRecord("01CONTACT", 1, "renewals", "+15551230009", "Europe/Warsaw", t0 - 90, name="Ola")
    campaign = [contact, dataclasses.replace(contact, version=2, status="done", attempts=1, last_outcome="answered",
                                             last_call_id=call_id),
                DoNotCallRecord("+15551230666", 1, True, t0 - 80), CampaignStateRecord("renewals", 1, True, t0 - 70)]
    desk = [DeskSessionRecord("ab" * 32, 1, "alice", t0 - 30, t0 + 43170),
             DeskSessionRecord("ab" * 32, 2, "alice", t0 - 30, t0 + 43170, revoked=True)]
    hook = WebhookDeliveryRecord("01DELIVERY", "https://crm.example.com/hooks", 1, "call.ended",
                                 '{"event":"call.ended"}', 1, "pending", t0 + 231, t0 + 230)
    return [
        *campaign,
        desk[0],
        registration,
        members[0],
        states[0],
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
        states[1],
        agents[3],
        states[2],
        members[1],
        survey,
        desk[1],
        hook,
        dataclasses.replace(hook, version=2, attempts=2, status="delivered"),
    ]
