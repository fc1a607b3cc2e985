"""A caller sent on to the router node (``cluster.shared_queues``): what travels with the call, and the routing
choice each node makes.

With one ACD router for every node, a caller who reaches a queue node on a node that is not the router is
sent on to the router node by a SIP call of its own, authenticated by digest as :data:`CLUSTER_USER` with
``cluster.secret``. The entry node keeps the caller's leg and bridges it to that call (media passes through
it); the router node takes the caller into the queue at the time the caller entered it on the first node,
so callers are served in one order whatever node they came in on. The call's records move with it: the entry
node writes its CDR last at the moment it sends the caller on (:meth:`CallLog.hand_over`), and the router node
goes on writing the same CDR (same ``call_id``, higher versions) and the same timeline.

The entry travels in one header, ``X-Voxcenter-Entry``: ``name=value`` pairs separated by ``;``, each value
percent-encoded. :func:`entry_header` and :func:`parse_entry` are its two directions; a malformed header is a
``ValueError`` (answered 400).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from urllib.parse import quote, unquote

from voxcenter.store.records import CallRecord

CLUSTER_USER = "voxcenter-cluster"
"""The digest user the nodes call each other as (its password: ``cluster.secret``)."""

ENTRY_HEADER = "X-Voxcenter-Entry"


@dataclass(frozen=True, slots=True)
class ForwardedEntry:
    """A caller on their way to the router node's queue, with the CDR as the entry node left it."""

    call_id: str
    version: int
    """The CDR's last version written by the entry node (the router node writes the next ones)."""
    node: str
    """The IVR queue node the caller reached (the router node's IVR goes on from it: queue exits and after)."""
    queue: str
    entered_at: float
    """Wall-clock time the caller entered the queue on the entry node (their place in line)."""
    arrived_at: float
    answered_at: float | None
    from_number: str
    to_number: str
    trunk: str
    sip_call_id: str
    language: str
    priority: int = 0
    required: dict[str, int] = field(default_factory=dict)
    preferred: dict[str, int] = field(default_factory=dict)


_INTS = {"version", "priority"}
_FLOATS = {"entered_at", "arrived_at", "answered_at"}
_SKILLS = {"required", "preferred"}


def _skills_text(skills: dict[str, int]) -> str:
    return ",".join(f"{name}:{level}" for name, level in sorted(skills.items()))


def _skills_of(text: str) -> dict[str, int]:
    skills: dict[str, int] = {}
    for item in filter(None, text.split(",")):
        name, _, level = item.rpartition(":")
        if not name:
            raise ValueError(f"skill {item!r} is not name:level")
        skills[name] = int(level)
    return skills


def entry_header(entry: ForwardedEntry) -> tuple[str, str]:
    """The header that carries ``entry``."""
    parts = []
    for item in fields(entry):
        value = getattr(entry, item.name)
        if value is None:
            continue
        text = _skills_text(value) if item.name in _SKILLS else repr(value) if item.name in _FLOATS else str(value)
        parts.append(f"{item.name}={quote(text, safe='')}")
    return ENTRY_HEADER, ";".join(parts)


def parse_entry(value: str) -> ForwardedEntry:
    """The entry an ``X-Voxcenter-Entry`` header carries; ValueError when it is malformed."""
    given: dict[str, object] = {}
    for part in value.strip().split(";"):
        name, equals, text = part.strip().partition("=")
        if not equals:
            raise ValueError(f"entry item {part!r} has no value")
        text = unquote(text)
        if name in _INTS:
            given[name] = int(text)
        elif name in _FLOATS:
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(f"entry time {name}={text!r} is not a number")
            given[name] = number
        elif name in _SKILLS:
            given[name] = _skills_of(text)
        else:
            given[name] = text
    known = {item.name for item in fields(ForwardedEntry)}
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"entry has unknown items {sorted(unknown)}")
    given.setdefault("answered_at", None)
    try:
        return ForwardedEntry(**given)  # type: ignore[arg-type]
    except TypeError as error:
        raise ValueError(f"entry is incomplete: {error}") from None


class RouterLink:
    """Where this node's callers are routed: here, or on the router node (as the last heartbeat saw the lease)."""

    def __init__(self, secret: str, routes_here: Callable[[], bool | None], address: Callable[[], str | None],
                 holder: Callable[[], str | None], latest_call: Callable[[str], Awaitable[CallRecord | None]],
                 alive: Callable[[str], bool]) -> None:
        self.secret = secret
        self._routes_here = routes_here
        self._address = address
        self.holder = holder
        """The router node's name."""
        self.latest_call = latest_call
        """The newest version of a call's CDR in the database (None: no such call)."""
        self.alive = alive
        """Whether a node still beats its heartbeat (a router node that stops goes on with its calls)."""

    def routes_here(self) -> bool | None:
        """True: this node is the router; False: another node is (see :meth:`address`); None: an election is
        under way (no live lease)."""
        return self._routes_here()

    def address(self) -> str | None:
        """The router node's SIP ``host:port``."""
        return self._address()
