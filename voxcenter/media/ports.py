"""The RTP port pool: even ports for RTP, the odd one above for RTCP (RFC 3550 §11).

The pool hands out *bound sockets*, not numbers, so there is no window between
"this port looks free" and "bind": a port another process holds fails to
bind and is skipped. Allocation walks the range round-robin from where the
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
        self, pool: PortPool, host: str, port: int, rtp_socket: socket.socket, rtcp_socket: socket.socket | None
    ) -> None:
        self._pool: PortPool | None = pool
        self.host = host
        """Local address the sockets are bound to."""
        self.port = port
        """The even RTP port; RTCP is ``port + 1``."""
        self.rtp_socket = rtp_socket
        """Bound, non-blocking UDP socket for RTP (and RTCP too under rtcp-mux)."""
        self.rtcp_socket = rtcp_socket
        """Bound UDP socket for RTCP, or ``None`` under rtcp-mux (the port stays reserved either way)."""

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
            rtp = _bind(family, host, port)
            if rtp is None:
                continue
            # The pair must be whole even under mux, so a peer without a=rtcp-mux can still be answered.
            rtcp = _bind(family, host, port + 1)
            if rtcp is None:
                rtp.close()
                continue
            if rtcp_mux:
                rtcp.close()
                rtcp = None
            self._in_use.add(port)
            return PortLease(self, host, port, rtp, rtcp)
        raise PortPoolExhaustedError(
            f"no free RTP port pair in {self.start}-{self.end} on {host} ({self.in_use} leased here): widen the range"
        )

    def _release(self, port: int) -> None:
        self._in_use.discard(port)


def _bind(family: socket.AddressFamily, host: str, port: int) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock
