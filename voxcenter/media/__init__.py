"""voxcenter.media: RTP/RTCP legs, symmetric RTP, port pool, drift-free player and bridge.

The small public API the call layer uses; the implementation modules are named
for their one job. Names are imported on first use (PEP 562), so importing one
module of the package (``voxcenter.media.codecs``) does not load all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxcenter.media.bridge import Bridge, Tap
    from voxcenter.media.player import MediaClock, Player, PlayOutcome
    from voxcenter.media.ports import PortLease, PortPool, PortPoolExhaustedError
    from voxcenter.media.rtcp import LegStats
    from voxcenter.media.rtp import MalformedPacketError, OutboundStream, RtpPacket, parse_rtp
    from voxcenter.media.session import MediaTimedOut, RtpSession

_EXPORTS = {
    "Bridge": "bridge",
    "Tap": "bridge",
    "MediaClock": "player",
    "PlayOutcome": "player",
    "Player": "player",
    "PortLease": "ports",
    "PortPool": "ports",
    "PortPoolExhaustedError": "ports",
    "LegStats": "rtcp",
    "MalformedPacketError": "rtp",
    "OutboundStream": "rtp",
    "RtpPacket": "rtp",
    "parse_rtp": "rtp",
    "MediaTimedOut": "session",
    "RtpSession": "session",
}

__all__ = [
    "Bridge",
    "LegStats",
    "MalformedPacketError",
    "MediaClock",
    "MediaTimedOut",
    "OutboundStream",
    "PlayOutcome",
    "Player",
    "PortLease",
    "PortPool",
    "PortPoolExhaustedError",
    "RtpPacket",
    "RtpSession",
    "Tap",
    "parse_rtp",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'voxcenter.media' has no attribute {name!r}")
    return getattr(importlib.import_module(f"voxcenter.media.{module}"), name)
