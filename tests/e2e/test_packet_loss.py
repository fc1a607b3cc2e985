"""10 % and 30 % packet loss on SIP and RTP, both ways: calls complete and DTMF is still read.

SIPp callers reach voxcenter through the project's lossy UDP relay (``tests/interop/lossy_relay.py``), which
drops every datagram (SIP requests, responses, RTP audio and RFC 4733 key presses, either way) with the given
probability. Each caller presses 1 at the menu (one key press is some ten RTP packets: the event's updates and
its three end packets), waits in the sales queue, and hangs up. Every call must complete (SIPp saw its BYE
answered), leave a closed CDR in the sales queue, and have its key read by the menu.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.harness import CALLER_HZ, CARRIER_IP, caller_scenario, rtp_base_for_test, served
from tests.e2e.whole_call_peers import fetch, plan_text
from tests.interop.audio import tone
from tests.interop.lossy_relay import FACE_HOST, INNER_HOST, PEER_HOST, LossyRelay
from tests.interop.pcap import caller_stream, write_pcap
from tests.interop.sipp import free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.fault, pytest.mark.timeout(150)]

CALLS = 4
"""Callers per loss rate (two a second, all in the queue together)."""


def write_plan(directory: Path, url: str) -> tuple[Path, int, range]:
    sip_port, rtp_base = free_port(), rtp_base_for_test()
    text = plan_text(sip_port=sip_port, rtp_base=rtp_base, database_url=url, directory=directory)
    # The callers come from the relay's face address, and voxcenter's SDP sends their audio to its inner one.
    text = text.replace(f"allow_from: [{CARRIER_IP}/32]", f"allow_from: [{FACE_HOST}/32]")
    text = text.replace("  inactivity_timeout: 30s\n", f"  inactivity_timeout: 30s\n  external_address: {INNER_HOST}\n")
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port, range(rtp_base, rtp_base + 200)


@pytest.mark.parametrize("loss", [0.1, 0.3])
async def test_calls_complete_and_keys_are_read_through_packet_loss(tmp_path: Path, pg_url: str,
                                                                    loss: float) -> None:
    plan, sip_port, rtp_ports = write_plan(tmp_path, pg_url)
    caller_sip, caller_media = free_port(), free_port()
    stream = caller_stream(tone(CALLER_HZ, 5.0), "1", first_digit_at=1.0)
    write_pcap(tmp_path / "caller.pcap", stream.datagrams)
    scenario = caller_scenario(from_user="+3314000[call_number]", hangs_up="caller", after=5.0,
                               media=(FACE_HOST, caller_media), pcap="caller.pcap")
    (tmp_path / "caller.xml").write_text(scenario.replace("[local_ip]:[local_port]", f"{FACE_HOST}:{caller_sip}"))
    async with (served(plan, node="loss-test"),
                LossyRelay(loss, ("127.0.0.1", sip_port), caller_sip, rtp_ports, caller_media) as relay):
        result = await run_sipp(str(tmp_path / "caller.xml"), f"{INNER_HOST}:{relay.inner_sip_port}", tmp_path,
                                calls=CALLS, rate=2.0, service="100", local_ip=PEER_HOST, local_port=caller_sip,
                                timeout=60.0, extra=["-mi", PEER_HOST, "-mp", str(caller_media)])
    dropped = relay.counter.dropped / (relay.counter.dropped + relay.counter.relayed)
    assert abs(dropped - loss) < 0.05, relay.counter
    assert result.successful == CALLS, result.describe()
    cdrs = await fetch(pg_url, "select * from calls where ended_at is not null")
    assert len(cdrs) == CALLS and {cdr["queue"] for cdr in cdrs} == {"sales"}, [dict(c) for c in cdrs]
    assert {cdr["disposition"] for cdr in cdrs} == {"abandoned_queue"}
    choices = await fetch(pg_url, "select call_id, data from call_events where event = 'menu-choice'")
    assert sorted(row["call_id"] for row in choices) == sorted(cdr["call_id"] for cdr in cdrs)
    assert {json.loads(row["data"])["digit"] for row in choices} == {"1"}
