"""The journal: framing, fsync'd batches, torn last record after a crash, rotation, checkpoint."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.store.journal import CHECKPOINT_NAME, Journal, JournalError


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.log"))


def test_append_and_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.append([b"one", b"two"]) == 2
    assert journal.append([b"three"]) == 3
    assert list(journal.uncommitted()) == [(1, b"one"), (2, b"two"), (3, b"three")]
    journal.close()
    reopened = Journal(tmp_path)
    assert reopened.recovery.torn_bytes == 0
    assert list(reopened.uncommitted()) == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert reopened.append([b"four"]) == 4
    reopened.close()


def test_torn_last_record_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([b"a" * 50, b"b" * 50])
    journal.close()
    segment = segments(tmp_path)[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # the crash cut the last record short
    reopened = Journal(tmp_path)
    assert reopened.recovery.torn_bytes == 16 + 50 - 7
    assert list(reopened.uncommitted()) == [(1, b"a" * 50)]
    assert reopened.append([b"c"]) == 2
    assert list(reopened.uncommitted()) == [(1, b"a" * 50), (2, b"c")]
    reopened.close()


def test_flipped_bit_in_last_record_fails_crc(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([b"good", b"last"])
    journal.close()
    segment = segments(tmp_path)[-1]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0x01
    segment.write_bytes(bytes(data))
    reopened = Journal(tmp_path)
    assert list(reopened.uncommitted()) == [(1, b"good")]
    reopened.close()


def test_rotation_and_commit_delete_old_segments(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1024)
    for i in range(10):
        journal.append([bytes([i]) * 300])
    # 316 bytes per record: a segment takes 4 records before passing 1024 bytes.
    assert [p.name[4:-4].lstrip("0") for p in segments(tmp_path)] == ["1", "5", "9"]
    journal.commit(7)
    assert (tmp_path / CHECKPOINT_NAME).read_text() == "7\n"
    assert [seq for seq, _ in journal.uncommitted()] == [8, 9, 10]
    assert [p.name[4:-4].lstrip("0") for p in segments(tmp_path)] == ["5", "9"]
    journal.commit(10)
    assert list(journal.uncommitted()) == []
    journal.close()
    reopened = Journal(tmp_path, segment_bytes=1024)
    assert (reopened.committed_seq, reopened.last_seq) == (10, 10)
    assert reopened.append([b"x"]) == 11
    reopened.close()


def test_commit_beyond_end_and_second_process_are_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([b"x"])
    with pytest.raises(ValueError, match="only reaches 1"):
        journal.commit(5)
    with pytest.raises(JournalError, match="in use"):
        Journal(tmp_path)
    journal.close()
    (tmp_path / CHECKPOINT_NAME).write_text("garbage")
    with pytest.raises(JournalError, match="checkpoint"):
        Journal(tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), min_size=1, max_size=6),
    cut=st.integers(min_value=0, max_value=400),
)
def test_any_crash_point_recovers_a_prefix(batches: list[list[bytes]], cut: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        journal = Journal(directory, segment_bytes=1024)
        written = [payload for batch in batches for payload in batch]
        for batch in batches:
            journal.append(batch)
        journal.close()
        segment = segments(directory)[-1]
        data = segment.read_bytes()
        segment.write_bytes(data[: max(0, len(data) - cut)])
        reopened = Journal(directory, segment_bytes=1024)
        recovered = [payload for _seq, payload in reopened.uncommitted()]
        assert recovered == written[: len(recovered)]
        assert [seq for seq, _ in reopened.uncommitted()] == list(range(1, len(recovered) + 1))
        next_seq = reopened.append([b"after"])
        assert next_seq == len(recovered) + 1
        reopened.close()
