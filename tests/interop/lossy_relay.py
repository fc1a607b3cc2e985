"""A lossy UDP relay between a peer (SIPp) and voxcenter: every datagram, SIP or RTP, either way, is dropped with
a given probability.

The peer lives at ``PEER_HOST`` but presents itself as ``FACE_HOST`` (its Via, Contact and SDP say so): voxcenter
sends to the relay's face sockets there. The peer sends to ``INNER_HOST``: the relay's SIP socket, and the
relay's RTP sockets on every port of voxcenter's RTP range (voxcenter advertises ``INNER_HOST`` in its SDP as
``rtp.external_address``). What comes in on an inner socket leaves through the face socket towards voxcenter,
and the reverse, so voxcenter's symmetric RTP and its SIP responses keep going through the relay.

Only loopback addresses, one asyncio datagram endpoint per socket, a seeded random generator.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

PEER_HOST = "127.0.0.2"
"""Where the peer really is (SIPp binds here)."""
FACE_HOST = "127.0.0.3"
"""Where voxcenter believes the peer is."""
INNER_HOST = "127.0.0.4"
"""Where the peer believes voxcenter is."""


@dataclass
class LossCounter:
    """Datagrams relayed and dropped."""

    relayed: int = 0
    dropped: int = 0


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)


@dataclass
class LossyRelay:
    """See the module docstring. ``sip_port`` is the peer's SIP port (used on ``PEER_HOST`` and ``FACE_HOST``)."""

    loss: float
    server_sip: tuple[str, int]
    sip_port: int
    rtp_ports: range
    peer_media_port: int
    seed: int = 4733
    counter: LossCounter = field(default_factory=LossCounter)
    inner_sip_port: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._sockets: list[_Socket] = []
        self._inner_rtp: dict[int, _Socket] = {}

    def _pass(self) -> bool:
        if self._random.random() < self.loss:
            self.counter.dropped += 1
            return False
        self.counter.relayed += 1
        return True

    async def _bind(self, host: str, port: int, on_datagram: Any) -> _Socket:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: _Socket(on_datagram), local_addr=(host, port))
        self._sockets.append(protocol)
        return protocol

    async def __aenter__(self) -> LossyRelay:
        peer_sip = (PEER_HOST, self.sip_port)
        face_sip: _Socket
        inner_sip: _Socket

        def from_peer_sip(data: bytes, _addr: tuple[str, int]) -> None:
            if self._pass():
                face_sip.send(data, self.server_sip)

        def from_server_sip(data: bytes, _addr: tuple[str, int]) -> None:
            if self._pass():
                inner_sip.send(data, peer_sip)

        inner_sip = await self._bind(INNER_HOST, 0, from_peer_sip)
        assert inner_sip.transport is not None
        self.inner_sip_port = inner_sip.transport.get_extra_info("sockname")[1]
        face_sip = await self._bind(FACE_HOST, self.sip_port, from_server_sip)

        face_rtp: _Socket
        peer_media = (PEER_HOST, self.peer_media_port)

        def from_server_rtp(data: bytes, addr: tuple[str, int]) -> None:
            inner = self._inner_rtp.get(addr[1])
            if inner is not None and self._pass():
                inner.send(data, peer_media)

        face_rtp = await self._bind(FACE_HOST, self.peer_media_port, from_server_rtp)
        for port in self.rtp_ports:
            def from_peer_rtp(data: bytes, _addr: tuple[str, int], port: int = port) -> None:
                if self._pass():
                    face_rtp.send(data, (self.server_sip[0], port))

            self._inner_rtp[port] = await self._bind(INNER_HOST, port, from_peer_rtp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for sock in self._sockets:
            if sock.transport is not None:
                sock.transport.close()
