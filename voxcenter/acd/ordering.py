"""THE queue order: one function used by dispatch, announcements and callbacks alike.

Order, best first:

1. priority: a **higher number is served first** (longest-wait queues treat every caller as 0);
2. weighted wait: ``weight × (now − virtual_start)``, longest first. The virtual start is the
   time the caller first entered voxcenter's queues; a callback request and an overflow keep it,
   so neither loses its place. Within one queue the weight is the same for everyone and this is
   plain first-come-first-served on the virtual start, independent of ``now``; across queues an
   agent serving several of them is offered the caller with the longest weighted wait;
3. virtual start, then arrival sequence: ties are broken the same way at every ``now``.
"""

from __future__ import annotations

from typing import Protocol

from voxcenter.acd.model import Discipline

OrderKey = tuple[int, float, float, int]


class Orderable(Protocol):
    """What the order function needs to know of a waiting entry."""

    @property
    def priority(self) -> int:
        """Caller priority, higher first."""
        ...

    @property
    def virtual_start(self) -> float:
        """When the caller first queued (kept across callbacks and overflows)."""
        ...

    @property
    def seq(self) -> int:
        """Arrival sequence number, unique."""
        ...


def order_key(entry: Orderable, discipline: Discipline, weight: float, now: float) -> OrderKey:
    """Sort key of ``entry`` at ``now``: smaller keys are served first."""
    priority = 0 if discipline is Discipline.LONGEST_WAIT else entry.priority
    return (-priority, -weight * (now - entry.virtual_start), entry.virtual_start, entry.seq)
