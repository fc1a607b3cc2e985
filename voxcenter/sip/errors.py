"""Errors that say whose fault it is (house style, after h11)."""

from __future__ import annotations


class SipError(Exception):
    """Base class of voxcenter's SIP errors."""


class LocalProtocolError(SipError):
    """We misused our own API: a bug in voxcenter, never the peer's fault."""


class RemoteProtocolError(SipError):
    """The peer broke the protocol.

    ``status_hint`` is the SIP status to answer a request with (400, 416, 420,
    481, 482, 483, 505, 513, ...); ``None`` means no response can be formed and the
    message is dropped. ``headers`` are extra header fields the response
    should carry (Unsupported for 420, Accept for 415, Allow for 405/501).
    """

    def __init__(
        self, reason: str, status_hint: int | None = 400, *, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.headers = headers
