"""Floods over real sockets: a challenge costs one datagram, and every source's request rate is limited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import structlog

from tests.interop.apps import answer_and_wait, running_endpoint
from tests.interop.rawclient import UdpClient, sip_request
from tests.interop.sipp import run_sipp
from voxcenter.sip.endpoint import FLOOD_EVENT
from voxcenter.sip.message import parse_message


async def test_an_unacked_challenge_is_sent_once_and_a_retransmission_is_challenged_again() -> None:
    async with running_endpoint(answer_and_wait, trusted=()) as endpoint, UdpClient() as client:
        port = endpoint.address("udp").port
        invite = sip_request("INVITE", client.port, call_id="once-1", uri="sip:100@127.0.0.1")
        client.send(invite, "127.0.0.1", port)
        first = await client.final_response()
        assert first is not None and first.status == 401
        # A stateful 401 would come again at 0.5 s and 1.5 s (Timer G) until an ACK that never comes.
        assert await client.receive(timeout=2.0) is None
        assert endpoint.ua.transactions.transactions() == []
        client.send(invite, "127.0.0.1", port)  # the flooder's retransmission: a new challenge, once
        second = await client.final_response()
        assert second is not None and second.status == 401
        assert second.headers.get("WWW-Authenticate") != first.headers.get("WWW-Authenticate")  # a fresh nonce
        assert await client.receive(timeout=0.7) is None


async def test_a_source_over_its_rate_gets_one_503_then_nothing_and_others_go_on() -> None:
    async with running_endpoint(answer_and_wait, trusted=(), flood_requests=5, flood_window=2.0,
                                flood_ban_time=60.0) as endpoint, \
            UdpClient() as flooder, UdpClient("127.0.0.3") as neighbour:
        port = endpoint.address("udp").port
        with structlog.testing.capture_logs() as logs:
            for n in range(8):
                flooder.send(sip_request("OPTIONS", flooder.port, call_id=f"fl-{n}", uri="sip:127.0.0.1"),
                             "127.0.0.1", port)
            answers = []
            while (data := await flooder.receive(timeout=1.0)) is not None:
                answers.append(parse_message(data))
        statuses = sorted(getattr(a, "status", 0) for a in answers)
        assert statuses == [200] * 5 + [503]
        refusal = next(a for a in answers if getattr(a, "status", 0) == 503)
        assert refusal.headers.get("Retry-After") == "60"
        assert endpoint.flood.is_banned("127.0.0.1", endpoint._now())
        (line,) = [entry for entry in logs if entry["event"] == FLOOD_EVENT]
        assert line["src_ip"] == "127.0.0.1" and line["limit"] == 5 and line["ban_seconds"] == 60.0
        # Another address is not touched.
        neighbour.send(sip_request("OPTIONS", neighbour.port, call_id="nb-1", uri="sip:127.0.0.1"), "127.0.0.1", port)
        answer = await neighbour.final_response()
        assert answer is not None and answer.status == 200


async def test_never_ban_sources_and_trunks_have_their_own_limit() -> None:
    async with running_endpoint(answer_and_wait, trusted=("127.0.0.4/32",), never_ban=("127.0.0.5/32",),
                                flood_requests=2, trunk_flood_requests=50) as endpoint, \
            UdpClient("127.0.0.4") as trunk, UdpClient("127.0.0.5") as office:
        port = endpoint.address("udp").port
        for client, count in ((trunk, 40), (office, 40)):
            for n in range(count):
                client.send(sip_request("OPTIONS", client.port, call_id=f"ok-{client.host}-{n}", uri="sip:127.0.0.1"),
                            "127.0.0.1", port)
            statuses = []
            while (data := await client.receive(timeout=1.0)) is not None:
                statuses.append(getattr(parse_message(data), "status", 0))
            assert statuses == [200] * count, client.host
        assert not endpoint.flood.is_banned("127.0.0.4", endpoint._now())


@pytest.mark.interop
async def test_sipp_invite_flood_draws_one_response_per_invite_then_the_ban(tmp_path: Path) -> None:
    # The figures of the README: 5000 unauthenticated INVITEs at 500/s from one source, which is exempt from the
    # rate limit here so that every INVITE is challenged: one 401 each, none retransmitted.
    async with running_endpoint(answer_and_wait, trusted=(), never_ban=("127.0.0.0/8",)) as endpoint:
        address = endpoint.address("udp")
        sent_before = endpoint.stats["sent"]
        result = await run_sipp("uac_flood_invite.xml", f"{address.host}:{address.port}", tmp_path, calls=5000,
                                rate=500, limit=2000, extra=["-nr", "-recv_timeout", "1000"], timeout=60)
        responses = endpoint.stats["sent"] - sent_before
        late = result.counter("DeadCallMsgs(C)") + result.counter("OutOfCallMsgs(C)")
        assert result.successful == 5000 and late == 0, result.describe()
        assert responses == 5000
        assert endpoint.ua.transactions.transactions() == []
    # With the defaults (16 requests per 2 s, 300 s ban) the flooder gets 16 challenges and one 503; the rest of
    # its INVITEs are dropped unanswered.
    async with running_endpoint(answer_and_wait, trusted=()) as endpoint:
        address = endpoint.address("udp")
        result = await run_sipp("uac_flood_invite.xml", f"{address.host}:{address.port}", tmp_path, calls=1000,
                                rate=500, limit=2000, extra=["-nr", "-recv_timeout", "1000"], timeout=30)
        assert endpoint.stats["sent"] == 17, result.describe()
        assert result.successful == 17 and result.failed == 983, result.describe()
        assert endpoint.stats["dropped_flood"] == 983


async def test_a_banned_source_cannot_open_tcp_connections() -> None:
    async with running_endpoint(answer_and_wait, trusted=(), flood_requests=3) as endpoint:
        port = endpoint.address("tcp").port
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.6", 0))
        for n in range(4):
            writer.write(sip_request("OPTIONS", 5060, call_id=f"tcp-{n}", uri="sip:127.0.0.1", transport="TCP"))
        await writer.drain()
        answers = b""
        while answers.count(b"SIP/2.0 ") < 4:
            answers += await asyncio.wait_for(reader.read(65536), 2.0)
        assert answers.count(b"SIP/2.0 200") == 3 and answers.count(b"SIP/2.0 503") == 1
        assert endpoint.flood.is_banned("127.0.0.6", endpoint._now())
        # Banned: a new connection is closed before a byte is read; another address still connects.
        banned_reader, banned_writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.6", 0))
        assert await asyncio.wait_for(banned_reader.read(1), 2.0) == b""
        other_reader, other_writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.7", 0))
        other_writer.write(sip_request("OPTIONS", 5060, call_id="tcp-other", uri="sip:127.0.0.1", transport="TCP"))
        assert (await asyncio.wait_for(other_reader.readuntil(b"\r\n\r\n"), 2.0)).startswith(b"SIP/2.0 200")
        for w in (writer, banned_writer, other_writer):
            w.close()
