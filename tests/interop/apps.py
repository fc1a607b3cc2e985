"""Minimal call applications and a server fixture for the SIP integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from voxcenter.sip.auth import ha1
from voxcenter.sip.endpoint import Application, CredentialLookup, EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.session import SipSession

REALM = "voxcenter.test"
PASSWORDS = {"1001": "s3cret-1001", "1002": "s3cret-1002"}


def credentials(username: str, realm: str, algorithm: str) -> str | None:
    password = PASSWORDS.get(username)
    return None if password is None else ha1(username, realm, password, algorithm)


def answer_sdp(session: SipSession, port: int = 40000) -> bytes:
    host = session.endpoint.address(session.remote.transport).host
    return (
        "v=0\r\n"
        f"o=voxcenter 1 1 IN IP4 {host}\r\n"
        "s=voxcenter\r\n"
        f"c=IN IP4 {host}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    ).encode()


async def answer_and_wait(session: SipSession) -> None:
    """Answer at once and stay until the caller hangs up."""
    session.ring()
    session.answer(answer_sdp(session))
    await session.ended


async def answer_and_hang_up(session: SipSession) -> None:
    """Answer at once and hang up as soon as the ACK arrives (the CPS benchmark's application)."""
    session.answer(answer_sdp(session))
    await session.confirmed.wait()
    await session.hangup()


@asynccontextmanager
async def running_endpoint(
    application: Application,
    *,
    transports: tuple[str, ...] = ("udp", "tcp"),
    trusted: tuple[str, ...] = ("127.0.0.0/8",),
    credential_lookup: CredentialLookup = credentials,
    **settings: object,
) -> AsyncIterator[SipEndpoint]:
    """An endpoint on 127.0.0.1 with free ports; SIPp on loopback is a trusted trunk unless ``trusted=()``."""
    listeners = [Listener(t, "127.0.0.1", 0) for t in transports]
    endpoint_settings = EndpointSettings(
        listeners=listeners,
        realm=REALM,
        trusted_networks={"loopback": trusted} if trusted else {},
        **settings,  # type: ignore[arg-type]
    )
    endpoint = SipEndpoint(endpoint_settings, credentials=credential_lookup, application=application)
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.stop()
        await asyncio.sleep(0)
