"""A campaign's contact list: who is due to be dialled now, and what a dial's outcome does to a contact.

Pure: the caller passes ``now`` (Unix time) and gets contacts back; nothing here dials or writes. A contact
is dialled only inside the campaign's calling hours *in the contact's own time zone*, never when its number
is on the do-not-call list, and never before its next attempt is due. Each outcome has its own retries
(attempts and delay): a busy line is tried again sooner than a phone nobody answers, and a customer who
answered and found no agent (an abandon) is tried again after a delay of its own.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace


class Outcome(enum.Enum):
    """What one dial of a contact came to."""

    ANSWERED = "answered"
    """A person answered and talked to an agent."""
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    """The network refused the call (a wrong number, a trunk down)."""
    ABANDONED = "abandoned"
    """A person answered and no agent was free in time: they heard the campaign's message."""


class ContactStatus(enum.Enum):
    PENDING = "pending"
    """Waiting for its next attempt."""
    DIALING = "dialing"
    DONE = "done"
    """Reached: an agent talked to the customer."""
    EXHAUSTED = "exhausted"
    """Every attempt its outcomes allow has been made."""
    DO_NOT_CALL = "do_not_call"
    """Its number is on the do-not-call list."""


@dataclass(frozen=True, slots=True)
class Retry:
    attempts: int
    """Dials of a contact, in all, after which this outcome gives it up."""
    delay: float
    """Seconds between this outcome and the next attempt."""


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: str
    campaign: str
    number: str
    time_zone: str
    name: str = ""
    data: str | None = None
    """The CSV row's other columns, as a JSON object (text)."""
    status: ContactStatus = ContactStatus.PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    """Unix time before which it is not dialled."""
    last_outcome: Outcome | None = None
    last_call_id: str | None = None


OpenAt = Callable[[dt.datetime, str], bool]
"""Is the campaign's calling window open at this aware instant, read in this IANA time zone?"""


class ContactList:
    """The contacts of one campaign, in import order (see the module docstring)."""

    def __init__(self, contacts: Iterable[Contact], retries: dict[Outcome, Retry], open_at: OpenAt) -> None:
        self._contacts: dict[str, Contact] = {contact.contact_id: contact for contact in contacts}
        self.retries = retries
        self.open_at = open_at

    def __iter__(self) -> Iterator[Contact]:
        return iter(self._contacts.values())

    def __len__(self) -> int:
        return len(self._contacts)

    def get(self, contact_id: str) -> Contact:
        return self._contacts[contact_id]

    def add(self, contact: Contact, do_not_call: set[str]) -> Contact:
        """Import one contact (a number already on the list keeps its first entry: returns that one)."""
        for known in self._contacts.values():
            if known.number == contact.number:
                return known
        if contact.number in do_not_call:
            contact = replace(contact, status=ContactStatus.DO_NOT_CALL)
        self._contacts[contact.contact_id] = contact
        return contact

    def due(self, now: float, count: int, do_not_call: set[str]) -> list[Contact]:
        """Up to ``count`` contacts to dial now, oldest due first; each is marked dialling (and returned so).

        A contact whose number joined the do-not-call list since its import is taken out here."""
        chosen: list[Contact] = []
        instant = dt.datetime.fromtimestamp(now, dt.UTC)
        candidates = sorted((c for c in self._contacts.values()
                             if c.status is ContactStatus.PENDING and c.next_attempt_at <= now),
                            key=lambda c: c.next_attempt_at)
        for contact in candidates:
            if len(chosen) == count:
                break
            if contact.number in do_not_call:
                self._contacts[contact.contact_id] = replace(contact, status=ContactStatus.DO_NOT_CALL)
                continue
            if not self.open_at(instant, contact.time_zone):
                continue
            dialing = replace(contact, status=ContactStatus.DIALING, attempts=contact.attempts + 1)
            self._contacts[contact.contact_id] = dialing
            chosen.append(dialing)
        return chosen

    def dialled(self, contact_id: str, outcome: Outcome, now: float, call_id: str | None = None) -> Contact:
        """The outcome of the contact's attempt: done, due again later, or given up."""
        contact = self._contacts[contact_id]
        status, next_at = ContactStatus.DONE, contact.next_attempt_at
        if outcome is not Outcome.ANSWERED:
            retry = self.retries.get(outcome)
            if retry is not None and contact.attempts < retry.attempts:
                status, next_at = ContactStatus.PENDING, now + retry.delay
            else:
                status = ContactStatus.EXHAUSTED
        updated = replace(contact, status=status, next_attempt_at=next_at, last_outcome=outcome,
                          last_call_id=call_id or contact.last_call_id)
        self._contacts[contact_id] = updated
        return updated

    def released(self, contact_id: str) -> Contact:
        """A dial that never started (no agent took the preview): pending again, the attempt not counted."""
        contact = self._contacts[contact_id]
        back = replace(contact, status=ContactStatus.PENDING, attempts=max(0, contact.attempts - 1))
        self._contacts[contact_id] = back
        return back

    def interrupted(self) -> list[Contact]:
        """Contacts left dialling by a restart are pending again (their attempt is counted)."""
        back = []
        for contact in list(self._contacts.values()):
            if contact.status is ContactStatus.DIALING:
                back.append(replace(contact, status=ContactStatus.PENDING))
                self._contacts[contact.contact_id] = back[-1]
        return back

    def counts(self) -> dict[str, int]:
        """Contacts per status, every status named."""
        counts = {status.value: 0 for status in ContactStatus}
        for contact in self._contacts.values():
            counts[contact.status.value] += 1
        return counts

    def remaining(self) -> int:
        """Contacts still to be dialled (pending, due or not)."""
        return sum(1 for c in self._contacts.values() if c.status is ContactStatus.PENDING)
