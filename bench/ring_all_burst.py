"""A burst into a ring-all queue: how soon every caller is connected. A script, not a test.

    .venv/bin/python bench/ring_all_burst.py [--callers 200] [--agents 400] [--answer-delay 2] [--spread 0 1]

The real router on a simulated clock: ``--callers`` callers arrive evenly within ``--spread`` seconds into a
ring-all queue with ``--agents`` free agents whose phones answer ``--answer-delay`` seconds after they start
ringing (a ring taken back and given to another caller starts again). Prints when the first, median and last
caller were connected and how many rings were taken back to share the agents among the callers at the head.
"""

from __future__ import annotations

import argparse
import heapq
import time

from voxcenter.acd import AgentProfile, Bridge, CallRequest, CancelRing, QueuePolicy, RingAgent, Router, Strategy


def burst(callers: int, agents: int, spread: float, answer_delay: float) -> tuple[list[float], int]:
    """Connection times (sorted) and rings taken back."""
    policy = QueuePolicy("q", strategy=Strategy.RING_ALL, announce_every=None, autopause_after=None,
                         ring_timeout=30.0)
    profiles = [AgentProfile(f"a{i:04d}", queues=frozenset({"q"})) for i in range(agents)]
    router = Router([policy], profiles, now=0.0)
    for profile in profiles:
        router.agent_registered(profile.agent_id, 0.0)
        router.agent_login(profile.agent_id, 0.0)
    events: list[tuple[float, int, str, str, str]] = []
    for i in range(callers):
        heapq.heappush(events, (spread * i / callers, i, "join", f"c{i:04d}", ""))
    seq = callers
    ringing: set[tuple[str, str]] = set()
    connected: list[float] = []
    taken_back = 0
    while events:
        now, _, kind, call_id, agent_id = heapq.heappop(events)
        if kind == "join":
            router.caller_joined(CallRequest(call_id, "q"), now)
        elif (call_id, agent_id) in ringing:
            router.ring_answered(call_id, agent_id, now)
        while (decision := router.next_decision()) is not None:
            if isinstance(decision, RingAgent):
                ringing.add((decision.call_id, decision.agent_id))
                seq += 1
                heapq.heappush(events, (now + answer_delay, seq, "answer", decision.call_id, decision.agent_id))
            elif isinstance(decision, CancelRing):
                ringing.discard((decision.call_id, decision.agent_id))
                taken_back += decision.reason == "ring shared with the callers behind"
            elif isinstance(decision, Bridge):
                ringing.discard((decision.call_id, decision.agent_id))
                connected.append(now)
    return sorted(connected), taken_back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--answer-delay", type=float, default=2.0)
    parser.add_argument("--spread", type=float, nargs="+", default=[0.0, 1.0])
    args = parser.parse_args()
    print("| arrivals within | connected | first | median | last | rings taken back | wall time |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for spread in args.spread:
        started = time.perf_counter()
        times, back = burst(args.callers, args.agents, spread, args.answer_delay)
        wall = time.perf_counter() - started
        print(f"| {spread:g} s | {len(times)} of {args.callers} | {times[0]:.2f} s | {times[len(times) // 2]:.2f} s | "
              f"{times[-1]:.2f} s | {back} | {wall:.2f} s |")


if __name__ == "__main__":
    main()
