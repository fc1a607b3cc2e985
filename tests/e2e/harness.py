"""End-to-end harness: a real voxcenter Server on loopback with a test dial plan, and a test agent phone.

The phone is built from voxcenter's own SIP endpoint (register with digest, dial feature codes, answer
INVITEs); the real-peer suites use baresip and SIPp for the same roles.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.interop.sipp import free_port
from voxcenter.runtime.server import Server
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import NameAddr, SipUri

REPO = Path(__file__).resolve().parents[2]
CARRIER_IP = "127.0.0.2"
"""Callers arrive from here (a trusted trunk); agents' phones use 127.0.0.1 and digest."""


def dial_plan(
    tmp: Path, *, sip_port: int, rtp_base: int, extra: str = "", api_port: int | None = None, trunks: str | None = None
) -> Path:
    """The test dial plan; ``trunks`` replaces the body of the ``trunks:`` section (YAML indented by 2)."""
    text = textwrap.dedent(f"""\
        sip:
          listen:
            - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
        rtp:
          address: 127.0.0.1
          port_min: {rtp_base}
          port_max: {rtp_base + 199}
          inactivity_timeout: 20s
        trunks:
        {{TRUNKS}}
        numbers:
          '200': {{node: sales}}
          '201': {{node: short-queue}}
          '202': {{node: to-alice}}
        ivr:
          sales:
            type: queue
            queue: sales
          short-queue:
            type: queue
            queue: short
            on_exit:
              timeout: bye
          bye:
            type: hangup
            prompts: goodbye
          to-alice:
            type: transfer
            agent: '1001'
            ring_timeout: 5s
            on_failure: bye
        queues:
          sales:
            strategy: longest-wait
            ring_timeout: 3s
            retry_delay: 1s
            wrap_up: 1s
            join_when: always
            leave_when: never
            announcements: {{music_on_hold: moh, position_every: 30s}}
          short:
            join_when: always
            leave_when: never
            max_wait: 2s
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [sales, short]}}
          '1002': {{name: Bob, password: pw-1002, queues: [sales]}}
        prompts:
          directory: {REPO / "prompts"}
          default_language: en
          languages: [en]
        recording:
          enabled: true
          directory: {tmp / "recordings"}
        database:
          url: sqlite+aiosqlite:///{tmp / "voxcenter.db"}
          journal_directory: {tmp / "journal"}
        security:
          realm: voxcenter.test
          allowlist: []
        api:
          enabled: {"true" if api_port else "false"}
          port: {api_port or 8088}
          token: test-token
        """).replace("{TRUNKS}\n", trunks or f"  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n") + extra
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


@asynccontextmanager
async def running_server(
    tmp: Path, extra: str = "", api_port: int | None = None, trunks: str | None = None
) -> AsyncIterator[Server]:
    sip_port = free_port()
    path = dial_plan(tmp, sip_port=sip_port, rtp_base=30000 + secrets.randbelow(300) * 100, extra=extra,
                     api_port=api_port, trunks=trunks)
    server = Server(path, node="test")
    await server.start()
    try:
        yield server
    finally:
        await server.stop(drain_timeout=0)


def answer_sdp(port: int) -> bytes:
    return (
        "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\na=sendrecv\r\n"
    ).encode()


@dataclass
class AgentPhone:
    """A softphone for an agent: registers, dials feature codes, answers (or not) incoming calls."""

    extension: str
    password: str
    server_address: Address
    answer: bool = True
    ring_seconds: float = 0.2
    calls: list[SipSession] = field(default_factory=list)
    endpoint: SipEndpoint | None = None

    async def __aenter__(self) -> AgentPhone:
        # Like a real softphone, it takes calls from its registrar without challenging them.
        settings = EndpointSettings(listeners=[Listener("udp", "127.0.0.1", 0)], realm="phone",
                                    trusted_networks={"registrar": ("127.0.0.0/8",)})
        self.endpoint = SipEndpoint(settings, credentials=lambda *_: None, application=self._incoming)
        await self.endpoint.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.endpoint is not None
        await self.endpoint.stop()

    @property
    def credentials(self) -> DigestClient:
        return DigestClient(self.extension, self.password)

    def _server_uri(self, user: str | None = None) -> SipUri:
        return SipUri("sip", user, None, self.server_address.host, self.server_address.port)

    async def register(self) -> int:
        assert self.endpoint is not None
        aor = NameAddr(self._server_uri(self.extension))
        response = await self.endpoint.request(
            "REGISTER", self._server_uri(), self.server_address, from_user=self.extension, to=aor,
            headers=[("Expires", "300")], credentials=self.credentials,
        )
        return response.status

    async def dial(self, number: str, *, hold: float = 0.5) -> int:
        """Call ``number`` (a feature code), stay ``hold`` seconds, hang up; returns the final status."""
        assert self.endpoint is not None
        try:
            session = await self.endpoint.invite(self._server_uri(number), self.server_address, answer_sdp(9),
                                                 from_user=self.extension, credentials=self.credentials,
                                                 ring_timeout=10)
        except Exception as error:
            return int(getattr(error, "status", 500))
        await asyncio.wait([session.ended], timeout=hold)
        await session.hangup()
        return 200

    async def _incoming(self, session: SipSession) -> None:
        self.calls.append(session)
        session.ring()
        await asyncio.sleep(self.ring_seconds)
        if not self.answer:
            await session.ended
            return
        session.answer(answer_sdp(free_port()))
        await session.ended


def query(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql, args))
