"""One call's SIP side, as the application sees it: ring, answer, reject, hang up, and what the peer did.

A :class:`SipSession` is an asyncio facade over one INVITE dialog held by the
:class:`~voxcenter.sip.endpoint.SipEndpoint`. The application awaits
``session.ended`` (the reason the call ended) and reacts to ``on_info``
(DTMF over SIP INFO) and ``on_offer`` (re-INVITE: hold, resume, new media).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from voxcenter.sip.dialog import Dialog
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.transaction import ClientTransaction, ServerTransaction
from voxcenter.sip.transport import Address

if TYPE_CHECKING:
    from voxcenter.sip.endpoint import SipEndpoint

logger = structlog.get_logger(__name__)


ACK_WAIT = 32.0
"""64·T1: how long the ACK of our 2xx may take before the dialog layer gives up on it."""


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """Why and how a call's SIP side ended."""

    reason: str
    """"remote hangup", "local hangup", "cancelled", "no ACK", "shutdown", ..."""
    by_remote: bool
    """True when the peer ended it (BYE or CANCEL from them)."""


class SipSession:
    """One INVITE dialog, inbound or outbound."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        invite: Request,
        server_transaction: ServerTransaction | None,
        remote: Address,
        *,
        inbound: bool,
        trunk: str | None,
        user: str | None,
    ) -> None:
        self.endpoint = endpoint
        self.invite = invite
        """The initial INVITE (ours for outbound calls)."""
        self.server_transaction = server_transaction
        self.remote = remote
        """Where the peer sends from: all our in-dialog requests go there (symmetric signalling, NAT-safe)."""
        self.inbound = inbound
        self.trunk = trunk
        """The trunk an inbound call arrived on (trusted by source address), or None."""
        self.user = user
        """The authenticated user who placed an inbound call, or our From user for an outbound one."""
        self.call_id = invite.call_id
        self.key = f"{self.call_id};{invite.from_.tag}"
        self.dialog: Dialog | None = None
        self.local_tag = secrets.token_hex(6)
        self.local_contact = str(endpoint.contact_for(remote.transport))
        self.remote_sdp: bytes | None = invite.body if inbound and invite.body else None
        self.local_sdp: bytes | None = None
        self.answered = False
        self.confirmed = asyncio.Event()
        """Set when the call is established: the ACK of our 2xx arrived (inbound) or we sent ours (outbound);
        also when the wait for the ACK was given up (``ack_timed_out``) or the call ended."""
        self.ack_timed_out = False
        self.remote_reason: str | None = None
        """The ``Reason`` header (RFC 3326) of the far end's BYE, if it gave one."""
        """No ACK of our 2xx came within 64·T1 (the dialog layer stopped retransmitting it)."""
        self.ended: asyncio.Future[SessionEnded] = asyncio.get_running_loop().create_future()
        self.on_info: Callable[[Request], None] | None = None
        """Called with each INFO request (DTMF relay); the endpoint answers it 200."""
        self.on_offer: Callable[[Request], bytes | None] | None = None
        """Called with a re-INVITE/UPDATE offer; returns the SDP answer, or None to refuse with 488."""
        self.on_notify: Callable[[Request], None] | None = None
        """Called with each in-dialog NOTIFY (a transfer's progress, RFC 3515 §2.4.4); the endpoint answers 200."""
        self.on_refer: Callable[[Request], int] | None = None
        """Called with a REFER (RFC 3515: transfer); returns the status to answer (202 Accepted, 4xx, 603)."""
        self._notify_refer = True
        self._client_invite: ClientTransaction | None = None
        self._rang = False

    def __repr__(self) -> str:
        return f"<SipSession {'in' if self.inbound else 'out'} {self.call_id!r} answered={self.answered}>"

    @property
    def is_ended(self) -> bool:
        return self.ended.done()

    @property
    def caller(self) -> str:
        """The caller's user part (number or extension)."""
        return self.invite.from_.uri.user or ""

    @property
    def called(self) -> str:
        """The number that was dialed (Request-URI user part)."""
        return self.invite.uri.user or ""

    # --- inbound: respond to the INVITE -----------------------------------------------------------------------------

    def ring(self, sdp: bytes | None = None) -> None:
        """Send 180 Ringing, or 183 Session Progress with early media when ``sdp`` is given."""
        if not self.inbound or self.answered or self.is_ended:
            return
        response = self._response(183 if sdp else 180)
        if sdp:
            response.headers.add("Content-Type", "application/sdp")
            response.body = sdp
            self.local_sdp = sdp
        self._rang = True
        self.endpoint._session_respond(self, response)

    def answer(self, sdp: bytes) -> None:
        """Answer with 200 OK carrying our SDP; ``confirmed`` is set when the ACK arrives."""
        if not self.inbound or self.answered or self.is_ended:
            return
        response = self._response(200)
        response.headers.add("Content-Type", "application/sdp")
        response.body = sdp
        self.local_sdp = sdp
        self.answered = True
        self.endpoint._session_respond(self, response)

    def reject(self, status: int = 486, reason: str | None = None, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Refuse an unanswered inbound call (486 Busy Here, 480, 603 ...)."""
        if not self.inbound or self.answered or self.is_ended:
            return
        response = self._response(status, reason)
        for name, value in headers:
            response.headers.add(name, value)
        self.endpoint._session_respond(self, response)
        self._end(f"rejected {status}", by_remote=False)

    def _response(self, status: int, reason: str | None = None) -> Response:
        response = make_response(self.invite, status, reason, to_tag=self.local_tag)
        if status < 300:
            response.headers.add("Contact", self.local_contact)
        if status == 200:
            from voxcenter.sip.endpoint import ALLOW_HEADER

            response.headers.add("Allow", ALLOW_HEADER)
        return response

    # --- both directions --------------------------------------------------------------------------------------------

    async def hangup(self, reason: str = "local hangup", *, wait: float = 40.0, ack_wait: float = ACK_WAIT,
                     reason_header: str | None = None) -> None:
        """End the call: BYE when established, CANCEL or a final error response before.

        Waits at most ``wait`` seconds for the BYE's response (the call is over either way), and on an answered
        inbound call first at most ``ack_wait`` for the ACK of our 2xx (see below).
        """
        if self.is_ended:
            return
        if self.inbound and not self.answered:
            self.reject(480 if reason != "shutdown" else 503, "Temporarily Unavailable")
            return
        if not self.inbound and not self.answered:
            self.endpoint.cancel(self)
            self._end(reason, by_remote=False)
            return
        if self.inbound and not self.confirmed.is_set():
            # RFC 3261 §15: no BYE before the ACK of our 2xx. A lost ACK is still coming (the 2xx is
            # retransmitted); the dialog layer gives up after 64·T1 and sets ``confirmed`` then. A hang-up
            # that cannot wait that long (a shutdown) sends its BYE after ``ack_wait``.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.confirmed.wait(), None if ack_wait >= ACK_WAIT else ack_wait)
            if self.is_ended:
                return
        dialog = self.dialog
        if dialog is None:
            self._end(reason, by_remote=False)
            return
        bye = dialog.create_request("BYE")
        if reason_header is not None:  # RFC 3326: why the call ends
            bye.headers.add("Reason", reason_header)
        future = self.endpoint._session_request(self, bye)
        self._end(reason, by_remote=False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, wait)

    async def send_info(self, body: bytes, content_type: str) -> Response | None:
        """Send an INFO in the dialog (e.g. DTMF relay towards a peer that wants it)."""
        if self.dialog is None or self.is_ended:
            return None
        request = self.dialog.create_request("INFO", body=body, content_type=content_type)
        return await self.endpoint._session_request(self, request)

    async def reinvite(self, sdp: bytes) -> Response | None:
        """Send a re-INVITE with a new offer (hold / resume); returns the final response."""
        if self.dialog is None or self.is_ended:
            return None
        request = self.dialog.create_request("INVITE", body=sdp, content_type="application/sdp")
        response = await self.endpoint._session_request(self, request)
        if 200 <= response.status < 300 and self.dialog is not None:
            self.endpoint.ua.send_ack(self.dialog, self.remote, self.endpoint._now())
            self.endpoint._flush()
            self.local_sdp = sdp
            self.remote_sdp = response.body or self.remote_sdp
        return response

    async def notify_refer(self, status: int, reason: str, *, final: bool) -> Response | None:
        """Tell the transferring phone how its REFER goes (RFC 3515 §2.4.4): a message/sipfrag status line.

        ``final`` ends the implicit subscription. Nothing is sent when the phone asked for none (RFC 4488)
        or the dialog is gone.
        """
        if self.dialog is None or self.is_ended or not self._notify_refer:
            return None
        state = "terminated;reason=noresource" if final else "active;expires=60"
        request = self.dialog.create_request(
            "NOTIFY", body=f"SIP/2.0 {status} {reason}\r\n".encode(), content_type="message/sipfrag;version=2.0",
            extra_headers=[("Event", "refer"), ("Subscription-State", state)],
        )
        return await self.endpoint._session_request(self, request)

    @staticmethod
    def refer_subscription(request: Request) -> bool:
        """The REFER wants NOTIFYs of its progress (all do, unless ``Refer-Sub: false``, RFC 4488)."""
        return (request.headers.get("Refer-Sub") or "true").strip().lower() != "false"

    # --- called by the endpoint -------------------------------------------------------------------------------------

    def _refer_received(self, request: Request) -> int:
        if self.on_refer is None:
            return 405
        self._notify_refer = self.refer_subscription(request)
        try:
            return self.on_refer(request)
        except Exception:
            logger.exception("call.refer_handler_crash", call_id=self.call_id)
            return 500

    def _acked(self, ack: Request) -> None:
        if ack.body:
            self.remote_sdp = ack.body  # late offer: the answer comes in the ACK
        self.confirmed.set()

    def _answered_outbound(self, dialog: Dialog, response: Response) -> None:
        self.dialog = dialog
        self.answered = True
        self.remote_sdp = response.body or None
        self.confirmed.set()

    def _offer_received(self, request: Request) -> bytes | None:
        if self.on_offer is None:
            return self.local_sdp if not request.body else None
        answer = self.on_offer(request)
        if answer is not None:
            self.remote_sdp = request.body or self.remote_sdp
            self.local_sdp = answer
        return answer

    def _notify_received(self, request: Request) -> None:
        if self.on_notify is not None:
            try:
                self.on_notify(request)
            except Exception:
                logger.exception("call.notify_handler_crash", call_id=self.call_id)

    def _info_received(self, request: Request) -> None:
        if self.on_info is not None:
            try:
                self.on_info(request)
            except Exception:
                logger.exception("call.info_handler_crash", sip_call_id=self.call_id)

    def _end(self, reason: str, *, by_remote: bool | None = None) -> None:
        if self.ended.done():
            return
        if by_remote is None:
            by_remote = reason in ("remote hangup", "cancelled")
        self.ended.set_result(SessionEnded(reason, by_remote))
        self.confirmed.set()  # wake anyone waiting for an ACK that will never come
        self.endpoint._session_ended(self)
        # No request of this dialog can come now: the application's handlers (closures over its call, which holds
        # this session) would only keep the two in a reference cycle for the garbage collector.
        self.on_info = self.on_offer = self.on_notify = self.on_refer = None
