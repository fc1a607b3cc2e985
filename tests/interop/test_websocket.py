"""SIP over WebSocket (RFC 7118) on real sockets: the handshake, registration, and calls both ways on the
connection the client opened, with a client that writes its messages as a browser's SIP library does."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.interop.apps import PASSWORDS, REALM, answer_and_wait, credentials
from tests.interop.certificates import certificate
from tests.interop.test_stream_faults import closed_within
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import EndpointSettings, Listener, RequestFailed, SipEndpoint
from voxcenter.sip.message import Request, Response, make_response, parse_message
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address, TransportLimits
from voxcenter.sip.uri import parse_name_addr

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)


class BrowserLikeClient:
    """A SIP UA on one WebSocket connection: Via sent-by and Contact host under ``.invalid``, as RFC 7118 §5.2
    lets a client that has no address of its own write them (JsSIP and SIP.js do)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, transport: str) -> None:
        self.ws = ws
        self.transport = transport.upper()
        self.host = f"{secrets.token_hex(5)}.invalid"
        self.user = secrets.token_hex(4)
        self.call_id = secrets.token_hex(8)
        self.cseq = 0

    def request(self, method: str, uri: str, *, to: str, extra: str = "", body: str = "") -> str:
        self.cseq += 1
        return (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{self.transport} {self.host};branch=z9hG4bK{secrets.token_hex(6)}\r\n"
            "Max-Forwards: 69\r\n"
            f"To: <{to}>\r\n"
            f"From: <sip:1001@voxcenter.test>;tag={secrets.token_hex(4)}\r\n"
            f"Call-ID: {self.call_id}\r\n"
            f"CSeq: {self.cseq} {method}\r\n"
            f"Contact: <sip:{self.user}@{self.host};transport={self.transport.lower()}>;expires=300\r\n"
            f"{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self, timeout: float = 3.0) -> Request | Response:
        frame = await asyncio.wait_for(self.ws.receive(), timeout)
        assert frame.type is aiohttp.WSMsgType.TEXT, frame
        return parse_message(frame.data.encode())

    async def final(self) -> Response:
        while True:
            message = await self.receive()
            if isinstance(message, Response) and message.status >= 200:
                return message

    async def register(self, server: str) -> Response:
        to = "sip:1001@voxcenter.test"
        await self.send(self.request("REGISTER", f"sip:{server}", to=to))
        challenge = await self.final()
        assert challenge.status == 401
        answer = DigestClient("1001", PASSWORDS["1001"]).authorize(
            "REGISTER", f"sip:{server}", challenge.headers.get_all("WWW-Authenticate"))
        assert answer is not None
        await self.send(self.request("REGISTER", f"sip:{server}", to=to, extra=f"Authorization: {answer}\r\n"))
        return await self.final()


async def start(listener: Listener) -> SipEndpoint:
    settings = EndpointSettings(listeners=[listener], realm=REALM)
    endpoint = SipEndpoint(settings, credentials=credentials, application=answer_and_wait)
    await endpoint.start()
    return endpoint


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
async def test_a_websocket_client_registers_and_is_called_on_its_connection(tmp_path: Path, secure: bool) -> None:
    cert, key = certificate(tmp_path)
    transport = "wss" if secure else "ws"
    endpoint = await start(Listener(transport, "127.0.0.1", 0, str(cert) if secure else None,
                                    str(key) if secure else None))
    context = ssl.create_default_context(cafile=str(cert)) if secure else None
    local = endpoint.address(transport)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{transport}://localhost:{local.port}/", protocols=("sip",), ssl=context or False
        ) as ws:
            assert ws.protocol == "sip"
            client = BrowserLikeClient(ws, transport)
            registered = await client.register(f"127.0.0.1:{local.port}")
            assert registered.status == 200
            # The response went back on the connection although its Via names a host nobody can resolve.
            assert registered.headers.values("Via")[0].startswith(f"SIP/2.0/{transport.upper()} {client.host}")
            (binding,) = endpoint.registrar.lookup("1001")
            assert binding.source.transport == transport and binding.contact.uri.host == client.host

            # The server calls the phone where it registered: over this connection, with a Via and a Contact of
            # the WebSocket transport.
            call = asyncio.ensure_future(endpoint.invite(
                binding.contact.uri, Address(binding.source.transport, binding.source.host, binding.source.port),
                SDP.encode(), from_user="caller"))
            invite = await client.receive()
            assert isinstance(invite, Request) and invite.method == "INVITE"
            assert invite.uri.host == client.host
            assert invite.top_via.transport == transport.upper()
            assert invite.headers.get("Contact") is not None
            contact = parse_name_addr(invite.headers.get("Contact") or "")
            assert contact.uri.params.get("transport") == transport and contact.uri.port == local.port
            ok = make_response(invite, 200, to_tag="ws1")
            ok.headers.add("Contact", f"<sip:{client.user}@{client.host};transport={transport}>")
            ok.headers.add("Content-Type", "application/sdp")
            ok.body = SDP.encode()
            await client.send(ok.encode().decode())
            session: SipSession = await asyncio.wait_for(call, 3)
            ack = await client.receive()
            assert isinstance(ack, Request) and ack.method == "ACK"
            hangup = asyncio.ensure_future(session.hangup())
            bye = await client.receive()
            assert isinstance(bye, Request) and bye.method == "BYE"
            await client.send(make_response(bye, 200).encode().decode())
            await asyncio.wait_for(hangup, 3)

            # A message that does not parse is answered, and the connection stays up.
            await client.send("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bKx\r\n"
                              "To: <sip:x@y>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: x OPTIONS\r\n\r\n")
            refused = await asyncio.wait_for(ws.receive(), 3)
            assert refused.data.startswith("SIP/2.0 400 ")
            await client.send(client.request("OPTIONS", f"sip:127.0.0.1:{local.port}", to="sip:voxcenter@x"))
            assert (await client.final()).status == 200
        # Gone with its connection: nobody can open one to a browser, so the phone is unreachable at once, and a
        # request to it fails at once.
        await asyncio.sleep(0.1)
        assert endpoint.registrar.lookup("1001") == []
        [gone] = endpoint.registrar.lookup("1001", reachable_only=False)
        assert not gone.reachable
        with pytest.raises(RequestFailed):
            await asyncio.wait_for(endpoint.invite(binding.contact.uri, Address(
                binding.source.transport, binding.source.host, binding.source.port), SDP.encode()), 3)
    finally:
        await endpoint.stop()


async def test_a_handshake_without_the_sip_subprotocol_is_refused() -> None:
    endpoint = await start(Listener("ws", "127.0.0.1", 0))
    port = endpoint.address("ws").port
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"ws://127.0.0.1:{port}/", protocols=("chat",))
            assert refused.value.status == 400
            async with http.get(f"http://127.0.0.1:{port}/") as plain:
                assert plain.status == 400
        assert endpoint.transports is not None and endpoint.transports.connection_count == 0
    finally:
        await endpoint.stop()


async def test_connections_that_never_upgrade_are_limited_and_closed_after_the_message_timeout() -> None:
    settings = EndpointSettings(listeners=[Listener("ws", "127.0.0.1", 0)], realm=REALM,
                                transport_limits=TransportLimits(message_timeout=1.0, max_connections_per_source=8))
    endpoint = SipEndpoint(settings, credentials=credentials, application=answer_and_wait)
    await endpoint.start()
    port = endpoint.address("ws").port
    try:
        # Ten connections from one address that send half an HTTP request and then nothing: eight are let in
        # (the per-source limit), two refused at once; the eight are closed once the message timeout is over.
        opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        for _, writer in opened:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        closed_at_once = await asyncio.gather(*(closed_within(reader, 0.5) for reader, _ in opened))
        assert sum(closed_at_once) == 2
        later = await asyncio.gather(*(closed_within(reader, 2.5) for (reader, _), gone in zip(
            opened, closed_at_once, strict=True) if not gone))
        assert all(later) and len(later) == 8
        for _, writer in opened:
            writer.close()
        # The limit counts only connections still upgrading: a client now gets its WebSocket.
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}/", protocols=("sip",)):
            pass
    finally:
        await endpoint.stop()
