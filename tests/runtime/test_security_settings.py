"""The dial plan's security and transport settings reach the SIP endpoint as written, and follow a reload."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

from tests.interop.apps import answer_and_wait, running_endpoint
from tests.interop.rawclient import UdpClient, sip_request
from voxcenter.config import load_config
from voxcenter.runtime.mapping import endpoint_settings
from voxcenter.sip.ratelimit import RateLimit

REPO = Path(__file__).resolve().parents[2]


def test_the_example_plan_exempts_nobody_and_limits_every_source() -> None:
    settings = endpoint_settings(load_config(REPO / "config" / "voxcenter.yaml", check_prompts=False))
    assert settings.never_ban == ()
    assert (settings.flood_requests, settings.flood_window, settings.flood_ban_time) == (16, 2.0, 300.0)
    assert (settings.account_max_failures, settings.account_window, settings.account_delay) == (10, 600.0, 2.0)
    assert settings.transport_limits.message_timeout == 5.0
    assert settings.transport_limits.tls_handshake_timeout == 5.0


def test_every_key_is_mapped(tmp_path: Path) -> None:
    plan = tmp_path / "voxcenter.yaml"
    plan.write_text(textwrap.dedent("""\
        sip:
          message_timeout: 3s
          tls_handshake_timeout: 4s
        trunks:
          carrier:
            inbound: {allow_from: [192.0.2.0/24]}
          pbx:
            inbound: {auth: digest, username: pbx, password: secret, allow_from: [198.51.100.7]}
        security:
          never_ban: [203.0.113.0/24]
          account_failures: 4
          account_window: 1m
          account_delay: 3s
          flood: {requests: 40, window: 4s, ban_time: 1m, trunk_requests: 900}
        """))
    settings = endpoint_settings(load_config(plan, check_prompts=False))
    assert settings.never_ban == ("203.0.113.0/24",)
    assert (settings.flood_requests, settings.flood_window, settings.flood_ban_time) == (40, 4.0, 60.0)
    assert settings.trunk_flood_requests == 900
    assert set(settings.trunk_networks) == {"192.0.2.0/24", "198.51.100.7/32"}  # digest trunks' addresses too
    assert (settings.account_max_failures, settings.account_window, settings.account_delay) == (4, 60.0, 3.0)
    assert (settings.transport_limits.message_timeout, settings.transport_limits.tls_handshake_timeout) == (3.0, 4.0)


async def test_a_reload_changes_the_limits_and_keeps_the_bans() -> None:
    async with running_endpoint(answer_and_wait, trusted=(), flood_requests=2) as endpoint, \
            UdpClient("127.0.0.8") as banned, UdpClient("127.0.0.9") as other:
        port = endpoint.address("udp").port
        for n in range(3):
            banned.send(sip_request("OPTIONS", banned.port, call_id=f"rl-{n}", uri="sip:127.0.0.1"), "127.0.0.1", port)
        assert [(await banned.final_response()).status for _ in range(3)] == [200, 200, 503]  # type: ignore[union-attr]
        endpoint.update_settings(replace(endpoint.settings, flood_requests=50, account_delay=1.0))
        assert endpoint.flood.limit == RateLimit(50, 2.0) and endpoint.accounts.delay == 1.0
        assert endpoint.flood.is_banned("127.0.0.8", endpoint._now())  # kept
        for n in range(10):
            other.send(sip_request("OPTIONS", other.port, call_id=f"ok-{n}", uri="sip:127.0.0.1"), "127.0.0.1", port)
        assert [(await other.final_response()).status for _ in range(10)] == [200] * 10  # type: ignore[union-attr]
