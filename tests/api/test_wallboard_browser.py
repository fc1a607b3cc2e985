"""The wallboard in headless Chromium: what a supervisor reads on it, and nothing cut off from 1280 to 1920 px.

The API serves the busy scripted contact center of ``tests.api.demo`` (real router, fake clock); Selenium
drives Debian's ``chromium`` and ``chromium-driver`` (installed by ``scripts/bootstrap --dev``). An agent's
tile says who monitors the agent's call (and in which mode) and when its recording is paused. With
``VOXCENTER_SCREENSHOT=path`` the 1920 px board is saved there (docs/wallboard.png is made that way).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver

from tests.api.demo import NAMES, SUPERVISOR, scripted
from voxcenter.api import ApiSettings, start_api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

TOKEN = "board-token"
OVERFLOWING = """
// Every element whose own content is wider or taller than its box (text cut or spilling out), by its text.
const cut = [];
for (const node of document.querySelectorAll("body *")) {
  if (!node.getClientRects().length || ["SCRIPT", "STYLE", "COLGROUP", "COL"].includes(node.tagName)) continue;
  if (node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1) {
    cut.push(node.tagName + "." + node.className + ": " + (node.textContent || "").trim().slice(0, 60));
  }
}
return cut;
"""


READ_BOARD = """
// What the board shows, read in one go (it re-renders every second).
const texts = (selector) => [...document.querySelectorAll(selector)].map((node) => node.innerText);
return {
  text: document.body.innerText,
  cut: (function () {""" + OVERFLOWING + """})(),
  page_wider: document.documentElement.scrollWidth > window.innerWidth,
  waiting_rows: [...document.querySelectorAll("#waiting tr")].slice(1)
    .map((row) => [...row.querySelectorAll("td")].map((cell) => cell.innerText)),
  agents: texts("#agents .agent"),
  date: document.getElementById("date").innerText,
  time: document.getElementById("time").innerText,
};
"""


@pytest.fixture
async def board_url() -> AsyncIterator[str]:
    control = scripted()
    loop = asyncio.get_running_loop()
    offset = control.clock - loop.time()
    control.now = lambda: loop.time() + offset  # type: ignore[method-assign]
    runner, port = await start_api(control, ApiSettings(port=0, token=TOKEN))
    try:
        yield f"http://127.0.0.1:{port}/?token={TOKEN}"
    finally:
        await runner.cleanup()


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--lang=en-GB"):
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(options=options, service=service)


def _look(url: str, widths: list[int], screenshot: str | None) -> dict[int, dict[str, object]]:
    """Open the board at each width; what it shows and what overflows (runs in a thread: Selenium blocks)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seen: dict[int, dict[str, object]] = {}
    browser = _browser()
    try:
        browser.get(url)
        WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "status").text == "live")
        for width in widths:
            browser.set_window_size(width, 1000)
            browser.execute_script("render();")
            seen[width] = browser.execute_script(READ_BOARD)
        if screenshot:
            browser.set_window_size(1920, 1000)
            browser.save_screenshot(screenshot)
    finally:
        browser.quit()
    return seen


async def test_the_board_shows_queues_waiting_callers_and_agents_uncut(board_url: str) -> None:
    widths = [1280, 1440, 1600, 1920]
    seen = await asyncio.to_thread(_look, board_url, widths, os.environ.get("VOXCENTER_SCREENSHOT"))
    for width in widths:
        view = seen[width]
        assert view["cut"] == [], f"{width} px: {view['cut']}"
        assert not view["page_wider"], f"{width} px: the page scrolls sideways"
    board = seen[1280]
    text = str(board["text"])
    # Queue figures, with the calls lost to overflow and to a queue without agents.
    for label in ("Waiting", "Longest wait", "Service level", "Abandoned", "Avg answer", "Overflowed",
                  "No agent", "Ready", "Ringing", "On call", "Wrap-up", "Paused"):
        assert label in text
    assert "claims" in text
    # Waiting callers: queue, position, caller, wait, priority, in queue order.
    rows = board["waiting_rows"]
    assert isinstance(rows, list) and len(rows) == 4
    assert [row[0] for row in rows] == ["support"] * 4 and [row[1] for row in rows] == ["1", "2", "3", "4"]
    assert all(row[2].startswith("+4420790") and ":" in row[3] and row[4] == "0" for row in rows)
    # Agents by name; each agent on a call shows the queue and the caller.
    tiles = board["agents"]
    assert isinstance(tiles, list)
    for name in NAMES.values():
        assert any(name.replace("-", "-\n") in tile or name in tile.replace("\n", " ") for tile in tiles), name
    on_call = [tile for tile in tiles if "ON CALL" in tile.upper()]
    assert len(on_call) == 3 and all("sales · +3361200" in tile for tile in on_call)
    # The monitored call and the paused recording are flagged on the agent's tile, and only there.
    flagged = [tile for tile in on_call if "monitored" in tile or "recording paused" in tile]
    assert len(flagged) == 1, on_call
    assert f"monitored · {NAMES[SUPERVISOR]} (whisper)" in flagged[0].replace("\n", " ")
    assert "recording paused" in flagged[0]
    assert sum("monitored ·" in tile for tile in tiles) == 1 and sum("recording paused" in tile for tile in tiles) == 1
    # The date and time in the dial plan's time zone.
    paris = datetime.now(ZoneInfo("Europe/Paris"))
    assert str(board["date"]).endswith("Europe/Paris") and str(paris.year) in str(board["date"])
    assert str(board["time"])[:2] in {f"{paris.hour:02d}", f"{(paris.hour + 1) % 24:02d}"}


async def test_the_board_is_served_at_the_root_and_at_wallboard(board_url: str) -> None:
    import aiohttp

    base = board_url.split("?")[0].rstrip("/")
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/wallboard"):
            async with session.get(base + path) as response:  # no token: the page holds no data
                assert response.status == 200
                assert "voxcenter <span>wallboard</span>" in await response.text()


def test_the_screenshot_in_the_docs_is_a_png() -> None:
    shot = Path(__file__).resolve().parents[2] / "docs" / "wallboard.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
