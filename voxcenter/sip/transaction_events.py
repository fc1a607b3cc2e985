"""What the transaction layer reports to its TU (RFC 3261 §17), pulled with ``TransactionLayer.next_event``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxcenter.sip.message import Request, Response, make_response

if TYPE_CHECKING:
    from voxcenter.sip.transaction import ClientTransaction, ServerTransaction, Transaction

Destination = Hashable
"""An opaque, hashable address chosen by the endpoint (``("udp", host, port)``, a connection id, ...)."""


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created a server transaction; the TU must answer it with ``send_response``."""

    transaction: ServerTransaction
    """The server transaction to answer on."""
    request: Request
    """The request as received."""
    source: Destination
    """Where it came from (responses go back there)."""


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for a client transaction (every 2xx of an INVITE too, retransmissions included: RFC 6026)."""

    transaction: ClientTransaction
    """The client transaction it belongs to."""
    response: Response
    """The response as received."""


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that matches no INVITE server transaction: the ACK of a 2xx (§13.3.1.4, RFC 6026 §8.7)."""

    request: Request
    """The ACK."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL matched an INVITE still in PROCEEDING (§9.2); the obligation is :meth:`responses`."""

    transaction: ServerTransaction
    """The server transaction of the CANCEL itself."""
    request: Request
    """The CANCEL."""
    invite_transaction: ServerTransaction
    """The INVITE server transaction being cancelled."""
    to_tag: str
    """The To tag the UAS uses for this INVITE (from its last provisional response, or fresh)."""

    def responses(self) -> tuple[Response, Response]:
        """The 200 for the CANCEL and the 487 for the INVITE, to send in that order (§9.2)."""
        return self.ok(), make_response(self.invite_transaction.request, 487, to_tag=self.to_tag)

    def ok(self) -> Response:
        """The 200 for the CANCEL alone (the INVITE was answered before the CANCEL was handled)."""
        return make_response(self.request, 200, to_tag=self.to_tag)


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """Timer B, F or H fired: no final response (client) or no ACK (INVITE server) in time."""

    transaction: Transaction
    """The transaction that gave up."""


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The endpoint reported that sending to this transaction's destination failed (§17.1.4, §17.2.4)."""

    transaction: Transaction
    """The transaction that was using the failed destination."""


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """A transaction reached TERMINATED and was forgotten; the TU may drop what it keyed on it."""

    transaction: Transaction
    """The transaction."""


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response matching no client transaction (§18.1.2); RFC 6026 §7.2 says discard it."""

    response: Response
    """The response."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A message too broken to process; a request got a stateless error response when one could be formed."""

    message: Request | Response
    """The message."""
    source: Destination
    """Where it came from."""
    reason: str
    """What was wrong, for the log."""
    status: int | None
    """The status sent back, or None when the message was dropped silently."""


TransactionEvent = (
    RequestReceived | ResponseReceived | AckReceived | CancelReceived | TransactionTimedOut | TransportFailed
    | TransactionTerminated | StrayResponse | MessageRejected
)
