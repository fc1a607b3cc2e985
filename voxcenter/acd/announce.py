"""What a waiting caller is told, and when to stay silent.

Rules (tested in ``tests/acd``):

- the caller who is next (position 1) hears nothing: an agent is about to be offered;
- a caller not told anything on joining (the queue's first announcement comes later) hears the
  first announcement whatever it says;
- a position never goes backwards: if a higher-priority caller overtook, say nothing until the
  position is back at or below the last one told;
- nothing is said when it would sound the same as last time (same position, same "more than",
  same estimate in started minutes, or no estimate to say);
- positions above the queue's limit are said as "more than N";
- the estimate is worked out afresh each time; one higher than what is left of the last one told
  (that figure less the time since) is said only with its reason (staffing fell, or the caller
  already waited longer than told), otherwise nothing is said about time
  (``estimate.announceable_ewt``).
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

    __slots__ = ("ewt", "position", "said", "staffed", "told_at")

    def __init__(self, position: int, ewt: float | None, staffed: int, limit: int, now: float,
                 told: bool = True) -> None:
        self.position = position
        self.ewt = ewt
        self.told_at = now
        self.staffed = staffed
        self.said: Spoken | None = spoken(position, ewt, limit) if told else None
        """What the caller heard last; None: nothing yet (the first announcement is not due on joining)."""

    def next(self, position: int, fresh_ewt: float | None, staffed: int, limit: int, now: float) -> Said | None:
        """The announcement due now, or None for silence; remembers what is said."""
        if position == 1:
            return None
        if self.said is None:
            heard = spoken(position, fresh_ewt, limit)
            self.position, self.ewt, self.staffed, self.said, self.told_at = position, fresh_ewt, staffed, heard, now
            return Said(heard[0], heard[1], fresh_ewt, None)
        if position > self.position:
            return None
        capped = announceable_ewt(fresh_ewt, self.ewt, now - self.told_at, staffed, self.staffed)
        heard = spoken(position, capped.ewt, limit)
        if heard == self.said or (capped.ewt is None and heard[:2] == self.said[:2]):
            return None  # (nothing about time to say, and the same position: nothing new)
        self.position, self.staffed, self.said = position, staffed, heard
        if capped.ewt is not None:  # (a silence about time keeps the promise made)
            self.ewt, self.told_at = capped.ewt, now
        return Said(heard[0], heard[1], capped.ewt, capped.reason)
