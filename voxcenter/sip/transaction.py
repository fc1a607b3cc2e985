"""SIP transactions (RFC 3261 §17, updated by RFC 6026), sans-IO.

The four state machines are the literal tables of
:mod:`voxcenter.sip.transaction_tables`; this module drives them: a stimulus
that a table does not list is either a bug of ours (:class:`LocalProtocolError`)
or a remote retransmission that is absorbed. The events the layer reports are in
:mod:`voxcenter.sip.transaction_events`, the requests it builds itself (ACK of a
non-2xx, CANCEL) in :mod:`voxcenter.sip.builders`; all are importable from here.

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

import structlog

from voxcenter import logs
from voxcenter.sip.builders import BRANCH_PLACEHOLDER as BRANCH_PLACEHOLDER
from voxcenter.sip.builders import MAGIC_COOKIE as MAGIC_COOKIE
from voxcenter.sip.builders import make_cancel as make_cancel
from voxcenter.sip.builders import make_non2xx_ack as make_non2xx_ack
from voxcenter.sip.builders import new_branch as new_branch
from voxcenter.sip.builders import new_tag as new_tag
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
from voxcenter.sip.transaction_events import AckReceived as AckReceived
from voxcenter.sip.transaction_events import CancelReceived as CancelReceived
from voxcenter.sip.transaction_events import Destination as Destination
from voxcenter.sip.transaction_events import MessageRejected as MessageRejected
from voxcenter.sip.transaction_events import RequestReceived as RequestReceived
from voxcenter.sip.transaction_events import ResponseReceived as ResponseReceived
from voxcenter.sip.transaction_events import StrayResponse as StrayResponse
from voxcenter.sip.transaction_events import TransactionEvent as TransactionEvent
from voxcenter.sip.transaction_events import TransactionTerminated as TransactionTerminated
from voxcenter.sip.transaction_events import TransactionTimedOut as TransactionTimedOut
from voxcenter.sip.transaction_events import TransportFailed as TransportFailed
from voxcenter.sip.transaction_tables import ABSORBABLE as ABSORBABLE
from voxcenter.sip.transaction_tables import INVITE_CLIENT as INVITE_CLIENT
from voxcenter.sip.transaction_tables import INVITE_SERVER as INVITE_SERVER
from voxcenter.sip.transaction_tables import NON_INVITE_CLIENT as NON_INVITE_CLIENT
from voxcenter.sip.transaction_tables import NON_INVITE_SERVER as NON_INVITE_SERVER
from voxcenter.sip.transaction_tables import Stimulus as Stimulus
from voxcenter.sip.transaction_tables import Table as Table
from voxcenter.sip.transaction_tables import TransactionState as TransactionState
from voxcenter.sip.uri import parse_via

_log = structlog.get_logger(__name__)

S = TransactionState
X = Stimulus

COMPACT_HEAP_AFTER = 256
"""The timer heap drops its dead entries at once when there are more than this many and they are a quarter of it
(an O(n) pass after n/4 cancellations: amortized O(1) per cancelled timer)."""


def _status_stimulus(status: int, *, sending: bool) -> Stimulus:
    if status < 200:
        return X.SEND_1XX if sending else X.RECV_1XX
    if status < 300:
        return X.SEND_2XX if sending else X.RECV_2XX
    return X.SEND_300_699 if sending else X.RECV_300_699


# --- the machines -------------------------------------------------------------------------------------------------


class Transaction:
    """State common to the four machines: the table, the timers, the last message sent."""

    __slots__ = (
        "_deadlines", "_interval", "_last_sent", "_layer", "_request", "destination", "is_invite", "key", "method",
        "reliable", "state", "table",
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
        self._request: Request | None = request
        self.method = request.method
        """The request's method (kept after :meth:`release`)."""
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
        return f"<{type(self).__name__} {self.method} {self.state.name} {self.key[1]!r}>"

    @property
    def request(self) -> Request:
        """The request that created the transaction, until :meth:`release`."""
        if self._request is None:
            raise LocalProtocolError(f"{self.kind} {self.method} in {self.state.name}: its request was released")
        return self._request

    @property
    def released(self) -> bool:
        """True once :meth:`release` let the request go."""
        return self._request is None

    @property
    def call_id(self) -> str | None:
        return None if self._request is None else self._request.headers.get("Call-ID")

    def release(self) -> None:
        """The TU has handled the final response: let the request go.

        What is left of the transaction after its final response only absorbs retransmissions, re-sends the last
        response (server) and runs its last timer (Timer J, K or L: up to 64·T1 after every call); none of that
        reads the request, whose parsed headers and URIs would otherwise stay for the garbage collector to walk
        meanwhile, about ten objects per call. An INVITE client transaction must keep it (a retransmitted 2xx is
        matched to its dialog through it) and is not released.
        """
        self._request = None

    def _set_state(self, new: TransactionState, stimulus: Stimulus) -> None:
        if logs.DEBUG:
            _log.debug(
                "sip transaction state", kind=self.kind, method=self.method, old=self.state.name,
                new=new.name, stimulus=stimulus.value, sip_call_id=self.call_id,
            )
        self.state = new

    def _step(self, stimulus: Stimulus, now: float) -> bool:
        """Take the table's transition for ``stimulus``; False when a remote stimulus is absorbed."""
        new = self.table[self.state].get(stimulus)
        if new is None:
            if stimulus in ABSORBABLE:
                if logs.DEBUG:
                    _log.debug(
                        "sip transaction absorbed", kind=self.kind, method=self.method,
                        state=self.state.name, stimulus=stimulus.value, sip_call_id=self.call_id,
                    )
                return False
            raise LocalProtocolError(
                f"{self.kind} {self.method}: {stimulus.value} is not allowed in state {self.state.name}"
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
        if self.state is S.ACCEPTED:
            self._last_sent = None  # RFC 6026: the TU retransmits its 2xx, the transaction never does
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

    def respond_statelessly(self, response: Response, now: float) -> None:
        """Send a final non-2xx once and forget the transaction: a stateless UAS (RFC 3261 §8.2.7).

        Nothing is retransmitted and nothing is kept, so a request that is never
        ACKed costs one response; its retransmission makes a new transaction and
        is answered again. This is how unauthenticated requests are challenged.
        """
        if response.status < 300 or response.status > 699:
            raise LocalProtocolError(f"only a final non-2xx response may be sent statelessly, not {response.status}")
        if self.response_to_tag is not None:  # only a 100 Trying (hop by hop, no To tag) may have gone before
            raise LocalProtocolError(f"{self.method} was already answered: it cannot go stateless")
        self._send(response.encode())
        self._step(X.SEND_STATELESS, now)  # ends it: the timers are dropped and the layer forgets it

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

    def has_server(self, request: Request) -> bool:
        """Whether a server transaction matches ``request`` (it is a retransmission)."""
        return server_key(request) in self._servers

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Answer a server transaction (§17.2); raises LocalProtocolError if its state forbids it."""
        transaction.respond(response, now)

    def send_response_statelessly(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Answer a server transaction once with a final non-2xx and forget it (RFC 3261 §8.2.7)."""
        transaction.respond_statelessly(response, now)

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
        _log.info("sip message rejected", reason=exc.reason, status=status, sip_call_id=message.headers.get("Call-ID"))
        self._events.append(MessageRejected(message, source, exc.reason, status))
