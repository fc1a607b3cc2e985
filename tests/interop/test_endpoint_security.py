"""The endpoint's security policy over real sockets: digest, bans, enumeration, overload, TLS."""

from __future__ import annotations

import asyncio
import re
import ssl
from pathlib import Path

from tests.interop.apps import PASSWORDS, answer_and_wait, running_endpoint
from tests.interop.certificates import certificate
from tests.interop.rawclient import UdpClient, sip_request, stream_exchange
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.message import Response, parse_message
from voxcenter.sip.session import SipSession


def register(port: int, call_id: str, cseq: int, authorization: str = "", user: str = "1001") -> bytes:
    extra = "Expires: 300"
    if authorization:
        extra += f"\nAuthorization: {authorization}"
    return sip_request("REGISTER", port, call_id=call_id, cseq=cseq, extra=extra, user=user,
                       uri="sip:127.0.0.1")


async def challenge_then_answer(client: UdpClient, server_port: int, call_id: str, username: str,
                                password: str, to_user: str = "1001") -> Response:
    client.send(register(client.port, call_id, 1, user=to_user), "127.0.0.1", server_port)
    challenge = await client.final_response()
    assert challenge is not None and challenge.status == 401
    answer = DigestClient(username, password).authorize(
        "REGISTER", "sip:127.0.0.1", challenge.headers.get_all("WWW-Authenticate")
    )
    assert answer is not None
    client.send(register(client.port, call_id, 2, answer, user=to_user), "127.0.0.1", server_port)
    response = await client.final_response()
    assert response is not None
    return response


def shape(response: Response) -> str:
    """A response with the per-request randomness masked: nonces and tags."""
    text = response.encode().decode()
    text = re.sub(r'nonce="[^"]*"', 'nonce="*"', text)
    return re.sub(r"tag=[0-9a-zA-Z]+", "tag=*", text)


async def test_unknown_user_wrong_password_and_untrusted_invite_look_alike() -> None:
    async with running_endpoint(answer_and_wait, trusted=()) as endpoint, UdpClient() as client:
        port = endpoint.address("udp").port
        wrong_password = await challenge_then_answer(client, port, "enum-1", "1001", "nope")
        unknown_user = await challenge_then_answer(client, port, "enum-1", "1001", "nope")
        # Same request shape, once for an existing user with a wrong password, once for nobody.
        nobody = await challenge_then_answer(client, port, "enum-1", "9999", "nope", to_user="1001")
        assert wrong_password.status == unknown_user.status == nobody.status == 401
        assert shape(wrong_password) == shape(nobody)
        # An INVITE from an address no trunk trusts gets the same challenge as any unauthenticated request.
        client.send(sip_request("INVITE", client.port, call_id="enum-1", cseq=9, uri="sip:100@127.0.0.1"),
                    "127.0.0.1", port)
        invite_answer = await client.final_response()
        assert invite_answer is not None and invite_answer.status == 401
        assert invite_answer.headers.get_all("WWW-Authenticate")[0].split("nonce=")[0] == \
            nobody.headers.get_all("WWW-Authenticate")[0].split("nonce=")[0]


async def test_right_password_registers() -> None:
    async with running_endpoint(answer_and_wait, trusted=()) as endpoint, UdpClient() as client:
        response = await challenge_then_answer(client, endpoint.address("udp").port, "ok-1", "1001",
                                               PASSWORDS["1001"])
        assert response.status == 200
        assert endpoint.registrar.is_registered("1001")


async def test_repeated_failures_ban_the_source() -> None:
    async with running_endpoint(answer_and_wait, trusted=(), auth_max_failures=3) as endpoint, \
            UdpClient() as client:
        port = endpoint.address("udp").port
        for attempt in range(3):
            response = await challenge_then_answer(client, port, f"ban-{attempt}", "1001", "guess")
            assert response.status == 401
        # Banned: not even OPTIONS is answered now, and a right password does not help.
        client.send(sip_request("OPTIONS", client.port, call_id="ban-x", uri="sip:127.0.0.1"), "127.0.0.1", port)
        assert await client.receive(timeout=0.5) is None
        assert endpoint.failures.is_banned("127.0.0.1", __import__("time").time())


async def test_unauthenticated_invite_never_reaches_the_application() -> None:
    calls: list[SipSession] = []

    async def application(session: SipSession) -> None:
        calls.append(session)
        await answer_and_wait(session)

    async with running_endpoint(application, trusted=()) as endpoint, UdpClient() as client:
        client.send(sip_request("INVITE", client.port, call_id="fraud-1", uri="sip:0044123456789@127.0.0.1"),
                    "127.0.0.1", endpoint.address("udp").port)
        response = await client.final_response()
        assert response is not None and response.status == 401
        await asyncio.sleep(0.1)
        assert calls == []


async def test_overload_gets_503_with_retry_after() -> None:
    async with running_endpoint(answer_and_wait, max_calls=1, retry_after=7) as endpoint, UdpClient() as client:
        port = endpoint.address("udp").port
        client.send(sip_request("INVITE", client.port, call_id="load-1", uri="sip:100@127.0.0.1"), "127.0.0.1", port)
        first = await client.final_response()
        assert first is not None and first.status == 200
        client.send(sip_request("INVITE", client.port, call_id="load-2", uri="sip:100@127.0.0.1"), "127.0.0.1", port)
        second = await client.final_response()
        assert second is not None and second.status == 503
        assert second.headers.get("Retry-After") == "7"


async def test_a_refused_new_call_leaves_no_state_and_a_call_taken_is_not_refused() -> None:
    """While new calls are refused, the 503 is sent before any transaction or dialog is made, and the
    retransmissions of a call already taken are not mistaken for new calls."""
    async with running_endpoint(answer_and_wait, max_calls=1, retry_after=7) as endpoint, UdpClient() as client:
        port = endpoint.address("udp").port
        taken = sip_request("INVITE", client.port, call_id="shed-1", uri="sip:100@127.0.0.1")
        client.send(taken, "127.0.0.1", port)
        first = await client.final_response()
        assert first is not None and first.status == 200
        servers = dict(endpoint.ua.transactions._servers)
        sessions = dict(endpoint.sessions)
        reached = []  # what the transaction layer is handed from now on
        receive = endpoint.ua.transactions.receive
        endpoint.ua.transactions.receive = lambda message, *args, **kw: (  # type: ignore[method-assign]
            reached.append(message), receive(message, *args, **kw))[1]
        for n in range(5):
            client.send(sip_request("INVITE", client.port, call_id=f"shed-{n + 2}", uri="sip:100@127.0.0.1"),
                        "127.0.0.1", port)
            refused = await client.final_response()
            assert refused is not None and refused.status == 503 and int(refused.headers.get("Retry-After") or 0) >= 7
            assert refused.to.tag and refused.headers.get("Call-ID") == f"shed-{n + 2}"
        assert endpoint.ua.transactions._servers == servers and endpoint.sessions == sessions
        assert endpoint.stats["rejected_overload"] == 5 and reached == []  # refused on arrival
        assert ";rport=" in (refused.headers.get("Via") or "")  # RFC 3581: the answer says where it went
        client.send(taken, "127.0.0.1", port)  # the first call's INVITE again: absorbed, never a 503
        again = await client.final_response(timeout=0.5)
        assert again is None or again.status == 200, again


async def test_a_late_loop_shortens_the_udp_receive_queue_until_it_catches_up() -> None:
    import socket

    async with running_endpoint(answer_and_wait, transports=("udp",)) as endpoint:
        assert endpoint.transports is not None
        sock = next(iter(endpoint.transports._udp.values())).transport.get_extra_info("socket")  # type: ignore[union-attr]
        normal = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        now = endpoint.now()
        for step in range(40):  # two seconds of the loop running 300 ms late
            endpoint.overload.record_lag(0.3, now + 0.05 * step)
        endpoint._probe_lag(endpoint.now())
        assert endpoint.overload.shedding
        short = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert short < normal and short <= 2 * endpoint.settings.transport_limits.udp_overload_buffer_size
        for step in range(200):
            endpoint.overload.record_lag(0.0, now + 2.0 + 0.05 * step)
        endpoint._probe_lag(endpoint.now())
        assert not endpoint.overload.shedding
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == normal


async def test_options_over_tls(tmp_path: Path) -> None:
    from tests.interop.apps import REALM, credentials
    from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint

    cert, key = certificate(tmp_path)
    settings = EndpointSettings(listeners=[Listener("tls", "127.0.0.1", 0, str(cert), str(key))], realm=REALM)
    endpoint = SipEndpoint(settings, credentials=credentials, application=answer_and_wait)
    await endpoint.start()
    try:
        port = endpoint.address("tls").port
        client_context = ssl.create_default_context(cafile=str(cert))
        data = sip_request("OPTIONS", 5061, call_id="tls-1", uri="sip:127.0.0.1", transport="TLS")
        received = await stream_exchange(data, "127.0.0.1", port, tls=client_context, wait=1.0)
        response = parse_message(received, datagram=True)
        assert isinstance(response, Response) and response.status == 200
        assert "INVITE" in (response.headers.get("Allow") or "")
    finally:
        await endpoint.stop()


async def test_a_phone_that_stops_answering_keepalives_is_unreachable() -> None:
    async with running_endpoint(answer_and_wait, trusted=(), keepalive_interval=0.3, keepalive_timeout=0.5) as \
            endpoint, UdpClient() as client:
        response = await challenge_then_answer(client, endpoint.address("udp").port, "ka-1", "1001",
                                               PASSWORDS["1001"])
        assert response.status == 200 and endpoint.registrar.lookup("1001")
        # The server now pings the phone with OPTIONS; this phone never answers them.
        ping = await client.receive(timeout=2.0)
        assert ping is not None and ping.startswith(b"OPTIONS ")
        for _ in range(60):
            if not endpoint.registrar.lookup("1001"):
                break
            await asyncio.sleep(0.1)
        assert endpoint.registrar.lookup("1001") == []  # not rung any more
        assert endpoint.registrar.lookup("1001", reachable_only=False)  # but still registered


async def test_reloaded_settings_change_who_is_trusted() -> None:
    from dataclasses import replace

    async with running_endpoint(answer_and_wait, trusted=()) as endpoint, UdpClient() as client:
        port = endpoint.address("udp").port
        client.send(sip_request("INVITE", client.port, call_id="rl-1", uri="sip:100@127.0.0.1"), "127.0.0.1", port)
        refused = await client.final_response()
        assert refused is not None and refused.status == 401
        notes = endpoint.update_settings(replace(endpoint.settings, trusted_networks={"pbx": ("127.0.0.0/8",)},
                                                 max_calls=7))
        assert notes == [] and endpoint.settings.max_calls == 7
        client.send(sip_request("INVITE", client.port, call_id="rl-2", uri="sip:100@127.0.0.1"), "127.0.0.1", port)
        accepted = await client.final_response()
        assert accepted is not None and accepted.status == 200


async def test_connections_per_source_are_capped() -> None:
    from voxcenter.sip.transport import TransportLimits

    async with running_endpoint(answer_and_wait, transports=("tcp",),
                                transport_limits=TransportLimits(max_connections_per_source=2)) as endpoint:
        port = endpoint.address("tcp").port
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # The third connection from the same address is closed at once, before anything is read.
        assert await asyncio.wait_for(reader.read(1), 2.0) == b""
        assert endpoint.transports is not None and endpoint.transports.connection_count == 2
        for _, w in [*held, (reader, writer)]:
            w.close()
