"""The state of one dialog (RFC 3261 §12): ids, sequence numbers, route set, remote target.

A :class:`Dialog` is created from the request and response that establish it
(:func:`dialog_as_uac`, :func:`dialog_as_uas`) and builds the requests sent
within it; :class:`~voxcenter.sip.dialog.DialogLayer` owns the dialogs of an endpoint.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from enum import Enum

from voxcenter.sip.builders import BRANCH_PLACEHOLDER
from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import Request, Response
from voxcenter.sip.transaction import ClientTransaction, ServerTransaction
from voxcenter.sip.transaction_events import Destination
from voxcenter.sip.uri import NameAddr, SipUri, parse_name_addr, parse_via

DialogId = tuple[str, str, str]
"""(Call-ID, local tag, remote tag), §12."""

TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
"""Methods that carry a Contact and refresh the remote target (§12.2, RFC 3311, RFC 6665, RFC 3515)."""


class DialogState(Enum):
    """§12: a dialog is early (after a 1xx with a To tag) or confirmed (after a 2xx), then terminated."""

    EARLY = "EARLY"
    CONFIRMED = "CONFIRMED"
    TERMINATED = "TERMINATED"


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
