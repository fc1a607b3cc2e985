"""Durations with units: parsing, canonical formatting, and refusing bare numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.config.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        ("1m30s250ms", 90.25),
        ("0s", 0.0),
        (" 10s ", 10.0),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (15, "write 15s for seconds"),
        (2.5, "write 2.5s"),
        ("15", "write 15s for seconds"),
        ("", "empty duration"),
        ("10 s", "bad duration"),
        ("1m1h", "largest to smallest"),
        ("1s1s", "largest to smallest"),
        ("5x", "bad duration"),
        ("-5s", "bad duration"),
        ("s", "bad duration"),
        (None, "must be text"),
        (True, "must be text"),
    ],
)
def test_refused_with_hint(value: object, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [(90, "1m30s"), (0.5, "500ms"), (5400, "1h30m"), (0, "0s"),
                                               (86461.001, "1d1m1s1ms")])
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**10))
def test_round_trip_milliseconds(milliseconds: int) -> None:
    seconds = milliseconds / 1000
    text = format_duration(seconds)
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9)
    assert format_duration(parse_duration(text)) == text


@given(st.text(max_size=12))
def test_never_crashes(text: str) -> None:
    try:
        value = parse_duration(text)
    except DurationError as exc:
        assert str(exc)
    else:
        assert value >= 0


@given(st.lists(st.sampled_from(["d", "h", "m", "s", "ms"]), min_size=1, max_size=5, unique=True),
       st.lists(st.integers(min_value=0, max_value=999), min_size=5, max_size=5))
def test_parts_add_up(units: list[str], counts: list[int]) -> None:
    order = ["d", "h", "m", "s", "ms"]
    units = sorted(units, key=order.index)
    size = {"d": 86400_000, "h": 3600_000, "m": 60_000, "s": 1000, "ms": 1}
    text = "".join(f"{count}{unit}" for unit, count in zip(units, counts, strict=False))
    expected_ms = sum(count * size[unit] for unit, count in zip(units, counts, strict=False))
    assert parse_duration(text) == pytest.approx(expected_ms / 1000)
