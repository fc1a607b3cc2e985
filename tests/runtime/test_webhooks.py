"""Signed webhooks: the signature a receiver checks, the back-off, retries until delivered, no retry of a refusal,
the events each endpoint asked for, an emit that returns while the endpoint has not answered yet, and the
deliveries being retried written down and taken up again by the next process."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from tests.e2e.harness import wait_for
from tests.runtime.webhook_receiver import Receiver
from voxcenter.runtime.webhooks import Endpoint, WebhookSender, retry_delay, signature, worth_retrying
from voxcenter.store.records import WebhookDeliveryRecord

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


async def test_a_delivery_being_retried_is_written_down_and_a_new_sender_takes_it_up_with_its_attempts() -> None:
    written: list[WebhookDeliveryRecord] = []
    async with Receiver(SECRET) as hooks:
        hooks.statuses = [503]
        endpoint = Endpoint(hooks.url, SECRET, frozenset({"call.ended"}))
        first = WebhookSender([endpoint], first_retry=600.0, sink=written.append)
        first.emit("call.ended", {"call_id": "C4"})
        await wait_for(lambda: len(written) == 1, what="the failed try written down")
        await first.close(within=0.1)  # the process stops while the retry waits
        [pending] = written
        assert (pending.status, pending.attempts, pending.version, pending.url) == ("pending", 1, 1, hooks.url)
        assert pending.next_attempt_at > pending.at + 59  # the longest back-off
        later = WebhookSender([endpoint], clock=lambda: pending.next_attempt_at, sink=written.append)
        assert later.resume(written) == 1
        await wait_for(lambda: len(written) == 2, what="the delivery's end written down")
        await later.close()
    assert [(r.delivery, r.attempt, r.signed) for r in hooks.received] == [(pending.delivery, 1, True),
                                                                          (pending.delivery, 2, True)]
    assert hooks.received[1].body == hooks.received[0].body
    assert (written[1].status, written[1].attempts, written[1].version) == ("delivered", 2, 2)


async def test_a_delivery_taken_at_once_is_not_written_one_under_way_at_the_stop_is_and_a_gone_endpoint_drops() -> None:
    written: list[WebhookDeliveryRecord] = []
    async with Receiver(SECRET) as hooks:
        sender = WebhookSender([Endpoint(hooks.url, SECRET, frozenset({"call.ended"}))], sink=written.append)
        sender.emit("call.ended", {"call_id": "C5"})
        await wait_for(lambda: len(hooks.received) == 1, what="the delivery")
        hooks.gate = asyncio.Event()  # the next request is held past the stop
        sender.emit("call.ended", {"call_id": "C6"})
        await hooks.arrived.wait()
        await wait_for(lambda: len(hooks.received) == 2, what="the held try")
        await sender.close(within=0.1)
    [held] = written
    assert (held.status, held.attempts, held.event) == ("pending", 0, "call.ended")
    assert '"call_id":"C6"' in held.body
    elsewhere = WebhookSender([Endpoint("http://127.0.0.1:9/other", SECRET, frozenset({"call.ended"}))],
                              sink=written.append)
    assert elsewhere.resume(written) == 0
    assert (written[-1].delivery, written[-1].status, written[-1].version) == (held.delivery, "dropped", 2)
