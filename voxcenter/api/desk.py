"""The agent desk: sign-in, the agent's own state and call, customers and interactions (the API behind ``/agent``).

An agent signs in with the SIP credentials of its phone (``POST /api/desk/login``) and gets a bearer token
for the ``agent`` role (``DeskSessions``: kept in the database by its SHA-256, so a restart keeps it valid
until it expires or the agent signs out), or uses a token of ``api.tokens``. ``GET /api/desk`` is what the
page polls: the agent, its wrap-up countdown, the pause reasons and outcome codes of the dial plan, and the
call offered to or connected to it (the screen pop's live half: numbers, client, queue, wait, IVR path and
what the caller keyed, sensitive entries masked).

Customers and interactions are read from the records and written through the server's durable writer (a
database outage loses no note). Each write is a new ``version`` of the row; the versions this process wrote
last are remembered, so an update made before the writer flushed the previous one still follows it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from voxcenter.acd import AgentState
from voxcenter.api.control import ControlPlane
from voxcenter.api.views import agent_views, call_view
from voxcenter.store.records import CustomerRecord, DeskSessionRecord, InteractionRecord, Record, new_id

TICKET_STATUSES = ("open", "resolved", "closed", "needs_follow_up")
"""The ticket statuses an interaction may have."""
SESSION_LIFETIME = 12 * 3600.0
"""How long a desk sign-in lasts, seconds."""
LOGIN_FAILURES = 5
"""Wrong passwords for one agent within ``LOGIN_WINDOW`` before sign-in is refused for the rest of it."""
LOGIN_WINDOW = 60.0
MAX_TEXT = 4000
"""Longest notes accepted, characters (other text fields: ``MAX_FIELD``)."""
MAX_FIELD = 200
REMEMBERED = 10_000
"""Rows whose last written version this process remembers."""


@dataclass(frozen=True, slots=True)
class AgentSecret:
    """What an agent's phone authenticates with: a password, or the digest HA1 of ``extension:realm:password``."""

    password: str | None
    ha1: str | None
    realm: str


@dataclass(frozen=True, slots=True)
class DeskSettings:
    """What the dial plan says about the desk, at the time of asking."""

    outcomes: dict[str, str]
    """Outcome code -> label (``desk.outcomes``)."""
    pause_reasons: tuple[str, ...]
    """The pause reasons an agent picks from (``feature_codes.pause_reasons``)."""
    secrets: dict[str, AgentSecret]
    """Agent extension -> its phone's secret."""
    phone: dict[str, object] | None = None
    """Where the page's browser phone registers (``{"transport": "ws"|"wss", "host", "port"}``; ``host`` None: the
    page's own host); None when the browser cannot be the phone."""
    phone_library: Path | None = None
    """The ``node_modules`` directory holding JsSIP, served to the page (``desk.phone_library``)."""


class TransferNotPossible(Exception):
    """A transfer the dial plan does not allow; ``status`` is what a REFER would have been answered."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class DeskBackend(Protocol):
    """What the desk needs from the running server besides the control plane."""

    def desk_settings(self) -> DeskSettings:
        """The dial plan's outcomes, pause reasons and agents' secrets now."""
        ...

    def submit(self, record: Record) -> None:
        """Hand a record to the durable writer."""
        ...

    def event(self, name: str, data: dict[str, object]) -> None:
        """Tell the webhooks of an event (``interaction.saved``); never blocks."""
        ...

    def hold_call(self, call_id: str, agent_id: str, held: bool) -> bool:
        """Hold or resume the call ``agent_id`` talks on; LookupError: it does not; False: it is so already."""
        ...

    def transfer_call(self, call_id: str, agent_id: str, number: str, *, conference: bool = False,
                      consult: bool = False) -> None:
        """Transfer the caller blind to ``number`` (``conference``: add it to the conversation instead;
        ``consult``: hold the caller and ring it for the agent to talk to first); LookupError: ``agent_id`` does
        not talk on the call; TransferNotPossible: not a target for this agent."""
        ...

    def end_consultation(self, call_id: str, agent_id: str, complete: bool) -> None:
        """End the agent's consultation: ``complete`` connects the caller to the consulted party (an attended
        transfer), else back to the caller; LookupError: no consultation; TransferNotPossible: not answered yet."""
        ...


def password_matches(secret: AgentSecret, agent_id: str, password: str) -> bool:
    """Whether ``password`` is the agent's (compared in constant time, against the HA1 when only that is kept)."""
    if secret.password is not None:
        return hmac.compare_digest(password.encode(), secret.password.encode())
    if secret.ha1 is None:
        return False
    algorithm = hashlib.md5 if len(secret.ha1) == 32 else hashlib.sha256
    computed = algorithm(f"{agent_id}:{secret.realm}:{password}".encode()).hexdigest()
    return hmac.compare_digest(computed, secret.ha1.lower())


def token_digest(token: str) -> str:
    """What a desk token is kept and looked up by: its SHA-256, hex (the token itself is stored nowhere)."""
    return hashlib.sha256(token.encode()).hexdigest()


class DeskSessions:
    """Desk sign-ins: token digest -> (agent, expiry on the wall clock), and recent failures per agent.

    Pure but for the clock; each sign-in and logout is also handed to ``sink`` (the durable writer) as a
    :class:`DeskSessionRecord`, and :meth:`restore` puts back those still valid after a restart."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 sink: Callable[[DeskSessionRecord], None] | None = None) -> None:
        self._clock = clock
        self._sink = sink
        self._tokens: dict[str, DeskSessionRecord] = {}
        self._failures: dict[str, list[float]] = {}

    def refused(self, agent_id: str) -> bool:
        """Whether sign-in for ``agent_id`` is refused for now (too many wrong passwords lately)."""
        now = self._clock()
        recent = [at for at in self._failures.get(agent_id, []) if now - at < LOGIN_WINDOW]
        self._failures[agent_id] = recent
        return len(recent) >= LOGIN_FAILURES

    def failed(self, agent_id: str) -> None:
        self._failures.setdefault(agent_id, []).append(self._clock())

    def issue(self, agent_id: str) -> tuple[str, float]:
        """A new token for ``agent_id`` and its lifetime in seconds."""
        now = self._clock()
        self._forget_expired(now)
        self._failures.pop(agent_id, None)
        token = secrets.token_urlsafe(32)
        record = DeskSessionRecord(token_hash=token_digest(token), version=1, agent=agent_id, issued_at=now,
                                   expires_at=now + SESSION_LIFETIME)
        self._tokens[record.token_hash] = record
        if self._sink is not None:
            self._sink(record)
        return token, SESSION_LIFETIME

    def agent_of(self, token: str) -> str | None:
        """The agent ``token`` was issued to, None if unknown, expired or revoked."""
        record = self._tokens.get(token_digest(token))
        if record is None or record.revoked or record.expires_at <= self._clock():
            return None
        return record.agent

    def revoke(self, token: str) -> None:
        record = self._tokens.pop(token_digest(token), None)
        if record is not None and self._sink is not None:
            self._sink(replace(record, version=record.version + 1, revoked=True))

    def restore(self, records: Iterable[DeskSessionRecord]) -> int:
        """Put back the stored sign-ins that are neither revoked nor expired; how many."""
        now = self._clock()
        for record in records:
            if not record.revoked and record.expires_at > now:
                self._tokens[record.token_hash] = record
        return len(self._tokens)

    def _forget_expired(self, now: float) -> None:
        self._tokens = {digest: record for digest, record in self._tokens.items() if record.expires_at > now}


class Remembered:
    """The last version of each customer and interaction this process wrote (bounded, oldest forgotten)."""

    def __init__(self) -> None:
        self._rows: OrderedDict[str, CustomerRecord | InteractionRecord] = OrderedDict()

    def get(self, key: str) -> CustomerRecord | InteractionRecord | None:
        return self._rows.get(key)

    def put(self, key: str, record: CustomerRecord | InteractionRecord) -> None:
        self._rows[key] = record
        self._rows.move_to_end(key)
        while len(self._rows) > REMEMBERED:
            self._rows.popitem(last=False)


def newest(stored: dict[str, Any] | None, remembered: CustomerRecord | InteractionRecord | None,
           kind: type[CustomerRecord] | type[InteractionRecord]) -> CustomerRecord | InteractionRecord | None:
    """The newer of a row read from the database and the version this process last wrote."""
    from_db = None
    if stored is not None:
        fields = {name: stored[name] for name in kind.__dataclass_fields__ if name in stored}
        from_db = kind(**fields)
    if from_db is None:
        return remembered
    if remembered is None or remembered.version < from_db.version:
        return from_db
    return remembered


class FieldError(ValueError):
    """A request field is missing or wrong (a 400 with this message)."""


def text_field(body: dict[str, Any], name: str, *, longest: int = MAX_FIELD) -> str | None:
    """An optional text field: None when absent or null; stripped; FieldError when not text or too long."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > longest:
        raise FieldError(f"{name!r} must be text of at most {longest} characters")
    return value.strip()


def check_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise FieldError(f"unknown field(s) {sorted(unknown)}; accepted: {sorted(allowed)}")


CUSTOMER_FIELDS = {"number", "name", "company", "language", "priority", "notes"}


def customer_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The customer fields a request sets (FieldError on anything else)."""
    check_fields(body, CUSTOMER_FIELDS)
    changes: dict[str, Any] = {}
    for name in ("number", "name", "company", "language"):
        if name in body:
            changes[name] = text_field(body, name)
    if "notes" in body:
        changes["notes"] = text_field(body, "notes", longest=MAX_TEXT)
    if "priority" in body:
        priority = body["priority"]
        if not isinstance(priority, int) or isinstance(priority, bool) or not -100 <= priority <= 100:
            raise FieldError("'priority' must be a whole number from -100 to 100")
        changes["priority"] = priority
    if "number" in changes and not changes["number"]:
        raise FieldError("'number' must not be empty")
    return changes


def new_customer(body: dict[str, Any], now: float) -> CustomerRecord:
    changes = customer_changes(body)
    if not changes.get("number"):
        raise FieldError("a customer needs its 'number'")
    return CustomerRecord(customer_id=new_id(now), version=1, updated_at=now, **changes)


def updated_customer(current: CustomerRecord, body: dict[str, Any], now: float) -> CustomerRecord:
    return replace(current, version=current.version + 1, updated_at=now, **customer_changes(body))


INTERACTION_FIELDS = {"call_id", "agent", "customer_id", "number", "reason", "notes", "outcome", "ticket_status"}


def interaction_changes(body: dict[str, Any], outcomes: dict[str, str]) -> dict[str, Any]:
    """The interaction fields a request sets (FieldError on anything else)."""
    changes: dict[str, Any] = {}
    for name in ("customer_id", "number", "reason", "call_id"):
        if name in body:
            changes[name] = text_field(body, name)
    if "notes" in body:
        changes["notes"] = text_field(body, "notes", longest=MAX_TEXT)
    if "outcome" in body:
        outcome = text_field(body, "outcome") or None
        if outcome is not None and outcome not in outcomes:
            known = ", ".join(sorted(outcomes)) or "none (desk.outcomes is empty)"
            raise FieldError(f"unknown outcome {outcome!r}; the dial plan's outcomes are: {known}")
        changes["outcome"] = outcome
    if "ticket_status" in body:
        status = body["ticket_status"]
        if status not in TICKET_STATUSES:
            raise FieldError(f"'ticket_status' must be one of {', '.join(TICKET_STATUSES)}")
        changes["ticket_status"] = status
    return changes


def interaction_view(record: InteractionRecord) -> dict[str, Any]:
    return {"interaction_id": record.interaction_id, "version": record.version, "call_id": record.call_id,
            "agent": record.agent, "at": record.at, "customer_id": record.customer_id, "number": record.number,
            "reason": record.reason, "notes": record.notes, "outcome": record.outcome,
            "ticket_status": record.ticket_status, "follow_up_at": record.follow_up_at,
            "callback_id": record.callback_id}


def customer_view(record: CustomerRecord) -> dict[str, Any]:
    return {"customer_id": record.customer_id, "version": record.version, "number": record.number,
            "updated_at": record.updated_at, "name": record.name, "company": record.company,
            "notes": record.notes, "language": record.language, "priority": record.priority}


def desk_view(control: ControlPlane, settings: DeskSettings, agent_id: str) -> dict[str, Any] | None:
    """The agent, its wrap-up countdown, the dial plan's choices and its call; None for an unknown agent."""
    now = control.now()
    views = {str(view["id"]): view for view in agent_views(control, now)}
    agent = views.get(agent_id)
    if agent is None:
        return None
    router = control.router
    until = router.agent_wrapup_until(agent_id) if router.knows_agent(agent_id) else None
    calls = {call.call_id: call for call in control.calls()}
    call: dict[str, Any] | None = None
    connected = agent.get("call_id")
    if not isinstance(connected, str):  # a call the queue did not give it: transferred to it, say
        connected = next((c.call_id for c in calls.values() if c.talking_to == agent_id), None)
    if isinstance(connected, str) and connected in calls:
        snapshot = calls[connected]
        call = {"phase": "talking", "waited": snapshot.waited, **_pop(snapshot, now)}
    elif agent["state"] in (AgentState.RINGING.value, AgentState.RESERVED.value):
        queues = agent["queues"]
        for queue in queues if isinstance(queues, list) else []:
            for entry in router.waiting(str(queue), now):
                if agent_id in entry.ringing and entry.call_id in calls:
                    call = {"phase": "offered", "waited": round(now - entry.joined_at, 3),
                            **_pop(calls[entry.call_id], now)}
    return {
        "agent": agent,
        "wrap_up_left": None if until is None else round(max(0.0, until - now), 3),
        "pause_reasons": list(settings.pause_reasons),
        "outcomes": settings.outcomes,
        "phone": settings.phone if settings.phone_library is not None else None,
        "call": call,
    }


def _pop(snapshot: Any, now: float) -> dict[str, Any]:
    view = call_view(snapshot, now)
    consulting = getattr(snapshot, "consulting", None)
    view.update({"client": snapshot.client, "ivr_path": list(snapshot.ivr_path),
                 "entered": dict(snapshot.entered), "held": snapshot.held,
                 "consulting": None if consulting is None else {"target": consulting[0], "phase": consulting[1]}})
    return view
