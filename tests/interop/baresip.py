"""baresip as a headless softphone for the integration tests, driven over its ctrl_tcp socket.

``Baresip`` writes a config directory in a temporary directory (SIP, RTP and
control ports picked free on 127.0.0.1; the microphone is an 8 kHz mono WAV
played by ``aufile``; the loudspeaker is an ``aubridge`` device nobody reads,
which takes audio at the real 20 ms pace — ALSA's ``null`` PCM works too but
does not pace, and its player thread then spins a whole core per phone;
``sndfile`` records what the phone sends (``*-enc.wav``) and hears
(``*-dec.wav``) per call), starts ``baresip -f <dir>``, and talks to it with
:class:`BaresipControl`: netstring-framed JSON (``{"command", "params",
"token"}`` → ``{"response": true, "ok", "data", "token"}``, plus
``{"event": true, "type": ...}`` notifications). The process is always
stopped on exit, by its own pid.

Needs only the Debian package ``baresip-core`` (modules g711, aufile,
aubridge, sndfile, menu, ctrl_tcp, uuid, account).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.interop.sipp import free_port

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULE_PATH = Path("/usr/lib/baresip/modules")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # baresip colours its status text

CONFIG_TEMPLATE = """\
# generated for one test: everything on 127.0.0.1, nothing played on a sound card
poll_method		epoll
call_local_timeout	30
call_max_calls		4
sip_listen		127.0.0.1:{sip_port}
net_interface		127.0.0.1
audio_player		aubridge,speaker
audio_alert		aubridge,alert
audio_source		aufile,{microphone}
ausrc_srate		8000
auplay_srate		8000
ausrc_channels		1
auplay_channels		1
rtp_ports		{rtp_first}-{rtp_last}
rtp_timeout		0
jitter_buffer_delay	1-5
snd_path		{recordings}
module_path		{module_path}
module			g711.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
"""


class BaresipError(Exception):
    """baresip did not start, or did not do what it was asked (the message says what and shows its log)."""


@dataclass(frozen=True, slots=True)
class Account:
    """A SIP account line of baresip's ``accounts`` file."""

    user: str
    """User part of the address-of-record."""
    registrar: str
    """host:port of the registrar (the endpoint under test)."""
    password: str | None = None
    """Digest password; None for an account that neither registers nor authenticates."""
    register: bool = True
    """Send REGISTER (regint 300) or not (regint 0)."""
    answer: str = "auto"
    """``answermode``: "auto" answers every call at once, "manual" waits for ``accept``."""
    transport: str = "udp"
    """The transport to the registrar ("tls" needs ``Baresip(cafile=...)``)."""
    mediaenc: str | None = None
    """baresip's media encryption: "srtp-mand" offers and accepts only SDES-SRTP (module srtp)."""

    def line(self) -> str:
        params = [f"answermode={self.answer}", "audio_codecs=PCMU", "ptime=20",
                  f"regint={300 if self.register else 0}"]
        if self.password is not None:
            params[:0] = [f"auth_user={self.user}", f"auth_pass={self.password}"]
        if self.mediaenc is not None:
            params.append(f"mediaenc={self.mediaenc}")
        return f"<sip:{self.user}@{self.registrar};transport={self.transport}>;" + ";".join(params)


class BaresipControl:
    """Client of baresip's ctrl_tcp module: ``command(...)`` and ``wait_event(type, timeout)``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._token = 0
        self._responses: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        """Every event received and not yet taken by ``wait_event``, oldest first."""
        self.history: list[dict[str, Any]] = []
        """Every event received (for failure messages)."""
        self._event_arrived = asyncio.Event()
        self._closed: BaresipError | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(cls, port: int, timeout: float = 5.0) -> BaresipControl:
        """Connect to ctrl_tcp on 127.0.0.1:``port``, retrying while baresip starts up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                return cls(reader, writer)
            except OSError as exc:
                if loop.time() >= deadline:
                    raise BaresipError(f"ctrl_tcp on 127.0.0.1:{port} not reachable: {exc}") from exc
                await asyncio.sleep(0.05)

    async def command(self, line: str, timeout: float = 5.0) -> dict[str, Any]:
        """Run a long command ("dial sip:...", "sndcode 12#", "hangup", "reginfo" ...); its response message."""
        if self._closed is not None:
            raise self._closed
        self._token += 1
        token = str(self._token)
        name, _, params = line.partition(" ")
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._responses[token] = future
        self._writer.write(b"%d:%s," % (len(body), body))
        await self._writer.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise BaresipError(f"no response to {line!r} within {timeout} s") from None
        finally:
            self._responses.pop(token, None)

    async def wait_event(self, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first event of ``event_type`` not taken yet (events before it are discarded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == event_type:
                    del self.events[: index + 1]
                    return event
            if self._closed is not None:
                raise self._closed
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [e.get("type") for e in self.history]
                raise BaresipError(f"no {event_type} event within {timeout} s (events so far: {seen})")
            self._event_arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_arrived.wait(), remaining)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await self._read_netstring()
                if message.get("event"):
                    self.events.append(message)
                    self.history.append(message)
                    self._event_arrived.set()
                elif message.get("response"):
                    future = self._responses.get(str(message.get("token")))
                    if future is not None and not future.done():
                        future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            self._closed = BaresipError(f"ctrl_tcp connection lost: {exc!r}")
            self._event_arrived.set()
            for future in self._responses.values():
                if not future.done():
                    future.set_exception(self._closed)

    async def _read_netstring(self) -> dict[str, Any]:
        """One ``<length>:<json>,`` frame (netstring, as ctrl_tcp frames its messages)."""
        length = await self._reader.readuntil(b":")
        size = int(length[:-1])
        if not 0 < size < 1_000_000:
            raise ValueError(f"bad netstring length {size}")
        frame = await self._reader.readexactly(size + 1)
        if frame[-1:] != b",":
            raise ValueError("netstring not terminated by ','")
        message = json.loads(frame[:-1])
        if not isinstance(message, dict):
            raise ValueError("ctrl_tcp message is not a JSON object")
        return message


class Baresip:
    """One baresip process (``async with Baresip(...) as phone``); ``phone.ctrl`` drives it."""

    def __init__(self, workdir: Path, name: str, account: Account, microphone: Path, *,
                 lifetime: int = 60, cafile: Path | None = None) -> None:
        self.directory = workdir / f"baresip-{name}"
        self.recordings = self.directory / "recordings"
        self.account = account
        self.microphone = microphone
        self.lifetime = lifetime
        """Seconds after which baresip quits by itself (``-t``), should the test's clean-up never run."""
        self.cafile = cafile
        """The certificate a TLS registrar is trusted by; with it, the srtp module is loaded too."""
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        self.rtp_ports = _free_udp_range(20)
        self.process: asyncio.subprocess.Process | None = None
        self._ctrl: BaresipControl | None = None
        self.log_path = self.directory / "baresip.log"
        self._short: Path | None = None

    @property
    def ctrl(self) -> BaresipControl:
        if self._ctrl is None:
            raise BaresipError("baresip is not running")
        return self._ctrl

    def log(self) -> str:
        """baresip's output so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> Baresip:
        self.recordings.mkdir(parents=True, exist_ok=True)
        # sndfile cuts the names of its files at 127 characters (dropping the "-dec.wav" that tells them apart):
        # it is given a short link to the recordings directory, which is deep in the test's tmp_path.
        self._short = Path(tempfile.mkdtemp(prefix="baresip-"))
        (self._short / "r").symlink_to(self.recordings, target_is_directory=True)
        (self.directory / "config").write_text(CONFIG_TEMPLATE.format(
            sip_port=self.sip_port, ctrl_port=self.ctrl_port, microphone=self.microphone,
            rtp_first=self.rtp_ports[0], rtp_last=self.rtp_ports[1], recordings=self._short / "r",
            module_path=MODULE_PATH,
        ) + (f"sip_cafile\t\t{self.cafile}\nmodule\t\t\tsrtp.so\n" if self.cafile is not None else ""))
        (self.directory / "accounts").write_text(self.account.line() + "\n")
        (self.directory / "contacts").write_text("")
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.process = await asyncio.create_subprocess_exec(
                BARESIP, "-f", str(self.directory), "-t", str(self.lifetime), cwd=self.directory,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            os.close(log)  # the child has its own copy
        try:
            self._ctrl = await BaresipControl.connect(self.ctrl_port)
        except BaresipError as exc:
            await self._stop()
            raise BaresipError(f"{exc}\n--- baresip log ---\n{self.log()}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self._ctrl is not None:
            with contextlib.suppress(Exception):
                await self._ctrl.command("hangup", timeout=1.0)
            await self._ctrl.close()
            self._ctrl = None
        process = self.process
        if process is not None and process.returncode is None:
            # "quit" would wait for the un-REGISTER; the recordings of finished calls are already closed.
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 3.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._short is not None:
            with contextlib.suppress(OSError):
                (self._short / "r").unlink()
                self._short.rmdir()
            self._short = None

    # ------------------------------------------------------------------------------------------- actions

    async def registered(self, timeout: float = 10.0) -> None:
        """Wait until the registrar accepted our REGISTER (with digest).

        Polls ``reginfo``: the REGISTER_OK event may come before the control connection is up.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            response = await self.ctrl.command("reginfo")
            if " OK " in _ANSI_ESCAPE.sub("", f" {response.get('data', '')} "):
                return
            if loop.time() >= deadline:
                raise BaresipError(f"not registered after {timeout} s: {response.get('data')!r}\n{self.log()}")
            await asyncio.sleep(0.1)

    async def dial(self, uri: str, timeout: float = 10.0) -> None:
        """Call ``uri`` and wait until the call is established."""
        response = await self.ctrl.command(f"dial {uri}")
        if not response.get("ok", False):
            raise BaresipError(f"dial {uri} refused: {response}")
        await self.ctrl.wait_event("CALL_ESTABLISHED", timeout)

    async def send_digits(self, digits: str, *, gap: float = 0.4) -> None:
        """Press keys in the current call (RFC 4733 telephone-events), one at a time."""
        for digit in digits:
            response = await self.ctrl.command(f"sndcode {digit}")
            if not response.get("ok", False):
                raise BaresipError(f"sndcode {digit} refused: {response}")
            await asyncio.sleep(gap)

    async def hang_up(self, timeout: float = 10.0) -> None:
        """End the current call and wait until baresip reports it closed."""
        await self.ctrl.command("hangup")
        await self.ctrl.wait_event("CALL_CLOSED", timeout)

    def recording(self, kind: str) -> Path:
        """The newest sndfile recording: ``kind`` "dec" (what the phone heard) or "enc" (what it sent)."""
        files = sorted(self.recordings.glob(f"*-{kind}.wav"), key=lambda p: p.stat().st_mtime)
        if not files:
            raise BaresipError(f"no *-{kind}.wav in {self.recordings}\n--- baresip log ---\n{self.log()}")
        return files[-1]


def _free_udp_range(size: int) -> tuple[int, int]:
    """First and last port of ``size`` consecutive UDP ports free on 127.0.0.1 now (baresip picks RTP there)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1]) & ~1
        if first + size > 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(first, first + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return first, first + size - 1
    raise BaresipError(f"no {size} consecutive free UDP ports on 127.0.0.1")
