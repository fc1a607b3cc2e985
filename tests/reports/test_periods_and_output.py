"""Report periods an operator types (today, yesterday, this-week), the dial plan's time zone, the table's legend,
rounded ISO CSV, a missing SQLite file, the chart, and staffing with shrinkage."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.reports.dataset import load, records
from voxcenter.reports import commands as report_commands
from voxcenter.reports.kpi import ReportError
from voxcenter.reports.period import resolve_period
from voxcenter.reports.render import _KPI_HEADER, kpi_legend
from voxcenter.reports.staffing import scheduled_agents
from voxcenter.store import commands as store_commands

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 26, 15, 30, tzinfo=PARIS)  # a Thursday


def paris(*parts: int) -> float:
    return datetime(*parts, tzinfo=PARIS).timestamp()  # type: ignore[misc]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    assert store_commands.run(["db", "upgrade", "--database", url]) == 0
    asyncio.run(load(url, records()))
    return url


def test_keywords_name_whole_days_and_weeks_in_the_zone() -> None:
    assert resolve_period("today", None, PARIS, NOW) == (paris(2026, 11, 26), paris(2026, 11, 27))
    assert resolve_period("yesterday", None, PARIS, NOW) == (paris(2026, 11, 25), paris(2026, 11, 26))
    assert resolve_period("this-week", None, PARIS, NOW) == (paris(2026, 11, 23), paris(2026, 11, 30))
    assert resolve_period("last-week", None, PARIS, NOW) == (paris(2026, 11, 16), paris(2026, 11, 23))
    assert resolve_period("today", "now", PARIS, NOW) == (paris(2026, 11, 26), NOW.timestamp())


def test_dates_default_to_a_whole_day_and_date_times_to_now() -> None:
    assert resolve_period("2026-11-20", None, PARIS, NOW) == (paris(2026, 11, 20), paris(2026, 11, 21))
    assert resolve_period("2026-11-20T09:00", None, PARIS, NOW) == (paris(2026, 11, 20, 9), NOW.timestamp())
    assert resolve_period("2026-11-20", "2026-11-22", PARIS, NOW) == (paris(2026, 11, 20), paris(2026, 11, 22))
    # A day with the change to summer time is 23 hours long, and midnight is still midnight.
    start, end = resolve_period("2026-03-29", None, PARIS, NOW)
    assert end - start == 23 * 3600
    with pytest.raises(ReportError, match="after its start"):
        resolve_period("today", "yesterday", PARIS, NOW)
    with pytest.raises(ReportError, match="not a date"):
        resolve_period("soon", None, PARIS, NOW)


def test_the_time_zone_comes_from_the_dial_plan(sqlite_url: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""\
        schedules:
          office: {timezone: America/New_York, hours: [{days: mon-fri, open: '09:00', close: '17:00'}]}
        """))
    assert report_commands.run(["report", "--from", "2026-11-20", "--database", sqlite_url, "--config", str(plan),
                                "--format", "csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # 09:00 UTC is 04:00 in New York; the day runs from New York's midnight.
    assert lines[0]["start"] == "2026-11-20T04:00:00-05:00" and lines[-1]["start"] == "2026-11-20T00:00:00-05:00"
    assert report_commands.run(["report", "--from", "today", "--database", sqlite_url, "--config", str(plan)]) == 0
    assert "(America/New_York)" in capsys.readouterr().out.splitlines()[0]


def test_every_table_column_has_a_legend(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    explained = {part.strip() for name, _ in kpi_legend() for part in name.split("/")}
    for column in _KPI_HEADER[1:]:
        assert column in explained or column.split()[-1] in explained or column == "max wait", column
    assert report_commands.run(["report", "--from", "2026-11-20", "--database", sqlite_url, "--timezone", "UTC"]) == 0
    table = capsys.readouterr().out
    legend = table[table.index("Columns:"):]
    assert "SL2 " in legend and "missed " in legend and "short " in legend and "other* " in legend
    assert "answered within T" in legend  # the SL definition, from the property that computes it


def test_csv_times_are_iso_and_values_rounded(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_commands.run(["report", "--from", "2026-11-20", "--database", sqlite_url, "--timezone", "UTC",
                                "--format", "csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [line["start"] for line in lines] == ["2026-11-20T09:00:00+00:00", "2026-11-20T10:00:00+00:00",
                                                 "2026-11-20T00:00:00+00:00"]
    for line in lines:
        for name, value in line.items():
            if re.fullmatch(r"-?\d+\.\d+", value or ""):
                decimals = len(value.split(".")[1])
                assert decimals <= (4 if name in report_commands_ratios() else 1), (name, value)
    total = lines[-1]
    level = int(total["answered_within"]) / (int(total["answered"]) + int(total["abandoned"]))
    assert total["service_level"] == str(round(level, 4))


def report_commands_ratios() -> frozenset[str]:
    from voxcenter.reports.render import RATIOS

    return RATIOS


def test_a_sqlite_file_that_does_not_exist_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo.db"
    for command in ("report", "staffing"):
        assert report_commands.run([command, "--from", "today", "--database", f"sqlite:///{missing}"]) == 2
        error = capsys.readouterr().err
        assert error.strip() == f"voxcenter {command}: no database at {missing} (give the one voxcenter run " \
                                f"writes to with --database or --config)"
        assert not missing.exists()


def test_durations_need_their_unit(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        report_commands.run(["report", "--from", "2026-11-20", "--database", sqlite_url, "--sl-threshold", "20"])
    assert "write 20s for seconds" in capsys.readouterr().err


def test_staffing_with_shrinkage_schedules_more_agents(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert [scheduled_agents(n, 0.3) for n in (0, 1, 3, 7)] == [0, 2, 5, 10]
    assert scheduled_agents(4, 0.0) == 4
    with pytest.raises(ReportError):
        scheduled_agents(1, 1.0)
    argv = ["staffing", "--from", "2026-11-20", "--database", sqlite_url, "--timezone", "Europe/Paris",
            "--interval", "hour", "--shrinkage", "30%"]
    assert report_commands.run([*argv, "--format", "json"]) == 0
    import json

    document = json.loads(capsys.readouterr().out)
    assert document["shrinkage"] == pytest.approx(0.3) and document["timezone"] == "Europe/Paris"
    assert all(row["scheduled"] == scheduled_agents(row["agents"], 0.3) for row in document["intervals"])
    assert {10 * 3600, 11 * 3600} <= {row["slot_start"] for row in document["intervals"]}  # 09:00 UTC = 10:00
    assert report_commands.run(argv) == 0
    table = capsys.readouterr().out
    assert "times of day in Europe/Paris" in table and "from (Europe/Paris)" in table and "scheduled" in table


def test_the_chart_of_one_interval(sqlite_url: str, tmp_path: Path) -> None:
    png = tmp_path / "one.png"
    assert report_commands.run(["report", "--from", "2026-11-20", "--database", sqlite_url, "--timezone", "UTC",
                                "--interval", "day", "--queue", "support", "--format", "png",
                                "--output", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
