"""Request validation a UAS does before handling a request (RFC 3261 §8.2, RFC 4475 §3.3).

:func:`parse_message` only checks what framing and routing need; the checks
here are the semantic ones: mandatory header fields, single-valued fields
given once, CSeq method against the Request-Line, URI scheme, Require option
tags, body type, Accept. They run in the order of RFC 3261 §8.2 so the answer
is the one the RFC asks for first (a CSeq mismatch gives 400 even for an
unknown method, RFC 4475 §3.1.2.18).

:func:`check_request` returns the error rather than raising it: a UAS calls it
on every request and answers with :func:`build_error_response`.
"""

from __future__ import annotations

import re
import secrets

from voxcenter.sip import grammar
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response

# Schemes a UAS can route on (RFC 3261 §8.2.2.1: anything else gets 416).
KNOWN_SCHEMES = frozenset({"sip", "sips", "tel"})

# Body types voxcenter reads: SDP offers/answers, DTMF in INFO, MESSAGE text,
# REFER NOTIFY bodies, and multipart wrappers some trunks put around SDP.
DEFAULT_ACCEPTED_CONTENT_TYPES = frozenset(
    {
        "application/sdp",
        "application/dtmf-relay",
        "application/dtmf",
        "message/sipfrag",
        "text/plain",
        "multipart/mixed",
    }
)

# Header fields every request carries (RFC 3261 §8.1.1). Max-Forwards is not
# here: RFC 2543 requests lack it and must still be served (RFC 4475 §3.4.1).
MANDATORY_HEADERS = ("To", "From", "Call-ID", "CSeq", "Via")

# Header fields whose grammar allows one value only (RFC 3261 §7.3.1, §20).
SINGLE_VALUED_HEADERS = (
    "To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type", "Expires",
)


def _bad(reason: str, status: int = 400, headers: tuple[tuple[str, str], ...] = ()) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=status, headers=headers)


def _media_range_matches(media_range: str, wanted: str) -> bool:
    """Whether an Accept media-range (RFC 3261 §20.1) covers ``wanted`` ("type/subtype")."""
    match = grammar.MEDIA_TYPE_RE.fullmatch(media_range.strip())
    if match is None:
        return False
    kind, subtype = match["type"].lower(), match["subtype"].lower()
    wanted_kind, _, wanted_subtype = wanted.partition("/")
    if kind == "*":
        return subtype == "*"
    return kind == wanted_kind and subtype in ("*", wanted_subtype)


def check_request(
    request: Request,
    *,
    supported: frozenset[str] = frozenset(),
    accepted_content_types: frozenset[str] = DEFAULT_ACCEPTED_CONTENT_TYPES,
    methods: frozenset[str] | None = None,
) -> RemoteProtocolError | None:
    """Check a request as a UAS must before processing it (RFC 3261 §8.2.1-§8.2.3).

    ``supported``: option tags this UAS implements (anything else in Require
    gives 420 with Unsupported, §8.2.2.3). ``accepted_content_types``: body
    types understood (else 415 with Accept, §8.2.3). ``methods``: when given,
    a method outside it gives 501 with Allow (§8.2.1). Returns the error to
    answer with, or None when the request may be handled.
    """
    headers = request.headers
    # §8.1.1 / RFC 4475 §3.3.1: the fields that identify the transaction and dialog.
    missing = [name for name in MANDATORY_HEADERS if name not in headers]
    if missing:
        return _bad(f"missing {', '.join(missing)} header{'s' if len(missing) > 1 else ''}")
    # RFC 4475 §3.3.8: a single-valued field given twice leaves no way to pick one.
    for name in SINGLE_VALUED_HEADERS:
        if len(headers.get_all(name)) > 1:
            return _bad(f"several {name} header fields")
    try:
        cseq = request.cseq
        request.from_  # noqa: B018 - parsed for validation only
        request.to  # noqa: B018
        request.vias  # noqa: B018
        request.max_forwards  # noqa: B018
        request.contacts  # noqa: B018
        call_id = request.call_id
    except RemoteProtocolError as error:
        return error
    if grammar.CALLID_RE.fullmatch(call_id) is None:
        return _bad(f"malformed Call-ID {call_id[:60]!r}")
    # §8.2.6 / RFC 4475 §3.1.2.17-18: CSeq names the method of the request it is in.
    if cseq.method != request.method:
        return _bad(f"CSeq method {cseq.method[:30]!r} does not match the Request-Line method {request.method[:30]!r}")
    # §8.2.1: a method we do not implement.
    if methods is not None and request.method not in methods and request.method != "ACK":
        return _bad(
            f"method {request.method[:30]!r} not implemented", 501, (("Allow", ", ".join(sorted(methods))),)
        )
    # §8.2.2.1: a Request-URI scheme we do not understand.
    if request.uri.scheme not in KNOWN_SCHEMES:
        return _bad(f"unsupported URI scheme {request.uri.scheme[:30]!r}", 416)
    # §8.2.2.3: option tags required of us that we do not support.
    if request.method not in ("ACK", "CANCEL"):
        required = request.require
        for tag in required:
            if grammar.OPTION_TAG_RE.fullmatch(tag) is None:
                return _bad(f"malformed option tag {tag[:30]!r} in Require")
        unsupported = [tag for tag in required if tag not in supported]
        if unsupported:
            listed = ", ".join(unsupported)
            return _bad(f"unsupported extensions required: {listed}", 420, (("Unsupported", listed),))
    # §8.2.3: a body we cannot read.
    if request.body:
        content_type = request.content_type
        if content_type is None:
            return _bad("a body without Content-Type (RFC 3261 §7.4.1)")
        if content_type not in accepted_content_types:
            accept = ", ".join(sorted(accepted_content_types))
            return _bad(f"unsupported Content-Type {content_type[:60]!r}", 415, (("Accept", accept),))
        encodings = [e.lower() for e in headers.values("Content-Encoding") if e.lower() != "identity"]
        if encodings:
            return _bad(f"unsupported Content-Encoding {encodings[0][:30]!r}", 415, (("Accept-Encoding", "identity"),))
    # §8.2.3 / RFC 4475 §3.3.15: the answer to an INVITE carries SDP, so Accept must allow it.
    if request.method == "INVITE" and "Accept" in headers:
        ranges = headers.values("Accept")
        if ranges and not any(_media_range_matches(r, "application/sdp") for r in ranges):
            return _bad("Accept does not allow application/sdp", 406, (("Accept", "application/sdp"),))
    return None


# Characters a Reason-Phrase may not hold (RFC 3261 §25.1: reserved, unreserved, SP, HTAB, non-ASCII).
_NOT_REASON_CHARS = re.compile(r"[^A-Za-z0-9\-_.!~*'();/?:@&=+$, \t\x80-\U0010ffff]")


def build_error_response(
    request: Request, error: RemoteProtocolError, *, to_tag: str | None = None
) -> Response | None:
    """The response a UAS sends for ``error`` (RFC 3261 §8.2.6), or None when none can be sent.

    None when the error's status hint is None or the request has no Via to send
    a response along. A 400 carries the reason as its reason phrase (§21.4.1
    asks for the problem to be named there); the error's extra headers
    (Unsupported, Accept, Allow) are added. A To tag is generated unless given.
    """
    status = error.status_hint
    if status is None or request.headers.get("Via") is None:
        return None
    reason: str | None = None
    if status == 400:
        reason = _NOT_REASON_CHARS.sub(" ", error.reason)[:120].strip() or None
    response = make_response(request, status, reason, to_tag=to_tag or secrets.token_hex(6))
    for name, value in error.headers:
        response.headers.add(name, value)
    return response
