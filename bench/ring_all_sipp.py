"""A burst into a ring-all queue through the real runtime: SIPp callers, SIPp agent phones. A script, not a test.

    .venv/bin/python bench/ring_all_sipp.py [--callers 200] [--agents 400] [--answer-delay 2] [--rate 200]

``voxcenter run`` (the real command, a child process, SQLite CDRs) with one ring-all queue of ``--agents`` agents.
Every agent's phone is registered (digest) from one UDP port where a SIPp UAS then answers each INVITE
``--answer-delay`` seconds after it arrives (or takes a CANCEL: 200, 487, ACK); the agents are logged in through
the admin API. A SIPp UAC from the carrier's address then places ``--callers`` calls at ``--rate`` calls/s into
the queue and holds each for ``--hold`` seconds. The CDRs give each caller's wait (queue entry to agent answer):
printed are how many were answered, the first, median and last wait, and voxcenter's CPU meanwhile.
``bench/ring_all_burst.py`` is the same burst on the router alone (simulated clock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from call_path import (  # noqa: E402  (the call-path benchmark's peers: agent registration, SIPp scenarios)
    CALLER_IP,
    _free_tcp_port,
    _free_udp_port,
    agent_ids,
    register_agents,
)
from sip_cps import SIPP, process_cpu_seconds  # noqa: E402

AGENT_SCENARIO = ROOT / "tests" / "interop" / "scenarios" / "uas_answer_later_or_cancel.xml"
"""The agent phones: answer 2 s after the INVITE (``timeout="2000"``, replaced by ``--answer-delay``) or take a
CANCEL."""


def dial_plan(work: Path, *, sip_port: int, rtp_base: int, api_port: int, token: str, agents: int,
              max_loop_lag: str) -> Path:
    prompts = work / "prompts" / "en"
    prompts.mkdir(parents=True)
    for source in (ROOT / "prompts" / "en").glob("*.wav"):
        (prompts / source.name).symlink_to(source)
    agent_lines = "".join(f"  '{a}': {{name: Agent {a}, password: pw{a}, queues: [burst]}}\n"
                          for a in agent_ids(agents))
    text = f"""\
sip:
  listen:
    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}
rtp:
  address: 127.0.0.1
  port_min: {rtp_base}
  port_max: {rtp_base + 29999}
  inactivity_timeout: 120s
trunks:
  carrier:
    inbound: {{allow_from: [{CALLER_IP}/32]}}
numbers:
  '7': {{node: burst}}
ivr:
  burst: {{type: queue, queue: burst}}
queues:
  burst:
    selection: ring-all
    ring_timeout: 30s
    retry_delay: 1s
    wrap_up: 0s
    join_when: always
    leave_when: never
    announcements: {{position_every: null}}
agents:
{agent_lines}prompts:
  directory: {work / "prompts"}
  default_language: en
  languages: [en]
recording:
  enabled: false
database:
  url: sqlite+aiosqlite:///{work / 'voxcenter.db'}
  journal_directory: {work / "journal"}
security:
  never_ban: [127.0.0.1/32, {CALLER_IP}/32]
  flood: {{trunk_requests: 0}}
  max_calls_in_progress: 2000
  max_loop_lag: {max_loop_lag}
api:
  enabled: true
  port: {api_port}
  token: {token}
"""
    path = work / "voxcenter.yaml"
    path.write_text(text)
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--answer-delay", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=200.0, help="calls per second the callers start at")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds each caller stays on the line")
    parser.add_argument("--rtp-base", type=int, default=20000)
    parser.add_argument("--max-loop-lag", default="50ms",
                        help="security.max_loop_lag: new calls are shed with 503 past it (default 50ms; null: never)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ring-all-sipp-"))
    sip_port, api_port, agent_port = _free_udp_port(), _free_tcp_port(), _free_udp_port()
    token = secrets.token_urlsafe(16)
    plan = dial_plan(work, sip_port=sip_port, rtp_base=args.rtp_base, api_port=api_port, token=token,
                     agents=args.agents, max_loop_lag=args.max_loop_lag)
    log = (work / "voxcenter.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "voxcenter.cli", "run", "--config", str(plan), "--log-json",
                               "--drain", "0s", "--node", "bench"], stdout=log, stderr=subprocess.STDOUT, cwd=work)
    agents_sipp: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while b'"voxcenter.started"' not in (work / "voxcenter.log").read_bytes():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"voxcenter did not start:\n{(work / 'voxcenter.log').read_text()[-3000:]}")
            time.sleep(0.1)
        asyncio.run(register_agents(agent_ids(args.agents), agent_port, sip_port))
        answer = work / "agent.xml"
        answer.write_text(AGENT_SCENARIO.read_text().replace('timeout="2000"',
                                                             f'timeout="{int(args.answer_delay * 1000)}"'))
        agents_sipp = subprocess.Popen(
            [SIPP, "-sf", str(answer), "-t", "u1", "-i", "127.0.0.1", "-p", str(agent_port), "-nostdin", "-aa",
             "-buff_size", "4194304", "-l", "5000", "-trace_err", "-trace_stat", "-fd", "1"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        for agent in agent_ids(args.agents):
            request = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/agents/{agent}/login", method="POST",
                                             data=b"{}", headers={"Authorization": f"Bearer {token}",
                                                                  "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        time.sleep(1.0)
        caller = work / "caller.xml"  # the test suite's caller, staying on the line for -d (--hold)
        text = (ROOT / "tests" / "interop" / "scenarios" / "uac_call.xml").read_text()
        caller.write_text(text.replace('<pause milliseconds="500" />', "<pause />"))
        cpu_before, started = process_cpu_seconds(server.pid), time.monotonic()
        callers = subprocess.run(
            [SIPP, "-sf", str(caller), "-s", "7",
             f"127.0.0.1:{sip_port}", "-t", "u1", "-i", CALLER_IP, "-m", str(args.callers), "-r", f"{args.rate:g}",
             "-l", str(args.callers), "-d", str(int(args.hold * 1000)), "-nostdin", "-timeout", "120",
             "-timeout_error", "-trace_stat", "-fd", "1", "-buff_size", "4194304"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=240)
        busy = process_cpu_seconds(server.pid) - cpu_before
        wall = time.monotonic() - started
    finally:
        if agents_sipp is not None:
            agents_sipp.send_signal(signal.SIGUSR1)  # SIPp: stop
            with contextlib.suppress(subprocess.TimeoutExpired):
                agents_sipp.wait(10)
            if agents_sipp.poll() is None:
                agents_sipp.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    with sqlite3.connect(work / "voxcenter.db") as db:
        rows = db.execute("select wait_seconds, agent from calls where queue = 'burst'").fetchall()
        arrived = db.execute("select count(*) from calls").fetchone()[0]
        taken_back = db.execute("select count(*) from agent_events where reason = "
                                "'ring shared with the callers behind'").fetchone()[0]
    waits = [float(w) for w, agent in rows if agent is not None and w is not None]
    print(f"callers {args.callers} at {args.rate:g}/s, agents {args.agents} answering after {args.answer_delay:g} s, "
          f"max_loop_lag {args.max_loop_lag}; calls accepted {arrived} (the rest refused with 503 by the lag guard); "
          f"SIPp callers exit status {callers.returncode}")
    if waits:
        print(f"answered {len(waits)} of {len(rows)} queued; wait first {min(waits):.2f} s, median "
              f"{percentile(waits, 0.5):.2f} s, p95 {percentile(waits, 0.95):.2f} s, last {max(waits):.2f} s; "
              f"rings taken back {taken_back}")
    print(f"voxcenter CPU {busy:.1f} s over {wall:.1f} s of the run")
    print(f"work directory {work}" if args.keep else "")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
