"""Record ids: ULIDs that sort in the order they were made, also within one millisecond."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voxcenter.store.records import new_id

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def millis_of(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + _CROCKFORD.index(char)
    return value >> 80


def test_ids_made_in_one_millisecond_keep_their_order() -> None:
    ids = [new_id(1_700_000_000.123) for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {millis_of(i) for i in ids} == {1_700_000_000_123}


@given(st.lists(st.floats(min_value=1.0e9, max_value=4.0e9), min_size=1, max_size=50))
def test_an_id_carries_its_millisecond_and_later_times_sort_later(times: list[float]) -> None:
    ids = [(t, new_id(t)) for t in sorted(times)]
    assert [millis_of(i) for _, i in ids] == [int(t * 1000) for t, _ in ids]
    assert [i for _, i in ids] == sorted(i for _, i in ids)


def test_ids_are_26_crockford_characters() -> None:
    ulid = new_id()
    assert len(ulid) == 26 and set(ulid) <= set(_CROCKFORD)
