"""Per-source request rate limiting: the flood defence in front of everything else (house rule 4).

Every request from a source, and every datagram that does not parse, is counted
before the transaction layer sees it. A source may send ``requests`` requests
in a burst and ``requests`` per ``window`` seconds on average: a token bucket,
kept as one number per source (the theoretical arrival time of the generic cell
rate algorithm, ITU-T I.371). The first request beyond that is refused (the
endpoint answers it with 503 and Retry-After) and bans the source for
``ban_time`` seconds, during which everything it sends is dropped unanswered,
so that a flood from a spoofed address reflects at most one datagram.

What this promises, and ``tests/sip/test_ratelimit.py`` checks with hypothesis:

- traffic with at most ``requests`` requests in every ``window`` seconds is never refused
  (a phone refreshing its registration, a trunk within its own limit);
- in any ``d`` seconds a source gets at most ``requests + d * requests / window`` requests
  through, and none at all while it is banned.

Networks can have their own limit (a trusted trunk carrying many calls from one
address) or none at all (``never_ban``, an office behind one NAT address). Like
the authentication ban, IPv6 sources count per /64. Memory is bounded: at most
``max_sources`` buckets (a bucket that has refilled is the same as none, so the
least recently used is dropped first) and ``max_bans`` bans.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.security import IPNetwork, parse_networks, parse_source, source_key

_SLACK = 1e-6
"""Seconds of float rounding forgiven when a bucket is compared with its limit."""
_CLASSIFIED_CACHE = 4096
"""Source addresses whose key and limit are remembered (asked for every request); the table starts over past it."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` requests within ``window`` seconds."""

    requests: int
    """Requests allowed in a burst, and per window on average."""
    window: float
    """Seconds."""

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window <= 0:
            raise LocalProtocolError("a rate limit needs requests >= 1 and a positive window")

    @property
    def interval(self) -> float:
        """Seconds one request uses up of the bucket (the GCRA's emission interval)."""
        return self.window / self.requests


class Verdict(enum.Enum):
    """What to do with one request."""

    ADMIT = "admit"
    """Within the limit: handle it."""
    REFUSE = "refuse"
    """The first request over the limit: answer it 503 (once) and ban the source."""
    DROP = "drop"
    """The source is banned: drop it without an answer."""


@dataclass(frozen=True, slots=True)
class FloodBan:
    """A source over its request rate, dropped until ``until``."""

    source: str
    """The address, or IPv6 /64 network, as text."""
    until: float
    """When the ban ends, on the limiter's clock."""


class SourceRateLimiter:
    """Counts requests per source and bans the ones over their limit (see the module docstring)."""

    def __init__(
        self,
        limit: RateLimit,
        ban_time: float,
        *,
        networks: Sequence[tuple[str | IPNetwork, RateLimit | None]] = (),
        max_sources: int = 50_000,
        max_bans: int = 50_000,
        ipv6_prefix: int = 64,
    ) -> None:
        if ban_time <= 0 or max_sources < 1 or max_bans < 1:
            raise LocalProtocolError("SourceRateLimiter limits must be positive")
        self.limit = limit
        self.ban_time = ban_time
        self._networks: list[tuple[IPNetwork, RateLimit | None]] = []
        self._classified: dict[str, tuple[str, RateLimit] | None] = {}
        self.set_networks(networks)
        self._max_sources = max_sources
        self._max_bans = max_bans
        self._ipv6_prefix = ipv6_prefix
        self._buckets: OrderedDict[str, float] = OrderedDict()
        """Source → its theoretical arrival time: the bucket is full when that is in the past."""
        self._bans: dict[str, FloodBan] = {}

    def reconfigure(
        self, limit: RateLimit, ban_time: float, networks: Iterable[tuple[str | IPNetwork, RateLimit | None]]
    ) -> None:
        """New limits after a reload; the bans in force and the buckets are kept."""
        if ban_time <= 0:
            raise LocalProtocolError("ban_time must be positive")
        self.limit = limit
        self.ban_time = ban_time
        self.set_networks(networks)

    def set_networks(self, networks: Iterable[tuple[str | IPNetwork, RateLimit | None]]) -> None:
        """Networks with their own limit (None: not limited); the first that holds a source applies to it."""
        entries = list(networks)
        parsed = parse_networks(network for network, _ in entries)
        self._networks = [(network, limit) for network, (_, limit) in zip(parsed, entries, strict=True)]
        self._classified.clear()

    def limit_for(self, source_ip: str) -> tuple[str, RateLimit] | None:
        """The counting key and the limit that applies to a source, None when it is not limited."""
        try:
            return self._classified[source_ip]
        except KeyError:
            pass
        if len(self._classified) >= _CLASSIFIED_CACHE:
            self._classified.clear()
        applies = self._classified[source_ip] = self._classify(source_ip)
        return applies

    def _classify(self, source_ip: str) -> tuple[str, RateLimit] | None:
        address = parse_source(source_ip)
        limit: RateLimit | None = self.limit
        for network, own in self._networks:
            if address in network:
                limit = own
                break
        if limit is None:
            return None
        return source_key(address, self._ipv6_prefix), limit

    def admit(self, source_ip: str, now: float) -> Verdict:
        """Count one request from ``source_ip`` at ``now``."""
        applies = self.limit_for(source_ip)
        if applies is None:
            return Verdict.ADMIT
        key, limit = applies
        ban = self._bans.get(key)
        if ban is not None:
            if ban.until > now:
                return Verdict.DROP
            del self._bans[key]
        arrival = self._buckets.pop(key, now)
        if arrival < now:
            arrival = now
        if arrival - now > limit.window - limit.interval + _SLACK:
            self._bans[key] = FloodBan(key, now + self.ban_time)
            self._trim_bans(now)
            return Verdict.REFUSE
        self._buckets[key] = arrival + limit.interval  # re-inserted: most recently used last
        while len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        return Verdict.ADMIT

    def _trim_bans(self, now: float) -> None:
        if len(self._bans) <= self._max_bans:
            return
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        while len(self._bans) > self._max_bans:
            del self._bans[min(self._bans, key=lambda k: self._bans[k].until)]

    def is_banned(self, source_ip: str, now: float) -> bool:
        """Whether ``source_ip`` is banned at ``now`` (without counting a request)."""
        if not self._bans:
            return False
        applies = self.limit_for(source_ip)
        if applies is None:
            return False
        ban = self._bans.get(applies[0])
        return ban is not None and ban.until > now

    def unban(self, source_ip: str) -> bool:
        """Lift a ban and refill the bucket (operator action); whether there was one."""
        applies = self.limit_for(source_ip)
        if applies is None:
            return False
        self._buckets.pop(applies[0], None)
        return self._bans.pop(applies[0], None) is not None

    def bans(self, now: float) -> list[FloodBan]:
        """The bans in force at ``now``, soonest to end first (expired ones are dropped)."""
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        return sorted(self._bans.values(), key=lambda b: b.until)

    @property
    def tracked_sources(self) -> int:
        """How many buckets are held (bounded by ``max_sources``)."""
        return len(self._buckets)
