"""The RTP port pool: even ports for RTP, the odd one above for RTCP (RFC 3550 §11).

The pool hands out *bound sockets*, not numbers, so there is no window between
"this port looks free" and "bind": a port another process holds fails to
bind and is skipped. A leg that may never carry media (a call the IVR hangs up
at once) can :meth:`PortPool.reserve` a pair instead: the number is its own,
nothing is bound until :meth:`PortLease.bind`. Allocation walks the range round-robin from where the
last one ended, so a port just released is the last to be reused (late
packets of the old call do not land in a new one).
"""

from __future__ import annotations

import socket


class PortPoolExhaustedError(RuntimeError):
    """Every RTP port pair in the configured range is in use: a capacity problem of this host's configuration."""


class PortLease:
    """A bound RTP socket (and its RTCP sibling) taken from a :class:`PortPool`; ``release()`` gives it back."""

    __slots__ = ("_pool", "host", "port", "rtcp_socket", "rtp_socket")

    def __init__(
        self, pool: PortPool, host: str, port: int, rtp_socket: socket.socket | None,
        rtcp_socket: socket.socket | None,
    ) -> None:
        self._pool: PortPool | None = pool
        self.host = host
        """Local address the sockets are bound to."""
        self.port = port
        """The even RTP port; RTCP is ``port + 1``."""
        self.rtp_socket = rtp_socket
        """Bound, non-blocking UDP socket for RTP (and RTCP too under rtcp-mux); None until bound (reserved)."""
        self.rtcp_socket = rtcp_socket
        """Bound UDP socket for RTCP, or ``None`` under rtcp-mux (the port stays reserved either way)."""

    @property
    def bound(self) -> bool:
        return self.rtp_socket is not None

    def bind(self, rtcp_mux: bool = False) -> bool:
        """Bind a reserved pair (RTP, and RTCP unless ``rtcp_mux``); False when another process holds it."""
        if self.rtp_socket is not None:
            return True
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        pair = _bind_pair(family, self.host, self.port, rtcp_mux)
        if pair is None:
            return False
        self.rtp_socket, self.rtcp_socket = pair
        return True

    def release(self) -> None:
        """Return the port pair to the pool. Closing the sockets is the transport's job; idempotent."""
        if self._pool is not None:
            self._pool._release(self.port)
            self._pool = None


class PortPool:
    """Allocates even RTP ports in ``[start, end]`` on a local address, at most ``(end - start + 1) // 2`` at once."""

    def __init__(self, start: int, end: int) -> None:
        if start % 2:
            start += 1
        if not 0 < start < end <= 65535:
            raise ValueError(f"RTP port range {start}-{end}: need 0 < start < end <= 65535 with room for a pair")
        self.start = start
        """First RTP port (even)."""
        self.end = end
        """Last usable port (an RTP port needs end >= port + 1)."""
        self._in_use: set[int] = set()
        self._next = start

    @property
    def capacity(self) -> int:
        """How many port pairs the range holds."""
        return (self.end - self.start + 1) // 2

    @property
    def in_use(self) -> int:
        """How many pairs are leased now."""
        return len(self._in_use)

    def allocate(self, host: str, rtcp_mux: bool = False) -> PortLease:
        """Bind the next free pair on ``host``; raise :class:`PortPoolExhaustedError` after one full sweep."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(self.capacity):
            port = self._next
            self._next = port + 2 if port + 3 <= self.end else self.start
            if port in self._in_use:
                continue
            pair = _bind_pair(family, host, port, rtcp_mux)
            if pair is None:
                continue
            self._in_use.add(port)
            return PortLease(self, host, port, *pair)
        raise self._exhausted(host)

    def reserve(self, host: str) -> PortLease:
        """The next pair not leased here, bound to nothing yet (``lease.bind()`` binds it, and can fail when
        another process holds the port); raise :class:`PortPoolExhaustedError` when every pair is leased."""
        for _ in range(self.capacity):
            port = self._next
            self._next = port + 2 if port + 3 <= self.end else self.start
            if port not in self._in_use:
                self._in_use.add(port)
                return PortLease(self, host, port, None, None)
        raise self._exhausted(host)

    def _exhausted(self, host: str) -> PortPoolExhaustedError:
        return PortPoolExhaustedError(
            f"no free RTP port pair in {self.start}-{self.end} on {host} ({self.in_use} leased here): widen the range"
        )

    def _release(self, port: int) -> None:
        self._in_use.discard(port)


def _bind_pair(
    family: socket.AddressFamily, host: str, port: int, rtcp_mux: bool
) -> tuple[socket.socket, socket.socket | None] | None:
    rtp = _bind(family, host, port)
    if rtp is None:
        return None
    # The pair must be whole even under mux, so a peer without a=rtcp-mux can still be answered.
    rtcp = _bind(family, host, port + 1)
    if rtcp is None:
        rtp.close()
        return None
    if rtcp_mux:
        rtcp.close()
        return rtp, None
    return rtp, rtcp


def _bind(family: socket.AddressFamily, host: str, port: int) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock
