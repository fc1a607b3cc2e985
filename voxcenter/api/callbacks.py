"""``/api/callbacks``: book a callback from outside a call (a web form, a CRM), list and cancel them.

The pure half of the handlers: what a booking must say, and how a callback is shown. A booking is a JSON
object ``{"number", "queue", "due", "customer"}``: ``due`` is ``"now"`` (or absent), POSIX seconds or an
ISO 8601 time (UTC unless it says otherwise); ``customer`` is an optional JSON object kept with the
callback (at most ``MAX_CUSTOMER_BYTES`` once encoded).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voxcenter.store.records import CallbackRecord

NUMBER = re.compile(r"\+?[0-9]{2,32}")
"""A number to call back: digits with an optional leading ``+`` (the outbound routes decide the rest)."""
MAX_CUSTOMER_BYTES = 4096
"""Largest ``customer`` object, JSON-encoded."""
MAX_AHEAD = 90 * 86400.0
"""Farthest a callback may be booked ahead, seconds."""
FIELDS = frozenset({"number", "queue", "due", "customer"})


@dataclass(frozen=True, slots=True)
class Booking:
    """A valid booking request."""

    number: str
    """The customer's number."""
    queue: str
    """The queue whose agents call back."""
    due_at: float | None
    """Unix time of the earliest attempt; None: now."""
    customer_data: str | None
    """The ``customer`` object as JSON text, or None."""


def parse_booking(body: dict[str, Any], now: float) -> Booking:
    """The booking in ``body`` (Unix time ``now``); ValueError with a message saying what is wrong."""
    unknown = set(body) - FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; a booking has {sorted(FIELDS)}")
    number = body.get("number")
    if not isinstance(number, str) or not NUMBER.fullmatch(number.strip()):
        raise ValueError("'number' must be the customer's number: digits, an optional leading '+'")
    queue = body.get("queue")
    if not isinstance(queue, str) or not queue.strip():
        raise ValueError("'queue' must name a queue of the dial plan")
    due_at = _due(body.get("due", "now"), now)
    customer = body.get("customer")
    if customer is not None and not isinstance(customer, dict):
        raise ValueError("'customer' must be a JSON object (the lead's fields)")
    text = None if customer is None else json.dumps(customer, ensure_ascii=False, sort_keys=True)
    if text is not None and len(text.encode()) > MAX_CUSTOMER_BYTES:
        raise ValueError(f"'customer' must be at most {MAX_CUSTOMER_BYTES} bytes as JSON")
    return Booking(number.strip(), queue.strip(), due_at, text)


def _due(value: object, now: float) -> float | None:
    if value is None or value == "now":
        return None
    if isinstance(value, bool):
        raise ValueError("'due' must be \"now\", POSIX seconds or an ISO 8601 time")
    if isinstance(value, int | float):
        moment = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'due' must be \"now\", POSIX seconds or an ISO 8601 time, not {value!r}") from None
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    else:
        raise ValueError("'due' must be \"now\", POSIX seconds or an ISO 8601 time")
    if moment != moment or moment > now + MAX_AHEAD:
        raise ValueError(f"'due' must be within {int(MAX_AHEAD // 86400)} days from now")
    return None if moment <= now else moment


def callback_view(record: CallbackRecord) -> dict[str, object]:
    """A callback as the API shows it (times in Unix seconds)."""
    return {
        "id": record.callback_id,
        "number": record.number,
        "queue": record.queue,
        "status": record.status,
        "attempts": record.attempts,
        "requested_at": record.requested_at,
        "due_at": record.due_at,
        "source": record.source,
        "customer": None if record.customer_data is None else json.loads(record.customer_data),
        "completed_at": record.completed_at,
        "result_call_id": record.result_call_id,
    }
