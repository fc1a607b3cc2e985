"""A campaign's contact list: calling hours in each contact's time zone, the do-not-call list, retries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from voxcenter.acd.contacts import Contact, ContactList, ContactStatus, Outcome, Retry

RETRIES = {Outcome.BUSY: Retry(3, 600.0), Outcome.NO_ANSWER: Retry(2, 3600.0), Outcome.FAILED: Retry(1, 60.0),
           Outcome.ABANDONED: Retry(2, 1800.0)}


def nine_to_five(instant: dt.datetime, zone: str) -> bool:
    return 9 <= instant.astimezone(ZoneInfo(zone)).hour < 17


def contact(number: str, zone: str = "Europe/Warsaw", at: float = 0.0) -> Contact:
    return Contact(contact_id=f"c{number}", campaign="renewals", number=number, time_zone=zone, next_attempt_at=at)


def at(hour: int) -> float:
    return dt.datetime(2026, 12, 3, hour, 0, tzinfo=dt.UTC).timestamp()


def test_contacts_are_dialled_inside_the_hours_of_their_own_time_zone() -> None:
    contacts = ContactList([], RETRIES, nine_to_five)
    contacts.add(contact("+48221", "Europe/Warsaw"), set())  # UTC+1
    contacts.add(contact("+1212", "America/New_York"), set())  # UTC-5
    assert [c.number for c in contacts.due(at(8), 10, set())] == ["+48221"]  # 09:00 in Warsaw, 03:00 in New York
    assert contacts.due(at(8), 10, set()) == []  # the first is dialling now, the second still asleep
    assert [c.number for c in contacts.due(at(14), 10, set())] == ["+1212"]  # 09:00 in New York


def test_a_number_on_the_do_not_call_list_is_never_dialled() -> None:
    contacts = ContactList([], RETRIES, lambda *_: True)
    assert contacts.add(contact("+48221"), {"+48221"}).status is ContactStatus.DO_NOT_CALL
    contacts.add(contact("+48222"), set())
    assert contacts.due(at(10), 10, {"+48222"}) == []  # barred after its import
    assert contacts.counts()["do_not_call"] == 2


def test_a_duplicate_number_keeps_its_first_entry() -> None:
    contacts = ContactList([], RETRIES, lambda *_: True)
    first = contacts.add(contact("+48221"), set())
    again = contacts.add(Contact(contact_id="other", campaign="renewals", number="+48221", time_zone="UTC"), set())
    assert again == first and len(contacts) == 1


def test_each_outcome_retries_on_its_own_terms_until_its_attempts_are_spent() -> None:
    contacts = ContactList([contact("+48221")], RETRIES, lambda *_: True)
    [dialling] = contacts.due(0.0, 1, set())
    assert (dialling.status, dialling.attempts) == (ContactStatus.DIALING, 1)
    busy = contacts.dialled(dialling.contact_id, Outcome.BUSY, 100.0, "call-1")
    assert (busy.status, busy.next_attempt_at, busy.last_call_id) == (ContactStatus.PENDING, 700.0, "call-1")
    assert contacts.due(699.0, 1, set()) == []
    contacts.due(700.0, 1, set())
    no_answer = contacts.dialled(dialling.contact_id, Outcome.NO_ANSWER, 800.0)
    assert no_answer.status is ContactStatus.EXHAUSTED  # the second attempt was no-answer's last
    assert no_answer.last_outcome is Outcome.NO_ANSWER


def test_an_answered_contact_is_done_and_an_interrupted_one_is_due_again() -> None:
    contacts = ContactList([contact("+48221"), contact("+48222")], RETRIES, lambda *_: True)
    first, second = contacts.due(0.0, 2, set())
    assert contacts.dialled(first.contact_id, Outcome.ANSWERED, 10.0).status is ContactStatus.DONE
    [back] = contacts.interrupted()  # a restart found the second one dialling
    assert (back.contact_id, back.status, back.attempts) == (second.contact_id, ContactStatus.PENDING, 1)
    assert contacts.released(back.contact_id).attempts == 0
    assert contacts.remaining() == 1
