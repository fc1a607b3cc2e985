"""The post-call survey: the agent hangs up, the caller stays on for the queue's survey node and presses 9.

The caller is SIPp on the carrier; the agent is the harness's softphone. The ``support`` queue sends every
answered call whose talk lasted at least 1 s to the ``nps`` survey node, and not the same number twice in a
day. The first caller talks, the agent hangs up, the caller hears the question, presses 9 and hears thanks:
the score is in ``surveys`` joined to the call and the agent. The same number calling again is not surveyed:
the agent's hang-up ends the call.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    AgentPhone,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import calling
from tests.interop.sipp import free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

NUMBER = "0140000777"


def survey_plan(tmp: Path) -> Path:
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
        numbers:
          '300': {{node: support}}
        ivr:
          support: {{type: queue, queue: support}}
          nps: {{type: survey, prompts: survey-question, thanks_prompt: survey-thanks, timeout: 8s}}
        queues:
          support:
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
            survey: {{node: nps, every: 1, min_talk: 1s, not_within: 1d}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [support]}}
        """)
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test()))
    return path


async def test_the_caller_answers_the_survey_after_the_agent_hangs_up(tmp_path: Path) -> None:
    question, thanks = voiced_frames("survey-question"), voiced_frames("survey-thanks")
    async with served(survey_plan(tmp_path)) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200
            async with calling(server, tmp_path, "300", name="surveyed", number=NUMBER, hold=30.0) as caller:
                await wait_for(lambda: server.acd.router.agent_state("1001").value == "on-call", what="answered")
                await asyncio.sleep(1.5)  # talk longer than min_talk
                await phone.calls[0].hangup()
                await wait_for(lambda: share_heard(caller.media.heard, question) > 0.5, what="survey question")
                await caller.media.press("9")
                await wait_for(lambda: share_heard(caller.media.heard, thanks) > 0.5, what="thanks")
                assert (await caller.finished()).successful == 1  # voxcenter hung up after the survey
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="agent free")
            async with calling(server, tmp_path, "300", name="again", number=NUMBER, hold=30.0) as again:
                await wait_for(lambda: len(phone.calls) == 2, what="second call")
                await wait_for(lambda: server.acd.router.agent_state("1001").value == "on-call", what="answered")
                await asyncio.sleep(1.5)
                await phone.calls[1].hangup()
                assert (await again.finished()).successful == 1
                assert share_heard(again.media.heard, question) == 0.0  # not twice within a day
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    rows = query(db, "select s.score, s.agent, s.queue, c.from_number, c.agent from surveys s "
                     "join calls c on c.call_id = s.call_id")
    assert rows == [(9, "1001", "support", NUMBER, "1001")]
