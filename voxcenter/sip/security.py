"""Brute-force throttling of authentication failures, and the security log line (house rule 4).

``FailureTracker`` is pure: it takes ``now`` and keeps bounded memory whatever
the number of source addresses an attacker sprays from. IPv6 sources are
counted per /64 (one host usually owns a whole /64), and allowlisted networks
(our trunks) are never counted nor banned.

``security_log_fields`` gives the fields of the one line the endpoint logs per
failure. In production (JSON logs) it looks like::

    {"src_ip": "203.0.113.9", "src_port": 5060, "user": "1001", "reason": "wrong_password", ...,
     "event": "sip_auth_failed", "level": "warning", "timestamp": "2026-11-23T11:55:38.750389Z"}

A fail2ban filter (docs/operations.md has it, tested with fail2ban-regex) matches
``"src_ip": "<HOST>"`` on lines whose event is ``sip_auth_failed``.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from voxcenter.sip.errors import LocalProtocolError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SECURITY_EVENT = "sip_auth_failed"
"""The event name of the security log line (what a fail2ban filter matches)."""
MAX_LOGGED_USER = 64


def parse_source(source_ip: str) -> IPAddress:
    """A source address as an IP address; an IPv4-mapped IPv6 address is the IPv4 one."""
    try:
        address: IPAddress = ipaddress.ip_address(source_ip.split("%", 1)[0])
    except ValueError:
        raise LocalProtocolError(f"not an IP address: {source_ip!r}") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address


def source_key(address: IPAddress, ipv6_prefix: int = 64) -> str:
    """What counts as one source: an IPv4 address, or the IPv6 network of ``ipv6_prefix`` bits around one."""
    if isinstance(address, ipaddress.IPv6Address) and ipv6_prefix < 128:
        return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
    return str(address)


def parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Networks from text (``192.0.2.0/24``, a bare address) or objects; LocalProtocolError on a bad one."""
    try:
        return tuple(ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError as error:
        raise LocalProtocolError(f"bad network: {error}") from None


@dataclass(frozen=True, slots=True)
class Ban:
    """A source that is refused until ``until``."""

    source: str
    """The banned address, or IPv6 /64 network, as text."""
    until: float
    """When the ban ends, on the tracker's clock."""
    last_user: str | None
    """The last username tried from it, for the operator."""
    last_reason: str
    """The last failure reason."""


class FailureTracker:
    """Bans a source after ``max_failures`` failures within ``window`` seconds, for ``ban_time`` seconds.

    Memory is bounded by ``max_sources`` failure histories (least recently failing
    forgotten first) and ``max_bans`` bans (the soonest to end dropped first).
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 60.0,
        ban_time: float = 600.0,
        allowlist: Iterable[str | IPNetwork] = (),
        *,
        max_sources: int = 50_000,
        max_bans: int = 50_000,
        ipv6_prefix: int = 64,
    ) -> None:
        if max_failures < 1 or window <= 0 or ban_time <= 0 or max_sources < 1 or max_bans < 1:
            raise LocalProtocolError("FailureTracker limits must be positive")
        if not 0 <= ipv6_prefix <= 128:
            raise LocalProtocolError("ipv6_prefix must be 0..128")
        self.max_failures = max_failures
        self.window = window
        self.ban_time = ban_time
        self.allowlist = parse_networks(allowlist)
        self._max_sources = max_sources
        self._max_bans = max_bans
        self._ipv6_prefix = ipv6_prefix
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._bans: dict[str, Ban] = {}

    def _key(self, source_ip: str) -> str | None:
        """The counting key for a source, None when it is allowlisted."""
        address = parse_source(source_ip)
        if any(address in network for network in self.allowlist):
            return None
        return source_key(address, self._ipv6_prefix)

    def record_failure(self, source_ip: str, now: float, user: str | None, reason: str) -> Ban | None:
        """Count one failed authentication; returns the Ban when this failure starts one."""
        key = self._key(source_ip)
        if key is None:
            return None
        ban = self._bans.get(key)
        if ban is not None and ban.until > now:
            return None
        times = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
        times.append(now)
        if len(times) == self.max_failures and now - times[0] <= self.window:
            ban = Ban(key, now + self.ban_time, user, reason)
            self._bans[key] = ban
            self._trim_bans(now)
            return ban
        self._failures[key] = times  # re-inserted: most recently failing last
        while len(self._failures) > self._max_sources:
            self._failures.popitem(last=False)
        return None

    def _trim_bans(self, now: float) -> None:
        if len(self._bans) <= self._max_bans:
            return
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        while len(self._bans) > self._max_bans:
            del self._bans[min(self._bans, key=lambda k: self._bans[k].until)]

    def is_exempt(self, source_ip: str) -> bool:
        """Whether ``source_ip`` is on the allowlist (never banned)."""
        return self._key(source_ip) is None

    def is_banned(self, source_ip: str, now: float) -> bool:
        """Whether requests from ``source_ip`` are refused at ``now``."""
        if not self._bans:
            return False  # asked for every request: skip parsing the address while nobody is banned
        key = self._key(source_ip)
        if key is None:
            return False
        ban = self._bans.get(key)
        if ban is None:
            return False
        if ban.until <= now:
            del self._bans[key]
            return False
        return True

    def unban(self, source_ip: str) -> bool:
        """Lift a ban and forget the failures (operator action); whether there was one."""
        key = self._key(source_ip)
        if key is None:
            return False
        self._failures.pop(key, None)
        return self._bans.pop(key, None) is not None

    def bans(self, now: float) -> list[Ban]:
        """The bans in force at ``now``, soonest to end first (expired ones are dropped)."""
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        return sorted(self._bans.values(), key=lambda b: b.until)

    @property
    def tracked_sources(self) -> int:
        """How many failure histories are held (bounded by ``max_sources``)."""
        return len(self._failures)


def _clean(text: str, limit: int = MAX_LOGGED_USER) -> str:
    """Attacker-chosen text made safe for a one-line log: printable, no quotes or spaces, bounded."""
    cleaned = "".join(c if c.isprintable() and c not in " \"'=\\" else "?" for c in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")


def security_log_fields(
    source_ip: str,
    source_port: int | None,
    user: str | None,
    reason: str,
    *,
    method: str | None = None,
    realm: str | None = None,
    banned: bool = False,
) -> dict[str, str | int | bool]:
    """The structured fields of the one security line logged per authentication failure.

    ``event`` comes first and ``src_ip`` second so that a key=value rendering is
    matched by a fixed fail2ban regex; the username is the attacker's text and is
    sanitized (no spaces, quotes, control characters; at most 64 characters).
    """
    fields: dict[str, str | int | bool] = {"event": SECURITY_EVENT, "src_ip": source_ip}
    if source_port is not None:
        fields["src_port"] = source_port
    fields["user"] = _clean(user) if user is not None else "-"
    fields["reason"] = _clean(reason)
    if method is not None:
        fields["method"] = _clean(method, 32)
    if realm is not None:
        fields["realm"] = _clean(realm)
    fields["banned"] = banned
    return fields


THROTTLE_EVENT = "sip_account_throttled"
"""The alert line logged when an account starts being throttled (what a fail2ban filter may also match)."""


@dataclass(frozen=True, slots=True)
class ThrottleStarted:
    """An account crossed its failure limit: the alert to log."""

    user: str
    """The account."""
    failures: int
    """Failures within the window, from every source."""
    sources: int
    """How many distinct sources they came from."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """How to handle an attempt on a throttled account from an address it is not known at."""

    delay: float
    """Seconds to wait before answering."""
    verify: bool
    """Whether its credentials are checked at all: one attempt per ``delay`` is; the others get a fresh
    challenge without being checked, so that guessing in parallel teaches nothing."""


class AccountGuard:
    """Per-account throttling of password guessing from any mix of sources, without a lockout (house rule 4).

    After ``max_failures`` failed authentications on one account within ``window`` seconds, wherever they
    came from, the account is throttled for as long as attempts keep coming: an attempt from an address the
    account is not known at is answered only after ``delay`` seconds, and at most one such attempt per
    ``delay`` is checked at all. An address is known when the account authenticated from it within
    ``known_for`` seconds (or the caller says so: a current registration), and there the account works as
    usual: the real agent is never locked out of the phone on their desk.

    Pure and bounded: at most ``max_accounts`` accounts (the least recently failing forgotten first), each
    with at most ``max_failures`` failure times and ``max_known`` known addresses.
    """

    def __init__(
        self,
        max_failures: int = 10,
        window: float = 600.0,
        delay: float = 2.0,
        *,
        known_for: float = 30 * 86400.0,
        max_accounts: int = 50_000,
        max_known: int = 8,
    ) -> None:
        if max_failures < 1 or window <= 0 or delay <= 0 or known_for <= 0 or max_accounts < 1 or max_known < 1:
            raise LocalProtocolError("AccountGuard limits must be positive")
        self.max_failures = max_failures
        self.window = window
        self.delay = delay
        self.known_for = known_for
        self._max_accounts = max_accounts
        self._max_known = max_known
        self._failures: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self._known: OrderedDict[str, OrderedDict[str, float]] = OrderedDict()
        self._next_check: dict[str, float] = {}

    def reconfigure(self, max_failures: int, window: float, delay: float) -> None:
        """New limits after a reload; known addresses are kept, failure counts too unless their limit changed."""
        if max_failures < 1 or window <= 0 or delay <= 0:
            raise LocalProtocolError("AccountGuard limits must be positive")
        if max_failures != self.max_failures:
            self._failures.clear()
            self._next_check.clear()
        self.max_failures, self.window, self.delay = max_failures, window, delay

    def is_throttled(self, user: str, now: float) -> bool:
        """Whether ``user`` has had ``max_failures`` failures within the last ``window`` seconds."""
        times = self._failures.get(user)
        return times is not None and len(times) == self.max_failures and now - times[0][0] <= self.window

    def is_known(self, user: str, source_ip: str, now: float) -> bool:
        """Whether ``user`` authenticated from ``source_ip`` within ``known_for`` seconds."""
        known = self._known.get(user)
        seen = known.get(source_ip) if known is not None else None
        return seen is not None and now - seen <= self.known_for

    def check(
        self, user: str, source_ip: str, now: float, *, known: bool = False, shared: bool = False
    ) -> Throttle | None:
        """How to handle an attempt on ``user`` from ``source_ip``: None means as usual.

        ``known`` says the caller knows the address for this account by other means (a registration).
        ``shared`` says many clients share the address (a proxy, an office's NAT: ``never_ban``), so that
        having seen the account there proves nothing: the throttle applies to it whatever is known.
        """
        if not self.is_throttled(user, now):
            return None
        if not shared and (known or self.is_known(user, source_ip, now)):
            return None
        if self._next_check.get(user, float("-inf")) <= now:
            self._next_check[user] = now + self.delay
            return Throttle(self.delay, verify=True)
        return Throttle(self.delay, verify=False)

    def record_failure(self, user: str, source_ip: str, now: float) -> ThrottleStarted | None:
        """Count one failed (or unchecked) attempt on ``user``; returns the alert when it starts a throttle."""
        was_throttled = self.is_throttled(user, now)
        times = self._failures.pop(user, None) or deque(maxlen=self.max_failures)
        times.append((now, source_ip))
        self._failures[user] = times  # re-inserted: most recently failing last
        while len(self._failures) > self._max_accounts:
            forgotten, _ = self._failures.popitem(last=False)
            self._next_check.pop(forgotten, None)
        if was_throttled or not self.is_throttled(user, now):
            return None
        return ThrottleStarted(user, len(times), len({source for _, source in times}))

    def record_success(self, user: str, source_ip: str, now: float) -> None:
        """``user`` authenticated from ``source_ip``: the address is known for ``known_for`` seconds."""
        known = self._known.pop(user, None) or OrderedDict()
        known.pop(source_ip, None)
        known[source_ip] = now
        while len(known) > self._max_known:
            known.popitem(last=False)
        self._known[user] = known
        while len(self._known) > self._max_accounts:
            self._known.popitem(last=False)

    @property
    def tracked_accounts(self) -> int:
        """How many accounts have a failure history (bounded by ``max_accounts``)."""
        return len(self._failures)


def throttle_log_fields(alert: ThrottleStarted, source_ip: str, window: float, delay: float) -> dict[str, object]:
    """The fields of the alert line: ``src_ip`` is the source of the failure that started the throttle."""
    return {"event": THROTTLE_EVENT, "src_ip": source_ip, "user": _clean(alert.user), "failures": alert.failures,
            "sources": alert.sources, "window": window, "delay": delay}
