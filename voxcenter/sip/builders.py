"""Requests a user agent builds itself (RFC 3261 §8.1.1, §9.1, §17.1.1.3), and the random identifiers in them.

The transaction layer builds the ACK of a non-2xx and the CANCEL of an INVITE;
the TU builds initial requests with :func:`new_request`. Everything here is a
pure function of its arguments (``rng`` included).
"""

from __future__ import annotations

import random

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.message import Request, Response
from voxcenter.sip.uri import NameAddr, SipUri

MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this."""
BRANCH_PLACEHOLDER = MAGIC_COOKIE + "-unset"
"""A Via branch the transaction layer replaces with a fresh one when the request is sent."""


def new_branch(rng: random.Random) -> str:
    """A fresh branch with the magic cookie and 80 random bits (§8.1.1.7)."""
    return f"{MAGIC_COOKIE}{rng.getrandbits(80):020x}"


def new_tag(rng: random.Random) -> str:
    """A From/To tag with 64 random bits (§19.3 asks for at least 32)."""
    return f"{rng.getrandbits(64):016x}"


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
