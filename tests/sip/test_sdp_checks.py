"""SDP that cannot be right is refused (400 when it is not parseable, 488 otherwise), never answered 200."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.sip.test_sdp import PHONES, sdp
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.sdp import accept_answer, answer_offer, create_offer, parse_sdp
from voxcenter.sip.sdp_checks import MAX_FORMATS, check_description, valid_event_list


def offer_with(media_line: str = "m=audio 4000 RTP/AVP 0 101", *extra: str, connection: str = "192.0.2.5") -> str:
    return sdp("\n".join([
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", f"c=IN IP4 {connection}", "t=0 0", media_line,
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", *extra,
    ]))


def status_of(text: str) -> int:
    """What an INVITE with this offer gets: the status of the error, or 200 when it is answered."""
    try:
        answer_offer(parse_sdp(text), "10.0.0.1", 30000)
    except RemoteProtocolError as error:
        assert error.status_hint is not None
        return error.status_hint
    return 200


@pytest.mark.parametrize("text, status", [
    (offer_with("m=audio 4000 RTP/AVP " + " ".join(["0"] * 1000)), 488),  # 1000 formats on one m= line
    (offer_with("m=audio 4000 RTP/AVP " + " ".join(str(n) for n in range(100))), 488),  # too many, distinct
    (offer_with("m=audio 4000 RTP/AVP 0 8 0"), 488),  # a format twice
    (offer_with("m=audio 99999 RTP/AVP 0"), 400),  # no such port
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:101 garbage"), 488),
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:101 0-99999"), 488),
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:101 15-0"), 488),
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:101"), 400),  # no parameters
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:x1 0-15"), 400),  # not a payload type
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:200 0-15"), 400),
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=fmtp:101 0-15\x01"), 400),
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:0 PCMA/8000"), 488),  # PT 0 means two things
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:0"), 400),
    (offer_with("m=audio 4000 RTP/AVP 0", "a=ptime:0"), 400),
    (offer_with("m=audio 4000 RTP/AVP 0", "a=rtcp:70000"), 400),
    (offer_with("m=audio 4000 RTP/AVP 0", "a=rtcp:0"), 488),
    (offer_with(connection="224.0.0.1"), 488),  # multicast: we answer unicast RTP only
    (offer_with(connection="255.255.255.255"), 488),
    # What real phones send is fine: a repeated rtpmap with the same meaning, a codec's own fmtp, hold.
    (offer_with("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=fmtp:101 0-15,66,70-72"), 200),
    (offer_with(connection="0.0.0.0"), 200),
    (offer_with("m=audio 4000 RTP/AVP 0 18 101", "a=rtpmap:18 G729/8000", "a=fmtp:18 annexb=no"), 200),
    (offer_with("m=audio 4000 RTP/AVP 0", "m=video 0 RTP/AVP 96", "c=IN IP4 224.0.0.1"), 200),  # declined
])
def test_offers_that_cannot_be_right_are_refused(text: str, status: int) -> None:
    assert status_of(text) == status


@pytest.mark.parametrize("name", PHONES)
def test_real_phones_pass(name: str) -> None:
    check_description(parse_sdp(PHONES[name]))


def test_a_broken_answer_is_refused_too() -> None:
    offer = create_offer("10.0.0.1", 30000)
    answer = parse_sdp(offer_with("m=audio 4000 RTP/AVP 0 0"))
    with pytest.raises(RemoteProtocolError) as caught:
        accept_answer(offer, answer)
    assert caught.value.status_hint == 488


events = st.lists(st.integers(0, 255), min_size=1, max_size=10)


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=10))
def test_every_well_formed_event_list_is_accepted(ranges: list[tuple[int, int]]) -> None:
    text = ",".join(str(a) if a == b else f"{min(a, b)}-{max(a, b)}" for a, b in ranges)
    assert valid_event_list(text)
    assert status_of(offer_with("m=audio 4000 RTP/AVP 0 101", f"a=fmtp:101 {text}")) == 200


@given(st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=20))
def test_event_lists_are_accepted_only_when_well_formed(text: str) -> None:
    def well_formed(item: str) -> bool:
        low, dash, high = item.strip().partition("-")
        return low.isdigit() and int(low) <= 255 and (not dash or (high.isdigit() and int(low) <= int(high) <= 255))
    expected = all(well_formed(item) for item in text.replace(" ", "").split(",")) and len(text.split(",")) <= 64
    assert valid_event_list(text) == expected


@given(st.lists(st.integers(0, 127).map(str), min_size=1, max_size=200))
def test_format_lists_pass_only_without_duplicates_and_within_the_limit(formats: list[str]) -> None:
    status = status_of(offer_with("m=audio 4000 RTP/AVP " + " ".join(formats)))
    if len(formats) > MAX_FORMATS or len(set(formats)) != len(formats):
        assert status == 488
    else:
        assert status in (200, 488)  # 488 only for having no common codec
        assert status == 200 or not {"0", "8"} & set(formats)  # PCMU and PCMA are always accepted


@given(st.sampled_from(list(PHONES.values())), st.data())
def test_mangled_real_offers_are_answered_or_refused_with_400_or_488(text: str, data: st.DataObject) -> None:
    lines = text.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    junk = data.draw(st.text(st.characters(codec="ascii"), max_size=30))
    mangled = "\r\n".join([*lines[:index], lines[index] + junk, *lines[index + 1:]])
    assert status_of(mangled) in (200, 400, 488)
