"""Robustness with real traffic: packet loss (SIPp -lost) and every RFC 4475 torture message over UDP and TCP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.interop.apps import answer_and_wait, running_endpoint
from tests.interop.rawclient import UdpClient, stream_exchange
from tests.interop.sipp import run_sipp

pytestmark = pytest.mark.interop

TORTURE = sorted((Path(__file__).parent.parent / "sip" / "rfc4475").glob("*.dat"))
# Requests RFC 4475 calls invalid, which a UAS answers with 400 (or 505 for the version).
EXPECTED_STATUS = {"badinv01": 400, "ncl": 400, "scalar02": 400, "quotbal": 400, "ltgtruri": 400,
                   "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400, "regbadct": 400,
                   "badaspec": 400, "baddn": 400, "badvers": 505, "mismatch01": 400, "mismatch02": 400,
                   "unkscm": 416, "novelsc": 416, "bext01": 420, "invut": 415, "multi01": 400,
                   "mcl01": 400}


def call_id_of(data: bytes) -> bytes:
    match = re.search(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", data, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else b""


async def final_status_for(client: UdpClient, call_id: bytes, patience: float) -> int | None:
    """The status of the first final response for ``call_id``; replies to earlier messages (2xx
    retransmissions of answered INVITEs that are never ACKed) are skipped."""
    while (reply := await client.receive(timeout=patience)) is not None:
        # Read the status line only: a 400 echoes the broken headers (e.g. an overlarge CSeq).
        status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"SIP/2.0 ") else 0
        if status >= 200 and call_id_of(reply) == call_id:
            return status
    return None


async def test_calls_complete_with_ten_percent_loss(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        address = endpoint.address("udp")
        result = await run_sipp("uac_call.xml", f"{address.host}:{address.port}", tmp_path, calls=10, rate=5,
                                limit=10, extra=["-lost", "10"], timeout=90)
        # Every call completes: lost requests and responses are recovered by retransmission.
        assert result.successful == 10 and result.failed == 0, result.describe()
        assert result.retransmissions > 0  # the loss really happened
        assert endpoint.sessions == {}


async def test_torture_messages_over_udp_leave_the_server_answering(tmp_path: Path) -> None:
    assert len(TORTURE) == 49
    async with running_endpoint(answer_and_wait) as endpoint, UdpClient() as client:
        address = endpoint.address("udp")
        statuses: dict[str, int | None] = {}
        for path in TORTURE:
            client.send(path.read_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), address.host,
                        address.port)
            # Generous patience where an answer is due: the machine may be busy.
            patience = 3.0 if path.stem in EXPECTED_STATUS else 0.5
            # novelsc and unkscm carry the same branch, sent-by and method: by RFC 3261 §17.2.3 the
            # second is a retransmission of the first, answered with the first one's response.
            answered_as = TORTURE[0].parent / "novelsc.dat" if path.stem == "unkscm" else path
            statuses[path.stem] = await final_status_for(client, call_id_of(answered_as.read_bytes()), patience)
        for name, status in EXPECTED_STATUS.items():
            assert statuses[name] == status, (name, statuses[name])
        # insuf has no Call-ID, From or To: RFC 4475 §3.3.1 asks only that nothing breaks ("ideally" a 400).
        assert statuses["insuf"] in (None, 400)
        result = await run_sipp("options.xml", f"{address.host}:{address.port}", tmp_path)
        assert result.successful == 1, result.describe()


async def test_torture_messages_over_tcp_leave_the_server_answering(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        address = endpoint.address("tcp")
        for path in TORTURE:
            data = path.read_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
            await stream_exchange(data, address.host, address.port, wait=0.15)
        result = await run_sipp("options.xml", f"{address.host}:{address.port}", tmp_path, transport="t1")
        assert result.successful == 1, result.describe()
