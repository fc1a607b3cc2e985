"""Overload: the call limit counts customer calls, not the legs ringing agents; a call over it gets 503."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from tests.e2e.harness import CARRIER_IP, AgentPhone, answer_sdp, dial_plan, rtp_base_for_test, served, wait_for
from tests.interop.rawclient import UdpClient, sip_request
from tests.interop.sipp import free_port
from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.uri import SipUri

pytestmark = pytest.mark.interop


async def test_a_bridged_call_counts_once_against_max_calls_in_progress(tmp_path: Path) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    plan.write_text(plan.read_text().replace("  max_loop_lag: 2s\n", "  max_calls_in_progress: 2\n"
                                             "  max_call_rate: 50\n  max_loop_lag: 2500ms\n", 1))
    async with served(plan) as server:
        address = server.endpoint.address("udp")
        assert (server.endpoint.settings.max_call_rate, server.endpoint.settings.max_loop_lag) == (50.0, 2.5)
        carrier = SipEndpoint(EndpointSettings(listeners=[Listener("udp", CARRIER_IP, 0)]),
                              credentials=lambda *_: None, application=_no_calls)
        await carrier.start()
        async with AgentPhone("1001", "pw-1001", address) as phone:
            try:
                assert await phone.register() == 200
                assert await phone.dial("*45") == 200
                await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready")
                target = SipUri("sip", "200", None, address.host, address.port)
                first = await carrier.invite(target, address, answer_sdp(free_port()), from_user="caller-1")
                await wait_for(lambda: len(phone.calls) == 1 and phone.calls[0].answered, what="agent answered")
                # The caller and the agent's leg: two sessions, one customer call.
                assert len(server.endpoint.sessions) == 2 and server.endpoint.calls_in_progress == 1
                second = await carrier.invite(target, address, answer_sdp(free_port()), from_user="caller-2")
                assert server.endpoint.calls_in_progress == 2
                async with UdpClient(CARRIER_IP) as third:
                    third.send(sip_request("INVITE", third.port, call_id="over-1", uri="sip:200@127.0.0.1"),
                               address.host, address.port)
                    refused = await third.final_response()
                assert refused is not None and refused.status == 503
                assert refused.headers.get("Retry-After") == "10"
                await first.hangup()
                await second.hangup()
                await wait_for(lambda: server.endpoint.calls_in_progress == 0 and not server.endpoint.sessions)
            finally:
                await carrier.stop()


async def _no_calls(session: SipSession) -> None:
    session.reject(603)


async def test_a_late_event_loop_sheds_customer_calls_but_never_an_agents_phone(tmp_path: Path) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    plan.write_text(plan.read_text().replace("  max_loop_lag: 2s\n", "  max_loop_lag: 200ms\n", 1))
    with structlog.testing.capture_logs() as logs:
        async with served(plan) as server:
            address = server.endpoint.address("udp")
            async with AgentPhone("1001", "pw-1001", address) as phone:
                assert await phone.register() == 200
                server.endpoint.overload.lag = 1.0  # five times the limit: every new customer call is shed
                async with UdpClient(CARRIER_IP) as carrier:
                    carrier.send(sip_request("INVITE", carrier.port, call_id="shed-1", uri="sip:200@127.0.0.1"),
                                 address.host, address.port)
                    refused = await carrier.final_response()
                assert refused is not None and refused.status == 503
                server.endpoint.overload.lag = 1.0
                assert await phone.dial("*45") == 200  # the agent logs in all the same
    [line] = [line for line in logs if line["event"] == "sip.overload"]
    assert (line["reason"], line["refused"], line["loop_lag_ms"]) == ("event-loop lag", 1, 1000.0), line
