"""The example dial plan walked by real callers: a SIPp caller with RFC 4733 digits, a baresip caller.

The plan is ``config/voxcenter.yaml`` itself with test ports and paths (``peers.example_plan``):
main menu 1 sales / 2 support / 3 language / 0 operator; support menu 1 billing / 2 technical.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import CARRIER_IP, query, rtp_base_for_test, served, wait_for
from tests.e2e.peers import example_plan, timeline
from tests.interop.audio import tone, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.pcap import caller_stream, write_pcap
from tests.interop.sipp import free_port, run_sipp
from voxcenter.acd.model import SkillRequirement
from voxcenter.runtime.server import Server

pytestmark = pytest.mark.interop


@asynccontextmanager
async def example_server(tmp: Path) -> AsyncIterator[Server]:
    async with served(example_plan(tmp, sip_port=free_port(), rtp_base=rtp_base_for_test())) as server:
        yield server


def events_named(events: list[tuple[str, dict[str, object]]], name: str) -> list[dict[str, object]]:
    return [data for event, data in events if event == name]


async def test_sipp_caller_presses_2_then_1_and_waits_in_support_with_billing(tmp_path: Path) -> None:
    # Keys 2 (support) and 1 (billing) a second apart while the menus play (barge-in), then a second in the queue.
    stream = caller_stream(tone(440.0, 2.5), "21", first_digit_at=0.8, gap=0.9, tail=0.2)
    assert stream.duration < 3.5  # the scenario's pause covers the replay
    write_pcap(tmp_path / "caller_dtmf.pcap", stream.datagrams)
    async with example_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        seen: list[tuple[SkillRequirement, ...]] = []

        def in_support() -> bool:
            seen.extend(view.requirements for view in server.acd.router.waiting("support", server.acd.now()))
            return bool(seen)

        run = server.spawn(wait_for(in_support, 20.0, "a caller waiting in support"))
        result = await run_sipp(
            "uac_pcap_dtmf.xml", f"{address.host}:{address.port}", tmp_path, service="100", local_ip=CARRIER_IP,
            extra=["-mi", CARRIER_IP, "-mp", str(free_port())], timeout=20,
        )
        assert result.successful == 1 and result.failed == 0, result.describe()
        await run
        assert seen[0] == (SkillRequirement("billing", 2),)
        await wait_for(lambda: not server.calls, 10.0, "the call's end")
        assert await server.writer.flush(10.0)
    db = tmp_path / "voxcenter.db"
    [(queue, disposition, trunk)] = query(db, "select queue, disposition, trunk from calls")
    assert (queue, disposition, trunk) == ("support", "abandoned_queue", "carrier")
    events = timeline(db)
    nodes = [data["node"] for data in events_named(events, "node")]
    assert nodes[:4] == ["main", "support-menu", "support-billing", "support"], events
    assert [data["digit"] for data in events_named(events, "digit")] == ["2", "1"]
    choices = [(data["digit"], data["target"]) for data in events_named(events, "menu-choice")]
    assert choices == [("2", "support-menu"), ("1", "support-billing")]
    names = [event for event, _ in events]
    assert names.index("ENTERQUEUE") > names.index("menu-choice")
    assert events_named(events, "ENTERQUEUE") and "ABANDON" in names


async def test_baresip_caller_takes_timeout_invalid_french_then_operator(tmp_path: Path) -> None:
    microphone = tmp_path / "caller.wav"
    write_tone_wav(microphone, 440.0, 60.0)  # baresip ends the call when its microphone file ends
    async with example_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        db = tmp_path / "voxcenter.db"

        async def seen(event: str, count: int = 1) -> None:
            async def flushed() -> int:
                await server.writer.flush(5.0)
                return len([1 for name, _ in timeline(db) if name == event])

            deadline = server.acd.now() + 40.0
            while await flushed() < count:
                assert server.acd.now() < deadline, f"no {event!r} in the timeline: {timeline(db)}"
                await asyncio.sleep(0.2)

        # The caller is agent 1001's phone: its INVITE is challenged and authenticated (loopback is not trusted).
        account = Account("1001", f"{address.host}:{address.port}", "demo1001")
        async with Baresip(tmp_path, "caller", account, microphone) as phone:
            await phone.registered()
            await phone.dial(f"sip:100@{address.host}:{address.port}")
            await seen("node")
            await seen("timeout")  # silence through the menu (11 s) and its 2 s wait: "no input", then again
            await phone.send_digits("9")  # not an option: "invalid option", then the menu again
            await seen("invalid")
            await phone.send_digits("3")  # language menu
            await seen("node", 2)  # choose-language entered
            await phone.send_digits("2")  # French, then back to the main menu
            await seen("language")
            await phone.send_digits("0")  # operator
            await seen("ENTERQUEUE")
            await phone.hang_up()
        await wait_for(lambda: not server.calls, 10.0, "the call's end")
        assert await server.writer.flush(10.0)
    events = timeline(db)
    names = [event for event, _ in events]
    nodes = [data["node"] for data in events_named(events, "node")]
    assert nodes == ["main", "choose-language", "main", "operator"], events
    [timeout] = events_named(events, "timeout")
    [invalid] = events_named(events, "invalid")
    assert (timeout["node"], timeout["failures"]) == ("main", 1)
    assert (invalid["node"], invalid["failures"]) == ("main", 2)
    assert names.index("timeout") < names.index("invalid") < names.index("language")
    [language] = events_named(events, "language")
    assert language == {"node": "choose-language", "language": "fr"}
    assert [data["digit"] for data in events_named(events, "digit")] == ["9", "3", "2", "0"]
    assert ("0", "operator") in [(d["digit"], d["target"]) for d in events_named(events, "menu-choice")]
    assert events_named(events, "ENTERQUEUE")
    [(queue, from_number)] = query(db, "select queue, from_number from calls")
    assert (queue, from_number) == ("support", "1001")


async def test_key_0_with_no_support_agent_logged_in_leaves_a_message_and_is_never_hung_up(tmp_path: Path) -> None:
    def as_shipped(plan: Any) -> None:  # the example's own join and leave rules: nobody logged in, JOINEMPTY
        for queue in plan["queues"].values():
            del queue["join_when"], queue["leave_when"]

    stream = caller_stream(tone(440.0, 2.5), "0", first_digit_at=0.8, tail=0.2)
    write_pcap(tmp_path / "caller_dtmf.pcap", stream.datagrams)
    plan = example_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), change=as_shipped)
    async with served(plan) as server:
        address = server.endpoint.address("udp")
        # The caller hangs up by itself after 3.5 s: a BYE from voxcenter before that fails the scenario.
        result = await run_sipp(
            "uac_pcap_dtmf.xml", f"{address.host}:{address.port}", tmp_path, service="100", local_ip=CARRIER_IP,
            extra=["-mi", CARRIER_IP, "-mp", str(free_port())], timeout=20,
        )
        assert result.successful == 1 and result.failed == 0, result.describe()
        await wait_for(lambda: not server.calls, 10.0, "the call's end")
        assert await server.writer.flush(10.0)
    db = tmp_path / "voxcenter.db"
    events = timeline(db)
    names = [event for event, _ in events]
    nodes = [data["node"] for data in events_named(events, "node")]
    assert "JOINEMPTY" in names and nodes == ["main", "operator", "support-message"], events
    [(hangup_by,)] = query(db, "select hangup_by from calls")
    assert hangup_by == "caller"
