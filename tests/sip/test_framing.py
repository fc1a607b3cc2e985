"""StreamParser: byte-by-byte reassembly, keepalives, limits, garbage (RFC 3261 §18.3, RFC 5626 §4.4.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.framing import StreamParser
from voxcenter.sip.message import Headers, Limits, Request, Response, parse_message
from voxcenter.sip.uri import parse_uri


def make_request(index: int, body: bytes) -> Request:
    headers = Headers(
        [
            ("Via", f"SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{index}"),
            ("From", "<sip:a@example.com>;tag=1"),
            ("To", "<sip:b@example.com>"),
            ("Call-ID", f"call-{index}@example.com"),
            ("CSeq", f"{index} MESSAGE"),
            ("Content-Type", "text/plain"),
        ]
    )
    return Request(headers=headers, body=body, method="MESSAGE", uri=parse_uri("sip:b@example.com"))


def make_response(index: int) -> Response:
    headers = Headers([("Via", "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx"), ("CSeq", f"{index} INVITE")])
    return Response(headers=headers, status=180, reason="Ringing")


bodies = st.binary(max_size=40)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(bodies, st.sampled_from([b"", b"\r\n", b"\r\n\r\n"])), min_size=1, max_size=4),
    st.data(),
)
def test_reassembles_across_arbitrary_splits(items: list[tuple[bytes, bytes]], data: st.DataObject) -> None:
    stream = b""
    expected: list[bytes] = []
    for index, (body, keepalive) in enumerate(items):
        message: Request | Response = make_request(index, body) if index % 2 == 0 else make_response(index)
        stream += keepalive + message.encode()
        expected.append(message.encode())
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    parser = StreamParser()
    received = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        received.extend(parser.feed(stream[previous:cut]))
        previous = cut
    assert [m.encode() for m in received] == expected
    assert parser.buffered == 0


def test_byte_by_byte() -> None:
    messages: list[Request | Response] = [make_request(1, b"hello"), make_response(2), make_request(3, b"\r\n\r\n")]
    stream = b"".join(m.encode() for m in messages)
    parser = StreamParser()
    received = []
    for byte in stream:
        received.extend(parser.feed(bytes([byte])))
    assert [m.encode() for m in received] == [m.encode() for m in messages]


def test_double_crlf_is_a_ping_single_crlf_a_pong() -> None:
    parser = StreamParser()
    assert parser.feed(b"\r\n\r\n") == []
    assert parser.pings_received == 1
    parser.pings_received = 0
    assert parser.feed(b"\r\n") == []  # a pong answers our ping
    assert parser.pings_received == 0
    for byte in b"\r\n\r\n":
        parser.feed(bytes([byte]))
    assert parser.pings_received == 1


def test_ping_between_messages() -> None:
    parser = StreamParser()
    out = parser.feed(make_request(1, b"").encode() + b"\r\n\r\n" + make_request(2, b"x").encode())
    assert len(out) == 2 and parser.pings_received == 1


def test_missing_content_length_is_an_error() -> None:
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n")
    assert "Content-Length" in caught.value.reason
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"more")  # the parser stays broken


def test_garbage_fails_fast() -> None:
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n")
    assert caught.value.status_hint is None


def test_http_request_is_not_sip() -> None:
    with pytest.raises(RemoteProtocolError):
        StreamParser().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_limits() -> None:
    parser = StreamParser(Limits(max_message_size=200))
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed(b"OPTIONS sip:a@b SIP/2.0\r\nX: " + b"y" * 300)
    assert caught.value.status_hint == 513
    parser = StreamParser(Limits(max_message_size=300))
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\n")
    assert caught.value.status_hint == 513
    with pytest.raises(RemoteProtocolError):
        StreamParser(Limits(max_line_length=20)).feed(b"OPTIONS sip:aaaaaaaaaaaaaaaaaaaaaaaaaa@b")


def test_stream_and_datagram_agree() -> None:
    encoded = make_request(7, b"abc").encode()
    (streamed,) = StreamParser().feed(encoded)
    assert streamed.encode() == parse_message(encoded, datagram=False).encode() == encoded


def test_in_message_is_true_from_a_messages_first_byte_to_its_last() -> None:
    # What the transport times out (TransportLimits.message_timeout): keepalives are never a message.
    parser = StreamParser()
    for keepalive in (b"\r\n", b"\r", b"\n", b"\r\n\r\n"):
        parser.feed(keepalive)
        assert not parser.in_message
    wire = make_request(1, b"hello").encode() + b"\r\n"
    states = []
    for byte in wire:
        messages = parser.feed(bytes([byte]))
        states.append((parser.in_message, len(messages)))
    body_end = len(wire) - 2
    assert all(in_message for in_message, _ in states[: body_end - 1])  # the header and the body
    assert states[body_end - 1] == (False, 1)  # its last byte completes it
    assert [in_message for in_message, _ in states[body_end:]] == [False, False]  # a trailing pong
    parser.feed(b"INV")
    assert parser.in_message


@given(st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_in_message_is_false_exactly_between_messages(cuts: list[int]) -> None:
    wires = [make_request(i, b"x" * i).encode() for i in range(3)]
    boundaries = {sum(len(w) for w in wires[:n]) for n in range(4)}
    stream = b"".join(wires)
    parser = StreamParser()
    position = 0
    for size in [*cuts, len(stream)]:
        chunk = stream[position:position + size]
        position += len(chunk)
        parser.feed(chunk)
        assert parser.in_message == (position not in boundaries)
