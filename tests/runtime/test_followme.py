"""Follow-me ringing without sockets: which phone rings when, who wins, and what is cancelled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from voxcenter.config.queues import FollowMe
from voxcenter.media.codecs import PCMU
from voxcenter.media.dtmf import DtmfReceived
from voxcenter.runtime.followme import ring_agent
from voxcenter.sip.endpoint import RequestFailed


class FakeLeg:
    def __init__(self) -> None:
        self.session = SimpleNamespace(codec=PCMU)
        self.on_digit: Any = None
        self.played = 0
        self.closed = False

    def play_frames(self, frames: list[list[bytes]], *, loop: bool = False) -> None:
        self.played += 1

    def stop(self) -> None:
        pass

    def info_received(self, content_type: str, body: bytes) -> None:
        pass

    def close(self, reason: str = "") -> None:
        self.closed = True


class FakeSession:
    def __init__(self) -> None:
        self.ended: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.on_info: Any = None

    @property
    def is_ended(self) -> bool:
        return self.ended.done()

    async def hangup(self, reason: str = "") -> None:
        if not self.ended.done():
            self.ended.set_result(reason)


class FakeDialer:
    """The softphone rings until cancelled (or answers after ``soft_answers``); the mobile answers at once and
    presses ``mobile_key`` after 0.05 s."""

    def __init__(self, *, registered: bool, soft_answers: float | None = None, mobile_key: str | None = "1") -> None:
        self._registered = registered
        self.soft_answers = soft_answers
        self.mobile_key = mobile_key
        self.log: list[str] = []
        self.legs: list[FakeLeg] = []

    def registered(self, extension: str) -> bool:
        return self._registered

    async def call_extension(self, extension: str, *, caller_id: str, cancel: asyncio.Event,
                             on_alerting: Any = None, ring_timeout: float | None = None) -> tuple[Any, Any]:
        self.log.append("soft rings")
        try:
            await asyncio.wait_for(cancel.wait(), self.soft_answers)
        except TimeoutError:
            self.log.append("soft answers")
            return FakeLeg(), FakeSession()
        self.log.append("soft cancelled")
        raise RequestFailed(487, "Request Terminated")

    async def call_number(self, number: str, route: str | None, *, caller_id: str | None = None,
                          cancel: asyncio.Event | None = None, **_: Any) -> tuple[Any, Any]:
        self.log.append(f"mobile {number} answers")
        leg = FakeLeg()
        self.legs.append(leg)
        if self.mobile_key is not None:
            key = self.mobile_key

            async def press() -> None:
                await asyncio.sleep(0.05)
                leg.on_digit(DtmfReceived(key, "rfc4733", 0.0, 0.0, 0.1))

            asyncio.get_running_loop().create_task(press())
        return leg, FakeSession()


FOLLOW = FollowMe(number="0611000001", route="mobiles", after="100ms", confirm_within="300ms")


async def ring(dialer: FakeDialer, follow: FollowMe | None = FOLLOW, cancel: asyncio.Event | None = None) -> Any:
    return await ring_agent(dialer, "1001", follow, caller_id="0100", cancel=cancel or asyncio.Event(),
                            on_alerting=lambda: None)  # type: ignore[arg-type]


async def test_registered_without_after_rings_only_the_softphone() -> None:
    dialer = FakeDialer(registered=True, soft_answers=0.01)
    await ring(dialer, FollowMe(number="0611000001", route="mobiles"))
    assert dialer.log == ["soft rings", "soft answers"]


async def test_unregistered_rings_the_mobile_which_must_confirm() -> None:
    dialer = FakeDialer(registered=False)
    leg, _ = await ring(dialer)
    assert dialer.log == ["mobile 0611000001 answers"] and leg.played == 1
    silent = FakeDialer(registered=False, mobile_key=None)  # its voicemail answered: no key
    with pytest.raises(RequestFailed) as failure:
        await ring(silent)
    assert failure.value.status == 480 and silent.legs[0].closed
    wrong = FakeDialer(registered=False, mobile_key="2")
    with pytest.raises(RequestFailed):
        await ring(wrong)


async def test_in_parallel_after_n_seconds_the_mobile_wins_and_the_softphone_is_cancelled() -> None:
    dialer = FakeDialer(registered=True)
    leg, _ = await ring(dialer)
    assert dialer.log == ["soft rings", "mobile 0611000001 answers", "soft cancelled"]
    assert leg is dialer.legs[0]


async def test_the_softphone_answering_first_means_the_mobile_is_never_rung() -> None:
    dialer = FakeDialer(registered=True, soft_answers=0.02)
    await ring(dialer)
    assert dialer.log == ["soft rings", "soft answers"]


async def test_the_router_cancelling_stops_both() -> None:
    dialer = FakeDialer(registered=True, mobile_key=None)
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, cancel.set)
    with pytest.raises(RequestFailed):
        await ring(dialer, cancel=cancel)
    assert "soft cancelled" in dialer.log and dialer.legs and dialer.legs[0].closed
