"""What cannot be right in an SDP offer or answer: refused before anything is negotiated (house rule 5).

:func:`~voxcenter.sip.sdp.parse_sdp` accepts what follows the grammar; a body can
follow it and still make no sense, and answering such an offer with 200 would
open media for nonsense (or for a reflection attack). :func:`check_description`
refuses:

- with 400 (not parseable): an ``a=fmtp`` or ``a=rtpmap`` that is not ``<format> <value>``,
  control characters in one, a malformed ``a=ptime``, ``a=maxptime`` or ``a=rtcp``;
- with 488 (Not Acceptable Here): more than :data:`MAX_FORMATS` formats on one ``m=`` line,
  a format listed twice, two ``rtpmap`` lines giving one payload type different meanings,
  a telephone-event ``fmtp`` that is not a list of events 0..255 (RFC 4733 §7.1.1), an RTCP
  port beyond 65535 or 0, and a multicast or broadcast address for a stream that is not
  declined (voxcenter answers unicast RTP only).

A port beyond 65535 and payload types beyond 127 are already syntax errors of the ``m=`` line.
"""

from __future__ import annotations

import ipaddress

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.sdp import (
    RTP_FORMATS,
    TELEPHONE_EVENT,
    MediaDescription,
    RtpMap,
    SessionDescription,
    parse_rtpmap,
)

MAX_FORMATS = 64
"""Formats allowed on one m= line: twice what the richest real phones offer, half the RTP payload type space."""
MAX_EVENT = 255
"""The highest RFC 4733 event code."""


def _bad(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"SDP: {reason}", status_hint=400)


def _not_acceptable(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"SDP: {reason}", status_hint=488)


def check_description(description: SessionDescription) -> None:
    """Raise RemoteProtocolError (400 or 488, see the module docstring) for a description that cannot be right."""
    for number, media in enumerate(description.media, start=1):
        where = f"m= line {number}"
        if len(media.formats) > MAX_FORMATS:
            raise _not_acceptable(f"{where} lists {len(media.formats)} formats (at most {MAX_FORMATS})")
        if len(set(media.formats)) != len(media.formats):
            twice = next(f for f in media.formats if media.formats.count(f) > 1)
            raise _not_acceptable(f"{where} lists format {twice} twice")
        _check_attributes(media, where)
        if media.port == 0:
            continue  # a declined stream: nothing of it is used
        connection = description.connection_for(media)
        if connection is not None:
            _check_unicast(connection.host, where)


def _check_attributes(media: MediaDescription, where: str) -> None:
    rtp = media.proto in RTP_FORMATS
    meanings: dict[int, RtpMap] = {}
    for attribute in media.attributes:
        if attribute.name not in ("rtpmap", "fmtp"):
            continue
        value = attribute.value or ""
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise _bad(f"{where}: control character in a={attribute.name}")
        fmt, _, params = value.strip().partition(" ")
        if not fmt or not params.strip() or (rtp and not (fmt.isdigit() and int(fmt) <= 127)):
            raise _bad(f"{where}: malformed a={attribute.name}: {value[:40]!r}")
        if attribute.name == "rtpmap" and rtp:
            rtpmap = parse_rtpmap(value)
            known = meanings.setdefault(rtpmap.payload_type, rtpmap)
            if known != rtpmap:
                raise _not_acceptable(f"{where}: payload type {rtpmap.payload_type} is given two meanings")
    if not rtp:
        return
    media.ptime  # noqa: B018 -- each raises RemoteProtocolError(400) when malformed
    media.maxptime  # noqa: B018
    rtcp = media.rtcp
    if rtcp is not None and rtcp[0] == 0:
        raise _not_acceptable(f"{where}: a=rtcp port 0")
    for payload_type, rtpmap in media.rtpmaps().items():
        if rtpmap.encoding.lower() == TELEPHONE_EVENT:
            events = media.fmtp(payload_type)
            if events is not None and not valid_event_list(events):
                raise _not_acceptable(f"{where}: telephone-event fmtp is not a list of events 0-255: {events[:40]!r}")


def valid_event_list(text: str) -> bool:
    """Whether ``text`` is an RFC 4733 §7.1.1 event list: ``0-15``, ``0-15,66,70-72`` (codes 0..255, low ≤ high)."""
    items = text.replace(" ", "").split(",")
    if not items or len(items) > 64:
        return False
    for item in items:
        low, dash, high = item.partition("-")
        if not low.isdigit() or len(low) > 3 or (dash and (not high.isdigit() or len(high) > 3)):
            return False
        if int(low) > MAX_EVENT or (dash and not int(low) <= int(high) <= MAX_EVENT):
            return False
    return True


def _check_unicast(host: str, where: str) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a host name (RFC 8866 §5.7): resolved, or refused, where media is set up
    if address.is_multicast or (isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
            "255.255.255.255")):
        raise _not_acceptable(f"{where}: {host} is not a unicast address")
