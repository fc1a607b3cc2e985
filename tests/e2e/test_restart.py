"""A crash (``kill -9`` of ``voxcenter run``) forgets nothing a user built: registrations, logins, pauses, callbacks.

The server is its own process on PostgreSQL. The agent is baresip: it registers once (a 300 s
registration, so it will not register again during the test), logs in with ``*45`` and pauses with
``*47``. A SIPp caller books a callback. Then the server is killed with SIGKILL and started again: the
agent must still be registered, logged in and paused with the same reason, and reachable without
registering again; once unpaused, the callback still owed is dialled: the agent's phone rings first,
then the customer behind the carrier (SIPp answering), and the callback ends ``completed``.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import AGENT_HZ, CARRIER_IP, ServerProcess, feature_code, plan_sections, rtp_base_for_test
from tests.e2e.whole_call_peers import baresip_agent, fetch, sipp_caller
from tests.interop.audio import write_tone_wav
from tests.interop.sipp import SippServer, free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CUSTOMER = "+33140001"
"""The SIPp caller's number (``+3314000[call_number]``): the callback dials it back."""
TOKEN = "test-token"


def write_plan(directory: Path, database_url: str, far_end: str) -> tuple[Path, int, int]:
    """A callback queue served by agent 1001, a carrier that also carries the callbacks out, the admin API."""
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
          '103': {{node: callback}}
        ivr:
          callback:
            type: queue
            queue: callback
            on_exit:
              callback: goodbye
          goodbye:
            type: hangup
            prompts: goodbye
        queues:
          callback:
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
            callback: {{enabled: true, offer_after: 1s, key: '1'}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [callback]}}
        """)
    text = plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                         inactivity_timeout="30s", database_url=database_url, api_port=api_port)
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port, api_port


async def api(api_port: int, method: str, path: str) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.request(method, f"http://127.0.0.1:{api_port}{path}") as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def eventually(check: Callable[[], Coroutine[Any, Any, bool]], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.1)


def log_events(server: ServerProcess, event: str) -> list[dict[str, Any]]:
    return [line for line in server.lines() if line.get("event") == event]


async def test_kill_9_keeps_registration_login_pause_and_the_pending_callback(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer.xml", tmp_path) as customer:
        plan, sip_port, api_port = write_plan(tmp_path, pg_url, customer.address)
        registrar = f"127.0.0.1:{sip_port}"
        first = ServerProcess(plan, tmp_path / "first.log", node="restart-test")
        second = ServerProcess(plan, tmp_path / "second.log", node="restart-test")
        try:
            await first.start()
            async with baresip_agent(tmp_path, "1001", registrar, voice) as phone:
                await feature_code(phone, "*47", registrar)
                [agent] = (await api(api_port, "GET", "/api/agents"))["agents"]
                assert (agent["state"], agent["reachable"]) == ("paused", True), agent
                reason = agent["reason"]
                # The caller waits, is offered a callback after 1 s, takes it with 1, hears goodbye.
                booked = await sipp_caller(tmp_path, registrar, number="103", digits="1", first_digit_at=2.5,
                                           talk=6.0, timeout=30.0)
                assert booked.successful == 1, booked.describe()

                async def written() -> bool:
                    callbacks = await fetch(pg_url, "select status from callbacks")
                    states = await fetch(pg_url, "select state, pause_reason from agent_states")
                    return ([r["status"] for r in callbacks] == ["pending"]
                            and [tuple(r) for r in states] == [("paused", reason)])
                await eventually(written, "callback and pause in the database")

                await first.kill()
                await second.start()
                [agent] = (await api(api_port, "GET", "/api/agents"))["agents"]
                assert (agent["state"], agent["reason"], agent["reachable"]) == ("paused", reason, True), agent
                [restored] = log_events(second, "restore.done")
                assert (restored["registrations"], restored["agents_paused"], restored["callbacks"]) == (1, 1, 1)

                await api(api_port, "POST", "/api/agents/1001/unpause")
                await phone.ctrl.wait_event("CALL_ESTABLISHED", 20)  # auto-answer: the callback rings us first

                async def completed() -> bool:
                    rows = await fetch(pg_url, "select status, attempts, result_call_id from callbacks")
                    return [(r["status"], r["attempts"]) for r in rows] == [("completed", 1)]
                await eventually(completed, "callback completed")
                await phone.hang_up()

                async def recorded() -> bool:
                    rows = await fetch(pg_url, "select direction, agent, disposition from calls where to_number = $1",
                                       CUSTOMER)
                    return [tuple(r) for r in rows] == [("outbound", "1001", "answered")]
                await eventually(recorded, "the callback's outbound CDR")
                # The phone never registered again: every binding the second server knows, it restored.
                assert {line["change"] for line in log_events(second, "sip.binding")} == {"restored"}
        finally:
            await first.kill()
            await second.kill()
        result = await customer.wait(20)
        assert result.successful == 1, result.describe()
