"""A progressive campaign against a real ``voxcenter run``: SIPp carriers play the customers, baresip the agent.

The contact list arrives as CSV through the API (a duplicate, a barred number and a row with an unknown time
zone among them). Once started, the campaign dials one customer per free agent: each customer who answers
is bridged to agent 1001 (baresip, auto-answer), and the next is dialled when the agent hangs up. A busy
number is tried again after its retry delay, then given up. Every dial leaves an outbound CDR naming the
campaign and the contact; the contacts' progress is in ``campaign_contacts``, and a restart finds it there.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import AGENT_HZ, ServerProcess, plan_sections, query, rtp_base_for_test, served, wait_for
from tests.e2e.whole_call_peers import baresip_agent
from tests.interop.audio import write_tone_wav
from tests.interop.sipp import SippServer, free_port
from voxcenter.acd.pacing import Measures, Staffing
from voxcenter.runtime import campaigns

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

CSV = """number,name,timezone,plan
+48221000001,Ola,Europe/Warsaw,gold
+48221000002,Jan,,silver
+48331000003,Busy Bee,Europe/Warsaw,
+48221000001,Ola again,Europe/Warsaw,
+48229999999,Barred,Europe/Warsaw,
+48221000004,Nobody,Mars/Olympus,
"""


def write_plan(directory: Path, answering: str, busy: str) -> tuple[Path, int, int]:
    sip_port, api_port = free_port(), free_port()
    body = textwrap.dedent(f"""\
        trunks:
          customers:
            outbound: {{proxy: 'sip:{answering}', options_interval: null}}
          busy-line:
            outbound: {{proxy: 'sip:{busy}', options_interval: null}}
        routes:
          mobiles:
            patterns: ['\\+4822[0-9]+']
            trunk: customers
          landlines:
            patterns: ['\\+4833[0-9]+']
            trunk: busy-line
        queues:
          renewals:
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [renewals]}}
        campaigns:
          renewals:
            queue: renewals
            mode: progressive
            connect_within: 5s
            ring_time: 10s
            retries:
              busy: {{attempts: 2, delay: 2s}}
        """)
    text = plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                         inactivity_timeout="30s", api_port=api_port)
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port, api_port


async def api(port: int, method: str, path: str, body: str | dict[str, Any] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as session, \
            session.request(method, f"http://127.0.0.1:{port}{path}", data=data) as response:
        return response.status, await response.json()


async def cli(port: int, *args: str) -> tuple[int, str]:
    """``voxcenter <args>`` against the server's API; exit status and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxcenter.cli", *args, "--api", f"http://127.0.0.1:{port}", "--token", "test-token",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_a_progressive_campaign_dials_its_contacts_for_the_free_agent(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer.xml", tmp_path, calls=2) as customers, \
            SippServer("uas_busy.xml", tmp_path, calls=2) as busy:
        plan, sip_port, api_port = write_plan(tmp_path, customers.address, busy.address)
        db = tmp_path / "voxcenter.db"
        server = ServerProcess(plan, tmp_path / "server.log")
        try:
            await server.start()
            assert (await api(api_port, "POST", "/api/do-not-call", {"numbers": ["+48229999999"]}))[1] == \
                {"changed": 1}
            assert (await api(api_port, "POST", "/api/campaigns/nope/contacts", CSV))[0] == 404
            assert (await api(api_port, "POST", "/api/campaigns/renewals/contacts", "name\nOla\n"))[0] == 400
            (tmp_path / "contacts.csv").write_text(CSV)
            status, out = await cli(api_port, "campaign", "import", "renewals", str(tmp_path / "contacts.csv"))
            assert status == 0 and out.splitlines() == [
                "4 added, 1 already there, 1 on the do-not-call list, 1 refused",
                "  line 7: unknown time zone 'Mars/Olympus'"], out
            async with baresip_agent(tmp_path, "1001", f"127.0.0.1:{sip_port}", voice) as phone:
                status, started = await api(api_port, "POST", "/api/campaigns/renewals/start")
                assert (status, started["running"]) == (200, True)
                for reached in (1, 2):  # each answered customer reaches the agent; the agent hangs up
                    await wait_for(lambda n=reached: query(
                        db, "select count(*) from calls where campaign='renewals' and agent='1001'") == [(n,)],
                        what=f"customer {reached} bridged to the agent", timeout=30)
                    await asyncio.sleep(1.0)
                    await phone.hang_up()
                await wait_for(lambda: query(db, "select status, attempts from campaign_contacts where number=?",
                                             "+48331000003") == [("exhausted", 2)],
                               what="the busy number tried twice, then given up", timeout=30)
            status, out = await cli(api_port, "campaign", "status", "renewals")
            assert status == 0 and "renewals (progressive, queue renewals): running" in out, out
            assert "contacts: pending 0, dialing 0, done 2, exhausted 1, do_not_call 1" in out, out
            _, view = await api(api_port, "GET", "/api/campaigns/renewals")
            assert view["contacts"] == {"pending": 0, "dialing": 0, "done": 2, "exhausted": 1, "do_not_call": 1}
            assert view["outcomes"] == {"answered": 2, "busy": 2}, view
            contacts = dict(query(db, "select number, status from campaign_contacts"))
            assert contacts == {"+48221000001": "done", "+48221000002": "done", "+48331000003": "exhausted",
                                "+48229999999": "do_not_call"}
            [(data,)] = query(db, "select data from campaign_contacts where number='+48221000001'")
            assert json.loads(data) == {"plan": "gold"}
            cdrs = query(db, "select direction, to_number, disposition, agent, hangup_cause, contact_id is not null "
                             "from calls where campaign='renewals' order by arrived_at")
            assert [row[:4] for row in cdrs] == [
                ("outbound", "+48221000001", "answered", "1001"), ("outbound", "+48221000002", "answered", "1001"),
                ("outbound", "+48331000003", "failed", None), ("outbound", "+48331000003", "failed", None)], cdrs
            assert cdrs[2][4] == "busy (486)" and all(row[5] for row in cdrs)
            # A restart finds the campaign running and its list where it was (nothing left to dial).
            server.terminate()
            assert await server.exit_status(20) == 0
            await server.start()
            _, again = await api(api_port, "GET", "/api/campaigns/renewals")
            assert (again["running"], again["contacts"]) == (True, view["contacts"])
        finally:
            await server.kill()


def write_second_plan(directory: Path, late: str, ringing: str) -> tuple[Path, int, int]:
    sip_port, api_port = free_port(), free_port()
    body = textwrap.dedent(f"""\
        trunks:
          late-line:
            outbound: {{proxy: 'sip:{late}', options_interval: null}}
          ringing-line:
            outbound: {{proxy: 'sip:{ringing}', options_interval: null}}
        routes:
          ringers:
            patterns: ['\\+4844[0-9]+']
            trunk: ringing-line
          late-answer:
            patterns: ['\\+4855[0-9]+']
            trunk: late-line
        schedules:
          never: {{timezone: Europe/Warsaw}}
        queues:
          renewals: {{ring_timeout: 10s, wrap_up: 0s, join_when: always, leave_when: never}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [renewals]}}
        campaigns:
          late:
            queue: renewals
            route: late-answer
            caller_id: '+48220000000'
            connect_within: 2s
            abandon_prompt: goodbye
            retries: {{abandoned: {{attempts: 2, delay: 1h}}}}
          ringing:
            queue: renewals
            ring_time: 2s
            retries: {{no_answer: {{attempts: 1, delay: 1s}}, failed: {{attempts: 1, delay: 1s}}}}
          closed:
            queue: renewals
            hours: never
        """)
    text = plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                         inactivity_timeout="30s", api_port=api_port)
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port, api_port


async def test_abandons_rings_out_and_calling_hours(tmp_path: Path) -> None:
    """A customer who answers once the agent has gone hears the campaign's message and is hung up (an abandon,
    due again later); a phone nobody picks up is given up after ``ring_time``; a campaign outside its hours
    dials nobody."""
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer_late.xml", tmp_path, extra=["-d", "3000"]) as late, \
            SippServer("uas_ringing.xml", tmp_path) as ringing:
        plan, sip_port, api_port = write_second_plan(tmp_path, late.address, ringing.address)
        db = tmp_path / "voxcenter.db"
        server = ServerProcess(plan, tmp_path / "server.log")
        try:
            await server.start()
            for campaign, numbers in (("late", "+48550000001"), ("ringing", "+48440000001\n+49660000001"),
                                      ("closed", "+48550000009")):
                status, _ = await api(api_port, "POST", f"/api/campaigns/{campaign}/contacts", f"number\n{numbers}\n")
                assert status == 201
            async with baresip_agent(tmp_path, "1001", f"127.0.0.1:{sip_port}", voice):
                await api(api_port, "POST", "/api/campaigns/closed/start")
                await api(api_port, "POST", "/api/campaigns/ringing/start")
                await wait_for(lambda: sorted(query(db, "select number, status, attempts, last_outcome from "
                                                        "campaign_contacts where campaign='ringing'")) == [
                    ("+48440000001", "exhausted", 1, "no_answer"), ("+49660000001", "exhausted", 1, "failed")],
                               what="the unanswered phone given up after its ring time, the unroutable number "
                                    "after its one attempt", timeout=20)
                await api(api_port, "POST", "/api/campaigns/ringing/pause")
                await api(api_port, "POST", "/api/campaigns/late/start")
                await wait_for(lambda: query(db, "select count(*) from calls where campaign='late'") == [(1,)],
                               what="the late customer dialled", timeout=10)
                status, _ = await api(api_port, "POST", "/api/agents/1001/pause", {"reason": "coffee"})
                assert status == 200
                await wait_for(lambda: query(db, "select status, attempts, last_outcome from campaign_contacts "
                                                 "where campaign='late'") == [("pending", 1, "abandoned")],
                               what="the customer who found no agent, due again", timeout=30)
            [(disposition, hangup_by, cause, caller, agent)] = query(
                db, "select disposition, hangup_by, hangup_cause, from_number, agent from calls where campaign='late'")
            assert (disposition, hangup_by, cause, agent) == ("abandoned_queue", "system", "no agent free in time",
                                                              None)
            assert caller.endswith("48220000000"), caller
            assert query(db, "select count(*) from call_events where event='ABANDON'") == [(1,)]
            causes = dict(query(db, "select to_number, hangup_cause from calls where campaign='ringing'"))
            # 408: voxcenter gave up at ring_time (the far end never answered our CANCEL with a 487).
            assert causes == {"+48440000001": "no answer (408)", "+49660000001": "failed (404)"}, causes
            assert query(db, "select status, attempts from campaign_contacts where campaign='closed'") == \
                [("pending", 0)]
            assert query(db, "select count(*) from calls where campaign='closed'") == [(0,)]
        finally:
            await server.kill()
        assert (await late.wait(20)).successful == 1  # the customer got the server's BYE after the message


async def test_a_preview_campaign_rings_the_agent_first_then_the_customer(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with SippServer("uas_answer.xml", tmp_path) as customer:
        plan, sip_port, api_port = write_plan(tmp_path, customer.address, customer.address)
        plan.write_text(plan.read_text().replace("mode: progressive", "mode: preview"))
        db = tmp_path / "voxcenter.db"
        server = ServerProcess(plan, tmp_path / "server.log")
        try:
            await server.start()
            assert (await api(api_port, "POST", "/api/campaigns/renewals/contacts", "number\n+48221000001\n"))[0] \
                == 201
            async with baresip_agent(tmp_path, "1001", f"127.0.0.1:{sip_port}", voice) as phone:
                await api(api_port, "POST", "/api/campaigns/renewals/start")
                await wait_for(lambda: query(db, "select count(*) from calls where campaign='renewals' and "
                                                 "answered_at is not null") == [(1,)],
                               what="the customer dialled once the agent answered, and answering", timeout=30)
                await asyncio.sleep(1.0)
                await phone.hang_up()
                await wait_for(lambda: query(db, "select status, last_outcome from campaign_contacts") ==
                               [("done", "answered")], what="the contact reached", timeout=20)
            [(direction, agent, disposition, contact)] = query(
                db, "select direction, agent, disposition, contact_id from calls where campaign='renewals'")
            assert (direction, agent, disposition) == ("outbound", "1001", "answered") and contact
        finally:
            await server.kill()
        assert (await customer.wait(20)).successful == 1


async def test_a_predictive_campaign_paces_with_its_own_limit_window_and_wait(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The campaign's abandon settings reach every pacing decision (what the pacing does with them is
    ``tests/acd/test_pacing.py``, with the real pacing against simulated customers)."""
    decisions: list[tuple[float, float, int]] = []

    def recording(staffing: Staffing, in_flight: int, measures: Measures, limit: float, wait: float) -> int:
        decisions.append((limit, wait, staffing.free))
        return 0

    monkeypatch.setattr(campaigns, "predictive_lines", recording)
    body = textwrap.dedent("""\
        queues:
          renewals: {wrap_up: 0s, join_when: always, leave_when: never}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [renewals]}
        campaigns:
          renewals: {queue: renewals, mode: predictive, abandon_limit: 0.1, abandon_window: 10m, connect_within: 3s}
        """)
    plan = tmp_path / "voxcenter.yaml"
    plan.write_text(plan_sections(tmp_path, body, sip_port=free_port(), rtp_base=rtp_base_for_test()))
    async with served(plan) as server:
        server.campaigns.start("renewals")
        await wait_for(lambda: len(decisions) >= 2, what="two pacing decisions", timeout=10)
        assert decisions[0] == (0.1, 3.0, 0)  # nobody logged in: no agent free
        assert server.campaigns.runners["renewals"].stats.abandon_window == 600.0
