"""Campaign pacing: abandon rate held and agent occupancy reached, predictive against progressive. A script.

    .venv/bin/python bench/campaign_pacing.py [--hours 4] [--seeds 1 2 3]

The real pacing (``voxcenter.acd.pacing``) on a simulated clock (``voxcenter.acd.campaign_sim``): customers
answer with the given probability after 4–16 s (the others ring out after 3–25 s), talk 120 s on average
(exponential) and the agent wraps up 10 s; an answered customer with no agent free within 2 s is an abandon.
The abandon limit is 3 % over the run.
"""

from __future__ import annotations

import argparse
import time

from voxcenter.acd.campaign_sim import simulate_campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--answer-rates", type=float, nargs="+", default=[0.2, 0.35, 0.5])
    args = parser.parse_args()
    started = time.perf_counter()
    print("| agents | answer rate | mode | dials | answered | abandon rate (worst seed) | occupancy (mean) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for agents in (10, 50):
        for rate in args.answer_rates:
            for mode in ("progressive", "predictive"):
                runs = [simulate_campaign(agents=agents, mode=mode, answer_rate=rate, hours=args.hours, seed=seed)
                        for seed in args.seeds]
                print(f"| {agents} | {rate:.0%} | {mode} | {sum(r.dials for r in runs) // len(runs)} | "
                      f"{sum(r.answered for r in runs) // len(runs)} | "
                      f"{max(r.abandon_rate for r in runs):.2%} | "
                      f"{sum(r.occupancy for r in runs) / len(runs):.1%} |")
    print(f"\n{args.hours:g} h per run, seeds {args.seeds}, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
