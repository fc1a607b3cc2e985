"""What finished calls leave alive: the real Server in this process, S1 calls from SIPp, a census of the heap.

    .venv/bin/python bench/retained.py                         # 2000 S1 calls at 100 CPS, census 2 s and 40 s after
    .venv/bin/python bench/retained.py --calls 3000 --rate 50 --waits 2,40 --referrers Request,SipUri

The Server (``voxcenter.runtime.server.Server``, the dial plan of ``bench/call_path.py``: SQLite, recordings,
the admin API) runs on uvloop in this process with the collector settings of ``voxcenter run`` (``gc.freeze()``
after start-up, ``GC_THRESHOLDS``). After a warm-up of 50 calls and a wait for their SIP transactions to end,
the census takes its baseline: every object the collector tracks, by type. Then SIPp places ``--calls`` S1 calls
(the IVR's ``hangup`` node at once; ``--service 2``: S2, a 1 s prompt first) and, once SIPp is done, the census
is taken again after each of ``--waits`` seconds: the objects still alive per finished call, by type, and the
same for voxcenter's own classes.
Right after the calls the SIP layer still holds what RFC 3261/6026 make it keep (the INVITE server
transaction in Accepted for 64·T1, Timer J of a BYE it answered, Timer K of a BYE it sent); past 64·T1
(``--waits`` 40) nothing of a finished call should be left.

``--cycles`` turns the collector off during the calls and then counts what only a collection frees (objects in
reference cycles), by type, with the cycles themselves: a finished call must be freed by reference counting
the moment it ends, or it waits, promoted to the oldest generation, for a full collection that walks it.

``--referrers TYPE,...`` prints, for a few of the objects of each type that stayed, the chain of containers
holding them (attribute or key names, up to a module, a class or a frame): where to prune.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from call_path import (  # noqa: E402
    _CALLER_INVITE,
    _SERVER_HANGS_UP,
    CALLER_IP,
    _free_tcp_port,
    _free_udp_port,
    dial_plan,
    scenario,
)
from sip_cps import SIPP  # noqa: E402


def census() -> collections.Counter[str]:
    """Every object the collector tracks, by qualified type name (after a full collection)."""
    gc.collect()
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__] += 1
    return counts


def diff(before: collections.Counter[str], after: collections.Counter[str]) -> list[tuple[str, int]]:
    grown = [(name, after[name] - before.get(name, 0)) for name in after]
    return sorted(((name, n) for name, n in grown if n > 0), key=lambda item: -item[1])


def describe_holder(holder: Any, held: Any) -> str:
    """How ``holder`` holds ``held``: an attribute, a key, an index."""
    if isinstance(holder, dict):
        for key, value in holder.items():
            if value is held:
                return f"dict[{key!r:.60}]"
            if key is held:
                return "dict key"
        return "dict"
    if isinstance(holder, (list, tuple, collections.deque)):
        return f"{type(holder).__name__}[{len(holder)}]"
    if isinstance(holder, types.FrameType):
        return f"frame {holder.f_code.co_qualname}"
    if isinstance(holder, types.CellType):
        return "closure cell"
    slots = [name for cls in type(holder).__mro__ for name in getattr(cls, "__slots__", ())]
    for name in slots:
        if getattr(holder, name, None) is held:
            return f"{type(holder).__qualname__}.{name}"
    return type(holder).__qualname__


def cycles_of(garbage: list[Any], limit: int = 6) -> list[str]:
    """The reference cycles among ``garbage`` (strongly connected components of more than one object, or an object
    holding itself), by their members' types, most frequent first; then the edges of one of the largest: what to
    break."""
    index = {id(obj): n for n, obj in enumerate(garbage)}
    edges = [[index[id(r)] for r in gc.get_referents(obj) if id(r) in index] for obj in garbage]
    order = 0
    number = [-1] * len(garbage)
    low = [0] * len(garbage)
    on_stack = [False] * len(garbage)
    stack: list[int] = []
    components: list[list[int]] = []
    for root in range(len(garbage)):
        if number[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                number[node] = low[node] = order
                order += 1
                stack.append(node)
                on_stack[node] = True
            if edge < len(edges[node]):
                work.append((node, edge + 1))
                nxt = edges[node][edge]
                if number[nxt] < 0:
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], number[nxt])
                continue
            for nxt in edges[node]:
                if on_stack[nxt] or number[nxt] > number[node]:
                    low[node] = min(low[node], low[nxt])
            if low[node] == number[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    components.append(component)
    signatures: collections.Counter[str] = collections.Counter()
    for component in components:
        names = collections.Counter(type(garbage[m]).__qualname__ for m in component)
        signatures[", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(names.items()))] += 1
    lines = [f"{n}× cycle of {len(sig.split(', '))} types: {sig[:600]}" for sig, n in signatures.most_common(limit)]
    if components:
        largest = max(components, key=len)
        members = set(largest)
        for m in largest[:80]:
            holder = garbage[m]
            for target in edges[m]:
                if target in members:
                    held = garbage[target]
                    lines.append(f"    {describe_holder(holder, held)} -> {type(held).__qualname__}")
    return lines


def referrer_chain(obj: Any, ignore: set[int], depth: int = 7) -> list[str]:
    """One path of holders from ``obj`` outwards, leaving out the objects in ``ignore`` (the caller's own) and
    this walk's."""
    chain: list[str] = []
    seen = {id(obj), id(chain), *ignore}
    current = obj
    for _ in range(depth):
        found = gc.get_referrers(current)
        seen.add(id(found))
        holders = [h for h in found if id(h) not in seen and not isinstance(h, types.FrameType)]
        seen.add(id(holders))
        if not holders:
            chain.append("(no tracked holder)")
            break
        holder = holders[0]
        for candidate in holders:  # prefer an object with attributes over anonymous containers
            if hasattr(candidate, "__dict__") or hasattr(type(candidate), "__slots__"):
                holder = candidate
                break
        chain.append(f"{describe_holder(holder, current)} ({len(holders)} holders)")
        if len(chain) == 1 and isinstance(holder, list) and len(holder) > 10:
            chain[-1] += f" [{type(holder[0]).__qualname__} {holder[0]!r:.80}]"
        if isinstance(holder, (types.ModuleType, type)):
            break
        seen.add(id(holder))
        current = holder
    return chain


async def run_calls(work: Path, sip_port: int, calls: int, rate: float, media_port: int, service: str = "1") -> float:
    caller = work / f"caller-{time.monotonic_ns()}.xml"
    caller.write_text(scenario("s1", _CALLER_INVITE.format(media_host=CALLER_IP, media_port=media_port)
                               + _SERVER_HANGS_UP))
    stats = work / "stats.csv"
    process = await asyncio.create_subprocess_exec(
        SIPP, f"127.0.0.1:{sip_port}", "-sf", str(caller), "-s", service, "-t", "u1", "-i", CALLER_IP,
        "-p", str(_free_udp_port(CALLER_IP)), "-m", str(calls), "-r", f"{rate:g}", "-rp", "1000",
        "-l", str(max(1000, int(rate * 3))), "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
        "-recv_timeout", "10000", "-timeout", f"{int(calls / rate + 60)}s", "-timeout_error",
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    await process.wait()
    return time.monotonic() - started


async def measure(args: argparse.Namespace, work: Path) -> None:
    from voxcenter.logs import configure_logging
    from voxcenter.runtime.commands import GC_THRESHOLDS
    from voxcenter.runtime.server import Server

    configure_logging("warning", json=True)
    sip_port = _free_udp_port()
    plan = dial_plan(work, sip_port=sip_port, rtp_base=args.rtp_base, api_port=_free_tcp_port(),
                     token=secrets.token_urlsafe(16), agents=3, database=None, max_calls=2000,
                     max_loop_lag=None)
    server = Server(plan, node="bench")
    await server.start()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    media = _free_udp_port(CALLER_IP)
    try:
        await run_calls(work, sip_port, 50, 50, media, args.service)
        settle = 64 * server.endpoint.ua.transactions.timers.t1 + 2
        print(f"warm-up done; waiting {settle:.0f} s for its transactions to end", flush=True)
        await asyncio.sleep(settle)
        baseline = census()
        if args.cycles:
            gc.disable()  # every cycle the calls make stays for the count below
        wall = await run_calls(work, sip_port, args.calls, args.rate, media, args.service)
        if args.cycles:
            await asyncio.sleep(2.0)
            gc.set_debug(gc.DEBUG_SAVEALL)
            found = gc.collect()
            saved = list(gc.garbage)
            kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in saved)
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()
            print(f"cyclic garbage: {found} objects ({found / args.calls:.1f} per call) only a collection frees")
            for name, n in kinds.most_common(args.top):
                print(f"  {name:<60} {n:>7}  {n / args.calls:6.2f}/call")
            for line in cycles_of(saved):
                print("  " + line)
            del saved
        print(f"{args.calls} S{args.service} calls at {args.rate:g}/s in {wall:.1f} s; tracked objects at baseline: "
              f"{sum(baseline.values())}", flush=True)
        waited = 0.0
        for wait in [float(w) for w in args.waits.split(",") if w.strip()]:
            await asyncio.sleep(max(0.0, wait - waited))
            waited = wait
            now = census()
            grown = diff(baseline, now)
            total = sum(n for _, n in grown)
            print(f"\n{wait:g} s after the last call: {total} objects more than the baseline, "
                  f"{total / args.calls:.2f} per finished call; {len(server.calls)} calls in progress, "
                  f"{len(server.endpoint.ua.transactions.transactions())} transactions")
            for name, n in grown[:args.top]:
                print(f"  {name:<60} {n:>7}  {n / args.calls:6.2f}/call")
            own = [(name, n) for name, n in grown if name.startswith("voxcenter.")]
            print("  voxcenter's own: " + (", ".join(f"{name.removeprefix('voxcenter.')} {n / args.calls:.2f}"
                                                     for name, n in own) or "none"))
            for wanted in [w.strip() for w in args.referrers.split(",") if w.strip()]:
                everything = gc.get_objects()
                sample = [obj for obj in everything if type(obj).__qualname__ == wanted][-3:]
                del everything
                for obj in sample:
                    print(f"  {wanted} held by: " + " <- ".join(referrer_chain(obj, {id(sample)})))
                del sample
    finally:
        await server.stop(drain_timeout=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="S1 calls after the baseline")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--waits", default="2,40", help="seconds after the last call at which to take a census")
    parser.add_argument("--top", type=int, default=25, help="types listed per census")
    parser.add_argument("--referrers", default="", help="types whose holders to print (qualified names)")
    parser.add_argument("--cycles", action="store_true",
                        help="collector off during the calls, then count the cyclic garbage they made, by type")
    parser.add_argument("--service", default="1", choices=["1", "2"],
                        help="1: S1, the IVR hangs up at once; 2: S2, a 1 s prompt first (RTP, the player)")
    parser.add_argument("--rtp-base", type=int, default=44000)
    args = parser.parse_args()
    if shutil.which(SIPP) is None:
        raise SystemExit("SIPp is needed (apt-get install sip-tester)")
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    with tempfile.TemporaryDirectory(prefix="retained-") as tmp:
        runner(measure(args, Path(tmp)))


if __name__ == "__main__":
    main()
