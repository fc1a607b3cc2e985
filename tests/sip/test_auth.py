"""Digest authentication: RFC worked examples, server verification rules, client retry rule, parser robustness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.sip.auth import (
    AuthOutcome,
    DigestAuthenticator,
    DigestClient,
    FailureCause,
    MalformedAuthHeader,
    digest_response,
    ha1,
    parse_auth_header,
    parse_challenge,
)
from voxcenter.sip.errors import LocalProtocolError

REALM = "voxcenter.example"
SECRET = b"0123456789abcdef0123456789abcdef"
URI = "sip:voxcenter.example"
PASSWORDS = {"1001": "s3cret pass"}


def lookup(username: str, realm: str, algorithm: str) -> str | None:
    password = PASSWORDS.get(username)
    return None if password is None else ha1(username, realm, password, algorithm)


def login(server: DigestAuthenticator, now: float, username: str = "1001", password: str = "s3cret pass",
          method: str = "REGISTER", uri: str = URI, algorithm_index: int = 0) -> str:
    """The Authorization value a client sends in answer to a fresh challenge."""
    challenge = server.challenge(now)[algorithm_index]
    value = DigestClient(username, password, cnonce_factory=lambda: "c0ffee").authorize(method, uri, challenge)
    assert value is not None
    return value


# --- RFC worked examples -------------------------------------------------------


def test_rfc2617_section_3_5_example() -> None:
    secret = ha1("Mufasa", "testrealm@host.com", "Circle Of Life", "MD5")
    response = digest_response(
        "MD5", secret, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html", "auth", "00000001", "0a4f113b"
    )
    assert response == "6629fae49393a05397450978507c4ef1"


RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_section_3_9_1_client(algorithm: str, expected: str) -> None:
    challenge = (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    )
    client = DigestClient("Mufasa", "Circle of Life", cnonce_factory=lambda: RFC7616_CNONCE)
    value = client.authorize("GET", "/dir/index.html", challenge)
    assert value is not None
    scheme, params = parse_auth_header(value)
    assert scheme == "Digest"
    assert params["response"] == expected
    assert params["nc"] == "00000001"
    assert params["qop"] == "auth"
    assert params["opaque"] == RFC7616_OPAQUE
    assert params["algorithm"] == algorithm


def test_client_picks_sha256_when_both_offered() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    challenges = server.challenge(0.0)
    assert [parse_challenge(c).algorithm for c in challenges] == ["SHA-256", "MD5"]  # type: ignore[union-attr]
    value = DigestClient("1001", "x").authorize("INVITE", URI, list(reversed(challenges)))
    assert value is not None and "algorithm=SHA-256" in value


def test_client_rfc2069_style_without_qop() -> None:
    value = DigestClient("Mufasa", "Circle Of Life").authorize(
        "GET", "/dir/index.html", 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    )
    assert value is not None
    _, params = parse_auth_header(value)
    assert "qop" not in params and "nc" not in params and "cnonce" not in params
    secret = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert params["response"] == digest_response("MD5", secret, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET",
                                                 "/dir/index.html")


def test_client_declines_what_it_cannot_do() -> None:
    client = DigestClient("u", "p")
    assert client.authorize("INVITE", URI, 'Basic realm="x"') is None
    assert client.authorize("INVITE", URI, 'Digest realm="x", nonce="n", algorithm=SHA-512-256') is None
    assert client.authorize("INVITE", URI, 'Digest realm="x", nonce="n", qop="auth-int"') is None
    assert client.authorize("INVITE", URI, "Digest realm=") is None


# --- server: success and each failure -------------------------------------------


@pytest.mark.parametrize("algorithm_index", [0, 1])
def test_right_password_is_accepted(algorithm_index: int) -> None:
    server = DigestAuthenticator(REALM, SECRET)
    result = server.verify("REGISTER", login(server, 10.0, algorithm_index=algorithm_index), lookup, 11.0,
                           request_uri=URI)
    assert result.ok and result.username == "1001" and result.challenge == () and result.cause is None


def test_stored_ha1_works_like_the_password() -> None:
    server = DigestAuthenticator(REALM, SECRET, algorithms=("MD5",))
    stored = ha1("1001", REALM, "s3cret pass", "MD5").upper()  # hex case must not matter
    result = server.verify("REGISTER", login(server, 0.0), lambda u, r, a: stored, 0.0, request_uri=URI)
    assert result.ok


def test_no_credentials_gets_a_challenge_per_algorithm() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    result = server.verify("INVITE", None, lookup, 0.0, request_uri=URI)
    assert result.outcome is AuthOutcome.CHALLENGE and not result.counts_as_failure
    assert len(result.challenge) == 2
    assert result.challenge[0].startswith(f'Digest realm="{REALM}", nonce="')
    assert 'algorithm=SHA-256, qop="auth"' in result.challenge[0]
    assert "algorithm=MD5" in result.challenge[1] and "stale" not in result.challenge[1]


def test_unknown_scheme_and_other_realm_get_a_plain_challenge() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    basic = server.verify("INVITE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", lookup, 0.0, request_uri=URI)
    assert basic.outcome is AuthOutcome.CHALLENGE and basic.cause is FailureCause.UNSUPPORTED_SCHEME
    other = DigestAuthenticator("elsewhere", SECRET)
    foreign = server.verify("REGISTER", login(other, 0.0), lookup, 0.0, request_uri=URI)
    assert foreign.outcome is AuthOutcome.CHALLENGE and foreign.cause is FailureCause.WRONG_REALM


def test_our_realm_is_found_among_several_authorization_values() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    other = DigestAuthenticator("proxy.example", SECRET)
    values = [login(other, 0.0), login(server, 0.0)]
    assert server.verify("REGISTER", values, lookup, 0.0, request_uri=URI).ok


def test_unknown_user_and_wrong_password_are_indistinguishable() -> None:
    first, second = DigestAuthenticator(REALM, SECRET), DigestAuthenticator(REALM, SECRET)
    wrong_password = login(first, 5.0, username="1001", password="guess")
    unknown_user = login(second, 5.0, username="1001", password="guess")
    a = first.verify("REGISTER", wrong_password, lookup, 6.0, request_uri=URI)
    b = second.verify("REGISTER", unknown_user, lambda u, r, al: None, 6.0, request_uri=URI)
    assert a.outcome is b.outcome is AuthOutcome.FAILED
    assert a.challenge == b.challenge and a.username == b.username
    assert (a.cause, b.cause) == (FailureCause.WRONG_PASSWORD, FailureCause.UNKNOWN_USER)


def test_replayed_nonce_count_fails_and_higher_count_passes() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    client = DigestClient("1001", "s3cret pass")
    challenge = server.challenge(0.0)[0]
    first = client.authorize("REGISTER", URI, challenge)
    assert first is not None
    assert server.verify("REGISTER", first, lookup, 1.0, request_uri=URI).ok
    replay = server.verify("REGISTER", first, lookup, 2.0, request_uri=URI)
    assert replay.outcome is AuthOutcome.FAILED and replay.cause is FailureCause.REPLAY
    second = client.authorize("REGISTER", URI, challenge)  # same nonce, nc=00000002
    assert second is not None and "nc=00000002" in second
    assert server.verify("REGISTER", second, lookup, 3.0, request_uri=URI).ok


def test_wrong_response_does_not_burn_the_nonce() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    challenge = server.challenge(0.0)[0]
    bad = DigestClient("1001", "guess", cnonce_factory=lambda: "a").authorize("REGISTER", URI, challenge)
    good = DigestClient("1001", "s3cret pass", cnonce_factory=lambda: "a").authorize("REGISTER", URI, challenge)
    assert not server.verify("REGISTER", bad, lookup, 1.0, request_uri=URI).ok
    assert server.verify("REGISTER", good, lookup, 1.0, request_uri=URI).ok


def test_expired_nonce_with_right_password_is_stale() -> None:
    server = DigestAuthenticator(REALM, SECRET, nonce_lifetime=300.0)
    value = login(server, 0.0)
    result = server.verify("REGISTER", value, lookup, 300.5, request_uri=URI)
    assert result.outcome is AuthOutcome.STALE and not result.counts_as_failure
    assert all(c.endswith(", stale=true") for c in result.challenge)


def test_expired_nonce_with_wrong_password_is_a_plain_failure() -> None:
    server = DigestAuthenticator(REALM, SECRET, nonce_lifetime=300.0)
    value = login(server, 0.0, password="guess")
    result = server.verify("REGISTER", value, lookup, 400.0, request_uri=URI)
    assert result.outcome is AuthOutcome.FAILED
    assert not any("stale" in c for c in result.challenge)


def test_nonce_is_checked_without_state_and_tampering_is_detected() -> None:
    issuer = DigestAuthenticator(REALM, SECRET)
    value = login(issuer, 0.0)
    other_node = DigestAuthenticator(REALM, SECRET)  # shares the secret, saw nothing
    assert other_node.verify("REGISTER", value, lookup, 1.0, request_uri=URI).ok
    wrong_secret = DigestAuthenticator(REALM, b"another secret of sixteen+ bytes")
    forged = wrong_secret.verify("REGISTER", login(issuer, 0.0), lookup, 1.0, request_uri=URI)
    assert forged.outcome is AuthOutcome.FAILED and forged.cause is FailureCause.BAD_NONCE
    # A made-up nonce answered correctly is still refused.
    fake = 'Digest realm="voxcenter.example", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"'
    made_up = DigestClient("1001", "s3cret pass").authorize("REGISTER", URI, fake)
    result = issuer.verify("REGISTER", made_up, lookup, 1.0, request_uri=URI)
    assert result.cause is FailureCause.BAD_NONCE


def test_uri_must_match_request_uri() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    value = login(server, 0.0, uri="sip:other.example")
    result = server.verify("REGISTER", value, lookup, 0.0, request_uri=URI)
    assert result.outcome is AuthOutcome.BAD_REQUEST and result.cause is FailureCause.URI_MISMATCH
    assert result.counts_as_failure


def test_uri_spelling_of_host_case_is_tolerated() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    value = login(server, 0.0, uri="SIP:VoxCenter.Example;Transport=tcp")
    assert server.verify("REGISTER", value, lookup, 0.0, request_uri="sip:voxcenter.example;transport=tcp").ok
    other_user = login(server, 0.0, uri="sip:1002@voxcenter.example")
    assert not server.verify("REGISTER", other_user, lookup, 0.0, request_uri="sip:1001@voxcenter.example").ok


def test_method_is_part_of_the_digest() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    value = login(server, 0.0, method="REGISTER")
    assert server.verify("INVITE", value, lookup, 0.0, request_uri=URI).outcome is AuthOutcome.FAILED


def test_malformed_and_incomplete_credentials_are_bad_requests() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    for value in ['Digest username="1001", realm="voxcenter.example', f'Digest realm="{REALM}", username="1001"',
                  f'Digest realm="{REALM}", username="a", nonce="n", uri="{URI}", response="r", qop=auth']:
        result = server.verify("REGISTER", value, lookup, 0.0, request_uri=URI)
        assert result.outcome is AuthOutcome.BAD_REQUEST and result.cause is FailureCause.MALFORMED


def test_unsupported_algorithm_gets_a_challenge() -> None:
    server = DigestAuthenticator(REALM, SECRET, algorithms=("SHA-256",))
    md5 = DigestAuthenticator(REALM, SECRET, algorithms=("MD5",))
    result = server.verify("REGISTER", login(md5, 0.0), lookup, 0.0, request_uri=URI)
    assert result.outcome is AuthOutcome.CHALLENGE and result.cause is FailureCause.UNSUPPORTED_ALGORITHM


def test_rfc2069_credentials_are_good_once() -> None:
    server = DigestAuthenticator(REALM, SECRET, algorithms=("MD5",))
    nonce = parse_challenge(server.challenge(0.0)[0]).nonce  # type: ignore[union-attr]
    value = DigestClient("1001", "s3cret pass").authorize("REGISTER", URI, f'Digest realm="{REALM}", nonce="{nonce}"')
    assert server.verify("REGISTER", value, lookup, 0.0, request_uri=URI).ok
    assert server.verify("REGISTER", value, lookup, 0.0, request_uri=URI).cause is FailureCause.REPLAY


def test_evicted_nonce_history_turns_into_stale_not_replay_acceptance() -> None:
    server = DigestAuthenticator(REALM, SECRET, max_tracked_nonces=2)
    first = login(server, 0.0)
    assert server.verify("REGISTER", first, lookup, 0.0, request_uri=URI).ok
    for i in range(1, 3):  # two more nonces push the first one out
        assert server.verify("REGISTER", login(server, float(i)), lookup, float(i), request_uri=URI).ok
    again = server.verify("REGISTER", first, lookup, 3.0, request_uri=URI)
    assert again.outcome is AuthOutcome.STALE


def test_authenticator_refuses_bad_configuration() -> None:
    with pytest.raises(LocalProtocolError):
        DigestAuthenticator(REALM, b"short")
    with pytest.raises(LocalProtocolError):
        DigestAuthenticator(REALM, SECRET, algorithms=("SHA-1",))


# --- client: at most one retry per challenge --------------------------------------


def test_client_gives_up_when_rechallenged_with_same_nonce() -> None:
    client = DigestClient("1001", "guess")
    challenge = f'Digest realm="{REALM}", nonce="abc", qop="auth"'
    first = client.authorize("INVITE", URI, challenge)
    assert first is not None
    assert client.authorize("INVITE", URI, challenge, [first]) is None


def test_client_gives_up_when_rejected_with_a_fresh_nonce() -> None:
    server = DigestAuthenticator(REALM, SECRET)
    client = DigestClient("1001", "guess")
    attempts: list[str] = []
    now = 0.0
    for _ in range(10):  # a server that challenges forever
        result = server.verify("INVITE", attempts[-1] if attempts else None, lookup, now, request_uri=URI)
        value = client.authorize("INVITE", URI, list(result.challenge), attempts)
        if value is None:
            break
        attempts.append(value)
        now += 1.0
    assert len(attempts) == 1


def test_client_follows_a_stale_challenge_once_per_nonce() -> None:
    server = DigestAuthenticator(REALM, SECRET, nonce_lifetime=10.0)
    client = DigestClient("1001", "s3cret pass")
    first = client.authorize("REGISTER", URI, server.challenge(0.0))
    assert first is not None
    stale = server.verify("REGISTER", first, lookup, 60.0, request_uri=URI)
    assert stale.outcome is AuthOutcome.STALE
    second = client.authorize("REGISTER", URI, list(stale.challenge), [first])
    assert second is not None
    assert server.verify("REGISTER", second, lookup, 61.0, request_uri=URI).ok
    assert client.authorize("REGISTER", URI, list(stale.challenge), [first, second]) is None


# --- header parsing ------------------------------------------------------------


def test_parse_quoted_strings_escapes_and_spacing() -> None:
    scheme, params = parse_auth_header(
        'Digest  username = "al\\"ice\\\\" ,realm="a, b",nonce=abc/+=,  qop="auth,auth-int" , NC=00000001'
    )
    assert scheme == "Digest"
    assert params == {"username": 'al"ice\\', "realm": "a, b", "nonce": "abc/+=", "qop": "auth,auth-int",
                      "nc": "00000001"}


@pytest.mark.parametrize(
    "value",
    ["", "   ", 'Digest realm="x', "Digest realm", "Digest =x", "Digest a=b c=d", "Digest a=1, a=2",
     'Digest a="b"c', "Di\"gest a=b", "Digest a=", "x" * 9000],
)
def test_parse_rejects_garbage(value: str) -> None:
    with pytest.raises(MalformedAuthHeader) as caught:
        parse_auth_header(value)
    assert caught.value.status_hint == 400


@given(st.text(max_size=200))
def test_parse_never_raises_anything_else(value: str) -> None:
    try:
        scheme, params = parse_auth_header(value)
    except MalformedAuthHeader as error:
        assert error.status_hint == 400
    else:
        assert scheme and scheme in value and all(name == name.lower() for name in params)


_token = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+", min_size=1, max_size=12)


@given(st.dictionaries(_token.map(str.lower), st.text(max_size=30), max_size=8))
def test_quoted_parameters_round_trip(params: dict[str, str]) -> None:
    text = "Digest " + ", ".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in params.items()
    )
    assert parse_auth_header(text) == ("Digest", params)


@given(st.text(max_size=120), st.text(max_size=60))
def test_verify_never_raises_on_garbage(value: str, method: str) -> None:
    server = DigestAuthenticator(REALM, SECRET)
    for candidate in (value, "Digest " + value, f'Digest realm="{REALM}", ' + value):
        result = server.verify(method or "INVITE", candidate, lookup, 0.0, request_uri=URI)
        assert not result.ok


def test_challenge_order_is_the_configured_order() -> None:
    # Deployed UAs often answer only the first challenge and know only MD5: the operator picks the order.
    md5_first = DigestAuthenticator("voxcenter.test", b"k" * 32, algorithms=("MD5", "SHA-256"))
    values = md5_first.challenge(0.0)
    assert ["algorithm=MD5" in values[0], "algorithm=SHA-256" in values[1]] == [True, True]
    sha_first = DigestAuthenticator("voxcenter.test", b"k" * 32, algorithms=("SHA-256", "MD5"))
    assert "algorithm=SHA-256" in sha_first.challenge(0.0)[0]
