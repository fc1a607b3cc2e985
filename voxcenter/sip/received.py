"""Stamping where a request really came from onto its top Via (RFC 3261 §18.2.1, RFC 3581 §4).

A server transport adds ``received`` when the source address differs from the
Via's sent-by host, and fills an empty ``rport`` with the source port (adding
``received`` then too). Responses carry the stamped Via back, so a client
behind NAT learns its public address; voxcenter itself answers to the source
address (symmetric response routing), which is what ``rport`` asks for.
"""

from __future__ import annotations

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request
from voxcenter.sip.uri import Via


def stamp_received(request: Request, host: str, port: int) -> None:
    """Add ``received``/``rport`` to the top Via of ``request`` as the server transport must."""
    try:
        via = request.top_via
    except RemoteProtocolError:
        return  # a request without a usable Via is rejected later; nothing to stamp
    wants_rport = "rport" in via.params and via.params["rport"] is None
    sent_by = via.host.strip("[]").lower()
    if not wants_rport and sent_by == host.lower():
        return
    params = dict(via.params)
    params["received"] = host
    if wants_rport:
        params["rport"] = str(port)
    stamped = Via(via.transport, via.host, via.port, params)
    request.headers.remove_first("Via")
    request.headers.prepend("Via", str(stamped))
