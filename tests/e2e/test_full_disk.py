"""A full disk for recordings and for the journal: the call goes on, the recording stops and says why, the journal
refuses new records loudly and keeps the old ones whole, and nothing written before is lost.

Each directory is a small tmpfs mounted by the test (the real-peer suites run as root): 96 KiB for recordings
(3 s of stereo audio), 256 KiB for the journal, filled up with a file once the server has started. A SIPp
caller reaches a baresip agent and talks 8 s; the records of the call wait in memory while the journal is full,
and reach the database once the filler is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, served
from tests.e2e.whole_call_peers import baresip_agent, fetch, sipp_caller, write_plan
from tests.interop.audio import wav_spectra, write_tone_wav
from voxcenter.store.journal import Journal

pytestmark = [pytest.mark.interop, pytest.mark.fault, pytest.mark.timeout(120)]


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the disk is full; the file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


async def test_full_disks_stop_the_recording_and_hold_records_without_losing_any(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    plan, sip_port = write_plan(tmp_path, pg_url)
    registrar = f"127.0.0.1:{sip_port}"
    with (tmpfs(tmp_path / "recordings", "96k"), tmpfs(tmp_path / "journal", "256k") as journal,
          structlog.testing.capture_logs() as logs):
        async with served(plan, node="disk-test") as server, baresip_agent(tmp_path, "1001", registrar, voice):
            assert await server.writer.flush(10)  # the login is in the database
            written_before = server.writer.stats().written
            filler = fill(journal)
            result = await sipp_caller(tmp_path, registrar, digits="1", talk=8.0, hang_up_after=8.0)
            assert result.successful == 1, result.describe()  # the call went on to the caller's BYE
            # The records of the call's end are held in memory (its first ones fitted in the last page of the
            # journal's segment file before the disk filled).
            assert await fetch(pg_url, "select * from calls where disposition <> 'in_progress'") == []
            refused = [line for line in logs if line["event"] == "writer.journal_append_failed"]
            assert refused and "No space left on device" in refused[0]["error"], refused
            filler.unlink()
            assert await server.writer.flush(20)
            assert server.writer.stats().rejected == 0
            assert server.writer.stats().written > written_before
        [recording] = await fetch(pg_url, "select * from recordings")
        left, right = wav_spectra(Path(recording["path"]))  # what was written before the disk filled plays
        assert abs(left.dominant - CALLER_HZ) < 15 and abs(right.dominant - AGENT_HZ) < 15, (left, right)
        reopened = Journal(journal)  # the server is gone: its journal, reopened, has nothing torn or corrupt
        assert (reopened.recovery.torn_bytes, reopened.recovery.corrupt_segments) == (0, ())
        reopened.close()
    [stopped] = [line for line in logs if line["event"] == "recording.stopped"]
    assert stopped["reason"] == "No space left on device" and stopped["seconds_kept"] > 0.5, stopped
    [cdr] = await fetch(pg_url, "select * from calls")
    assert (cdr["disposition"], cdr["hangup_by"], cdr["agent"]) == ("answered", "caller", "1001"), dict(cdr)
    assert cdr["talk_seconds"] > 6.0, dict(cdr)  # the call outlived its recording
    events = [row["event"] for row in await fetch(pg_url, "select event from call_events order by at")]
    assert "CONNECT" in events and "COMPLETECALLER" in events, events
    assert recording["truncated"] and recording["call_id"] == cdr["call_id"], dict(recording)
    assert recording["duration_seconds"] == pytest.approx(stopped["seconds_kept"], abs=0.05), dict(recording)
    assert recording["duration_seconds"] < 3.0, dict(recording)


def test_a_full_disk_leaves_the_journals_old_records_whole(tmp_path: Path) -> None:
    """Appends that fail on a full tmpfs leave the segment ending on its last good record; reopened, the journal
    holds every record acknowledged before, nothing torn, and appends follow them once there is room."""
    with tmpfs(tmp_path / "journal", "64k") as directory:
        journal = Journal(directory, segment_bytes=1 << 20)
        acknowledged = [f"record {k}".encode() * 20 for k in range(50)]
        journal.append(acknowledged)
        filler = fill(directory)
        failures = 0
        for _ in range(5):
            with pytest.raises(OSError) as raised:
                journal.append([b"x" * 3000] * 10)
            failures += raised.value.errno == errno.ENOSPC
        assert failures == 5 and journal.last_seq == 50
        journal.close()
        reopened = Journal(directory, segment_bytes=1 << 20)
        assert (reopened.recovery.torn_bytes, reopened.recovery.corrupt_segments, reopened.last_seq) == (0, (), 50)
        assert [payload for _seq, payload in reopened.uncommitted()] == acknowledged
        filler.unlink()
        reopened.append([b"after"])
        assert [payload for _seq, payload in reopened.uncommitted()][-2:] == [acknowledged[-1], b"after"]
        reopened.close()
