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
        try:
            self.allowlist = tuple(ipaddress.ip_network(n, strict=False) for n in allowlist)
        except ValueError as error:
            raise LocalProtocolError(f"bad allowlist network: {error}") from None
        self._max_sources = max_sources
        self._max_bans = max_bans
        self._ipv6_prefix = ipv6_prefix
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._bans: dict[str, Ban] = {}

    def _key(self, source_ip: str) -> str | None:
        """The counting key for a source, None when it is allowlisted."""
        try:
            address: IPAddress = ipaddress.ip_address(source_ip.split("%", 1)[0])
        except ValueError:
            raise LocalProtocolError(f"not an IP address: {source_ip!r}") from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowlist):
            return None
        if isinstance(address, ipaddress.IPv6Address) and self._ipv6_prefix < 128:
            return str(ipaddress.IPv6Network((address, self._ipv6_prefix), strict=False))
        return str(address)

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
