"""Dial-plan keys reach the part that acts on them as written: the SIP endpoint (what it says and asks for, seen
on the wire), digest credentials, trunk registration, the router's queue policies, outbound routes."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from tests.interop.apps import answer_and_wait
from tests.interop.rawclient import UdpClient, sip_request
from tests.interop.test_endpoint_security import challenge_then_answer
from voxcenter.acd.model import RelaxationStep
from voxcenter.config import Config, load_config
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.mapping import credential_lookup, endpoint_settings, queue_policies, trunk_settings
from voxcenter.sip.auth import ha1
from voxcenter.sip.endpoint import Listener, SipEndpoint

PLAN = textwrap.dedent("""\
    sip:
      user_agent: acme-contact/2.1
      external_address: 203.0.113.10
    trunks:
      carrier:
        outbound:
          proxy: sip:198.51.100.1
          username: acct
          password: secret
          registration: true
          registration_expiry: 10m
    routes:
      national:
        patterns: ['9[0-9]{9}']
        trunk: carrier
        strip: 1
        prepend: '+33'
        allow: {groups: [supervisors]}
    numbers:
      '100': {node: q}
    ivr:
      q: {type: queue, queue: sales}
    queues:
      sales:
        service_level: 45s
        announcements: {position_limit: 4}
        relaxation:
          - {after: 20s, min_level: 2}
          - {after: 1m, drop: billing}
    agents:
      '1001': {name: A, password: pw-1001, queues: [sales]}
      '1002': {name: B, ha1: 0123456789abcdef0123456789abcdef, queues: [sales]}
    groups:
      supervisors: ['1002']
    security:
      realm: voxcenter.test
      digest_algorithms: [SHA-256]
      auth_failures: 2
      auth_window: 30s
    """)


def config(tmp_path: Path) -> Config:
    path = tmp_path / "voxcenter.yaml"
    path.write_text(PLAN)
    return load_config(path, check_prompts=False)


async def test_the_endpoint_says_its_user_agent_asks_for_the_digest_algorithms_listed_and_bans_after_failures(
    tmp_path: Path,
) -> None:
    settings = endpoint_settings(config(tmp_path))
    assert (settings.user_agent, settings.advertised_host) == ("acme-contact/2.1", "203.0.113.10")
    assert (settings.auth_max_failures, settings.auth_window) == (2, 30.0)
    settings = dataclasses.replace(settings, listeners=[Listener("udp", "127.0.0.1", 0)])
    endpoint = SipEndpoint(settings, credentials=credential_lookup(config(tmp_path)), application=answer_and_wait)
    await endpoint.start()
    try:
        async with UdpClient() as phone:
            port = endpoint.address("udp").port
            phone.send(sip_request("OPTIONS", phone.port, call_id="ua-1", uri="sip:127.0.0.1"), "127.0.0.1", port)
            options = await phone.final_response()
            phone.send(sip_request("REGISTER", phone.port, call_id="ua-2", uri="sip:127.0.0.1",
                                   extra="Expires: 60\r\n"), "127.0.0.1", port)
            challenge = await phone.final_response()
            # Two wrong passwords within the 30 s window (auth_failures: 2): the source is banned.
            for attempt in range(2):
                assert (await challenge_then_answer(phone, port, f"ua-bad-{attempt}", "1001", "guess")).status == 401
            phone.send(sip_request("OPTIONS", phone.port, call_id="ua-3", uri="sip:127.0.0.1"), "127.0.0.1", port)
            banned = await phone.receive(timeout=0.5) is None
    finally:
        await endpoint.stop()
    assert options is not None and options.headers.get("Server") == "acme-contact/2.1"
    assert challenge is not None and challenge.status == 401
    assert banned, "not banned after auth_failures wrong answers"
    offered = challenge.headers.get_all("WWW-Authenticate")
    assert offered and all("algorithm=SHA-256" in value for value in offered), offered


def test_an_agents_ha1_is_its_digest_credential_for_its_algorithm(tmp_path: Path) -> None:
    lookup = credential_lookup(config(tmp_path))
    assert lookup("1002", "voxcenter.test", "MD5") == "0123456789abcdef0123456789abcdef"
    assert lookup("1002", "voxcenter.test", "SHA-256") is None  # a 32-digit HA1 is MD5's
    assert lookup("1001", "voxcenter.test", "MD5") == ha1("1001", "voxcenter.test", "pw-1001", "MD5")


def test_a_trunk_registers_when_asked_for_the_expiry_given(tmp_path: Path) -> None:
    [carrier] = trunk_settings(config(tmp_path))
    assert (carrier.register, carrier.register_expires, carrier.username) == (True, 600, "acct")


def test_queue_settings_reach_the_router(tmp_path: Path) -> None:
    [sales] = queue_policies(config(tmp_path), wall_offset=0.0)
    assert (sales.service_level, sales.announce_position_limit) == (45.0, 4)
    assert sales.relaxation == (RelaxationStep(20.0, min_level=2), RelaxationStep(60.0, drop=frozenset({"billing"})))


def test_a_route_strips_prepends_and_lets_its_groups_dial(tmp_path: Path) -> None:
    carrier = object()
    dialer = Dialer(None, None, {"carrier": carrier}, config(tmp_path))  # type: ignore[arg-type,dict-item]
    assert dialer.route_for("9612345678", None) == [(carrier, "+33612345678")]
    assert dialer.route_allowed("1002", "9612345678") == "national"  # a supervisor
    assert dialer.route_allowed("1001", "9612345678") is None  # in no allowed group
