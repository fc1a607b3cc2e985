"""Signed webhooks: each call event (offered, answered, ended) and saved interaction is POSTed to the endpoints
of the dial plan's ``webhooks`` that want it, off the call path.

``WebhookSender.emit`` is synchronous and cheap: it builds the body once and starts one delivery task per
endpoint; it never waits on the network and never raises. A delivery is retried with exponential back-off
(:func:`retry_delay`) after a connection failure, a timeout, ``408``, ``429`` or a ``5xx``, up to
``MAX_ATTEMPTS`` tries; any other answer ends it (``2xx`` delivered, another ``4xx`` refused). At most
``CONCURRENCY`` requests go to one endpoint at a time, and at most ``MAX_PENDING`` deliveries per endpoint
are under way (sending, waiting their turn or waiting to retry): beyond that a new event for it is dropped
with a log line, so a dead or slow CRM costs bounded memory and sockets.

Each request carries ``X-Voxcenter-Event``, ``X-Voxcenter-Delivery`` (the same id on every try),
``X-Voxcenter-Attempt``, ``X-Voxcenter-Timestamp`` (Unix seconds of this try) and ``X-Voxcenter-Signature:
sha256=<hex>``, the HMAC-SHA256 with the endpoint's secret of ``<timestamp>.<body>`` (:func:`signature`). A
receiver recomputes it over the raw body and refuses an old timestamp (a replay).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
import structlog

from voxcenter.api.control import CallSnapshot
from voxcenter.config.schema import Webhook
from voxcenter.store.records import CallRecord, new_id

logger = structlog.get_logger(__name__)

MAX_ATTEMPTS = 6
"""Tries of one delivery (the first and five retries)."""
FIRST_RETRY = 1.0
"""Seconds before the first retry; each next one waits twice as long (1, 2, 4, 8, 16 s)."""
LONGEST_RETRY = 60.0
TIMEOUT = 5.0
"""Seconds one try may take, connection included."""
MAX_PENDING = 1000
"""Deliveries per endpoint in flight or waiting for a retry."""
CONCURRENCY = 4
"""Requests in flight to one endpoint at a time; the other deliveries wait their turn (within ``MAX_PENDING``)."""
RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One ``webhooks`` entry of the dial plan."""

    url: str
    secret: str
    events: frozenset[str]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed by ``secret``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempt: int, first: float = FIRST_RETRY) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based) before the next one."""
    return min(LONGEST_RETRY, first * 2.0 ** (attempt - 1))


def worth_retrying(status: int | None) -> bool:
    """Whether a try that ended with ``status`` (None: no answer at all) is tried again."""
    return status is None or status >= 500 or status in RETRIED_STATUSES


def body_of(event: str, delivery: str, at: float, data: dict[str, object]) -> bytes:
    """The JSON body every endpoint gets for one event."""
    return json.dumps({"event": event, "delivery": delivery, "at": round(at, 3), "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str).encode()


class WebhookSender:
    """Delivers events to the endpoints (see the module docstring)."""

    def __init__(self, endpoints: Iterable[Endpoint] = (), *, first_retry: float = FIRST_RETRY,
                 attempts: int = MAX_ATTEMPTS, clock: Callable[[], float] = time.time) -> None:
        self.endpoints = tuple(endpoints)
        self.first_retry = first_retry
        self.attempts = attempts
        self.clock = clock
        self._pending: dict[str, int] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def reconfigure(self, endpoints: Iterable[Endpoint]) -> None:
        """New endpoints for the events from now on (deliveries under way go on)."""
        self.endpoints = tuple(endpoints)

    def emit(self, event: str, data: dict[str, object]) -> None:
        """Send ``event`` to every endpoint that wants it, in the background; never blocks, never raises."""
        try:
            wanted = [endpoint for endpoint in self.endpoints if event in endpoint.events]
            if not wanted:
                return
            delivery = new_id()
            body = body_of(event, delivery, self.clock(), data)
            loop = asyncio.get_running_loop()
            for endpoint in wanted:
                if self._pending.get(endpoint.url, 0) >= MAX_PENDING:
                    logger.warning("webhook.dropped", url=endpoint.url, webhook_event=event, delivery=delivery,
                                   reason=f"{MAX_PENDING} deliveries pending")
                    continue
                self._pending[endpoint.url] = self._pending.get(endpoint.url, 0) + 1
                task = loop.create_task(self._deliver(endpoint, event, delivery, body))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception:
            logger.exception("webhook.emit_failed", webhook_event=event)

    async def _deliver(self, endpoint: Endpoint, event: str, delivery: str, body: bytes) -> None:
        try:
            gate = self._gates.setdefault(endpoint.url, asyncio.Semaphore(CONCURRENCY))
            for attempt in range(1, self.attempts + 1):
                async with gate:
                    status = await self._try(endpoint, event, delivery, body, attempt)
                if status is not None and 200 <= status < 300:
                    logger.info("webhook.delivered", url=endpoint.url, webhook_event=event, delivery=delivery,
                                attempt=attempt)
                    return
                if not worth_retrying(status):
                    logger.warning("webhook.refused", url=endpoint.url, webhook_event=event, delivery=delivery,
                                   status=status)
                    return
                if attempt < self.attempts:
                    await asyncio.sleep(retry_delay(attempt, self.first_retry))
            logger.warning("webhook.gave_up", url=endpoint.url, webhook_event=event, delivery=delivery,
                           attempts=self.attempts)
        finally:
            self._pending[endpoint.url] -= 1

    async def _try(self, endpoint: Endpoint, event: str, delivery: str, body: bytes, attempt: int) -> int | None:
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "voxcenter-webhooks",
            "X-Voxcenter-Event": event,
            "X-Voxcenter-Delivery": delivery,
            "X-Voxcenter-Attempt": str(attempt),
            "X-Voxcenter-Timestamp": str(timestamp),
            "X-Voxcenter-Signature": signature(endpoint.secret, timestamp, body),
        }
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._session.post(endpoint.url, data=body, headers=headers, allow_redirects=False) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.info("webhook.try_failed", url=endpoint.url, webhook_event=event, delivery=delivery,
                        attempt=attempt, error=type(error).__name__)
            return None
        if not 200 <= status < 300:
            logger.info("webhook.try_failed", url=endpoint.url, webhook_event=event, delivery=delivery,
                        attempt=attempt, status=status)
        return status

    async def close(self, within: float = 2.0) -> None:
        """Stop: deliveries still running get ``within`` seconds, then are cancelled."""
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=within)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                logger.warning("webhook.abandoned", deliveries=len(late))
        if self._session is not None:
            await self._session.close()


def endpoints_of(webhooks: Iterable[Webhook]) -> list[Endpoint]:
    """The dial plan's ``webhooks`` entries as endpoints."""
    return [Endpoint(webhook.url, webhook.secret, frozenset(webhook.events)) for webhook in webhooks]


def call_fields(snapshot: CallSnapshot) -> dict[str, object]:
    """What an event tells of a live call: numbers, client, queue, language, IVR path, masked entries."""
    return {"caller": snapshot.caller, "called": snapshot.called, "client": snapshot.client,
            "queue": snapshot.queue, "language": snapshot.language, "ivr_path": list(snapshot.ivr_path),
            "entered": dict(snapshot.entered)}


def ended_fields(cdr: CallRecord) -> dict[str, object]:
    """What ``call.ended`` tells: the CDR's outcome and figures."""
    return {"call_id": cdr.call_id, "caller": cdr.from_number, "called": cdr.to_number, "queue": cdr.queue,
            "agent": cdr.agent, "disposition": cdr.disposition, "hangup_by": cdr.hangup_by,
            "wait_seconds": cdr.wait_seconds, "talk_seconds": cdr.talk_seconds, "hold_seconds": cdr.hold_seconds,
            "arrived_at": cdr.arrived_at, "ended_at": cdr.ended_at}
