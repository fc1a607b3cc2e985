"""Recordings encrypted at rest (``recording.key_file``), with a real SIPp caller: the finished file on disk is
sealed (AES-256-GCM, no WAV left in plain), and the API serves the decrypted WAV, whole or by range, with the
caller's tone in it. A recording a crash cut short is repaired at the next start, linked in ``recordings`` and
sealed too."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from tests.e2e.harness import CALLER_HZ, dial_plan, query, rtp_base_for_test, served, wait_for
from tests.e2e.whole_call_peers import fetch, sipp_caller, write_plan
from tests.interop.audio import tone, wav_spectra
from tests.interop.sipp import free_port
from voxcenter.media.sealed import is_sealed, unseal
from voxcenter.media.wav import pcm_header

pytestmark = pytest.mark.interop

IVR = """\
  sealed-hello:
    type: play
    prompts: callback-offer
    barge_in: false
    next: sealed-bye
  sealed-bye:
    type: hangup
    prompts: goodbye
"""


async def test_a_recording_is_sealed_on_disk_and_served_decrypted(tmp_path: Path, pg_url: str) -> None:
    key_file = tmp_path / "recording.key"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    api_port = free_port()
    path, sip_port = write_plan(tmp_path, pg_url, api_port=api_port)
    text = path.read_text()
    assert "recording:\n  enabled: true\n" in text
    text = text.replace("recording:\n  enabled: true\n", f"recording:\n  enabled: true\n  key_file: {key_file}\n")
    text = text.replace("numbers:\n", "numbers:\n  '105': {node: sealed-hello, record: everything}\n", 1)
    path.write_text(text.replace("ivr:\n", "ivr:\n" + IVR, 1))
    async with served(path, node="whole-call") as server:
        result = await sipp_caller(tmp_path, f"127.0.0.1:{sip_port}", number="105", talk=10.0, timeout=30.0)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
        [recording] = await fetch(pg_url, "select * from recordings")
        sealed = Path(recording["path"])
        assert sealed.name.endswith(".wav.enc") and is_sealed(sealed.read_bytes())
        assert b"RIFF" not in sealed.read_bytes() and not list(sealed.parent.glob("*.wav"))
        headers = {"Authorization": "Bearer test-token"}
        async with aiohttp.ClientSession(headers=headers, base_url=f"http://127.0.0.1:{api_port}") as session:
            async with session.get(f"/api/recordings/{recording['recording_id']}") as response:
                assert response.status == 200 and response.content_type == "audio/wav"
                audio = await response.read()
            async with session.get(f"/api/recordings/{recording['recording_id']}",
                                   headers={"Range": "bytes=0-11"}) as part:
                assert part.status == 206 and await part.read() == audio[:12]
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE" and len(audio) == recording["size_bytes"]
    plain = tmp_path / "served.wav"
    plain.write_bytes(audio)
    left, _ = wav_spectra(plain)
    assert abs(left.dominant - CALLER_HZ) < 15, left


async def test_a_recording_a_crash_cut_short_is_repaired_linked_and_sealed_at_start(tmp_path: Path) -> None:
    key_file = tmp_path / "recording.key"
    key_file.write_text(os.urandom(32).hex())
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text()
    plan.write_text(text.replace("recording:\n  enabled: true\n", f"recording:\n  enabled: true\n"
                                 f"  key_file: {key_file}\n"))
    left = tone(CALLER_HZ, 2.0)
    frames = np.column_stack([left, np.zeros_like(left)]).astype("<i2").tobytes()
    partial = tmp_path / "recordings" / "2026" / "12" / "03" / "CRASHEDCALL.wav.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(pcm_header(0, channels=2, sample_rate=8000) + frames + b"\x01")  # sizes never written
    async with served(plan) as server:
        await server.writer.flush(10.0)
    [(recording_id, path, truncated, duration)] = query(
        tmp_path / "voxcenter.db", "select recording_id, path, truncated, duration_seconds from recordings "
                                   "where call_id = 'CRASHEDCALL'")
    sealed = Path(path)
    assert truncated and abs(duration - 2.0) < 0.01 and sealed.name == "CRASHEDCALL.wav.enc", (path, duration)
    assert not partial.exists() and not sealed.with_name("CRASHEDCALL.wav").exists()
    audio = unseal(sealed.read_bytes(), bytes.fromhex(key_file.read_text()))
    plain = tmp_path / "repaired.wav"
    plain.write_bytes(audio)
    repaired, _ = wav_spectra(plain)
    assert abs(repaired.dominant - CALLER_HZ) < 15, repaired
    assert recording_id
