"""Hold in a bridged call: the held caller hears the queue's music on hold, then the agent again on resume.

The caller is SIPp from the carrier with its RTP on a test socket (``queue_peers.CallerMedia``); the
agent is the harness's softphone whose answer names another test socket that speaks a tone. The agent's
phone holds with a re-INVITE offering ``a=sendonly`` (RFC 3264 §8.4) and resumes with ``a=sendrecv``;
what the caller receives is recognised frame by frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, CARRIER_IP, AgentPhone, query, voiced_frames, wait_for
from tests.e2e.queue_peers import CallerMedia, call_of, calling, queue_server, timeline
from tests.interop.audio import tone
from voxcenter.media.codecs import PCMU
from voxcenter.sip.sdp import parse_sdp
from voxcenter.sip.session import SipSession

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def agent_sdp(port: int, version: int, direction: str) -> bytes:
    return (
        f"v=0\r\no=agent 1 {version} IN IP4 {CARRIER_IP}\r\ns=-\r\nc=IN IP4 {CARRIER_IP}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        f"a=fmtp:101 0-16\r\na={direction}\r\n"
    ).encode()


class SpeakingAgent(AgentPhone):
    """An agent softphone whose answer points at a test RTP socket that speaks a tone."""

    media: CallerMedia

    async def _incoming(self, session: SipSession) -> None:
        self.calls.append(session)
        session.ring()
        # Speak first, to the port voxcenter's offer names (the caller starts once it hears the agent).
        offer = parse_sdp(session.remote_sdp or b"")
        self.media.peer = (offer.connection.host, offer.media[0].port)  # type: ignore[union-attr]
        session.answer(agent_sdp(self.media.port, 1, "sendrecv"))
        await session.ended


def count_in(heard: list[bytes], frames: set[bytes]) -> int:
    return sum(1 for frame in heard if frame in frames)


async def test_held_caller_hears_music_on_hold_and_the_agent_again_after_resume(tmp_path: Path) -> None:
    music = set(voiced_frames("moh"))
    encoded = PCMU.encode(tone(AGENT_HZ, 60.0))
    voice = {encoded[i:i + 160] for i in range(0, len(encoded) - 159, 160)}
    assert not voice & music
    async with queue_server(tmp_path) as server, CallerMedia() as agent_media:
        address = server.endpoint.address("udp")
        agent_media.speak(AGENT_HZ, 60.0)
        phone = SpeakingAgent("1001", "pw-1001", address)
        phone.media = agent_media
        async with phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            async with calling(server, tmp_path, "300", name="held", number="0500000001") as caller:
                heard = caller.media.heard
                await wait_for(lambda: phone.calls and phone.calls[0].answered, what="agent answered")
                await wait_for(lambda: count_in(heard, voice) >= 25, what="the agent's voice", timeout=20)

                session = phone.calls[0]
                held_at = len(heard)
                response = await session.reinvite(agent_sdp(agent_media.port, 2, "sendonly"))
                assert response is not None and response.status == 200
                assert b"a=recvonly" in response.body
                await wait_for(lambda: count_in(heard[held_at:], music) >= 50, what="music on hold", timeout=20)
                recent = heard[-40:]
                assert count_in(recent, music) >= 30 and count_in(recent, voice) == 0, "agent still relayed"

                resumed_at = len(heard)
                response = await session.reinvite(agent_sdp(agent_media.port, 3, "sendrecv"))
                assert response is not None and response.status == 200
                assert b"a=sendrecv" in response.body
                await wait_for(lambda: count_in(heard[resumed_at:], voice) >= 50, what="the agent again",
                               timeout=20)
                recent = heard[-40:]
                assert count_in(recent, voice) >= 30 and count_in(recent, music) == 0, "music still playing"
                await session.hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0500000001")
    names = [event for event, *_ in timeline(db, call_id)]
    assert names.index("CONNECT") < names.index("HOLD") < names.index("UNHOLD")
    [(disposition, hold_seconds, talk_seconds)] = query(
        db, "select disposition, hold_seconds, talk_seconds from calls where call_id=?", call_id)
    assert disposition == "answered"
    assert isinstance(hold_seconds, float) and hold_seconds > 0.5  # at least the 50 music frames (1 s)
    assert isinstance(talk_seconds, float) and talk_seconds > 0.5


async def test_hold_switch_events_and_refused_offer(tmp_path: Path) -> None:
    """An unparseable re-offer is refused (488) and is no hold; ``a=inactive`` and ``c=0.0.0.0`` hold, then resume."""
    async with queue_server(tmp_path) as server, CallerMedia() as agent_media:
        address = server.endpoint.address("udp")
        agent_media.speak(AGENT_HZ, 60.0)
        phone = SpeakingAgent("1001", "pw-1001", address)
        phone.media = agent_media
        async with phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            async with calling(server, tmp_path, "300", name="inactive", number="0500000002") as caller:
                await wait_for(lambda: phone.calls and phone.calls[0].answered, what="agent answered")
                await wait_for(lambda: any(call.hold is not None for call in server.calls.values()),
                               what="bridged")
                [call] = server.calls.values()
                assert call.hold is not None
                session = phone.calls[0]
                response = await session.reinvite(b"v=0\r\nthis is not sdp\r\n")
                assert response is not None and response.status == 488
                assert not call.hold.on_hold
                response = await session.reinvite(agent_sdp(agent_media.port, 2, "inactive"))
                assert response is not None and response.status == 200 and b"a=inactive" in response.body
                assert call.hold.on_hold and not call.bridge.active
                response = await session.reinvite(agent_sdp(agent_media.port, 3, "sendrecv"))
                assert response is not None and response.status == 200
                assert not call.hold.on_hold and call.bridge.active
                rfc2543_hold = agent_sdp(agent_media.port, 4, "sendrecv").replace(
                    f"c=IN IP4 {CARRIER_IP}".encode(), b"c=IN IP4 0.0.0.0")
                response = await session.reinvite(rfc2543_hold)  # RFC 3264 §8.4: the old way to hold
                assert response is not None and response.status == 200
                assert call.hold.on_hold and not call.bridge.active
                response = await session.reinvite(agent_sdp(agent_media.port, 5, "sendrecv"))
                assert response is not None and response.status == 200
                assert not call.hold.on_hold and call.bridge.active
                await session.hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    events = timeline(db, call_of(db, "0500000002"))
    assert [event for event, *_ in events if event in ("HOLD", "UNHOLD", "REINVITE")] == [
        "REINVITE", "HOLD", "UNHOLD", "HOLD", "UNHOLD"]
