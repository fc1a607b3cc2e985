"""What a REFER asks for: the target of an agent's transfer, resolved against the dial plan.

An agent's phone transfers with REFER (RFC 3515): its ``Refer-To`` names the
target, and for an attended transfer carries a ``Replaces`` header (RFC 3891)
naming the agent's own consultation dialog with the target. The target's user
part is read, in this order, as another agent's extension, a dial-plan number
(its IVR node: a queue, a menu, the survey), a queue name, an IVR node name,
or an outside number that one of the dial plan's routes allows *this* agent
to dial. Anything else is refused: an agent's phone must not become a way to
reach a trunk that the agent could not dial directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import unquote

from voxcenter.config import Config
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request
from voxcenter.sip.uri import parse_name_addr


class TargetKind(enum.Enum):
    AGENT = "agent"
    """Another agent's phone."""
    NODE = "node"
    """An IVR node (a queue node puts the caller back in a queue)."""
    OUTSIDE = "outside"
    """An outside number through an outbound route."""


@dataclass(frozen=True, slots=True)
class ReferTo:
    """The ``Refer-To`` of a REFER, as far as a transfer needs it."""

    user: str
    """The target's user part (extension, number, queue or node name)."""
    replaces: str | None = None
    """The ``Replaces`` header value (RFC 3891 §6.1: ``call-id;to-tag=…;from-tag=…``): an attended transfer."""


@dataclass(frozen=True, slots=True)
class TransferTarget:
    kind: TargetKind
    target: str
    """The agent's extension, the IVR node's name, or the outside number."""
    route: str | None = None
    """The outbound route of an outside number."""


class TransferRefused(Exception):
    """The REFER cannot be carried out; ``status`` is the SIP answer to it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_refer_to(request: Request) -> ReferTo:
    """The REFER's target (RFC 3515 §2.1); TransferRefused(400) when it has none that we can read."""
    values = request.headers.get_all("Refer-To") or request.headers.get_all("r")
    if len(values) != 1:
        raise TransferRefused(400, "Exactly One Refer-To Required")
    try:
        address = parse_name_addr(values[0].strip())
    except RemoteProtocolError as error:
        raise TransferRefused(400, "Bad Refer-To") from error
    uri = address.uri
    if not uri.user:
        raise TransferRefused(400, "Refer-To Without User")
    replaces = next((value for name, value in uri.headers.items() if name.lower() == "replaces"), None)
    return ReferTo(unquote(uri.user), unquote(replaces) if replaces else None)


def resolve_target(config: Config, agent_id: str, user: str, allowed_route: str | None) -> TransferTarget:
    """Which party ``user`` names (see the module docstring); ``allowed_route`` is the route that lets
    ``agent_id`` dial ``user`` (from the dialer), or None."""
    if user in config.agents:
        if user == agent_id:
            raise TransferRefused(403, "Cannot Transfer To Yourself")
        return TransferTarget(TargetKind.AGENT, user)
    number = config.numbers.get(user)
    if number is not None:
        return TransferTarget(TargetKind.NODE, number.node)
    if user in config.queues:
        node = queue_node(config, user)
        if node is None:
            raise TransferRefused(404, "No IVR Node Serves That Queue")
        return TransferTarget(TargetKind.NODE, node)
    if user in config.ivr:
        return TransferTarget(TargetKind.NODE, user)
    if allowed_route is not None:
        return TransferTarget(TargetKind.OUTSIDE, user, allowed_route)
    raise TransferRefused(403 if config.routes else 404, "Transfer Target Not Allowed")


def queue_node(config: Config, queue: str) -> str | None:
    """The first IVR node that puts callers into ``queue`` (where a transfer to the queue starts)."""
    for name, node in config.ivr.items():
        if getattr(node, "type", None) == "queue" and getattr(node, "queue", None) == queue:
            return name
    return None
