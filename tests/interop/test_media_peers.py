"""Media against real peers: a SIPp caller replaying a pcap, and baresip softphones.

The digits a peer sends are the digits voxcenter reports; the prompt voxcenter
plays is what the peer hears (checked by FFT of baresip's own recording); a
bridged call's stereo recording has the caller on the left and the agent on
the right, and each phone hears the other.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.interop.apps import PASSWORDS
from tests.interop.audio import dtmf_tones, spectrum, tone, wav_spectra, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.media_app import running_media_app
from tests.interop.pcap import caller_stream, read_pcap_udp, write_pcap
from tests.interop.sipp import free_port, run_sipp
from voxcenter.media.codecs import PCMU
from voxcenter.media.dtmf import Rfc4733Receiver
from voxcenter.media.player import PlayOutcome
from voxcenter.media.prompts import PromptLibrary
from voxcenter.media.rtp import parse_rtp

pytestmark = pytest.mark.interop

CALLER_HZ = 440.0
AGENT_HZ = 660.0
PROMPT_HZ = 1000.0
BARESIP_DIGEST = ("MD5",)
"""baresip 1.0.0 (libre) gives up on a 401 that also offers SHA-256 ("Function not implemented"): offer MD5 only."""


@pytest.fixture
def prompts(tmp_path: Path) -> PromptLibrary:
    """A prompt library holding ``en/tone``: 1.5 s of a 1 kHz tone."""
    (tmp_path / "prompts" / "en").mkdir(parents=True)
    write_tone_wav(tmp_path / "prompts" / "en" / "tone.wav", PROMPT_HZ, 1.5)
    return PromptLibrary(tmp_path / "prompts")


def near(frequency: float, expected: float, tolerance: float = 15.0) -> bool:
    return abs(frequency - expected) <= tolerance


async def test_sipp_pcap_caller_digits_are_reported(tmp_path: Path, prompts: PromptLibrary) -> None:
    # The caller speaks (440 Hz) and presses 1, 2, # while the IVR plays a 5 s prompt: the first digit stops it.
    write_tone_wav(tmp_path / "prompts" / "en" / "long.wav", PROMPT_HZ, 5.0)
    stream = caller_stream(tone(CALLER_HZ, 3.0), "12#", first_digit_at=1.0)
    assert stream.duration < 3.5  # the scenario's pause covers the replay
    write_pcap(tmp_path / "caller_dtmf.pcap", stream.datagrams)
    async with running_media_app(tmp_path, prompts, prompt=("en", "long")) as app:
        address = app.endpoint.address("udp")
        result = await run_sipp(
            "uac_pcap_dtmf.xml", f"{address.host}:{address.port}", tmp_path, service="ivr",
            extra=["-mi", "127.0.0.1", "-mp", str(free_port())], timeout=20,
        )
        assert result.successful == 1 and result.failed == 0, result.describe()
        report = await asyncio.wait_for(app.reports.get(), 5)
    assert report.error is None
    assert report.digits == "12#", report
    assert report.digit_sources == ["rfc4733"] * 3
    # The first digit ends at 1.16 s and stops the prompt (~60 frames); without barge-in it would run until the
    # BYE at 3.5 s (~175 frames).
    assert report.prompt_outcome is PlayOutcome.INTERRUPTED and report.frames_played > 0, report
    assert report.frames_played + report.frames_dropped < 150, report
    assert report.ended is not None and report.ended.by_remote


async def test_sipp_inband_and_info_digits_are_reported(tmp_path: Path, prompts: PromptLibrary) -> None:
    # No telephone-event in the offer: keys 7 and 8 arrive as tones in the audio, then 5 and # as SIP INFO.
    stream = caller_stream(dtmf_tones("78", first_at=0.3), "")
    assert stream.duration < 1.8  # the scenario pauses 2 s before its first INFO
    write_pcap(tmp_path / "caller_inband.pcap", stream.datagrams)
    async with running_media_app(tmp_path, prompts) as app:
        address = app.endpoint.address("udp")
        result = await run_sipp(
            "uac_inband_info_dtmf.xml", f"{address.host}:{address.port}", tmp_path, service="digits",
            extra=["-mi", "127.0.0.1", "-mp", str(free_port())], timeout=20,
        )
        assert result.successful == 1 and result.failed == 0, result.describe()
        report = await asyncio.wait_for(app.reports.get(), 5)
    assert report.error is None
    assert report.digits == "785#", report
    assert report.digit_sources == ["inband", "inband", "info", "info"]


async def test_baresip_caller_digits_are_reported(tmp_path: Path, prompts: PromptLibrary) -> None:
    microphone = write_tone_wav(tmp_path / "caller.wav", CALLER_HZ, 10.0)
    # Loopback is not trusted here: baresip's INVITE is challenged and answered with digest as agent 1001.
    async with running_media_app(tmp_path, prompts, trusted=(), auth_algorithms=BARESIP_DIGEST) as app:
        address = app.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        account = Account("1001", registrar, PASSWORDS["1001"])
        async with Baresip(tmp_path, "caller", account, microphone) as phone:
            await phone.registered()
            await phone.dial(f"sip:digits@{registrar}")
            await asyncio.sleep(0.5)
            await phone.send_digits("4711#")
            for expected in "4711#":
                _, digit = await asyncio.wait_for(app.digits.get(), 5)
                assert digit.digit == expected, phone.log()
            await phone.hang_up()
        report = await asyncio.wait_for(app.reports.get(), 5)
    assert report.error is None
    assert report.digits == "4711#"
    assert set(report.digit_sources) == {"rfc4733"}
    assert report.ended is not None and report.ended.by_remote


async def test_prompt_played_to_baresip_is_what_it_hears(tmp_path: Path, prompts: PromptLibrary) -> None:
    microphone = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 10.0)
    async with running_media_app(tmp_path, prompts, auth_algorithms=BARESIP_DIGEST) as app:
        address = app.endpoint.address("udp")
        account = Account("1001", f"{address.host}:{address.port}", PASSWORDS["1001"])
        async with Baresip(tmp_path, "agent", account, microphone) as phone:
            await phone.registered()
            report = await asyncio.wait_for(app.play_to("1001"), 15)
            await phone.ctrl.wait_event("CALL_CLOSED", 10)
            heard = phone.recording("dec")
    assert report.error is None
    assert report.prompt_outcome is PlayOutcome.FINISHED
    assert report.frames_played > 0 and report.frames_played + report.frames_dropped == 75  # 1.5 s of 20 ms
    [channel] = wav_spectra(heard)
    assert near(channel.dominant, PROMPT_HZ), (channel, phone.log())
    assert channel.peak_share > 0.7, channel  # the tone, not noise or the phone's own 660 Hz


async def test_bridged_call_is_recorded_caller_left_agent_right(tmp_path: Path, prompts: PromptLibrary) -> None:
    caller_voice = write_tone_wav(tmp_path / "caller.wav", CALLER_HZ, 20.0)
    agent_voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 20.0)
    async with running_media_app(tmp_path, prompts, auth_algorithms=BARESIP_DIGEST) as app:
        address = app.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with (
            Baresip(tmp_path, "agent", Account("1002", registrar, PASSWORDS["1002"]), agent_voice) as agent,
            Baresip(tmp_path, "caller", Account("caller", registrar, register=False), caller_voice) as caller,
        ):
            await agent.registered()
            await caller.dial(f"sip:agent-1002@{registrar}")
            await agent.ctrl.wait_event("CALL_ESTABLISHED", 10)
            await asyncio.sleep(3.0)  # talk
            await caller.hang_up()
            report = await asyncio.wait_for(app.reports.get(), 10)
            await agent.ctrl.wait_event("CALL_CLOSED", 10)
            caller_heard = caller.recording("dec")
            agent_heard = agent.recording("dec")
    assert report.error is None, report
    assert report.recording is not None
    assert min(report.relayed) > 50, report.relayed  # ~150 each way in 3 s
    left, right = wav_spectra(report.recording.path)
    assert near(left.dominant, CALLER_HZ) and left.peak_share > 0.7, left
    assert near(right.dominant, AGENT_HZ) and right.peak_share > 0.7, right
    [caller_channel] = wav_spectra(caller_heard)
    [agent_channel] = wav_spectra(agent_heard)
    assert near(caller_channel.dominant, AGENT_HZ), caller_channel
    assert near(agent_channel.dominant, CALLER_HZ), agent_channel


@settings(max_examples=30, deadline=None)
@given(digits=st.text(alphabet="0123456789*#ABCD", min_size=1, max_size=6), gap=st.floats(0.06, 0.5))
def test_caller_pcap_carries_the_audio_and_the_digits(digits: str, gap: float) -> None:
    """The pcap SIPp replays, read back from the file: one RTP stream, the tone, each press reported once."""
    stream = caller_stream(tone(CALLER_HZ, 1.0), digits, first_digit_at=0.4, gap=gap)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "caller.pcap"
        assert write_pcap(path, stream.datagrams) == len(stream.datagrams)
        replay = read_pcap_udp(path)
    assert [round(t, 6) for t, _ in replay] == [round(t, 6) for t, _ in stream.datagrams]
    parsed = [parse_rtp(data) for _, data in replay]
    packets = [p for p in parsed if p is not None]
    assert len(packets) == len(parsed) and len({p.ssrc for p in packets}) == 1
    sequences = [p.sequence for p in packets]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    receiver = Rfc4733Receiver()
    heard: list[str] = []
    audio: list[bytes] = []
    for when, packet in zip((t for t, _ in replay), packets, strict=True):
        if packet.payload_type == 101:
            heard += [event.digit for event in receiver.feed(packet.timestamp, packet.marker, packet.payload, when)]
        else:
            assert packet.payload_type == PCMU.payload_type
            audio.append(packet.payload)
    assert "".join(heard) == digits
    assert near(spectrum(PCMU.decode(b"".join(audio)), 8000).dominant, CALLER_HZ)
