"""voxcenter's sans-IO SIP stack (RFC 3261 and friends).

The small public API is re-exported here; everything else is imported from the module that does the job.
``message`` and ``sdp`` are imported before anything else: each re-exports a module that builds on it
(``parser``, ``offer_answer``), and importing the base module first is what resolves that cycle.
"""

from voxcenter.sip.message import Headers, Request, Response, make_response, parse_message  # isort: skip
from voxcenter.sip.sdp import (  # isort: skip
    NegotiatedMedia,
    SessionDescription,
    accept_answer,
    answer_offer,
    create_offer,
    parse_sdp,
)
from voxcenter.sip.dialog import Dialog, DialogEvent, DialogLayer, new_request
from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError, SipError
from voxcenter.sip.transaction import TransactionEvent, TransactionLayer, make_cancel
from voxcenter.sip.uri import NameAddr, SipUri, Via, parse_name_addr, parse_uri, parse_via

__all__ = [
    "Dialog",
    "DialogEvent",
    "DialogLayer",
    "Headers",
    "LocalProtocolError",
    "NameAddr",
    "NegotiatedMedia",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SessionDescription",
    "SipError",
    "SipUri",
    "TransactionEvent",
    "TransactionLayer",
    "Via",
    "accept_answer",
    "answer_offer",
    "create_offer",
    "make_cancel",
    "make_response",
    "new_request",
    "parse_message",
    "parse_name_addr",
    "parse_sdp",
    "parse_uri",
    "parse_via",
]
