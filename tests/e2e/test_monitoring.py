"""Supervisor monitoring with real peers: the caller is SIPp from the carrier (its RTP on a test socket that
speaks 440 Hz), the agent the harness's softphone speaking 660 Hz, the supervisor baresip 1.0 whose
microphone is an 880 Hz tone. The supervisor dials ``*51`` and the agent's extension, then switches mode
with keys (RFC 4733: 2 whisper, 3 barge, 1 listen); dials ``*52`` and ``*53`` straight into whisper and
barge; then the API rings the supervisor's phone into a whisper and switches it to barge. By FFT, in
each mode each party hears exactly whom it should: the caller never hears the supervisor but in barge,
the agent hears the whisper, the supervisor hears both and not itself. A supervisor outside the queue's
group is refused (403, from the phone and through the API), and each session is in the call's timeline
(who, when, which mode). An agent's internal call is monitored the same way, and a server stopping in the
middle of a session writes its MONITOREND.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    CARRIER_IP,
    AgentPhone,
    feature_code,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    wait_for,
)
from tests.e2e.queue_peers import CallerMedia, call_of, calling, timeline
from tests.e2e.test_hold import SpeakingAgent
from tests.interop.audio import band_share, read_wav, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU
from voxcenter.runtime.server import Server
from voxcenter.store.types import from_iso_text

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

SUPERVISOR_HZ = 880.0
TOKEN = "test-token"


def monitoring_plan(tmp: Path, sip_port: int, api_port: int) -> Path:
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
        numbers:
          '300': {{node: support}}
        ivr:
          support: {{type: queue, queue: support}}
        queues:
          support:
            ring_timeout: 5s
            wrap_up: 1s
            join_when: always
            leave_when: never
            supervisors: [floor]
          billing:
            supervisors: [billing-leads]
        groups:
          floor: ['1009']
          billing-leads: ['1008']
        feature_codes:
          listen: '*51'
          whisper: '*52'
          barge: '*53'
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [support]}}
          '1008': {{name: Bea, password: pw-1008, queues: [billing]}}
          '1009': {{name: Sam, password: pw-1009, queues: [billing]}}
        """)
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, body, sip_port=sip_port, rtp_base=rtp_base_for_test(), api_port=api_port))
    return path


def shares(frames: list[bytes]) -> dict[float, float]:
    samples = np.concatenate([PCMU.decode(frame) for frame in frames])
    return {hz: band_share(samples, 8000, hz) for hz in (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)}


async def heard_next(media: CallerMedia, frames: int = 60) -> dict[float, float]:
    """What a party hears over the next ``frames`` frames (the first few, still in flight, left out)."""
    since = len(media.heard)
    await wait_for(lambda: len(media.heard) - since >= frames, what=f"{frames} frames")
    return shares(media.heard[since + 10:])


async def api(port: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.request(method, f"http://127.0.0.1:{port}{path}",
                        data=None if body is None else json.dumps(body)) as response,
    ):
        return response.status, await response.json()


def mode_of(server: Server, supervisor: str) -> str | None:
    session = server.supervision.sessions.get(supervisor)
    return session.mode.value if session is not None and session.leg is not None else None


async def check_mode(caller: CallerMedia, agent: CallerMedia, mode: str) -> None:
    heard = await heard_next(caller)
    assert heard[AGENT_HZ] > 0.25 and heard[CALLER_HZ] < 0.02, (mode, "caller", heard)
    if mode == "barge":
        assert heard[SUPERVISOR_HZ] > 0.25, (mode, "the caller hears the barging supervisor", heard)
    else:
        assert heard[SUPERVISOR_HZ] < 0.02, (mode, "the caller hears the supervisor", heard)
    heard = await heard_next(agent)
    assert heard[CALLER_HZ] > 0.25 and heard[AGENT_HZ] < 0.02, (mode, "agent", heard)
    if mode == "listen":
        assert heard[SUPERVISOR_HZ] < 0.02, (mode, "the agent hears a listening supervisor", heard)
    else:
        assert heard[SUPERVISOR_HZ] > 0.25, (mode, "the agent does not hear the supervisor", heard)


async def test_listen_whisper_barge_from_the_phone_and_the_api(tmp_path: Path) -> None:
    sip_port, api_port = free_port(), free_port()
    voice = write_tone_wav(tmp_path / "sam.wav", SUPERVISOR_HZ, 90.0)
    async with served(monitoring_plan(tmp_path, sip_port, api_port)) as server, CallerMedia() as alice_media:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        alice_media.speak(AGENT_HZ, 80.0)
        alice = SpeakingAgent("1001", "pw-1001", address)
        alice.media = alice_media
        async with alice, AgentPhone("1008", "pw-1008", address) as bea, \
                Baresip(tmp_path, "sam", Account("1009", registrar, "pw-1009"), voice, lifetime=120) as sam:
            assert await alice.register() == 200 and await alice.dial("*45") == 200
            assert await bea.register() == 200
            await sam.registered()
            await feature_code(sam, "*45", registrar)  # Sam also takes billing's calls
            assert await bea.dial("*511001") == 404  # nobody on a call yet
            async with calling(server, tmp_path, "300", name="monitored", number="0600000013", hold=80) as caller:
                caller.media.speak(CALLER_HZ, 80.0)
                await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
                await wait_for(lambda: len(caller.media.heard) > 25, what="the caller hears Alice")
                assert await bea.dial("*511001") == 403  # billing's supervisor, not support's

                status, view = await api(api_port, "GET", "/api/supervisors/1009")
                assert status == 200 and view["queues"] == ["support"] and view["agents"] == ["1001"]
                assert [(c["agent"], c["queue"]) for c in view["calls"]] == [("1001", "support")]
                status, view = await api(api_port, "GET", "/api/supervisors/1008")
                assert status == 200 and view["queues"] == ["billing"] and view["calls"] == []

                await sam.dial(f"sip:*511001@{registrar}", timeout=15)
                await wait_for(lambda: mode_of(server, "1009") == "listen", what="Sam listens")
                assert server.acd.router.agent_pause_reason("1009") == "on a direct call"  # no queue call now
                await check_mode(caller.media, alice_media, "listen")
                for key, mode in (("2", "whisper"), ("3", "barge"), ("1", "listen")):
                    await sam.send_digits(key)
                    await wait_for(lambda mode=mode: mode_of(server, "1009") == mode, what=mode)  # type: ignore
                    await check_mode(caller.media, alice_media, mode)
                await sam.hang_up()
                await wait_for(lambda: "1009" not in server.supervision.sessions, what="the session over")
                await wait_for(lambda: not next(iter(server.calls.values())).call.bridge.mixing, what="relay")
                assert server.acd.router.agent_state("1009").value == 'ready'
                rate, (sam_heard,) = read_wav(sam.recording("dec"))
                sam_heard = sam_heard[rate:]  # past the first second
                assert band_share(sam_heard, rate, CALLER_HZ) > 0.2, "Sam hears the caller"
                assert band_share(sam_heard, rate, AGENT_HZ) > 0.2, "Sam hears Alice"
                assert band_share(sam_heard, rate, SUPERVISOR_HZ) < 0.02, "Sam hears himself"
                for code, mode in (("*52", "whisper"), ("*53", "barge")):  # straight into a mode
                    await sam.dial(f"sip:{code}1001@{registrar}", timeout=15)
                    await wait_for(lambda mode=mode: mode_of(server, "1009") == mode, what=mode)  # type: ignore
                    await check_mode(caller.media, alice_media, mode)
                    await sam.hang_up()
                    await wait_for(lambda: "1009" not in server.supervision.sessions, what="the session over")

                status, body = await api(api_port, "POST", "/api/supervisors/1008/monitor",
                                         {"agent": "1001", "mode": "listen"})
                assert status == 403, body
                status, body = await api(api_port, "POST", "/api/supervisors/1009/monitor",
                                         {"agent": "1001", "mode": "whisper"})
                assert status == 202 and body["mode"] == "whisper", body
                await sam.ctrl.wait_event("CALL_ESTABLISHED", 15)  # rung by voxcenter, auto-answered
                await wait_for(lambda: mode_of(server, "1009") == "whisper", what="Sam whispers")
                await check_mode(caller.media, alice_media, "whisper")
                status, body = await api(api_port, "POST", "/api/supervisors/1009/mode", {"mode": "barge"})
                assert status == 200 and body["mode"] == "barge", body
                await check_mode(caller.media, alice_media, "barge")
                status, view = await api(api_port, "GET", "/api/supervisors/1009")
                assert view["session"]["mode"] == "barge" and view["calls"][0]["monitored_by"] == ["1009"]
                await alice.calls[0].hangup()  # the call ends: so does the session
                await sam.ctrl.wait_event("CALL_CLOSED", 15)
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="call finished")
            assert not server.supervision.sessions
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    events = [(event, at, agent, value, json.loads(str(data)) if data else None)
              for event, at, agent, value, data in timeline(db, call_of(db, "0600000013"))
              if str(event).startswith("MONITOR")]
    assert [(event, agent, data) for event, _, agent, _, data in events] == [
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "listen", "via": "phone"}),
        ("MONITORMODE", "1001", {"supervisor": "1009", "mode": "whisper"}),
        ("MONITORMODE", "1001", {"supervisor": "1009", "mode": "barge"}),
        ("MONITORMODE", "1001", {"supervisor": "1009", "mode": "listen"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "listen"}),
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "whisper", "via": "phone"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "whisper"}),
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "barge", "via": "phone"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "barge"}),
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "whisper", "via": "api"}),
        ("MONITORMODE", "1001", {"supervisor": "1009", "mode": "barge"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "barge"}),
    ]
    ends = [float(str(value)) for event, _, _, value, _ in events if event == "MONITOREND"]
    assert ends[0] > 4.0 and all(seconds > 1.0 for seconds in ends)  # seconds monitored
    assert [at for _, at, *_ in events] == sorted(at for _, at, *_ in events)
    # The recording: the caller on the left, what the caller hears on the right (a barging supervisor only).
    [(path, started)] = query(db, "select path, started_at from recordings where call_id=?", call_of(db, "0600000013"))
    rate, (left, right) = read_wav(Path(path))
    offset = from_iso_text(started)
    segments = [(at, following[1], (data or {}).get("mode")) for (name, at, _, _, data), following
                in itertools.pairwise(events) if name != "MONITOREND"]
    for begin, end, heard_mode in segments:
        window = slice(round((begin - offset + 0.6) * rate), round((end - offset - 0.3) * rate))
        heard = band_share(right[window], rate, SUPERVISOR_HZ)
        assert (heard > 0.1) if heard_mode == "barge" else (heard < 0.02), (heard_mode, begin - offset, heard)
        assert band_share(left[window], rate, SUPERVISOR_HZ) < 0.02, (heard_mode, "on the caller's channel")



async def test_agents_own_calls_are_monitored_and_a_shutdown_ends_the_session_in_the_timeline(tmp_path: Path) -> None:
    """Bea (billing) calls Alice (support) at her extension: Sam, support's supervisor, may monitor Alice on
    that call (a call in no queue: the supervisors of a queue the agent serves) but not Bea. By FFT he
    whispers to Alice only, then barges; rung by the API he listens, and the server stops in the middle of
    that session: MONITOREND says so."""
    sip_port, api_port = free_port(), free_port()
    voice = write_tone_wav(tmp_path / "sam.wav", SUPERVISOR_HZ, 90.0)
    server = Server(monitoring_plan(tmp_path, sip_port, api_port), node="test")
    await server.start()
    stopped = False
    try:
        await monitor_an_internal_call(server, tmp_path, api_port, voice)
        stopped = True
    finally:
        if not stopped:
            await server.stop(drain_timeout=0)
    db = tmp_path / "voxcenter.db"
    [(direction,)] = query(db, "select direction from calls where call_id=?", call_of(db, "1008"))
    assert direction == "internal"
    events = [(event, agent, json.loads(str(data)) if data else None, value)
              for event, _, agent, value, data in timeline(db, call_of(db, "1008")) if event.startswith("MONITOR")]
    assert [(event, agent, data) for event, agent, data, _ in events] == [
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "whisper", "via": "phone"}),
        ("MONITORMODE", "1001", {"supervisor": "1009", "mode": "barge"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "barge"}),
        ("MONITORSTART", "1001", {"supervisor": "1009", "mode": "listen", "via": "api"}),
        ("MONITOREND", "1001", {"supervisor": "1009", "mode": "listen", "cause": "server shutdown"}),
    ]
    assert all(float(str(value)) > 1.0 for event, _, _, value in events if event == "MONITOREND")


async def monitor_an_internal_call(server: Server, tmp_path: Path, api_port: int, voice: Path) -> None:
    """The phones' part of the test above; it ends by stopping the server, Sam's session in progress."""
    from tests.e2e.test_internal_calls import dial

    address = server.endpoint.address("udp")
    registrar = f"{address.host}:{address.port}"
    async with CallerMedia() as alice_media, CallerMedia() as bea_media:
        alice_media.speak(AGENT_HZ, 80.0)
        bea_media.speak(CALLER_HZ, 80.0)
        alice = SpeakingAgent("1001", "pw-1001", address)
        alice.media = alice_media
        async with alice, AgentPhone("1008", "pw-1008", address) as bea, \
                Baresip(tmp_path, "sam", Account("1009", registrar, "pw-1009"), voice, lifetime=120) as sam:
            assert await alice.register() == 200 and await bea.register() == 200
            await sam.registered()
            assert await dial(bea, "1001", media=bea_media) is not None
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered Bea")
            await wait_for(lambda: len(bea_media.heard) > 25, what="Bea hears Alice")

            status, view = await api(api_port, "GET", "/api/supervisors/1009")
            assert status == 200 and [(c["agent"], c["queue"]) for c in view["calls"]] == [("1001", None)]
            status, body = await api(api_port, "POST", "/api/supervisors/1009/monitor",
                                     {"agent": "1008", "mode": "listen"})
            assert status == 403, body  # Bea serves billing, whose supervisors Sam is not one of

            await sam.dial(f"sip:*521001@{registrar}", timeout=15)
            await wait_for(lambda: mode_of(server, "1009") == "whisper", what="Sam whispers to Alice")
            await check_mode(bea_media, alice_media, "whisper")
            await sam.send_digits("3")
            await wait_for(lambda: mode_of(server, "1009") == "barge", what="Sam barges in")
            await check_mode(bea_media, alice_media, "barge")
            await sam.hang_up()
            await wait_for(lambda: "1009" not in server.supervision.sessions, what="the session over")

            status, body = await api(api_port, "POST", "/api/supervisors/1009/monitor",
                                     {"agent": "1001", "mode": "listen"})
            assert status == 202, body
            await sam.ctrl.wait_event("CALL_ESTABLISHED", 15)  # rung by voxcenter, auto-answered
            await wait_for(lambda: mode_of(server, "1009") == "listen", what="Sam listens")
            await check_mode(bea_media, alice_media, "listen")
            await server.stop(drain_timeout=0)
            await sam.ctrl.wait_event("CALL_CLOSED", 15)  # his phone hung up by the server
