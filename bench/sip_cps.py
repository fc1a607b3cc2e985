"""SIP calls-per-second benchmark: SIPp against the endpoint on loopback. A script, not a test.

    .venv/bin/python bench/sip_cps.py                                 # 100 .. 1200 CPS, 10 s a step, uvloop
    .venv/bin/python bench/sip_cps.py --rates 300,600,900 --duration 15 --loop asyncio
    .venv/bin/python bench/sip_cps.py --profile /tmp/sip.prof --rates 600   # cProfile the endpoint

The endpoint runs in a process of its own (uvloop when installed, ``--loop
asyncio`` for the default loop) with the answer-and-hang-up application of the
SIPp tests: 200 OK with SDP at once, and our BYE as soon as the ACK arrives.
For each rate SIPp runs ``uac_remote_bye.xml`` (INVITE/200/ACK, then our
BYE/200) for ``--duration`` seconds and the script reports, per step:

* calls attempted, successful and failed (SIPp's statistics CSV) and failed %;
* SIPp's ``Retransmissions(C)``: INVITEs it sent again because our 200 came
  later than its 500 ms timer (none is the goal at the rated load);
* INVITE → 200 response time p50/p95 (SIPp ``-trace_rtt -rtt_freq 1``: every call);
* the rate achieved (SIPp falls behind when its own CPU is short) and the CPU
  of the endpoint process (``/proc/<pid>/stat``), its CPU time per call, of
  SIPp (``wait4`` rusage) and of everything else on the host (``/proc/stat``),
  in % of one core over the step's wall time: on a shared host a step that
  ran next to a busy neighbour says so;
* the host's UDP ``RcvbufErrors`` during the step (datagrams lost on a full
  socket buffer).

The endpoint's last line gives its counters and its garbage collector's
pauses (count, longest, total per generation).

The rated CPS is the highest rate with < 0.1 % failed calls, p95 < 100 ms and
at least 95 % of the rate achieved. The ramp stops after a step that is well
past saturation (> 5 % failed or p95 > 1 s) unless ``--all-steps``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "interop" / "scenarios" / "uac_remote_bye.xml"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_RATES = "100,200,400,600,700,800,1000,1200"

# --------------------------------------------------------------------------------------------- endpoint process


async def serve(max_calls: int, udp_buffer: int | None) -> None:
    """Run the endpoint on 127.0.0.1 until SIGTERM; print its address first and its counters last."""
    sys.path.insert(0, str(ROOT))  # the application lives with the SIPp tests
    from tests.interop.apps import answer_and_hang_up, running_endpoint
    from voxcenter.sip.transport import TransportLimits

    limits = TransportLimits() if udp_buffer is None else TransportLimits(udp_buffer_size=udp_buffer)

    pauses = GcPauses()
    gc.callbacks.append(pauses.callback)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # SIPp is a trusted trunk on loopback; its request limit is lifted so that the benchmark finds the server's
    # own limit, not the flood defence's.
    async with running_endpoint(
        answer_and_hang_up, transports=("udp",), max_calls=max_calls, transport_limits=limits,
        trunk_flood_requests=0,
    ) as endpoint:
        address = endpoint.address("udp")
        print(json.dumps({"host": address.host, "port": address.port, "loop": type(loop).__module__}), flush=True)
        await stop.wait()
        counters = {**endpoint.stats, "sessions_left": len(endpoint.sessions),
                    "transactions_left": len(endpoint.ua.transactions.transactions()),
                    "gc_objects": len(gc.get_objects()), **pauses.summary()}
    print(json.dumps(counters), flush=True)


class GcPauses:
    """Times the garbage collector's pauses (gc.callbacks): a full collection over many live calls stalls the loop."""

    def __init__(self) -> None:
        self.started = 0.0
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause = time.perf_counter() - self.started
        generation = info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], pause)
        self.total += pause

    def summary(self) -> dict[str, object]:
        return {"gc_collections": self.count, "gc_longest_ms": [round(1000 * p, 1) for p in self.longest],
                "gc_total_s": round(self.total, 2)}


def serve_main(loop_name: str, max_calls: int, udp_buffer: int | None, profile: str | None) -> None:
    from voxcenter.logs import configure_logging

    configure_logging("info", json=True)
    factory = None
    if loop_name == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        if profile is None:
            runner.run(serve(max_calls, udp_buffer))
            return
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            runner.run(serve(max_calls, udp_buffer))
        finally:
            profiler.disable()
            profiler.dump_stats(profile)


# --------------------------------------------------------------------------------------------- measuring


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (fields 14 and 15 of /proc/<pid>/stat, proc(5))."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def udp_receive_buffer_errors() -> int:
    """The host's UDP RcvbufErrors (/proc/net/snmp): datagrams dropped because a socket's buffer was full."""
    with open("/proc/net/snmp") as handle:
        names, values = [line.split() for line in handle if line.startswith("Udp:")][:2]
    return int(values[names.index("RcvbufErrors")])


def host_busy_seconds() -> float:
    """CPU time the whole host spent busy, all cores (/proc/stat "cpu" line minus idle and iowait)."""
    with open("/proc/stat") as handle:
        ticks = [int(value) for value in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    """User + system time of every child process reaped so far (getrusage(2) RUSAGE_CHILDREN)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]


@dataclass(slots=True)
class Step:
    rate: int
    """Calls per second asked of SIPp."""
    attempted: int
    successful: int
    failed: int
    retransmissions: int
    """SIPp's Retransmissions(C): requests it had to send again (INVITEs here)."""
    p50_ms: float
    p95_ms: float
    achieved: float
    """Calls per second SIPp actually started (from the 200s' arrival span)."""
    endpoint_cpu: float
    """% of one core used by the endpoint process over the step."""
    sipp_cpu: float
    """% of one core used by SIPp over the step."""
    wall: float
    drops: int
    """UDP datagrams the host dropped on full socket buffers during the step (ours or SIPp's)."""
    others_cpu: float
    """% of one core the rest of the host used meanwhile (neighbours, this script): a busy host skews a step."""

    @property
    def failed_percent(self) -> float:
        return 100.0 * self.failed / self.attempted if self.attempted else 100.0

    @property
    def cpu_per_call_us(self) -> float:
        """Endpoint CPU time per call attempted, in µs: less sensitive than CPU % to what else the host runs."""
        return 1e6 * (self.endpoint_cpu / 100.0 * self.wall) / self.attempted if self.attempted else float("nan")

    @property
    def passes(self) -> bool:
        return (
            self.attempted > 0 and self.failed_percent < 0.1 and self.p95_ms < 100.0
            and self.achieved >= 0.95 * self.rate
        )

    @property
    def saturated(self) -> bool:
        return self.failed_percent > 5.0 or self.p95_ms > 1000.0


def read_stats(path: Path) -> dict[str, str]:
    """The last (cumulative) row of SIPp's -trace_stat CSV."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return {k: v for k, v in rows[-1].items() if k} if rows else {}


def read_rtt(workdir: Path) -> tuple[list[float], list[float]]:
    """(arrival dates in ms, response times in ms) from SIPp's -trace_rtt file(s)."""
    dates: list[float] = []
    times: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        with path.open(newline="") as handle:
            for row in csv.reader(handle, delimiter=";"):
                try:
                    dates.append(float(row[0]))
                    times.append(float(row[1]))
                except (ValueError, IndexError):
                    continue  # the header line
    return dates, times


def run_step(target: str, rate: int, duration: float, endpoint_pid: int, workdir: Path) -> Step:
    calls = max(1, int(rate * duration))
    stat_file = workdir / "stats.csv"
    sys.path.insert(0, str(ROOT))  # the SIPp helpers live with the tests
    from tests.interop.sipp import free_port

    args = [
        SIPP, target, "-sf", str(SCENARIO), "-t", "u1", "-i", "127.0.0.1", "-p", str(free_port()),
        "-m", str(calls), "-r", str(rate), "-rp", "1000", "-l", str(max(100, rate * 3)), "-s", "100",
        "-nostdin", "-trace_stat", "-stf", str(stat_file), "-fd", "1", "-trace_rtt", "-rtt_freq", "1",
        # A call that gets no message for 10 s fails instead of waiting out SIPp's INVITE retransmissions.
        "-recv_timeout", "10000", "-timeout", f"{int(duration + 40)}s", "-timeout_error",
        "-buff_size", "4194304",
    ]
    sipp_before = children_cpu_seconds()
    drops_before = udp_receive_buffer_errors()
    host_before = host_busy_seconds()
    endpoint_before = process_cpu_seconds(endpoint_pid)
    started = time.monotonic()
    completed = subprocess.run(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.monotonic() - started
    endpoint_cpu = process_cpu_seconds(endpoint_pid) - endpoint_before
    sipp_cpu = children_cpu_seconds() - sipp_before  # SIPp is the only child reaped meanwhile
    drops = udp_receive_buffer_errors() - drops_before
    others = host_busy_seconds() - host_before - endpoint_cpu - sipp_cpu
    stats = read_stats(stat_file)
    if not stats:
        raise RuntimeError(f"SIPp wrote no statistics (exit {completed.returncode}): {completed.stderr[-500:]!r}")

    def counter(name: str) -> int:
        return int(stats.get(name) or 0)

    dates, times = read_rtt(workdir)
    times.sort()
    span = (max(dates) - min(dates)) / 1000.0 if len(dates) > 1 else 0.0
    achieved = (len(dates) - 1) / span if span > 0 else 0.0
    return Step(
        rate=rate, attempted=counter("OutgoingCall(C)"), successful=counter("SuccessfulCall(C)"),
        failed=counter("FailedCall(C)"), retransmissions=counter("Retransmissions(C)"),
        p50_ms=percentile(times, 0.50), p95_ms=percentile(times, 0.95), achieved=achieved,
        endpoint_cpu=100.0 * endpoint_cpu / wall, sipp_cpu=100.0 * sipp_cpu / wall, wall=wall, drops=drops,
        others_cpu=max(0.0, 100.0 * others / wall),
    )


# --------------------------------------------------------------------------------------------- driver


HEADER = (
    f"{'rate':>6} {'achieved':>8} {'attempted':>9} {'ok':>7} {'failed':>6} {'failed%':>7} {'retrans':>7} "
    f"{'p50 ms':>7} {'p95 ms':>7} {'vox CPU%':>8} {'µs/call':>7} {'SIPp CPU%':>9} {'others%':>7} {'drops':>6}"
)


def describe(step: Step) -> str:
    return (
        f"{step.rate:>6} {step.achieved:>8.0f} {step.attempted:>9} {step.successful:>7} {step.failed:>6} "
        f"{step.failed_percent:>7.2f} {step.retransmissions:>7} {step.p50_ms:>7.1f} {step.p95_ms:>7.1f} "
        f"{step.endpoint_cpu:>8.0f} {step.cpu_per_call_us:>7.0f} {step.sipp_cpu:>9.0f} {step.others_cpu:>7.0f} "
        f"{step.drops:>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default=DEFAULT_RATES, help="calls/s per step, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--max-calls", type=int, default=500, help="the endpoint's max_calls (503 above)")
    parser.add_argument("--udp-buffer", type=int, metavar="BYTES",
                        help="the endpoint's UDP socket buffers (TransportLimits.udp_buffer_size; 0: kernel default)")
    parser.add_argument("--all-steps", action="store_true", help="keep going past saturation")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the endpoint process into FILE (slower)")
    parser.add_argument("--keep", metavar="DIR", help="write SIPp's files and the endpoint log here and keep them")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.loop = "asyncio"
    if args.serve:
        serve_main(args.loop, args.max_calls, args.udp_buffer, args.profile)
        return
    rates = [int(r) for r in args.rates.split(",") if r.strip()]

    server_args = [sys.executable, __file__, "--serve", "--loop", args.loop, "--max-calls", str(args.max_calls)]
    if args.profile:
        server_args += ["--profile", args.profile]
    if args.udp_buffer is not None:
        server_args += ["--udp-buffer", str(args.udp_buffer)]
    tmp = tempfile.TemporaryDirectory(prefix="sip-cps-")
    workroot = Path(args.keep) if args.keep else Path(tmp.name)
    workroot.mkdir(parents=True, exist_ok=True)
    server_log = workroot / "endpoint.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(server_args, stdout=subprocess.PIPE, stderr=log, text=True)
    steps: list[Step] = []
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        target = f"{ready['host']}:{ready['port']}"
        print(f"endpoint pid {server.pid} on udp:{target}, loop {ready['loop']}; SIPp {SIPP}; "
              f"{os.cpu_count()} CPUs; {args.duration:g} s per step")
        warmup = workroot / "warmup"
        warmup.mkdir()
        run_step(target, 50, 1.0, server.pid, warmup)  # first calls pay for imports and caches
        print(HEADER, flush=True)
        for index, rate in enumerate(rates):
            workdir = workroot / f"step{index}"
            workdir.mkdir()
            time.sleep(1.0)  # let the previous step's last BYEs and timers settle
            step = run_step(target, rate, args.duration, server.pid, workdir)
            steps.append(step)
            print(describe(step), flush=True)
            if step.saturated and not args.all_steps:
                break
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
        problems = [line for line in server_log.read_text(errors="replace").splitlines()
                    if '"level": "warning"' in line or '"level": "error"' in line or "Traceback" in line]
        tmp.cleanup()
    if out.strip():
        print(f"endpoint counters: {out.strip().splitlines()[-1]}")
    print(f"endpoint log: {len(problems)} warning/error lines" + (f", last: {problems[-1][:300]}" if problems else ""))
    rated = [s for s in steps if s.passes]
    if rated:
        best = max(rated, key=lambda s: s.rate)
        print(f"rated: {best.rate} CPS (failed {best.failed_percent:.2f} %, p95 {best.p95_ms:.1f} ms, "
              f"endpoint CPU {best.endpoint_cpu:.0f} %, SIPp CPU {best.sipp_cpu:.0f} %)")
    else:
        print("rated: none of the steps passed (< 0.1 % failed, p95 < 100 ms, >= 95 % of the rate achieved)")


if __name__ == "__main__":
    main()
