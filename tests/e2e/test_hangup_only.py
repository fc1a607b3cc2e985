"""A call whose IVR only hangs up is answered and ended without a socket of its own; a prompt opens them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, answer_sdp, dial_plan, query, rtp_base_for_test, served, wait_for
from tests.interop.rawclient import UdpClient
from tests.interop.sipp import free_port, run_sipp
from voxcenter.media import ports
from voxcenter.sip.message import Request
from voxcenter.sip.parser import parse_message

pytestmark = pytest.mark.interop


async def test_a_bare_hangup_node_answers_without_opening_a_socket(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text().replace("numbers:\n", "numbers:\n  '299': {node: hang-up}\n  '298': {node: bye}\n", 1)
    plan.write_text(text.replace("ivr:\n", "ivr:\n  hang-up:\n    type: hangup\n", 1))
    binds: list[int] = []
    real_bind = ports._bind

    def counting_bind(family: object, host: str, port: int) -> object:
        binds.append(port)
        return real_bind(family, host, port)  # type: ignore[arg-type]

    monkeypatch.setattr(ports, "_bind", counting_bind)
    async with served(plan) as server:
        address = server.endpoint.address("udp")
        target = f"{address.host}:{address.port}"
        # SIPp from the carrier: INVITE, 200 (with an SDP answer), ACK, then voxcenter's BYE.
        result = await run_sipp("uac_remote_bye.xml", target, tmp_path, service="299", local_ip=CARRIER_IP)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls)
        assert binds == [] and server.ports.in_use == 0
        # The goodbye prompt of the other hangup node needs the sockets.
        result = await run_sipp("uac_remote_bye.xml", target, tmp_path, service="298", local_ip=CARRIER_IP)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls)
        assert len(binds) >= 2 and server.ports.in_use == 0
        await server.writer.flush(5.0)
    rows = query(tmp_path / "voxcenter.db", "select to_number, disposition, hangup_by from calls order by arrived_at")
    assert [(row[0], row[2]) for row in rows] == [("299", "system"), ("298", "system")]
    legs = query(tmp_path / "voxcenter.db", "select role, codec from call_legs")
    assert ("caller", "PCMU") in legs



async def test_the_bye_waits_for_the_ack_of_the_answer(tmp_path: Path) -> None:
    """RFC 3261 §15: a node that hangs up at once sends its BYE only once the caller's ACK has arrived, however
    late (here the first 200 OK and its first retransmission go unacknowledged)."""
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text().replace("numbers:\n", "numbers:\n  '299': {node: hang-up}\n", 1)
    plan.write_text(text.replace("ivr:\n", "ivr:\n  hang-up:\n    type: hangup\n", 1))
    async with served(plan) as server, UdpClient(CARRIER_IP) as carrier:
        address = server.endpoint.address("udp")
        sdp = answer_sdp(free_port())
        head = (f"INVITE sip:299@{address.host} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {CARRIER_IP}:{carrier.port};branch=z9hG4bKlateack1;rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:+331400@{CARRIER_IP}>;tag=late\r\nTo: <sip:299@{address.host}>\r\n"
                f"Call-ID: late-ack\r\nCSeq: 1 INVITE\r\nContact: <sip:+331400@{CARRIER_IP}:{carrier.port}>\r\n"
                f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n")
        carrier.send(head.encode() + sdp, address.host, address.port)
        answer = await carrier.final_response(5.0)
        assert answer is not None and answer.status == 200
        seen: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.2  # the 200 is sent again at 0.5 s (T1); no BYE meanwhile
        while (left := deadline - loop.time()) > 0 and (data := await carrier.receive(left)) is not None:
            message = parse_message(data)
            seen.append(message.method if isinstance(message, Request) else str(message.status))
        assert "BYE" not in seen and "200" in seen, seen
        to = answer.headers.get("To")
        carrier.send((f"ACK sip:299@{address.host} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP {CARRIER_IP}:{carrier.port};branch=z9hG4bKlateack2;rport\r\n"
                      f"Max-Forwards: 70\r\nFrom: <sip:+331400@{CARRIER_IP}>;tag=late\r\nTo: {to}\r\n"
                      f"Call-ID: late-ack\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode(),
                     address.host, address.port)
        while (data := await carrier.receive(5.0)) is not None:
            message = parse_message(data)
            if isinstance(message, Request) and message.method == "BYE":
                break
        else:
            raise AssertionError("no BYE after the ACK")
