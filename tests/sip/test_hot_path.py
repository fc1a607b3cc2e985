"""What the SIP hot path keeps to go fast: parsed headers once per message, a timer heap without dead weight,
UDP buffers that absorb a stall. Each must not change what the stack does."""

from __future__ import annotations

import random
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.dialog import DialogLayer, new_request
from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import CSeq, Request, Response, make_response, parse_message
from voxcenter.sip.transaction import RequestReceived, TransactionLayer
from voxcenter.sip.transport import SipTransports, TransportLimits
from voxcenter.sip.uri import parse_name_addr, parse_uri

INVITE = (
    b"INVITE sip:bob@b.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP a.test:5060;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@a.test>;tag=a1\r\n"
    b"To: <sip:bob@b.test>\r\n"
    b"Call-ID: c1@a.test\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:alice@a.test:5060>\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n\r\n"
)
PEER = ("udp", "a.test", 5060)


def invite() -> Request:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    return message


def test_accessors_parse_once_and_share_the_value() -> None:
    request = invite()
    assert request.from_ is request.from_
    assert request.to is request.to
    assert request.top_via is request.top_via
    assert request.contacts is request.contacts
    assert request.cseq == CSeq(7, "INVITE")


def test_changing_a_header_forgets_only_that_header() -> None:
    request = invite()
    from_, to = request.from_, request.to
    request.headers.set("To", "<sip:bob@b.test>;tag=b2")
    assert request.to.tag == "b2" and request.to is not to
    assert request.from_ is from_  # another header's parsed value stays
    request.headers.add("Server", "voxcenter")
    assert request.from_ is from_ and request.to.tag == "b2"
    request.headers.remove_first("Via")
    request.headers.prepend("Via", "SIP/2.0/UDP c.test;branch=z9hG4bK-2")
    assert request.top_via.host == "c.test" and request.top_via.branch == "z9hG4bK-2"
    request.headers.add("Contact", "<sip:alice@d.test>")
    assert [c.uri.host for c in request.contacts] == ["a.test", "d.test"]
    request.headers.remove("Contact")
    assert request.contacts == []
    request.headers.set("CSeq", "8 INVITE")
    assert request.cseq == CSeq(8, "INVITE")


def test_forget_parsed_gives_fresh_but_equal_values() -> None:
    request = invite()
    to = request.to
    request.headers.forget_parsed()
    assert request.to is not to and str(request.to) == str(to)


def test_a_parse_error_is_not_kept_and_responses_still_get_no_status_hint() -> None:
    response = Response(status=200)
    response.headers.add("From", "<sip:broken")
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as error:
            response.from_  # noqa: B018
        assert error.value.status_hint is None
    request = invite()
    request.headers.set("From", "<sip:broken")
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as error:
            request.from_  # noqa: B018
        assert error.value.status_hint == 400
    request.headers.set("From", "<sip:alice@a.test>;tag=a9")
    assert request.from_.tag == "a9"


@given(st.lists(st.sampled_from(["From", "To", "Via", "CSeq", "Contact", "Server"]), max_size=12))
def test_cached_values_always_match_a_fresh_parse(changes: list[str]) -> None:
    values = {
        "From": "<sip:carol@c.test>;tag=c{}",
        "To": "<sip:dave@d.test>;tag=d{}",
        "Via": "SIP/2.0/UDP v{}.test;branch=z9hG4bK-{}",
        "CSeq": "{} INVITE",
        "Contact": "<sip:e{}@e.test>",
        "Server": "voxcenter {}",
    }
    request = invite()
    for number, name in enumerate(changes, 1):
        request.from_, request.to, request.top_via, request.cseq, request.contacts  # noqa: B018 - fill the cache
        request.headers.set(name, values[name].format(number, number))
        fresh = parse_message(request.encode())
        assert str(request.from_) == str(fresh.from_) and str(request.to) == str(fresh.to)
        assert str(request.top_via) == str(fresh.top_via) and request.cseq == fresh.cseq
        assert [str(c) for c in request.contacts] == [str(c) for c in fresh.contacts]


def test_a_final_response_lets_the_lingering_transaction_drop_its_request() -> None:
    ua = DialogLayer(TransactionLayer(rng=random.Random(3)))
    ua.receive(invite(), PEER, 0.0)
    event = ua.next_event()
    assert isinstance(event, RequestReceived)
    transaction = event.transaction
    response = make_response(event.request, 200, to_tag="b1")
    response.headers.add("Contact", "<sip:bob@b.test:5062>")
    dialog = ua.send_response(transaction, response, 0.0)
    assert dialog is not None and dialog.remote_tag == "a1"
    # Accepted for 64·T1 (RFC 6026), holding neither the INVITE nor the 2xx it never resends itself.
    assert transaction.state.name == "ACCEPTED" and transaction.released and transaction._last_sent is None
    assert transaction.method == "INVITE" and "INVITE" in repr(transaction)
    with pytest.raises(LocalProtocolError, match="released"):
        transaction.request  # noqa: B018
    while ua.next_event() is not None:  # DialogCreated
        pass
    ua.receive(invite(), PEER, 1.0)  # a retransmitted INVITE is still absorbed
    assert ua.next_event() is None
    assert event.request.from_.tag == "a1"  # what the TU was handed is untouched


def _options(index: int) -> Request:
    return new_request(
        "OPTIONS", parse_uri("sip:bob@b.test"), from_=parse_name_addr("<sip:alice@a.test>"),
        to=parse_name_addr("<sip:bob@b.test>"), via_sent_by="a.test:5060", rng=random.Random(index),
    )


def test_answered_transactions_leave_no_dead_timers_in_the_heap() -> None:
    layer = TransactionLayer(rng=random.Random(5))
    transactions = [layer.send_request(_options(i), PEER, 0.0) for i in range(400)]
    assert layer.get_timer() == 0.5  # Timer E
    for transaction in transactions:  # Timers E and F stop, Timer K (5 s) starts
        layer.receive(make_response(transaction.request, 200, to_tag="x"), PEER, 0.1)
    assert layer.get_timer() == pytest.approx(5.1)
    assert len(layer._heap) == 400  # the 800 disarmed E and F entries (F: 32 s) are gone
    layer.handle_timer(5.1)
    assert layer.get_timer() is None and layer.transactions() == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 299), st.sampled_from(["answer", "time"])), max_size=300))
def test_the_next_deadline_is_the_earliest_armed_timer(steps: list[tuple[int, str]]) -> None:
    layer = TransactionLayer(rng=random.Random(9))
    transactions = [layer.send_request(_options(i), PEER, i * 0.01) for i in range(300)]
    now = 3.0
    for index, action in steps:
        if action == "answer":
            transaction = transactions[index]
            layer.receive(make_response(transaction.request, 200, to_tag="x"), PEER, now)
        else:
            now += 0.25
            layer.handle_timer(now)
        layer.datagrams_to_send()
        armed = [
            entry[0] for entry in layer._heap if entry[2]._deadlines.get(entry[3]) == entry[1]
        ]
        assert layer.get_timer() == (min(armed) if armed else None)


def _rmem_max() -> int:
    with open("/proc/sys/net/core/rmem_max") as handle:
        return int(handle.read())


async def test_udp_listener_asks_for_large_socket_buffers() -> None:
    transports = SipTransports(lambda *_: None, lambda *_: None, limits=TransportLimits(udp_buffer_size=1 << 20))
    address = await transports.listen("udp", "127.0.0.1", 0)
    try:
        ceiling = _rmem_max()
        sock = transports._udp[(address.host, address.port)].transport.get_extra_info("socket")  # type: ignore[union-attr]
        # Linux reports twice the size asked for (bookkeeping overhead), capped by rmem_max.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= min(1 << 20, ceiling)
    finally:
        await transports.close()


async def test_datagrams_from_one_peer_share_one_address() -> None:
    sources: list[object] = []
    transports = SipTransports(lambda _message, source: sources.append(source), lambda *_: None)
    address = await transports.listen("udp", "127.0.0.1", 0)
    try:
        protocol = transports._udp[(address.host, address.port)]
        for _ in range(2):
            protocol.datagram_received(INVITE, ("127.0.0.1", 5999))
        protocol.datagram_received(INVITE, ("127.0.0.1", 5998))
        assert sources[0] is sources[1] and sources[0] != sources[2]
        assert str(sources[0]) == "udp:127.0.0.1:5999"
    finally:
        await transports.close()
