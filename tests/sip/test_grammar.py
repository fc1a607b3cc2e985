"""The RFC 3261 §25 rules in grammar.py accept what the ABNF allows and refuse the rest."""

from __future__ import annotations

import re

import pytest

from voxcenter.sip import grammar


def full(pattern: str | re.Pattern[str], text: str) -> bool:
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
    return compiled.fullmatch(text) is not None


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (grammar.TOKEN, ["INVITE", "!interesting-Method0123456789_*+`.%indeed'~"], ["", "a b", "a,b", "a:b", '"x"']),
        (grammar.WORD, ["intmeth.word%ZK-!.*_+'", "word`~)(><:\\/\"][?}{"], ["", "a b", "a@b", "a;b"]),
        (grammar.QUOTED_STRING, ['""', '"a \\" b"', '"\\\\"', '"ünï"'], ['"', '"a', '"a\\"', 'a"', '"\r"']),
        (grammar.HOST, ["example.com", "a-b.c.", "192.0.2.1", "[::1]", "t1.example.com", "host_1.lan"],
         ["-a.com", "a-.com", "a.1", "a..b", "[x]", ""]),
        (grammar.HOSTPORT, ["h:5060", "[::1]:1", "h"], ["h:", "h:abc", ":5060"]),
        (grammar.USER, ["alice", "%00", "user;par=u%40example.net", "a?b,c/"], ["a b", "a@b", "%zz", "a:b"]),
        (grammar.URI_PARAMETERS, ["", ";lr", ";transport=tcp;maddr=[::1]", ";%6C%72"], [";", ";a=", ";a b"]),
        (grammar.URI_HEADERS, ["?a=b", "?a=&b=c", "?Route=%3Csip:x%3E"], ["?", "?a", "?a=b&"]),
        (grammar.SCHEME, ["sip", "soap.beep", "a+b-c"], ["1sip", "", "a_b"]),
        (grammar.SIP_VERSION, ["SIP/2.0", "SIP/7.0"], ["SIP/2", "sip2.0", "SIP/2.0 "]),
        (grammar.REASON_PHRASE, ["", "OK", "Moved Temporarily", "простое"], ["a\rb", "a\nb"]),
        (grammar.GEN_VALUE, ["z9hG4bK1", "[::1]", '"quoted ; value"', "0.33"], ["", "a b", "a;b"]),
    ],
)
def test_rule(rule: str, good: list[str], bad: list[str]) -> None:
    for text in good:
        assert full(rule, text), text
    for text in bad:
        assert not full(rule, text), text


def test_sip_uri_body_groups() -> None:
    match = grammar.SIP_URI_BODY_RE.fullmatch("u:p@h.example.com:5060;lr?x=y")
    assert match is not None
    assert (match["user"], match["password"], match["host"], match["port"], match["params"], match["headers"]) == (
        "u", "p", "h.example.com", "5060", ";lr", "?x=y"
    )


def test_request_and_status_lines() -> None:
    assert full(grammar.REQUEST_LINE_RE, "INVITE sip:a@b SIP/2.0")
    for bad in ("INVITE  sip:a@b SIP/2.0", "INVITE sip:a@b SIP/2.0 ", "INVITE sip:a@b; lr SIP/2.0", "INVITE sip:a@b"):
        assert not full(grammar.REQUEST_LINE_RE, bad), bad
    assert full(grammar.STATUS_LINE_RE, "SIP/2.0 100 ")
    assert full(grammar.STATUS_LINE_RE, "SIP/2.0 486 Busy Here")
    for bad in ("SIP/2.0 4294967301 big", "SIP/2.0 99 x", "SIP/2.0 700 x", "SIP/2.0 200"):
        assert not full(grammar.STATUS_LINE_RE, bad), bad


def test_header_value_rules() -> None:
    assert full(grammar.CSEQ_RE, "0009  INVITE")
    assert not full(grammar.CSEQ_RE, "9INVITE")
    assert full(grammar.CALLID_RE, "a84b4c76e66710@pc33.example.com")
    assert not full(grammar.CALLID_RE, "a@b@c")
    assert full(grammar.VIA_PARM_RE, "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
    assert full(grammar.MEDIA_TYPE_RE, "application/sdp;charset=utf-8")
    assert full(grammar.SIP_DATE_RE, "Sat, 15 Oct 2005 04:44:56 GMT")
    assert not full(grammar.SIP_DATE_RE, "Fri, 01 Jan 2010 16:00:00 EST")
    assert full(grammar.DISPLAY_TOKENS_RE, "token1~` token2'+_")
    assert not full(grammar.DISPLAY_TOKENS_RE, "Bell, Alexander")


def test_host_rule_is_linear_on_hostile_input() -> None:
    # Would take minutes with nested ambiguous quantifiers; atomic groups keep it a scan.
    assert not full(grammar.HOST, "a" + "-a" * 3000 + "-")
    assert not full(grammar.HOST, "a." * 3000 + "1")
