"""An agent's own voicemail (``*98``): hear the messages left in the mailbox named like the agent, by DTMF.

The count comes first ("two"), then each message, oldest first, after a beep. Keys, as in Asterisk's
VoiceMailMain: **5** repeat, **6** next, **7** delete (then the next one), **#** hang up. Without a key
within :data:`KEY_WAIT` seconds after a message, the next one plays. Two low beeps say the mailbox is
empty (or that its last message was heard); then voxcenter says goodbye and hangs up.

A deleted message is written again with ``deleted_at`` (the row stays, for the record) and its audio file
is removed. Messages are read from the database: one left seconds ago may still be in the journal.
"""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import structlog
from sqlalchemy import select

from voxcenter.media.dtmf import DtmfReceived
from voxcenter.runtime.calllog import RecordSink
from voxcenter.runtime.legmedia import LegMedia, tone_frames
from voxcenter.sip.session import SipSession
from voxcenter.store.db import make_engine
from voxcenter.store.livestate import record_of
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import VoicemailRecord

logger = structlog.get_logger(__name__)

KEY_WAIT = 5.0
"""Seconds to wait for a key after a message before the next one plays."""
REPEAT, NEXT, DELETE, QUIT = "5", "6", "7", "#"
FRAME = 160
"""Samples per 20 ms frame at 8 kHz."""


async def mailbox_messages(url: str, mailbox: str) -> list[VoicemailRecord]:
    """The messages of ``mailbox`` not deleted, oldest first."""
    table = TABLE_OF_KIND["voicemail"]
    engine = make_engine(url, statement_timeout=5.0, connect_timeout=5.0)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(table).where(table.c.mailbox == mailbox, table.c.deleted_at.is_(None)).order_by(table.c.at))
            return [record_of(VoicemailRecord, row) for row in rows]
    finally:
        await engine.dispose()


def _frames(path: Path, leg: LegMedia) -> list[bytes]:
    with wave.open(str(path), "rb") as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    codec = leg.session.codec
    padded = np.concatenate([samples, np.zeros(-len(samples) % FRAME, dtype=np.int16)])
    return [codec.encode(padded[i:i + FRAME]) for i in range(0, len(padded), FRAME)]


class Mailbox:
    """Reads mailboxes from the database and writes deletions through the durable writer."""

    def __init__(self, database_url: str, sink: RecordSink, language: str = "en") -> None:
        self.database_url = database_url
        self.sink = sink
        self.language = language

    async def listen(self, leg: LegMedia, session: SipSession, mailbox: str) -> None:
        """The whole ``*98`` call: count, messages and keys, goodbye (see the module docstring)."""
        loop = asyncio.get_running_loop()
        keys: asyncio.Queue[str] = asyncio.Queue()

        def pressed(event: DtmfReceived) -> None:
            keys.put_nowait(event.digit)

        leg.on_digit = pressed
        try:
            messages = await mailbox_messages(self.database_url, mailbox)
        except Exception as error:  # the database is away: say so the only way we can, and hang up
            logger.error("mailbox.unavailable", mailbox=mailbox, error=repr(error))
            messages = []
        logger.info("mailbox.opened", mailbox=mailbox, messages=len(messages))
        codec = leg.session.codec
        if messages and len(messages) <= 20:
            await leg.play_to_end([f"num-{len(messages)}"], self.language)
        index = 0
        while index < len(messages) and not session.is_ended:
            message = messages[index]
            try:
                frames = await loop.run_in_executor(None, _frames, Path(message.path), leg)
            except (OSError, wave.Error, EOFError) as error:
                logger.warning("mailbox.unreadable", path=message.path, error=str(error))
                index += 1
                continue
            await leg.play_frames([tone_frames(codec, 1000.0, 0.3), frames]).wait()
            key = await self._key(keys, session)
            if key == QUIT:
                return
            if key == REPEAT:
                continue
            if key == DELETE:
                self._delete(message)
                await leg.play_frames([tone_frames(codec, 600.0, 0.15)]).wait()
            index += 1
        if not session.is_ended:
            await leg.play_frames([tone_frames(codec, 400.0, 0.2), tone_frames(codec, 0.0, 0.1),
                                   tone_frames(codec, 400.0, 0.2)]).wait()
            await leg.play_to_end(["goodbye"], self.language)

    async def _key(self, keys: asyncio.Queue[str], session: SipSession) -> str | None:
        getter: asyncio.Future[str] = asyncio.ensure_future(keys.get())
        waiting: list[asyncio.Future[object]] = [getter, session.ended]  # type: ignore[list-item]
        await asyncio.wait(waiting, timeout=KEY_WAIT, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        return QUIT if session.is_ended else None

    def _delete(self, message: VoicemailRecord) -> None:
        self.sink.submit(replace(message, version=message.version + 1, deleted_at=time.time()))
        try:
            Path(message.path).unlink()
        except OSError as error:
            logger.warning("mailbox.delete_file_failed", path=message.path, error=str(error))
        logger.info("mailbox.deleted", mailbox=message.mailbox, voicemail_id=message.voicemail_id)
