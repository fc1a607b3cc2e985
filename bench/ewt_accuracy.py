"""EWT accuracy of the wait estimate on its goal traffic, over several seeds. A script, not a test.

    .venv/bin/python bench/ewt_accuracy.py [--calls 20000] [--seeds 1 2 3 4 5]

Each goal row (``voxcenter.acd.simulate.goals``: Poisson callers, exponential handle time of 180 s and
patience of 300 s) is run through the real router on a simulated clock once per seed; the table gives the
accuracy per seed, the lowest, and the goal. ``voxcenter simulate --goals --seed N`` prints one seed's table.
"""

from __future__ import annotations

import argparse
import time

from voxcenter.acd.simulate import goals, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    started = time.perf_counter()
    header = " | ".join(f"seed {s}" for s in args.seeds)
    print(f"| traffic | {header} | lowest | goal |")
    print("| --- | " + " | ".join("---" for _ in args.seeds) + " | --- | --- |")
    for row in range(len(goals())):
        figures = []
        for seed in args.seeds:
            goal = goals(args.calls, seed)[row]
            report = simulate(goal.config)
            figures.append(report.ewt_accuracy or 0.0)
        cells = " | ".join(f"{f:.1%}" for f in figures)
        print(f"| {goal.config.describe()} | {cells} | {min(figures):.1%} | ≥ {goal.goal:.0%} |", flush=True)
    print(f"\n{args.calls} callers per run, wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
