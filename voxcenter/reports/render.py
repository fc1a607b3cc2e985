"""Reports as text: an aligned table for the terminal, CSV and JSON for other tools."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from voxcenter.reports.kpi import KpiRow, Report
from voxcenter.reports.staffing import StaffingPlan


def _when(seconds: float, utc_offset: float) -> str:
    zone = timezone(timedelta(seconds=utc_offset)) if utc_offset else UTC
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M")


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
        f"Calls {_when(report.start, report.utc_offset)} to {_when(report.end, report.utc_offset)}"
        f"{' queue ' + report.queue if report.queue else ''}, per {report.interval}; "
        f"SL within {report.sl_threshold:g}s, short abandons under {report.short_abandon:g}s excluded"
    )
    lines = [_kpi_cells(_when(row.start, report.utc_offset), row) for row in report.rows]
    lines.append(_kpi_cells("total", report.total))
    parts = [title, _table(_KPI_HEADER, lines)]
    if report.agents:
        parts.append(
            _table(
                ["agent", "calls", "AHT", "talk"],
                [[a.agent, str(a.calls), _secs(a.aht), _secs(a.talk_seconds)] for a in report.agents],
            )
        )
    parts.append(
        _table(
            ["wait", "answered", "abandoned", "other"],
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
    return "\n\n".join(parts) + "\n"


def report_csv(report: Report) -> str:
    """One CSV line per interval and a ``total`` line; counters and KPIs (ratios as fractions)."""
    buffer = io.StringIO()
    names = list(report.total.as_dict())
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["interval", *names])
    for label, row in [*((_when(r.start, report.utc_offset), r) for r in report.rows), ("total", report.total)]:
        values = row.as_dict()
        writer.writerow([label, *("" if values[n] is None else values[n] for n in names)])
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
        "intervals": [row.as_dict() for row in report.rows],
        "total": report.total.as_dict(),
        "agents": [
            {"agent": a.agent, "calls": a.calls, "aht": a.aht, "talk_seconds": a.talk_seconds} for a in report.agents
        ],
        "wait_distribution": [
            {"low": b.low, "high": b.high, "answered": b.answered, "abandoned": b.abandoned, "other": b.other}
            for b in report.wait_distribution
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _slot(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def staffing_table(plan: StaffingPlan) -> str:
    """The staffing plan for a terminal."""
    growth = f", volume {plan.growth:+.0%}" if plan.growth else ""
    title = (
        f"Agents for {plan.target:.0%} answered within {plan.within:g}s, per {plan.interval // 60} min, "
        f"from {plan.days} day(s) of history{' of queue ' + plan.queue if plan.queue else ''}{growth}"
    )
    lines = [
        [
            _slot(r.slot_start),
            f"{r.arrivals:.1f}",
            _secs(r.aht),
            f"{r.traffic:.2f}",
            str(r.agents),
            _pct(r.service_level),
            _secs(_clean(r.asa)),
            _pct(r.occupancy),
            str(r.peak_concurrent),
        ]
        for r in plan.rows
    ]
    header = ["from", "calls", "AHT", "erlangs", "agents", "SL", "ASA", "occupancy", "peak calls"]
    return f"{title}\n\n{_table(header, lines)}\n\npeak agents: {plan.peak_agents}\n"


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
        "peak_agents": plan.peak_agents,
        "intervals": [{n: _clean(getattr(row, n)) for n in _STAFFING_FIELDS} for row in plan.rows],
    }
    return json.dumps(document, indent=2) + "\n"
