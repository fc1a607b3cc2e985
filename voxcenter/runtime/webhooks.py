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

A delivery whose try failed and that waits for another is handed to ``sink`` (the durable writer) as a
:class:`WebhookDeliveryRecord`, and so is one still under way when the sender closes; how it ends is written
too. At start :meth:`WebhookSender.resume` takes up the pending ones again (same delivery id, the attempts
counted on, signed with the endpoint's secret of the dial plan now). A delivery at its first try when the
process is killed is not kept: a receiver that must not miss an event also reads the records (the CDRs,
``GET /api/interactions``).
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
from voxcenter.store.records import CallRecord, WebhookDeliveryRecord, new_id

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


@dataclass(slots=True)
class _Delivery:
    """One event on its way to one endpoint (``endpoint`` None: it left the dial plan)."""

    endpoint: Endpoint | None
    event: str
    delivery: str
    body: bytes
    attempts: int = 0
    """Tries made so far."""
    version: int = 0
    """The last version of its ``webhook_deliveries`` row (0: none written)."""
    gone_url: str = ""

    @property
    def url(self) -> str:
        return self.endpoint.url if self.endpoint is not None else self.gone_url


class WebhookSender:
    """Delivers events to the endpoints (see the module docstring)."""

    def __init__(self, endpoints: Iterable[Endpoint] = (), *, first_retry: float = FIRST_RETRY,
                 attempts: int = MAX_ATTEMPTS, clock: Callable[[], float] = time.time,
                 sink: Callable[[WebhookDeliveryRecord], None] | None = None) -> None:
        self.endpoints = tuple(endpoints)
        self.sink = sink
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
            for endpoint in wanted:
                if self._pending.get(endpoint.url, 0) >= MAX_PENDING:
                    logger.warning("webhook.dropped", url=endpoint.url, webhook_event=event, delivery=delivery,
                                   reason=f"{MAX_PENDING} deliveries pending")
                    continue
                self._start(_Delivery(endpoint, event, delivery, body))
        except Exception:
            logger.exception("webhook.emit_failed", webhook_event=event)

    def resume(self, records: Iterable[WebhookDeliveryRecord]) -> int:
        """Take up the stored pending deliveries again (at their next attempt's time); how many."""
        resumed = 0
        now = self.clock()
        for record in records:
            if record.status != "pending":
                continue
            endpoint = next((e for e in self.endpoints if e.url == record.url), None)
            if endpoint is None:
                logger.warning("webhook.dropped", url=record.url, webhook_event=record.event,
                               delivery=record.delivery, reason="the endpoint is no longer in the dial plan")
                self._write(_Delivery(None, record.event, record.delivery, record.body.encode(),
                                      record.attempts, record.version, record.url), "dropped", now)
                continue
            self._start(_Delivery(endpoint, record.event, record.delivery, record.body.encode(), record.attempts,
                                  record.version), wait=max(0.0, record.next_attempt_at - now))
            resumed += 1
        return resumed

    def _start(self, delivery: _Delivery, wait: float = 0.0) -> None:
        assert delivery.endpoint is not None
        url = delivery.endpoint.url
        self._pending[url] = self._pending.get(url, 0) + 1
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, wait))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, delivery: _Delivery, status: str, next_attempt_at: float) -> None:
        if self.sink is None:
            return
        delivery.version += 1
        self.sink(WebhookDeliveryRecord(delivery=delivery.delivery, url=delivery.url, version=delivery.version,
                                        event=delivery.event, body=delivery.body.decode(),
                                        attempts=delivery.attempts, status=status,
                                        next_attempt_at=next_attempt_at, at=self.clock()))

    async def _deliver(self, delivery: _Delivery, wait: float) -> None:
        endpoint, event, body, delivery_id = delivery.endpoint, delivery.event, delivery.body, delivery.delivery
        assert endpoint is not None
        ended = False
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            gate = self._gates.setdefault(endpoint.url, asyncio.Semaphore(CONCURRENCY))
            while delivery.attempts < self.attempts:
                attempt = delivery.attempts + 1
                async with gate:
                    status = await self._try(endpoint, event, delivery_id, body, attempt)
                delivery.attempts = attempt
                if status is not None and 200 <= status < 300:
                    logger.info("webhook.delivered", url=endpoint.url, webhook_event=event, delivery=delivery_id,
                                attempt=attempt)
                    ended = True
                    self._ended(delivery, "delivered")
                    return
                if not worth_retrying(status):
                    logger.warning("webhook.refused", url=endpoint.url, webhook_event=event, delivery=delivery_id,
                                   status=status)
                    ended = True
                    self._ended(delivery, "refused")
                    return
                if attempt < self.attempts:
                    delay = retry_delay(attempt, self.first_retry)
                    self._write(delivery, "pending", self.clock() + delay)
                    await asyncio.sleep(delay)
            logger.warning("webhook.gave_up", url=endpoint.url, webhook_event=event, delivery=delivery_id,
                           attempts=self.attempts)
            ended = True
            self._ended(delivery, "gave_up")
        finally:
            self._pending[endpoint.url] -= 1
            if not ended and delivery.version == 0:  # stopped before its first failure: kept for the next start
                self._write(delivery, "pending", self.clock())

    def _ended(self, delivery: _Delivery, status: str) -> None:
        if delivery.version > 0:  # only a delivery that was written (retried) has a row to close
            self._write(delivery, status, self.clock())

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
