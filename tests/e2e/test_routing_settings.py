"""Routing settings of the dial plan with real peers: backup groups, penalties, the queue's own skills,
cost-aware routing and the delay of the first announcement.

SIPp callers from the carrier (``queue_peers.calling``, their audio heard by a test socket) and the
harness's ``AgentPhone`` softphones (digest REGISTER, ``*45``, answering). Every check reads what a peer
saw or what the store holds (CDRs, the queue timeline, agent events).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import (
    AGENT_HZ,
    CARRIER_IP,
    AgentPhone,
    feature_code,
    first_heard,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import Caller, call_of, calling, describe, timeline
from tests.interop.audio import spectrum, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU
from voxcenter.runtime.server import Server
from voxcenter.store.types import from_iso_text

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

PLAN = textwrap.dedent(f"""\
    trunks:
      carrier:
        inbound:
          allow_from: [{CARRIER_IP}/32]
    numbers:
      '410': {{node: vip}}
      '411': {{node: tiers}}
      '412': {{node: tech}}
      '413': {{node: later}}
      '414': {{node: duo}}
      '415': {{node: shares}}
    ivr:
      vip: {{type: queue, queue: vip}}
      tiers: {{type: queue, queue: tiers}}
      tech: {{type: queue, queue: tech}}
      later: {{type: queue, queue: later}}
      duo: {{type: queue, queue: duo}}
      shares: {{type: queue, queue: shares}}
    queues:
      vip:
        ring_timeout: 10s
        wrap_up: 0s
        join_when: always
        leave_when: never
        backup_group: supervisors
        backup_after: 2s
        announcements: {{position_every: null}}
      tiers:
        selection: linear
        ring_timeout: 10s
        wrap_up: 0s
        join_when: always
        leave_when: never
        announcements: {{position_every: null}}
      tech:
        strategy: skills
        skills: {{tech: 3}}
        cost_aware: true
        ring_timeout: 10s
        wrap_up: 0s
        join_when: always
        leave_when: never
        announcements: {{position_every: null}}
      later:
        join_when: always
        leave_when: never
        announcements: {{first_after: 4s, position_every: null}}
      duo:
        ring_timeout: 10s
        wrap_up: 0s
        join_when: always
        leave_when: never
        announcements: {{position_every: null}}
      shares:
        selection: weighted-random
        ring_timeout: 10s
        wrap_up: 0s
        join_when: always
        leave_when: never
        announcements: {{position_every: null}}
    groups:
      supervisors: ['1019']
    agents:
      '1011': {{name: Mona, password: pw-1011, queues: [vip]}}
      '1019': {{name: Sue, password: pw-1019}}
      '1013': {{name: Pat, password: pw-1013, queues: [{{queue: tiers, penalty: 1}}]}}
      '1014': {{name: Kim, password: pw-1014, queues: [tiers]}}
      '1015': {{name: Lou, password: pw-1015, cost: 5, queues: [tech]}}
      '1016': {{name: Ann, password: pw-1016, cost: 40, skills: {{tech: 4}}, queues: [tech]}}
      '1017': {{name: Cy, password: pw-1017, cost: 20, skills: {{tech: 4}}, queues: [tech]}}
      '1018': {{name: Vic, password: pw-1018, queues: [later]}}
      '1021': {{name: Duo, password: pw-1021, max_calls: 2, queues: [duo]}}
      '1031': {{name: Lee, password: pw-1031, queues: [{{queue: shares, weight: 1}}]}}
      '1032': {{name: Max, password: pw-1032, queues: [{{queue: shares, weight: 1000000}}]}}
    """)


@asynccontextmanager
async def settings_server(tmp: Path, api_port: int | None = None) -> AsyncIterator[Server]:
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, PLAN, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port))
    async with served(path) as server:
        yield server


def state(server: Server, agent_id: str) -> str:
    return server.acd.router.agent_state(agent_id).value


def waiting(server: Server, queue: str) -> int:
    return len(server.acd.router.waiting(queue, server.acd.now()))


async def logged_in(server: Server, stack: AsyncExitStack, *agents: str) -> list[AgentPhone]:
    """Phones of ``agents``, registered and logged in with ``*45`` one after the other (the first is the one
    idle longest)."""
    address = server.endpoint.address("udp")
    phones = []
    for agent in agents:
        phone = await stack.enter_async_context(AgentPhone(agent, f"pw-{agent}", address))
        assert await phone.register() == 200
        assert await phone.dial("*45") == 200
        await wait_for(lambda agent=agent: state(server, agent) == "ready", what=f"{agent} ready")  # type: ignore[misc]
        phones.append(phone)
    return phones


def answered_by(db: Path, number: str) -> str:
    [(disposition, agent)] = query(db, "select disposition, agent from calls where call_id=?", call_of(db, number))
    assert disposition == "answered", (number, disposition)
    return str(agent)


def offered_at(db: Path, agent: str, call_id: str) -> float:
    """When ``agent`` was first offered (reserved for) the call."""
    [(at,), *_] = query(db, "select at from agent_events where agent=? and call_id=? and state='reserved' "
                            "order by at", agent, call_id)
    return from_iso_text(at)


async def test_the_backup_group_is_rung_after_backup_after_and_the_callers_keep_their_places(tmp_path: Path) -> None:
    async with settings_server(tmp_path) as server, AsyncExitStack() as stack:
        [sue] = await logged_in(server, stack, "1019")  # a supervisor: in the backup group, no queue of hers
        first = await stack.enter_async_context(calling(server, tmp_path, "410", name="first", number="0841000001"))
        await wait_for(lambda: waiting(server, "vip") == 1, what="the first caller waiting")
        second = await stack.enter_async_context(
            calling(server, tmp_path, "410", name="second", number="0841000002"))
        await wait_for(lambda: len(sue.calls) == 1 and state(server, "1019") == "on-call", what="Sue on the first")
        assert waiting(server, "vip") == 1  # the second caller waits on, first in line now
        await sue.calls[0].hangup()
        assert (await first.finished()).successful == 1
        await wait_for(lambda: len(sue.calls) == 2 and state(server, "1019") == "on-call", what="Sue on the second")
        await sue.calls[1].hangup()
        assert (await second.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    assert answered_by(db, "0841000001") == answered_by(db, "0841000002") == "1019"
    for number in ("0841000001", "0841000002"):
        call_id = call_of(db, number)
        [entered] = [at for event, at, *_ in timeline(db, call_id) if event == "ENTERQUEUE"]
        assert offered_at(db, "1019", call_id) - entered >= 2.0 - 0.05  # not before backup_after
    first_id, second_id = call_of(db, "0841000001"), call_of(db, "0841000002")
    assert offered_at(db, "1019", first_id) < offered_at(db, "1019", second_id)


async def test_linear_rings_the_lower_penalty_first_and_the_higher_one_only_when_it_is_busy(tmp_path: Path) -> None:
    async with settings_server(tmp_path) as server, AsyncExitStack() as stack:
        pat, kim = await logged_in(server, stack, "1013", "1014")  # Pat is first in the file, penalty 1
        first = await stack.enter_async_context(calling(server, tmp_path, "411", name="first", number="0841100001"))
        await wait_for(lambda: state(server, "1014") == "on-call", what="Kim on the first call")
        assert pat.calls == []
        second = await stack.enter_async_context(
            calling(server, tmp_path, "411", name="second", number="0841100002"))
        await wait_for(lambda: state(server, "1013") == "on-call", what="Pat on the second call")
        await kim.calls[0].hangup()
        await pat.calls[0].hangup()
        assert (await first.finished()).successful == 1 and (await second.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    assert (answered_by(db, "0841100001"), answered_by(db, "0841100002")) == ("1014", "1013")


async def test_the_queue_skills_leave_out_the_unskilled_and_cost_aware_takes_the_cheaper_expert(
    tmp_path: Path,
) -> None:
    async with settings_server(tmp_path) as server, AsyncExitStack() as stack:
        # Lou (cheapest, no tech skill) idles longest, then Ann (tech 4, cost 40), then Cy (tech 4, cost 20).
        lou, ann, cy = await logged_in(server, stack, "1015", "1016", "1017")
        caller = await stack.enter_async_context(calling(server, tmp_path, "412", name="tech", number="0841200001"))
        await wait_for(lambda: state(server, "1017") == "on-call", what="Cy on the call")
        assert lou.calls == [] and ann.calls == []
        await cy.calls[0].hangup()
        assert (await caller.finished()).successful == 1
        await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    assert answered_by(db, "0841200001") == "1017"
    offered = {str(agent) for (agent,) in query(db, "select agent from agent_events where state='reserved'")}
    assert offered == {"1017"}


async def test_weighted_random_follows_the_membership_weights(tmp_path: Path) -> None:
    """Weights 1 and 1 000 000: the light agent takes one of three calls once in 333 333 tries (and the
    router's generator is seeded: the same draw every run)."""
    async with settings_server(tmp_path) as server, AsyncExitStack() as stack:
        lee, max_ = await logged_in(server, stack, "1031", "1032")
        for n in range(3):
            caller = await stack.enter_async_context(
                calling(server, tmp_path, "415", name=f"share{n}", number=f"084150000{n}", hold=1.0))
            assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls and state(server, "1032") == "ready", what="call over")
        assert lee.calls == [] and len(max_.calls) == 3
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    assert [answered_by(db, f"084150000{n}") for n in range(3)] == ["1032"] * 3


announcement, two, music = (voiced_frames(name) for name in ("caller-number", "num-2", "moh"))


async def test_the_first_announcement_waits_first_after(tmp_path: Path) -> None:
    async with settings_server(tmp_path) as server, AsyncExitStack() as stack:
        await stack.enter_async_context(calling(server, tmp_path, "413", name="ahead", number="0841300001", hold=9.0))
        await wait_for(lambda: waiting(server, "later") == 1, what="the first caller waiting")
        second = await stack.enter_async_context(
            calling(server, tmp_path, "413", name="second", number="0841300002", hold=9.0))
        await wait_for(lambda: share_heard(second.media.heard, two) > 0.8, timeout=30, what="'two' heard")
        assert (await second.finished()).successful == 1
    heard = second.media.heard
    said = describe(heard, ("caller-number", "num-2", "moh"))
    start = first_heard(heard, music)
    assert 0 <= start < first_heard(heard, announcement) < first_heard(heard, two), said
    # Music from the start; the position only after first_after (4 s: 200 frames of 20 ms; half of it at least
    # even if the machine dropped frames), never on joining.
    assert first_heard(heard, announcement) - start >= 100, said


def hears_the_agent(caller: Caller) -> bool:
    """The caller's last second of audio is the agent's tone."""
    last = caller.media.heard[-50:]
    if len(last) < 50:
        return False
    heard = spectrum(PCMU.decode(b"".join(last)), 8000)
    return abs(heard.dominant - AGENT_HZ) < 20 and heard.peak_share > 0.8


async def test_an_agent_with_two_lines_takes_a_second_call_while_on_the_first(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    api_port = free_port()
    async with settings_server(tmp_path, api_port) as server, AsyncExitStack() as stack:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        phone = await stack.enter_async_context(
            Baresip(tmp_path, "duo", Account("1021", registrar, "pw-1021"), voice))
        await phone.registered()
        await feature_code(phone, "*45", registrar)
        await wait_for(lambda: state(server, "1021") == "ready", what="1021 ready")
        first = await stack.enter_async_context(
            calling(server, tmp_path, "414", name="first", number="0841400001", hold=14.0))
        await wait_for(lambda: len(server.acd.router.connected_calls()) == 1, what="the first call connected")
        await wait_for(lambda: hears_the_agent(first), what="the first caller hears the agent")
        second = await stack.enter_async_context(
            calling(server, tmp_path, "414", name="second", number="0841400002", hold=6.0))
        await wait_for(lambda: len(server.acd.router.connected_calls()) == 2, what="both calls connected",
                       timeout=30)
        assert state(server, "1021") == "on-call"
        http = await stack.enter_async_context(aiohttp.ClientSession())
        async with http.get(f"http://127.0.0.1:{api_port}/api/agents/1021",
                            headers={"Authorization": "Bearer test-token"}) as response:
            agent = await response.json()
        assert (agent["state"], len(agent["calls"]), agent["call_id"]) == ("on-call", 2, agent["calls"][0]), agent
        await wait_for(lambda: hears_the_agent(second), what="the second caller hears the agent")
        assert (await second.finished()).successful == 1
        await wait_for(lambda: len(server.acd.router.connected_calls()) == 1, what="the second call over")
        assert state(server, "1021") == "on-call"  # still on the first: no wrap-up yet
        assert (await first.finished()).successful == 1
        await wait_for(lambda: not server.calls and state(server, "1021") == "ready", what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    assert answered_by(db, "0841400001") == answered_by(db, "0841400002") == "1021"
    [(first_end,)] = query(db, "select ended_at from calls where call_id=?", call_of(db, "0841400001"))
    [(second_answer,)] = query(db, "select answered_at from calls where call_id=?", call_of(db, "0841400002"))
    assert from_iso_text(second_answer) < from_iso_text(first_end)  # the second call came during the first
