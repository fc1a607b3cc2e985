"""THE queue order: one function used by dispatch, announcements, wait estimates and callbacks alike.

Priority ages: each priority level is worth ``PRIORITY_STEP`` (60 s) of waiting, never more. A caller's
*aged start* is its virtual start moved ``priority × 60 s`` earlier, and callers are served by the longest
weighted wait since their aged start. Order, best first:

1. weighted aged wait: ``weight × (now − (virtual_start − priority × PRIORITY_STEP))``, longest first. The
   virtual start is the time the caller first entered voxcenter's queues; a callback request and an overflow
   keep it, so neither loses its place. Longest-wait queues treat every caller as priority 0. Within one
   queue the weight is the same for everyone, so this is first-come-first-served on the aged start,
   independent of ``now``: a priority-2 caller goes ahead of priority-0 callers who have waited up to 2 min
   longer, not of those who have waited more. Across queues an agent serving several of them is offered the
   caller with the longest weighted aged wait;
2. aged start, virtual start, then arrival sequence: ties are broken the same way at every ``now``.

So priority orders callers, but it cannot starve anyone: a caller who has waited ``PRIORITY_STEP × Δ`` longer
than one of a priority higher by Δ (in the same queue, or in another queue of the same weight sharing the
agents) is served first. An overloaded queue of priority callers holds the callers of a queue it shares agents
with for at most ``PRIORITY_STEP × Δ`` beyond its own callers' waits.
"""

from __future__ import annotations

from typing import Protocol

from voxcenter.acd.model import Discipline

OrderKey = tuple[float, float, float, int]

PRIORITY_STEP = 60.0
"""Seconds of waiting that one priority level is worth."""


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


def aged_start(entry: Orderable, discipline: Discipline) -> float:
    """The virtual start moved earlier by the caller's priority (``PRIORITY_STEP`` seconds a level)."""
    priority = 0 if discipline is Discipline.LONGEST_WAIT else entry.priority
    return entry.virtual_start - priority * PRIORITY_STEP


def order_key(entry: Orderable, discipline: Discipline, weight: float, now: float) -> OrderKey:
    """Sort key of ``entry`` at ``now``: smaller keys are served first."""
    aged = aged_start(entry, discipline)
    return (-weight * (now - aged), aged, entry.virtual_start, entry.seq)
