"""Serve the API over a busy fake contact center, for looking at the wallboard in a browser.

    .venv/bin/python -m tests.api.demo --port 8099 --token demo

then open http://127.0.0.1:8099/wallboard?token=demo (the clock runs at real speed from a
scripted start; nothing here talks SIP).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

from tests.api.fake import FakeControlPlane
from voxcenter.acd import AgentProfile, QueuePolicy
from voxcenter.api import ApiSettings, start_api

POLICIES = [
    QueuePolicy("sales", service_level=20.0, announce_every=None, wrapup=15.0, autopause_after=None),
    QueuePolicy("support", service_level=30.0, announce_every=None, wrapup=20.0, autopause_after=None),
    QueuePolicy("billing", service_level=60.0, announce_every=None, join_empty=True, autopause_after=None,
                max_wait=40.0),
    QueuePolicy("claims", service_level=60.0, announce_every=None, autopause_after=None),
]
NAMES = {
    "100": "Alice Martin", "101": "Bob Lee", "102": "Chloé Dubois", "103": "Daniel Okonkwo-Whitfield",
    "104": "Eva Nowak", "105": "Farid Haddad", "106": "Greta Lindqvist", "107": "Hiroshi Tanaka",
    "108": "Inès Fontaine", "109": "Jonas Petraitis", "110": "Katarzyna Wiśniewska-Grabowska", "111": "Luis Ortega",
}
"""Names as long as real ones get (the board must show them whole)."""
SUPERVISOR = "111"
"""Monitors one of the calls (not staffed: a supervisor off the queues)."""
AGENTS = [
    AgentProfile(f"{100 + n}", queues=frozenset(queues))
    for n, queues in enumerate([
        {"sales"}, {"sales"}, {"sales", "support"}, {"support"}, {"support"}, {"support", "billing"},
        {"billing"}, {"sales"}, {"support"}, {"billing"}, {"sales", "billing"}, {"support"},
    ])
]


def scripted() -> FakeControlPlane:
    """A contact center some minutes into a busy morning."""
    control = FakeControlPlane(POLICIES, AGENTS, names=NAMES)
    control.staff(*[a.agent_id for a in AGENTS[:10]])
    serial = 0
    for minute in range(12):
        for queue in ("sales", "support", "support", "billing"):
            serial += 1
            call_id = f"call-{serial}"
            control.join(call_id, queue, caller=f"+1555010{serial:02d}")
            control.advance(2.0 + (serial % 4) * (3 if queue == "support" else 1))
            ringing = [v for v in control.router.waiting(queue, control.clock) if v.ringing]
            if ringing and serial % 7 != 0:
                view = ringing[0]
                control.answer(view.call_id, sorted(view.ringing)[0])
            elif serial % 7 == 0:
                control.router.caller_left(call_id, control.clock)
                control.live.pop(call_id, None)
                control.pump()
        for call_id in list(control.live)[: 3 + minute % 2]:
            if control.live[call_id].state == "connected":
                control.hang_up_caller(call_id)
        control.advance(20.0)
    control.agent_command("105", "pause", "team meeting")
    control.agent_command("107", "pause", "lunch")
    for _ in range(2):  # nobody serves claims: these callers are lost to an empty queue
        serial += 1
        control.join(f"call-{serial}", "claims", caller=f"+3314000{serial:04d}")
        control.live.pop(f"call-{serial}", None)
    for n in range(3):  # answered a moment ago: these agents are on a call
        serial += 1
        control.join(f"call-{serial}", "sales", caller=f"+3361200{serial:04d}")
        agent = control.ringing_agent(f"call-{serial}")
        control.answer(f"call-{serial}", agent)
        if n == 0:  # a supervisor whispers to the agent, and the recording is paused for a card number
            control.live[f"call-{serial}"] = replace(control.live[f"call-{serial}"], recording="paused",
                                                     monitors=((SUPERVISOR, agent, "whisper"),))
        elif n == 1:
            control.live[f"call-{serial}"] = replace(control.live[f"call-{serial}"], recording="on")
    for _ in range(4):
        serial += 1
        control.join(f"call-{serial}", "support", caller=f"+4420790{serial:05d}")
        control.advance(9.0)
    return control


async def serve(port: int, token: str) -> None:
    control = scripted()
    loop = asyncio.get_running_loop()
    offset = control.clock - loop.time()

    def now() -> float:
        return loop.time() + offset

    control.now = now  # type: ignore[method-assign]
    runner, bound = await start_api(control, ApiSettings(port=port, token=token))
    print(f"http://127.0.0.1:{bound}/wallboard?token={token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="demo")
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.token))


if __name__ == "__main__":
    main()
