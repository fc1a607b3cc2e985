"""A raw SIP client for tests: sends bytes exactly as given and collects what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from voxcenter.sip.message import Response, parse_message


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)


class UdpClient:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        """The local address to send from (any of 127.0.0.0/8 works on loopback: a second source)."""
        self.transport: asyncio.DatagramTransport | None = None
        self.protocol = _Collector()

    async def __aenter__(self) -> UdpClient:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self.protocol, local_addr=(self.host, 0))
        self.transport = transport
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, host: str, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (host, port))

    async def receive(self, timeout: float = 2.0) -> bytes | None:
        try:
            return await asyncio.wait_for(self.protocol.queue.get(), timeout)
        except TimeoutError:
            return None

    async def final_response(self, timeout: float = 2.0) -> Response | None:
        """The next final (non-1xx) response, skipping provisional ones."""
        while True:
            data = await self.receive(timeout)
            if data is None:
                return None
            message = parse_message(data)
            if isinstance(message, Response) and message.status >= 200:
                return message


async def stream_exchange(
    data: bytes, host: str, port: int, *, tls: ssl.SSLContext | None = None, wait: float = 1.0
) -> bytes:
    """Write ``data`` on a fresh TCP/TLS connection and return what arrives within ``wait`` seconds."""
    reader, writer = await asyncio.open_connection(host, port, ssl=tls, server_hostname="localhost" if tls else None)
    writer.write(data)
    await writer.drain()
    received = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), wait)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        pass
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()
    return received


def sip_request(method: str, port: int, *, call_id: str, cseq: int = 1, extra: str = "", user: str = "1001",
                uri: str | None = None, transport: str = "UDP", branch: str | None = None) -> bytes:
    target = uri or f"sip:{user}@127.0.0.1"
    lines = [
        f"{method} {target} SIP/2.0",
        f"Via: SIP/2.0/{transport} 127.0.0.1:{port};branch={branch or 'z9hG4bK' + call_id + str(cseq)};rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@127.0.0.1>;tag=t{call_id}",
        f"To: <sip:{user}@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:{user}@127.0.0.1:{port}>",
    ]
    if extra:
        lines.extend(extra.strip().split("\n"))
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
