"""``POST /api/callbacks`` against a real ``voxcenter run``: a web form books a lead, an agent calls it back.

The server is its own process on SQLite with the admin API. Bad bookings are refused with a 4xx and a
message; a booking for later is listed and cancelled; a booking for now waits for an agent: once
baresip (agent 1001) logs in, its phone rings first, then the customer behind the carrier (SIPp
answering), and the callback ends ``completed`` with the customer's data kept beside it, its first dial
recorded against the queue's target and counted in the metrics.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import AGENT_HZ, CARRIER_IP, ServerProcess, plan_sections, query, rtp_base_for_test, wait_for
from tests.e2e.whole_call_peers import baresip_agent
from tests.interop.audio import write_tone_wav
from tests.interop.sipp import SippServer, free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CUSTOMER = "+33140009"
TOKEN = "test-token"


def write_plan(directory: Path, far_end: str) -> tuple[Path, int, int]:
    sip_port, api_port = free_port(), free_port()
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
            outbound:
              proxy: sip:{far_end}
              options_interval: null
        routes:
          callbacks:
            patterns: ['\\+33[0-9]+']
            trunk: carrier
            allow: {{ivr: true}}
        numbers:
          '103': {{node: web}}
        ivr:
          web: {{type: queue, queue: web}}
        queues:
          web:
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
            callback: {{sla: 2m, attempts: 2, retry_delay: 5s, ring_time: 20s}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [web]}}
        """)
    text = plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                         inactivity_timeout="30s", api_port=api_port)
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port, api_port


async def api(api_port: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.request(method, f"http://127.0.0.1:{api_port}{path}",
                        data=None if body is None else json.dumps(body)) as response,
    ):
        return response.status, await response.json()


async def test_a_callback_booked_through_the_api_is_dialled_by_the_first_free_agent(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer.xml", tmp_path) as customer:
        plan, sip_port, api_port = write_plan(tmp_path, customer.address)
        server = ServerProcess(plan, tmp_path / "server.log")
        try:
            await server.start()
            refused = [
                await api(api_port, "POST", "/api/callbacks", {"number": "call me", "queue": "web"}),
                await api(api_port, "POST", "/api/callbacks", {"number": CUSTOMER, "queue": "sales"}),
                await api(api_port, "POST", "/api/callbacks", {"number": "0612345678", "queue": "web"}),
                await api(api_port, "POST", "/api/callbacks", {"number": CUSTOMER, "queue": "web", "due": "soon"}),
                await api(api_port, "POST", "/api/callbacks", {"number": CUSTOMER, "queue": "web", "custmer": {}}),
            ]
            assert [status for status, _ in refused] == [400, 404, 400, 400, 400], refused
            assert "number" in refused[0][1]["error"] and "'sales'" in refused[1][1]["error"]
            assert "no outbound route" in refused[2][1]["error"] and "due" in refused[3][1]["error"]
            assert "custmer" in refused[4][1]["error"]

            status, later = await api(api_port, "POST", "/api/callbacks",
                                      {"number": CUSTOMER, "queue": "web", "due": time.time() + 3600})
            assert (status, later["status"], later["source"]) == (201, "pending", "api"), later
            status, now = await api(api_port, "POST", "/api/callbacks", {
                "number": CUSTOMER, "queue": "web", "due": "now",
                "customer": {"name": "Ada", "lead": "web-form-42"}})
            assert status == 201, now
            status, listed = await api(api_port, "GET", "/api/callbacks")
            assert {c["id"] for c in listed["callbacks"]} == {later["id"], now["id"]}
            assert (await api(api_port, "DELETE", f"/api/callbacks/{later['id']}"))[1]["status"] == "cancelled"
            assert (await api(api_port, "DELETE", f"/api/callbacks/{later['id']}"))[0] == 404

            registrar = f"127.0.0.1:{sip_port}"
            async with baresip_agent(tmp_path, "1001", registrar, voice) as phone:
                # auto-answer: the callback rings the agent first (it may ring while *45 is still up), then
                # the customer
                db = tmp_path / "voxcenter.db"

                def completed() -> bool:
                    rows = query(db, "select status, attempts from callbacks where callback_id=?", now["id"])
                    return rows == [("completed", 1)]
                await wait_for(completed, what="callback completed", timeout=30)
                await asyncio.sleep(0.5)
                await phone.hang_up()
                await wait_for(lambda: query(db, "select disposition from calls where to_number=?", CUSTOMER)
                               == [("answered",)], what="the callback's outbound CDR", timeout=20)
            [(source, data, sla, first)] = query(
                db, "select source, customer_data, sla_seconds, first_dialled_at from callbacks where callback_id=?",
                now["id"])
            assert (source, json.loads(data), sla) == ("api", {"lead": "web-form-42", "name": "Ada"}, 120.0)
            assert first is not None  # the first dial, measured against the 2 min target
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session, \
                    session.get(f"http://127.0.0.1:{api_port}/metrics") as response:
                metrics = await response.text()
            assert 'voxcenter_callbacks_first_dialled_total{queue="web",within_sla="true"} 1.0' in metrics
            assert 'voxcenter_callbacks_first_dialled_total{queue="web",within_sla="false"} 0.0' in metrics
            assert query(db, "select status from callbacks where callback_id=?", later["id"]) == [("cancelled",)]
            assert (await api(api_port, "GET", "/api/callbacks"))[1] == {"callbacks": []}
        finally:
            await server.kill()
        result = await customer.wait(20)
        assert result.successful == 1, result.describe()


async def test_a_stop_during_a_callback_conversation_finishes_its_record(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer.xml", tmp_path) as customer:
        plan, sip_port, api_port = write_plan(tmp_path, customer.address)
        server = ServerProcess(plan, tmp_path / "server.log")
        db = tmp_path / "voxcenter.db"
        try:
            await server.start()
            async with baresip_agent(tmp_path, "1001", f"127.0.0.1:{sip_port}", voice):
                status, booked = await api(api_port, "POST", "/api/callbacks", {"number": CUSTOMER, "queue": "web"})
                assert status == 201
                await wait_for(lambda: query(db, "select status from callbacks where callback_id=?", booked["id"])
                               == [("completed",)], what="agent and customer talking", timeout=30)
                server.terminate()  # SIGTERM while they talk
                assert await server.exit_status(30) == 0
        finally:
            await server.kill()
    [(disposition, ended, hangup_by)] = query(db, "select disposition, ended_at is not null, hangup_by from calls "
                                                  "where to_number=?", CUSTOMER)
    assert (disposition, ended) == ("answered", 1), (disposition, ended, hangup_by)
    assert "unhandled exception" not in server.log() and "WriterClosedError" not in server.log()
