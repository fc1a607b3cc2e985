"""Consult and three-way conference through the mixer: the agent keys ``*3``, a number and ``#``; that party
joins. Each of the three hears the other two and not itself (by FFT: 440 Hz caller, 660 Hz agent, 880 Hz
senior). When the agent hangs up, the caller and the senior go on talking (relayed again: two legs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, query, wait_for
from tests.e2e.queue_peers import CallerMedia, call_of, calling, queue_server, timeline
from tests.e2e.test_transfer import TARGET_HZ, two_agents
from tests.interop.audio import band_share
from voxcenter.media.codecs import PCMU

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def shares(frames: list[bytes]) -> dict[float, float]:
    samples = np.concatenate([PCMU.decode(frame) for frame in frames])
    return {hz: band_share(samples, 8000, hz) for hz in (CALLER_HZ, AGENT_HZ, TARGET_HZ)}


async def heard_after(media: CallerMedia, frames: int = 60) -> list[bytes]:
    since = len(media.heard)
    await wait_for(lambda: len(media.heard) - since >= frames, what=f"{frames} frames")
    return media.heard[since + 10:]


async def test_three_way_conference_each_hears_the_other_two_and_not_itself(tmp_path: Path) -> None:
    async with queue_server(tmp_path) as server, two_agents(server) as (alice, bob):
        async with calling(server, tmp_path, "300", name="conference", number="0600000007") as caller:
            caller.media.speak(CALLER_HZ, 60.0)
            await wait_for(lambda: alice.calls and alice.calls[0].answered, what="Alice answered")
            await wait_for(lambda: len(alice.media.heard) > 25, what="Alice hears the caller")
            for key in "*31002#":
                await alice.media.press(key)
            await wait_for(lambda: bob.calls and bob.calls[0].answered, what="Bob joined")
            await wait_for(lambda: server.calls and next(iter(server.calls.values())).call.bridge.mixing,
                           what="the mixer")
            for who, media, own in (("caller", caller.media, CALLER_HZ), ("Alice", alice.media, AGENT_HZ),
                                    ("Bob", bob.media, TARGET_HZ)):
                heard = shares(await heard_after(media))
                others = [hz for hz in (CALLER_HZ, AGENT_HZ, TARGET_HZ) if hz != own]
                assert all(heard[hz] > 0.25 for hz in others), (who, heard)
                assert heard[own] < 0.02, (who, "hears itself", heard)
            await alice.calls[0].hangup()  # Alice drops out: the caller and Bob go on
            await wait_for(lambda: not next(iter(server.calls.values())).call.bridge.mixing, what="relay again")
            heard = shares(await heard_after(caller.media))
            assert heard[TARGET_HZ] > 0.8 and heard[AGENT_HZ] < 0.02, heard
            heard = shares(await heard_after(bob.media))
            assert heard[CALLER_HZ] > 0.8, heard
            await bob.calls[0].hangup()
            assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="call finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000007")
    events = [(event, agent, json.loads(str(data)) if data else None) for event, _, agent, _, data
              in timeline(db, call_id) if event in ("CONFERENCE", "ATTENDEDTRANSFER", "COMPLETEAGENT")]
    assert events == [
        ("CONFERENCE", "1001", {"target": "1002", "kind": "agent"}),
        ("ATTENDEDTRANSFER", "1001", {"target": "1002", "kind": "agent", "via": "conference"}),
        ("COMPLETEAGENT", "1001", None),
    ]
    legs = query(db, "select role, peer, talk_seconds from call_legs where call_id=? order by started_at", call_id)
    assert [(role, peer) for role, peer, _ in legs] == [("caller", "0600000007"), ("agent", "1001"),
                                                        ("agent", "1002")]
    [(path,)] = query(db, "select path from recordings where call_id=?", call_id)
    assert Path(path).exists()
