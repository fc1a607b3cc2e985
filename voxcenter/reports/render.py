"""Reports as text: an aligned table for the terminal, CSV and JSON for other tools."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from voxcenter.reports.kpi import KpiRow, Report
from voxcenter.reports.staffing import StaffingPlan


def _zone(utc_offset: float) -> timezone:
    return timezone(timedelta(seconds=utc_offset)) if utc_offset else UTC


def _when(seconds: float, utc_offset: float) -> str:
    return datetime.fromtimestamp(seconds, _zone(utc_offset)).strftime("%Y-%m-%d %H:%M")


def _iso(seconds: float, utc_offset: float) -> str:
    """ISO 8601 with the offset, to the minute: ``2026-11-20T09:00:00+01:00``."""
    return datetime.fromtimestamp(seconds, _zone(utc_offset)).isoformat(timespec="seconds")


RATIOS = frozenset({"abandonment_rate", "service_level", "service_level_2", "service_level_2_asterisk"})
"""CSV columns that are fractions (0..1): four decimals; other measures, in seconds, get one."""


def _rounded(name: str, value: object) -> object:
    if isinstance(value, float):
        return round(value, 4 if name in RATIOS else 1)
    return value


def _doc(prop: object) -> str:
    """The first line of a KPI property's docstring: the definition the figure is computed by."""
    line = (getattr(prop, "__doc__", None) or "").strip().splitlines()[0].rstrip(".")
    return re.sub(r"\s*\(``[^`]*``\)", "", line)  # cross-references are for readers of the code


def kpi_legend() -> list[tuple[str, str]]:
    """What every column of the KPI table means (ratios from the very docstrings they are computed by)."""
    return [
        ("in / out", "inbound / outbound calls that arrived in the interval"),
        ("offered", "calls put in a queue, short abandons left out"),
        ("answered", "queued calls an agent answered"),
        ("abandoned", "queued callers who hung up after the short-abandon threshold"),
        ("short", "queued callers who hung up before it (mistakes, not lost customers)"),
        ("missed", "inbound calls offered to a queue that never reached an agent "
                   "(abandoned, timed out, overflowed to voicemail or hung up on)"),
        ("AHT", "average handle time: talk + hold + wrap-up of answered calls"),
        ("ASA", "average speed of answer: wait of answered calls"),
        ("avg wait", "average wait of offered calls; max wait: the longest"),
        ("aband%", _doc(KpiRow.abandonment_rate)),
        ("SL", "service level: " + _doc(KpiRow.service_level)),
        ("SL2", "service level counting late abandons against it: " + _doc(KpiRow.service_level_2)),
        ("callbacks", "callbacks requested (the callbacks table below: their outcomes and attempts)"),
        ("CB SLA", "callback SLA: " + _doc(KpiRow.callback_sla) + "; dialled within target / judged"),
        ("NPS", "net promoter score of the surveys: % scoring 9-10 minus % scoring 0-6"),
        ("T", "the SL threshold (--sl-threshold)"),
    ]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def _table(header: list[str], lines: list[list[str]]) -> str:
    widths = [
        max(len(header[i]), *(len(line[i]) for line in lines)) if lines else len(header[i]) for i in range(len(header))
    ]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(out)


_KPI_HEADER = [
    "interval",
    "in",
    "out",
    "offered",
    "answered",
    "abandoned",
    "short",
    "missed",
    "AHT",
    "ASA",
    "avg wait",
    "max wait",
    "aband%",
    "SL",
    "SL2",
    "callbacks",
    "NPS",
]


def _kpi_cells(label: str, row: KpiRow) -> list[str]:
    return [
        label,
        str(row.inbound),
        str(row.outbound),
        str(row.offered),
        str(row.answered),
        str(row.abandoned),
        str(row.short_abandons),
        str(row.missed),
        _secs(row.aht),
        _secs(row.asa),
        _secs(row.average_wait),
        _secs(row.longest_wait),
        _pct(row.abandonment_rate),
        _pct(row.service_level),
        _pct(row.service_level_2),
        str(row.callbacks_requested),
        "-" if row.nps is None else f"{row.nps:.0f}",
    ]


def report_table(report: Report) -> str:
    """The report for a terminal: intervals and total, then agents, then the wait distribution."""
    title = (
        f"Calls {_when(report.start, report.utc_offset)} to {_when(report.end, report.utc_offset)} "
        f"({report.timezone}){' queue ' + report.queue if report.queue else ''}, per {report.interval}; "
        f"SL within T = {report.sl_threshold:g}s, short abandons under {report.short_abandon:g}s excluded"
    )
    lines = [_kpi_cells(_when(row.start, report.utc_offset), row) for row in report.rows]
    lines.append(_kpi_cells("total", report.total))
    parts = [title, _table(_KPI_HEADER, lines)]
    if report.total.callbacks_requested:
        parts.append(_table(
            ["callbacks", "requested", "completed", "failed", "cancelled", "attempts", "within SLA", "CB SLA"],
            [[label, str(row.callbacks_requested), str(row.callbacks_completed), str(row.callbacks_failed),
              str(row.callbacks_cancelled), str(row.callback_attempts),
              f"{row.callbacks_within_sla}/{row.callbacks_judged}", _pct(row.callback_sla)]
             for label, row in [*((_when(r.start, report.utc_offset), r) for r in report.rows
                                  if r.callbacks_requested), ("total", report.total)]],
        ))
    if report.agents:
        parts.append(
            _table(
                ["agent", "calls", "AHT", "talk", "surveys", "NPS"],
                [[a.agent, str(a.calls), _secs(a.aht), _secs(a.talk_seconds), str(a.surveys),
                  "-" if a.nps is None else f"{a.nps:.0f}"] for a in report.agents],
            )
        )
    if report.ewt:
        parts.append(_table(
            ["queue", "EWT judged", "hits", "EWT accuracy", "mean EWT", "mean wait"],
            [[e.queue, str(e.judged), str(e.hits), _pct(e.accuracy), _secs(e.mean_ewt), _secs(e.mean_wait)]
             for e in report.ewt],
        ) + "\nEWT accuracy: answered calls whose wait w was within max(30 s, 25 % of w) of the estimate given when "
            "they joined ÷ answered calls that waited")
    parts.append(
        _table(
            ["wait", "answered", "abandoned", "other*"],
            [
                [
                    f"{b.low:g}-{b.high:g}s" if b.high is not None else f">={b.low:g}s",
                    str(b.answered),
                    str(b.abandoned),
                    str(b.other),
                ]
                for b in report.wait_distribution
            ],
        )
    )
    width = max(len(name) for name, _ in kpi_legend())
    legend = ["Columns:", *(f"  {name.ljust(width)}  {meaning}" for name, meaning in kpi_legend()),
              f"  {'other*'.ljust(width)}  {OTHER}"]
    parts.append("\n".join(legend))
    return "\n\n".join(parts) + "\n"


OTHER = "offered calls neither answered nor abandoned: timed out, overflowed, sent to voicemail or a callback"
"""What the wait distribution's third group is (the table's legend and the chart say the same)."""


def report_csv(report: Report) -> str:
    """One CSV line per interval and a ``total`` line; counters and KPIs.

    Times are ISO 8601 with their offset (``interval`` and ``start``); seconds are rounded to 0.1 s and
    ratios (fractions, 0..1) to four decimals.
    """
    buffer = io.StringIO()
    names = [name for name in report.total.as_dict() if name != "start"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["interval", "start", *names])
    lines = [*((_when(r.start, report.utc_offset), r) for r in report.rows), ("total", report.total)]
    for label, row in lines:
        values = row.as_dict()
        start = _iso(report.start if label == "total" else row.start, report.utc_offset)
        writer.writerow([label, start, *("" if values[n] is None else _rounded(n, values[n]) for n in names)])
    return buffer.getvalue()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_json(report: Report) -> str:
    """The whole report as one JSON document."""
    document = {
        "start": report.start,
        "end": report.end,
        "queue": report.queue,
        "interval": report.interval,
        "sl_threshold": report.sl_threshold,
        "short_abandon": report.short_abandon,
        "utc_offset": report.utc_offset,
        "timezone": report.timezone,
        "intervals": [row.as_dict() for row in report.rows],
        "total": report.total.as_dict(),
        "agents": [
            {"agent": a.agent, "calls": a.calls, "aht": a.aht, "talk_seconds": a.talk_seconds, "surveys": a.surveys,
             "nps": a.nps} for a in report.agents
        ],
        "wait_distribution": [
            {"low": b.low, "high": b.high, "answered": b.answered, "abandoned": b.abandoned, "other": b.other}
            for b in report.wait_distribution
        ],
        "ewt": [
            {"queue": e.queue, "judged": e.judged, "hits": e.hits, "accuracy": e.accuracy, "mean_ewt": e.mean_ewt,
             "mean_wait": e.mean_wait} for e in report.ewt
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _slot(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def staffing_table(plan: StaffingPlan) -> str:
    """The staffing plan for a terminal."""
    growth = f", volume {plan.growth:+.0%}" if plan.growth else ""
    shrinkage = f", shrinkage {plan.shrinkage:.0%}" if plan.shrinkage else ""
    title = (
        f"Agents for {plan.target:.0%} answered within {plan.within:g}s, per {plan.interval // 60} min, "
        f"from {plan.days} day(s) of history{' of queue ' + plan.queue if plan.queue else ''}{growth}{shrinkage}; "
        f"times of day in {plan.timezone}"
    )
    lines = [
        [
            _slot(r.slot_start),
            f"{r.arrivals:.1f}",
            _secs(r.aht),
            f"{r.traffic:.2f}",
            str(r.agents),
            str(r.scheduled),
            _pct(r.service_level),
            _secs(_clean(r.asa)),
            _pct(r.occupancy),
            str(r.peak_concurrent),
        ]
        for r in plan.rows
    ]
    header = [f"from ({plan.timezone})", "calls", "AHT", "erlangs", "agents", "scheduled", "SL", "ASA",
              "occupancy", "peak calls"]
    legend = ("agents: on the phones for the goal (Erlang C); scheduled: on the roster once shrinkage "
              "(absence, breaks, training) is taken out")
    return (f"{title}\n\n{_table(header, lines)}\n\npeak agents: {plan.peak_agents}, "
            f"to schedule: {plan.peak_scheduled}\n{legend}\n")


_STAFFING_FIELDS = [
    "slot_start",
    "arrivals",
    "aht",
    "traffic",
    "agents",
    "service_level",
    "asa",
    "occupancy",
    "peak_concurrent",
    "scheduled",
]


def staffing_csv(plan: StaffingPlan) -> str:
    """One CSV line per interval of the day."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["from", *_STAFFING_FIELDS])
    for row in plan.rows:
        writer.writerow([_slot(row.slot_start), *(_clean(getattr(row, n)) for n in _STAFFING_FIELDS)])
    return buffer.getvalue()


def staffing_json(plan: StaffingPlan) -> str:
    """The staffing plan as one JSON document."""
    document = {
        "start": plan.start,
        "end": plan.end,
        "days": plan.days,
        "queue": plan.queue,
        "interval": plan.interval,
        "target": plan.target,
        "within": plan.within,
        "growth": plan.growth,
        "shrinkage": plan.shrinkage,
        "timezone": plan.timezone,
        "peak_agents": plan.peak_agents,
        "peak_scheduled": plan.peak_scheduled,
        "intervals": [{n: _clean(getattr(row, n)) for n in _STAFFING_FIELDS} for row in plan.rows],
    }
    return json.dumps(document, indent=2) + "\n"
