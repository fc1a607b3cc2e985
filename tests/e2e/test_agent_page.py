"""The agent page in headless Chromium, with a desk phone: sign in, go ready, the screen pop, the write-up.

voxcenter runs in this process on PostgreSQL with the admin API. Agent 1001's phone is baresip (answering when
told); the caller is SIPp from the carrier with a test RTP socket that keys the menu choice and a sensitive
account number. Ada is a known customer: an earlier call with agent 1002 and its write-up are in the records.
Selenium drives Debian's ``chromium`` and ``chromium-driver``: the agent signs in with the phone's SIP
credentials, goes ready with Alt+R, and while the phone rings the page shows Ada's record and history, the number
called with its client, the IVR path, the masked account digits, the queue and the wait. Then the phone answers;
the agent holds the call from the page (the caller hears the music on hold) and resumes it, pauses the
recording from the page and resumes it (the page shows which), writes a note,
captures the company, picks an outcome and a ticket status, saves, hangs up with Alt+H and ends wrap-up with
"Ready now". The interaction row is in PostgreSQL, the customer's company as captured, the CDR counts the hold,
and the history search finds the call by its note. The page is checked uncut at 1280 px and at tablet width
(768 px). A local HTTP receiver, the dial plan's webhook, gets the call's events and the saved interaction, each
signed (HMAC), the first one again after it answered 503; a second one asked for ``call.ended`` only.
With ``VOXCENTER_SCREENSHOT=path`` the 1280 px screen pop is saved there. A consultation from the page (attended
transfer): the caller held with music while Alice talks to Bob, back to the caller, Bob hanging up first, then
completed; at the end Ada and Bob hear each other (FFT on both sides).

Then the browser itself is the phone: the page loads JsSIP (as ``scripts/bootstrap`` installs it in
web/node_modules, served by voxcenter from ``desk.phone_library``), registers over the ``ws`` listener, and the
agent answers with Alt+A; the caller hears the browser's microphone tone and the page plays the caller's (FFT
on both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    CARRIER_IP,
    first_heard,
    plan_sections,
    rtp_base_for_test,
    served,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import Caller, calling
from tests.e2e.whole_call_peers import baresip_agent, fetch
from tests.interop.audio import band_share, read_wav, spectrum, write_tone_wav
from tests.interop.sipp import free_port
from tests.reports.dataset import load
from tests.runtime.webhook_receiver import Receiver
from voxcenter.media.codecs import PCMU
from voxcenter.store.records import CallRecord, CustomerRecord, InteractionRecord

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

PHONE_LIBRARY = Path(__file__).resolve().parents[2] / "web" / "node_modules"
"""Where ``scripts/bootstrap`` installs JsSIP for the browser phone (web/package-lock.json)."""
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ADA = "+33140007"
HOOK_SECRET = "crm-shared-secret-0042"
ACCOUNT = "73915268"
FOLLOW_UP = (datetime.date.today() + datetime.timedelta(days=1)).isoformat() + "T10:30"
"""A callback time as the page's date-time field holds it (local time, no zone)."""
"""What the caller keys at the (sensitive) account prompt: never shown, never sent."""
MUSIC = voiced_frames("moh")

UNCUT = """
const cut = [];
for (const node of document.querySelectorAll("body *")) {
  if (!node.getClientRects().length || ["SCRIPT", "STYLE", "COLGROUP", "COL", "OPTION"].includes(node.tagName)) {
    continue;
  }
  if (node.scrollWidth > node.clientWidth + 1) cut.push(node.tagName + "#" + node.id + ": "
    + (node.textContent || "").trim().slice(0, 60));
}
return {cut, wider: document.documentElement.scrollWidth > window.innerWidth};
"""


def write_plan(directory: Path, database_url: str, hooks: str, ended_only: str, *,
               ws_port: int | None = None) -> tuple[Path, int]:
    sip_port, api_port = free_port(), free_port()
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
            outbound:
              proxy: sip:{CARRIER_IP}:5999
              options_interval: null
        routes:
          callbacks:
            patterns: ['\\+33[0-9]+']
            trunk: carrier
            allow: {{ivr: true}}
        numbers:
          '100': {{node: welcome, client: Acme Travel}}
        ivr:
          welcome:
            type: menu
            prompts: main-menu
            options: {{'1': account}}
          account:
            type: collect
            prompts: callback-enter-number
            variable: account
            min_digits: 8
            max_digits: 8
            sensitive: true
            next: find
          find: {{type: lookup, next: sales}}
          sales: {{type: queue, queue: sales}}
        queues:
          sales:
            ring_timeout: 60s
            wrap_up: 30s
            join_when: always
            leave_when: never
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [sales]}}
          '1002': {{name: Bob, password: pw-1002, queues: [sales]}}
        feature_codes:
          pause_reasons: {{'1': lunch, '2': training}}
        webhooks:
          - {{url: '{hooks}', secret: {HOOK_SECRET}}}
          - {{url: '{ended_only}', secret: {HOOK_SECRET}, events: [call.ended]}}
        desk:
          outcomes: {{sale: Sale, info: Information given}}
        """)
    if ws_port is not None:  # the browser is the phone: JsSIP as bootstrap installs it, SIP over WebSocket
        body += f"  phone_library: {PHONE_LIBRARY}\n"
    text = plan_sections(directory, body, sip_port=sip_port, rtp_base=rtp_base_for_test(),
                         inactivity_timeout="60s", database_url=database_url, api_port=api_port)
    if ws_port is not None:
        udp = f"    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}\n"
        text = text.replace(udp, udp + f"    - {{transport: ws, address: 127.0.0.1, port: {ws_port}}}\n")
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, api_port


def _browser(microphone: Path | None = None) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--lang=en-GB", "--window-size=1280,1000"):
        options.add_argument(argument)
    if microphone is not None:  # the agent's microphone: a tone file
        for argument in ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-audio-capture={microphone}",
                         "--autoplay-policy=no-user-gesture-required"):
            options.add_argument(argument)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))


class Page:
    """The agent page in Chromium; every Selenium call runs in a thread (it blocks)."""

    def __init__(self, microphone: Path | None = None) -> None:
        self.browser: webdriver.Chrome | None = None
        self.microphone = microphone

    async def run(self, action: Callable[[webdriver.Chrome], Any]) -> Any:
        if self.browser is None:
            self.browser = await asyncio.to_thread(_browser, self.microphone)
        return await asyncio.to_thread(action, self.browser)

    async def until(self, condition: Callable[[webdriver.Chrome], Any], what: str, timeout: float = 20) -> Any:
        try:
            return await self.run(lambda b: WebDriverWait(b, timeout).until(condition, what))
        except TimeoutException:
            shown = await self.run(lambda b: b.find_element(By.TAG_NAME, "body").text)
            raise AssertionError(f"{what}: not seen within {timeout} s; the page shows:\n{shown}") from None

    async def text(self, element_id: str) -> str:
        return str(await self.run(_text(element_id)))

    async def shortcut(self, key: str) -> None:
        await self.run(lambda b: ActionChains(b).key_down(Keys.ALT).send_keys(key).key_up(Keys.ALT).perform())

    async def quit(self) -> None:
        if self.browser is not None:
            await asyncio.to_thread(self.browser.quit)


def _text(element_id: str) -> Callable[[webdriver.Chrome], str]:
    """An element's text as written in the page (its textContent, spaces collapsed; not upper-cased by CSS)."""
    return lambda b: " ".join(str(b.find_element(By.ID, element_id).get_attribute("textContent")).split())


def _shown(element_id: str, text: str) -> Callable[[webdriver.Chrome], bool]:
    return lambda b: text in _text(element_id)(b)


async def _seed(url: str) -> None:
    now = time.time()
    await load(url, [
        CustomerRecord(customer_id="CUSTADA", version=3, number=ADA, updated_at=now - 90000, name="Ada Lovelace",
                       company="Analytical Engines", language="fr", priority=5),
        CallRecord(call_id="EARLIER", version=3, node="test", direction="inbound", arrived_at=now - 86400,
                   from_number=ADA, to_number="100", trunk="carrier", sip_call_id="x", queue="sales", agent="1002",
                   ended_at=now - 86000, disposition="answered"),
        InteractionRecord(interaction_id="NOTE1", version=1, call_id="EARLIER", agent="1002", at=now - 86000,
                          customer_id="CUSTADA", number=ADA, notes="asked for the March invoice", outcome="info",
                          ticket_status="resolved"),
    ])


async def _through_the_menu(caller: Caller) -> None:
    """Sales (1), then the account number, once the menu plays."""
    await wait_for(lambda: caller.media.peer is not None, what="the menu playing")
    await caller.media.press("1")
    await asyncio.sleep(0.5)
    for digit in ACCOUNT:
        await caller.media.press(digit)
        await asyncio.sleep(0.2)


async def test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call(
        tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    page = Page()
    async with Receiver(HOOK_SECRET) as hooks, Receiver(HOOK_SECRET) as ends, \
            contextlib.AsyncExitStack() as stack:
        hooks.statuses = [503]  # the CRM fails the first request: it comes again
        plan, api_port = write_plan(tmp_path, pg_url, hooks.url, ends.url)
        server = await stack.enter_async_context(served(plan))
        await _seed(pg_url)
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        try:
            async with baresip_agent(tmp_path, "1001", registrar, voice, answer="manual", login=False) as phone:
                await page.run(lambda b: b.get(f"http://127.0.0.1:{api_port}/agent"))
                await page.run(lambda b: b.find_element(By.ID, "signin-agent").send_keys("1001"))
                await page.run(lambda b: b.find_element(By.ID, "signin-password").send_keys("wrong"))
                await page.run(lambda b: b.find_element(By.ID, "signin-button").click())
                await page.until(_shown("signin-error", "wrong agent or password"), "a refused sign-in")
                await page.run(lambda b: b.find_element(By.ID, "signin-password").clear())
                await page.run(lambda b: b.find_element(By.ID, "signin-password").send_keys("pw-1001"))
                await page.run(lambda b: b.find_element(By.ID, "signin-button").click())
                await page.until(_shown("me", "Alice 1001"), "signed in")
                assert await page.text("state") == "offline"
                reasons = await page.run(lambda b: [o.text for o in Select(
                    b.find_element(By.ID, "pause-reason")).options])
                assert reasons == ["lunch", "training"]
                await page.shortcut("r")
                await page.until(_shown("state", "ready"), "ready after Alt+R")
                assert server.acd.router.agent_state("1001").value == "ready"

                async with calling(server, tmp_path, "100", name="ada", number=ADA, hold=90) as caller:
                    await _through_the_menu(caller)
                    await phone.ctrl.wait_event("CALL_INCOMING", 20)
                    await page.until(_shown("pop-title", "Incoming call"), "the screen pop")
                    await page.until(_shown("previous", "asked for the March invoice"), "the customer's history")
                    pop = {name: await page.text(f"pop-{name}") for name in (
                        "caller", "name", "company", "language", "priority", "last-agent", "called", "queue",
                        "waited", "ivr", "entered")}
                    assert pop == {
                        "caller": ADA, "name": "Ada Lovelace", "company": "Analytical Engines", "language": "fr",
                        "priority": "5", "last-agent": "1002", "called": "100 - Acme Travel", "queue": "sales",
                        "waited": pop["waited"], "ivr": "welcome [1] > account > find > sales",
                        "entered": "account: ***"}, pop
                    assert pop["waited"].endswith(" s") and ACCOUNT not in await page.text("pop")
                    previous = await page.text("previous")
                    assert "Information given" in previous and "resolved" in previous and "1002" in previous
                    for width in (1280, 768):
                        await page.run(lambda b, w=width: b.set_window_size(w, 1000))
                        seen = await page.run(lambda b: b.execute_script(UNCUT))
                        assert seen == {"cut": [], "wider": False}, (width, seen)
                    await page.run(lambda b: b.set_window_size(1280, 1000))
                    if os.environ.get("VOXCENTER_SCREENSHOT"):
                        await page.run(lambda b: b.save_screenshot(os.environ["VOXCENTER_SCREENSHOT"]))

                    await phone.ctrl.command("accept")  # the agent answers on the desk phone
                    await page.until(_shown("pop-title", "On the call"), "talking")
                    # Hold from the page: the caller hears the music on hold, then the agent again.
                    heard_before = len(caller.media.heard)
                    await page.run(lambda b: b.find_element(By.ID, "hold").click())
                    await page.until(_shown("pop-phase", "on hold"), "on hold")
                    await wait_for(lambda: first_heard(caller.media.heard[heard_before:], MUSIC) >= 0,
                                   what="the music on hold")
                    await page.run(lambda b: b.find_element(By.ID, "hold").click())
                    await page.until(_shown("hold", "Hold"), "resumed")
                    # PCI: the agent pauses the recording from the page while a card number is read out.
                    await page.until(_shown("recording-state", "Recording"), "the call shown as recorded")
                    assert await page.text("recording-toggle") == "Pause recording"
                    await page.run(lambda b: b.find_element(By.ID, "recording-toggle").click())
                    await page.until(_shown("recording-state", "Recording paused"), "the recording paused")
                    assert await page.text("recording-toggle") == "Resume recording"
                    [live] = server.calls.values()
                    assert live.recording is not None and live.recording.paused
                    await page.run(lambda b: b.find_element(By.ID, "recording-toggle").click())
                    await page.until(_shown("recording-toggle", "Pause recording"), "the recording resumed")
                    assert await page.text("recording-state") == "\u25cf Recording" and not live.recording.paused
                    await page.run(lambda b: b.find_element(By.ID, "f-company").clear())
                    await page.run(lambda b: b.find_element(By.ID, "f-company").send_keys("Babbage & Co"))
                    await page.run(lambda b: b.find_element(By.ID, "f-reason").send_keys("refund"))
                    await page.run(lambda b: b.find_element(By.ID, "f-notes").send_keys(
                        "refund promised for the March invoice"))
                    await page.run(lambda b: Select(b.find_element(By.ID, "f-outcome")).select_by_visible_text(
                        "Sale"))
                    await page.run(lambda b: Select(b.find_element(By.ID, "f-ticket")).select_by_value("resolved"))
                    await page.run(lambda b: b.find_element(By.ID, "save").click())
                    await page.until(_shown("saved", "Saved (version 1)"), "the write-up saved")
                    await page.shortcut("h")
                    await phone.ctrl.wait_event("CALL_CLOSED", 15)
                    await caller.finished(30)
                await page.until(_shown("pop-title", "Call ended"), "the call over on the page")
                await page.until(lambda b: b.find_element(By.ID, "wrapup").is_displayed(), "the wrap-up countdown")
                assert 0 < int(await page.text("wrapup-left")) <= 30
                await page.run(lambda b: b.find_element(By.ID, "ready-now").click())
                await page.until(_shown("state", "ready"), "ready again")
                await server.writer.flush(10.0)

                [cdr] = await fetch(pg_url, "select call_id, agent, disposition, hold_seconds from calls "
                                            "where call_id <> 'EARLIER'")
                assert (cdr["agent"], cdr["disposition"]) == ("1001", "answered") and cdr["hold_seconds"] > 0
                holds = await fetch(pg_url, "select event, data from call_events where call_id = $1 and event in "
                                    "('HOLD', 'UNHOLD') order by at", cdr["call_id"])
                assert [(h["event"], json.loads(h["data"])) for h in holds] == [
                    ("HOLD", {"leg": "agent", "by": "page"}), ("UNHOLD", {"leg": "agent", "by": "page"})]
                pauses = await fetch(pg_url, "select event, data from call_events where call_id = $1 and event in "
                                     "('RECORDINGPAUSED', 'RECORDINGRESUMED') order by at", cdr["call_id"])
                assert [(p["event"], json.loads(p["data"])["by"], json.loads(p["data"])["who"]) for p in pauses] == [
                    ("RECORDINGPAUSED", "api", "1001"), ("RECORDINGRESUMED", "api", "1001")]
                [row] = await fetch(pg_url, "select * from interactions where call_id = $1", cdr["call_id"])
                assert (row["agent"], row["notes"], row["outcome"], row["ticket_status"], row["reason"],
                        row["customer_id"], row["number"]) == (
                    "1001", "refund promised for the March invoice", "sale", "resolved", "refund", "CUSTADA", ADA)
                [customer] = await fetch(pg_url, "select name, company, version from customers where number = $1",
                                         ADA)
                assert (customer["name"], customer["company"], customer["version"]) == \
                    ("Ada Lovelace", "Babbage & Co", 4)

                await page.run(lambda b: b.find_element(By.ID, "history-q").send_keys("refund promised"))
                await page.run(lambda b: b.find_element(By.ID, "history-q").send_keys(Keys.ENTER))
                await page.until(_shown("history-table", "refund promised for the March invoice"), "the history")
                history = await page.text("history-table")
                assert ADA in history and "Sale" in history and "March invoice" in history
                # its recording plays from the history
                await page.run(lambda b: b.find_element(By.CSS_SELECTOR, "#history-table button.play").click())
                await page.until(lambda b: b.execute_script(
                    "const p = document.getElementById('playback');"
                    "return !p.hidden && p.dataset.call === arguments[0] && p.duration > 1;", cdr["call_id"]),
                    "the recording loaded in the player")
        finally:
            await page.quit()
        # The CRM heard of it all, signed: offered (tried twice), answered, the interaction saved, ended.
        wanted = {"call.offered", "call.answered", "interaction.saved", "call.ended"}
        await wait_for(lambda: wanted <= {r.event for r in hooks.received if r.attempt == 1} and
                       len([r for r in hooks.received if r.event == "call.offered"]) == 2, what="the webhooks")
        assert all(r.signed for r in hooks.received), hooks.received
        offered = [r for r in hooks.received if r.event == "call.offered"]
        assert [r.attempt for r in offered] == [1, 2] and offered[0].delivery == offered[1].delivery
        data = offered[0].body["data"]
        assert (data["caller"], data["client"], data["agent"], data["queue"], data["entered"]) == \
            (ADA, "Acme Travel", "1001", "sales", {"account": "***"})
        assert not any(ACCOUNT in json.dumps(r.body["data"]) for r in hooks.received)
        [ended] = [r.body["data"] for r in hooks.received if r.event == "call.ended"]
        [saved] = [r.body["data"] for r in hooks.received if r.event == "interaction.saved"]
        assert (ended["disposition"], ended["agent"]) == ("answered", "1001")
        assert (saved["call_id"], saved["outcome"]) == (ended["call_id"], "sale")
        assert ends.events() == ["call.ended"] and ends.received[0].signed  # it asked for that event only


async def test_the_agent_transfers_the_caller_to_another_agent_from_the_page(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    page = Page()
    async with Receiver(HOOK_SECRET) as hooks, Receiver(HOOK_SECRET) as ends:
        plan, api_port = write_plan(tmp_path, pg_url, hooks.url, ends.url)
        async with served(plan) as server:
            address = server.endpoint.address("udp")
            registrar = f"{address.host}:{address.port}"
            try:
                async with (
                    baresip_agent(tmp_path, "1001", registrar, voice, answer="manual", login=False) as alice,
                    baresip_agent(tmp_path, "1002", registrar, voice, login=False) as bob,
                ):
                    # Alice signs in through a link with a token the API issued (a portal's single sign-on).
                    async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as http, \
                            http.post(f"http://127.0.0.1:{api_port}/api/desk/tokens", json={"agent": "1001"}) as r:
                        assert r.status == 201
                        token = (await r.json())["token"]
                    await page.run(lambda b: b.get(f"http://127.0.0.1:{api_port}/agent?token={token}"))
                    await page.until(_shown("me", "Alice 1001"), "signed in with the issued token")
                    assert "token" not in await page.run(lambda b: b.current_url)
                    await page.run(lambda b: b.find_element(By.ID, "ready").click())
                    await page.until(_shown("state", "ready"), "ready")
                    async with calling(server, tmp_path, "100", name="ada", number=ADA, hold=60) as caller:
                        await _through_the_menu(caller)
                        await alice.ctrl.wait_event("CALL_INCOMING", 20)
                        await alice.ctrl.command("accept")
                        await page.until(_shown("pop-title", "On the call"), "talking")
                        await page.run(lambda b: b.find_element(By.ID, "transfer-to").send_keys("1001"))
                        await page.run(lambda b: b.find_element(By.ID, "transfer").click())
                        await page.until(_shown("message", "Cannot Transfer To Yourself"), "a refused transfer")
                        await page.run(lambda b: b.find_element(By.ID, "transfer-to").clear())
                        await page.run(lambda b: b.find_element(By.ID, "transfer-to").send_keys("1002"))
                        await page.run(lambda b: b.find_element(By.ID, "transfer").click())
                        await bob.ctrl.wait_event("CALL_ESTABLISHED", 20)  # Bob's phone answers by itself
                        await alice.ctrl.wait_event("CALL_CLOSED", 15)  # Alice's phone is let go
                        await page.until(_shown("pop-title", "Call ended"), "the call gone from Alice's page")
                        # Bob's desk has the transferred call
                        async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as http, \
                                http.get(f"http://127.0.0.1:{api_port}/api/desk?agent=1002") as r:
                            bobs = (await r.json())["call"]
                        assert (bobs["phase"], bobs["caller"], bobs["client"]) == ("talking", ADA, "Acme Travel")
                        await bob.hang_up()
                        await caller.finished(30)
            finally:
                await page.quit()
            await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select call_id, agent, disposition from calls")
    events = await fetch(pg_url, "select event, agent, data from call_events where call_id = $1 and event in "
                         "('BLINDTRANSFER', 'TRANSFER') order by at", cdr["call_id"])
    assert [(e["event"], e["agent"]) for e in events] == [("BLINDTRANSFER", "1001"), ("TRANSFER", "1002")]
    assert json.loads(events[1]["data"]) == {"kind": "agent", "by": "1001"}


HEARD = """
// The dominant frequency of what the page plays from the call (its remote audio), over about a second.
const done = arguments[arguments.length - 1];
const stream = document.getElementById("remote-audio").srcObject;
if (!stream) { done(null); return; }
const context = new AudioContext();
const analyser = context.createAnalyser();
analyser.fftSize = 8192;
context.createMediaStreamSource(stream).connect(analyser);
setTimeout(() => {
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  done(bins[best] > -70 ? best * context.sampleRate / analyser.fftSize : null);
}, 1200);
"""


@pytest.mark.skipif(not (PHONE_LIBRARY / "jssip").is_dir(),
                    reason="JsSIP is not installed: run scripts/bootstrap --dev")
async def test_the_browser_is_the_phone_the_agent_answers_with_alt_a_and_both_hear_each_other(
        tmp_path: Path, pg_url: str) -> None:
    microphone = write_tone_wav(tmp_path / "browser-mic.wav", AGENT_HZ, 60.0, rate=48000)
    page = Page(microphone)
    async with Receiver(HOOK_SECRET) as hooks, Receiver(HOOK_SECRET) as ends:
        plan, api_port = write_plan(tmp_path, pg_url, hooks.url, ends.url, ws_port=free_port())
        async with served(plan) as server:
            try:
                await page.run(lambda b: b.get(f"http://127.0.0.1:{api_port}/agent"))
                await page.run(lambda b: b.find_element(By.ID, "signin-agent").send_keys("1001"))
                await page.run(lambda b: b.find_element(By.ID, "signin-password").send_keys("pw-1001"))
                await page.run(lambda b: b.find_element(By.ID, "signin-button").click())
                await page.until(_shown("me", "Alice 1001"), "signed in")
                await page.run(lambda b: b.find_element(By.ID, "phone-toggle").click())
                await page.until(_shown("phone-status", "browser phone ready"), "the browser registered")
                [binding] = server.endpoint.registrar.lookup("1001")
                assert binding.source.transport == "ws"
                await page.shortcut("r")
                await page.until(_shown("state", "ready"), "ready")
                async with calling(server, tmp_path, "100", name="ada", number=ADA, hold=60) as caller:
                    await _through_the_menu(caller)
                    await page.until(_shown("pop-title", "Incoming call"), "the screen pop")
                    await page.until(lambda b: b.find_element(By.ID, "answer").is_enabled(), "the answer button")
                    await page.shortcut("a")
                    await page.until(_shown("pop-title", "On the call"), "answered in the browser")
                    caller.media.speak(CALLER_HZ, 30.0)
                    answered_at = len(caller.media.heard)
                    await wait_for(lambda: len(caller.media.heard) - answered_at >= 150, what="3 s of the browser")
                    heard_by_caller = spectrum(PCMU.decode(b"".join(caller.media.heard[answered_at + 25:])), 8000)
                    assert abs(heard_by_caller.dominant - AGENT_HZ) <= 15, heard_by_caller
                    heard_by_agent = await page.run(lambda b: b.execute_async_script(HEARD))
                    assert heard_by_agent is not None and abs(heard_by_agent - CALLER_HZ) <= 15, heard_by_agent
                    await page.shortcut("h")
                    assert (await caller.finished(30)).successful == 1
                await page.until(_shown("pop-title", "Call ended"), "the call over")
            finally:
                await page.quit()
            await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select agent, disposition from calls")
    assert (cdr["agent"], cdr["disposition"]) == ("1001", "answered")


async def test_the_agent_adds_another_agent_to_the_call_and_leaves_the_two_talking(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    page = Page()
    async with Receiver(HOOK_SECRET) as hooks, Receiver(HOOK_SECRET) as ends:
        plan, api_port = write_plan(tmp_path, pg_url, hooks.url, ends.url)
        async with served(plan) as server:
            address = server.endpoint.address("udp")
            registrar = f"{address.host}:{address.port}"
            try:
                async with (
                    baresip_agent(tmp_path, "1001", registrar, voice, answer="manual", login=False) as alice,
                    baresip_agent(tmp_path, "1002", registrar, voice, login=False) as bob,
                ):
                    await page.run(lambda b: b.get(f"http://127.0.0.1:{api_port}/agent"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-agent").send_keys("1001"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-password").send_keys("pw-1001"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-button").click())
                    await page.until(_shown("me", "Alice 1001"), "signed in")
                    await page.shortcut("r")
                    await page.until(_shown("state", "ready"), "ready")
                    async with calling(server, tmp_path, "100", name="ada", number=ADA, hold=60) as caller:
                        await _through_the_menu(caller)
                        await alice.ctrl.wait_event("CALL_INCOMING", 20)
                        await alice.ctrl.command("accept")
                        await page.until(_shown("pop-title", "On the call"), "talking")
                        await page.run(lambda b: b.find_element(By.ID, "transfer-to").send_keys("1002"))
                        await page.run(lambda b: b.find_element(By.ID, "conference").click())
                        await page.until(_shown("message", "Adding 1002"), "adding Bob")
                        await bob.ctrl.wait_event("CALL_ESTABLISHED", 20)  # Bob's phone answers by itself
                        await wait_for(lambda: any(len(c.call.bridge.legs) == 3 for c in server.calls.values()),
                                       what="three in the conversation")
                        await alice.hang_up()  # Alice leaves; Ada and Bob talk on
                        await wait_for(lambda: any(len(c.call.bridge.legs) == 2 for c in server.calls.values()),
                                       what="the two left talking")
                        await bob.hang_up()
                        await caller.finished(30)
                    # The write-up asks for a callback tomorrow at 10:30 (the browser's time zone): booked in sales.
                    await page.until(_shown("pop-title", "Call ended"), "the call over")
                    await page.run(lambda b: b.execute_script(
                        "document.getElementById('f-follow-up').value = arguments[0];", FOLLOW_UP))
                    await page.run(lambda b: b.find_element(By.ID, "f-notes").send_keys("send the quote, call back"))
                    await page.run(lambda b: b.find_element(By.ID, "save").click())
                    await page.until(_shown("saved", "callback booked"), "the follow-up booked")
                    due = await page.run(lambda b: b.execute_script(
                        "return new Date(arguments[0]).getTime() / 1000;", FOLLOW_UP))
            finally:
                await page.quit()
            await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select call_id from calls where direction = 'inbound'")
    [event] = await fetch(pg_url, "select agent, data from call_events where call_id = $1 and event = 'CONFERENCE'",
                          cdr["call_id"])
    assert (event["agent"], json.loads(event["data"])) == ("1001", {"target": "1002", "kind": "agent"})
    [note] = await fetch(pg_url, "select ticket_status, follow_up_at, callback_id from interactions where call_id = $1",
                         cdr["call_id"])
    [booked] = await fetch(pg_url, "select number, queue, due_at, status, customer_data from callbacks "
                           "where callback_id = $1", note["callback_id"])
    assert note["ticket_status"] == "needs_follow_up" and note["follow_up_at"].timestamp() == due
    assert (booked["number"], booked["queue"], booked["due_at"].timestamp(), booked["status"]) == \
        (ADA, "sales", due, "pending")
    assert json.loads(booked["customer_data"])["agent"] == "1001"


BOB_HZ = 880.0
"""Bob's phone, the consulted agent, speaks this tone (Alice's speaks ``AGENT_HZ``, the caller ``CALLER_HZ``)."""


def _share(frames: list[bytes], frequency: float) -> float:
    """Share of the energy near ``frequency`` in what the caller heard (PCMU frames)."""
    return band_share(PCMU.decode(b"".join(frames)), 8000, frequency)


async def test_the_agent_consults_another_agent_goes_back_to_the_caller_then_completes_the_transfer(
        tmp_path: Path, pg_url: str) -> None:
    alice_voice = write_tone_wav(tmp_path / "alice.wav", AGENT_HZ, 60.0)
    bob_voice = write_tone_wav(tmp_path / "bob.wav", BOB_HZ, 60.0)
    page = Page()
    async with Receiver(HOOK_SECRET) as hooks, Receiver(HOOK_SECRET) as ends:
        plan, api_port = write_plan(tmp_path, pg_url, hooks.url, ends.url)
        async with served(plan) as server:
            address = server.endpoint.address("udp")
            registrar = f"{address.host}:{address.port}"
            try:
                async with (
                    baresip_agent(tmp_path, "1001", registrar, alice_voice, answer="manual", login=False) as alice,
                    baresip_agent(tmp_path, "1002", registrar, bob_voice, login=False) as bob,
                ):
                    await page.run(lambda b: b.get(f"http://127.0.0.1:{api_port}/agent"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-agent").send_keys("1001"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-password").send_keys("pw-1001"))
                    await page.run(lambda b: b.find_element(By.ID, "signin-button").click())
                    await page.until(_shown("me", "Alice 1001"), "signed in")
                    await page.shortcut("r")
                    await page.until(_shown("state", "ready"), "ready")
                    async with calling(server, tmp_path, "100", name="ada", number=ADA, hold=90) as caller:
                        await _through_the_menu(caller)
                        await alice.ctrl.wait_event("CALL_INCOMING", 20)
                        await alice.ctrl.command("accept")
                        await page.until(_shown("pop-title", "On the call"), "talking")
                        caller.media.speak(CALLER_HZ, 60.0)

                        async def consult_bob() -> None:
                            await page.run(lambda b: b.find_element(By.ID, "transfer-to").send_keys("1002"))
                            await page.run(lambda b: b.find_element(By.ID, "consult").click())
                            await bob.ctrl.wait_event("CALL_ESTABLISHED", 20)  # Bob's phone answers by itself
                            await page.until(_shown("consult-state", "Talking to 1002 (caller on hold)"),
                                             "consulting Bob")
                            assert await page.run(lambda b: b.find_element(By.ID, "transfer").get_attribute(
                                "disabled")) is not None  # one transfer at a time

                        # First consultation: Bob is asked, and Alice goes back to the caller.
                        await consult_bob()
                        await page.until(_shown("pop-phase", "on hold"), "the caller held")
                        since = len(caller.media.heard)
                        await wait_for(lambda: len(caller.media.heard) - since >= 75, what="the caller on hold")
                        held = caller.media.heard[since + 25:]
                        # Music, nobody's voice: the music has some energy near 660 Hz (about a tenth), a voice
                        # heard has more than half.
                        assert _share(held, AGENT_HZ) < 0.25 and _share(held, BOB_HZ) < 0.25
                        await page.run(lambda b: b.find_element(By.ID, "consult-cancel").click())
                        await page.until(_shown("message", "Back to the caller"), "back to the caller")
                        await bob.ctrl.wait_event("CALL_CLOSED", 15)  # Bob is let go
                        await page.until(lambda b: not b.find_element(By.ID, "consult-box").is_displayed(),
                                         "the consultation over")
                        since = len(caller.media.heard)
                        await wait_for(lambda: len(caller.media.heard) - since >= 75, what="Alice again")
                        assert _share(caller.media.heard[since + 25:], AGENT_HZ) > 0.5  # Ada hears Alice again

                        # Second consultation: Bob hangs up first, and Alice is back with the caller.
                        await consult_bob()
                        await bob.hang_up()
                        await page.until(lambda b: not b.find_element(By.ID, "consult-box").is_displayed(),
                                         "the consultation over when Bob hung up")
                        await page.until(lambda b: "on hold" not in _text("pop-phase")(b), "the caller off hold")

                        # Third consultation, completed: Ada talks to Bob, Alice's phone is let go.
                        await consult_bob()
                        since = len(caller.media.heard)
                        await wait_for(lambda: len(caller.media.heard) - since >= 75, what="Alice talking to Bob")
                        assert _share(caller.media.heard[since + 25:], BOB_HZ) < 0.25  # Ada does not hear Bob yet
                        await page.run(lambda b: b.find_element(By.ID, "consult-complete").click())
                        await alice.ctrl.wait_event("CALL_CLOSED", 15)
                        await page.until(_shown("pop-title", "Call ended"), "the call gone from Alice's page")
                        since = len(caller.media.heard)
                        await wait_for(lambda: len(caller.media.heard) - since >= 75, what="Bob talking to Ada")
                        assert _share(caller.media.heard[since + 25:], BOB_HZ) > 0.5  # Ada hears Bob
                        async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as http, \
                                http.get(f"http://127.0.0.1:{api_port}/api/desk?agent=1002") as r:
                            bobs = (await r.json())["call"]
                        assert (bobs["phase"], bobs["caller"], bobs["held"], bobs["consulting"]) == \
                            ("talking", ADA, False, None)
                        await bob.hang_up()
                        await caller.finished(30)
                    rate, (bob_heard,) = read_wav(bob.recording("dec"))
                    assert band_share(bob_heard[-rate:], rate, CALLER_HZ) > 0.5  # Bob heard Ada at the end
                    assert band_share(bob_heard[:-rate], rate, AGENT_HZ) > 0.3  # and Alice while she consulted him
                    rate, (alice_heard,) = read_wav(alice.recording("dec"))
                    assert band_share(alice_heard, rate, BOB_HZ) > 0.1  # Alice heard Bob during the consultation
            finally:
                await page.quit()
            await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select call_id, agent, disposition from calls where direction = 'inbound'")
    assert (cdr["agent"], cdr["disposition"]) == ("1001", "answered")
    events = await fetch(pg_url, "select event, agent, data from call_events where call_id = $1 and event in "
                         "('CONSULT', 'CONSULTEND', 'ATTENDEDTRANSFER') order by at", cdr["call_id"])
    assert [(e["event"], e["agent"]) for e in events] == [
        ("CONSULT", "1001"), ("CONSULTEND", "1001"), ("CONSULT", "1001"), ("CONSULTEND", "1001"),
        ("CONSULT", "1001"), ("ATTENDEDTRANSFER", "1001")]
    assert json.loads(events[-1]["data"]) == {"target": "1002", "kind": "agent", "by": "page"}
    legs = await fetch(pg_url, "select role, peer from call_legs where call_id = $1 order by started_at",
                       cdr["call_id"])
    assert [(leg["role"], leg["peer"]) for leg in legs] == [("caller", ADA), ("agent", "1001"), ("agent", "1002")]
