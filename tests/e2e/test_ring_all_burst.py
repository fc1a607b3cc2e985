"""A burst of SIPp callers into a ring-all queue of SIPp agent phones: the free agents are split among them.

20 callers arrive within a fraction of a second; 40 agents, all free, are phones of one SIPp UAS that answers
2 s after each INVITE or takes a CANCEL. Serial ring-all would ring all 40 for the first caller and the others
would wait their turn; split, each caller rings its share (rings are taken back from the callers ahead, a
CANCEL and a new INVITE to another caller), every caller is connected, each to its own agent. The time it
takes is a figure of ``bench/ring_all_sipp.py`` (docs/benchmarks.md), not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    DEFAULT_TRUNKS,
    caller_scenario,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    wait_for,
)
from tests.interop.sipp import SippServer, free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CALLERS, AGENTS = 20, 40
AGENT_IDS = [str(5000 + n) for n in range(AGENTS)]


def burst_plan(tmp: Path, sip_port: int) -> Path:
    agents = "".join(f"  '{a}': {{name: Agent {a}, password: pw{a}, queues: [burst]}}\n" for a in AGENT_IDS)
    body = ("trunks:\n" + DEFAULT_TRUNKS + "numbers:\n  '7': {node: burst}\n"
            "ivr:\n  burst: {type: queue, queue: burst}\n"
            "queues:\n  burst:\n    selection: ring-all\n    ring_timeout: 30s\n    retry_delay: 1s\n    wrap_up: 0s\n"
            "    join_when: always\n    leave_when: never\n    announcements: {position_every: null}\n"
            "agents:\n" + agents)
    rtp_base = rtp_base_for_test()
    text = plan_sections(tmp, body, sip_port=sip_port, rtp_base=rtp_base, inactivity_timeout="60s")
    # 20 callers and 40 ringing agents need more than the usual 100 pairs.
    widened = text.replace(f"port_max: {rtp_base + 199}", f"port_max: {rtp_base + 999}")
    assert widened != text
    path = tmp / "voxcenter.yaml"
    path.write_text(widened)
    return path


async def register_from(port: int, server_port: int) -> None:
    """REGISTER every agent (digest) from 127.0.0.1:``port``, the socket the SIPp agent phones answer on next."""
    from voxcenter.sip.auth import DigestClient
    from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
    from voxcenter.sip.transport import Address
    from voxcenter.sip.uri import NameAddr, SipUri

    async def no_calls(session: object) -> None:
        session.reject(480)  # type: ignore[attr-defined]

    phone = SipEndpoint(EndpointSettings(listeners=[Listener("udp", "127.0.0.1", port)]),
                        credentials=lambda *_: None, application=no_calls)
    await phone.start()
    server = Address("udp", "127.0.0.1", server_port)
    try:
        for agent in AGENT_IDS:
            response = await phone.request(
                "REGISTER", SipUri("sip", None, None, server.host, server.port), server, from_user=agent,
                to=NameAddr(SipUri("sip", agent, None, server.host, server.port)), headers=[("Expires", "3600")],
                credentials=DigestClient(agent, f"pw{agent}"))
            assert response.status == 200, response.status
    finally:
        await phone.stop()


async def test_a_burst_of_callers_shares_the_free_ring_all_agents(tmp_path: Path) -> None:
    sip_port = free_port()
    phones = SippServer("uas_answer_later_or_cancel.xml", tmp_path, calls=100000, extra=["-aa", "-l", "2000"])
    async with served(burst_plan(tmp_path, sip_port)) as server:
        await register_from(phones.port, sip_port)
        async with phones:
            router = server.acd.router
            for agent in AGENT_IDS:
                router.agent_login(agent, server.acd.now())
            server.acd.pump()
            await wait_for(lambda: all(router.agent_state(a).value == "ready" for a in AGENT_IDS), what="all ready")
            scenario = tmp_path / "caller.xml"
            scenario.write_text(caller_scenario(from_user="0100000001", hangs_up="caller", after=10.0))
            result = await run_sipp(str(scenario), f"127.0.0.1:{sip_port}", tmp_path, calls=CALLERS, rate=100,
                                    limit=CALLERS, service="7", local_ip=CARRIER_IP, timeout=60)
            assert result.successful == CALLERS, result.describe()
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    answered = query(db, "select agent from calls where queue = 'burst' and disposition = 'answered'")
    assert len(answered) == CALLERS and len({agent for (agent,) in answered}) == CALLERS
    [(taken_back,)] = query(
        db, "select count(*) from agent_events where reason = 'ring shared with the callers behind'")
    assert taken_back > 0  # the first callers gave rings back to the callers who came after them
    [(rung_at_once,)] = query(db, "select count(distinct agent) from agent_events where state = 'reserved'")
    assert rung_at_once == AGENTS
