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

One dialog's state is in :mod:`voxcenter.sip.dialog_state`, the events in
:mod:`voxcenter.sip.dialog_events`, ``new_request`` in :mod:`voxcenter.sip.builders`;
all are importable from here.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque

import structlog

from voxcenter import logs
from voxcenter.sip.builders import new_call_id as new_call_id
from voxcenter.sip.builders import new_request as new_request
from voxcenter.sip.builders import new_tag
from voxcenter.sip.dialog_events import AckTimedOut as AckTimedOut
from voxcenter.sip.dialog_events import DialogAckReceived as DialogAckReceived
from voxcenter.sip.dialog_events import DialogConfirmed as DialogConfirmed
from voxcenter.sip.dialog_events import DialogCreated as DialogCreated
from voxcenter.sip.dialog_events import DialogEvent as DialogEvent
from voxcenter.sip.dialog_events import DialogTerminated as DialogTerminated
from voxcenter.sip.dialog_events import InDialogRequest as InDialogRequest
from voxcenter.sip.dialog_events import RequestRejected as RequestRejected
from voxcenter.sip.dialog_state import TARGET_REFRESH as TARGET_REFRESH
from voxcenter.sip.dialog_state import Dialog as Dialog
from voxcenter.sip.dialog_state import DialogId as DialogId
from voxcenter.sip.dialog_state import DialogState as DialogState
from voxcenter.sip.dialog_state import _route_set
from voxcenter.sip.dialog_state import dialog_as_uac as dialog_as_uac
from voxcenter.sip.dialog_state import dialog_as_uas as dialog_as_uas
from voxcenter.sip.dialog_state import glare_retry_delay as glare_retry_delay
from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.timers import ack_wait, next_timer_g
from voxcenter.sip.transaction import (
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
)

_log = structlog.get_logger(__name__)


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

    def transport_failed(self, destination: Destination, now: float) -> None:
        """The transport could not send to ``destination``: fail the transactions using it (§17.1.4, §17.2.4)."""
        self.transactions.transport_failed(destination, now)
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
            # The transaction now lingers for Timer J/L/H (up to 64·T1) and needs its request no more.
            transaction.release()
        return dialog

    def send_response_statelessly(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Answer an out-of-dialog request once with a final non-2xx, keeping no transaction (RFC 3261 §8.2.7).

        For answers that a flood must not multiply: a challenge, a 503. No dialog is made or touched.
        """
        if transaction.request.to.tag is not None:
            raise LocalProtocolError("in-dialog requests are answered statefully")
        self.transactions.send_response_statelessly(transaction, response, now)

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
        if logs.DEBUG:
            _log.debug("sip dialog created", sip_call_id=dialog.call_id, state=dialog.state.name)

    def _confirm(self, dialog: Dialog) -> None:
        if dialog.state is DialogState.EARLY:
            dialog.state = DialogState.CONFIRMED
            self._events.append(DialogConfirmed(dialog))
            if logs.DEBUG:
                _log.debug("sip dialog confirmed", sip_call_id=dialog.call_id)

    def _terminate(self, dialog: Dialog, reason: str) -> None:
        if dialog.state is DialogState.TERMINATED:
            return
        dialog.state = DialogState.TERMINATED
        self.dialogs.pop(dialog.id, None)
        self._retransmissions.pop(dialog.id, None)
        self._events.append(DialogTerminated(dialog, reason))
        if logs.DEBUG:
            _log.debug("sip dialog terminated", sip_call_id=dialog.call_id, reason=reason)

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
                        sip_call_id=event.response.headers.get("Call-ID"),
                    )
                    self._events.append(event)
            elif isinstance(event, AckReceived):
                try:
                    self._on_ack(event)
                except RemoteProtocolError as exc:
                    _log.info("sip ACK dropped", reason=exc.reason, sip_call_id=event.request.headers.get("Call-ID"))
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
        if failed and isinstance(transaction, ClientTransaction) and transaction.method != "BYE" \
                and not transaction.released:
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
