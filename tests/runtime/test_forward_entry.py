"""The entry a caller carries to the router node: the header round-trips, bad headers are refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.runtime.forward import ENTRY_HEADER, ForwardedEntry, entry_header, parse_entry

texts = st.text(min_size=0, max_size=30)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
skills = st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda s: "," not in s), st.integers(1, 5),
                         max_size=3)


@given(st.builds(ForwardedEntry, call_id=st.text(min_size=1, max_size=26), version=st.integers(1, 10**6),
                 node=texts, queue=texts, entered_at=times, arrived_at=times,
                 answered_at=st.one_of(st.none(), times), from_number=texts, to_number=texts, trunk=texts,
                 sip_call_id=texts, language=texts, priority=st.integers(-10, 10), required=skills,
                 preferred=skills))
def test_an_entry_survives_its_header(entry: ForwardedEntry) -> None:
    name, value = entry_header(entry)
    assert name == ENTRY_HEADER and "\r" not in value and "\n" not in value
    assert parse_entry(value) == entry


@pytest.mark.parametrize("value", ["", "call_id", "call_id=x", "call_id=x;version=one",
                                   "call_id=x;version=1;node=n;queue=q;entered_at=nan;arrived_at=1;"
                                   "from_number=;to_number=;trunk=;sip_call_id=;language=",
                                   "call_id=x;version=1;bogus=1"])
def test_a_malformed_entry_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(value)


@given(st.text(max_size=200))
def test_any_header_text_is_parsed_or_refused(value: str) -> None:
    with contextlib.suppress(ValueError):
        parse_entry(value)
