"""received/rport stamping (RFC 3261 §18.2.1, RFC 3581 §4)."""

from __future__ import annotations

from voxcenter.sip.message import Request, make_response, parse_message
from voxcenter.sip.received import stamp_received


def request(via: str) -> Request:
    data = (
        f"OPTIONS sip:voxcenter.test SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP proxy.example;branch=z9hG4bKp\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def test_empty_rport_gets_the_source_port_and_received() -> None:
    message = request("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;rport")
    stamp_received(message, "203.0.113.9", 40123)
    top = message.top_via
    assert top.params["received"] == "203.0.113.9" and top.params["rport"] == "40123"
    assert top.branch == "z9hG4bKa" and top.host == "10.0.0.5"
    # The response carries it back, and the second Via is untouched.
    vias = make_response(message, 200).headers.values("Via")
    assert vias[0].endswith("received=203.0.113.9") or "received=203.0.113.9" in vias[0]
    assert vias[1] == "SIP/2.0/UDP proxy.example;branch=z9hG4bKp"


def test_received_only_when_the_host_differs() -> None:
    same = request("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb")
    stamp_received(same, "192.0.2.1", 5060)
    assert "received" not in same.top_via.params
    other = request("SIP/2.0/UDP phone.example:5060;branch=z9hG4bKc")
    stamp_received(other, "192.0.2.1", 5060)
    assert other.top_via.params["received"] == "192.0.2.1" and "rport" not in other.top_via.params


def test_an_rport_with_a_value_is_kept() -> None:
    message = request("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKd;rport=5060")
    stamp_received(message, "10.0.0.5", 5060)
    assert message.top_via.params["rport"] == "5060" and "received" not in message.top_via.params
