"""TCP and TLS faults over real sockets: trickled messages, handshake floods, clients without SNI, expired
certificates."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from tests.interop.apps import REALM, answer_and_wait, credentials, running_endpoint
from tests.interop.certificates import certificate
from tests.interop.rawclient import sip_request
from voxcenter.config import load_config
from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.message import Response, parse_message
from voxcenter.sip.transport import Address, TransportLimits
from voxcenter.sip.uri import SipUri


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (reads everything until then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (left := deadline - loop.time()) > 0:
            if not await asyncio.wait_for(reader.read(4096), left):
                return True
    except (TimeoutError, ConnectionError):
        return loop.time() < deadline
    return False


async def test_sixty_connections_trickling_a_byte_at_a_time_are_closed_after_the_message_timeout() -> None:
    limits = TransportLimits(message_timeout=1.0, max_connections_per_source=100)
    async with running_endpoint(answer_and_wait, transports=("tcp",), transport_limits=limits) as endpoint:
        port = endpoint.address("tcp").port
        message = sip_request("OPTIONS", 5060, call_id="slow", uri="sip:127.0.0.1", transport="TCP")
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(60)]
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def trickle(writer: asyncio.StreamWriter) -> None:
            for byte in message:
                if writer.is_closing():
                    return
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:
                    return
                await asyncio.sleep(0.2)

        tricklers = [asyncio.ensure_future(trickle(w)) for _, w in connections]
        closed = await asyncio.gather(*(closed_within(r, 3.0) for r, _ in connections))
        elapsed = loop.time() - started
        for task in tricklers:
            task.cancel()
        assert all(closed) and elapsed < 3.0
        await asyncio.sleep(0.1)
        assert endpoint.transports is not None and endpoint.transports.connection_count == 0
        # A message that arrives whole in time, and a connection idling between messages, are not touched.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(message[:40])
        await asyncio.sleep(0.4)
        writer.write(message[40:])
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)).startswith(b"SIP/2.0 200")
        writer.write(b"\r\n")  # a keepalive between messages is not the start of one
        assert not await closed_within(reader, 1.6)  # idle, beyond the message timeout: still open
        writer.close()


def _tls_endpoint_settings(cert: Path, key: Path, **limits: float) -> EndpointSettings:
    return EndpointSettings(listeners=[Listener("tls", "127.0.0.1", 0, str(cert), str(key))], realm=REALM,
                            transport_limits=TransportLimits(**limits))  # type: ignore[arg-type]


async def tls_options(port: int, context: ssl.SSLContext, *, sni: str | None, source: str = "127.0.0.1") -> Response:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=sni or "",
                                                   local_addr=(source, 0))
    writer.write(sip_request("OPTIONS", 5061, call_id=f"tls-{source}", uri="sip:127.0.0.1", transport="TLS"))
    data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3.0)
    writer.close()
    response = parse_message(data + b"\r\n" if not data.endswith(b"\r\n\r\n") else data, datagram=True)
    assert isinstance(response, Response)
    return response


async def test_handshake_flood_is_capped_per_source_timed_out_and_does_not_stop_others(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    settings = _tls_endpoint_settings(cert, key, tls_handshake_timeout=1.0, max_connections_per_source=32)
    endpoint = SipEndpoint(settings, credentials=credentials, application=answer_and_wait)
    await endpoint.start()
    try:
        port = endpoint.address("tls").port
        assert endpoint.transports is not None
        # 40 connections from one address that never send a ClientHello: 32 are held, the rest refused at once.
        flood = [await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.30", 0))
                 for _ in range(40)]
        await asyncio.sleep(0.2)
        assert endpoint.transports.connection_count == 32
        # Meanwhile a phone from another address completes its handshake and is answered.
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        response = await tls_options(port, context, sni="localhost", source="127.0.0.31")
        assert response.status == 200
        # The flood is closed once the handshake timeout has passed.
        closed = await asyncio.gather(*(closed_within(reader, 2.5) for reader, _ in flood))
        assert all(closed)
        await asyncio.sleep(0.1)
        assert endpoint.transports.connection_count == 0
        for _, writer in flood:
            writer.close()
    finally:
        await endpoint.stop()


async def test_a_client_without_sni_gets_the_certificate_and_an_answer(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    seen: list[str | None] = []
    endpoint = SipEndpoint(_tls_endpoint_settings(cert, key), credentials=credentials, application=answer_and_wait)
    await endpoint.start()
    try:
        assert endpoint.transports is not None
        (server_context,) = endpoint.transports.server_contexts.values()
        server_context.sni_callback = lambda _socket, name, _context: seen.append(name)  # type: ignore[assignment]
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False  # no SNI, no host name to check: the certificate chain still is
        response = await tls_options(endpoint.address("tls").port, context, sni=None)
        assert response.status == 200
        with_sni = await tls_options(endpoint.address("tls").port, context, sni="localhost")
        assert with_sni.status == 200
        assert seen == [None, "localhost"]  # the first really sent no server name
    finally:
        await endpoint.stop()


async def test_an_expired_certificate_is_reported_by_check_and_at_start(tmp_path: Path,
                                                                        capfd: pytest.CaptureFixture[str]) -> None:
    cert, key = certificate(tmp_path, days=-1.0)
    plan = tmp_path / "voxcenter.yaml"
    plan.write_text(f"sip:\n  listen:\n    - {{transport: tls, address: 127.0.0.1, port: 5999, cert: {cert}, "
                    f"key: {key}}}\n")
    config = load_config(plan)
    assert [w.message for w in config.warnings if "expired" in w.message], config.warnings
    endpoint = SipEndpoint(_tls_endpoint_settings(cert, key), credentials=credentials, application=answer_and_wait)
    await endpoint.start()  # TLS phones will refuse it, but UDP/TCP phones and trunks go on
    await endpoint.stop()
    assert "sip.tls_certificate_expired" in capfd.readouterr().err


async def test_a_peer_with_an_expired_certificate_fails_at_once_with_503(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, days=-1.0, name="peer")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    ours, our_key = certificate(tmp_path, name="ours")
    endpoint = SipEndpoint(_tls_endpoint_settings(ours, our_key), credentials=credentials,
                           application=answer_and_wait)
    await endpoint.start()
    try:
        assert endpoint.transports is not None
        # We trust the peer's certificate authority: only its expiry is wrong.
        endpoint.transports.tls_client_context = ssl.create_default_context(cafile=str(cert))
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await endpoint.request("OPTIONS", SipUri("sips", None, None, "127.0.0.1", port),
                                          Address("tls", "127.0.0.1", port))
        assert response.status == 503 and loop.time() - started < 5.0  # not a 32 s transaction timeout
    finally:
        await endpoint.stop()
        server.close()
        await server.wait_closed()


async def test_a_partial_message_over_tls_is_timed_out_too(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    endpoint = SipEndpoint(_tls_endpoint_settings(cert, key, message_timeout=1.0), credentials=credentials,
                           application=answer_and_wait)
    await endpoint.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.address("tls").port, ssl=context,
                                                       server_hostname="localhost")
        writer.write(sip_request("OPTIONS", 5061, call_id="tls-half", uri="sip:127.0.0.1", transport="TLS")[:60])
        await writer.drain()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await closed_within(reader, 3.0)
        assert 0.8 < loop.time() - started < 3.0
        writer.close()
    finally:
        await endpoint.stop()
