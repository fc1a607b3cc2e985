"""Blind transfer from the agent's phone (REFER, RFC 3515, with NOTIFY message/sipfrag progress).

The caller is SIPp from the carrier with its RTP on a test socket that speaks 440 Hz; the transferring agent
is baresip 1.0 (its ``transfer`` command sends REFER); the target is the harness's softphone speaking
880 Hz on another test socket. What each party hears after the transfer is checked by FFT, and the call's
one CDR and timeline tell the story (BLINDTRANSFER, who talked, for how long, one recording).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    feature_code,
    query,
    rtp_base_for_test,
    served,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import CallerMedia, call_of, calling, queue_dial_plan, queue_server, timeline
from tests.e2e.test_hold import SpeakingAgent, agent_sdp
from tests.interop.audio import band_share, read_wav, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU
from voxcenter.runtime.server import Server
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

TARGET_HZ = 880.0


def heard_share(frames: list[bytes], frequency: float) -> float:
    """Share of the energy near ``frequency`` in the last second of what a party heard."""
    recent = frames[-50:]
    if len(recent) < 25:
        return 0.0
    return band_share(np.concatenate([PCMU.decode(frame) for frame in recent]), 8000, frequency)


async def alice_takes_a_call(server: Server, tmp_path: Path, alice: Baresip, registrar: str) -> None:
    await alice.registered()
    await feature_code(alice, "*45", registrar)
    await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="1001 ready")


async def test_blind_transfer_to_another_agent_from_baresip(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "alice.wav", AGENT_HZ, 60.0)
    async with queue_server(tmp_path) as server, CallerMedia() as bob_media:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        bob_media.speak(TARGET_HZ, 60.0)
        bob = SpeakingAgent("1002", "pw-1002", address)
        bob.media = bob_media
        async with bob, Baresip(tmp_path, "alice", Account("1001", registrar, "pw-1001"), voice) as alice:
            assert await bob.register() == 200
            await alice_takes_a_call(server, tmp_path, alice, registrar)
            async with calling(server, tmp_path, "300", name="transferred", number="0600000001") as caller:
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 15)
                caller.media.speak(CALLER_HZ, 40.0)
                await wait_for(lambda: heard_share(caller.media.heard, AGENT_HZ) > 0.8, what="Alice heard")
                await asyncio.sleep(1.5)  # Alice and the caller talk a while
                await alice.ctrl.command(f"transfer sip:1002@{registrar}")
                await alice.ctrl.wait_event("CALL_CLOSED", 15)  # the final NOTIFY, then our BYE
                await wait_for(lambda: bob.calls and bob.calls[0].answered, what="Bob answered")
                since = len(caller.media.heard)
                await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second more for the caller")
                after = caller.media.heard[since + 10:]
                assert heard_share(after, TARGET_HZ) > 0.8 and heard_share(after, AGENT_HZ) < 0.02
                await wait_for(lambda: heard_share(bob_media.heard, CALLER_HZ) > 0.8, what="Bob hears the caller")
                await asyncio.sleep(1.0)
                await bob.calls[0].hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="call finished")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="Alice ready again")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000001")
    events = timeline(db, call_id)
    names = [event for event, *_ in events]
    assert names.index("CONNECT") < names.index("BLINDTRANSFER") < names.index("TRANSFER")
    [(_, _, agent, _, data)] = [event for event in events if event[0] == "BLINDTRANSFER"]
    assert agent == "1001" and json.loads(str(data)) == {"target": "1002", "kind": "agent"}
    [(disposition, cdr_agent, talk, hangup_by)] = query(
        db, "select disposition, agent, talk_seconds, hangup_by from calls where call_id=?", call_id)
    assert (disposition, cdr_agent, hangup_by) == ("answered", "1001", "agent")
    legs = query(db, "select role, peer, talk_seconds, ended_at from call_legs where call_id=? order by started_at",
                 call_id)
    assert [(role, peer) for role, peer, *_ in legs] == [("caller", "0600000001"), ("agent", "1001"),
                                                         ("agent", "1002")]
    caller_talk, alice_talk, bob_talk = (float(row[2]) for row in legs)
    assert alice_talk > 1.5 and bob_talk > 1.0 and abs(caller_talk - (alice_talk + bob_talk)) < 1.5
    assert abs(float(talk) - caller_talk) < 0.01
    assert legs[1][3] < legs[2][3]  # Alice left before Bob
    [(path,)] = query(db, "select path from recordings where call_id=?", call_id)  # one recording, both agents
    rate, (left, right) = read_wav(Path(path))
    assert band_share(left, rate, CALLER_HZ) > 0.5
    assert band_share(right, rate, AGENT_HZ) > 0.1 and band_share(right, rate, TARGET_HZ) > 0.1


# --- transfers driven by the harness's phone (REFER sent by hand, NOTIFYs kept) ---------------------------------------

class ReferringAgent(SpeakingAgent):
    """A speaking agent whose phone also sends REFER in the call it answered and keeps the NOTIFYs."""

    notifies: list[tuple[str, str]]
    """(Subscription-State, sipfrag status line) of each NOTIFY received."""

    async def _incoming(self, session: SipSession) -> None:
        self.notifies = getattr(self, "notifies", [])
        session.on_notify = lambda request: self.notifies.append(
            (request.headers.get("Subscription-State") or "", request.body.decode().strip()))
        await super()._incoming(session)

    async def refer(self, target: str, *, replaces: str | None = None) -> int:
        """REFER the answered call to ``target`` (user@host); returns the REFER's final status."""
        session = self.calls[-1]
        assert session.dialog is not None and self.endpoint is not None
        uri = f"sip:{target}" + (f"?Replaces={quote(replaces, safe='')}" if replaces else "")
        request = session.dialog.create_request(
            "REFER", extra_headers=[("Refer-To", f"<{uri}>"), ("Referred-By", f"<sip:{self.extension}@phone>")])
        response = await self.endpoint._session_request(session, request)
        return response.status


@asynccontextmanager
async def two_agents(server: Server, *, second: str = "1002") -> AsyncIterator[tuple[ReferringAgent, ReferringAgent]]:
    """Alice (1001, logged in, 660 Hz) and a second agent (880 Hz, registered, logged in)."""
    address = server.endpoint.address("udp")
    async with CallerMedia() as alice_media, CallerMedia() as other_media:
        alice_media.speak(AGENT_HZ, 60.0)
        other_media.speak(TARGET_HZ, 60.0)
        alice = ReferringAgent("1001", "pw-1001", address)
        alice.media = alice_media
        other = ReferringAgent(second, f"pw-{second}", address)
        other.media = other_media
        async with alice, other:
            for phone in (alice, other):
                assert await phone.register() == 200
                assert await phone.dial("*45") == 200
            yield alice, other


async def test_blind_transfer_into_a_queue_reaches_its_agent_and_notifies_progress(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server, two_agents(server) as (alice, bob):
        registrar = f"{server.endpoint.address('udp').host}:{server.endpoint.address('udp').port}"
        async with calling(server, tmp_path, "300", name="requeued", number="0600000002") as caller:
            caller.media.speak(CALLER_HZ, 40.0)
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
            await wait_for(lambda: heard_share(caller.media.heard, AGENT_HZ) > 0.8, what="Alice heard")
            assert await alice.refer(f"303@{registrar}") == 202  # the billing number: queue 'skills', Bob
            await wait_for(lambda: alice.calls[0].is_ended, what="Alice's leg hung up")
            assert alice.notifies[0] == ("active;expires=60", "SIP/2.0 100 Trying")
            assert alice.notifies[-1] == ("terminated;reason=noresource", "SIP/2.0 200 OK")
            await wait_for(lambda: bob.calls and bob.calls[0].answered, what="Bob rung by the queue")
            since = len(caller.media.heard)
            await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second of Bob")
            assert heard_share(caller.media.heard[since + 10:], TARGET_HZ) > 0.8
            await bob.calls[0].hangup()
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="call finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    names = [(event, agent) for event, _, agent, _, _ in timeline(db, call_of(db, "0600000002"))
             if event in ("CONNECT", "BLINDTRANSFER", "ENTERQUEUE", "COMPLETEAGENT")]
    assert names == [("ENTERQUEUE", None), ("CONNECT", "1001"), ("BLINDTRANSFER", "1001"), ("COMPLETEAGENT", "1001"),
                     ("ENTERQUEUE", None), ("CONNECT", "1002"), ("COMPLETEAGENT", "1002")]


async def test_failed_blind_transfer_brings_the_caller_back_to_the_agent(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server, two_agents(server) as (alice, bob):
        registrar = f"{server.endpoint.address('udp').host}:{server.endpoint.address('udp').port}"
        async with calling(server, tmp_path, "300", name="back", number="0600000003") as caller:
            caller.media.speak(CALLER_HZ, 40.0)
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
            assert await alice.refer(f"0600999999@{registrar}") in (403, 404)  # no route lets Alice dial out
            assert await alice.refer(f"1001@{registrar}") == 403  # herself
            assert await alice.refer(f"1004@{registrar}") == 202  # Dave: not registered
            await wait_for(lambda: alice.notifies and alice.notifies[-1][0].startswith("terminated"),
                           what="the final NOTIFY")
            assert alice.notifies[-1][1] == "SIP/2.0 480 Not Registered"
            since = len(caller.media.heard)
            await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second more")
            assert heard_share(caller.media.heard[since + 10:], AGENT_HZ) > 0.8, "the caller is not back with Alice"
            assert not alice.calls[0].is_ended and not bob.calls
            await alice.calls[0].hangup()
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="call finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    events = timeline(db, call_of(db, "0600000003"))
    failed = [json.loads(str(data)) for event, _, _, _, data in events if event == "TRANSFERFAILED"]
    assert failed == [{"target": "1004", "status": 480}]


async def test_failed_blind_transfer_goes_back_into_the_queue_when_the_plan_says_so(tmp_path: Path) -> None:
    plan = queue_dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    plan.write_text(plan.read_text() + "transfers:\n  on_failure: queue\n  ring_timeout: 2s\n")
    async with served(plan) as server, two_agents(server) as (alice, _):
        registrar = f"{server.endpoint.address('udp').host}:{server.endpoint.address('udp').port}"
        async with calling(server, tmp_path, "300", name="requeue", number="0600000004") as caller:
            caller.media.speak(CALLER_HZ, 40.0)
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
            assert await alice.refer(f"1004@{registrar}") == 202
            await wait_for(lambda: alice.calls[0].is_ended, what="Alice released")
            assert alice.notifies[-1] == ("terminated;reason=noresource", "SIP/2.0 480 Not Registered")
            # Back in 'support': after her 2 s wrap-up, Alice is rung again by the queue.
            await wait_for(lambda: len(alice.calls) == 2 and alice.calls[1].answered, what="rung again", timeout=15)
            await alice.calls[1].hangup()
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="call finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    names = [event for event, *_ in timeline(db, call_of(db, "0600000004"))
             if event in ("CONNECT", "BLINDTRANSFER", "TRANSFERFAILED", "ENTERQUEUE")]
    assert names == ["ENTERQUEUE", "CONNECT", "BLINDTRANSFER", "TRANSFERFAILED", "ENTERQUEUE", "CONNECT"]


async def test_blind_transfer_to_an_outside_number_through_a_route_that_allows_the_agent(tmp_path: Path) -> None:
    async with CallerMedia() as far_media:
        far_media.speak(TARGET_HZ, 60.0)
        far_end = ReferringAgent("carrier", "-", Address("udp", "127.0.0.1", 9))  # answers whatever it is sent
        far_end.media = far_media
        async with far_end:
            assert far_end.endpoint is not None
            carrier = far_end.endpoint.address("udp")
            plan = queue_dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(),
                                   far_end=f"{carrier.host}:{carrier.port}")
            plan.write_text(plan.read_text().replace("allow: {ivr: true}", "allow: {ivr: true, agents: ['1001']}"))
            async with served(plan) as server, two_agents(server) as (alice, _):
                registrar = f"{server.endpoint.address('udp').host}:{server.endpoint.address('udp').port}"
                async with calling(server, tmp_path, "300", name="outside", number="0600000005") as caller:
                    caller.media.speak(CALLER_HZ, 40.0)
                    await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
                    assert await alice.refer(f"0611111111@{registrar}") == 202
                    await wait_for(lambda: far_end.calls and far_end.calls[0].answered, what="the far end answered")
                    assert far_end.calls[0].called == "0611111111"
                    since = len(caller.media.heard)
                    await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second of the far end")
                    assert heard_share(caller.media.heard[since + 10:], TARGET_HZ) > 0.8
                    await wait_for(lambda: heard_share(far_media.heard, CALLER_HZ) > 0.8, what="the far end hears")
                    await far_end.calls[0].hangup()
                    assert (await caller.finished()).successful == 1
                await wait_for(lambda: not server.calls, what="call finished")
                await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000005")
    [data] = [json.loads(str(data)) for event, _, _, _, data in timeline(db, call_id) if event == "BLINDTRANSFER"]
    assert data == {"target": "0611111111", "kind": "outside"}
    legs = query(db, "select role, peer from call_legs where call_id=? order by started_at", call_id)
    assert legs == [("caller", "0600000005"), ("agent", "1001"), ("callee", "0611111111")]
    [(hangup_by,)] = query(db, "select hangup_by from calls where call_id=?", call_id)
    assert hangup_by == "far_end"


async def test_attended_transfer_refer_with_replaces_joins_the_caller_to_the_consulted_agent(tmp_path: Path) -> None:
    """The agent holds the caller, calls Bob from the same phone, talks, then completes: REFER with Replaces
    (RFC 3891) naming the consultation. The caller then talks to Bob; both of the agent's legs end."""
    music = set(voiced_frames("moh"))
    async with queue_server(tmp_path) as server, two_agents(server) as (alice, bob), CallerMedia() as consult_media:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        consult_media.speak(AGENT_HZ, 30.0)
        async with calling(server, tmp_path, "300", name="attended", number="0600000006") as caller:
            caller.media.speak(CALLER_HZ, 40.0)
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
            customer = alice.calls[0]
            held = await customer.reinvite(agent_sdp(alice.media.port, 2, "sendonly"))
            assert held is not None and held.status == 200
            assert alice.endpoint is not None
            consult = await alice.endpoint.invite(
                alice._server_uri("1002"), address, agent_sdp(consult_media.port, 1, "sendrecv"), from_user="1001",
                credentials=alice.credentials, ring_timeout=10)
            await wait_for(lambda: heard_share(consult_media.heard, TARGET_HZ) > 0.8, what="Alice consults Bob")
            assert consult.dialog is not None
            replaces = f"{consult.call_id};to-tag={consult.dialog.remote_tag};from-tag={consult.dialog.local_tag}"
            assert await alice.refer(f"1002@{registrar}", replaces="wrong-call-id;to-tag=x;from-tag=y") == 404
            assert await alice.refer(f"1002@{registrar}", replaces=replaces) == 202
            await wait_for(lambda: customer.is_ended and consult.is_ended, what="both of Alice's legs ended")
            assert alice.notifies[-1] == ("terminated;reason=noresource", "SIP/2.0 200 OK")
            since = len(caller.media.heard)
            await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second of Bob")
            assert heard_share(caller.media.heard[since + 10:], TARGET_HZ) > 0.8
            bob_heard = len(bob.media.heard)
            await wait_for(lambda: len(bob.media.heard) - bob_heard >= 60, what="a second at Bob's")
            assert heard_share(bob.media.heard[bob_heard + 10:], CALLER_HZ) > 0.8
            # Hold works in the transferred call like in any other: the caller hears music on hold.
            held_at = len(caller.media.heard)
            held = await bob.calls[0].reinvite(agent_sdp(bob.media.port, 2, "sendonly"))
            assert held is not None and held.status == 200
            await wait_for(lambda: sum(frame in music for frame in caller.media.heard[held_at:]) >= 50,
                           what="music on hold for the transferred caller")
            await bob.calls[0].hangup()
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls and not server.endpoint.sessions, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000006")
    [data] = [json.loads(str(data)) for event, _, _, _, data in timeline(db, call_id) if event == "ATTENDEDTRANSFER"]
    assert data == {"target": "1002", "kind": "agent"}
    legs = query(db, "select role, peer from call_legs where call_id=? order by started_at", call_id)
    assert legs == [("caller", "0600000006"), ("agent", "1001"), ("agent", "1002")]
    [(direction, cause)] = query(db, "select direction, hangup_cause from calls where call_id != ?", call_id)
    assert (direction, cause) == ("internal", "transferred")  # the consultation's own CDR
