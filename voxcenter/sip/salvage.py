"""Answering requests too broken to parse (RFC 3261 §8.2, §18.2.1).

When ``parse_message`` refuses a request, a 400 can still be sent if the
headers a response needs (Via, From, To, Call-ID, CSeq) can be picked out of
the raw text line by line. If any is missing or the start line is not a
request, nothing is sent: a response to a broken response, or one with no
usable Via, would only add noise.
"""

from __future__ import annotations

import re

from voxcenter.sip.message import COMPACT_FORMS, Response, canonical_name

_NEEDED = ("Via", "From", "To", "Call-ID", "CSeq")
# Loose on purpose: extra spaces and spaces inside the URI are among the errors being answered
# (RFC 4475 §3.1.2.8, §3.1.2.9).
_REQUEST_LINE = re.compile(r"^[A-Za-z!%*_+`'~.\-]+ +\S.* +SIP/\d+\.\d+ *$")
_REASON_UNSAFE = re.compile(r"[^A-Za-z0-9 \-_.,:;()/'=+]")


def salvage_error_response(data: bytes, status: int, reason: str, to_tag: str) -> Response | None:
    """Build ``status`` for a request that failed to parse, or None when no response can be formed."""
    text = data[:16384].decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)
    if not lines or not _REQUEST_LINE.match(lines[0]) or lines[0].split(" ", 1)[0] == "ACK":
        return None  # responses and ACKs are never answered (§17.1.1.3)
    found: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name = name.strip()
        if len(name) == 1 and name.lower() in COMPACT_FORMS:
            name = COMPACT_FORMS[name.lower()]
        name = canonical_name(name)
        if name in _NEEDED:
            found.setdefault(name, []).append(value.strip())
    if any(name not in found for name in _NEEDED):
        return None
    response = Response(status=status, reason=_REASON_UNSAFE.sub(" ", reason)[:100].strip() or "Bad Request")
    for name in _NEEDED:
        for value in found[name]:
            if name == "To" and "tag=" not in value.lower():
                value = f"{value};tag={to_tag}"
            response.headers.add(name, value)
    return response
