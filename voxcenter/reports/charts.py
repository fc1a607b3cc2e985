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
from matplotlib.ticker import MaxNLocator

from voxcenter.reports.kpi import Report
from voxcenter.reports.render import OTHER


def render_png(report: Report, sl_target: float = 0.8) -> bytes:
    """The report's three charts in one PNG image, titled with its period, queue and time zone.

    One bar per interval (answered, abandoned and the other offered calls stacked), whole numbers on the call
    axes, the service-level goal ``sl_target`` (0..1) drawn across the service-level chart.
    """
    zone = timezone(timedelta(seconds=report.utc_offset)) if report.utc_offset else UTC
    labels = [datetime.fromtimestamp(row.start, zone).strftime("%a %d %H:%M") for row in report.rows]
    positions = list(range(len(report.rows)))
    figure = Figure(figsize=(11, 11), dpi=90)
    start = datetime.fromtimestamp(report.start, zone).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(report.end, zone).strftime("%Y-%m-%d %H:%M")
    figure.suptitle(f"{'Queue ' + report.queue if report.queue else 'All queues'}: {start} to {end} "
                    f"({report.timezone})", fontsize=14, fontweight="bold")
    volume, level, waits = figure.subplots(3, 1)
    answered = [r.answered for r in report.rows]
    abandoned = [r.abandoned for r in report.rows]
    other = [max(0, r.offered - r.answered - r.abandoned) for r in report.rows]
    width = 0.6
    volume.bar(positions, answered, width=width, label="answered", color="#2e8b57")
    volume.bar(positions, abandoned, width=width, bottom=answered, label="abandoned", color="#d9534f")
    volume.bar(positions, other, width=width, bottom=[a + b for a, b in zip(answered, abandoned, strict=True)],
               label="other: " + OTHER, color="#9aa5b1")
    volume.plot(positions, [r.inbound for r in report.rows], marker="o", linestyle="none", color="black",
                label="inbound calls (queued or not)")
    tallest = max([a + b + c for a, b, c in zip(answered, abandoned, other, strict=True)]
                  + [r.inbound for r in report.rows] + [1])
    volume.set_ylim(0, tallest * 1.45 + 0.5)  # room above the bars for the legend
    volume.set_title(f"Calls offered per {report.interval}")
    volume.set_ylabel("calls")
    volume.legend(loc="upper left", fontsize=8, ncol=2)
    level.plot(positions, [None if r.service_level is None else 100 * r.service_level for r in report.rows],
               marker="o", label="SL: answered within T / answered")
    level.plot(positions, [None if r.service_level_2 is None else 100 * r.service_level_2 for r in report.rows],
               marker="s", label="SL2: answered within T / (answered + abandoned after T)")
    level.axhline(100 * sl_target, color="#d9534f", linestyle="--", linewidth=1.5,
                  label=f"goal {100 * sl_target:.0f} %")
    level.set_ylim(0, 105)
    level.set_ylabel("% of calls")
    level.set_title(f"Service level: answered within T = {report.sl_threshold:g} s")
    level.legend(loc="lower left", fontsize=8, ncol=3)
    for axes in (volume, level):
        axes.set_xticks(positions, labels, rotation=45 if len(positions) > 8 else 0,
                        ha="right" if len(positions) > 8 else "center", fontsize=8)
        axes.set_xlim(-0.75, max(len(positions), 1) - 0.25)
    bands = report.wait_distribution
    band_labels = [f"{b.low:g}-{b.high:g} s" if b.high is not None else f"{b.low:g} s +" for b in bands]
    band_answered = [b.answered for b in bands]
    band_abandoned = [b.abandoned for b in bands]
    waits.bar(band_labels, band_answered, label="answered", color="#2e8b57")
    waits.bar(band_labels, band_abandoned, bottom=band_answered, label="abandoned", color="#d9534f")
    waits.bar(band_labels, [b.other for b in bands],
              bottom=[a + b for a, b in zip(band_answered, band_abandoned, strict=True)], label="other",
              color="#9aa5b1")
    waits.set_title("How long offered callers waited")
    waits.set_ylabel("calls")
    waits.legend(loc="upper right", fontsize=8)
    for axes in (volume, waits):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_png_async(report: Report) -> bytes:
    """:func:`render_png` in the loop's default executor, so the event loop keeps running."""
    return await asyncio.get_running_loop().run_in_executor(None, render_png, report)
