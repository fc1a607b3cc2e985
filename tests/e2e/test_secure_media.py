"""Encrypted media with real peers, each agent taking a queue call from a SIPp caller on the plain G.711 trunk:

- baresip on SIP over TLS with SDES-SRTP (its ``srtp`` module, ``mediaenc=srtp-mand``, which never falls back
  to plain RTP);
- JsSIP (the npm package, installed by ``scripts/bootstrap --dev``) in headless Chromium on SIP over
  WebSocket, with WebRTC media (ICE-lite, DTLS-SRTP), its microphone a tone file.

The caller's side is plain RTP, byte for byte what the test socket hears; both tones are in the stereo
recording (caller left, agent right) and each side hears the other's (FFT).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    feature_code,
    query,
    rtp_base_for_test,
    served,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import call_of, calling, queue_dial_plan
from tests.interop.audio import spectrum, wav_spectra, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.certificates import certificate
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

music = set(voiced_frames("moh"))


def secure_plan(tmp: Path, extra_listen: str) -> Path:
    """The queue suite's plan with more listeners (TLS with a fresh certificate, WebSocket ...)."""
    sip_port = free_port()
    plan = queue_dial_plan(tmp, sip_port=sip_port, rtp_base=rtp_base_for_test())
    udp = f"    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}\n"
    text = plan.read_text()
    assert udp in text
    plan.write_text(text.replace(udp, udp + extra_listen))
    return plan


async def test_an_srtp_phone_on_tls_takes_a_queue_call_from_a_plain_trunk(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    tls_port = free_port()
    plan = secure_plan(tmp_path, f"    - {{transport: tls, address: 127.0.0.1, port: {tls_port}, "
                                 f"cert: {cert}, key: {key}}}\n")
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with served(plan) as server:
        registrar = f"127.0.0.1:{tls_port}"
        account = Account("1001", registrar, "pw-1001", transport="tls", mediaenc="srtp-mand")
        async with Baresip(tmp_path, "alice", account, voice, cafile=cert) as alice:
            await alice.registered()
            [binding] = server.endpoint.registrar.lookup("1001")
            assert binding.source.transport == "tls"
            # The login feature code is a call too: baresip offers RTP/SAVP with its key, voxcenter answers it.
            await feature_code(alice, "*45", f"{registrar};transport=tls")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="1001 ready")
            async with calling(server, tmp_path, "300", name="caller", number="0100000001") as caller:
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 15)
                caller.media.speak(CALLER_HZ, 30.0)
                await asyncio.sleep(3.0)
                await alice.hang_up()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    # Both calls (the login feature code, the queue call) were SRTP: srtp-mand takes nothing else.
    assert alice.log().count("SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)") == 2, alice.log()
    # The agent heard the caller through SRTP (its decoded audio), the caller heard the agent in plain G.711.
    heard_by_agent = wav_spectra(alice.recording("dec"))[0]
    assert abs(heard_by_agent.dominant - CALLER_HZ) <= 15, heard_by_agent
    assert abs(spectrum(PCMU.decode(b"".join(caller.media.heard)), 8000).dominant - AGENT_HZ) <= 15
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0100000001")
    [(disposition, agent)] = query(db, "select disposition, agent from calls where call_id=?", call_id)
    assert (disposition, agent) == ("answered", "1001")
    [(recording,)] = query(db, "select path from recordings where call_id=?", call_id)
    left, right = wav_spectra(Path(str(recording)))
    assert abs(left.dominant - CALLER_HZ) <= 15 and abs(right.dominant - AGENT_HZ) <= 15, (left, right)


# --- a browser softphone: JsSIP in headless Chromium, SIP over WebSocket, WebRTC media ------------------------------

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
CJS_LOADER = Path(__file__).resolve().parents[2] / "voxcenter" / "api" / "static" / "cjs.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def hears(heard: list[bytes], frequency: float) -> bool:
    """The last second a caller heard is mostly ``frequency``."""
    if len(heard) < 50:
        return False
    last = spectrum(PCMU.decode(b"".join(heard[-50:])), 8000)
    return abs(last.dominant - frequency) <= 15 and last.peak_share > 0.5


class BrowserPhone:
    """The test page ``tests/browser/phone.html`` in headless Chromium, its microphone a tone file.

    Selenium blocks: every method runs in a thread (``await asyncio.to_thread(phone.method, ...)``)."""

    def __init__(self, url: str, microphone: Path, *, trust_any_certificate: bool = False) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-audio-capture={microphone}",
                         "--autoplay-policy=no-user-gesture-required"):
            options.add_argument(argument)
        if trust_any_certificate:
            options.add_argument("--ignore-certificate-errors")  # the test's self-signed certificate
        self.browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
        self.browser.get(url)

    def text(self, element: str) -> str:
        return str(self.browser.find_element(By.ID, element).text)

    def wait_text(self, element: str, wanted: Callable[[str], bool], timeout: float = 20.0) -> str:
        """The first text of ``element`` that is ``wanted`` (the page may change it the next moment)."""

        def shown(_: object) -> str | None:
            text = self.text(element)
            return text if wanted(text) else None

        try:
            return str(WebDriverWait(self.browser, timeout).until(shown))
        except TimeoutException:
            logs = "\n".join(str(entry) for entry in self.browser.get_log("browser")
                             if "Failed to load resource" not in str(entry))  # the loader's probes, the icon
            page = self.browser.find_element(By.TAG_NAME, "body").text
            raise AssertionError(f"#{element} shows {self.text(element)!r}; the page:\n{page}\n{logs}") from None

    def run(self, script: str) -> None:
        self.browser.execute_script(script)

    def quit(self) -> None:
        self.browser.quit()


@asynccontextmanager
async def static_files(directory: Path) -> AsyncIterator[str]:
    """``directory`` over HTTP on loopback (the page and the JsSIP package it loads); yields the base URL."""
    app = web.Application()

    async def loader(_: web.Request) -> web.FileResponse:  # the agent page's own (voxcenter/api/static/cjs.js)
        return web.FileResponse(CJS_LOADER)

    app.router.add_get("/cjs.js", loader)
    app.router.add_static("/", directory)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.skipif(not (BROWSER_DIR / "node_modules" / "jssip").is_dir(),
                    reason="JsSIP is not installed: run scripts/bootstrap --dev")
@pytest.mark.parametrize("transport", ["ws", "wss"])
async def test_jssip_in_chromium_registers_over_websocket_and_takes_a_queue_call_with_webrtc(
        tmp_path: Path, transport: str) -> None:
    ws_port = free_port()
    listen = f"    - {{transport: {transport}, address: 127.0.0.1, port: {ws_port}}}\n"
    if transport == "wss":  # no certificate of its own: the tls listener's (self-signed: the browser is told)
        cert, key = certificate(tmp_path)
        tls = f"{{transport: tls, address: 127.0.0.1, port: {free_port()}, cert: {cert}, key: {key}}}"
        listen = f"    - {tls}\n{listen}"
    plan = secure_plan(tmp_path, listen)
    microphone = write_tone_wav(tmp_path / "browser-mic.wav", AGENT_HZ, 30.0, rate=48000)
    async with served(plan) as server, static_files(BROWSER_DIR) as base:
        url = f"{base}/phone.html?ws={transport}://127.0.0.1:{ws_port}&user=1001&password=pw-1001&domain=127.0.0.1"
        phone = await asyncio.to_thread(BrowserPhone, url, microphone, trust_any_certificate=transport == "wss")
        try:
            await asyncio.to_thread(phone.wait_text, "status", lambda text: text == "registered")
            [binding] = server.endpoint.registrar.lookup("1001")
            assert binding.source.transport == transport and binding.contact.uri.host.endswith(".invalid")
            # Log in with the feature code, a call from the browser: voxcenter answers its WebRTC offer.
            await asyncio.to_thread(phone.run, "dial('sip:*45@127.0.0.1')")
            await asyncio.to_thread(phone.wait_text, "status", lambda text: text == "ended")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="1001 ready")
            async with calling(server, tmp_path, "300", name="caller", number="0100000001", hold=45.0) as caller:
                await asyncio.to_thread(phone.wait_text, "status", lambda text: text == "in call")
                caller.media.speak(CALLER_HZ, 30.0)
                heard = await asyncio.to_thread(
                    phone.wait_text, "heard", lambda text: text.isdigit() and abs(int(text) - CALLER_HZ) <= 15, 30.0)
                assert abs(int(heard) - CALLER_HZ) <= 15
                # Opus toward the browser (G.711 toward the caller): the browser says what it sends with.
                await asyncio.to_thread(phone.wait_text, "codec", lambda text: text == "audio/opus/48000")
                await wait_for(lambda: hears(caller.media.heard, AGENT_HZ), what="the caller hears the browser")
                # The browser's hold (a re-INVITE over the WebSocket, new WebRTC offer): the caller hears music
                # until it resumes, then the browser again.
                held_from = len(caller.media.heard)
                await asyncio.to_thread(phone.run, "current.hold()")
                await wait_for(lambda: sum(f in music for f in caller.media.heard[held_from:]) >= 25,
                               what="music on hold heard by the caller")
                await asyncio.to_thread(phone.run, "current.unhold()")
                resumed_from = len(caller.media.heard)
                await wait_for(lambda: len(caller.media.heard) - resumed_from >= 150, what="3 s after resuming")
                await asyncio.to_thread(phone.run, "hangup()")  # the agent hangs up: voxcenter ends the caller's leg
                assert (await caller.finished()).successful == 1
            await asyncio.to_thread(phone.wait_text, "status", lambda text: text == "ended")
            assert await asyncio.to_thread(phone.text, "calls") == "2"
            await wait_for(lambda: not server.calls, what="calls finished")
        finally:
            await asyncio.to_thread(phone.quit)
        await server.writer.flush(5.0)
    # The caller heard the browser's microphone (Opus in DTLS-SRTP, back to plain G.711) again after the hold.
    after = caller.media.heard[resumed_from + 25:]
    assert abs(spectrum(PCMU.decode(b"".join(after)), 8000).dominant - AGENT_HZ) <= 15
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0100000001")
    [(disposition, agent, held)] = query(db, "select disposition, agent, hold_seconds from calls where call_id=?",
                                         call_id)
    assert (disposition, agent) == ("answered", "1001") and held > 0
    [(recording,)] = query(db, "select path from recordings where call_id=?", call_id)
    left, right = wav_spectra(Path(str(recording)))
    assert abs(left.dominant - CALLER_HZ) <= 15 and abs(right.dominant - AGENT_HZ) <= 15, (left, right)
