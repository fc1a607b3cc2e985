"""A far end that takes our CANCEL but never ends the INVITE with a final response (no 487): after 64·T1 the
call is given up (RFC 3261 §9.1) instead of ringing there for ever."""

from __future__ import annotations

import asyncio

import pytest

from tests.interop.rawclient import UdpClient
from voxcenter.sip.dialog import DialogLayer
from voxcenter.sip.endpoint import EndpointSettings, Listener, RequestFailed, SipEndpoint
from voxcenter.sip.message import Request, make_response, parse_message
from voxcenter.sip.timers import TimerValues
from voxcenter.sip.transaction import TransactionLayer
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import SipUri

SDP = b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"


async def test_an_invite_whose_cancel_gets_no_487_is_given_up_after_64_t1() -> None:
    async def no_calls(session: object) -> None:
        raise AssertionError("nothing calls this endpoint")

    timers = TimerValues(t1=0.05)  # 64·T1 = 3.2 s
    endpoint = SipEndpoint(EndpointSettings(listeners=[Listener("udp", "127.0.0.1", 0)]),
                           credentials=lambda *_: None, application=no_calls,
                           ua=DialogLayer(TransactionLayer(timers=timers)))
    await endpoint.start()
    try:
        async with UdpClient() as far:
            target = SipUri("sip", "+33140009", None, "127.0.0.1", far.port)
            call = asyncio.ensure_future(endpoint.invite(target, Address("udp", "127.0.0.1", far.port), SDP,
                                                         ring_timeout=0.3))
            invite = parse_message(await far.receive(5.0) or b"")
            assert isinstance(invite, Request) and invite.method == "INVITE"
            ringing = make_response(invite, 180, to_tag="deaf")
            far.send(ringing.encode(), "127.0.0.1", endpoint.address("udp").port)
            while True:  # our CANCEL comes at the ring timeout: its 200, and never a 487 for the INVITE
                data = await far.receive(5.0)
                assert data is not None, "no CANCEL"
                message = parse_message(data)
                if isinstance(message, Request) and message.method == "CANCEL":
                    far.send(make_response(message, 200).encode(), "127.0.0.1", endpoint.address("udp").port)
                    break
            started = asyncio.get_running_loop().time()
            with pytest.raises(RequestFailed) as failure:
                await asyncio.wait_for(call, 10.0)
            waited = asyncio.get_running_loop().time() - started
            assert failure.value.status == 408 and 2.5 < waited < 6.0, (failure.value, waited)
            assert endpoint.calls_in_progress == 0 and not endpoint.sessions
    finally:
        await endpoint.stop()
