"""A predictive campaign through ``voxcenter run``, with SIPp customers and SIPp agent phones. A script, not a test.

    .venv/bin/python bench/campaign_sipp.py --agents 10 --seconds 300
    .venv/bin/python bench/campaign_sipp.py --agents 50 --seconds 300 --answer-rate 0.35

What runs: ``voxcenter run`` (the real command: dial plan, campaign, queue, CDRs) and two SIPp servers. The
*customers* (behind the campaign's trunk) answer with probability ``--answer-rate`` after 4–16 s, and otherwise
ring 3–25 s and give up with 480; an answered customer waits for voxcenter's BYE. The *agents* (``--agents``
phones, registered with digest and logged in through the admin API) answer after 200 ms, talk for an
exponential time of mean ``--talk`` seconds and hang up; wrap-up is ``--wrap-up``. The campaign dials
``--contacts`` contacts predictively with the default 3 % abandon limit (2 s to find an agent).

It prints, from the campaign's figures and the CDRs of the run: dials, answered, abandoned (and the rate), agent
occupancy (talk plus wrap-up over the agents' time), and the same with the campaign in progressive mode when
``--compare`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from call_path import agent_ids, register_agents  # noqa: E402  (the SIPp agent phones of the call path bench)
from sip_cps import SIPP  # noqa: E402

TOKEN = "campaign-bench-token"

_SDP = """Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=far 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
"""

_REPLY = """
      [last_Via:]
      [last_From:]
      [last_To:];tag=far[pid]-[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:far@[local_ip]:[local_port];transport=[transport]>"""


def customers_scenario(answer_rate: float) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="campaign customers">
  <recv request="INVITE" crlf="true" />
  <send><![CDATA[

      SIP/2.0 180 Ringing{_REPLY}
      Content-Length: 0

  ]]></send>
  <nop>
    <action>
      <sample assign_to="chance" distribution="uniform" min="0" max="1" />
      <test assign_to="picks_up" variable="chance" compare="less_than" value="{answer_rate}" />
    </action>
  </nop>
  <nop next="answer" test="picks_up" />
  <pause distribution="uniform" min="3000" max="25000" />
  <send><![CDATA[

      SIP/2.0 480 Temporarily Unavailable{_REPLY}
      Content-Length: 0

  ]]></send>
  <recv request="ACK" next="end" />
  <label id="answer" />
  <pause distribution="uniform" min="4000" max="16000" />
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK{_REPLY}
      {_SDP}
  ]]></send>
  <recv request="ACK" />
  <recv request="BYE" />
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <label id="end" />
</scenario>
"""


def agents_scenario(talk: float) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="campaign agents">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller" />
    </action>
  </recv>
  <pause milliseconds="200" />
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK{_REPLY.replace("far[pid]", "agent[pid]")}
      {_SDP}
  ]]></send>
  <recv request="ACK" />
{hang_up_after(talk, "agent")}
</scenario>
"""


def hang_up_after(talk: float, party: str) -> str:
    """SIPp steps for the called side: talk an exponential time of mean ``talk`` seconds, then BYE (the
    INVITE's From was kept as ``caller``, the tag is the one our 200 gave)."""
    return f"""  <pause distribution="exponential" mean="{int(talk * 1000)}" />
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{party}@[local_ip]:[local_port]>;tag={party}[pid]-[call_number]
      To: [$caller]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" />"""


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dial_plan(work: Path, *, sip_port: int, api_port: int, agents: list[str], customers: int, mode: str,
              wrap_up: float) -> Path:
    agent_lines = "".join(f"  '{a}': {{name: Agent {a}, password: pw{a}, queues: [outbound]}}\n" for a in agents)
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
  customers: {{patterns: ['\\+48[0-9]+'], trunk: customers}}
queues:
  outbound: {{ring_timeout: 10s, retry_delay: 1s, wrap_up: {wrap_up:g}s, join_when: always, leave_when: never,
              announcements: {{position_every: null}}}}
agents:
{agent_lines}campaigns:
  bench: {{queue: outbound, mode: {mode}, ring_time: 30s}}
prompts:
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
  max_calls_in_progress: 2000
  max_loop_lag: null
api:
  enabled: true
  port: {api_port}
  token: {TOKEN}
"""
    path = work / "voxcenter.yaml"
    path.write_text(text)
    return path


def api(port: int, method: str, path: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def run(args: argparse.Namespace, mode: str) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    agents = agent_ids(args.agents)
    sip_port, api_port, agent_port, customer_port = free_port(), free_port(), free_port(), free_port()
    (work / "customers.xml").write_text(customers_scenario(args.answer_rate))
    (work / "agents.xml").write_text(agents_scenario(args.talk))
    plan = dial_plan(work, sip_port=sip_port, api_port=api_port, agents=agents, customers=customer_port, mode=mode,
                     wrap_up=args.wrap_up)
    server = subprocess.Popen([sys.executable, "-m", "voxcenter.cli", "run", "--config", str(plan), "--log-json",
                               "--drain", "0s"],
                              stdout=(work / "server.log").open("wb"), stderr=subprocess.STDOUT)
    sipps = []
    try:
        for _ in range(100):
            try:
                api(api_port, "GET", "/api/campaigns")
                break
            except OSError:
                time.sleep(0.2)
        asyncio.run(register_agents(agents, agent_port, sip_port))
        for scenario, port in (("customers.xml", customer_port), ("agents.xml", agent_port)):
            sipps.append(subprocess.Popen([SIPP, "-sf", str(work / scenario), "-i", "127.0.0.1", "-p", str(port),
                                           "-m", "100000", "-bg", "-nostdin", "-max_socket", "4096", "-aa"],
                                          cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for agent in agents:
            api(api_port, "POST", f"/api/agents/{agent}/login")
        csv = "number\n" + "".join(f"+48{220000000 + n}\n" for n in range(args.contacts))
        api(api_port, "POST", "/api/campaigns/bench/contacts", csv.encode())
        started = time.time()
        api(api_port, "POST", "/api/campaigns/bench/start")
        time.sleep(args.seconds)
        api(api_port, "POST", "/api/campaigns/bench/pause")
        view = api(api_port, "GET", "/api/campaigns/bench")
        ended = time.time()
        time.sleep(2.0)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        for sipp in sipps:
            sipp.kill()
        subprocess.run(["pkill", "-f", str(work)], check=False)
    with sqlite3.connect(work / "voxcenter.db") as db:
        talked = db.execute("select coalesce(sum(talk_seconds), 0), count(*) from calls where campaign='bench' "
                            "and agent is not null").fetchone()
    busy = talked[0] + talked[1] * args.wrap_up
    outcomes = view["outcomes"]
    answered = outcomes.get("answered", 0) + outcomes.get("abandoned", 0)
    return {"dials": view["dials"], "answered": answered, "abandoned": outcomes.get("abandoned", 0),
            "abandon_rate": outcomes.get("abandoned", 0) / answered if answered else 0.0,
            "occupancy": min(1.0, busy / (args.agents * (ended - started))), "reached": talked[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--answer-rate", type=float, default=0.35)
    parser.add_argument("--talk", type=float, default=30.0)
    parser.add_argument("--wrap-up", type=float, default=3.0)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--compare", action="store_true", help="run progressive after predictive")
    args = parser.parse_args()
    print(f"{args.agents} agents, answer rate {args.answer_rate:.0%}, talk {args.talk:g} s (exponential), "
          f"wrap-up {args.wrap_up:g} s, {args.seconds:g} s per run")
    print("| mode | dials | answered (settled) | reached an agent | abandoned | abandon rate | occupancy |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode in ("predictive", "progressive") if args.compare else ("predictive",):
        r = run(args, mode)
        print(f"| {mode} | {r['dials']} | {r['answered']} | {r['reached']} | {r['abandoned']} | "
              f"{r['abandon_rate']:.2%} | {r['occupancy']:.1%} |", flush=True)


if __name__ == "__main__":
    main()
