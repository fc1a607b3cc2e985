"""HTTP Digest authentication for SIP: server and client (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

Server side, ``DigestAuthenticator`` keeps no per-client state to issue or
check a nonce: a nonce carries its issue time, a counter and an HMAC over both
under the server secret, so any node holding the secret can verify it. The
only memory is a bounded LRU of nonce-count high-water marks (replay defence).
A wrong password and an unknown user produce the same bytes on the wire and
take the same work; only ``AuthResult.cause`` (for the security log) differs.

Client side, ``DigestClient`` answers a challenge once; a server that keeps
rejecting is given up on rather than looped with.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.uri import parse_uri

# RFC 7616 §3.2 / RFC 8760 §2: algorithm token → hash. "-sess" variants are not offered.
HASHES: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}  # algorithm token → hashlib name
_PREFERENCE = ("SHA-256", "MD5")  # RFC 8760 §2.4: the strongest first
MAX_HEADER_LENGTH = 8_192
MAX_PARAMS = 32

CredentialLookup = Callable[[str, str, str], str | None]
"""(username, realm, algorithm) → the user's HA1 in lower-case hex, or None for an unknown user."""


class MalformedAuthHeader(RemoteProtocolError):
    """An Authorization / WWW-Authenticate value that does not follow RFC 3261 §25 / RFC 7616 §3."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed authentication header: {reason}", status_hint=400)


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")


def parse_auth_header(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Scheme k=v, k="quoted \\"v\\""`` into the scheme and its parameters.

    RFC 3261 §25: ``challenge = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge``,
    ``auth-param = auth-param-name EQUAL (token / quoted-string)``. Names are lower-cased,
    quoted-pairs unescaped; a parameter given twice is an error (RFC 7616 §3.3).
    Raises MalformedAuthHeader and nothing else.
    """
    if len(value) > MAX_HEADER_LENGTH:
        raise MalformedAuthHeader("too long")
    text = value.strip()
    end = 0
    while end < len(text) and text[end] in _TOKEN_CHARS:
        end += 1
    scheme = text[:end]
    if not scheme or (end < len(text) and text[end] not in " \t"):
        raise MalformedAuthHeader(f"no scheme in {value[:40]!r}")
    params: dict[str, str] = {}
    i, n = end, len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            return scheme, params
        start = i
        while i < n and text[i] in _TOKEN_CHARS:
            i += 1
        name = text[start:i].lower()
        while i < n and text[i] in " \t":
            i += 1
        if not name or i >= n or text[i] != "=":
            raise MalformedAuthHeader(f"expected name=value at {text[start:start + 20]!r}")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise MalformedAuthHeader(f"unterminated quoted string for {name!r}")
            i += 1
            param = "".join(chars)
        else:
            start = i
            while i < n and text[i] not in " \t,\"":
                i += 1
            param = text[start:i]
            if not param:
                raise MalformedAuthHeader(f"empty value for {name!r}")
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] != ",":
            raise MalformedAuthHeader(f"expected a comma after {name!r}")
        if name in params:
            raise MalformedAuthHeader(f"parameter {name!r} given twice")
        if len(params) >= MAX_PARAMS:
            raise MalformedAuthHeader("too many parameters")
        params[name] = param


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(HASHES[algorithm], text.encode("utf-8")).hexdigest()


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """HA1 = H(username ":" realm ":" password) in hex (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).

    Store this instead of a plaintext password; it is valid for one realm and algorithm.
    """
    if algorithm not in HASHES:
        raise LocalProtocolError(f"unsupported digest algorithm {algorithm!r}")
    return _hash(algorithm, f"{username}:{realm}:{password}")


def digest_response(
    algorithm: str, ha1_hex: str, nonce: str, method: str, uri: str,
    qop: str | None = None, nc: str = "", cnonce: str = "",
) -> str:
    """The request-digest (RFC 2617 §3.2.2.1; RFC 2069 form when ``qop`` is None), hex."""
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1_hex}:{nonce}:{ha2}")
    return _hash(algorithm, f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


# --- server -------------------------------------------------------------------


def _same_uri(credentials_uri: str, request_uri: str) -> bool:
    """Whether the digest ``uri`` names the Request-URI, up to the case of scheme, host and parameter names."""
    if credentials_uri == request_uri:
        return True
    try:
        return str(parse_uri(credentials_uri)) == str(parse_uri(request_uri))
    except RemoteProtocolError:
        return False


def claimed_username(authorization: Sequence[str]) -> str | None:
    """The username of the first Digest credentials in these Authorization values, unchecked; None if none."""
    for value in authorization:
        try:
            scheme, params = parse_auth_header(value)
        except MalformedAuthHeader:
            return None
        if scheme.lower() == "digest" and params.get("username"):
            return params["username"]
    return None


class AuthOutcome(enum.Enum):
    """What to do with the request."""

    OK = "ok"
    """Authenticated: go on."""
    CHALLENGE = "challenge"
    """No usable credentials for us (none, other realm or scheme, unsupported algorithm): answer 401/407."""
    STALE = "stale"
    """Right password, expired nonce: answer 401/407 with the stale challenge; the client retries silently."""
    FAILED = "failed"
    """Wrong credentials of any kind: answer 401/407 with a fresh challenge and count the failure."""
    BAD_REQUEST = "bad_request"
    """Malformed credentials or a uri that is not the Request-URI: answer 400 (RFC 2617 §3.2.2.5)."""


class FailureCause(enum.Enum):
    """Why authentication did not succeed: for the security log only, never for the wire."""

    NO_CREDENTIALS = "no_credentials"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    WRONG_REALM = "wrong_realm"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    MALFORMED = "malformed"
    URI_MISMATCH = "uri_mismatch"
    BAD_NONCE = "bad_nonce"
    STALE_NONCE = "stale_nonce"
    REPLAY = "replay"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The verdict on one request's credentials."""

    outcome: AuthOutcome
    """What to do; FAILED never says whether the user exists."""
    challenge: tuple[str, ...]
    """WWW-Authenticate / Proxy-Authenticate values to send (one per algorithm); empty for OK and BAD_REQUEST."""
    username: str | None = None
    """The username the client claimed (authenticated only when ``outcome`` is OK)."""
    cause: FailureCause | None = None
    """Why it was not OK, for the security log; must not reach the wire."""

    @property
    def ok(self) -> bool:
        return self.outcome is AuthOutcome.OK

    @property
    def counts_as_failure(self) -> bool:
        """Whether a brute-force tracker should count this attempt."""
        return self.outcome in (AuthOutcome.FAILED, AuthOutcome.BAD_REQUEST)


_NONCE = struct.Struct(">qI")  # issue time in microseconds, per-authenticator counter
_MAC_LENGTH = 16
_CLOCK_SKEW = 5.0  # seconds a nonce may seem to come from the future (nodes' clocks differ)


class DigestAuthenticator:
    """Server side of Digest (RFC 3261 §22.2, §22.3; RFC 7616 §3.3, §3.5; RFC 8760).

    ``now`` is any clock in seconds that every node checking these nonces shares
    (wall-clock time when nodes behind a dispatcher share ``secret``).
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        nonce_lifetime: float = 300.0,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        max_tracked_nonces: int = 10_000,
    ) -> None:
        if not algorithms or any(a not in HASHES for a in algorithms):
            raise LocalProtocolError(f"algorithms must be a non-empty subset of {sorted(HASHES)}")
        if len(secret) < 16:
            raise LocalProtocolError("the nonce secret must be at least 16 bytes")
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        # Challenges list the algorithms in the order given: RFC 8760 §2.4 puts the preferred one first,
        # but many deployed UAs (SIPp 3.6, older desk phones) answer only the first challenge and know
        # only MD5, so the operator decides the order.
        self.algorithms = tuple(dict.fromkeys(algorithms))
        self._secret = secret
        self._counter = 0
        self._max_tracked = max_tracked_nonces
        # nonce → (highest nc accepted, issue time), least recently used first
        self._high_water: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._forgotten_before = float("-inf")  # latest issue time of a nonce evicted from _high_water

    # nonces: base64url(issue time µs, counter, HMAC-SHA256 over both and the realm, truncated)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload + self.realm.encode("utf-8"), hashlib.sha256).digest()[:_MAC_LENGTH]

    def _new_nonce(self, now: float) -> str:
        self._counter = (self._counter + 1) & 0xFFFFFFFF
        payload = _NONCE.pack(int(now * 1_000_000), self._counter)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode("ascii").rstrip("=")

    def _nonce_issued_at(self, nonce: str) -> float | None:
        """Issue time of an authentic nonce, None for a forged or foreign one."""
        if len(nonce) != 38:
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "==")
        except ValueError:
            return None
        payload, mac = raw[: _NONCE.size], raw[_NONCE.size :]
        canonical = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == nonce
        if not canonical or len(mac) != _MAC_LENGTH or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        return float(_NONCE.unpack(payload)[0]) / 1_000_000

    def challenge(self, now: float, stale: bool = False) -> list[str]:
        """WWW-Authenticate values, one per algorithm in the configured order (RFC 8760 §2.4), qop="auth"."""
        nonce = self._new_nonce(now)
        suffix = ", stale=true" if stale else ""
        return [
            f'Digest realm={_quote(self.realm)}, nonce="{nonce}", algorithm={algorithm}, qop="auth"{suffix}'
            for algorithm in self.algorithms
        ]

    def verify(
        self,
        method: str,
        authorization: str | Sequence[str] | None,
        credential_lookup: CredentialLookup,
        now: float,
        *,
        request_uri: str,
    ) -> AuthResult:
        """Check the Authorization (or Proxy-Authorization) values of a request (RFC 3261 §22.3).

        ``authorization`` may hold several header values (one per realm); the one for our
        realm is checked. ``request_uri`` is the Request-URI as text, which the
        credentials' ``uri`` must equal (RFC 2617 §3.2.2.5).
        """
        values = [authorization] if isinstance(authorization, str) else list(authorization or ())
        parsed: dict[str, str] | None = None
        cause = FailureCause.NO_CREDENTIALS
        for value in values:
            try:
                scheme, params = parse_auth_header(value)
            except MalformedAuthHeader:
                return AuthResult(AuthOutcome.BAD_REQUEST, (), None, FailureCause.MALFORMED)
            if scheme.lower() != "digest":
                cause = FailureCause.UNSUPPORTED_SCHEME
            elif params.get("realm") != self.realm:
                cause = FailureCause.WRONG_REALM
            else:
                parsed = params
                break
        if parsed is None:
            return AuthResult(AuthOutcome.CHALLENGE, tuple(self.challenge(now)), None, cause)
        return self._verify_params(method, parsed, credential_lookup, now, request_uri)

    def _verify_params(
        self, method: str, params: dict[str, str], lookup: CredentialLookup, now: float, request_uri: str
    ) -> AuthResult:
        username = params.get("username")
        algorithm = params.get("algorithm", "MD5")
        algorithm = next((a for a in self.algorithms if a.lower() == algorithm.lower()), algorithm)
        if algorithm not in self.algorithms:
            return AuthResult(AuthOutcome.CHALLENGE, tuple(self.challenge(now)), username,
                              FailureCause.UNSUPPORTED_ALGORITHM)
        nonce, uri, response = params.get("nonce"), params.get("uri"), params.get("response")
        qop, nc_text, cnonce = params.get("qop"), params.get("nc"), params.get("cnonce")
        if username is None or nonce is None or uri is None or response is None:
            return AuthResult(AuthOutcome.BAD_REQUEST, (), username, FailureCause.MALFORMED)
        if qop is not None and (qop.lower() != "auth" or nc_text is None or cnonce is None
                                or len(nc_text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in nc_text)):
            return AuthResult(AuthOutcome.BAD_REQUEST, (), username, FailureCause.MALFORMED)
        if not _same_uri(uri, request_uri):
            return AuthResult(AuthOutcome.BAD_REQUEST, (), username, FailureCause.URI_MISMATCH)

        # Compute a digest even for an unknown user, so that both cost the same.
        user_ha1 = lookup(username, self.realm, algorithm)
        known = user_ha1 is not None
        ha1_hex = user_ha1.lower() if user_ha1 is not None else _hash(algorithm, secrets.token_hex(16))
        expected = digest_response(algorithm, ha1_hex, nonce, method, uri, qop, nc_text or "", cnonce or "")
        right = hmac.compare_digest(expected.encode("ascii"), response.lower().encode("ascii", "replace")) and known

        issued_at = self._nonce_issued_at(nonce)
        if issued_at is None:
            return self._failed(now, username, FailureCause.BAD_NONCE)
        if not right:
            return self._failed(now, username, FailureCause.WRONG_PASSWORD if known else FailureCause.UNKNOWN_USER)
        nc = int(nc_text, 16) if nc_text is not None else 1  # RFC 2069 style: the nonce is good once
        tracked = self._high_water.get(nonce)
        expired = not issued_at - _CLOCK_SKEW <= now <= issued_at + self.nonce_lifetime
        if expired or (tracked is None and issued_at <= self._forgotten_before):
            # Authentic and the right password, but too old, or its nc history was
            # evicted from memory: a fresh nonce costs the client one round trip.
            return AuthResult(
                AuthOutcome.STALE, tuple(self.challenge(now, stale=True)), username, FailureCause.STALE_NONCE
            )
        if tracked is not None and nc <= tracked[0]:
            return self._failed(now, username, FailureCause.REPLAY)
        self._high_water[nonce] = (nc, issued_at)
        self._high_water.move_to_end(nonce)
        while len(self._high_water) > self._max_tracked:
            _, (_, evicted_issued_at) = self._high_water.popitem(last=False)
            self._forgotten_before = max(self._forgotten_before, evicted_issued_at)
        return AuthResult(AuthOutcome.OK, (), username, None)

    def _failed(self, now: float, username: str, cause: FailureCause) -> AuthResult:
        return AuthResult(AuthOutcome.FAILED, tuple(self.challenge(now)), username, cause)


# --- client -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One parsed WWW-Authenticate / Proxy-Authenticate Digest challenge (RFC 7616 §3.3)."""

    realm: str
    """Protection space."""
    nonce: str
    """Server nonce."""
    algorithm: str
    """Canonical algorithm token ("MD5", "SHA-256")."""
    qop: tuple[str, ...]
    """Offered qop values, lower-case; empty for an RFC 2069 challenge."""
    opaque: str | None
    """Echoed back unchanged."""
    stale: bool
    """The previous nonce had expired but the credentials were right (RFC 7616 §3.3)."""


def parse_challenge(value: str) -> DigestChallenge | None:
    """Parse a Digest challenge; None when it is another scheme or an algorithm we lack.

    Raises MalformedAuthHeader when it is not a challenge at all.
    """
    scheme, params = parse_auth_header(value)
    if scheme.lower() != "digest":
        return None
    if "realm" not in params or "nonce" not in params:
        raise MalformedAuthHeader("Digest challenge without realm or nonce")
    algorithm = next((a for a in HASHES if a.lower() == params.get("algorithm", "MD5").lower()), None)
    if algorithm is None:
        return None
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=algorithm,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
    )


class DigestClient:
    """Client side of Digest (RFC 3261 §22.2, §22.3), for outbound registration and trunk calls."""

    def __init__(
        self, username: str, password: str, cnonce_factory: Callable[[], str] = lambda: secrets.token_hex(8)
    ) -> None:
        self.username = username
        self._password = password
        self._cnonce_factory = cnonce_factory
        self._nonce_counts: OrderedDict[str, int] = OrderedDict()

    def authorize(
        self,
        request_method: str,
        uri: str,
        challenge_header_value: str | Sequence[str],
        previous_attempts: Sequence[str] = (),
    ) -> str | None:
        """The Authorization / Proxy-Authorization value answering a 401/407, or None to give up.

        ``challenge_header_value`` holds every WWW-Authenticate (or Proxy-Authenticate)
        value of the response; the strongest algorithm is used (RFC 8760 §2.4).
        ``previous_attempts`` are the values already sent for this request, oldest first.
        Credentials are not retried once rejected (RFC 3261 §22.2): a new challenge for a
        realm we already answered is accepted only when it says stale=true with a new nonce.
        """
        values = [challenge_header_value] if isinstance(challenge_header_value, str) else challenge_header_value
        offered: list[DigestChallenge] = []
        for value in values:
            try:
                challenge = parse_challenge(value)
            except MalformedAuthHeader:
                continue
            if challenge is not None and (not challenge.qop or "auth" in challenge.qop):
                offered.append(challenge)
        if not offered:
            return None
        challenge = min(offered, key=lambda c: _PREFERENCE.index(c.algorithm))
        answered = []
        for attempt in previous_attempts:
            try:
                scheme, params = parse_auth_header(attempt)
            except MalformedAuthHeader:
                continue
            if scheme.lower() == "digest" and params.get("realm") == challenge.realm:
                answered.append(params.get("nonce"))
        if answered and (not challenge.stale or challenge.nonce in answered or len(answered) >= 3):
            return None
        return self._answer(request_method, uri, challenge)

    def _answer(self, method: str, uri: str, challenge: DigestChallenge) -> str:
        secret = ha1(self.username, challenge.realm, self._password, challenge.algorithm)
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(challenge.realm)}",
            f"nonce={_quote(challenge.nonce)}",
            f"uri={_quote(uri)}",
        ]
        if challenge.qop:
            nc = self._nonce_counts.pop(challenge.nonce, 0) + 1
            self._nonce_counts[challenge.nonce] = nc
            while len(self._nonce_counts) > 64:
                self._nonce_counts.popitem(last=False)
            nc_text, cnonce = f"{nc:08x}", self._cnonce_factory()
            response = digest_response(
                challenge.algorithm, secret, challenge.nonce, method, uri, "auth", nc_text, cnonce
            )
            parts += [f'response="{response}"', f"algorithm={challenge.algorithm}", f"cnonce={_quote(cnonce)}",
                      "qop=auth", f"nc={nc_text}"]
        else:
            response = digest_response(challenge.algorithm, secret, challenge.nonce, method, uri)
            parts += [f'response="{response}"', f"algorithm={challenge.algorithm}"]
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        return "Digest " + ", ".join(parts)
