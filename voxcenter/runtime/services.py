"""The narrow services the runtime's parts are handed: media for new legs, and where records go.

The server builds them once at start (and refreshes them on reload); a call,
the ACD shell or a transfer receives only the ones it uses and never the
server itself, so dependencies run one way: SIP → call → IVR/queue → bridge →
records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from voxcenter.config import Config
from voxcenter.media.player import MediaClock
from voxcenter.media.ports import PortPool
from voxcenter.media.prompts import PromptLibrary
from voxcenter.runtime.call import Call, Leg
from voxcenter.runtime.calllog import CallLog, RecordSink
from voxcenter.runtime.legmedia import LegMedia, media_security
from voxcenter.sip.session import SipSession


class MediaService:
    """Opens the media of new legs: RTP ports from the pool, prompts, the shared 20 ms clock."""

    def __init__(self, ports: PortPool, prompts: PromptLibrary, clock: MediaClock, config: Config) -> None:
        self.ports = ports
        self.prompts = prompts
        self.clock = clock
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Addresses and the inactivity timeout of the (reloaded) dial plan, for legs opened from now on."""
        self.host = str(config.rtp.address)
        external = config.rtp.external_address
        self.advertised: str | None = str(external) if external else None
        self.inactivity_timeout: float | None = config.rtp.inactivity_timeout

    async def answer(self, offer: bytes, *, watch_silence: bool = True,
                     transport: str = "udp", open_sockets: bool = True) -> tuple[LegMedia, bytes]:
        """A leg answering an inbound offer that came over ``transport``, and our SDP answer
        (``MediaSetupError`` when unacceptable); SRTP is taken as the transport allows (``media_security``).
        ``open_sockets=False`` binds nothing until ``leg.session.start()``."""
        return await LegMedia.answer(offer, self.ports, self.host, self.prompts, self.clock,
                                     inactivity_timeout=self.inactivity_timeout if watch_silence else None,
                                     advertised_host=self.advertised, secure=media_security(transport),
                                     open_sockets=open_sockets)

    async def offer(self, transport: str = "udp") -> tuple[LegMedia, bytes]:
        """A leg for an outbound INVITE over ``transport``, and our SDP offer (apply the answer with
        ``LegMedia.accept``): SRTP only toward a phone on TLS or WebSocket (``media_security``)."""
        return await LegMedia.offer(self.ports, self.host, self.prompts, self.clock,
                                    inactivity_timeout=self.inactivity_timeout, advertised_host=self.advertised,
                                    secure=media_security(transport))


@dataclass(eq=False)
class Conversation:
    """An agent's own call while its parties talk (to another agent, to an outside number, a callback's
    customer): what supervisor monitoring needs of it, as of an inbound call."""

    call_id: str
    call: Call
    log: CallLog
    queue: str | None
    """A callback's queue; None for an agent's internal or outside call."""
    session: SipSession
    """The far party's SIP side (the called agent, the outside number, the customer)."""


@dataclass(frozen=True, slots=True)
class Records:
    """Where a call's CDR, timeline and other records go, and the node name they carry."""

    sink: RecordSink
    node: str
    talking: dict[str, Conversation] = field(default_factory=dict)
    """Agents' own calls in progress by call id, where supervisor monitoring finds them (:meth:`conversation`)."""

    @contextmanager
    def conversation(self, conversation: Conversation) -> Iterator[None]:
        """``conversation`` may be monitored while the block runs."""
        self.talking[conversation.call_id] = conversation
        try:
            yield
        finally:
            self.talking.pop(conversation.call_id, None)

    def call_log(self, *, call_id: str, direction: str, from_number: str, to_number: str, trunk: str,
                 sip_call_id: str) -> CallLog:
        return CallLog(self.sink, node=self.node, call_id=call_id, direction=direction, from_number=from_number,
                       to_number=to_number, trunk=trunk, sip_call_id=sip_call_id)


class Consultation(Protocol):
    """A call an agent's phone placed that an attended transfer may take the far party of."""

    def matches(self, local_tag: str | None, remote_tag: str | None) -> bool:
        """The dialog's tags are these (either way round: RFC 3891 tags are the recipient's view)."""

    def hand_over(self) -> Leg | None:
        """Give up the answered far leg (the call ends without hanging it up); None when there is none."""


@dataclass
class Consultations:
    """Agents' own calls by SIP Call-ID, where a REFER with ``Replaces`` (RFC 3891) finds its consultation."""

    calls: dict[str, Consultation] = field(default_factory=dict)

    def find(self, replaces: str) -> Consultation | None:
        """The consultation a ``Replaces`` value names (``call-id;to-tag=…;from-tag=…``), or None."""
        call_id, *params = replaces.split(";")
        tags = dict(param.strip().partition("=")[::2] for param in params)
        call = self.calls.get(call_id.strip())
        if call is None or not call.matches(tags.get("to-tag"), tags.get("from-tag")):
            return None
        return call
