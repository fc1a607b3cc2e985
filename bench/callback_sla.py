"""Callback SLA through ``voxcenter run``: web leads booked through the API, called back by SIPp agent phones.

    .venv/bin/python bench/callback_sla.py --agents 10 --leads-per-minute 12 --minutes 5

What runs: ``voxcenter run`` (the real command) with a queue of ``--agents`` SIPp-registered agent phones (they
answer after 200 ms and wait for the end of the call) and SIPp customers behind the trunk (they answer after
2–8 s, talk an exponential time of mean ``--talk`` seconds and hang up). Leads arrive as ``POST /api/callbacks``
(Poisson, ``--leads-per-minute``) for ``--minutes``; the queue's callback target is ``--sla`` (the seed's
"called back within 5 minutes"). Once the last lead is booked the bench waits until every callback was
dialled, then prints the share first dialled within the target (what ``voxcenter report`` calls callback SLA,
``voxcenter/reports/kpi.py``), the wait to the first dial (median, 90th percentile, worst) and the agents'
occupancy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from call_path import agent_ids, register_agents  # noqa: E402
from campaign_sipp import _REPLY, _SDP, TOKEN, api, free_port, hang_up_after  # noqa: E402
from sip_cps import SIPP, percentile  # noqa: E402

_OK = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
"""


def customers_scenario(talk: float) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="leads">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller" />
    </action>
  </recv>
  <send><![CDATA[

      SIP/2.0 180 Ringing{_REPLY}
      Content-Length: 0

  ]]></send>
  <pause distribution="uniform" min="2000" max="8000" />
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK{_REPLY}
      {_SDP}
  ]]></send>
  <recv request="ACK" />
{hang_up_after(talk, "far")}
</scenario>
"""


def agents_scenario() -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agents waiting for the end">
  <recv request="INVITE" crlf="true" />
  <pause milliseconds="200" />
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK{_REPLY.replace("far[pid]", "agent[pid]")}
      {_SDP}
  ]]></send>
  <recv request="ACK" />
  <recv request="BYE" />
  <send><![CDATA[
{_OK}
  ]]></send>
</scenario>
"""


def dial_plan(work: Path, *, sip_port: int, api_port: int, agents: list[str], customers: int, sla: float,
              wrap_up: float) -> Path:
    agent_lines = "".join(f"  '{a}': {{name: Agent {a}, password: pw{a}, queues: [web]}}\n" for a in agents)
    text = f"""\
sip:
  listen:
    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
rtp:
  address: 127.0.0.1
  port_min: 30000
  port_max: 33999
  inactivity_timeout: 600s
trunks:
  customers:
    outbound: {{proxy: 'sip:127.0.0.1:{customers}', options_interval: null}}
routes:
  leads: {{patterns: ['\\+48[0-9]+'], trunk: customers, allow: {{ivr: true}}}}
queues:
  web:
    ring_timeout: 10s
    retry_delay: 1s
    wrap_up: {wrap_up:g}s
    join_when: always
    leave_when: never
    callback: {{sla: {sla:g}s, attempts: 3, retry_delay: 30s, ring_time: 20s}}
agents:
{agent_lines}prompts:
  directory: {ROOT / "prompts"}
  default_language: en
  languages: [en]
recording:
  enabled: false
database:
  url: sqlite+aiosqlite:///{work / 'voxcenter.db'}
  journal_directory: {work / "journal"}
security:
  never_ban: [127.0.0.1/32]
  max_loop_lag: null
api:
  enabled: true
  port: {api_port}
  token: {TOKEN}
"""
    path = work / "voxcenter.yaml"
    path.write_text(text)
    return path


def seconds(value: object) -> float:
    """A stored time: POSIX seconds, or ISO 8601 text (SQLite)."""
    return value if isinstance(value, float) else datetime.fromisoformat(str(value)).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--leads-per-minute", type=float, default=12.0)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--talk", type=float, default=30.0)
    parser.add_argument("--wrap-up", type=float, default=3.0)
    parser.add_argument("--sla", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="callback-bench-"))
    agents = agent_ids(args.agents)
    sip_port, api_port, agent_port, customer_port = free_port(), free_port(), free_port(), free_port()
    (work / "customers.xml").write_text(customers_scenario(args.talk))
    (work / "agents.xml").write_text(agents_scenario())
    plan = dial_plan(work, sip_port=sip_port, api_port=api_port, agents=agents, customers=customer_port,
                     sla=args.sla, wrap_up=args.wrap_up)
    server = subprocess.Popen([sys.executable, "-m", "voxcenter.cli", "run", "--config", str(plan), "--log-json",
                               "--drain", "0s"], stdout=(work / "server.log").open("wb"), stderr=subprocess.STDOUT)
    sipps = []
    booked = 0
    started = ended = time.time()
    try:
        for _ in range(100):
            try:
                api(api_port, "GET", "/api/callbacks")
                break
            except OSError:
                time.sleep(0.2)
        asyncio.run(register_agents(agents, agent_port, sip_port))
        for scenario, port in (("customers.xml", customer_port), ("agents.xml", agent_port)):
            sipps.append(subprocess.Popen([SIPP, "-sf", str(work / scenario), "-i", "127.0.0.1", "-p", str(port),
                                           "-m", "100000", "-bg", "-nostdin", "-aa"],
                                          cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for agent in agents:
            api(api_port, "POST", f"/api/agents/{agent}/login")
        started = time.time()
        end = started + args.minutes * 60.0
        while (now := time.time()) < end:
            time.sleep(min(end - now, rng.expovariate(args.leads_per_minute / 60.0)))
            body = json.dumps({"number": f"+48{500000000 + booked}", "queue": "web", "due": "now"}).encode()
            api(api_port, "POST", "/api/callbacks", body)
            booked += 1
        while any(c["status"] == "pending" for c in api(api_port, "GET", "/api/callbacks")["callbacks"]) \
                and time.time() < end + 3 * args.sla:
            time.sleep(1.0)
        ended = time.time()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        for sipp in sipps:
            sipp.kill()
        subprocess.run(["pkill", "-f", str(work)], check=False)  # SIPp -bg leaves a daemon behind
    with sqlite3.connect(work / "voxcenter.db") as db:
        rows = db.execute("select requested_at, due_at, first_dialled_at from callbacks").fetchall()
        talk = db.execute("select coalesce(sum(talk_seconds), 0), count(*) from calls where direction='outbound' "
                          "and agent is not null").fetchone()
    waits = sorted(seconds(first) - seconds(due or requested) for requested, due, first in rows if first is not None)
    within = sum(1 for wait in waits if wait <= args.sla)
    occupancy = (talk[0] + args.wrap_up * talk[1]) / (args.agents * (ended - started))
    print(f"{args.agents} agents, {args.leads_per_minute:g} leads/min for {args.minutes:g} min, talk "
          f"{args.talk:g} s (exponential), target {args.sla:g} s")
    print("| leads | dialled | within target | callback SLA | wait p50 | wait p90 | worst | occupancy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    if waits:
        print(f"| {booked} | {len(waits)} | {within} | {within / booked:.1%} | {percentile(waits, 0.5):.0f} s | "
              f"{percentile(waits, 0.9):.0f} s | {waits[-1]:.0f} s | {occupancy:.0%} |")


if __name__ == "__main__":
    main()
