"""RFC 4475 torture messages: every one of the 49 gets the handling the RFC asks for.

Outcomes:
  ("ok",)                    parses, accessors work, check_request passes
  ("parse", hint)            parse_message raises with that status hint (None = drop)
  ("accessor", name, hint)   parses, reading that accessor raises; check_request gives the same status
  ("check", status)          parses, check_request returns an error with that status
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from voxcenter.sip.checks import build_error_response, check_request
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request, Response, parse_message

FIXTURES = Path(__file__).parent / "rfc4475"

EXPECTED: dict[str, tuple[object, ...]] = {
    # 3.1.1 valid messages
    "wsinv": ("ok",),
    "intmeth": ("ok",),
    "esc01": ("ok",),
    "escnull": ("ok",),
    "esc02": ("ok",),
    "lwsdisp": ("ok",),
    "longreq": ("ok",),
    "dblreq": ("ok",),
    "semiuri": ("ok",),
    "transports": ("ok",),
    "mpart01": ("ok",),
    "unreason": ("ok",),
    "noreason": ("ok",),
    # 3.1.2 invalid messages
    "badinv01": ("accessor", "top_via", 400),
    "clerr": ("parse", 400),
    "ncl": ("parse", 400),
    "scalar02": ("parse", 400),
    "scalarlg": ("parse", None),
    "quotbal": ("accessor", "to", 400),
    "ltgtruri": ("parse", 400),
    "lwsruri": ("parse", 400),
    "lwsstart": ("parse", 400),
    "trws": ("parse", 400),
    "escruri": ("parse", 400),
    "baddate": ("accessor", "date", 400),
    "regbadct": ("accessor", "contacts", 400),
    "badaspec": ("accessor", "to", 400),
    "baddn": ("accessor", "from_", 400),
    "badvers": ("parse", 505),
    "mismatch01": ("check", 400),
    "mismatch02": ("check", 400),
    "bigcode": ("parse", None),
    # 3.2 transaction layer
    "badbranch": ("ok",),
    # 3.3 application layer semantics
    "insuf": ("check", 400),
    "unkscm": ("check", 416),
    "novelsc": ("check", 416),
    "unksm2": ("ok",),
    "bext01": ("check", 420),
    "invut": ("check", 415),
    "regaut01": ("ok",),
    "multi01": ("check", 400),
    "mcl01": ("parse", 400),
    "bcast": ("ok",),
    "zeromf": ("ok",),
    "cparam01": ("ok",),
    "cparam02": ("ok",),
    "regescrt": ("ok",),
    "sdp01": ("check", 406),
    # 3.4 backward compatibility
    "inv2543": ("ok",),
}

ACCESSORS = ("call_id", "cseq", "top_via", "vias", "from_", "to", "contacts", "routes", "max_forwards", "date")


def load(name: str) -> Request | Response:
    return parse_message((FIXTURES / f"{name}.dat").read_bytes())


def test_the_table_covers_every_fixture() -> None:
    names = {path.stem for path in FIXTURES.glob("*.dat")}
    assert len(names) == 49
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_handling(name: str) -> None:
    data = (FIXTURES / f"{name}.dat").read_bytes()
    outcome = EXPECTED[name]
    kind = outcome[0]
    if kind == "parse":
        with pytest.raises(RemoteProtocolError) as caught:
            parse_message(data)
        assert caught.value.status_hint == outcome[1]
        assert caught.value.reason
        return
    message = parse_message(data)
    if kind == "accessor":
        accessor, status = str(outcome[1]), outcome[2]
        with pytest.raises(RemoteProtocolError) as caught:
            getattr(message, accessor)
        assert caught.value.status_hint == status
        if accessor != "date":  # RFC 4475 §3.1.2.12: Date is informational, a UAS may ignore it
            assert isinstance(message, Request)
            error = check_request(message)
            assert error is not None and error.status_hint == status
        return
    if isinstance(message, Request):
        error = check_request(message)
        if kind == "ok":
            assert error is None, error.reason if error else ""
        else:
            assert error is not None and error.status_hint == outcome[1], error
    else:
        assert kind == "ok"
    if kind == "ok":
        for accessor in ACCESSORS:
            getattr(message, accessor)


def test_wsinv_values() -> None:
    message = load("wsinv")
    assert isinstance(message, Request)
    assert message.method == "INVITE"
    assert message.uri.user == "vivekg" and message.uri.host == "chair-dnrc.example.com"
    assert message.uri.params == {"unknownparam": None}
    assert message.to.uri.user == "vivekg" and message.to.tag == "1918181833n"
    assert message.from_.display == 'J Rosenberg \\"'
    assert message.from_.tag == "98asjd8"
    assert message.max_forwards == 68
    assert message.cseq.number == 9 and message.cseq.method == "INVITE"
    vias = message.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert message.headers.get("Subject") == ""
    assert message.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert message.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = message.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    (route,) = message.routes
    assert route.uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
    assert message.content_type == "application/sdp"
    assert len(message.body) == 150


def test_intmeth_values() -> None:
    message = load("intmeth")
    assert isinstance(message, Request)
    assert message.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert message.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert message.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert message.uri.host == "example.com"
    assert message.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert message.from_.display == "token1~` token2'+_ token3*%!.-"
    assert message.from_.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert message.from_.tag == "_token~1'+`*%!-."
    assert message.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert message.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert message.max_forwards == 255
    assert message.body == b""


def test_esc01_unescapes_user_parts() -> None:
    message = load("esc01")
    assert isinstance(message, Request)
    assert message.uri.unescaped_user == "sips:user@example.com"
    assert message.uri.host == "example.net"
    assert message.to.uri.unescaped_user == "user"
    assert message.from_.uri.unescaped_user == "I have spaces"
    (contact,) = message.contacts
    assert contact.uri.unescaped_user == "caller"
    assert contact.uri.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}


def test_escnull_keeps_escaped_nul() -> None:
    message = load("escnull")
    assert message.to.uri.unescaped_user == "null-\x00-null"
    assert [c.uri.unescaped_user for c in message.contacts] == ["\x00", "\x00\x00"]


def test_esc02_percent_in_tokens() -> None:
    message = load("esc02")
    assert isinstance(message, Request)
    assert message.method == "RE%47IST%45R"
    assert message.to.display == "%Z%45"
    assert message.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [c.uri.host for c in message.contacts] == ["host1.example.com", "host3.example.com"]
    assert message.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    error = check_request(message, methods=frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}))
    assert error is not None and error.status_hint == 501
    assert dict(error.headers)["Allow"].startswith("ACK, BYE")


def test_lwsdisp_display_touching_laquot() -> None:
    assert load("lwsdisp").from_.display == "caller"


def test_longreq_values() -> None:
    message = load("longreq")
    assert message.to.display is not None and message.to.display.startswith("I have a user name of extreme")
    assert message.to.uri.port == 6000
    assert len(message.vias) == 34
    assert message.vias[-1].params["received"] == "192.0.2.5"
    assert message.call_id.startswith("longreq.onereally")
    assert len(message.body) == 150


def test_dblreq_drops_trailing_request() -> None:
    message = load("dblreq")
    assert isinstance(message, Request)
    assert message.method == "REGISTER" and message.body == b""
    assert message.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"


def test_semiuri_user_with_semicolon() -> None:
    message = load("semiuri")
    assert isinstance(message, Request)
    assert message.uri.user == "user;par=u%40example.net"
    assert message.uri.host == "example.com" and message.uri.params == {}
    assert len(message.headers.values("Accept")) == 6


def test_transports_unknown_transport() -> None:
    assert [v.transport for v in load("transports").vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_body() -> None:
    message = load("mpart01")
    assert len(message.body) == 553
    assert message.content_type == "multipart/mixed"
    assert message.date == datetime(2005, 10, 15, 4, 44, 56, tzinfo=UTC)


def test_responses_reason_phrases() -> None:
    unreason = load("unreason")
    assert isinstance(unreason, Response)
    assert unreason.status == 200 and unreason.reason.startswith("= 2**3 * 5**2 но")
    noreason = load("noreason")
    assert isinstance(noreason, Response)
    assert noreason.status == 100 and noreason.reason == ""


def test_unksm2_other_schemes_parse() -> None:
    message = load("unksm2")
    assert message.to.uri.scheme == "isbn" and message.to.uri.opaque == "2983792873"
    assert message.from_.uri.scheme == "http"
    assert message.contacts[0].uri.scheme == "name"


def test_cparam_params_go_to_header_or_uri() -> None:
    (plain,) = load("cparam01").contacts
    assert plain.params == {"unknownparam": None} and plain.uri.params == {}
    (bracketed,) = load("cparam02").contacts
    assert bracketed.params == {} and bracketed.uri.params == {"unknownparam": None}


def test_regescrt_keeps_escaped_header() -> None:
    (contact,) = load("regescrt").contacts
    assert contact.uri.headers == {"Route": "%3Csip:sip.example.com%3E"}


def test_inv2543_without_branch_or_max_forwards() -> None:
    message = load("inv2543")
    assert message.top_via.branch is None
    assert message.max_forwards is None
    assert message.from_.tag is None
    assert len(message.body) == len((FIXTURES / "inv2543.dat").read_bytes().split(b"\r\n\r\n", 1)[1])


def test_bext01_unsupported_lists_require_tags() -> None:
    message = load("bext01")
    assert isinstance(message, Request)
    error = check_request(message)
    assert error is not None
    assert dict(error.headers) == {"Unsupported": "nothingSupportsThis, nothingSupportsThisEither"}
    response = build_error_response(message, error, to_tag="abc")
    assert response is not None and response.status == 420
    assert response.headers.get("Unsupported") == "nothingSupportsThis, nothingSupportsThisEither"
    assert response.to.tag == "abc"


def test_invut_answer_lists_accept() -> None:
    message = load("invut")
    assert isinstance(message, Request)
    error = check_request(message)
    assert error is not None
    response = build_error_response(message, error)
    assert response is not None and response.status == 415
    assert "application/sdp" in (response.headers.get("Accept") or "")
    assert response.to.tag


def test_insuf_answer_is_400_naming_the_missing_headers() -> None:
    message = load("insuf")
    assert isinstance(message, Request)
    error = check_request(message)
    assert error is not None and "Call-ID" in error.reason and "From" in error.reason and "To" in error.reason
    response = build_error_response(message, error, to_tag="t")
    assert response is not None and response.status == 400 and "Call-ID" in response.reason
    assert parse_message(response.encode()).headers.get("CSeq") == "193942 INVITE"


def test_mismatch02_is_400_before_501() -> None:
    message = load("mismatch02")
    assert isinstance(message, Request)
    error = check_request(message, methods=frozenset({"INVITE"}))
    assert error is not None and error.status_hint == 400


def test_zeromf_is_fine_for_a_uas() -> None:
    assert load("zeromf").max_forwards == 0


def test_bcast_second_via_is_broadcast() -> None:
    assert load("bcast").vias[1].host == "255.255.255.255"


def test_scalar02_expires_overlarge_counts_as_default() -> None:
    text = (FIXTURES / "scalar02.dat").read_bytes().replace(b"36893488147419103232", b"1")
    message = parse_message(text)
    assert message.expires == 3600
    with pytest.raises(RemoteProtocolError) as caught:
        message.max_forwards  # noqa: B018
    assert caught.value.status_hint == 400


def test_response_accessor_errors_say_drop() -> None:
    text = (FIXTURES / "bcast.dat").read_bytes().replace(b"To: sip:user@example.edu;tag=2229", b'To: "broken')
    message = parse_message(text)
    with pytest.raises(RemoteProtocolError) as caught:
        message.to  # noqa: B018
    assert caught.value.status_hint is None


def test_no_response_without_via() -> None:
    request = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n")
    assert isinstance(request, Request)
    error = check_request(request)
    assert error is not None
    assert build_error_response(request, error) is None
    assert build_error_response(request, RemoteProtocolError("x", status_hint=None)) is None
