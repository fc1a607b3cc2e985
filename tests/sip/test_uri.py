"""URIs, name-addr, Via: parsing, comparison (RFC 3261 §19.1.4), round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.uri import (
    NameAddr,
    SipUri,
    Via,
    format_params,
    parse_host_port,
    parse_name_addr,
    parse_params,
    parse_request_uri,
    parse_uri,
    parse_via,
    split_header_list,
    unescape,
    uri_equal,
)


def test_sip_uri_parts() -> None:
    uri = parse_uri("sips:alice:secret@Example.COM:5061;transport=tcp;lr?subject=hi&priority=urgent")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == ("sips", "alice", "secret", "example.com", 5061)
    assert uri.params == {"transport": "tcp", "lr": None}
    assert uri.headers == {"subject": "hi", "priority": "urgent"}
    assert uri.host_port == "example.com:5061"


def test_ipv6_reference() -> None:
    uri = parse_uri("sip:bob@[2001:DB8::1]:5060;maddr=[2001:db8::2]")
    assert uri.host == "[2001:db8::1]" and uri.port == 5060 and uri.params["maddr"] == "[2001:db8::2]"
    assert parse_host_port("[::1]:5070") == ("[::1]", 5070)
    with pytest.raises(RemoteProtocolError):
        parse_uri("sip:bob@[2001:db8:::1]")
    with pytest.raises(RemoteProtocolError):
        parse_host_port("[::1")


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert uri.scheme == "tel" and uri.user == "+1-201-555-0123"
    assert uri.params == {"phone-context": "example.com"}
    assert str(uri) == "tel:+1-201-555-0123;phone-context=example.com"
    assert uri_equal(uri, parse_uri("tel:+1.201.555.0123;Phone-Context=EXAMPLE.com"))


@pytest.mark.parametrize(
    "text",
    ["sip:", "sip:user@", "sip:a b@host", "sip:user@host:99999", "sip:user@host;", "sip:user@-host", "1sip:x",
     "sip:user@host?x", "<sip:a@b>", "sip:a@b@c", "http:a b"],
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_uri(text)


def test_request_uri_rules() -> None:
    with pytest.raises(RemoteProtocolError, match="headers"):
        parse_request_uri("sip:user@example.com?Route=%3Csip:example.com%3E")
    with pytest.raises(RemoteProtocolError, match="<>"):
        parse_request_uri("<sip:user@example.com>")
    assert parse_request_uri("soap.beep://192.0.2.103:3002").opaque == "//192.0.2.103:3002"


def test_unescape() -> None:
    assert unescape("%75se%72") == "user"
    assert unescape("I%20have%20spaces") == "I have spaces"
    assert unescape("100%") == "100%"
    assert unescape("%e2%82%ac") == "€"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    ],
)
def test_equal_uris_rfc3261_19_1_4(a: str, b: str) -> None:
    assert uri_equal(parse_uri(a), parse_uri(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
        ("sip:a@b", "sips:a@b"),
        ("sip:b", "sip:a@b"),
    ],
)
def test_unequal_uris_rfc3261_19_1_4(a: str, b: str) -> None:
    assert not uri_equal(parse_uri(a), parse_uri(b))


def test_name_addr_forms() -> None:
    na = parse_name_addr('"A \\"B\\"" <sip:a@b;lr>;tag=x;q=0.5')
    assert na.display == 'A "B"' and na.uri.params == {"lr": None} and na.params == {"tag": "x", "q": "0.5"}
    assert parse_name_addr("Bob Smith <sip:b@c>").display == "Bob Smith"
    spec = parse_name_addr("sip:b@c;tag=9")
    assert spec.display is None and spec.tag == "9" and spec.uri.params == {}
    assert parse_name_addr("<sip:b@c>").display is None


@pytest.mark.parametrize(
    "text",
    ['"unterminated <sip:a@b>', "Bell, Alexander <sip:a@b>", "< sip:a@b >", "<sip:a@b", "sip:a@b?x=y",
     "<sip:a@b> junk", "<sip:a@b>;;tag=1", "<sip:a@b>;tag=", '"x" sip:a@b'],
)
def test_bad_name_addrs(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_name_addr(text)


def test_via_forms() -> None:
    via = parse_via("SIP / 2.0 / udp host.example.com : 5070 ; branch = z9hG4bK1 ; rport")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "host.example.com", 5070, "z9hG4bK1")
    assert via.params["rport"] is None
    assert parse_via("SIP/2.0/TLS [2001:db8::9];received=[2001:db8::10]").host == "[2001:db8::9]"
    for bad in ("SIP/2.0/UDP", "SIP/3.0/UDP h", "SIP/2.0/UDP h;;", "SIP/2.0/UDP h:x", "HTTP/1.1 h"):
        with pytest.raises(RemoteProtocolError):
            parse_via(bad)


def test_params_and_lists() -> None:
    assert parse_params(';a=1;B;c="x;y"') == {"a": "1", "b": None, "c": '"x;y"'}
    assert format_params({"a": "1", "b": None}) == ";a=1;b"
    assert split_header_list('"a, b" <sip:x>, <sip:y;p=1,2>, c') == ['"a, b" <sip:x>', "<sip:y;p=1,2>", "c"]
    assert split_header_list(" , ,") == []


def test_with_copies() -> None:
    uri = parse_uri("sip:a@b;x=1")
    copy = uri.with_(host="c")
    copy.params["y"] = "2"
    assert uri.host == "b" and "y" not in uri.params and copy.host == "c"


# --- round trips -------------------------------------------------------------

labels = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
hosts = st.one_of(
    st.builds(".".join, st.lists(labels, min_size=1, max_size=3)),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.sampled_from(["[::1]", "[2001:db8::1]", "[fe80::1:2]"]),
)
users = st.from_regex(r"([A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-F]{2}){1,12}", fullmatch=True)
pnames = st.from_regex(r"[a-z][a-z0-9\-]{0,8}", fullmatch=True)
pvalues = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9\-_.!~*]{1,8}", fullmatch=True))
sip_uris = st.builds(
    SipUri,
    scheme=st.sampled_from(["sip", "sips"]),
    user=st.one_of(st.none(), users),
    host=hosts,
    port=st.one_of(st.none(), st.integers(0, 65535)),
    params=st.dictionaries(pnames, pvalues, max_size=3),
    headers=st.dictionaries(st.from_regex(r"[A-Za-z]{1,6}", fullmatch=True),
                            st.from_regex(r"[A-Za-z0-9%:]{0,6}", fullmatch=True).filter(lambda v: "%" not in v),
                            max_size=2),
)
displays = st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
                                        min_size=1, max_size=12))


@settings(max_examples=150, deadline=None)
@given(sip_uris)
def test_uri_round_trip(uri: SipUri) -> None:
    parsed = parse_uri(str(uri))
    assert parsed == uri
    assert uri_equal(parsed, uri)


@settings(max_examples=150, deadline=None)
@given(sip_uris, displays, st.dictionaries(pnames, pvalues, max_size=3))
def test_name_addr_round_trip(uri: SipUri, display: str | None, params: dict[str, str | None]) -> None:
    name_addr = NameAddr(uri=uri, display=display, params=params)
    parsed = parse_name_addr(str(name_addr))
    assert parsed.uri == uri and parsed.params == params
    assert parsed.display == (display or None)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["UDP", "TCP", "TLS", "WS"]), hosts, st.one_of(st.none(), st.integers(1, 65535)),
       st.dictionaries(pnames, pvalues, max_size=3))
def test_via_round_trip(transport: str, host: str, port: int | None, params: dict[str, str | None]) -> None:
    via = Via(transport, host, port, params)
    assert parse_via(str(via)) == via


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parsers_raise_only_remote_protocol_error(text: str) -> None:
    for parse in (parse_uri, parse_name_addr, parse_via, parse_params, parse_host_port):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)
