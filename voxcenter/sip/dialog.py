"""SIP dialogs and the UA core around them (RFC 3261 §12-§15, §8.1.1), sans-IO.

A :class:`DialogLayer` wraps a :class:`~voxcenter.sip.transaction.TransactionLayer`
and is driven exactly like it (same verbs, same pulled outputs), so the endpoint
talks to one object::

    ua = DialogLayer(TransactionLayer())
    ua.receive(message, source, now, reliable=source.reliable)
    tx = ua.send_request(new_request("INVITE", ...), destination, now)
    ua.send_response(server_tx, response, now)           # creates the UAS dialog on 1xx-with-tag/2xx
    ua.send_ack(dialog, destination, now)                 # after a 2xx to INVITE (§13.2.2.4)
    for data, destination in ua.datagrams_to_send(): ...
    while (event := ua.next_event()) is not None: ...     # dialog events and transaction events
    ua.get_timer()                                        # one loop.call_at at this deadline -> ua.handle_timer(now)

What the layer does by itself: answers in-dialog requests that match no dialog
with 481 (§12.2.2), out-of-order CSeqs with 500 (§12.2.2), a re-INVITE while
another INVITE is pending with 491 or 500 + Retry-After (§14.2); retransmits a
UAS 2xx until its ACK arrives (§13.3.1.4, ``AckTimedOut`` after 64·T1: send a
BYE); re-sends the ACK when a 2xx is retransmitted (§13.2.2.4). Everything else
is the TU's decision, reported as events. Destinations stay opaque: the TU
resolves ``dialog.next_hop`` (§8.1.2, RFC 3263) into the destination it passes in.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import structlog

from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.timers import ack_wait, next_timer_g
from voxcenter.sip.transaction import (
    BRANCH_PLACEHOLDER,
    AckReceived,
    ClientTransaction,
    Destination,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    Transaction,
    TransactionEvent,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimedOut,
    TransportFailed,
    new_tag,
)
from voxcenter.sip.uri import NameAddr, SipUri, parse_name_addr, parse_via

_log = structlog.get_logger(__name__)

DialogId = tuple[str, str, str]
"""(Call-ID, local tag, remote tag), §12."""

TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
"""Methods that carry a Contact and refresh the remote target (§12.2, RFC 3311, RFC 6665, RFC 3515)."""


class DialogState(Enum):
    """§12: a dialog is early (after a 1xx with a To tag) or confirmed (after a 2xx), then terminated."""

    EARLY = "EARLY"
    CONFIRMED = "CONFIRMED"
    TERMINATED = "TERMINATED"


def new_call_id(rng: random.Random) -> str:
    """A globally unique Call-ID (§8.1.1.4): 128 random bits, unique across nodes without coordination."""
    return f"{rng.getrandbits(128):032x}"


def new_request(
    method: str,
    request_uri: SipUri,
    *,
    from_: NameAddr,
    to: NameAddr,
    via_sent_by: str,
    rng: random.Random,
    transport: str = "UDP",
    contact: NameAddr | None = None,
    call_id: str | None = None,
    cseq: int = 1,
    body: bytes = b"",
    content_type: str | None = None,
) -> Request:
    """An initial out-of-dialog request (§8.1.1): fresh Call-ID and From tag, Max-Forwards 70.

    The Via branch is a placeholder that :meth:`TransactionLayer.send_request` replaces.
    """
    if not 0 <= cseq < 2**31:
        raise LocalProtocolError(f"CSeq {cseq} out of range")
    from_params = dict(from_.params)
    from_params.setdefault("tag", new_tag(rng))
    request = Request(method=method, uri=request_uri, body=body)
    headers = request.headers
    headers.add("Via", f"SIP/2.0/{transport.upper()} {via_sent_by};rport;branch={BRANCH_PLACEHOLDER}")
    headers.add("Max-Forwards", "70")
    headers.add("From", str(NameAddr(from_.uri, from_.display, from_params)))
    headers.add("To", str(NameAddr(to.uri, to.display, {k: v for k, v in to.params.items() if k != "tag"})))
    headers.add("Call-ID", call_id or new_call_id(rng))
    headers.add("CSeq", f"{cseq} {method}")
    if contact is not None:
        headers.add("Contact", str(contact))
    if content_type is not None:
        headers.add("Content-Type", content_type)
    return request


def glare_retry_delay(dialog: Dialog, rng: random.Random) -> float:
    """How long to wait before retrying a re-INVITE that got 491 (§14.1), in 10 ms units."""
    if dialog.owns_call_id:
        return rng.randint(210, 400) / 100.0
    return rng.randint(0, 200) / 100.0


class Dialog:
    """The state of one dialog (§12.1): ids, sequence numbers, route set, remote target."""

    __slots__ = (
        "_ack", "_uac_invite", "_uas_invite", "call_id", "invite_cseq", "local_contact", "local_seq", "local_tag",
        "local_uri", "owns_call_id", "remote_seq", "remote_tag", "remote_target", "remote_uri", "route_set",
        "secure", "state", "via",
    )

    def __init__(
        self, *, state: DialogState, call_id: str, local_tag: str, remote_tag: str, local_uri: NameAddr,
        remote_uri: NameAddr, local_seq: int, remote_seq: int | None, remote_target: SipUri, route_set: list[str],
        local_contact: str | None, via: str, owns_call_id: bool, secure: bool, invite_cseq: int,
    ) -> None:
        self.state = state
        """EARLY, CONFIRMED or TERMINATED."""
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        """Our From (UAC) or To (UAS) without the tag."""
        self.remote_uri = remote_uri
        """The peer's address without the tag."""
        self.local_seq = local_seq
        """The CSeq of the last request we sent in the dialog (§12.2.1.1)."""
        self.remote_seq = remote_seq
        """The CSeq of the last request the peer sent, None until it sends one (§12.2.2)."""
        self.remote_target = remote_target
        """The peer's Contact URI, updated by target refresh requests (§12.2)."""
        self.route_set = route_set
        """Route header values to put on our requests, in order (§12.1.1, §12.1.2)."""
        self.local_contact = local_contact
        """Our Contact value, put on target refresh requests."""
        self.via = via
        """Top Via for our requests, without branch: "SIP/2.0/UDP host:port;rport"."""
        self.owns_call_id = owns_call_id
        """True when we generated the Call-ID (we were the UAC); matters for glare (§14.1)."""
        self.secure = secure
        """True for a sips: dialog (§12.1)."""
        self.invite_cseq = invite_cseq
        """CSeq number of the last INVITE of this dialog (its 2xx is ACKed with this number, §13.2.2.4)."""
        self._uac_invite: ClientTransaction | None = None
        self._uas_invite: ServerTransaction | None = None
        self._ack: tuple[int, Request, Destination] | None = None

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    def __repr__(self) -> str:
        return f"<Dialog {self.state.name} {self.call_id!r} local={self.local_tag} remote={self.remote_tag}>"

    @property
    def invite_pending(self) -> bool:
        """An INVITE transaction of this dialog awaits its final response, in either direction (§14.1)."""
        return self._uac_invite is not None or self._uas_invite is not None

    @property
    def next_hop(self) -> SipUri:
        """Where our in-dialog requests go first: the first route, or the remote target (§12.2.1.1, §8.1.2)."""
        return parse_name_addr(self.route_set[0]).uri if self.route_set else self.remote_target

    def create_request(
        self, method: str, *, body: bytes = b"", content_type: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """A request within the dialog (§12.2.1.1): BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY, ..."""
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"{method} is built with create_ack / make_cancel, not create_request")
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError(f"dialog {self.call_id} is terminated: cannot send {method}")
        self.local_seq += 1
        if self.local_seq >= 2**31:
            raise LocalProtocolError("local CSeq exhausted")
        if method == "INVITE":
            self.invite_cseq = self.local_seq
        return self._build(method, self.local_seq, body, content_type, extra_headers)

    def create_ack(self, *, body: bytes = b"", content_type: str | None = None) -> Request:
        """The ACK of a 2xx (§13.2.2.4): a request of its own, with the INVITE's CSeq number."""
        return self._build("ACK", self.invite_cseq, body, content_type, ())

    def _build(
        self, method: str, cseq: int, body: bytes, content_type: str | None, extra: Iterable[tuple[str, str]]
    ) -> Request:
        routes = list(self.route_set)
        target = self.remote_target
        if routes and "lr" not in parse_name_addr(routes[0]).uri.params:
            # §12.2.1.1: a strict router goes in the Request-URI and the target at the end of Route.
            target = parse_name_addr(routes.pop(0)).uri
            routes.append(f"<{self.remote_target}>")
        request = Request(method=method, uri=target, body=body)
        headers = request.headers
        headers.add("Via", f"{self.via};branch={BRANCH_PLACEHOLDER}")
        for route in routes:
            headers.add("Route", route)
        headers.add("Max-Forwards", "70")
        headers.add("From", str(_with_tag(self.local_uri, self.local_tag)))
        headers.add("To", str(_with_tag(self.remote_uri, self.remote_tag)))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        if method in TARGET_REFRESH and self.local_contact:
            headers.add("Contact", self.local_contact)
        for name, value in extra:
            headers.add(name, value)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return request

    def check_remote_cseq(self, request: Request) -> None:
        """§12.2.2: a CSeq lower than the last one is out of order (500); otherwise remember it."""
        number = request.cseq.number
        if self.remote_seq is not None and number < self.remote_seq:
            raise RemoteProtocolError(f"CSeq {number} is lower than {self.remote_seq}", status_hint=500)
        self.remote_seq = number

    def refresh_target(self, message: Request | Response) -> None:
        """Take the remote target from the message's Contact, when it has one (§12.2)."""
        contacts = message.contacts
        if contacts:
            self.remote_target = contacts[0].uri


def _with_tag(address: NameAddr, tag: str) -> NameAddr:
    params = {k: v for k, v in address.params.items() if k != "tag"}
    params["tag"] = tag
    return NameAddr(address.uri, address.display, params)


def _route_set(message: Request | Response, *, reverse: bool) -> list[str]:
    """Record-Route values, each checked to be a name-addr, reversed for the UAC (§12.1.2)."""
    routes = [str(parse_name_addr(value)) for value in message.headers.values("Record-Route")]
    return routes[::-1] if reverse else routes


def _without_tag(address: NameAddr) -> NameAddr:
    return NameAddr(address.uri, address.display, {k: v for k, v in address.params.items() if k != "tag"})


def dialog_as_uac(request: Request, response: Response) -> Dialog:
    """The UAC's dialog from its INVITE and a 1xx-with-tag or 2xx (§12.1.2)."""
    remote_tag = response.to.tag
    local_tag = request.from_.tag
    if remote_tag is None or local_tag is None:
        raise RemoteProtocolError("a dialog needs tags on both From and To", status_hint=None)
    via = parse_via(request.headers.values("Via")[0])
    via.params.pop("branch", None)
    contacts = response.contacts
    return Dialog(
        state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
        call_id=request.call_id, local_tag=local_tag, remote_tag=remote_tag,
        local_uri=_without_tag(request.from_), remote_uri=_without_tag(response.to),
        local_seq=request.cseq.number, remote_seq=None,
        remote_target=contacts[0].uri if contacts else request.uri,
        route_set=_route_set(response, reverse=True),
        local_contact=request.headers.get("Contact"), via=str(via), owns_call_id=True,
        secure=request.uri.scheme == "sips", invite_cseq=request.cseq.number,
    )


def dialog_as_uas(request: Request, response: Response) -> Dialog:
    """The UAS's dialog from the INVITE and our 1xx-with-tag or 2xx to it (§12.1.1)."""
    local_tag = response.to.tag
    remote_tag = request.from_.tag
    if local_tag is None:
        raise LocalProtocolError("a response that creates a dialog needs a To tag (§12.1.1)")
    if remote_tag is None:
        raise RemoteProtocolError("request without a From tag cannot create a dialog", status_hint=400)
    our_contacts = response.contacts
    if not our_contacts:
        raise LocalProtocolError("a response that creates a dialog needs a Contact (§12.1.1)")
    their_contacts = request.contacts
    if not their_contacts:
        raise RemoteProtocolError("INVITE without Contact", status_hint=400)
    transport = request.top_via.transport
    return Dialog(
        state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
        call_id=request.call_id, local_tag=local_tag, remote_tag=remote_tag,
        local_uri=_without_tag(request.to), remote_uri=_without_tag(request.from_),
        local_seq=0, remote_seq=request.cseq.number, remote_target=their_contacts[0].uri,
        route_set=_route_set(request, reverse=False), local_contact=str(our_contacts[0]),
        via=f"SIP/2.0/{transport} {our_contacts[0].uri.host_port};rport", owns_call_id=False,
        secure=request.uri.scheme == "sips", invite_cseq=request.cseq.number,
    )


# --- events -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DialogCreated:
    """A dialog came into being, early (1xx with a To tag) or confirmed (2xx)."""

    dialog: Dialog
    """The new dialog."""


@dataclass(frozen=True, slots=True)
class DialogConfirmed:
    """An early dialog got its 2xx (§12.1, §13.2.2.4)."""

    dialog: Dialog
    """The dialog, now CONFIRMED."""


@dataclass(frozen=True, slots=True)
class DialogTerminated:
    """The dialog is over and forgotten."""

    dialog: Dialog
    """The dialog, now TERMINATED."""
    reason: str
    """Why: "BYE sent", "BYE received", "408", "481", "non-2xx final response", ..."""


@dataclass(frozen=True, slots=True)
class InDialogRequest:
    """A request within a known dialog; the TU answers on ``transaction`` (through DialogLayer.send_response)."""

    dialog: Dialog
    """The dialog it belongs to."""
    transaction: ServerTransaction
    """The server transaction to answer on."""
    request: Request
    """The request."""
    source: Destination
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class DialogAckReceived:
    """The ACK of our 2xx arrived (§13.3.1.4); it may carry the SDP answer."""

    dialog: Dialog
    """The dialog."""
    request: Request
    """The ACK."""


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """Our 2xx went unacknowledged for 64·T1 (§13.3.1.4): the TU should send a BYE."""

    dialog: Dialog
    """The dialog (confirmed, but the session should end)."""
    response: Response
    """The 2xx that was never acknowledged."""


@dataclass(frozen=True, slots=True)
class RequestRejected:
    """The dialog layer answered a request itself (481, 491, 500) and the TU never saw it."""

    request: Request
    """The request."""
    status: int
    """The status sent."""
    reason: str
    """Why."""


DialogEvent = (
    DialogCreated | DialogConfirmed | DialogTerminated | InDialogRequest | DialogAckReceived | AckTimedOut
    | RequestRejected
)


class _Retransmission:
    """A UAS 2xx being retransmitted until its ACK (§13.3.1.4)."""

    __slots__ = ("cseq", "dialog", "give_up_at", "interval", "response", "token", "transaction")

    def __init__(self, dialog: Dialog, transaction: ServerTransaction, response: Response, interval: float,
                 give_up_at: float) -> None:
        self.dialog = dialog
        self.transaction = transaction
        self.response = response
        self.cseq = transaction.request.cseq.number
        self.interval = interval
        self.give_up_at = give_up_at
        self.token = 0


class DialogLayer:
    """The UA core: dialogs over a transaction layer, driven like it (see the module docstring)."""

    def __init__(self, transactions: TransactionLayer | None = None) -> None:
        self.transactions = transactions if transactions is not None else TransactionLayer()
        """The transaction layer underneath; its outputs are this layer's outputs."""
        self.dialogs: dict[DialogId, Dialog] = {}
        """Every live dialog (early and confirmed)."""
        self._events: deque[DialogEvent | TransactionEvent] = deque()
        self._retransmissions: dict[DialogId, _Retransmission] = {}
        self._heap: list[tuple[float, int, DialogId]] = []
        self._tokens = itertools.count(1)
        self._invites: dict[Transaction, set[DialogId]] = {}

    @property
    def rng(self) -> random.Random:
        return self.transactions.rng

    # --- inputs ---

    def receive(self, message: Request | Response, source: Destination, now: float, *, reliable: bool = False) -> None:
        """Feed a parsed message; never raises for the peer's mistakes."""
        self.transactions.receive(message, source, now, reliable=reliable)
        self._pump(now)

    def handle_timer(self, now: float) -> None:
        """Fire every transaction and dialog timer due at ``now``."""
        self.transactions.handle_timer(now)
        self._pump(now)
        while self._heap and self._heap[0][0] <= now:
            _, token, dialog_id = heapq.heappop(self._heap)
            pending = self._retransmissions.get(dialog_id)
            if pending is not None and pending.token == token:
                self._retransmit(pending, now)
        self._pump(now)

    def send_request(
        self, request: Request, destination: Destination, now: float, *, reliable: bool = False
    ) -> ClientTransaction:
        """Send a request (initial, or from Dialog.create_request) in a new client transaction (§17.1)."""
        dialog = self._dialog_of_request(request, ours=True)
        if dialog is not None and request.method == "INVITE" and dialog.invite_pending:
            raise LocalProtocolError("an INVITE is already pending in this dialog (§14.1): wait or retry later")
        transaction = self.transactions.send_request(request, destination, now, reliable=reliable)
        if dialog is not None:
            if request.method == "INVITE":
                self._track(dialog, transaction)
            elif request.method == "BYE":
                self._terminate(dialog, "BYE sent")  # §15.1.1: the session ends when the BYE is sent
        return transaction

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> Dialog | None:
        """Answer a server transaction; a 1xx-with-tag or 2xx to an INVITE creates or confirms the dialog (§12.1.1).

        Returns the dialog the response belongs to, if any.
        """
        dialog = self._answer(transaction, response, now)
        if response.status >= 200:
            # The transaction now lingers for Timer J/L/H (up to 64·T1): keep its request's text, not the parsed
            # fields, which would give the garbage collector ~10 more objects per call to walk meanwhile.
            transaction.request.headers.forget_parsed()
        return dialog

    def _answer(self, transaction: ServerTransaction, response: Response, now: float) -> Dialog | None:
        request = transaction.request
        status = response.status
        initial = request.method == "INVITE" and request.to.tag is None
        created = dialog_as_uas(request, response) if initial and 100 < status < 300 else None  # check first
        self.transactions.send_response(transaction, response, now)
        if request.method != "INVITE":
            return self._dialog_of_request(request, ours=False)
        dialog: Dialog | None
        if created is not None:
            dialog = self._uas_dialog(transaction, created, status)
        elif initial:
            dialog = self._dialog_of_invite(request, response)
        else:
            dialog = self._dialog_of_request(request, ours=False)
        if dialog is None:
            return None
        if status >= 200:
            if dialog._uas_invite is transaction:
                dialog._uas_invite = None
            if status < 300:
                dialog.invite_cseq = request.cseq.number
                if request.to.tag is not None:
                    dialog.refresh_target(request)  # §12.2.2: target refresh on success
                self._start_retransmission(dialog, transaction, response, now)
            elif request.to.tag is None:
                self._terminate(dialog, f"{status} sent")
        return dialog

    def send_ack(
        self, dialog: Dialog, destination: Destination, now: float, *, body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """ACK the 2xx of the dialog's last INVITE (§13.2.2.4); re-sent by itself if the 2xx comes again."""
        ack = dialog.create_ack(body=body, content_type=content_type)
        self.transactions.send_stateless(ack, destination)
        dialog._ack = (dialog.invite_cseq, ack, destination)
        return ack

    # --- outputs ---

    def next_event(self) -> DialogEvent | TransactionEvent | None:
        """The next event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self) -> list[tuple[bytes, Destination]]:
        """Messages to put on the wire since the last call, in order."""
        return self.transactions.datagrams_to_send()

    def get_timer(self) -> float | None:
        """The earliest deadline of transactions and 2xx retransmissions, or None."""
        heap = self._heap
        while heap:
            pending = self._retransmissions.get(heap[0][2])
            if pending is not None and pending.token == heap[0][1]:
                break
            heapq.heappop(heap)
        own = heap[0][0] if heap else None
        below = self.transactions.get_timer()
        if own is None or below is None:
            return own if below is None else below
        return min(own, below)

    # --- internals ---

    def _dialog_of_request(self, request: Request, *, ours: bool) -> Dialog | None:
        to_tag = request.to.tag
        from_tag = request.from_.tag
        if to_tag is None or from_tag is None:
            return None
        key = (request.call_id, from_tag, to_tag) if ours else (request.call_id, to_tag, from_tag)
        return self.dialogs.get(key)

    def _add(self, dialog: Dialog) -> None:
        self.dialogs[dialog.id] = dialog
        self._events.append(DialogCreated(dialog))
        _log.debug("sip dialog created", call_id=dialog.call_id, state=dialog.state.name)

    def _confirm(self, dialog: Dialog) -> None:
        if dialog.state is DialogState.EARLY:
            dialog.state = DialogState.CONFIRMED
            self._events.append(DialogConfirmed(dialog))
            _log.debug("sip dialog confirmed", call_id=dialog.call_id)

    def _terminate(self, dialog: Dialog, reason: str) -> None:
        if dialog.state is DialogState.TERMINATED:
            return
        dialog.state = DialogState.TERMINATED
        self.dialogs.pop(dialog.id, None)
        self._retransmissions.pop(dialog.id, None)
        self._events.append(DialogTerminated(dialog, reason))
        _log.debug("sip dialog terminated", call_id=dialog.call_id, reason=reason)

    def _uas_dialog(self, transaction: ServerTransaction, created: Dialog, status: int) -> Dialog:
        dialog = self.dialogs.get(created.id)
        if dialog is None:
            dialog = created
            self._add(dialog)
            if status < 200:
                self._track(dialog, transaction)
        if status >= 200:
            self._confirm(dialog)
        return dialog

    def _dialog_of_invite(self, request: Request, response: Response) -> Dialog | None:
        tag = response.to.tag
        if tag is None:
            return None
        return self.dialogs.get((request.call_id, tag, request.from_.tag or ""))

    def _start_retransmission(self, dialog: Dialog, transaction: ServerTransaction, response: Response,
                              now: float) -> None:
        values = self.transactions.timers
        pending = _Retransmission(dialog, transaction, response, values.t1, now + ack_wait(values))
        self._retransmissions[dialog.id] = pending
        self._arm(pending, now + values.t1)

    def _arm(self, pending: _Retransmission, deadline: float) -> None:
        pending.token = next(self._tokens)
        heapq.heappush(self._heap, (min(deadline, pending.give_up_at), pending.token, pending.dialog.id))

    def _retransmit(self, pending: _Retransmission, now: float) -> None:
        if now >= pending.give_up_at:
            del self._retransmissions[pending.dialog.id]
            self._events.append(AckTimedOut(pending.dialog, pending.response))
            return
        transaction = pending.transaction
        if transaction.state is TransactionState.ACCEPTED:
            self.transactions.send_response(transaction, pending.response, now)
        else:
            self.transactions.send_stateless(pending.response, transaction.destination)
        pending.interval = next_timer_g(pending.interval, self.transactions.timers)
        self._arm(pending, now + pending.interval)

    def _pump(self, now: float) -> None:
        while (event := self.transactions.next_event()) is not None:
            if isinstance(event, RequestReceived):
                try:
                    self._on_request(event, now)
                except RemoteProtocolError as exc:
                    self._reject(event, exc.status_hint or 400, exc.reason, now)
            elif isinstance(event, ResponseReceived):
                try:
                    self._on_response(event, now)
                except RemoteProtocolError as exc:
                    _log.info(
                        "sip response not usable for a dialog", reason=exc.reason,
                        call_id=event.response.headers.get("Call-ID"),
                    )
                    self._events.append(event)
            elif isinstance(event, AckReceived):
                try:
                    self._on_ack(event)
                except RemoteProtocolError as exc:
                    _log.info("sip ACK dropped", reason=exc.reason, call_id=event.request.headers.get("Call-ID"))
            else:
                if isinstance(event, TransactionTimedOut | TransportFailed | TransactionTerminated):
                    self._on_transaction_end(event.transaction, failed=not isinstance(event, TransactionTerminated))
                self._events.append(event)

    def _reject(self, event: RequestReceived, status: int, reason: str, now: float,
                extra: tuple[str, str] | None = None) -> None:
        response = make_response(event.request, status, to_tag=event.request.to.tag or new_tag(self.rng))
        if extra is not None:
            response.headers.add(*extra)
        self.transactions.send_response(event.transaction, response, now)
        self._events.append(RequestRejected(event.request, status, reason))

    def _on_request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        if request.to.tag is None:
            if request.method == "INVITE":
                _route_set(request, reverse=False)  # raises (and we answer 400) if a Record-Route is malformed
                if request.from_.tag is None or not request.contacts:
                    self._reject(event, 400, "an INVITE needs a From tag and a Contact to make a dialog", now)
                    return
            self._events.append(event)
            return
        dialog = self._dialog_of_request(request, ours=False)
        if dialog is None:
            self._reject(event, 481, "no such dialog", now)  # §12.2.2
            return
        try:
            dialog.check_remote_cseq(request)
        except RemoteProtocolError as exc:
            self._reject(event, exc.status_hint or 500, exc.reason, now)
            return
        if request.method == "INVITE":
            if dialog._uac_invite is not None:
                self._reject(event, 491, "re-INVITE glare", now)  # §14.2
                return
            if dialog._uas_invite is not None:
                retry = ("Retry-After", str(self.rng.randint(0, 10)))
                self._reject(event, 500, "previous re-INVITE still pending", now, retry)  # §14.2
                return
            self._track(dialog, event.transaction)
        self._events.append(InDialogRequest(dialog, event.transaction, request, event.source))
        if request.method == "BYE":
            self._terminate(dialog, "BYE received")  # §15.1.2

    def _on_ack(self, event: AckReceived) -> None:
        request = event.request
        dialog = self._dialog_of_request(request, ours=False)
        if dialog is None:
            self._events.append(event)  # an ACK for nothing we know: let the TU log it
            return
        pending = self._retransmissions.get(dialog.id)
        if pending is not None and pending.cseq == request.cseq.number:
            del self._retransmissions[dialog.id]
            self._events.append(DialogAckReceived(dialog, request))
        # otherwise a retransmitted ACK: absorbed

    def _on_response(self, event: ResponseReceived, now: float) -> None:
        transaction, response = event.transaction, event.response
        request = transaction.request
        status = response.status
        remote_tag = response.to.tag
        dialog: Dialog | None = None
        if remote_tag is not None:
            dialog = self.dialogs.get((request.call_id, request.from_.tag or "", remote_tag))
        if request.method == "INVITE":
            if request.to.tag is None and 100 < status < 300 and remote_tag is not None:
                if dialog is None:
                    dialog = dialog_as_uac(request, response)
                    self._add(dialog)
                    if status < 200:
                        self._track(dialog, transaction)
                elif status >= 200:
                    dialog.route_set = _route_set(response, reverse=True)  # §13.2.2.4
                    dialog.refresh_target(response)
                if status >= 200:
                    self._confirm(dialog)
            if dialog is not None and status >= 200:
                if dialog._uac_invite is transaction:
                    dialog._uac_invite = None
                if status < 300:
                    if request.to.tag is not None:
                        dialog.refresh_target(response)
                    ack = dialog._ack
                    if ack is not None and ack[0] == request.cseq.number:
                        self.transactions.send_stateless(ack[1], ack[2])  # §13.2.2.4: a retransmitted 2xx
                        return
            if request.to.tag is None and status >= 300:
                self._terminate_early(request, f"{status} received")
        elif dialog is not None and status in (408, 481):
            self._terminate(dialog, f"{status} received")  # §12.2.1.2
        self._events.append(event)

    def _terminate_early(self, request: Request, reason: str) -> None:
        from_tag = request.from_.tag
        for dialog in list(self.dialogs.values()):
            if dialog.call_id == request.call_id and dialog.local_tag == from_tag and dialog.owns_call_id \
                    and dialog.state is DialogState.EARLY:
                self._terminate(dialog, reason)

    def _on_transaction_end(self, transaction: Transaction, *, failed: bool) -> None:
        for dialog_id in self._invites.pop(transaction, ()):
            dialog = self.dialogs.get(dialog_id)
            if dialog is None:
                continue
            if dialog._uac_invite is transaction:
                dialog._uac_invite = None
            if dialog._uas_invite is transaction:
                dialog._uas_invite = None
            if dialog.state is DialogState.EARLY:  # its INVITE is over without a 2xx for this dialog (§12.3)
                self._terminate(dialog, "INVITE transaction ended")
        if failed and isinstance(transaction, ClientTransaction) and transaction.request.method != "BYE":
            dialog = self._dialog_of_request(transaction.request, ours=True)
            if dialog is not None:
                self._terminate(dialog, "request timed out")  # §12.2.1.2: like a 408

    def _track(self, dialog: Dialog, transaction: Transaction) -> None:
        """Remember that ``transaction`` is an INVITE of ``dialog`` (for glare, and for cleanup when it ends)."""
        if isinstance(transaction, ClientTransaction):
            dialog._uac_invite = transaction
        else:
            assert isinstance(transaction, ServerTransaction)
            dialog._uas_invite = transaction
        self._invites.setdefault(transaction, set()).add(dialog.id)
