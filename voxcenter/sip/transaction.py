"""SIP transactions (RFC 3261 §17, updated by RFC 6026), sans-IO.

Everything that affects the four transaction state machines lives in this file:
the tables below are the machines, and a stimulus that a table does not list is
either a bug of ours (:class:`LocalProtocolError`) or a remote retransmission
that is absorbed.

Driving a :class:`TransactionLayer` from asyncio (the endpoint does this)::

    layer = TransactionLayer()
    # a datagram arrived: parse it, then
    layer.receive(parse_message(data), source=("udp", host, port), now=loop.time())
    # the TU wants to send
    tx = layer.send_request(request, destination, now=loop.time(), reliable=False)
    layer.send_response(server_tx, response, now=loop.time())
    # after every input: flush outputs, consume events, re-arm the one timer
    for data, destination in layer.datagrams_to_send(): transport.send(data, destination)
    while (event := layer.next_event()) is not None: ...
    deadline = layer.get_timer()   # loop.call_at(deadline, lambda: layer.handle_timer(loop.time()))

``destination`` and ``source`` are opaque, hashable values chosen by the
endpoint (``("udp", host, port)``, a connection id, ...). The layer never
resolves or opens anything; responses go back to the ``source`` their request
came from (which also satisfies RFC 3581 ``rport``).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum

import structlog

from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.timers import (
    DEFAULT_TIMERS,
    TRYING_DELAY,
    TimerValues,
    next_timer_a,
    next_timer_e,
    next_timer_g,
    timer_a,
    timer_b,
    timer_d,
    timer_e,
    timer_f,
    timer_g,
    timer_h,
    timer_i,
    timer_j,
    timer_k,
    timer_l,
    timer_m,
)
from voxcenter.sip.uri import parse_via

_log = structlog.get_logger(__name__)

Destination = Hashable

MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this."""
BRANCH_PLACEHOLDER = MAGIC_COOKIE + "-unset"
"""A Via branch the transaction layer replaces with a fresh one when the request is sent."""


class TransactionState(Enum):
    """States as named in RFC 3261 Figures 5-8 and RFC 6026 Figures 5 and 7."""

    CALLING = "CALLING"
    TRYING = "TRYING"
    PROCEEDING = "PROCEEDING"
    COMPLETED = "COMPLETED"
    ACCEPTED = "ACCEPTED"
    CONFIRMED = "CONFIRMED"
    TERMINATED = "TERMINATED"


class Stimulus(Enum):
    """What can happen to a transaction: messages from the peer, verbs of the TU, timers."""

    RECV_1XX = "RECV_1XX"
    RECV_2XX = "RECV_2XX"
    RECV_300_699 = "RECV_300_699"
    RECV_REQUEST = "RECV_REQUEST"
    RECV_ACK = "RECV_ACK"
    SEND_1XX = "SEND_1XX"
    SEND_2XX = "SEND_2XX"
    SEND_300_699 = "SEND_300_699"
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    TIMER_A = "A"
    TIMER_B = "B"
    TIMER_D = "D"
    TIMER_E = "E"
    TIMER_F = "F"
    TIMER_G = "G"
    TIMER_H = "H"
    TIMER_I = "I"
    TIMER_J = "J"
    TIMER_K = "K"
    TIMER_L = "L"
    TIMER_M = "M"
    TIMER_TRYING = "TRYING"


S = TransactionState
X = Stimulus

# Stimuli from outside: when a state does not list them they are retransmissions
# or late arrivals, absorbed without a state change. Anything else unlisted is our bug.
ABSORBABLE = frozenset({X.RECV_1XX, X.RECV_2XX, X.RECV_300_699, X.RECV_REQUEST, X.RECV_ACK, X.TRANSPORT_ERROR})

Table = dict[TransactionState, dict[Stimulus, TransactionState]]

# RFC 3261 Figure 5 as amended by RFC 6026 Figure 5.
INVITE_CLIENT: Table = {
    S.CALLING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.ACCEPTED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_A: S.CALLING, X.TIMER_B: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.ACCEPTED, X.RECV_300_699: S.COMPLETED,
        X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.RECV_300_699: S.COMPLETED, X.TIMER_D: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED},
    S.ACCEPTED: {X.RECV_2XX: S.ACCEPTED, X.TIMER_M: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 6.
NON_INVITE_CLIENT: Table = {
    S.TRYING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.COMPLETED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_E: S.TRYING, X.TIMER_F: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.COMPLETED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_E: S.PROCEEDING, X.TIMER_F: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.TIMER_K: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 7 as amended by RFC 6026 Figure 7.
INVITE_SERVER: Table = {
    S.PROCEEDING: {
        X.RECV_REQUEST: S.PROCEEDING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.ACCEPTED,
        X.SEND_300_699: S.COMPLETED, X.TIMER_TRYING: S.PROCEEDING, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {
        X.RECV_REQUEST: S.COMPLETED, X.RECV_ACK: S.CONFIRMED, X.TIMER_G: S.COMPLETED,
        X.TIMER_H: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.CONFIRMED: {X.RECV_REQUEST: S.CONFIRMED, X.RECV_ACK: S.CONFIRMED, X.TIMER_I: S.TERMINATED},
    S.ACCEPTED: {X.RECV_REQUEST: S.ACCEPTED, X.RECV_ACK: S.ACCEPTED, X.SEND_2XX: S.ACCEPTED, X.TIMER_L: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 8.
NON_INVITE_SERVER: Table = {
    S.TRYING: {
        X.RECV_REQUEST: S.TRYING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.COMPLETED,
        X.SEND_300_699: S.COMPLETED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_REQUEST: S.PROCEEDING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.COMPLETED,
        X.SEND_300_699: S.COMPLETED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.RECV_REQUEST: S.COMPLETED, X.TIMER_J: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED},
    S.TERMINATED: {},
}


COMPACT_HEAP_AFTER = 256
"""The timer heap drops its dead entries at once when there are more than this many and they are a quarter of it
(an O(n) pass after n/4 cancellations: amortized O(1) per cancelled timer)."""


def new_branch(rng: random.Random) -> str:
    """A fresh branch with the magic cookie and 80 random bits (§8.1.1.7)."""
    return f"{MAGIC_COOKIE}{rng.getrandbits(80):020x}"


def new_tag(rng: random.Random) -> str:
    """A From/To tag with 64 random bits (§19.3 asks for at least 32)."""
    return f"{rng.getrandbits(64):016x}"


def _status_stimulus(status: int, *, sending: bool) -> Stimulus:
    if status < 200:
        return X.SEND_1XX if sending else X.RECV_1XX
    if status < 300:
        return X.SEND_2XX if sending else X.RECV_2XX
    return X.SEND_300_699 if sending else X.RECV_300_699


# --- events -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created a server transaction; the TU must answer it with ``send_response``."""

    transaction: ServerTransaction
    """The server transaction to answer on."""
    request: Request
    """The request as received."""
    source: Destination
    """Where it came from (responses go back there)."""


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for a client transaction (every 2xx of an INVITE too, retransmissions included: RFC 6026)."""

    transaction: ClientTransaction
    """The client transaction it belongs to."""
    response: Response
    """The response as received."""


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that matches no INVITE server transaction: the ACK of a 2xx (§13.3.1.4, RFC 6026 §8.7)."""

    request: Request
    """The ACK."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL matched an INVITE still in PROCEEDING (§9.2); the obligation is :meth:`responses`."""

    transaction: ServerTransaction
    """The server transaction of the CANCEL itself."""
    request: Request
    """The CANCEL."""
    invite_transaction: ServerTransaction
    """The INVITE server transaction being cancelled."""
    to_tag: str
    """The To tag the UAS uses for this INVITE (from its last provisional response, or fresh)."""

    def responses(self) -> tuple[Response, Response]:
        """The 200 for the CANCEL and the 487 for the INVITE, to send in that order (§9.2)."""
        return (
            make_response(self.request, 200, to_tag=self.to_tag),
            make_response(self.invite_transaction.request, 487, to_tag=self.to_tag),
        )


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """Timer B, F or H fired: no final response (client) or no ACK (INVITE server) in time."""

    transaction: Transaction
    """The transaction that gave up."""


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The endpoint reported that sending to this transaction's destination failed (§17.1.4, §17.2.4)."""

    transaction: Transaction
    """The transaction that was using the failed destination."""


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """A transaction reached TERMINATED and was forgotten; the TU may drop what it keyed on it."""

    transaction: Transaction
    """The transaction."""


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response matching no client transaction (§18.1.2); RFC 6026 §7.2 says discard it."""

    response: Response
    """The response."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A message too broken to process; a request got a stateless error response when one could be formed."""

    message: Request | Response
    """The message."""
    source: Destination
    """Where it came from."""
    reason: str
    """What was wrong, for the log."""
    status: int | None
    """The status sent back, or None when the message was dropped silently."""


TransactionEvent = (
    RequestReceived | ResponseReceived | AckReceived | CancelReceived | TransactionTimedOut | TransportFailed
    | TransactionTerminated | StrayResponse | MessageRejected
)


# --- the machines -------------------------------------------------------------------------------------------------


class Transaction:
    """State common to the four machines: the table, the timers, the last message sent."""

    __slots__ = (
        "_deadlines", "_interval", "_last_sent", "_layer", "destination", "is_invite", "key", "reliable",
        "request", "state", "table",
    )

    kind = "transaction"

    def __init__(
        self,
        layer: TransactionLayer,
        key: tuple[object, ...],
        request: Request,
        destination: Destination,
        reliable: bool,
        table: Table,
        state: TransactionState,
    ) -> None:
        self._layer = layer
        self.key = key
        """How the layer matches messages to this transaction (§17.1.3, §17.2.3)."""
        self.request = request
        """The request that created the transaction."""
        self.destination = destination
        """Where requests (client) or responses (server) are sent."""
        self.reliable = reliable
        """True on TCP/TLS/SCTP: no retransmissions, zero linger timers."""
        self.table = table
        """The literal transition table this transaction follows."""
        self.state = state
        """Current state."""
        self.is_invite = request.method == "INVITE"
        """INVITE transactions follow Figures 5 and 7, the others Figures 6 and 8."""
        self._deadlines: dict[Stimulus, int] = {}
        self._interval = 0.0
        self._last_sent: bytes | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.name} {self.key[1]!r}>"

    @property
    def call_id(self) -> str | None:
        return self.request.headers.get("Call-ID")

    def _set_state(self, new: TransactionState, stimulus: Stimulus) -> None:
        _log.debug(
            "sip transaction state", kind=self.kind, method=self.request.method, old=self.state.name,
            new=new.name, stimulus=stimulus.value, call_id=self.call_id,
        )
        self.state = new

    def _step(self, stimulus: Stimulus, now: float) -> bool:
        """Take the table's transition for ``stimulus``; False when a remote stimulus is absorbed."""
        new = self.table[self.state].get(stimulus)
        if new is None:
            if stimulus in ABSORBABLE:
                _log.debug(
                    "sip transaction absorbed", kind=self.kind, method=self.request.method,
                    state=self.state.name, stimulus=stimulus.value, call_id=self.call_id,
                )
                return False
            raise LocalProtocolError(
                f"{self.kind} {self.request.method}: {stimulus.value} is not allowed in state {self.state.name}"
            )
        self._set_state(new, stimulus)
        if new is S.TERMINATED:
            self._layer._cancelled += len(self._deadlines)
            self._deadlines.clear()
            self._layer._forget(self)
        return True

    def _arm(self, stimulus: Stimulus, delay: float | None, now: float) -> None:
        """Start a timer; a zero delay fires at once (reliable transports), None means not used."""
        if delay is None:
            return
        if delay <= 0.0:
            self._fire(stimulus, now)
            return
        if stimulus in self._deadlines:
            self._layer._cancelled += 1  # re-armed: the old heap entry is dead
        self._deadlines[stimulus] = self._layer._schedule(self, stimulus, now + delay)

    def _disarm(self, *stimuli: Stimulus) -> None:
        for stimulus in stimuli:
            if self._deadlines.pop(stimulus, None) is not None:
                self._layer._cancelled += 1

    def _send(self, data: bytes) -> None:
        self._last_sent = data
        self._layer._outgoing.append((data, self.destination))

    def _fire(self, stimulus: Stimulus, now: float) -> None:
        raise LocalProtocolError(f"{self.kind} has no timer {stimulus.value}")

    def _transport_error(self, now: float) -> None:
        if X.TRANSPORT_ERROR in self.table[self.state]:
            self._layer._events.append(TransportFailed(self))
        self._step(X.TRANSPORT_ERROR, now)


class ClientTransaction(Transaction):
    """INVITE client (Figure 5, RFC 6026 Figure 5) or non-INVITE client (Figure 6) transaction."""

    __slots__ = ("_ack",)
    kind = "client"

    def __init__(
        self, layer: TransactionLayer, key: tuple[object, ...], request: Request, destination: Destination,
        reliable: bool,
    ) -> None:
        invite = request.method == "INVITE"
        super().__init__(
            layer, key, request, destination, reliable,
            INVITE_CLIENT if invite else NON_INVITE_CLIENT, S.CALLING if invite else S.TRYING,
        )
        self._ack: bytes | None = None

    def _start(self, now: float) -> None:
        """§17.1.1.2 / §17.1.2.2: send the request and start A+B or E+F."""
        self._send(self.request.encode())
        values = self._layer.timers
        if self.is_invite:
            self._interval = timer_a(values, self.reliable) or 0.0
            self._arm(X.TIMER_A, timer_a(values, self.reliable), now)
            self._arm(X.TIMER_B, timer_b(values), now)
        else:
            self._interval = timer_e(values, self.reliable) or 0.0
            self._arm(X.TIMER_E, timer_e(values, self.reliable), now)
            self._arm(X.TIMER_F, timer_f(values), now)

    def _receive(self, response: Response, now: float) -> None:
        stimulus = _status_stimulus(response.status, sending=False)
        previous = self.state
        if not self._step(stimulus, now):
            return
        events = self._layer._events
        values = self._layer.timers
        if self.is_invite:
            if stimulus is X.RECV_1XX:
                self._disarm(X.TIMER_A, X.TIMER_B)
                events.append(ResponseReceived(self, response))
            elif stimulus is X.RECV_2XX:
                events.append(ResponseReceived(self, response))  # RFC 6026: every 2xx goes up
                if previous is not S.ACCEPTED:
                    self._disarm(X.TIMER_A, X.TIMER_B)
                    self._arm(X.TIMER_M, timer_m(values), now)
            else:
                if previous is S.COMPLETED:
                    assert self._ack is not None
                    self._layer._outgoing.append((self._ack, self.destination))  # §17.1.1.2: re-ACK, absorb
                    return
                self._disarm(X.TIMER_A, X.TIMER_B)
                self._ack = make_non2xx_ack(self.request, response).encode()
                self._layer._outgoing.append((self._ack, self.destination))
                events.append(ResponseReceived(self, response))
                self._arm(X.TIMER_D, timer_d(values, self.reliable), now)
        else:
            events.append(ResponseReceived(self, response))
            if stimulus is not X.RECV_1XX:
                self._disarm(X.TIMER_E, X.TIMER_F)
                self._arm(X.TIMER_K, timer_k(values, self.reliable), now)

    def _fire(self, stimulus: Stimulus, now: float) -> None:
        if stimulus in (X.TIMER_B, X.TIMER_F):
            self._layer._events.append(TransactionTimedOut(self))  # before TransactionTerminated
        self._step(stimulus, now)
        values = self._layer.timers
        if stimulus is X.TIMER_A:
            assert self._last_sent is not None
            self._send(self._last_sent)
            self._interval = next_timer_a(self._interval)
            self._arm(X.TIMER_A, self._interval, now)
        elif stimulus is X.TIMER_E:
            assert self._last_sent is not None
            self._send(self._last_sent)
            self._interval = next_timer_e(self._interval, values, proceeding=self.state is S.PROCEEDING)
            self._arm(X.TIMER_E, self._interval, now)


class ServerTransaction(Transaction):
    """INVITE server (Figure 7, RFC 6026 Figure 7) or non-INVITE server (Figure 8) transaction."""

    __slots__ = ("response_to_tag",)
    kind = "server"

    def __init__(
        self, layer: TransactionLayer, key: tuple[object, ...], request: Request, source: Destination,
        reliable: bool,
    ) -> None:
        invite = request.method == "INVITE"
        super().__init__(
            layer, key, request, source, reliable,
            INVITE_SERVER if invite else NON_INVITE_SERVER, S.PROCEEDING if invite else S.TRYING,
        )
        self.response_to_tag: str | None = None
        """The To tag of the last response sent (a CANCEL's 487 and an RFC 2543 ACK must match it)."""

    def _start(self, now: float) -> None:
        if self.is_invite:
            self._arm(X.TIMER_TRYING, TRYING_DELAY, now)

    def _retransmission(self, now: float) -> None:
        """§17.2.1 / §17.2.2: a retransmitted request re-sends the last response, if any."""
        if self._step(X.RECV_REQUEST, now) and self.state in (S.PROCEEDING, S.COMPLETED) and self._last_sent:
            self._send(self._last_sent)

    def _ack(self, request: Request, source: Destination, now: float) -> None:
        previous = self.state
        if not self._step(X.RECV_ACK, now):
            return
        if self.state is S.ACCEPTED:
            self._layer._events.append(AckReceived(request, source))  # RFC 6026 §8.7: the TU's ACK
        elif previous is S.COMPLETED:
            self._disarm(X.TIMER_G, X.TIMER_H)
            self._arm(X.TIMER_I, timer_i(self._layer.timers, self.reliable), now)

    def respond(self, response: Response, now: float) -> None:
        """Pass a response from the TU to the transport (§17.2.1, §17.2.2)."""
        if not 100 <= response.status <= 699:
            raise LocalProtocolError(f"status {response.status} is out of range")
        stimulus = _status_stimulus(response.status, sending=True)
        previous = self.state
        self._step(stimulus, now)
        to_value = response.headers.get("To")
        if to_value is not None and response.status > 100:
            try:
                self.response_to_tag = response.to.tag or self.response_to_tag
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"our response has a malformed To: {exc.reason}") from exc
        self._send(response.encode())
        values = self._layer.timers
        if self.is_invite:
            self._disarm(X.TIMER_TRYING)
            if stimulus is X.SEND_2XX and previous is S.PROCEEDING:
                self._arm(X.TIMER_L, timer_l(values), now)
            elif stimulus is X.SEND_300_699:
                self._interval = timer_g(values, self.reliable) or 0.0
                self._arm(X.TIMER_G, timer_g(values, self.reliable), now)
                self._arm(X.TIMER_H, timer_h(values), now)
        elif stimulus is not X.SEND_1XX:
            self._arm(X.TIMER_J, timer_j(values, self.reliable), now)

    def _fire(self, stimulus: Stimulus, now: float) -> None:
        if stimulus is X.TIMER_H:
            self._layer._events.append(TransactionTimedOut(self))  # before TransactionTerminated
        self._step(stimulus, now)
        if stimulus is X.TIMER_TRYING:
            if self._last_sent is None:
                self._send(make_response(self.request, 100).encode())
        elif stimulus is X.TIMER_G:
            assert self._last_sent is not None
            self._send(self._last_sent)
            self._interval = next_timer_g(self._interval, self._layer.timers)
            self._arm(X.TIMER_G, self._interval, now)


# --- building requests the transaction layer owns ---------------------------------------------------------------


def make_non2xx_ack(request: Request, response: Response) -> Request:
    """The ACK a client INVITE transaction sends for a 3xx-6xx (§17.1.1.3)."""
    ack = Request(method="ACK", uri=request.uri)
    ack.headers.add("Via", request.headers.values("Via")[0])
    for name in ("Route",):
        for value in request.headers.get_all(name):
            ack.headers.add(name, value)
    ack.headers.add("Max-Forwards", "70")
    ack.headers.add("From", request.headers.get("From") or "")
    ack.headers.add("To", response.headers.get("To") or "")
    ack.headers.add("Call-ID", request.call_id)
    ack.headers.add("CSeq", f"{request.cseq.number} ACK")
    return ack


def make_cancel(invite: Request) -> Request:
    """A CANCEL for a pending INVITE (§9.1): same Request-URI, Call-ID, From, To, CSeq number, top Via, Route."""
    if invite.method != "INVITE":
        raise LocalProtocolError(f"only an INVITE can be cancelled, not {invite.method}")
    cancel = Request(method="CANCEL", uri=invite.uri)
    cancel.headers.add("Via", invite.headers.values("Via")[0])
    for value in invite.headers.get_all("Route"):
        cancel.headers.add("Route", value)
    cancel.headers.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        cancel.headers.add(name, invite.headers.get(name) or "")
    cancel.headers.add("CSeq", f"{invite.cseq.number} CANCEL")
    return cancel


def server_key(request: Request) -> tuple[object, ...]:
    """The matching key of §17.2.3; ACK and CANCEL share it with their INVITE except for the last element.

    RFC 3261 branches (magic cookie) match on branch, sent-by and method; older
    ones fall back to Request-URI, From tag, Call-ID, CSeq number and top Via.
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return ("3261", branch, via.host, via.port, method)
    return ("2543", str(request.uri), request.from_.tag, request.call_id, request.cseq.number, str(via), method)


# --- the layer ----------------------------------------------------------------------------------------------------


class TransactionLayer:
    """Owns every transaction of one endpoint: inputs are verbs, outputs are pulled (see the module docstring)."""

    def __init__(self, *, timers: TimerValues = DEFAULT_TIMERS, rng: random.Random | None = None) -> None:
        self.timers = timers
        """T1, T2, T4 for every transaction of this layer."""
        self.rng: random.Random = rng if rng is not None else random.SystemRandom()
        """Source of branches and tags (inject a seeded one in tests)."""
        self._clients: dict[tuple[object, ...], ClientTransaction] = {}
        self._servers: dict[tuple[object, ...], ServerTransaction] = {}
        self._events: deque[TransactionEvent] = deque()
        self._outgoing: list[tuple[bytes, Destination]] = []
        self._heap: list[tuple[float, int, Transaction, Stimulus]] = []
        self._cancelled = 0
        """Heap entries whose timer was disarmed or re-armed: they would keep a finished transaction (and its
        request) alive until their deadline, up to 64·T1 for Timer F, so the heap is compacted when they are many."""
        self._tokens = itertools.count()

    # --- inputs ---

    def receive(self, message: Request | Response, source: Destination, now: float, *, reliable: bool = False) -> None:
        """Feed a parsed message (§17.1.3, §17.2.3, §18.1.2, §18.2.1); never raises for the peer's mistakes."""
        try:
            if isinstance(message, Response):
                self._receive_response(message, source, now)
            else:
                self._receive_request(message, source, now, reliable)
        except RemoteProtocolError as exc:
            self._reject(message, source, exc)

    def send_request(
        self, request: Request, destination: Destination, now: float, *, reliable: bool = False
    ) -> ClientTransaction:
        """Start a client transaction (§17.1); a missing or placeholder branch is replaced by a fresh one."""
        if request.method == "ACK":
            raise LocalProtocolError("an ACK is not a transaction: use send_stateless (§13.2.2.4)")
        try:
            self._fill_branch(request)
            cseq = request.cseq
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"our {request.method} is malformed: {exc.reason}") from exc
        if cseq.method != request.method:
            raise LocalProtocolError(f"CSeq method {cseq.method} differs from {request.method}")
        key: tuple[object, ...] = (request.top_via.branch, request.method)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction with branch {key[0]} already exists")
        transaction = ClientTransaction(self, key, request, destination, reliable)
        self._clients[key] = transaction
        transaction._start(now)
        return transaction

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Answer a server transaction (§17.2); raises LocalProtocolError if its state forbids it."""
        transaction.respond(response, now)

    def send_stateless(self, message: Request | Response, destination: Destination) -> None:
        """Queue a message outside any transaction: the ACK of a 2xx (§13.2.2.4), a UAS 2xx retransmission."""
        if isinstance(message, Request):
            try:
                self._fill_branch(message)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"our {message.method} is malformed: {exc.reason}") from exc
        self._outgoing.append((message.encode(), destination))

    def transport_failed(self, destination: Destination, now: float) -> None:
        """The endpoint could not send to ``destination``: fail every transaction using it (§17.1.4, §17.2.4)."""
        for transaction in [*self._clients.values(), *self._servers.values()]:
            if transaction.destination == destination:
                transaction._transport_error(now)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        while self._heap and self._heap[0][0] <= now:
            _, token, transaction, stimulus = heapq.heappop(self._heap)
            if transaction._deadlines.get(stimulus) == token:
                del transaction._deadlines[stimulus]
                transaction._fire(stimulus, now)
            else:
                self._cancelled -= 1

    # --- outputs ---

    def next_event(self) -> TransactionEvent | None:
        """The next event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self) -> list[tuple[bytes, Destination]]:
        """Messages to put on the wire since the last call, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline over all transactions, or None."""
        heap = self._heap
        if self._cancelled > COMPACT_HEAP_AFTER and 4 * self._cancelled > len(heap):
            heap[:] = [entry for entry in heap if entry[2]._deadlines.get(entry[3]) == entry[1]]
            heapq.heapify(heap)
            self._cancelled = 0
        while heap and heap[0][2]._deadlines.get(heap[0][3]) != heap[0][1]:
            heapq.heappop(heap)  # a timer that was cancelled or re-armed
            self._cancelled -= 1
        return heap[0][0] if heap else None

    def transactions(self) -> list[Transaction]:
        """Every live transaction (for metrics and tests)."""
        return [*self._clients.values(), *self._servers.values()]

    # --- internals ---

    def _schedule(self, transaction: Transaction, stimulus: Stimulus, deadline: float) -> int:
        token = next(self._tokens)
        heapq.heappush(self._heap, (deadline, token, transaction, stimulus))
        return token

    def _forget(self, transaction: Transaction) -> None:
        table: dict[tuple[object, ...], ClientTransaction] | dict[tuple[object, ...], ServerTransaction]
        table = self._clients if isinstance(transaction, ClientTransaction) else self._servers
        if table.get(transaction.key) is transaction:
            del table[transaction.key]
        self._events.append(TransactionTerminated(transaction))

    def _fill_branch(self, request: Request) -> None:
        values = request.headers.values("Via")
        if not values:
            raise LocalProtocolError(f"our {request.method} has no Via")
        via = parse_via(values[0])
        if via.branch is None or via.branch == BRANCH_PLACEHOLDER:
            via.params["branch"] = new_branch(self.rng)
            request.headers.remove_first("Via")
            request.headers.prepend("Via", str(via))

    def _receive_response(self, response: Response, source: Destination, now: float) -> None:
        key: tuple[object, ...] = (response.top_via.branch, response.cseq.method)
        transaction = self._clients.get(key)
        if transaction is None:
            self._events.append(StrayResponse(response, source))
            return
        transaction._receive(response, now)

    def _receive_request(self, request: Request, source: Destination, now: float, reliable: bool) -> None:
        cseq = request.cseq
        if cseq.method != request.method:
            raise RemoteProtocolError(f"CSeq method {cseq.method} differs from {request.method}", status_hint=400)
        request.call_id  # noqa: B018 -- §8.1.1: these must be present and well formed
        request.from_  # noqa: B018
        to_tag = request.to.tag
        key = server_key(request)
        transaction = self._servers.get(key)
        if request.method == "ACK":
            if transaction is None or (key[0] == "2543" and to_tag != transaction.response_to_tag):
                self._events.append(AckReceived(request, source))
            else:
                transaction._ack(request, source, now)
            return
        if transaction is not None:
            transaction._retransmission(now)
            return
        transaction = ServerTransaction(self, key, request, source, reliable)
        self._servers[key] = transaction
        transaction._start(now)
        if request.method != "CANCEL":
            self._events.append(RequestReceived(transaction, request, source))
            return
        # §9.2: a CANCEL matches the INVITE with the same key but for the method.
        invite = self._servers.get((*key[:-1], "INVITE"))
        if invite is None:
            transaction.respond(make_response(request, 481, to_tag=new_tag(self.rng)), now)
        elif invite.state is not S.PROCEEDING:
            transaction.respond(make_response(request, 200, to_tag=invite.response_to_tag or new_tag(self.rng)), now)
        else:
            if invite.response_to_tag is None:
                invite.response_to_tag = new_tag(self.rng)
            self._events.append(CancelReceived(transaction, request, invite, invite.response_to_tag))

    def _reject(self, message: Request | Response, source: Destination, exc: RemoteProtocolError) -> None:
        status: int | None = None
        needed = ("Via", "From", "To", "Call-ID", "CSeq")
        if (
            isinstance(message, Request) and message.method != "ACK" and exc.status_hint is not None
            and all(message.headers.get(name) for name in needed)
        ):
            status = exc.status_hint
            response = make_response(message, status, to_tag=new_tag(self.rng))
            for name, value in getattr(exc, "headers", ()):  # Unsupported for 420, Allow for 405, ...
                response.headers.add(name, value)
            self._outgoing.append((response.encode(), source))
        _log.info("sip message rejected", reason=exc.reason, status=status, call_id=message.headers.get("Call-ID"))
        self._events.append(MessageRejected(message, source, exc.reason, status))
