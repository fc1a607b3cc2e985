"""INVITEs whose SDP cannot be right get 488 (or 400 when it does not parse) from the whole server, never 200."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, query, running_server, wait_for
from tests.interop.rawclient import UdpClient

pytestmark = pytest.mark.interop


def invite(port: int, call_id: str, media_line: str, *extra: str) -> bytes:
    body = "\r\n".join(["v=0", f"o=- 1 1 IN IP4 {CARRIER_IP}", "s=-", f"c=IN IP4 {CARRIER_IP}", "t=0 0", media_line,
                        "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", *extra]) + "\r\n"
    head = "\r\n".join([
        "INVITE sip:200@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP {CARRIER_IP}:{port};branch=z9hG4bK{call_id};rport",
        "Max-Forwards: 70",
        f"From: <sip:+33140000001@{CARRIER_IP}>;tag=f{call_id}",
        "To: <sip:200@127.0.0.1>",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:carrier@{CARRIER_IP}:{port}>",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body.encode())}",
    ])
    return (head + "\r\n\r\n" + body).encode()


CASES = {
    "thousand-formats": ("m=audio 4000 RTP/AVP " + " ".join(["0"] * 1000), (), 488),
    "port-99999": ("m=audio 99999 RTP/AVP 0 101", (), 400),
    "garbage-fmtp": ("m=audio 4000 RTP/AVP 0 101", ("a=fmtp:101 \u00ff\u00fe garbage",), 488),
    "fmtp-without-parameters": ("m=audio 4000 RTP/AVP 0 101", ("a=fmtp:101",), 400),
    "multicast": ("m=audio 4000 RTP/AVP 0 101", ("c=IN IP4 239.1.2.3",), 488),
}


async def test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server, UdpClient(CARRIER_IP) as carrier:
        address = server.endpoint.address("udp")
        statuses = {}
        for name, (media_line, extra, _) in CASES.items():
            carrier.send(invite(carrier.port, name, media_line, *extra), address.host, address.port)
            response = await carrier.final_response(timeout=5.0)
            assert response is not None, name
            statuses[name] = response.status
        assert statuses == {name: status for name, (_, _, status) in CASES.items()}
        await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
    rows = query(tmp_path / "voxcenter.db", "select disposition from calls")
    assert [disposition for (disposition,) in rows] == ["rejected"] * len(CASES)
