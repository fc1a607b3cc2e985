"""voxcenter.reports: KPI reports (tables, CSV, JSON, PNG charts) and Erlang C staffing advice."""

from voxcenter.reports.charts import render_png, render_png_async
from voxcenter.reports.kpi import INTERVALS, AgentRow, KpiRow, Report, ReportError, WaitBand, build_report
from voxcenter.reports.staffing import StaffingPlan, StaffingRow, staffing_plan

__all__ = [
    "INTERVALS",
    "AgentRow",
    "KpiRow",
    "Report",
    "ReportError",
    "StaffingPlan",
    "StaffingRow",
    "WaitBand",
    "build_report",
    "render_png",
    "render_png_async",
    "staffing_plan",
]
