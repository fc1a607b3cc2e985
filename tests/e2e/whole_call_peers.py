"""Peers and plumbing of the whole-call suites: a PostgreSQL database, a dial plan, SIPp callers, baresip agents.

Callers are SIPp processes on the carrier address (127.0.0.2, a trusted trunk) replaying a pcap: PCMU audio
(a tone) with RFC 4733 key presses inside. Agents are baresip processes on 127.0.0.1 that register with digest
(MD5 challenges, what baresip understands) and log in with ``*45``. Records are read back from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.interop.audio import tone
from tests.interop.baresip import Account, Baresip
from tests.interop.pcap import caller_stream, read_pcap_udp, write_pcap
from tests.interop.sipp import SippResult, free_port, run_sipp
from voxcenter.media.codecs import PCMU
from voxcenter.media.prompts import PromptLibrary
from voxcenter.media.rtp import parse_rtp
from voxcenter.runtime.server import Server

REPO = Path(__file__).resolve().parents[2]
CARRIER_IP = "127.0.0.2"
CALLER_HZ = 440.0
AGENT_HZ = 660.0
PASSWORDS = {"1001": "pw-1001", "1002": "pw-1002"}
PROMPTS = PromptLibrary(REPO / "prompts")
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"


def plan_text(*, sip_port: int, rtp_base: int, database_url: str, directory: Path, agent_selection: str = "linear",
              extra: str = "") -> str:
    """The dial plan of the whole-call tests: number 100 → a menu → the sales queue (and short-lived queues)."""
    return textwrap.dedent(f"""\
        sip:
          listen:
            - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
        rtp:
          address: 127.0.0.1
          port_min: {rtp_base}
          port_max: {rtp_base + 199}
          inactivity_timeout: 30s
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
        numbers:
          '100': {{node: main}}
          '102': {{node: overflow}}
          '103': {{node: callback}}
        ivr:
          main:
            type: menu
            prompts: main-menu
            options:
              1: sales
            invalid_prompt: invalid-option
            timeout_prompt: no-input
            timeout: 8s
            max_failures: 3
            on_failure: goodbye
          sales:
            type: queue
            queue: sales
          overflow:
            type: queue
            queue: short
          callback:
            type: queue
            queue: callback
            on_exit:
              callback: goodbye
          leave-message:
            type: voicemail
            mailbox: sales
            greeting: leave-message
            max_length: 3s
            silence_stop: 2s
            next: goodbye
          goodbye:
            type: hangup
            prompts: goodbye
        queues:
          sales:
            strategy: longest-wait
            selection: {agent_selection}
            ring_timeout: 3s
            retry_delay: 500ms
            wrap_up: 1s
            join_when: always
            leave_when: never
            announcements: {{music_on_hold: moh, position_every: 2s, first_after: 0s}}
          short:
            join_when: always
            leave_when: never
            max_wait: 2s
            overflow:
              timeout: {{node: leave-message}}
          callback:
            join_when: always
            leave_when: never
            callback: {{enabled: true, offer_after: 1s, key: '1'}}
        agents:
          '1001': {{name: Alice, password: {PASSWORDS['1001']}, queues: [sales]}}
          '1002': {{name: Bob, password: {PASSWORDS['1002']}, queues: [sales, short, callback]}}
        prompts:
          directory: {REPO / "prompts"}
          default_language: en
          languages: [en]
        recording:
          enabled: true
          directory: {directory / "recordings"}
        database:
          url: {database_url}
          journal_directory: {directory / "journal"}
        security:
          realm: voxcenter.test
          allowlist: []
        """) + (_NO_API if _has_api_section() else "") + extra


_NO_API = "api:\n  enabled: false\n"


def _has_api_section() -> bool:
    from voxcenter.config import Config

    return "api" in Config.model_fields


def write_plan(directory: Path, database_url: str, **options: object) -> tuple[Path, int]:
    """Write the dial plan with a free SIP port and a random RTP range; returns its path and the SIP port."""
    sip_port = free_port()
    text = plan_text(sip_port=sip_port, rtp_base=30000 + secrets.randbelow(300) * 100, database_url=database_url,
                     directory=directory, **options)  # type: ignore[arg-type]
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port


@asynccontextmanager
async def whole_call_server(directory: Path, database_url: str, **options: object) -> AsyncIterator[Server]:
    """A voxcenter Server in this process on the test dial plan, recording into PostgreSQL."""
    path, _ = write_plan(directory, database_url, **options)
    server = Server(path, node="whole-call")
    await server.start()
    try:
        yield server
    finally:
        await server.stop(drain_timeout=0)


# --- PostgreSQL ---------------------------------------------------------------------------------------------------

def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_dsn(url), timeout=10)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def events_of(url: str, call_id: str) -> list[str]:
    """The call's timeline, oldest first (ties broken by the ULID, which is time ordered)."""
    rows = await fetch(url, "select event from call_events where call_id = $1 order by at, event_id", call_id)
    return [row["event"] for row in rows]


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


# --- callers (SIPp) -----------------------------------------------------------------------------------------------

_CALLER_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="whole-call caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:+3314000[call_number]@[local_ip]:[local_port]>;tag=wc[pid]-[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 0 101
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
      From: "caller" <sip:+3314000[call_number]@[local_ip]:[local_port]>;tag=wc[pid]-[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio="{pcap}" />
    </action>
  </nop>
{ending}
</scenario>
"""

_CALLER_HANGS_UP = """  <pause milliseconds="{pause_ms}" />
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "caller" <sip:+3314000[call_number]@[local_ip]:[local_port]>;tag=wc[pid]-[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true" />
"""

_VOXCENTER_HANGS_UP = """  <recv request="BYE" />
  <send>
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


async def sipp_caller(workdir: Path, server: str, *, number: str = "100", digits: str = "", first_digit_at: float = 1.0,
                      gap: float = 0.3, talk: float = 6.0, hang_up_after: float | None = None, timeout: float = 45.0,
                      name: str = "caller", media_port: int | None = None) -> SippResult:
    """One SIPp call from the carrier: ``talk`` seconds of a 440 Hz tone with ``digits`` pressed (RFC 4733).

    With ``hang_up_after`` the caller sends BYE that many seconds after its ACK; otherwise it waits for
    voxcenter's BYE.
    """
    stream = caller_stream(tone(CALLER_HZ, talk), digits, first_digit_at=first_digit_at, gap=gap)
    pcap = f"{name}.pcap"
    write_pcap(workdir / pcap, stream.datagrams)
    ending = (_CALLER_HANGS_UP.format(pause_ms=int(hang_up_after * 1000)) if hang_up_after is not None
              else _VOXCENTER_HANGS_UP)
    scenario = workdir / f"{name}.xml"
    scenario.write_text(_CALLER_SCENARIO.replace("{pcap}", pcap).replace("{ending}", ending))
    return await run_sipp(str(scenario), server, workdir, service=number, local_ip=CARRIER_IP, timeout=timeout,
                          extra=["-mi", CARRIER_IP, "-mp", str(media_port or free_port())])


# --- what the caller hears ----------------------------------------------------------------------------------------

@asynccontextmanager
async def captured_rtp(path: Path, host: str, port: int) -> AsyncIterator[Path]:
    """Capture (tcpdump on loopback) every UDP datagram sent to ``host:port``: what a SIPp caller hears."""
    process = await asyncio.create_subprocess_exec(
        TCPDUMP, "-i", "lo", "-U", "-n", "-w", str(path), f"udp and dst host {host} and dst port {port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        started = await asyncio.wait_for(process.stderr.readline(), 15)  # "listening on lo, ..." once ready
        if b"listening" not in started:
            raise AssertionError(f"tcpdump did not start: {started!r}")
        yield path
    finally:
        if process.returncode is None:
            process.terminate()  # tcpdump flushes the capture file on SIGTERM
            await asyncio.wait_for(process.wait(), 10)


def heard_audio(path: Path) -> list[bytes]:
    """The PCMU payloads of a capture, in arrival order (telephone-events and RTCP left out)."""
    payloads = []
    for _, datagram in read_pcap_udp(path):
        packet = parse_rtp(datagram)
        if packet is not None and packet.payload_type == PCMU.payload_type:
            payloads.append(packet.payload)
    return payloads


def voiced_frames(name: str, language: str = "en") -> list[bytes]:
    """The payloads voxcenter sends for a prompt, without its near-silent frames (those are shared by all)."""
    return [frame for frame in PROMPTS.load(language, name).frames(PCMU) if len(set(frame)) > 16]


def first_heard(heard: list[bytes], frames: list[bytes]) -> int:
    """Index in ``heard`` of the first frame of ``frames`` (-1: none arrived)."""
    wanted = set(frames)
    return next((index for index, frame in enumerate(heard) if frame in wanted), -1)


def share_heard(heard: list[bytes], frames: list[bytes]) -> float:
    """Share of ``frames`` that arrived."""
    received = set(heard)
    return sum(frame in received for frame in frames) / len(frames)


# --- agents (baresip) ---------------------------------------------------------------------------------------------

@asynccontextmanager
async def baresip_agent(workdir: Path, extension: str, registrar: str, microphone: Path, *, answer: str = "auto",
                        login: bool = True) -> AsyncIterator[Baresip]:
    """A baresip agent phone registered with digest and (by default) logged in with ``*45``."""
    account = Account(extension, registrar, PASSWORDS[extension], answer=answer)
    async with Baresip(workdir, f"agent-{extension}", account, microphone, lifetime=90) as phone:
        await phone.registered()
        if login:
            await feature_code(phone, "*45", registrar)
        yield phone


async def feature_code(phone: Baresip, code: str, registrar: str) -> None:
    """Dial a feature code: voxcenter answers with a short tone and hangs up."""
    await phone.dial(f"sip:{code}@{registrar}", timeout=15)
    await phone.ctrl.wait_event("CALL_CLOSED", 15)
