"""The ``report``, ``staffing`` and ``db upgrade`` handlers, called with an argv as the CLI will."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from tests.reports.dataset import load, records
from voxcenter.reports import commands as report_commands
from voxcenter.reports.commands import parse_duration, parse_fraction, parse_offset
from voxcenter.store import commands as store_commands


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert store_commands.run(["db", "upgrade", "--database", url]) == 0
    asyncio.run(load(url, records()))
    return url


def test_db_upgrade_default_database_next_to_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "dialplan.yaml"
    assert store_commands.run(["db", "upgrade", "--config", str(config)]) == 0
    assert (tmp_path / "voxcenter.db").exists()
    assert "revision head" in capsys.readouterr().out
    assert store_commands.run(["db", "upgrade", "--database", "mysql://x/y"]) == 2
    assert "only postgresql and sqlite" in capsys.readouterr().err


def test_db_upgrade_on_postgresql(pg_url: str) -> None:
    assert store_commands.run(["db", "upgrade", "--database", pg_url.replace("+asyncpg", "")]) == 0


def test_report_formats(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    window = ["--from", "2026-11-20", "--to", "2026-11-21", "--database", sqlite_url, "--timezone", "UTC"]
    assert report_commands.run(["report", *window]) == 0
    table = capsys.readouterr().out
    assert "2026-11-20 09:00" in table and "alice" in table and "50.0%" in table  # total SL
    assert report_commands.run(["report", *window, "--format", "csv", "--interval", "day"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [line["interval"] for line in lines] == ["2026-11-20 00:00", "total"]
    assert [line["start"] for line in lines] == ["2026-11-20T00:00:00+00:00"] * 2
    assert float(lines[1]["aht"]) == 210.0 and lines[1]["missed"] == "4"
    assert report_commands.run(["report", *window, "--format", "json", "--queue", "sales", "--sl-threshold", "1m"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"]["answered"] == 1 and document["sl_threshold"] == 60.0
    png = tmp_path / "report.png"
    assert report_commands.run(["report", *window, "--format", "png", "--output", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_report_errors_say_what_is_wrong(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_commands.run(["report", "--from", "someday", "--to", "2026-11-21", "--database", sqlite_url]) == 2
    assert "not a date" in capsys.readouterr().err
    assert report_commands.run(["report", "--from", "2026-11-21", "--to", "2026-11-20", "--database", sqlite_url]) == 2
    assert "after its start" in capsys.readouterr().err


def test_staffing_command(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "staffing",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-21",
        "--database",
        sqlite_url,
        "--target",
        "80%",
        "--within",
        "20s",
        "--interval",
        "hour",
        "--timezone",
        "UTC",
    ]
    assert report_commands.run(argv) == 0
    out = capsys.readouterr().out
    assert "09:00" in out and "peak agents" in out
    assert report_commands.run([*argv, "--growth", "30%", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["growth"] == pytest.approx(0.3)
    assert [row["slot_start"] for row in document["intervals"]] == [9 * 3600, 10 * 3600]
    assert report_commands.run([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("from,slot_start,arrivals")


def test_argument_parsers() -> None:
    assert parse_duration("20s") == 20 and parse_duration("2m") == 120 and parse_duration("1h") == 3600
    assert parse_fraction("30%") == pytest.approx(0.3) and parse_fraction("0.8") == 0.8
    assert parse_offset("+02:00") == 7200 and parse_offset("-5") == -18000
    for parser, text in ((parse_duration, "soon"), (parse_fraction, "lots"), (parse_offset, "CET")):
        with pytest.raises(argparse.ArgumentTypeError):
            parser(text)
