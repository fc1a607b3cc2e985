"""An agent plays back one of its own calls on the agent page, in headless Chromium: the history lists the call
with a Play button, the page fetches the recording with the agent's desk token (the API's Range-capable
``/api/recordings/{id}``) and plays it in its audio player; another agent's call has no button."""

from __future__ import annotations

import asyncio
import shutil
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.harness import dial_plan, rtp_base_for_test, served
from tests.interop.audio import tone
from tests.interop.sipp import free_port
from tests.reports.dataset import load
from voxcenter.store.db import upgrade_async
from voxcenter.store.records import CallRecord, RecordingRecord

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SECONDS = 3.0


def stereo_wav(path: Path) -> Path:
    left, right = tone(440.0, SECONDS), tone(660.0, SECONDS)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
    return path


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))


async def until(driver: webdriver.Chrome, condition: Any, what: str, timeout: float = 20.0) -> Any:
    try:
        return await asyncio.to_thread(lambda: WebDriverWait(driver, timeout).until(condition, what))
    except TimeoutException:
        shown = await asyncio.to_thread(lambda: driver.find_element(By.TAG_NAME, "body").text)
        raise AssertionError(f"{what}: not seen within {timeout} s; the page shows:\n{shown}") from None


async def test_an_agent_plays_its_own_call_from_the_history(tmp_path: Path) -> None:
    api_port = free_port()
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port)
    url = f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}"
    await upgrade_async(url)
    audio = stereo_wav(tmp_path / "mine.wav")
    now = time.time()
    await load(url, [
        CallRecord(call_id="MINE", version=3, node="test", direction="inbound", arrived_at=now - 600,
                   from_number="+33140001", to_number="200", agent="1001", disposition="answered",
                   ended_at=now - 500),
        RecordingRecord("REC-MINE", "MINE", str(audio), "wav", SECONDS, audio.stat().st_size, "0" * 64, now - 590),
        CallRecord(call_id="BOBS", version=3, node="test", direction="inbound", arrived_at=now - 400,
                   from_number="+33140002", to_number="200", agent="1002", disposition="answered",
                   ended_at=now - 300),
        RecordingRecord("REC-BOBS", "BOBS", str(audio), "wav", SECONDS, audio.stat().st_size, "0" * 64, now - 390),
    ])
    async with served(plan):
        driver = await asyncio.to_thread(browser)
        try:
            await asyncio.to_thread(driver.get, f"http://127.0.0.1:{api_port}/agent")
            await asyncio.to_thread(lambda: driver.find_element(By.ID, "signin-agent").send_keys("1001"))
            await asyncio.to_thread(lambda: driver.find_element(By.ID, "signin-password").send_keys("pw-1001"))
            await asyncio.to_thread(lambda: driver.find_element(By.ID, "signin-button").click())
            await until(driver, lambda d: "+33140001" in d.find_element(By.ID, "history-table").text, "my calls")
            history = await asyncio.to_thread(lambda: driver.find_element(By.ID, "history-table").text)
            assert "+33140002" not in history  # Bob's call is not in Alice's history
            buttons = await asyncio.to_thread(lambda: driver.find_elements(By.CSS_SELECTOR, "#history-table .play"))
            assert [await asyncio.to_thread(b.get_attribute, "data-call") for b in buttons] == ["MINE"]
            await asyncio.to_thread(buttons[0].click)
            state = await until(driver, lambda d: d.execute_script(
                "const a = document.getElementById('playback');"
                "return a.currentTime > 0.2 ? {src: a.src, duration: a.duration, hidden: a.hidden,"
                " call: a.dataset.call} : null;"), "the recording playing")
            assert state["src"].startswith("blob:") and not state["hidden"] and state["call"] == "MINE", state
            assert abs(state["duration"] - SECONDS) < 0.1, state  # the whole file, fetched with the desk token
            assert await asyncio.to_thread(lambda: driver.find_element(By.ID, "message").text) == ""
        finally:
            await asyncio.to_thread(driver.quit)
