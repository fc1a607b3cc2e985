"""End-to-end harness shared by every e2e suite: dial plans and servers, waiting, the SQLite store, SIPp caller
scenarios, what a caller hears, and agent phones.

The agent phone is built from voxcenter's own SIP endpoint (register with digest, dial feature codes, answer
INVITEs); the real-peer suites use baresip and SIPp for the same roles. Suite-specific peers live next to
their suites (``queue_peers``, ``whole_call_peers``, ``peers``) and build on this module.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tests.interop.baresip import Baresip
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU
from voxcenter.media.prompts import PromptLibrary
from voxcenter.runtime.server import Server
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import NameAddr, SipUri
from voxcenter.store.types import from_iso_text

REPO = Path(__file__).resolve().parents[2]
CARRIER_IP = "127.0.0.2"
"""Callers arrive from here (a trusted trunk); agents' phones use 127.0.0.1 and digest."""
CALLER_HZ = 440.0
"""The tone callers speak."""
AGENT_HZ = 660.0
"""The tone agents speak."""


# --- dial plans and servers ----------------------------------------------------------------------------------------

RTP_PORTS = (10000, 32768)
"""Where test servers take their RTP ranges: below the kernel's ephemeral ports (32768 and up), where the peers'
sockets (``free_port``, SIPp, baresip) land, so a server never takes a port a peer was just given."""


def rtp_base_for_test() -> int:
    """An RTP port range start with room for 1000 ports, at random in this test process's share of
    ``RTP_PORTS``: the whole of it, or under pytest-xdist (``-n``) one worker's slice, so that the servers of
    tests running side by side never draw from the same ports. Another test run on the machine at the same time
    is unlikely to collide (the draw is random), and a port held elsewhere is skipped by the server anyway."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    low, high = RTP_PORTS
    span = (high - low) // max(workers, 1)
    start = low + worker * span
    return start + secrets.randbelow(max(1, (span - 1000) // 100 + 1)) * 100


def plan_sections(directory: Path, body: str, *, sip_port: int, rtp_base: int, inactivity_timeout: str = "20s",
                  database_url: str | None = None, api_port: int | None = None) -> str:
    """A whole test dial plan: ``body`` (trunks, numbers, ivr, queues, agents; YAML at column 0) between the
    sections every suite shares (SIP on loopback, an RTP range, prompts, recordings, the store in ``directory``
    or at ``database_url``, the realm, the admin API on ``api_port`` or off)."""
    head = textwrap.dedent(f"""\
        sip:
          listen:
            - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
        rtp:
          address: 127.0.0.1
          port_min: {rtp_base}
          port_max: {rtp_base + 199}
          inactivity_timeout: {inactivity_timeout}
        """)
    api = f"  enabled: true\n  port: {api_port}\n  token: test-token\n" if api_port else "  enabled: false\n"
    tail = textwrap.dedent(f"""\
        prompts:
          directory: {REPO / "prompts"}
          default_language: en
          languages: [en]
        recording:
          enabled: true
          directory: {directory / "recordings"}
        database:
          url: {database_url or f"sqlite+aiosqlite:///{directory / 'voxcenter.db'}"}
          journal_directory: {directory / "journal"}
        security:
          realm: voxcenter.test
          # Every agent phone of these tests shares 127.0.0.1, like an office behind one NAT address: exempt
          # from the per-source request limit and bans, as the README tells such an office to do.
          never_ban: [127.0.0.1/32]
          # The suite runs its servers, peers and itself on two cores: a server shedding new calls past the
          # default 50 ms of event-loop lag would refuse test calls for the machine's sake, not the test's.
          max_loop_lag: 2s
        api:
        """) + api
    return head + body + tail


DEFAULT_TRUNKS = f"  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n"
"""The ``trunks:`` body of the runtime plan: the carrier, trusted by address."""


def dial_plan(
    tmp: Path, *, sip_port: int, rtp_base: int, extra: str = "", api_port: int | None = None, trunks: str | None = None
) -> Path:
    """The runtime suite's dial plan; ``trunks`` replaces the body of the ``trunks:`` section (YAML indented by 2)."""
    body = "trunks:\n" + (trunks or DEFAULT_TRUNKS) + textwrap.dedent("""\
        numbers:
          '200': {node: sales}
          '201': {node: short-queue}
          '202': {node: to-alice}
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
            announcements: {music_on_hold: moh, position_every: 30s}
          short:
            join_when: always
            leave_when: never
            max_wait: 2s
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [sales, short]}
          '1002': {name: Bob, password: pw-1002, queues: [sales]}
        """)
    text = plan_sections(tmp, body, sip_port=sip_port, rtp_base=rtp_base, api_port=api_port) + extra
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


@asynccontextmanager
async def served(plan: Path, node: str = "test") -> AsyncIterator[Server]:
    """A voxcenter Server in this process on ``plan``, stopped at once (no drain) afterwards."""
    server = Server(plan, node=node)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(drain_timeout=0)


@asynccontextmanager
async def running_server(
    tmp: Path, extra: str = "", api_port: int | None = None, trunks: str | None = None
) -> AsyncIterator[Server]:
    """A Server on the runtime suite's dial plan."""
    path = dial_plan(tmp, sip_port=free_port(), rtp_base=rtp_base_for_test(), extra=extra, api_port=api_port,
                     trunks=trunks)
    async with served(path) as server:
        yield server


# --- voxcenter run as a child process -------------------------------------------------------------------------

class ServerProcess:
    """``voxcenter run`` in a child process; its log (JSON lines) goes to a file."""

    def __init__(self, config: Path, log: Path, *, drain: float = 0.0, node: str = "test") -> None:
        self.config = config
        self.log_path = log
        self.drain = drain
        self.node = node
        self.process: asyncio.subprocess.Process | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def lines(self) -> list[dict[str, Any]]:
        """The log as JSON objects, one a line (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voxcenter.cli", "run", "--config", str(self.config), "--log-json",
                "--drain", f"{self.drain:g}s", "--node", self.node,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        await self.logged("voxcenter.started", 30)

    async def logged(self, event: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while f'"event": "{event}"' not in self.log():
            assert self.process is not None
            if self.process.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"no {event} in the server log:\n{self.log()[-4000:]}")
            await asyncio.sleep(0.05)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exit_status(self, timeout: float) -> int:
        assert self.process is not None
        await asyncio.wait_for(self.process.wait(), timeout)
        assert self.process.returncode is not None
        return self.process.returncode

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()



# --- waiting and the SQLite store ----------------------------------------------------------------------------------

async def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; generous deadlines, the machine may be loaded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


async def records(url: str, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` (no parameters) as dicts, on PostgreSQL or SQLite, with times (columns named ``at`` or
    ``*_at``) as POSIX seconds whatever the database stores."""
    if url.startswith("postgresql"):
        import asyncpg

        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
        try:
            found = [dict(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()
    else:
        with sqlite3.connect(url.split("///", 1)[1]) as connection:
            connection.row_factory = sqlite3.Row
            found = [dict(row) for row in connection.execute(sql)]
    for row in found:
        for name, value in row.items():
            if (name == "at" or name.endswith("_at")) and value is not None:
                row[name] = value.timestamp() if isinstance(value, datetime) else from_iso_text(value)
    return found


def query(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the SQLite store at ``db``."""
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql, args))


# --- SIPp callers ----------------------------------------------------------------------------------------------------

def caller_scenario(*, from_user: str, hangs_up: Literal["caller", "voxcenter", "either"], after: float = 0.0,
                    media: tuple[str, int] | None = None, pcap: str | None = None) -> str:
    """A SIPp caller scenario: INVITE (PCMU and telephone-events), ACK, then the end of the call.

    ``hangs_up``: ``"caller"`` sends BYE ``after`` seconds past the ACK (a BYE from voxcenter first fails the
    call); ``"voxcenter"`` waits for voxcenter's BYE; ``"either"`` waits ``after`` seconds for voxcenter's BYE,
    then sends its own. ``media`` names the RTP socket the SDP offers (default: SIPp's own media port);
    ``pcap``, a capture in SIPp's working directory to replay as the caller's audio.
    """
    from_header = f'From: "caller" <sip:{from_user}@[local_ip]:[local_port]>;tag=c[pid]-[call_number]'
    if media is None:
        connection, port = "IN IP[media_ip_type] [media_ip]", "[auto_media_port]"
    else:
        connection, port = f"IN IP4 {media[0]}", str(media[1])
    invite = f"""\
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      {from_header}
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{from_user}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c={connection}
      t=0 0
      m=audio {port} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="183" optional="true" />
  <recv response="200" rtd="true" rrs="true" />
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {from_header}
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
    replay = ""
    if pcap is not None:
        replay = f'  <nop>\n    <action>\n      <exec play_pcap_audio="{pcap}" />\n    </action>\n  </nop>\n'
    bye = f"""\
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {from_header}
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true" />
"""

    def ok_to_bye(attributes: str) -> str:
        return f"""\
  <send{attributes}>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

    milliseconds = int(after * 1000)
    if hangs_up == "caller":
        ending = f'  <pause milliseconds="{milliseconds}" />\n' + bye
    elif hangs_up == "voxcenter":
        ending = '  <recv request="BYE" />\n' + ok_to_bye("")
    else:
        ending = (f'  <recv request="BYE" timeout="{milliseconds}" ontimeout="hangup" />\n' + ok_to_bye(' next="done"')
                  + '  <label id="hangup" />\n' + bye + '  <label id="done" />\n')
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            f'<scenario name="caller {from_user}">\n' + invite + replay + ending + "</scenario>\n")


# --- what a caller hears -------------------------------------------------------------------------------------------

PROMPTS = PromptLibrary(REPO / "prompts")


def voiced_frames(name: str, language: str = "en") -> list[bytes]:
    """The PCMU payloads voxcenter sends for a prompt, without its near-silent frames (those are shared by all)."""
    return [frame for frame in PROMPTS.load(language, name).frames(PCMU) if len(set(frame)) > 16]


def share_heard(heard: list[bytes], frames: list[bytes]) -> float:
    """Share of ``frames`` found among the payloads ``heard`` (1.0: the whole prompt arrived)."""
    if not frames:
        raise AssertionError("a prompt without sound cannot be recognised")
    received = set(heard)
    return sum(1 for frame in frames if frame in received) / len(frames)


def first_heard(heard: list[bytes], frames: list[bytes]) -> int:
    """Index in ``heard`` of the first frame of ``frames`` (-1: none arrived)."""
    wanted = set(frames)
    return next((index for index, frame in enumerate(heard) if frame in wanted), -1)


# --- agents ----------------------------------------------------------------------------------------------------------

def answer_sdp(port: int) -> bytes:
    return (
        "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\na=sendrecv\r\n"
    ).encode()


async def feature_code(phone: Baresip, code: str, registrar: str) -> None:
    """Dial a feature code from baresip: voxcenter answers with a short tone and hangs up."""
    await phone.dial(f"sip:{code}@{registrar}", timeout=15)
    await phone.ctrl.wait_event("CALL_CLOSED", 15)


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
        # A phone sheds nothing: on a loaded test machine its event loop lags, and an endpoint's overload
        # control would answer voxcenter's INVITE 503.
        settings = EndpointSettings(listeners=[Listener("udp", "127.0.0.1", 0)], realm="phone",
                                    trusted_networks={"registrar": ("127.0.0.0/8",)}, max_loop_lag=None)
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

    async def register(self, expires: int = 300) -> int:
        """REGISTER this phone (``expires=0`` removes its bindings); returns the final status."""
        assert self.endpoint is not None
        aor = NameAddr(self._server_uri(self.extension))
        response = await self.endpoint.request(
            "REGISTER", self._server_uri(), self.server_address, from_user=self.extension, to=aor,
            headers=[("Expires", str(expires))], credentials=self.credentials,
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
