"""PNG charts of a report (matplotlib, Agg backend): volume and service level over the day, wait distribution.

Drawing takes tens of milliseconds: from the event loop, call :func:`render_png_async` (runs in an executor).
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta, timezone

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from voxcenter.reports.kpi import Report


def render_png(report: Report) -> bytes:
    """The report's three charts in one PNG image."""
    zone = timezone(timedelta(seconds=report.utc_offset)) if report.utc_offset else UTC
    labels = [datetime.fromtimestamp(row.start, zone).strftime("%d %H:%M") for row in report.rows]
    positions = list(range(len(report.rows)))
    figure = Figure(figsize=(11, 10), dpi=90)
    volume, level, waits = figure.subplots(3, 1)
    volume.bar([p - 0.2 for p in positions], [r.answered for r in report.rows], width=0.4, label="answered")
    volume.bar([p + 0.2 for p in positions], [r.abandoned for r in report.rows], width=0.4, label="abandoned")
    volume.plot(positions, [r.inbound for r in report.rows], marker="o", color="black", label="inbound")
    volume.set_title("Volume per " + report.interval)
    volume.set_ylabel("calls")
    volume.legend(loc="upper left")
    level.plot(
        positions,
        [None if r.service_level is None else 100 * r.service_level for r in report.rows],
        marker="o",
        label="SL",
    )
    level.plot(
        positions,
        [None if r.service_level_2 is None else 100 * r.service_level_2 for r in report.rows],
        marker="s",
        label="SL2 (abandons after threshold)",
    )
    level.set_ylim(0, 105)
    level.set_ylabel("%")
    level.set_title(f"Service level: answered within {report.sl_threshold:g} s")
    level.legend(loc="lower left")
    for axes in (volume, level):
        axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
    bands = report.wait_distribution
    band_labels = [f"{b.low:g}-{b.high:g}" if b.high is not None else f"{b.low:g}+" for b in bands]
    answered = [b.answered for b in bands]
    abandoned = [b.abandoned for b in bands]
    waits.bar(band_labels, answered, label="answered")
    waits.bar(band_labels, abandoned, bottom=answered, label="abandoned")
    waits.bar(
        band_labels,
        [b.other for b in bands],
        bottom=[a + b for a, b in zip(answered, abandoned, strict=True)],
        label="other",
    )
    waits.set_title("Wait distribution (seconds)")
    waits.set_ylabel("calls")
    waits.legend(loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_png_async(report: Report) -> bytes:
    """:func:`render_png` in the loop's default executor, so the event loop keeps running."""
    return await asyncio.get_running_loop().run_in_executor(None, render_png, report)
