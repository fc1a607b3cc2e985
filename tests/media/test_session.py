"""RtpSession on real loopback sockets, and the port pool."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from voxcenter.media.codecs import PCMU
from voxcenter.media.dtmf import DtmfReceived, Rfc4733Sender
from voxcenter.media.ports import PortLease, PortPool, PortPoolExhaustedError
from voxcenter.media.rtcp import ReceiverReport, build_rtcp
from voxcenter.media.rtp import LearningState, RtpPacket, build_rtp
from voxcenter.media.session import MediaTimedOut, RtpSession

HOST = "127.0.0.1"


def free_pool(pairs: int = 8) -> PortPool:
    """A pool near a port the kernel just picked for us; ports taken meanwhile are skipped by the pool itself."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind((HOST, 0))
    port = probe.getsockname()[1]
    probe.close()
    start = min(port & ~1, 65534 - 2 * pairs)
    return PortPool(start, start + 2 * pairs - 1)


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``condition()`` holds (packets cross loopback asynchronously)."""
    for _ in range(int(within / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in time")


@pytest.fixture
async def pool() -> AsyncIterator[PortPool]:
    yield free_pool()


async def open_pair(pool: PortPool, **options: object) -> tuple[RtpSession, RtpSession]:
    a = await RtpSession.open(pool, HOST, PCMU, None, **options)  # type: ignore[arg-type]
    b = await RtpSession.open(pool, HOST, PCMU, a.local_address, **options)  # type: ignore[arg-type]
    a.update_remote(b.local_address)
    return a, b


async def test_two_sessions_talk_and_learn(pool: PortPool) -> None:
    a, b = await open_pair(pool)
    got: list[RtpPacket] = []
    b.on_packet = got.append
    try:
        for i in range(20):
            assert a.send_payload(bytes([i]) * 160, marker=i == 0)
        await eventually(lambda: len(got) >= 18)
        # b learned a's address; the first packets (before learning) from a non-SDP source are not lost here
        # because a's source address is the SDP address b was given.
        assert b.learner.state is LearningState.LOCKED and b.remote == a.local_address
        assert [p.payload[0] for p in got] == list(range(20))
        assert got[0].marker and got[0].ssrc == a.outbound.ssrc
        stats = b.stats
        assert stats.packets_received == 19  # A.1 probation: the first packet only opens it
        assert stats.cumulative_lost == 0 and a.stats.packets_sent == 20
    finally:
        a.close()
        b.close()
    assert pool.in_use == 0


async def test_attacker_cannot_capture_a_locked_stream(pool: PortPool) -> None:
    a, b = await open_pair(pool)
    got: list[RtpPacket] = []
    b.on_packet = got.append
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.bind((HOST, 0))
    try:
        for i in range(5):
            a.send_payload(b"\x01" * 160, marker=i == 0)
        await eventually(lambda: len(got) == 5)
        for seq in range(50):  # a consistent stream, even with a's SSRC, from another port
            attacker.sendto(build_rtp(0, False, seq, seq * 160, a.outbound.ssrc, b"\xee" * 160), b.local_address)
        attacker.sendto(b"\x00garbage", b.local_address)
        await eventually(lambda: b.packets_dropped == 51)
        a.send_payload(b"\x02" * 160)
        await eventually(lambda: len(got) == 6)
        assert all(p.payload[0] in (1, 2) for p in got)
        assert b.remote == a.local_address
    finally:
        attacker.close()
        a.close()
        b.close()


@pytest.mark.parametrize("mux", [False, True])
async def test_rtcp_reports_cross_and_give_rtt(pool: PortPool, mux: bool) -> None:
    a, b = await open_pair(pool, rtcp_mux=mux, rtcp_interval=0.05)
    try:
        for i in range(10):
            a.send_payload(b"\xff" * 160, marker=i == 0)
            b.send_payload(b"\xff" * 160, marker=i == 0)
        await eventually(lambda: a.rtcp.rtt is not None and b.rtcp.rtt is not None)
        stats = a.stats
        assert stats.rtt_ms is not None and 0 <= stats.rtt_ms < 1000
        assert stats.remote_cumulative_lost == 0 and stats.remote_jitter_ms is not None
        assert a.rtcp.remote_cname == b.rtcp.cname
    finally:
        a.close()
        b.close()


async def test_bye_reaches_the_peer(pool: PortPool) -> None:
    a, b = await open_pair(pool, rtcp_mux=True)
    try:
        a.send_payload(b"\xff" * 160)
        b.send_payload(b"\xff" * 160)
        await eventually(lambda: b.inbound.ssrc is not None)
        a.close("media timeout")
        await eventually(lambda: b.rtcp.bye_received)
    finally:
        b.close()


async def test_dtmf_digit_reported_once(pool: PortPool) -> None:
    a, b = await open_pair(pool)
    digits: list[DtmfReceived] = []
    b.on_dtmf = digits.append
    try:
        a.send_payload(b"\xff" * 160, marker=True)
        start = a.outbound.timestamp + 160
        for packet in Rfc4733Sender().packets("7", 0.1, start):
            a.send_at(packet.payload, 101, packet.timestamp, packet.marker)
        await eventually(lambda: len(digits) == 1)
        assert digits[0].digit == "7"
        await asyncio.sleep(0.05)
        assert len(digits) == 1
    finally:
        a.close()
        b.close()


async def test_dtmf_without_end_packets_reported_by_the_timer(pool: PortPool) -> None:
    a, b = await open_pair(pool)
    digits: list[DtmfReceived] = []
    b.on_dtmf = digits.append
    try:
        a.send_payload(b"\xff" * 160, marker=True)
        packets = [p for p in Rfc4733Sender().packets("#", 0.1, a.outbound.timestamp + 160) if p.payload[1] < 0x80]
        for packet in packets:  # every end packet lost
            a.send_at(packet.payload, 101, packet.timestamp, packet.marker)
        await eventually(lambda: len(digits) == 1)
        assert digits[0].digit == "#"
    finally:
        a.close()
        b.close()


async def test_inactivity_timeout(pool: PortPool) -> None:
    a, b = await open_pair(pool, inactivity_timeout=0.15)
    timeouts: list[MediaTimedOut] = []
    b.on_timeout = timeouts.append
    a.on_timeout = timeouts.append
    try:
        a.send_payload(b"\xff" * 160)
        await eventually(lambda: len(timeouts) == 2)
        assert all(t.cause == "media timeout" and t.silence >= 0.15 for t in timeouts)
        b.set_inactivity_timeout(None)  # on hold: no timeout
        await asyncio.sleep(0.2)
        assert len(timeouts) == 2
    finally:
        a.close()
        b.close()


async def test_malformed_rtcp_is_dropped(pool: PortPool) -> None:
    a, b = await open_pair(pool, rtcp_mux=True)
    try:
        a.send_payload(b"\xff" * 160)
        await eventually(lambda: b.inbound.ssrc is not None)
        assert b.learner.target is not None
        a._transport.sendto(b"\x81\xc9\x00\x01\x00\x00\x00\x01", b.local_address)  # type: ignore[union-attr]
        a._transport.sendto(build_rtcp(ReceiverReport(5)), b.local_address)  # type: ignore[union-attr]
        await eventually(lambda: b.packets_dropped == 1)
    finally:
        a.close()
        b.close()


def test_port_pool_even_pairs_skip_busy_ports_and_bound() -> None:
    pool = free_pool(pairs=4)
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(OSError):  # if someone else holds it, the pool must skip it just the same
            busy.bind((HOST, pool.start + 1))  # the RTCP port of the first pair
        leases = []
        for _ in range(3):
            leases.append(pool.allocate(HOST))
        ports = [lease.port for lease in leases]
        assert all(p % 2 == 0 and pool.start < p <= pool.end - 1 for p in ports)
        assert len(set(ports)) == 3 and pool.in_use == 3
        assert all(lease.rtcp_socket is not None for lease in leases)
        with pytest.raises(PortPoolExhaustedError, match="widen the range"):
            pool.allocate(HOST)
        leases[0].rtp_socket.close()
        leases[0].rtcp_socket.close()  # type: ignore[union-attr]
        leases[0].release()
        leases[0].release()  # idempotent
        again = pool.allocate(HOST, rtcp_mux=True)
        assert again.port == ports[0] and again.rtcp_socket is None
        leases[0] = again
    finally:
        busy.close()
        for lease in leases:
            lease.rtp_socket.close()
            if lease.rtcp_socket is not None:
                lease.rtcp_socket.close()


def test_port_pool_rejects_a_bad_range() -> None:
    with pytest.raises(ValueError, match="RTP port range"):
        PortPool(20000, 20000)
    assert PortPool(10001, 10010).start == 10002


def test_a_reserved_pair_binds_nothing_until_asked() -> None:
    pool = free_pool(2)
    lease = pool.reserve(HOST)
    try:
        assert not lease.bound and lease.rtp_socket is None and pool.in_use == 1
        assert pool.reserve(HOST).port != lease.port  # the number is taken all the same
        assert lease.bind() and lease.bound and lease.rtcp_socket is not None
        assert lease.bind()  # idempotent
    finally:
        for sock in (lease.rtp_socket, lease.rtcp_socket):
            if sock is not None:
                sock.close()
        lease.release()


def test_binding_a_reserved_pair_another_process_holds_fails() -> None:
    pool = free_pool(1)
    lease = pool.reserve(HOST)
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        busy.bind((HOST, lease.port))
        assert not lease.bind() and not lease.bound
    finally:
        busy.close()
        lease.release()


def reserved_free(pool: PortPool) -> PortLease:
    """A reserved pair that nobody else on the machine holds right now (other test processes share the host)."""
    taken: list[PortLease] = []
    try:
        return _first_bindable(pool, taken)
    finally:
        for lease in taken:
            lease.release()


def _first_bindable(pool: PortPool, taken: list[PortLease]) -> PortLease:
    for _ in range(pool.capacity):
        lease = pool.reserve(HOST)
        if lease.bind():
            for sock in (lease.rtp_socket, lease.rtcp_socket):
                assert sock is not None
                sock.close()
            lease.rtp_socket = lease.rtcp_socket = None
            return lease
        taken.append(lease)
    raise AssertionError("no free pair")


async def test_a_session_opened_unstarted_has_no_socket_until_started() -> None:
    pool = free_pool(4)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((HOST, 0))
    peer.setblocking(False)
    session = await RtpSession.open(pool, HOST, PCMU, peer.getsockname(), lease=reserved_free(pool), start=False,
                                    inactivity_timeout=0.05)
    try:
        assert not session.started and session.lease.rtp_socket is None
        assert not session.send_payload(b"\xff" * 160)  # nowhere to send from
        timeouts: list[MediaTimedOut] = []
        session.on_timeout = timeouts.append
        await asyncio.sleep(0.15)
        assert timeouts == []  # no timer runs for a leg that never started
        await session.start()
        assert session.started and session.send_payload(b"\xff" * 160)
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(peer, 2048), 2.0)
        assert len(data) == 172
        await eventually(lambda: bool(timeouts))  # the media timeout counts from the start
    finally:
        session.close()
        peer.close()
    assert pool.in_use == 0


async def test_closing_a_session_that_never_started_gives_its_pair_back() -> None:
    pool = free_pool(1)
    session = await RtpSession.open(pool, HOST, PCMU, ("127.0.0.1", 9), lease=pool.reserve(HOST), start=False)
    session.close()
    assert pool.in_use == 0 and session.closed
