"""What a webhook costs the call path: the time of ``WebhookSender.emit`` on the event loop. A script, not a test.

    .venv/bin/python bench/webhook_emit.py                      # 5000 events, two endpoints
    .venv/bin/python bench/webhook_emit.py --events 20000 --slow 2.0

Two endpoints take every event: a local receiver that answers 200 after ``--slow`` seconds (a CRM that is
slow, so deliveries pile up in flight) and an address nobody listens on (connection refused: every delivery
is retried with back-off). Events are emitted ``--burst`` at a time, the loop yielding between bursts, as
call events arrive. Printed: emit's time per call (median, p99, max, in µs: what a call's task waits),
the event loop's longest stall while deliveries run (a 1 ms ticker's worst lateness), and how many
deliveries were in flight or dropped at the end (``MAX_PENDING`` per endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aiohttp import web
from machine import describe  # bench/machine.py, next to this script

from voxcenter.runtime import webhooks
from voxcenter.runtime.webhooks import Endpoint, WebhookSender

EVENTS = ("call.offered", "call.answered", "call.ended", "interaction.saved")


async def _receiver(slow: float) -> tuple[web.AppRunner, str]:
    async def take(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(slow)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"


async def main(events: int, burst: int, slow: float) -> None:
    runner, url = await _receiver(slow)
    sender = WebhookSender([Endpoint(url, "bench-secret-0123456789", frozenset(EVENTS)),
                            Endpoint("http://127.0.0.1:9/hooks", "bench-secret-0123456789", frozenset(EVENTS))])
    dropped = 0
    original = webhooks.logger.warning

    def count(event: str, **fields: object) -> None:
        nonlocal dropped
        if event == "webhook.dropped":
            dropped += 1
        else:
            original(event, **fields)

    webhooks.logger.warning = count  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    worst_lateness = 0.0
    ticking = True

    async def ticker() -> None:
        nonlocal worst_lateness
        while ticking:
            due = loop.time() + 0.001
            await asyncio.sleep(0.001)
            worst_lateness = max(worst_lateness, loop.time() - due)

    tick = loop.create_task(ticker())
    times: list[float] = []
    data = {"call_id": "01JBENCH", "caller": "+33140000000", "called": "100", "queue": "sales", "agent": "1001",
            "ivr_path": ["welcome [1]", "account", "sales"], "entered": {"account": "***"}}
    for index in range(events):
        started = time.perf_counter()
        sender.emit(EVENTS[index % len(EVENTS)], data)
        times.append(time.perf_counter() - started)
        if index % burst == burst - 1:
            await asyncio.sleep(0)
    await asyncio.sleep(1.0)
    ticking = False
    await tick
    in_flight = sum(sender._pending.values())
    await sender.close(within=0.1)
    await runner.cleanup()
    ordered = sorted(times)
    print(describe())
    print(f"events {events} (bursts of {burst}), 2 endpoints (one answering after {slow} s, one refusing)")
    p99 = ordered[int(len(ordered) * 0.99)]
    median = statistics.median(ordered)
    print(f"emit: median {median * 1e6:.1f} µs, p99 {p99 * 1e6:.1f} µs, max {ordered[-1] * 1e6:.1f} µs")
    print(f"loop: longest stall {worst_lateness * 1e3:.1f} ms; deliveries in flight at the end {in_flight}, "
          f"dropped {dropped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--slow", type=float, default=1.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.burst, arguments.slow))
