"""Feature codes an agent dials from the softphone: what each does, and the answer to codes that are not.

``*45`` log in, ``*46`` log out, ``*47`` pause (again: resume), ``*47`` and a digit of
``feature_codes.pause_reasons`` pause for that reason, ``*48`` end wrap-up: a short tone confirms, then
voxcenter hangs up. ``*43`` echo test: what the phone sends comes straight back, until it hangs up (or
:data:`ECHO_LIMIT`). ``*98`` the agent's own voicemail (:mod:`voxcenter.runtime.mailbox`). ``*51``,
``*52``, ``*53`` and an agent's extension: a supervisor listens, whispers or barges
(:mod:`voxcenter.runtime.supervise`).

A code that makes no sense now (pause while logged out) gets ``403 Not Allowed Now``; a ``*`` code that is
not one of the dial plan's gets ``404 Unknown Feature Code``. The codes are the dial plan's
(``feature_codes``): an operator may move them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from voxcenter.config.queues import FeatureCodes
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError, tone_frames
from voxcenter.runtime.mailbox import Mailbox
from voxcenter.runtime.monitoring import MonitorMode, parse_monitor_code
from voxcenter.runtime.services import MediaService
from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.session import SipSession

if TYPE_CHECKING:
    from voxcenter.runtime.acd import AcdService
    from voxcenter.runtime.supervise import Supervision

logger = structlog.get_logger(__name__)

ECHO_LIMIT = 120.0
"""Seconds an echo test lasts at most (a phone left off hook does not hold a port for ever)."""

ACD_CODES = ("login", "logout", "pause", "wrap_up_end")
"""Feature codes the router carries out, by their dial-plan key."""


@dataclass(frozen=True, slots=True)
class FeatureCode:
    """What a dialed string means as a feature code."""

    name: str
    """The dial-plan key (``login``, ``pause``, ``echo_test``, ``voicemail``...), or ``unknown``."""
    reason: str | None = None
    """For ``pause`` followed by a digit: the named reason."""


def classify(codes: FeatureCodes, dialed: str) -> FeatureCode | None:
    """The feature code ``dialed`` is, ``unknown`` for a ``*`` code the plan lacks, None for an ordinary number."""
    for name in (*ACD_CODES, "echo_test", "voicemail"):
        if getattr(codes, name) == dialed:
            return FeatureCode(name)
    if dialed.startswith(codes.pause) and len(dialed) == len(codes.pause) + 1:
        reason = codes.pause_reasons.get(dialed[-1])
        if reason is not None:
            return FeatureCode("pause", reason)
    if dialed.startswith("*"):
        return FeatureCode("unknown")
    return None


def monitor_codes(codes: FeatureCodes) -> dict[MonitorMode, str | None]:
    """The dial plan's monitoring codes by mode (each is followed by the agent's extension)."""
    return {MonitorMode.LISTEN: codes.listen, MonitorMode.WHISPER: codes.whisper, MonitorMode.BARGE: codes.barge}


class FeatureCodeService:
    """Answers agents' feature codes with the services they need (the ACD, media for the leg, the mailbox)."""

    def __init__(self, media: MediaService, acd: AcdService, mailbox: Mailbox,
                 supervision: Supervision | None = None) -> None:
        self.media = media
        self.acd = acd
        self.mailbox = mailbox
        self.supervision = supervision

    async def handle(self, codes: FeatureCodes, session: SipSession, agent_id: str, dialed: str) -> bool:
        """Handle ``dialed`` from ``agent_id``'s phone if it is a feature code (True), else leave it (False)."""
        monitor = parse_monitor_code(monitor_codes(codes), dialed)
        if monitor is not None and self.supervision is not None:
            await self.supervision.from_phone(session, agent_id, *monitor)
            return True
        code = classify(codes, dialed)
        if code is None:
            return False
        if code.name == "unknown":
            logger.info("acd.feature_code_unknown", agent=agent_id, code=dialed)
            session.reject(404, "Unknown Feature Code")
            return True
        if code.name in ACD_CODES:
            try:
                handled = self.acd.feature_code(agent_id, code.name, code.reason)
            except LocalProtocolError as error:  # an illegal transition (RouterError too): say no, plainly
                logger.info("acd.feature_code_refused", agent=agent_id, code=dialed, reason=str(error))
                handled = False
            if not handled:
                session.reject(403, "Not Allowed Now")
                return True
        leg = await self._answer(session)
        if leg is None:
            return True
        try:
            if code.name == "echo_test":
                await _echo(leg, session)
            elif code.name == "voicemail":
                await self.mailbox.listen(leg, session, agent_id)
            else:
                await leg.play_frames([tone_frames(leg.session.codec, 880.0, 0.3)]).wait()
        finally:
            await session.hangup("feature code done")
            leg.close()
        return True

    async def _answer(self, session: SipSession) -> LegMedia | None:
        if session.remote_sdp is None:
            session.reject(488, "Not Acceptable Here")
            return None
        try:
            leg, answer = await self.media.answer(session.remote_sdp, watch_silence=False,
                                                  transport=session.remote.transport)
        except MediaSetupError as error:
            session.reject(error.status, error.reason[:80])
            return None
        session.answer(answer)
        await session.confirmed.wait()
        return leg


async def _echo(leg: LegMedia, session: SipSession) -> None:
    """Send every audio frame the phone sends straight back, until it hangs up."""
    def echo(payload: bytes) -> None:
        leg.session.send_payload(payload)

    leg.on_audio = echo
    await asyncio.wait([session.ended], timeout=ECHO_LIMIT)
    leg.on_audio = None


@dataclass(frozen=True, slots=True)
class KeyedCode:
    """A code an agent keyed during a call: its name, and for the conference code the number before ``#``."""

    name: str
    """``pause_recording``, ``resume_recording`` or ``conference``."""
    number: str = ""
    """The party to add (``conference``)."""


class InCallKeys:
    """The codes an agent keys during a call, one key at a time (pure: no clock, no I/O).

    ``codes`` maps a name to its digits (None: not in the dial plan); one is matched as soon as its last key
    comes. The ``conference`` code is followed by a number and ``#``. A key that leads nowhere is dropped,
    unless it starts a code itself.
    """

    def __init__(self, codes: dict[str, str | None], conference: str | None) -> None:
        self.codes = {name: code for name, code in codes.items() if code}
        self.conference = conference
        self._keys = ""

    def feed(self, digit: str) -> KeyedCode | None:
        """Take one key; the code it completes, if any."""
        keys = self._keys + digit
        self._keys = ""
        for name, code in self.codes.items():
            if keys == code:
                return KeyedCode(name)
        conference = self.conference
        if conference is not None and keys.startswith(conference) and len(keys) > len(conference):
            if digit != "#":
                self._keys = keys
                return None
            if len(keys) > len(conference) + 1:
                return KeyedCode("conference", keys[len(conference):-1])
            return None
        starts = [*self.codes.values(), *([conference] if conference else [])]
        if any(code.startswith(keys) for code in starts):
            self._keys = keys
        elif keys != digit and any(code.startswith(digit) for code in starts):
            self._keys = digit  # a new code begins
        return None
