"""A small harness around the router for tests: drains decisions and keeps a fake clock."""

from __future__ import annotations

from typing import TypeVar

from voxcenter.acd import AgentProfile, CallRequest, Decision, QueuePolicy, Router

T = TypeVar("T")


class Harness:
    """Router + fake clock + every decision seen so far."""

    def __init__(self, policies: list[QueuePolicy], agents: list[AgentProfile], seed: int = 0) -> None:
        self.now = 0.0
        self.router = Router(policies, agents, now=0.0, seed=seed)
        self.log: list[Decision] = []

    def drain(self) -> list[Decision]:
        out: list[Decision] = []
        while (decision := self.router.next_decision()) is not None:
            out.append(decision)
        self.log.extend(out)
        return out

    def staff(self, *agent_ids: str) -> list[Decision]:
        for agent_id in agent_ids:
            self.router.agent_registered(agent_id, self.now)
            self.router.agent_login(agent_id, self.now)
        return self.drain()

    def hold(self, *agent_ids: str) -> list[Decision]:
        """Agents logged in with a registered phone, but paused: callers may join, nobody is rung."""
        for agent_id in agent_ids:
            self.router.agent_registered(agent_id, self.now)
            self.router.agent_login(agent_id, self.now)
            self.router.agent_pause(agent_id, self.now, "away")
        return self.drain()

    def join(self, call_id: str, queue: str = "q", **kwargs: object) -> list[Decision]:
        self.router.caller_joined(CallRequest(call_id, queue, **kwargs), self.now)  # type: ignore[arg-type]
        return self.drain()

    def advance(self, to: float) -> list[Decision]:
        """Move the clock to ``to``, firing every router deadline on the way."""
        out: list[Decision] = []
        while (timer := self.router.get_timer()) is not None and timer <= to:
            self.now = max(self.now, timer)
            self.router.handle_timer(self.now)
            out.extend(self.drain())
        self.now = to
        return out


def of_type(decisions: list[Decision], kind: type[T]) -> list[T]:
    return [d for d in decisions if isinstance(d, kind)]
