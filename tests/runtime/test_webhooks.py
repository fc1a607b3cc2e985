"""Signed webhooks: the signature a receiver checks, the back-off, retries until delivered, no retry of a refusal,
the events each endpoint asked for, and an emit that returns while the endpoint has not answered yet."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from tests.e2e.harness import wait_for
from tests.runtime.webhook_receiver import Receiver
from voxcenter.runtime.webhooks import Endpoint, WebhookSender, retry_delay, signature, worth_retrying

SECRET = "a-shared-secret-of-the-crm"


def test_the_signature_is_the_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"event":"call.ended"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, body) == f"sha256={expected}"
    assert signature("another-secret-entirely", 1700000000, body) != signature(SECRET, 1700000000, body)


def test_back_off_doubles_up_to_a_minute_and_only_failures_are_retried() -> None:
    assert [retry_delay(attempt) for attempt in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [worth_retrying(status) for status in (None, 500, 503, 429, 408)] == [True] * 5
    assert [worth_retrying(status) for status in (200, 400, 401, 404, 410)] == [False] * 5


async def test_a_failing_endpoint_gets_the_same_delivery_again_until_it_takes_it() -> None:
    async with Receiver(SECRET) as hooks:
        hooks.statuses = [503, 500]
        sender = WebhookSender([Endpoint(hooks.url, SECRET, frozenset({"call.ended"}))], first_retry=0.01)
        sender.emit("call.ended", {"call_id": "C1", "disposition": "answered"})
        sender.emit("call.offered", {"call_id": "C1"})  # not asked for
        await wait_for(lambda: len(hooks.received) == 3, what="three tries")
        await sender.close()
    assert [(r.event, r.attempt, r.signed) for r in hooks.received] == [("call.ended", n, True) for n in (1, 2, 3)]
    assert len({r.delivery for r in hooks.received}) == 1
    assert hooks.received[0].body["data"] == {"call_id": "C1", "disposition": "answered"}
    assert hooks.received[0].body["event"] == "call.ended"


async def test_a_refusal_is_not_retried_and_an_endpoint_that_never_answers_is_given_up() -> None:
    async with Receiver(SECRET) as hooks:
        hooks.statuses = [400]
        sender = WebhookSender([Endpoint(hooks.url, SECRET, frozenset({"interaction.saved"}))], first_retry=0.01)
        sender.emit("interaction.saved", {"interaction_id": "I1"})
        await wait_for(lambda: len(hooks.received) == 1, what="the refused try")
        await sender.close()
    assert [r.attempt for r in hooks.received] == [1]
    # nobody listens at all: a few tries, then it gives up (and the sender closes)
    sender = WebhookSender([Endpoint("http://127.0.0.1:9/hooks", SECRET, frozenset({"call.ended"}))],
                           first_retry=0.01, attempts=3)
    sender.emit("call.ended", {"call_id": "C2"})
    await sender.close(within=10.0)
    assert sender._pending == {"http://127.0.0.1:9/hooks": 0}


async def test_emit_returns_at_once_while_the_endpoint_holds_the_request() -> None:
    async with Receiver(SECRET) as hooks:
        hooks.gate = asyncio.Event()
        sender = WebhookSender([Endpoint(hooks.url, "wrong-secret-for-this-one", frozenset({"call.answered"}))])
        sender.emit("call.answered", {"call_id": "C3"})  # returns: nothing has been sent yet
        assert hooks.received == []
        await hooks.arrived.wait()
        assert [r.signed for r in hooks.received] == [False]  # signed with the endpoint's own (other) secret
        hooks.gate.set()
        await sender.close()
