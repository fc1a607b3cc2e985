"""What refusing a new call costs while the endpoint sheds load. A script, not a test.

    .venv/bin/python bench/refusal_cost.py                # 20 000 INVITEs from a trunk, all refused
    .venv/bin/python bench/refusal_cost.py --invites 50000

An endpoint on loopback whose limit of calls in progress is 0 (so every new call from its trunk is refused
with 503, as under overload) is handed ``--invites`` SIPp-shaped INVITEs straight into its UDP protocol, one
after the other, each with its own Call-ID and branch; what it sends back is counted instead of sent. It
prints the time per INVITE of parsing alone and of the whole refusal (parse, admission, the 503 built and
encoded): under overload every refused INVITE (and SIPp's retransmissions of it) costs this much of the
loop that the calls admitted need.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from voxcenter.sip.endpoint import EndpointSettings, Listener, SipEndpoint
from voxcenter.sip.message import parse_message
from voxcenter.sip.session import SipSession

TRUNK = "127.0.0.2"
SDP = ("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


def invite(n: int) -> bytes:
    """The n-th INVITE, shaped like SIPp's ``uac`` scenario."""
    head = (f"INVITE sip:100@127.0.0.1:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {TRUNK}:5061;branch=z9hG4bK-{n};rport\r\n"
            f"From: sipp <sip:sipp@{TRUNK}:5061>;tag={n}\r\nTo: <sip:100@127.0.0.1:5060>\r\n"
            f"Call-ID: {n}-1234@{TRUNK}\r\nCSeq: 1 INVITE\r\nContact: sip:sipp@{TRUNK}:5061\r\n"
            f"Max-Forwards: 70\r\nSubject: Performance Test\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(SDP)}\r\n\r\n")
    return (head + SDP).encode()


class _Counting(asyncio.DatagramTransport):
    """Counts what the endpoint sends instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def sendto(self, data: bytes, addr: object = None) -> None:  # type: ignore[override]
        self.sent += 1

    def is_closing(self) -> bool:
        return False


async def _ignore(session: SipSession) -> None:
    session.reject(500)


async def measure(invites: int) -> tuple[float, float, int]:
    """(µs to parse one INVITE, µs to refuse one, responses sent)."""
    settings = EndpointSettings(listeners=[Listener("udp", "127.0.0.1", 0)], realm="bench",
                                trusted_networks={"carrier": (f"{TRUNK}/32",)}, max_calls=0,
                                never_ban=(f"{TRUNK}/32",))
    endpoint = SipEndpoint(settings, credentials=lambda *_: None, application=_ignore)
    await endpoint.start()
    assert endpoint.transports is not None
    protocol = next(iter(endpoint.transports._udp.values()))
    real, counting = protocol.transport, _Counting()
    protocol.transport = counting
    try:
        messages = [invite(n) for n in range(invites)]
        started = time.perf_counter()
        for data in messages:
            parse_message(data, datagram=True)
        parse = (time.perf_counter() - started) / invites * 1e6
        started = time.perf_counter()
        for data in messages:
            protocol.datagram_received(data, (TRUNK, 5061))
        refuse = (time.perf_counter() - started) / invites * 1e6
    finally:
        protocol.transport = real
        await endpoint.stop()
    return parse, refuse, counting.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invites", type=int, default=20_000)
    args = parser.parse_args()
    parse, refuse, sent = asyncio.run(measure(args.invites))
    print(f"invites={args.invites} parse_us={parse:.1f} refusal_us={refuse:.1f} answered={sent}")


if __name__ == "__main__":
    main()
