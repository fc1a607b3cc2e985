"""What a waiting caller is told, and when to stay silent.

Rules (tested in ``tests/acd``):

- the caller who is next (position 1) hears nothing: an agent is about to be offered;
- a position never goes backwards: if a higher-priority caller overtook, say nothing until the
  position is back at or below the last one told;
- nothing is said when it would sound the same as last time (same position, same "more than",
  same estimate in started minutes);
- positions above the queue's limit are said as "more than N";
- an estimate higher than the last one told is capped at it, unless staffing fell meanwhile,
  in which case the higher figure is said with its reason (``estimate.announceable_ewt``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from voxcenter.acd.estimate import announceable_ewt

Spoken = tuple[int, bool, int | None]
"""(position said, "more than", estimate in started minutes): what the caller actually hears."""


@dataclass(frozen=True, slots=True)
class Said:
    """An announcement to make."""

    position: int
    """Position to say (the limit when ``more_than``)."""
    more_than: bool
    """Say "more than ``position``"."""
    ewt: float | None
    """Estimate to say, seconds; None to say nothing about time."""
    ewt_reason: str | None
    """Why the estimate is higher than last time, when it is."""


def spoken(position: int, ewt: float | None, limit: int) -> Spoken:
    """What the caller hears for this position and estimate."""
    more_than = position > limit
    minutes = None if ewt is None else math.ceil(ewt / 60.0)
    return (limit if more_than else position, more_than, minutes)


class AnnouncementMemory:
    """What one caller was last told in its current queue."""

    __slots__ = ("ewt", "position", "said", "staffed")

    def __init__(self, position: int, ewt: float | None, staffed: int, limit: int) -> None:
        self.position = position
        self.ewt = ewt
        self.staffed = staffed
        self.said = spoken(position, ewt, limit)

    def next(self, position: int, fresh_ewt: float | None, staffed: int, limit: int) -> Said | None:
        """The announcement due now, or None for silence; remembers what is said."""
        if position == 1 or position > self.position:
            return None
        capped = announceable_ewt(fresh_ewt, self.ewt, staffed, self.staffed)
        heard = spoken(position, capped.ewt, limit)
        if heard == self.said:
            return None
        self.position, self.ewt, self.staffed, self.said = position, capped.ewt, staffed, heard
        return Said(heard[0], heard[1], capped.ewt, capped.reason)
