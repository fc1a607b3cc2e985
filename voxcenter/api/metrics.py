"""Prometheus metrics of the ACD, computed at scrape time from the router (never per event).

A custom collector reads ``ControlPlane.router.stats(now)``, the agents and the live calls
when Prometheus scrapes ``/metrics``; nothing is counted on the call path. Counters that the
router keeps since it started (offered, answered, abandoned) are exported as counters; a reload
that builds a new router restarts them, which Prometheus' ``rate()`` treats as a counter reset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from voxcenter.acd import AgentState
from voxcenter.api.control import ControlPlane


class RouterCollector(Collector):
    """Exports live queue and agent figures of ``control`` at each scrape."""

    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    def collect(self) -> Iterator[Metric]:
        """Build every metric family from one consistent read of the router."""
        control = self._control
        now = control.now()
        stats = control.router.stats(now)
        agents = control.agents()

        in_progress = GaugeMetricFamily("voxcenter_calls_in_progress", "Live calls (IVR, queued, ringing, connected)")
        in_progress.add_metric([], len(control.calls()))
        yield in_progress

        waiting = GaugeMetricFamily("voxcenter_queue_calls_waiting", "Callers waiting in the queue", labels=["queue"])
        callbacks = GaugeMetricFamily(
            "voxcenter_queue_callbacks_waiting", "Callback requests keeping their place", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "voxcenter_queue_longest_wait_seconds", "Longest current wait in the queue", labels=["queue"]
        )
        service = GaugeMetricFamily(
            "voxcenter_queue_service_level_ratio",
            "Answered within target / (answered + abandoned); NaN before any call",
            labels=["queue"],
        )
        asa = GaugeMetricFamily(
            "voxcenter_queue_asa_seconds", "Average speed of answer; NaN before any answer", labels=["queue"]
        )
        abandon = GaugeMetricFamily(
            "voxcenter_queue_abandon_ratio", "Abandoned / (answered + abandoned)", labels=["queue"]
        )
        members = GaugeMetricFamily(
            "voxcenter_queue_agents", "Member agents of the queue by state", labels=["queue", "state"]
        )
        offered = CounterMetricFamily("voxcenter_queue_offered", "Callers who entered the queue", labels=["queue"])
        answered = CounterMetricFamily("voxcenter_queue_answered", "Callers connected to an agent", labels=["queue"])
        abandoned = CounterMetricFamily(
            "voxcenter_queue_abandoned", "Callers who hung up waiting, short abandons excluded", labels=["queue"]
        )
        for name, figures in stats.items():
            waiting.add_metric([name], figures.calls_waiting)
            callbacks.add_metric([name], figures.callbacks_waiting)
            longest.add_metric([name], figures.longest_wait)
            service.add_metric([name], math.nan if figures.service_level is None else figures.service_level)
            asa.add_metric([name], math.nan if figures.asa is None else figures.asa)
            abandon.add_metric([name], figures.abandon_ratio)
            for state in AgentState:
                members.add_metric([name, state.value], figures.agents.get(state, 0))
            offered.add_metric([name], figures.offered)
            answered.add_metric([name], figures.answered)
            abandoned.add_metric([name], figures.abandoned)
        yield from (waiting, callbacks, longest, service, asa, abandon, members, offered, answered, abandoned)

        by_state = GaugeMetricFamily("voxcenter_agents", "Agents by state (each agent counted once)", labels=["state"])
        for state in AgentState:
            by_state.add_metric([state.value], sum(1 for a in agents if a.state is state))
        yield by_state


def metrics_registry(control: ControlPlane, registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """A registry exporting ``control``'s router (``registry`` when given, e.g. the process default)."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(control))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
