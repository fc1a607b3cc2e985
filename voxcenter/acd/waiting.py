"""The router's record of one waiting caller or callback request, and its read-only view."""

from __future__ import annotations

from dataclasses import dataclass

from voxcenter.acd.announce import AnnouncementMemory
from voxcenter.acd.model import CallRequest, SkillRequirement


class Entry:
    """A caller (or a callback request keeping the caller's place) waiting in a queue."""

    __slots__ = (
        "announce_at",
        "backup_at",
        "backup_groups",
        "callback",
        "callback_agent",
        "callback_attempts",
        "first_ewt",
        "hops",
        "joined_at",
        "language_until",
        "not_before",
        "number",
        "offer_at",
        "queue",
        "relax_at",
        "relax_index",
        "request",
        "ringing",
        "seq",
        "timeout_at",
        "told",
        "tried",
        "virtual_start",
    )

    def __init__(self, request: CallRequest, seq: int, virtual_start: float) -> None:
        self.request = request
        self.queue = request.queue
        self.seq = seq
        self.virtual_start = virtual_start
        self.joined_at = virtual_start
        self.callback = False
        self.number = request.caller
        self.callback_agent: str | None = None
        self.callback_attempts = 0
        self.ringing: dict[str, tuple[float, float]] = {}
        self.tried: set[str] = set()
        self.backup_groups: frozenset[str] = frozenset()
        self.backup_at: float | None = None
        """When the queue's backup group is opened to this entry."""
        self.hops = 0
        self.not_before: float | None = None
        self.timeout_at: float | None = None
        self.announce_at: float | None = None
        self.offer_at: float | None = None
        self.relax_at: float | None = None
        self.relax_index = 0
        self.language_until: float | None = None
        """Until when only agents who speak the caller's language are offered it (inf: for good); None: any agent."""
        self.first_ewt: float | None = None
        self.told: AnnouncementMemory | None = None

    @property
    def call_id(self) -> str:
        """The call (or callback request) id."""
        return self.request.call_id

    @property
    def priority(self) -> int:
        """Caller priority, higher first."""
        return self.request.priority

    def dispatchable(self, now: float) -> bool:
        """Whether an agent may be offered this entry now."""
        if self.ringing or self.callback_agent is not None:
            return False
        return self.not_before is None or self.not_before <= now


@dataclass(frozen=True, slots=True)
class WaitingView:
    """Read-only view of a waiting entry (wallboard, tests)."""

    call_id: str
    """The call."""
    queue: str
    """Its queue."""
    position: int
    """1-based position."""
    priority: int
    """Caller priority."""
    virtual_start: float
    """First queue entry time, kept across callbacks and overflows."""
    joined_at: float
    """Entry time into this queue."""
    callback: bool
    """A callback request rather than a caller on the line."""
    ringing: frozenset[str]
    """Agents being rung for it."""
    tried: frozenset[str]
    """Agents already tried for it in the current round."""
    requirements: tuple[SkillRequirement, ...]
    """Skill requirements after the relaxation steps due so far."""
    backup_groups: frozenset[str]
    """Backup agent groups opened to it by overflow."""
    dispatchable: bool
    """Whether an agent could be offered it now."""
    ewt: float | None
    """The router's wait estimate for it now, seconds (``estimate.py``); None when nobody can take it."""
