"""Follow-me: an agent whose softphone is not registered is rung on a personal number through a trunk, and
takes the call only by pressing the confirmation key (a mobile's voicemail never takes it).

The personal phone is the harness's softphone behind the carrier, speaking 880 Hz. The first time it answers
without pressing anything: voxcenter hangs up after ``confirm_within`` and the queue tries again; the second
time it presses 1, and the caller talks to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import CALLER_HZ, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import CallerMedia, call_of, calling, queue_dial_plan, timeline
from tests.e2e.test_transfer import TARGET_HZ, ReferringAgent, heard_share
from tests.interop.sipp import free_port
from voxcenter.sip.transport import Address

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

MOBILE = "0611000001"


async def test_an_unregistered_agent_is_rung_on_the_personal_number_and_must_confirm(tmp_path: Path) -> None:
    async with CallerMedia() as mobile_media:
        mobile_media.speak(TARGET_HZ, 60.0)
        mobile = ReferringAgent("mobile", "-", Address("udp", "127.0.0.1", 9))
        mobile.media = mobile_media
        async with mobile:
            assert mobile.endpoint is not None
            carrier = mobile.endpoint.address("udp")
            plan = queue_dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(),
                                   far_end=f"{carrier.host}:{carrier.port}")
            plan.write_text(plan.read_text().replace(
                "skills: {tech: 4}}",
                f"skills: {{tech: 4}},\n                   follow_me: {{number: '{MOBILE}', route: callbacks, "
                "confirm_within: 2s}}"))
            async with served(plan) as server:
                address = server.endpoint.address("udp")
                alice = ReferringAgent("1001", "pw-1001", address)
                async with alice:
                    assert await alice.dial("*45") == 200  # logged in, but no softphone registered
                async with calling(server, tmp_path, "300", name="followed", number="0600000008") as caller:
                    caller.media.speak(CALLER_HZ, 40.0)
                    await wait_for(lambda: mobile.calls and mobile.calls[0].answered, what="the mobile rung")
                    assert mobile.calls[0].called == MOBILE
                    await wait_for(lambda: mobile.calls[0].is_ended, what="hung up: no key pressed", timeout=10)
                    await wait_for(lambda: len(mobile.calls) == 2 and mobile.calls[1].answered,
                                   what="rung again", timeout=15)
                    await mobile_media.press("1")
                    since = len(caller.media.heard)
                    await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second more")
                    assert heard_share(caller.media.heard[since + 10:], TARGET_HZ) > 0.8, "not connected"
                    await mobile.calls[1].hangup()
                    assert (await caller.finished()).successful == 1
                await wait_for(lambda: not server.calls, what="call finished")
                await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000008")
    events = [(event, agent) for event, _, agent, _, _ in timeline(db, call_id)
              if event in ("RINGNOANSWER", "CONNECT")]
    assert events == [("RINGNOANSWER", "1001"), ("CONNECT", "1001")]
    [(agent, disposition)] = query(db, "select agent, disposition from calls where call_id=?", call_id)
    assert (agent, disposition) == ("1001", "answered")
