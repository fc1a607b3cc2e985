"""Queues with real peers: SIPp callers from the carrier, agents' softphones registered with digest.

Callers are SIPp (signalling) plus a test RTP socket (``queue_peers.CallerMedia``) that records what
voxcenter plays them, byte for byte, and speaks or presses keys. Agents are baresip (auto-answer, or
ringing forever with ``answermode=manual``) or the harness's ``AgentPhone``. Every check reads what a
peer saw or what the store holds: CDRs, the queue timeline (Asterisk queue_log names), agent events,
callbacks and voicemails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    AgentPhone,
    feature_code,
    first_heard,
    query,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import call_of, calling, describe, queue_server, timeline
from tests.interop.audio import spectrum, wav_spectra, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.sipp import SippServer
from voxcenter.media.codecs import PCMU
from voxcenter.runtime.legmedia import tone_frames
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


announcement, two, three, music = (voiced_frames(name) for name in ("caller-number", "num-2", "num-3", "moh"))


def waiting(server: Server) -> int:
    return len(server.acd.router.waiting("support", server.acd.now()))


def last_heard(heard: list[bytes], frames: list[bytes]) -> int:
    """Where the last frame of a prompt arrived (-1 if none did)."""
    wanted = set(frames)
    return max((i for i, frame in enumerate(heard) if frame in wanted), default=-1)


Event = tuple[str, float, object, object, object]
"""(event, at, agent, value, data) of a call's timeline."""


def events_named(events: list[Event], name: str) -> list[Event]:
    return [event for event in events if event[0] == name]


async def test_callers_queue_hear_their_position_and_reach_the_agent_after_wrap_up(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with queue_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with Baresip(tmp_path, "alice", Account("1001", registrar, "pw-1001"), voice) as alice:
            await alice.registered()
            await feature_code(alice, "*45", registrar)
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="1001 ready")
            async with contextlib.AsyncExitStack() as stack:
                first = await stack.enter_async_context(
                    calling(server, tmp_path, "300", name="first", number="0100000001"))
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 15)  # auto-answered: Alice talks to the first
                first.media.speak(CALLER_HZ, 30.0)
                # Then three wait, joining one after the other; the one in the middle gives up after 3 s.
                second = await stack.enter_async_context(
                    calling(server, tmp_path, "300", name="second", number="0100000002"))
                await wait_for(lambda: waiting(server) == 1, what="one waiting")
                impatient = await stack.enter_async_context(
                    calling(server, tmp_path, "300", name="impatient", number="0100000009", hold=3.0))
                await wait_for(lambda: waiting(server) == 2, what="two waiting")
                third = await stack.enter_async_context(
                    calling(server, tmp_path, "300", name="third", number="0100000003"))
                await wait_for(lambda: waiting(server) == 3, what="three waiting")
                # The third caller hears "caller number three", music, and once the impatient caller has
                # left, "caller number two" at the next periodic announcement, then music again.
                await wait_for(lambda: share_heard(third.media.heard, three) > 0.8, what="'three' heard")
                assert (await impatient.finished()).successful == 1
                await wait_for(lambda: share_heard(third.media.heard, two) > 0.8, what="'two' heard")
                await wait_for(lambda: last_heard(third.media.heard, music) > first_heard(third.media.heard, two),
                               what="music after the second announcement")
                await alice.hang_up()  # ends the first call: wrap-up, then the second caller
                assert (await first.finished()).successful == 1
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 20)
                await asyncio.sleep(0.5)
                await alice.hang_up()
                assert (await second.finished()).successful == 1
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 20)
                await asyncio.sleep(0.5)
                await alice.hang_up()
                assert (await third.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="last wrap-up over")
        await server.writer.flush(5.0)
    heard = third.media.heard
    said = describe(heard, ("caller-number", "num-2", "num-3", "moh", "expected-wait"))
    assert share_heard(heard, announcement) > 0.8, said
    assert first_heard(heard, announcement) < first_heard(heard, three) < first_heard(heard, music), said
    assert first_heard(heard, music) < first_heard(heard, two) < last_heard(heard, music), said
    db = tmp_path / "voxcenter.db"
    ids = [call_of(db, number) for number in ("0100000001", "0100000002", "0100000003")]
    for call_id in ids:
        [(disposition, agent, wrapup)] = query(
            db, "select disposition, agent, wrapup_seconds from calls where call_id=?", call_id)
        assert (disposition, agent) == ("answered", "1001")
        assert 2.0 - 0.05 <= wrapup < 3.5, wrapup  # the wrap-up that really ran (2 s), not 0
        # Agent states join to the call: offered, rung, answered, wrapped up, free again.
        joined = [str(state) for (state,) in query(
            db, "select state from agent_events where call_id=? order by at, rowid", call_id)]
        assert joined == ["reserved", "ringing", "on-call", "wrap-up", "ready"], joined
    # The first caller and Alice heard each other; the recording has the caller left, the agent right.
    assert abs(spectrum(PCMU.decode(b"".join(first.media.heard)), 8000).dominant - AGENT_HZ) <= 15
    [(recording,)] = query(db, "select path from recordings where call_id=?", ids[0])
    left, right = wav_spectra(Path(str(recording)))
    assert abs(left.dominant - CALLER_HZ) <= 15 and abs(right.dominant - AGENT_HZ) <= 15, (left, right)
    first_events, second_events, third_events = (timeline(db, call_id) for call_id in ids)
    [enter] = events_named(third_events, "ENTERQUEUE")
    assert json.loads(str(enter[4]))["position"] == 3
    estimates = events_named(third_events, "ESTIMATEDWAIT")
    assert any(e[4] is not None and json.loads(str(e[4]))["position"] == 2 for e in estimates), estimates
    [connect] = events_named(third_events, "CONNECT")
    assert estimates and all(isinstance(e[3], float) and e[3] > 0 for e in estimates)
    assert isinstance(connect[3], float) and connect[3] > 0  # the actual wait, next to the estimates
    # Wrap-up (2 s) is respected: each next caller connects at least that long after the previous call ended.
    for before, after in ((first_events, second_events), (second_events, third_events)):
        [ended] = [e for e in before if e[0] in ("COMPLETEAGENT", "COMPLETECALLER")]
        [connected] = events_named(after, "CONNECT")
        assert connected[1] - ended[1] >= 2.0 - 0.05, (ended, connected)
    states = [str(s) for (s,) in query(db, "select state from agent_events where agent='1001' order by at, rowid")]
    assert states.count("wrap-up") == 3, states


async def answered_by(server: object, agent_id: str) -> None:
    await wait_for(lambda: server.acd.router.agent_state(agent_id).value == "on-call",  # type: ignore[attr-defined]
                   what=f"{agent_id} on a call")


async def test_paused_agent_is_not_rung_and_a_later_vip_caller_is_served_first(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            assert await phone.dial("*47") == 200  # pause
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "paused", what="paused")
            async with calling(server, tmp_path, "302", name="standard", number="0200000001") as standard:
                await wait_for(lambda: len(server.acd.router.waiting("priority", server.acd.now())) == 1)
                async with calling(server, tmp_path, "301", name="vip", number="0200000002") as vip:
                    await wait_for(lambda: len(server.acd.router.waiting("priority", server.acd.now())) == 2)
                    await asyncio.sleep(1.0)
                    assert phone.calls == []  # paused: nobody rings
                    assert await phone.dial("*47") == 200  # unpause: the VIP who came later is rung first
                    await answered_by(server, "1001")
                    await phone.calls[0].hangup()
                    assert (await vip.finished()).successful == 1
                    await wait_for(lambda: len(phone.calls) == 2, what="second ring")
                    await answered_by(server, "1001")
                    await phone.calls[1].hangup()
                    assert (await standard.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    standard_events, vip_events = (timeline(db, call_of(db, n)) for n in ("0200000001", "0200000002"))
    assert events_named(standard_events, "ENTERQUEUE")[0][1] < events_named(vip_events, "ENTERQUEUE")[0][1]
    assert events_named(vip_events, "CONNECT")[0][1] < events_named(standard_events, "CONNECT")[0][1]
    reasons = query(db, "select state, reason from agent_events where agent='1001' order by at, rowid")
    assert ("paused", "feature code *47") in reasons and ("ready", "feature code *47") in reasons, reasons


async def test_billing_caller_goes_to_the_billing_agent(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with (
            AgentPhone("1001", "pw-1001", address) as tech,
            AgentPhone("1002", "pw-1002", address) as billing,
        ):
            for phone in (tech, billing):  # the tech agent is idle longest: only the skill can pick Bob
                assert await phone.register() == 200
                assert await phone.dial("*45") == 200
            async with calling(server, tmp_path, "303", name="billing", number="0300000001") as caller:
                await answered_by(server, "1002")
                await billing.calls[0].hangup()
                assert (await caller.finished()).successful == 1
            assert tech.calls == []
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(disposition, agent)] = query(db, "select disposition, agent from calls")
    assert (disposition, agent) == ("answered", "1002")


async def test_unanswered_ring_moves_the_caller_on_at_once_and_auto_pauses(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 30.0)
    async with queue_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        account = Account("1003", registrar, "pw-1003", answer="manual")
        async with Baresip(tmp_path, "carol", account, voice) as carol, AgentPhone("1004", "pw-1004",
                                                                                   address) as dave:
            await carol.registered()
            await feature_code(carol, "*45", registrar)  # Carol is idle longest: she is rung first
            assert await dave.register() == 200
            assert await dave.dial("*45") == 200
            async with calling(server, tmp_path, "304", name="sales", number="0400000001") as caller:
                await carol.ctrl.wait_event("CALL_INCOMING", 15)
                await carol.ctrl.wait_event("CALL_CLOSED", 15)  # cancelled after the 2 s ring timeout
                await answered_by(server, "1004")
                await dave.calls[0].hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
            assert [e.get("type") for e in carol.ctrl.history].count("CALL_INCOMING") == 1
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    events = timeline(db, call_of(db, "0400000001"))
    [no_answer] = events_named(events, "RINGNOANSWER")
    [connect] = events_named(events, "CONNECT")
    assert no_answer[2] == "1003" and isinstance(no_answer[3], float) and no_answer[3] >= 2.0 - 0.05
    assert connect[2] == "1004" and connect[1] - no_answer[1] < 1.0  # the retry delay is Carol's, not the caller's
    paused = query(db, "select reason from agent_events where agent='1003' and state='paused'")
    assert paused == [("auto-pause after 1 unanswered calls",)], paused
    [(disposition, agent)] = query(db, "select disposition, agent from calls")
    assert (disposition, agent) == ("answered", "1004")


async def test_agent_who_logged_out_is_not_rung(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            assert await phone.dial("*46") == 200
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "offline", what="logged out")
            async with calling(server, tmp_path, "300", name="alone", number="0500000001", hold=3.0) as caller:
                assert (await caller.finished()).successful == 1  # waited 3 s, then hung up
            await wait_for(lambda: not server.calls, what="calls finished")
            assert phone.calls == []
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(disposition, agent, hangup_by, wait)] = query(db, "select disposition, agent, hangup_by, wait_seconds from calls")
    assert (disposition, agent, hangup_by) == ("abandoned_queue", None, "caller")
    assert isinstance(wait, float) and wait > 2.0  # reports count it as a real abandon, not a short one
    assert "ABANDON" in [e[0] for e in timeline(db, call_of(db, "0500000001"))]
    states = query(db, "select state, reason from agent_events where agent='1001' order by at, rowid")
    assert states[-1] == ("offline", "feature code *46"), states


async def test_callback_is_booked_then_the_agent_is_called_first_and_the_customer_dialed(tmp_path: Path) -> None:
    async with (
        SippServer("uas_answer.xml", tmp_path) as far_end,  # the carrier's far end: the customer's phone
        queue_server(tmp_path, far_end=far_end.address) as server,
    ):
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200  # registered, not logged in: the caller waits
            async with calling(server, tmp_path, "305", name="callback", number="0612345678") as caller:
                offer = voiced_frames("callback-offer")
                await wait_for(lambda: share_heard(caller.media.heard, offer) > 0.3, what="offer heard")
                await caller.media.press("1")
                assert (await caller.finished()).successful == 1  # confirmed, then hung up by voxcenter
                assert share_heard(caller.media.heard, voiced_frames("callback-booked")) > 0.8
            assert phone.calls == []
            assert await phone.dial("*45") == 200  # now free: voxcenter calls the agent first
            await wait_for(lambda: len(phone.calls) == 1 and phone.calls[0].confirmed.is_set(),
                           what="agent answered the callback")
            await wait_for(lambda: server.acd.callbacks, what="customer answered")
            assert server.acd.router.agent_state("1001").value == "on-call"
            await asyncio.sleep(0.5)  # agent and customer talk
            await phone.calls[0].hangup()
            result = await far_end.wait(30)
            assert result.successful == 1, result.describe()
            await wait_for(lambda: server.acd.router.agent_state("1001").value in ("wrap-up", "ready"),
                           what="agent free again")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(number, queue)] = query(db, "select number, queue from callbacks")
    assert (number, queue) == ("0612345678", "callbacks")
    call_id = call_of(db, "0612345678")
    [(disposition,)] = query(db, "select disposition from calls where call_id=?", call_id)
    assert disposition == "callback"
    names = [e[0] for e in timeline(db, call_id)]
    assert names.index("CALLBACKOFFER") < names.index("EXITWITHKEY")
    assert "COMPLETEAGENT" in names  # the router's record of the callback conversation
    [(out_id, direction, agent, out_disposition, talk)] = query(
        db, "select call_id, direction, agent, disposition, talk_seconds from calls where to_number='0612345678'")
    assert (direction, agent, out_disposition) == ("outbound", "1001", "answered") and float(str(talk)) > 0
    [connect] = events_named(timeline(db, str(out_id)), "CONNECT")
    assert json.loads(str(connect[4]))["callback_for"] == call_id


async def test_no_callback_is_offered_to_a_withheld_number(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server:
        async with calling(server, tmp_path, "305", name="anonymous", number="anonymous", hold=3.0) as caller:
            await wait_for(lambda: caller.media.peer is not None, what="music")
            await asyncio.sleep(1.5)  # past the offer time (1 s)
            await caller.media.press("1")
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    assert share_heard(caller.media.heard, voiced_frames("callback-offer")) == 0.0
    db = tmp_path / "voxcenter.db"
    [(disposition,)] = query(db, "select disposition from calls")
    assert disposition == "abandoned_queue"
    assert query(db, "select * from callbacks") == []
    assert "CALLBACKOFFER" not in [e[0] for e in timeline(db, call_of(db, "anonymous"))]


async def test_caller_overflows_on_max_wait_to_voicemail(tmp_path: Path) -> None:
    beep = tone_frames(PCMU, 1000.0, 0.4)
    async with queue_server(tmp_path) as server:
        async with calling(server, tmp_path, "306", name="message", number="0700000001") as caller:
            await wait_for(lambda: share_heard(caller.media.heard, beep) > 0.5, what="the beep")
            caller.media.speak(CALLER_HZ, 2.0)
            await asyncio.sleep(2.3)
            await caller.media.press("#")
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(disposition, hangup_by, wait)] = query(db, "select disposition, hangup_by, wait_seconds from calls")
    assert disposition == "voicemail", hangup_by
    assert isinstance(wait, float) and wait >= 2.0 - 0.05  # max_wait
    [(mailbox, path, seconds)] = query(db, "select mailbox, path, duration_seconds from voicemails")
    assert mailbox == "500" and isinstance(seconds, float) and seconds >= 1.5
    [channel] = wav_spectra(Path(str(path)))
    assert abs(channel.dominant - CALLER_HZ) <= 15 and channel.peak_share > 0.7, channel
    names = [e[0] for e in timeline(db, call_of(db, "0700000001"))]
    assert names.index("ENTERQUEUE") < names.index("EXITWITHTIMEOUT") < names.index("VOICEMAIL")
