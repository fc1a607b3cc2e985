"""Prometheus metrics of the ACD, computed at scrape time from the router (never per event).

A custom collector reads ``ControlPlane.router.stats(now)``, the agents and the live calls
when Prometheus scrapes ``/metrics``; nothing is counted on the call path. Counters that the
router keeps since it started (offered, answered, abandoned) are exported as counters; a reload
that builds a new router restarts them, which Prometheus' ``rate()`` treats as a counter reset.

Besides the router: trunks up or down and registered, phone registrations, the RTP quality of the live calls,
and the calls ended since start by disposition with a histogram of their waits (``ControlPlane.figures``).
Values are rounded to what they measure: seconds of waiting to 0.1 s, jitter to 0.1 ms, ratios to 0.0001.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from voxcenter.acd import AgentState
from voxcenter.api.control import WAIT_BUCKETS, ControlPlane, ServerFigures


def _ratio(value: float | None) -> float:
    return math.nan if value is None else round(value, 4)


def _seconds(value: float | None) -> float:
    return math.nan if value is None else round(value, 1)


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
            longest.add_metric([name], _seconds(figures.longest_wait))
            service.add_metric([name], _ratio(figures.service_level))
            asa.add_metric([name], _seconds(figures.asa))
            abandon.add_metric([name], _ratio(figures.abandon_ratio))
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
        yield from server_metrics(control.figures())


def server_metrics(figures: ServerFigures) -> Iterator[Metric]:
    """Trunks, registrations, live RTP quality, ended calls by disposition and their wait histogram."""
    up = GaugeMetricFamily("voxcenter_trunk_up", "1 when the trunk answers OPTIONS, 0 when down, NaN before any "
                           "answer", labels=["trunk"])
    registered = GaugeMetricFamily("voxcenter_trunk_registered", "1 when the trunk's outbound registration holds",
                                   labels=["trunk"])
    for trunk in figures.trunks:
        up.add_metric([trunk.name], {"up": 1.0, "down": 0.0}.get(trunk.health, math.nan))
        if trunk.registration is not None:
            registered.add_metric([trunk.name], 1.0 if trunk.registration == "registered" else 0.0)
    yield from (up, registered)
    registrations = GaugeMetricFamily("voxcenter_registrations", "Phone registrations held, by reachability",
                                      labels=["reachable"])
    registrations.add_metric(["true"], figures.reachable_registrations)
    registrations.add_metric(["false"], figures.registrations - figures.reachable_registrations)
    yield registrations
    jitter = GaugeMetricFamily("voxcenter_rtp_jitter_seconds", "Interarrival jitter of the live calls' caller legs "
                               "(RFC 3550), mean and worst", labels=["stat"])
    loss = GaugeMetricFamily("voxcenter_rtp_packet_loss_ratio", "Share of the callers' RTP lost in the last RTCP "
                             "interval, mean and worst", labels=["stat"])
    if figures.rtp:
        jitters = [value / 1000 for value, _ in figures.rtp]
        losses = [value for _, value in figures.rtp]
        for stat, pick in (("mean", lambda values: sum(values) / len(values)), ("max", max)):
            jitter.add_metric([stat], round(pick(jitters), 4))
            loss.add_metric([stat], round(pick(losses), 4))
    yield from (jitter, loss)
    tally = figures.tally
    ended = CounterMetricFamily("voxcenter_calls_ended", "Inbound calls ended since start, by disposition",
                                labels=["disposition"])
    for disposition, count in sorted(tally.dispositions.items()):
        ended.add_metric([disposition], count)
    yield ended
    cumulative, buckets = 0, []
    for bound, count in zip([*map(str, WAIT_BUCKETS), "+Inf"], tally.wait_counts, strict=True):
        cumulative += count
        buckets.append((bound, cumulative))
    waits = HistogramMetricFamily("voxcenter_queue_wait_seconds", "How long ended calls waited in queues",
                                  buckets=buckets, sum_value=round(tally.wait_sum, 1))
    yield waits
    first_dials = CounterMetricFamily(
        "voxcenter_callbacks_first_dialled", "Callbacks whose customer was first dialled since start, by queue "
        "and whether that was within the queue's callback.sla of the callback being due",
        labels=["queue", "within_sla"])
    for queue, within, after in figures.callback_first_dials:
        first_dials.add_metric([queue, "true"], within)
        first_dials.add_metric([queue, "false"], after)
    yield first_dials


def metrics_registry(control: ControlPlane, registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """A registry exporting ``control``'s router (``registry`` when given, e.g. the process default)."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(control))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
