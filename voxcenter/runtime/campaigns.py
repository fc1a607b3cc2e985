"""Outbound campaigns of the running server: contact lists, the do-not-call list, and the pacing loop.

Each running campaign is paced every ``TICK`` seconds: the agents of its queue are counted (free now, in
wrap-up, on a call), :mod:`voxcenter.acd.pacing` says how many customers to dial, and
:class:`~voxcenter.acd.contacts.ContactList` says which. A customer who answers becomes a
:class:`~voxcenter.runtime.campaign_call.CampaignCall` in the campaign's queue; in preview mode the agent's
phone rings first (showing the customer's number) and the customer is dialled once the agent answers. Every
dial leaves a CDR naming the campaign and the contact, and every change of a contact is written, so a restart
goes on where the campaign was (a dial cut short by a crash counts as an attempt, and its contact is due again).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from voxcenter.acd.agents import AgentState
from voxcenter.acd.contacts import Contact, ContactList, ContactStatus, Outcome, Retry
from voxcenter.acd.events import StartCallback
from voxcenter.acd.pacing import DialStats, Staffing, predictive_lines, progressive_lines
from voxcenter.config import Config
from voxcenter.config.campaigns import Campaign
from voxcenter.ivr.hours import HoursStatus, schedule_status
from voxcenter.runtime.callback import connect_callback
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.campaign_call import CampaignCall
from voxcenter.runtime.conversation import CallServices
from voxcenter.runtime.inbound import InboundCall
from voxcenter.runtime.livestate import VersionStamp
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.store.records import CampaignStateRecord, ContactRecord, DoNotCallRecord, new_id

logger = structlog.get_logger(__name__)

TICK = 0.5
"""Seconds between two pacing decisions of a running campaign."""
BUSY_STATUSES = frozenset({486, 600})
NO_ANSWER_STATUSES = frozenset({408, 480, 487})
"""Final responses that mean nobody answered (487: our CANCEL at the end of ``ring_time``)."""


class CampaignError(ValueError):
    """A request about campaigns that cannot be carried out (unknown campaign, bad CSV)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    duplicates: int
    """Rows whose number the campaign already had."""
    do_not_call: int
    """Rows added but never to be dialled: their number is on the do-not-call list."""
    errors: tuple[str, ...] = ()
    """Rows refused, with their line number and why."""


@dataclass(slots=True)
class _Runner:
    name: str
    contacts: ContactList
    stats: DialStats
    running: bool = False
    dialing: set[str] = field(default_factory=set)
    """Contacts being dialled now."""
    waiting: set[str] = field(default_factory=set)
    """Customers who answered and wait for an agent (they take free agents first)."""
    dials: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class CampaignService:
    """The campaigns of the dial plan (see the module docstring)."""

    def __init__(self, config: Callable[[], Config], services: CallServices, calls: MutableMapping[str, InboundCall],
                 spawn: Callable[[Awaitable[None]], asyncio.Task[None]]) -> None:
        self._config = config
        self.services = services
        self.calls = calls
        """The server's calls in progress: answered campaign customers are listed there too (API, wallboard)."""
        self.spawn = spawn
        self.do_not_call: set[str] = set()
        self.versions = VersionStamp()
        self._records: dict[str, ContactRecord] = {}
        self.runners: dict[str, _Runner] = {}
        for name in config().campaigns:
            self._runner(name)

    # --- state across restarts -----------------------------------------------------------------------------------

    def restore(self, contacts: Iterable[ContactRecord], do_not_call: Iterable[DoNotCallRecord],
                states: Iterable[CampaignStateRecord]) -> None:
        """What the database held at start: contacts (a dial cut short is due again), the list, who was running."""
        self.do_not_call = {entry.number for entry in do_not_call if entry.active}
        for record in contacts:
            runner = self.runners.get(record.campaign)
            if runner is None:
                continue  # a campaign the dial plan no longer has: its contacts stay in the database
            self._records[record.contact_id] = record
            runner.contacts.add(_contact_of(record), set())
        for runner in self.runners.values():
            for contact in runner.contacts.interrupted():
                self._write(contact)
        for state in states:
            if state.running and state.campaign in self.runners:
                self.start(state.campaign, write=False)

    def close(self) -> None:
        for runner in self.runners.values():
            if runner.task is not None:
                runner.task.cancel()

    # --- operations (API and CLI) -------------------------------------------------------------------------------

    def import_csv(self, name: str, text: str) -> ImportResult:
        """Contacts from CSV with a header: ``number`` (required), ``name``, ``timezone``; other columns are kept
        as the contact's data. A row with no number or an unknown time zone is refused, the others are added."""
        runner = self._get(name)
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "number" not in [f.strip().lower() for f in reader.fieldnames]:
            raise CampaignError("the CSV needs a header line with a 'number' column")
        default_zone = self._config().timezone
        added = duplicates = barred = 0
        errors: list[str] = []
        now = time.time()
        for line, row in enumerate(reader, start=2):
            fields = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
            number = fields.pop("number", "")
            zone = fields.pop("timezone", "") or default_zone
            person = fields.pop("name", "")
            if not number:
                errors.append(f"line {line}: no number")
                continue
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(f"line {line}: unknown time zone {zone!r}")
                continue
            contact = Contact(contact_id=new_id(), campaign=name, number=number, time_zone=zone, name=person,
                              data=json.dumps(fields) if fields else None, next_attempt_at=now)
            kept = runner.contacts.add(contact, self.do_not_call)
            if kept.contact_id != contact.contact_id:
                duplicates += 1
                continue
            added += 1
            barred += kept.status is ContactStatus.DO_NOT_CALL
            self._write(kept, imported_at=now)
        logger.info("campaign.imported", campaign=name, added=added, duplicates=duplicates, do_not_call=barred,
                    refused=len(errors))
        return ImportResult(added, duplicates, barred, tuple(errors))

    def start(self, name: str, *, write: bool = True) -> None:
        runner = self._get(name)
        if write:
            self._write_state(name, True)
        runner.running = True
        if runner.task is None or runner.task.done():
            runner.task = self.spawn(self._pace(runner))
        logger.info("campaign.started", campaign=name)

    def pause(self, name: str) -> None:
        """No new dials; calls in progress go on."""
        runner = self._get(name)
        runner.running = False
        self._write_state(name, False)
        logger.info("campaign.paused", campaign=name)

    def bar(self, numbers: Iterable[str], *, source: str = "api", active: bool = True) -> int:
        """Put numbers on the do-not-call list (or take them off); how many changed."""
        changed = 0
        for number in {n.strip() for n in numbers if n.strip()}:
            if (number in self.do_not_call) == active:
                continue
            if active:
                self.do_not_call.add(number)
            else:
                self.do_not_call.discard(number)
            self.services.records.sink.submit(DoNotCallRecord(number, self.versions.next(), active, time.time(),
                                                              source))
            changed += 1
        return changed

    def status(self, name: str) -> dict[str, object]:
        """What the API shows of a campaign."""
        runner = self._get(name)
        campaign = self._config().campaigns[name]
        measures = runner.stats.measures(asyncio.get_running_loop().time())
        return {
            "name": name, "mode": campaign.mode, "queue": campaign.queue, "running": runner.running,
            "contacts": runner.contacts.counts(), "dialing": len(runner.dialing), "dials": runner.dials,
            "outcomes": dict(runner.outcomes),
            "answer_rate": round(measures.answer_rate, 4), "abandon_rate": round(measures.abandon_rate, 4),
            "abandon_limit": campaign.abandon_limit,
        }

    # --- pacing ----------------------------------------------------------------------------------------------

    async def _pace(self, runner: _Runner) -> None:
        loop = asyncio.get_running_loop()
        while runner.running:
            campaign = self._config().campaigns.get(runner.name)
            if campaign is None:  # a reload removed it
                runner.running = False
                return
            staffing = self._staffing(campaign, runner)
            in_flight = len(runner.dialing)
            if campaign.mode == "predictive":
                measures = runner.stats.measures(loop.time())
                lines = predictive_lines(staffing, in_flight, measures, campaign.abandon_limit,
                                         campaign.connect_within)
                if lines > progressive_lines(staffing, in_flight):
                    logger.info("campaign.dialling_ahead", campaign=runner.name, lines=lines, free=staffing.free,
                                wrapping_up=len(staffing.wrapping_up), talking=staffing.talking,
                                in_flight=in_flight, answer_rate=round(measures.answer_rate, 3),
                                handle_time=round(measures.handle_time), abandon_rate=round(measures.abandon_rate, 4))
            else:
                lines = progressive_lines(staffing, in_flight)
            for contact in runner.contacts.due(time.time(), lines, self.do_not_call) if lines > 0 else ():
                self._write(contact)
                runner.dialing.add(contact.contact_id)
                runner.dials += 1
                dial = self._preview if campaign.mode == "preview" else self._dial
                self.spawn(dial(runner, campaign, contact))
            await asyncio.sleep(TICK)

    def _staffing(self, campaign: Campaign, runner: _Runner) -> Staffing:
        acd = self.services.acd
        router, now = acd.router, acd.now()
        free, wrapping, talking = 0, [], 0
        for agent in router.members_of(campaign.queue):
            if acd.engaged.get(agent):
                talking += 1
                continue
            state = router.agent_state(agent)
            if state is AgentState.READY and router.agent_offerable(agent, now):
                free += 1
            elif state is AgentState.WRAP_UP:
                until = router.agent_wrapup_until(agent)
                if until is not None:
                    wrapping.append(max(0.0, until - now))
            elif state in (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL):
                talking += 1
        # Callers already waiting in the queue, and customers who answered, take the free agents first.
        ahead = len(router.waiting(campaign.queue, now)) if campaign.queue in self._config().queues else 0
        return Staffing(free=max(0, free - ahead), wrapping_up=tuple(wrapping), talking=talking)

    async def _dial(self, runner: _Runner, campaign: Campaign, contact: Contact) -> None:
        """Progressive and predictive: dial the customer; who answers waits in the queue for an agent."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        services = self.services
        log = self._call_log(runner, campaign, contact)
        try:
            leg, session = await services.dialer.call_number(contact.number, campaign.route,
                                                             ring_timeout=campaign.ring_time,
                                                             caller_id=campaign.caller_id)
        except RequestFailed as failure:
            runner.dialing.discard(contact.contact_id)
            runner.stats.dial_ended(started, None)
            outcome = _outcome_of(failure)
            log.finish("failed", hangup_by="far_end" if outcome is not Outcome.FAILED else "system",
                       cause=f"{outcome.value.replace('_', ' ')} ({failure.status})")
            self._settle(runner, contact, outcome, log.call_id)
            return
        runner.dialing.discard(contact.contact_id)
        runner.stats.dial_ended(started, loop.time() - started)
        call = CampaignCall(services, self._config(), session, leg, runner.name, campaign, contact, log)
        runner.waiting.add(call.call_id)
        self.calls[call.call_id] = call
        try:
            await call.run()
        finally:
            self.calls.pop(call.call_id, None)
            runner.waiting.discard(call.call_id)
        reached = call.agent_id is not None
        runner.stats.connected(loop.time(), abandoned=not reached)
        if reached:
            queue = self._config().queues.get(campaign.queue)
            runner.stats.handled(call.log.cdr.talk_seconds + (queue.wrap_up if queue is not None else 0.0))
        self._settle(runner, contact, Outcome.ANSWERED if reached else Outcome.ABANDONED, call.call_id)

    async def _preview(self, runner: _Runner, campaign: Campaign, contact: Contact) -> None:
        """Preview: ring a free agent's phone (showing the customer's number); once it answers, dial the
        customer and bridge them. An agent who does not answer leaves the contact due again, uncounted."""
        acd = self.services.acd
        agent = next((a for a in acd.router.members_of(campaign.queue)
                      if not acd.engaged.get(a) and acd.router.agent_state(a) is AgentState.READY
                      and acd.router.agent_offerable(a, acd.now())), None)
        if agent is None:
            runner.dialing.discard(contact.contact_id)
            self._write(runner.contacts.released(contact.contact_id))
            return
        acd.engage(agent)
        try:
            queue = self._config().queues.get(campaign.queue)
            ring = queue.ring_timeout if queue is not None else 15.0
            try:
                leg, session = await self.services.dialer.call_extension(agent, caller_id=contact.number,
                                                                         ring_timeout=ring)
            except RequestFailed:
                runner.dialing.discard(contact.contact_id)
                self._write(runner.contacts.released(contact.contact_id))
                return
            failures: list[RequestFailed] = []
            decision = StartCallback(call_id=new_id(), agent_id=agent, queue=campaign.queue, number=contact.number,
                                     attempt=contact.attempts, ring_time=campaign.ring_time)
            log_fields = {"campaign": runner.name, "contact_id": contact.contact_id}
            ender = await connect_callback(self.services.dialer, self.services.records, decision, leg, session,
                                           route=campaign.route, cdr_fields=log_fields, on_failed=failures.append)
            runner.dialing.discard(contact.contact_id)
            runner.stats.dial_ended(asyncio.get_running_loop().time(), None if ender is None else 0.0)
            if ender is None:
                failure = failures[0] if failures else RequestFailed(500, "not reached")
                self._settle(runner, contact, _outcome_of(failure), None)
            else:
                self._settle(runner, contact, Outcome.ANSWERED, None)
        finally:
            acd.disengage(agent)

    def _call_log(self, runner: _Runner, campaign: Campaign, contact: Contact) -> CallLog:
        """The dial's CDR, from the moment it starts."""
        log = self.services.records.call_log(call_id=new_id(), direction="outbound",
                                             from_number=campaign.caller_id or "", to_number=contact.number,
                                             trunk="", sip_call_id="")
        log.update(campaign=runner.name, contact_id=contact.contact_id, queue=campaign.queue)
        return log

    def _settle(self, runner: _Runner, contact: Contact, outcome: Outcome, call_id: str | None) -> None:
        runner.outcomes[outcome.value] = runner.outcomes.get(outcome.value, 0) + 1
        updated = runner.contacts.dialled(contact.contact_id, outcome, time.time(), call_id)
        self._write(updated)
        logger.info("campaign.dialled", campaign=runner.name, contact=contact.contact_id, outcome=outcome.value,
                    status=updated.status.value, attempts=updated.attempts)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _runner(self, name: str) -> _Runner:
        campaign = self._config().campaigns[name]
        retries: dict[Outcome, Retry] = {outcome: Retry(setting.attempts, setting.delay)
                   for outcome in Outcome if outcome is not Outcome.ANSWERED
                   for setting in [getattr(campaign.retries, outcome.value)]}
        runner = _Runner(name, ContactList((), retries, self._open_at(name)),
                         DialStats(abandon_window=campaign.abandon_window, settle=campaign.ring_time + 2.0))
        self.runners[name] = runner
        return runner

    def _open_at(self, name: str) -> Callable[[dt.datetime, str], bool]:
        def open_at(instant: dt.datetime, zone: str) -> bool:
            campaign = self._config().campaigns.get(name)
            if campaign is None or campaign.hours is None:
                return True
            schedule = self._config().schedules[campaign.hours].model_copy(update={"timezone": zone})
            return schedule_status(schedule, instant) is HoursStatus.OPEN
        return open_at

    def _get(self, name: str) -> _Runner:
        runner = self.runners.get(name)
        if runner is None:
            if name not in self._config().campaigns:
                raise CampaignError(f"no campaign {name!r} in the dial plan")
            runner = self._runner(name)  # added by a reload
        return runner

    def _write(self, contact: Contact, *, imported_at: float | None = None) -> None:
        previous = self._records.get(contact.contact_id)
        record = ContactRecord(
            contact_id=contact.contact_id, version=self.versions.next(), campaign=contact.campaign,
            number=contact.number, time_zone=contact.time_zone,
            imported_at=imported_at if imported_at is not None else previous.imported_at if previous else time.time(),
            name=contact.name, data=contact.data, status=contact.status.value, attempts=contact.attempts,
            next_attempt_at=contact.next_attempt_at,
            last_outcome=contact.last_outcome.value if contact.last_outcome is not None else None,
            last_call_id=contact.last_call_id,
        )
        self._records[contact.contact_id] = record
        self.services.records.sink.submit(record)

    def _write_state(self, name: str, running: bool) -> None:
        self.services.records.sink.submit(CampaignStateRecord(name, self.versions.next(), running, time.time(),
                                                              self.services.records.node))


def _outcome_of(failure: RequestFailed) -> Outcome:
    if failure.status in BUSY_STATUSES:
        return Outcome.BUSY
    if failure.status in NO_ANSWER_STATUSES:
        return Outcome.NO_ANSWER
    return Outcome.FAILED


def _contact_of(record: ContactRecord) -> Contact:
    return Contact(
        contact_id=record.contact_id, campaign=record.campaign, number=record.number, time_zone=record.time_zone,
        name=record.name, data=record.data, status=ContactStatus(record.status), attempts=record.attempts,
        next_attempt_at=record.next_attempt_at,
        last_outcome=Outcome(record.last_outcome) if record.last_outcome else None, last_call_id=record.last_call_id,
    )

