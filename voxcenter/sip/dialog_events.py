"""What the dialog layer reports to its TU (RFC 3261 §12-§15), pulled with ``DialogLayer.next_event``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxcenter.sip.message import Request, Response
from voxcenter.sip.transaction_events import Destination

if TYPE_CHECKING:
    from voxcenter.sip.dialog_state import Dialog
    from voxcenter.sip.transaction import ServerTransaction


@dataclass(frozen=True, slots=True)
class DialogCreated:
    """A dialog came into being, early (1xx with a To tag) or confirmed (2xx)."""

    dialog: Dialog
    """The new dialog."""


@dataclass(frozen=True, slots=True)
class DialogConfirmed:
    """An early dialog got its 2xx (§12.1, §13.2.2.4)."""

    dialog: Dialog
    """The dialog, now CONFIRMED."""


@dataclass(frozen=True, slots=True)
class DialogTerminated:
    """The dialog is over and forgotten."""

    dialog: Dialog
    """The dialog, now TERMINATED."""
    reason: str
    """Why: "BYE sent", "BYE received", "408", "481", "non-2xx final response", ..."""


@dataclass(frozen=True, slots=True)
class InDialogRequest:
    """A request within a known dialog; the TU answers on ``transaction`` (through DialogLayer.send_response)."""

    dialog: Dialog
    """The dialog it belongs to."""
    transaction: ServerTransaction
    """The server transaction to answer on."""
    request: Request
    """The request."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class DialogAckReceived:
    """The ACK of our 2xx arrived (§13.3.1.4); it may carry the SDP answer."""

    dialog: Dialog
    """The dialog."""
    request: Request
    """The ACK."""


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """Our 2xx went unacknowledged for 64·T1 (§13.3.1.4): the TU should send a BYE."""

    dialog: Dialog
    """The dialog (confirmed, but the session should end)."""
    response: Response
    """The 2xx that was never acknowledged."""


@dataclass(frozen=True, slots=True)
class RequestRejected:
    """The dialog layer answered a request itself (481, 491, 500) and the TU never saw it."""

    request: Request
    """The request."""
    status: int
    """The status sent."""
    reason: str
    """Why."""


DialogEvent = (
    DialogCreated | DialogConfirmed | DialogTerminated | InDialogRequest | DialogAckReceived | AckTimedOut
    | RequestRejected
)
