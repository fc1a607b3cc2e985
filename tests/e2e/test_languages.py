"""Callers from Poland, Latvia, Romania and Croatia hear the menu and their queue position in their language.

Each caller is SIPp (signalling, from a +48 / +371 / +40 / +385 number through the carrier) with a test RTP
socket that keeps what voxcenter plays (``queue_peers.CallerMedia``). The dial plan picks the language by
the caller's number prefix. What the caller heard is decoded and searched, by normalized cross-correlation,
for the generated prompt audio: the menu, then the position announcement fragment by fragment, in order,
back to back; the same prompts of the other languages are not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import textwrap
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    PROMPTS,
    plan_sections,
    rtp_base_for_test,
    served,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import Caller, calling
from tests.interop.audio import Match, locate
from tests.interop.sipp import free_port
from voxcenter.ivr import sayer_for
from voxcenter.media.codecs import PCMU
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

LANGUAGES = ("en", "fr", "pl", "lv", "ro", "hr")
CALLERS = (("pl", "+48221234567"), ("lv", "+37129123456"), ("ro", "+40721234567"), ("hr", "+385911234567"))
"""(language, caller number), in the order they join the queue: positions 2, 3, 4 and 5."""
MUSIC_FRAMES = 50
"""The first second of the music on hold, heard after the announcement."""
HOLD = 60.0
"""Seconds a caller would stay on the line; the test hangs up once it has heard everything."""


def language_plan(tmp: Path) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent("""\
        numbers:
          '400': {node: main}
          '401': {node: wait}
        ivr:
          main:
            type: menu
            prompts: main-menu
            options: {1: wait}
            timeout: 20s
          wait: {type: queue, queue: sales}
        queues:
          sales:
            join_when: always
            leave_when: never
            announcements: {music_on_hold: moh, estimated_wait: false, position_every: 60s}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [sales]}
        """)
    text = plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test(), inactivity_timeout="60s")
    text = text.replace("  languages: [en]\n", textwrap.indent(textwrap.dedent(f"""\
        languages: [{", ".join(LANGUAGES)}]
        caller_languages: {{'+48': pl, '+371': lv, '+40': ro, '+385': hr}}
        """), "  "))
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


def waiting(server: Server) -> int:
    return len(server.acd.router.waiting("sales", server.acd.now()))


def prompt_audio(language: str, name: str) -> npt.NDArray[np.int16]:
    """The prompt as the caller receives it: its samples through G.711 μ-law."""
    return PCMU.decode(PCMU.encode(PROMPTS.load(language, name).samples))


def heard_audio(caller: Caller) -> npt.NDArray[np.int16]:
    return PCMU.decode(b"".join(caller.media.heard))


def in_order(heard: npt.NDArray[np.int16], language: str, names: list[str], after: int = 0) -> list[Match]:
    """Locate each prompt of ``names`` in ``heard`` after sample ``after``, in order; each must be an exact copy."""
    found: list[Match] = []
    for name in names:
        match = locate(heard[after:], prompt_audio(language, name))
        match = Match(match.offset + after, match.score, match.length)
        assert match.score > 0.95, (language, name, match, found)
        found.append(match)
        after = match.end
    return found


async def test_callers_hear_the_menu_and_their_position_in_their_own_language(tmp_path: Path) -> None:
    async with served(language_plan(tmp_path)) as server, contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            calling(server, tmp_path, "401", name="first", number="+33100000001", hold=HOLD))
        await wait_for(lambda: waiting(server) == 1, what="the first caller waiting")
        callers = [await stack.enter_async_context(
            calling(server, tmp_path, "400", name=language, number=number, hold=HOLD))
            for language, number in CALLERS]
        for position, ((language, _), caller) in enumerate(zip(CALLERS, callers, strict=True), start=2):
            menu = voiced_frames("main-menu", language)
            # The whole menu, to its last word: a key pressed earlier would cut it short (barge-in).
            await wait_for(lambda c=caller, m=menu: share_heard(c.media.heard, m) == 1.0, timeout=40.0,
                           what=f"the {language} menu heard")
            await caller.media.press("1")
            await wait_for(lambda p=position: waiting(server) == p, what=f"the {language} caller in the queue")
        for (language, _), caller in zip(CALLERS, callers, strict=True):
            then = voiced_frames("position-after", language) + voiced_frames("moh", language)[:MUSIC_FRAMES]
            await wait_for(lambda c=caller, f=then: share_heard(c.media.heard, f) == 1.0,
                           what=f"the {language} position, then music")
        await asyncio.sleep(0.5)
        assert first.media.heard
        for call in list(server.calls.values()):
            call.end("heard enough")
        for caller in (first, *callers):
            assert (await caller.finished()).successful == 1
    for position, ((language, _), caller) in enumerate(zip(CALLERS, callers, strict=True), start=2):
        heard = heard_audio(caller)
        [menu] = in_order(heard, language, ["main-menu"])
        announcement = sayer_for(language).position(position)
        assert announcement[0] == "position-before" and announcement[-1] == "position-after"
        fragments = in_order(heard, language, announcement, after=menu.end)
        # The announcement's fragments are played back to back, each a whole number of 20 ms frames.
        for before, after in itertools.pairwise(fragments):
            assert after.offset == before.end, (language, fragments)
        music = locate(heard, prompt_audio(language, "moh")[: MUSIC_FRAMES * 160])
        assert music.score > 0.95 and music.offset >= fragments[-1].end, (language, music, fragments)
        for other in LANGUAGES:
            if other != language:
                assert locate(heard, prompt_audio(other, "main-menu")).score < 0.5, (language, other)
                theirs = sayer_for(other).position(position)[0]  # "position-before", or English "caller-number"
                assert locate(heard, prompt_audio(other, theirs)).score < 0.8, (language, other)
