"""Agents calling agents: an extension rings the other agent's phone; busy gets 486 (or voicemail); a paused
agent is reachable unless the dial plan says not; the CDR names the caller by its authenticated identity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, AgentPhone, answer_sdp, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import CallerMedia, calling, queue_dial_plan
from tests.e2e.test_hold import SpeakingAgent, agent_sdp
from tests.e2e.test_transfer import heard_share
from tests.interop.sipp import free_port
from voxcenter.runtime.server import Server
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


async def dial(phone: AgentPhone, extension: str, *, from_user: str | None = None,
               media: CallerMedia | None = None) -> SipSession | int:
    """INVITE ``extension`` from ``phone`` (its From user may lie: the digest user is what counts)."""
    assert phone.endpoint is not None
    offer = agent_sdp(media.port, 1, "sendrecv") if media is not None else answer_sdp(free_port())
    try:
        return await phone.endpoint.invite(phone._server_uri(extension), phone.server_address, offer,
                                           from_user=from_user or phone.extension, credentials=phone.credentials,
                                           ring_timeout=10)
    except RequestFailed as failure:
        return failure.status


def plan_with(tmp: Path, extra: str = "") -> Path:
    plan = queue_dial_plan(tmp, sip_port=free_port(), rtp_base=rtp_base_for_test())
    plan.write_text(plan.read_text() + extra)
    return plan


async def phones(server: Server) -> tuple[SpeakingAgent, AgentPhone]:
    address = server.endpoint.address("udp")
    return SpeakingAgent("1001", "pw-1001", address), AgentPhone("1002", "pw-1002", address)


async def test_an_agent_calls_another_agent_and_the_cdr_names_the_authenticated_caller(tmp_path: Path) -> None:
    async with served(plan_with(tmp_path)) as server, CallerMedia() as alice_media, CallerMedia() as bob_media:
        alice_media.speak(AGENT_HZ, 30.0)
        bob_media.speak(CALLER_HZ, 30.0)
        alice, bob = await phones(server)
        alice.media = alice_media
        async with alice, bob:
            assert await alice.register() == 200 and await bob.register() == 200
            session = await dial(bob, "1001", from_user="9999", media=bob_media)  # a forged From user
            assert isinstance(session, SipSession)
            await wait_for(lambda: heard_share(bob_media.heard, AGENT_HZ) > 0.8, what="Bob hears Alice")
            await wait_for(lambda: heard_share(alice_media.heard, CALLER_HZ) > 0.8, what="Alice hears Bob")
            await session.hangup()
            await wait_for(lambda: alice.calls[0].is_ended, what="Alice's leg ended")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(direction, from_number, to_number, agent, disposition, hangup_by, talk)] = query(
        db, "select direction, from_number, to_number, agent, disposition, hangup_by, talk_seconds from calls")
    assert (direction, from_number, to_number, agent, disposition, hangup_by) == (
        "internal", "1002", "1001", "1001", "answered", "agent")
    assert talk > 0.5
    legs = query(db, "select role, peer from call_legs order by started_at")
    assert legs == [("agent", "1002"), ("agent", "1001")]


async def test_a_busy_agent_gets_486_and_a_paused_one_is_reachable_by_default(tmp_path: Path) -> None:
    async with served(plan_with(tmp_path)) as server, CallerMedia() as alice_media:
        alice_media.speak(AGENT_HZ, 30.0)
        alice, bob = await phones(server)
        alice.media = alice_media
        async with alice, bob:
            assert await alice.register() == 200 and await bob.register() == 200
            assert await alice.dial("*45") == 200
            async with calling(server, tmp_path, "300", name="busy", number="0700000001") as caller:
                caller.media.speak(CALLER_HZ, 20.0)
                await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice on a queue call")
                assert await dial(bob, "1001") == 486
                assert await dial(bob, "1002") == 486  # Bob calling himself
                await alice.calls[0].hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="ready",
                           timeout=10)
            assert await alice.dial("*47") == 200
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "paused", what="paused")
            session = await dial(bob, "1001")
            assert isinstance(session, SipSession), "a paused agent should take internal calls"
            await session.hangup()
        await server.writer.flush(5.0)


async def test_paused_agents_can_be_made_unreachable_and_busy_can_mean_voicemail(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "internal_calls:\n  paused_reachable: false\n  busy: voicemail\n")
    async with served(plan) as server:
        alice, bob = await phones(server)
        alice.media = CallerMedia()
        async with alice, bob, alice.media:
            assert await alice.register() == 200 and await bob.register() == 200
            assert await alice.dial("*45") == 200 and await alice.dial("*47") == 200
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "paused", what="paused")
            session = await dial(bob, "1001")  # paused: not rung, a message instead
            assert isinstance(session, SipSession) and not alice.calls
            await asyncio.sleep(1.5)
            await session.hangup()
            await wait_for(lambda: not server.endpoint.sessions, what="the call's end")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(mailbox, path)] = query(db, "select mailbox, path from voicemails")
    assert mailbox == "1001" and Path(path).exists()
    [(direction, disposition, from_number, cause)] = query(
        db, "select direction, disposition, from_number, hangup_cause from calls")
    assert (direction, disposition, from_number, cause) == ("internal", "voicemail", "1002", "480")



async def test_both_agents_of_an_internal_call_are_busy_for_a_third(tmp_path: Path) -> None:
    async with served(plan_with(tmp_path)) as server, CallerMedia() as alice_media:
        alice, bob = await phones(server)
        alice.media = alice_media
        carol = AgentPhone("1003", "pw-1003", server.endpoint.address("udp"))
        async with alice, bob, carol:
            for phone in (alice, bob, carol):
                assert await phone.register() == 200
            internal = await dial(bob, "1001")
            assert isinstance(internal, SipSession)
            assert await dial(carol, "1001") == 486  # called
            assert await dial(carol, "1002") == 486  # calling
            await internal.hangup()
            await wait_for(lambda: not server.acd.engaged, what="both free")
            again = await dial(carol, "1002")
            assert isinstance(again, SipSession)
            await again.hangup()
        await server.writer.flush(5.0)


async def test_an_agent_on_an_internal_call_is_not_offered_queue_calls_meanwhile(tmp_path: Path) -> None:
    async with served(plan_with(tmp_path)) as server, CallerMedia() as alice_media:
        alice_media.speak(AGENT_HZ, 30.0)
        alice, bob = await phones(server)
        alice.media = alice_media
        async with alice, bob:
            assert await alice.register() == 200 and await bob.register() == 200
            assert await alice.dial("*45") == 200
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="ready")
            internal = await dial(bob, "1001")
            assert isinstance(internal, SipSession) and len(alice.calls) == 1
            assert server.acd.router.agent_state("1001").value == "paused"  # out of the queues meanwhile
            async with calling(server, tmp_path, "300", name="waits", number="0700000002") as caller:
                await asyncio.sleep(2.0)
                assert len(alice.calls) == 1, "rung for the queue while on an internal call"
                await internal.hangup()
                await wait_for(lambda: len(alice.calls) == 2 and alice.calls[1].answered, what="the queue call",
                               timeout=15)
                await alice.calls[1].hangup()
                assert (await caller.finished()).successful == 1
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    reasons = [row[0] for row in query(db, "select reason from agent_events where agent='1001' order by at")]
    assert "on a direct call" in reasons and "direct call ended" in reasons
