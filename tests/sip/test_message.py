"""parse_message, the typed accessors, limits and serialization (RFC 3261 §7, §8.2.6, §18.3)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import (
    CSeq,
    Headers,
    Limits,
    Request,
    Response,
    canonical_name,
    make_response,
    parse_cseq,
    parse_message,
)
from voxcenter.sip.uri import parse_uri

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP proxy.example.com\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\r"
)


def test_parse_typical_invite() -> None:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    assert message.method == "INVITE" and message.uri.user == "bob"
    assert message.top_via.branch == "z9hG4bK776asdhds"
    assert [v.host for v in message.vias] == ["pc33.atlanta.example.com", "proxy.example.com"]
    assert message.cseq == CSeq(314159, "INVITE")
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert message.from_.tag == "1928301774" and message.to.display == "Bob"
    assert message.body == b"v=0\r"
    assert parse_message(message.encode()).encode() == message.encode()


def test_compact_and_case_insensitive_names() -> None:
    message = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\ni: x\r\nCSEQ: 1 OPTIONS\r\nl: 0\r\n\r\n")
    assert message.headers.get("via") == "SIP/2.0/UDP h"
    assert message.call_id == "x" and message.cseq.number == 1
    assert canonical_name("cAlL-iD") == "Call-ID" and canonical_name("M") == "Contact"


def test_leading_crlfs_are_ignored() -> None:
    assert isinstance(parse_message(b"\r\n\r\n" + INVITE), Request)


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"", None),
        (b"\r\n\r\n", None),
        (b"OPTIONS sip:a@b SIP/2.0\r\nVia: x", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\n folded: first\r\n\r\n", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nX: a\nY: b\r\n\r\n", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nabc", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: x OPTIONS\r\n\r\n", 400),
        (b"OPTIONS sip:a@b HTTP/1.1\r\n\r\n", 505),
        (b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n", None),
        (b"SIP/3.0 200 OK\r\n\r\n", None),
        (b"SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\n", None),
    ],
)
def test_malformed(data: bytes, hint: int | None) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data)
    assert caught.value.status_hint == hint


def test_stream_requires_content_length() -> None:
    data = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n"
    assert parse_message(data).body == b""
    with pytest.raises(RemoteProtocolError, match="Content-Length"):
        parse_message(data, datagram=False)


def test_limits_give_513() -> None:
    many = b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 20 + b"\r\n"
    for limits in (Limits(max_message_size=50), Limits(max_header_count=10), Limits(max_line_length=10)):
        with pytest.raises(RemoteProtocolError) as caught:
            parse_message(many, limits=limits)
        assert caught.value.status_hint == 513
    assert len(parse_message(many).headers) == 20


def test_cseq() -> None:
    assert parse_cseq("0009 \t INVITE") == CSeq(9, "INVITE")
    for bad in ("2147483648 INVITE", "1", "-1 INVITE", "1 INVITE x", "99999999999999999999 A"):
        with pytest.raises(RemoteProtocolError):
            parse_cseq(bad)


def test_accessors_report_missing_headers() -> None:
    message = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    for name in ("call_id", "cseq", "top_via", "from_", "to"):
        with pytest.raises(RemoteProtocolError, match="missing"):
            getattr(message, name)
    assert message.max_forwards is None and message.expires is None and message.date is None
    assert message.contacts == [] and message.require == [] and message.content_type is None


def test_headers_multimap() -> None:
    headers = Headers([("v", "a, b"), ("Route", "<sip:r>"), ("Via", "c")])
    assert headers.values("Via") == ["a", "b", "c"]
    assert headers.remove_first("Via") == "a"
    assert headers.get_all("Via") == ["b", "c"]
    headers.set("VIA", "d")
    assert headers.get_all("Via") == ["d"] and "via" in headers
    headers.prepend("Via", "e")
    headers.remove("Route")
    assert list(headers) == [("Via", "e"), ("Via", "d")]
    copy = headers.copy()
    copy.add("X", "1")
    assert "X" not in headers


def test_make_response_copies_and_tags() -> None:
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    response = make_response(request, 180, to_tag="abc")
    assert response.reason == "Ringing" and response.to.tag == "abc"
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert make_response(request, 100, to_tag="abc").to.tag is None


def test_a_response_that_may_set_up_a_dialog_copies_the_record_route() -> None:
    """A proxy in front (Kamailio) record-routes; the caller's ACK and BYE must pass through it (§12.1.1)."""
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    request.headers.add("Record-Route", "<sip:192.0.2.9;lr>")
    request.headers.add("Record-Route", "<sip:192.0.2.8;lr>")
    for status in (180, 200):
        assert make_response(request, status, to_tag="t").headers.get_all("Record-Route") == [
            "<sip:192.0.2.9;lr>", "<sip:192.0.2.8;lr>"]
    for status in (100, 486):
        assert make_response(request, status, to_tag="t").headers.get_all("Record-Route") == []


# --- property tests ----------------------------------------------------------

tokens = st.from_regex(r"[A-Za-z][A-Za-z0-9\-.!%*_+`'~]{0,10}", fullmatch=True)
values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"), max_size=30).map(
    str.strip
)
extension_headers = st.lists(st.tuples(tokens.map(lambda t: "X-" + t), values), max_size=6)
common = st.fixed_dictionaries(
    {
        "Via": st.just("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"),
        "Call-ID": st.from_regex(r"[A-Za-z0-9]{1,12}@[a-z]{1,8}", fullmatch=True),
        "From": st.just('"A" <sip:a@example.com>;tag=1'),
        "To": st.just("<sip:b@example.com>"),
    }
)


@settings(max_examples=100, deadline=None)
@given(tokens, common, extension_headers, st.binary(max_size=60), st.integers(0, 2**31 - 1))
def test_request_round_trip(method: str, fixed: dict[str, str], extra: list[tuple[str, str]], body: bytes,
                            number: int) -> None:
    headers = Headers([*fixed.items(), ("CSeq", f"{number} {method}"), *extra])
    request = Request(headers=headers, body=body, method=method, uri=parse_uri("sip:b@example.com;lr"))
    for datagram in (True, False):
        parsed = parse_message(request.encode(), datagram=datagram)
        assert isinstance(parsed, Request)
        assert parsed.method == method and parsed.body == body and parsed.cseq == CSeq(number, method)
        assert list(parsed.headers)[:-1] == list(headers) and parsed.encode() == request.encode()


@settings(max_examples=100, deadline=None)
@given(st.integers(100, 699), values, common, extension_headers, st.binary(max_size=30))
def test_response_round_trip(status: int, reason: str, fixed: dict[str, str], extra: list[tuple[str, str]],
                             body: bytes) -> None:
    headers = Headers([*fixed.items(), ("CSeq", "1 INVITE"), *extra])
    response = Response(headers=headers, body=body, status=status, reason=reason)
    parsed = parse_message(response.encode())
    assert isinstance(parsed, Response)
    assert (parsed.status, parsed.reason, parsed.body) == (status, reason, body)
    assert parsed.encode() == response.encode()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        return
    for name in ("call_id", "cseq", "top_via", "vias", "from_", "to", "contacts", "routes", "max_forwards", "date"):
        with contextlib.suppress(RemoteProtocolError):
            getattr(message, name)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    b"INVITE", b" ", b"sip:a@b", b"SIP/2.0", b"\r\n", b"Via:", b"SIP/2.0/UDP h;branch=1", b"CSeq: 1 INVITE",
    b"To: <sip:x@y>", b'"', b"<", b">", b";", b",", b"l: 3", b"\r\n\r\n", b"\t", b"%", b"\xff", b"SIP/2.0 200 OK",
]), max_size=30))
def test_sip_like_noise_raises_only_remote_protocol_error(parts: list[bytes]) -> None:
    test_arbitrary_bytes_raise_only_remote_protocol_error.hypothesis.inner_test(b"".join(parts))  # type: ignore[attr-defined]


def test_salvaged_400_for_a_request_line_with_extra_spaces() -> None:
    from voxcenter.sip.salvage import salvage_error_response

    data = (
        b"INVITE  sip:user@example.com  SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:user@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n"
    )
    response = salvage_error_response(data, 400, "more than one SP", "t1")
    assert response is not None and response.status == 400
    assert response.headers.get("To") == "<sip:user@example.com>;tag=t1"
    assert salvage_error_response(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 400, "x", "t") is None
    assert salvage_error_response(data.replace(b"Call-ID: c1\r\n", b""), 400, "x", "t") is None
