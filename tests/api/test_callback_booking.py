"""What a callback booking must say (``POST /api/callbacks``), without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.api.callbacks import MAX_CUSTOMER_BYTES, Booking, callback_view, parse_booking
from voxcenter.store.records import CallbackRecord

NOW = datetime(2027, 1, 15, 6, 0, tzinfo=UTC).timestamp()


def test_a_booking_for_now_for_later_and_with_customer_data() -> None:
    assert parse_booking({"number": "+33140009", "queue": "web"}, NOW) == Booking("+33140009", "web", None, None)
    assert parse_booking({"number": "0612", "queue": "web", "due": "now"}, NOW).due_at is None
    assert parse_booking({"number": "0612", "queue": "web", "due": NOW + 60}, NOW).due_at == NOW + 60
    iso = parse_booking({"number": "0612", "queue": "web", "due": "2027-01-15T08:30:00+01:00"}, NOW)
    assert iso.due_at == NOW + 5400  # 07:30 UTC
    assert parse_booking({"number": "0612", "queue": "web", "due": "2027-01-15T07:30:00"}, NOW).due_at == iso.due_at
    assert parse_booking({"number": "0612", "queue": "web", "due": NOW - 5}, NOW).due_at is None  # past: now
    booked = parse_booking({"number": "0612", "queue": "web", "customer": {"name": "Zoé", "id": 7}}, NOW)
    assert json.loads(booked.customer_data or "") == {"name": "Zoé", "id": 7}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"queue": "web"}, "'number'"),
        ({"number": "call me", "queue": "web"}, "'number'"),
        ({"number": 612, "queue": "web"}, "'number'"),
        ({"number": "0612"}, "'queue'"),
        ({"number": "0612", "queue": " "}, "'queue'"),
        ({"number": "0612", "queue": "web", "due": "tomorrow"}, "'due'"),
        ({"number": "0612", "queue": "web", "due": True}, "'due'"),
        ({"number": "0612", "queue": "web", "due": NOW + 365 * 86400}, "within 90 days"),
        ({"number": "0612", "queue": "web", "customer": "Ada"}, "'customer'"),
        ({"number": "0612", "queue": "web", "customer": {"notes": "x" * MAX_CUSTOMER_BYTES}}, "bytes"),
        ({"number": "0612", "queue": "web", "priority": 3}, "unknown field(s) ['priority']"),
    ],
)
def test_a_bad_booking_says_what_is_wrong(body: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_booking(body, NOW)
    assert says in str(refused.value)


@given(st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.integers() | st.floats() | st.text()))
def test_any_json_object_is_a_booking_or_a_value_error(body: dict[str, Any]) -> None:
    try:
        parse_booking(body, NOW)
    except ValueError as refused:
        assert str(refused)


def test_the_view_shows_the_customer_data_as_an_object() -> None:
    record = CallbackRecord("cb1", 1, "cb1", "0612", "web", NOW, due_at=NOW + 60, source="api",
                            customer_data='{"name": "Ada"}')
    view = callback_view(record)
    assert (view["id"], view["status"], view["due_at"], view["source"], view["customer"]) == (
        "cb1", "pending", NOW + 60, "api", {"name": "Ada"})
