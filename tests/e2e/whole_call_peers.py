"""Peers and plumbing of the whole-call suites: a PostgreSQL database, a dial plan, SIPp callers, baresip agents.

Callers are SIPp processes on the carrier address (127.0.0.2, a trusted trunk) replaying a pcap: PCMU audio
(a tone) with RFC 4733 key presses inside. Agents are baresip processes on 127.0.0.1 that register with digest
(MD5 challenges, what baresip understands) and log in with ``*45``. Records are read back from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.e2e.harness import (
    CALLER_HZ,
    CARRIER_IP,
    caller_scenario,
    feature_code,
    plan_sections,
    rtp_base_for_test,
    served,
)
from tests.interop.audio import tone
from tests.interop.baresip import Account, Baresip
from tests.interop.pcap import caller_stream, read_pcap_udp, write_pcap
from tests.interop.sipp import SippResult, free_port, run_sipp
from voxcenter.media.codecs import PCMU
from voxcenter.media.rtp import parse_rtp
from voxcenter.runtime.server import Server

PASSWORDS = {"1001": "pw-1001", "1002": "pw-1002"}
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"


def plan_text(*, sip_port: int, rtp_base: int, database_url: str, directory: Path, agent_selection: str = "linear",
              extra: str = "", api_port: int | None = None) -> str:
    """The dial plan of the whole-call tests: number 100 → a menu → the sales queue (and short-lived queues)."""
    body = textwrap.dedent(f"""\
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
        """)
    return plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base, inactivity_timeout="30s",
                         database_url=database_url, api_port=api_port) + extra


def write_plan(directory: Path, database_url: str, **options: object) -> tuple[Path, int]:
    """Write the dial plan with a free SIP port and a random RTP range; returns its path and the SIP port."""
    sip_port = free_port()
    text = plan_text(sip_port=sip_port, rtp_base=rtp_base_for_test(), database_url=database_url,
                     directory=directory, **options)  # type: ignore[arg-type]
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port


@asynccontextmanager
async def whole_call_server(directory: Path, database_url: str, **options: object) -> AsyncIterator[Server]:
    """A voxcenter Server in this process on the test dial plan, recording into PostgreSQL."""
    path, _ = write_plan(directory, database_url, **options)
    async with served(path, node="whole-call") as server:
        yield server


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


# --- callers (SIPp) -----------------------------------------------------------------------------------------------

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
    if hang_up_after is None:
        text = caller_scenario(from_user="+3314000[call_number]", hangs_up="voxcenter", pcap=pcap)
    else:
        text = caller_scenario(from_user="+3314000[call_number]", hangs_up="caller", after=hang_up_after, pcap=pcap)
    scenario = workdir / f"{name}.xml"
    scenario.write_text(text)
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
