"""Parsing SIP messages from octets (RFC 3261 §7, §18.3), with size limits.

:func:`parse_message` takes one complete message (a datagram, or a message a
stream framer cut out); the framer calls :func:`parse_head` and
:func:`message_from_head` itself. The message model is in :mod:`voxcenter.sip.message`,
which re-exports everything public here.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxcenter.sip import grammar
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import SIP_VERSION, Headers, Request, Response, canonical_name, parse_cseq
from voxcenter.sip.uri import parse_request_uri

MAX_MESSAGE_SIZE = 65_535
MAX_HEADER_COUNT = 256
MAX_LINE_LENGTH = 8_192


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits a parser enforces; exceeding one is the peer's fault (status hint 513)."""

    max_message_size: int = MAX_MESSAGE_SIZE
    """Start line, headers and body together, in octets."""
    max_header_count: int = MAX_HEADER_COUNT
    """Header field lines (continuation lines included)."""
    max_line_length: int = MAX_LINE_LENGTH
    """Characters in one line of the start line or header section."""


DEFAULT_LIMITS = Limits()

# Raw header name as received → canonical name; bounded so that a peer sending
# endless distinct names cannot grow it.
_NAME_CACHE: dict[str, str] = {}
_NAME_CACHE_SIZE = 2048


@dataclass(slots=True)
class MessageHead:
    """The start line and header fields of a message whose body has not been taken yet."""

    start_line: str
    """The first line, without CRLF."""
    fields: list[tuple[str, str]]
    """(canonical name, value) in order, folding undone."""
    content_length: int | None
    """The Content-Length value, or None when the message has none."""
    is_response: bool
    """True when the start line is a Status-Line."""


def _header_error(reason: str, is_response: bool, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=None if is_response else status)


def parse_head(head: bytes, limits: Limits = DEFAULT_LIMITS) -> MessageHead:
    """Parse the start line and header fields (RFC 3261 §7, §7.3.1): everything before the empty line.

    ``head`` holds no leading CRLFs and no final CRLF CRLF.
    """
    text = head.decode("utf-8", "surrogateescape")
    is_response = text[:4] == "SIP/"
    lines = text.split("\r\n")
    line_ends = len(lines) - 1
    if text.count("\r") != line_ends or text.count("\n") != line_ends:
        raise _header_error("bare CR or LF in the header section (lines end with CRLF)", is_response)
    if line_ends > limits.max_header_count:
        raise _header_error(f"more than {limits.max_header_count} header lines", is_response, 513)
    if max(map(len, lines)) > limits.max_line_length:
        raise _header_error(f"line longer than {limits.max_line_length} characters", is_response, 513)
    fields: list[tuple[str, str]] = []
    lengths: list[str] = []
    cache = _NAME_CACHE
    for line in lines[1:]:
        first = line[:1]
        if first == " " or first == "\t":
            # RFC 3261 §7.3.1: a continuation line is folded into the previous value with one SP.
            if not fields:
                raise _header_error("continuation line before any header field", is_response)
            name, value = fields[-1]
            more = line.strip(" \t")
            fields[-1] = (name, f"{value} {more}" if value and more else value or more)
            continue
        raw, colon, value = line.partition(":")
        if not colon:
            raise _header_error(f"header line without a colon: {line[:60]!r}", is_response)
        cached = cache.get(raw)
        if cached is None:
            stripped = raw.rstrip(" \t")
            if grammar.HEADER_NAME_RE.fullmatch(stripped) is None:
                raise _header_error(f"malformed header name {raw[:60]!r}", is_response)
            name = canonical_name(stripped)
            if len(cache) < _NAME_CACHE_SIZE:
                cache[raw] = name
        else:
            name = cached
        value = value.strip(" \t")
        if name == "Content-Length":
            lengths.append(value)
        fields.append((name, value))
    content_length: int | None = None
    if lengths:
        if len(lengths) > 1:
            raise _header_error("several Content-Length header fields", is_response)
        if grammar.DIGITS_RE.fullmatch(lengths[0]) is None:
            raise _header_error(f"malformed Content-Length {lengths[0][:40]!r}", is_response)
        if len(lengths[0]) > 10:
            raise _header_error("Content-Length too large", is_response, 513)
        content_length = int(lengths[0])
    return MessageHead(lines[0], fields, content_length, is_response)


def message_from_head(head: MessageHead, body: bytes) -> Request | Response:
    """Check the start line (RFC 3261 §7.1, §7.2) and CSeq, and build the message around ``body``."""
    start = head.start_line
    headers = Headers._from_canonical(head.fields)
    if head.is_response:
        status_match = grammar.STATUS_LINE_RE.fullmatch(start)
        if status_match is None:
            raise RemoteProtocolError(f"malformed Status-Line: {start[:60]!r}", status_hint=None)
        if status_match["version"] != SIP_VERSION:
            raise RemoteProtocolError(f"unsupported version {status_match['version']!r}", status_hint=None)
        message: Request | Response = Response(
            headers=headers, body=body, status=int(status_match["status"]), reason=status_match["reason"]
        )
    else:
        request_match = grammar.REQUEST_LINE_RE.fullmatch(start)
        if request_match is None:
            raise RemoteProtocolError(_request_line_problem(start), status_hint=400)
        version = request_match["version"]
        if version != SIP_VERSION:
            raise RemoteProtocolError(f"unsupported version {version[:20]!r}", status_hint=505)
        message = Request(
            headers=headers, body=body, method=request_match["method"], uri=parse_request_uri(request_match["uri"])
        )
    cseq_text = headers.get("CSeq")
    if cseq_text is not None:
        try:
            cseq = parse_cseq(cseq_text)
        except RemoteProtocolError as error:
            error.status_hint = None if head.is_response else 400
            raise
        headers._parsed = {"CSeq": cseq}  # every layer reads it next: keep it, as the accessor would
    return message


def _request_line_problem(start: str) -> str:
    """Say what is wrong with a Request-Line that does not match the grammar."""
    if start != start.rstrip(" \t"):
        return "whitespace at the end of the Request-Line"
    if "  " in start or "\t" in start:
        return "more than one SP between Request-Line elements"
    parts = start.split(" ")
    if len(parts) > 3:
        return f"Request-URI contains whitespace or the Request-Line has extra elements: {start[:60]!r}"
    return f"malformed Request-Line: {start[:60]!r}"


def parse_message(data: bytes, *, datagram: bool = True, limits: Limits = DEFAULT_LIMITS) -> Request | Response:
    """Parse one complete SIP message (RFC 3261 §7, §18.3).

    With ``datagram`` (UDP), octets after Content-Length are dropped and a
    missing Content-Length means "the rest of the datagram"; a Content-Length
    larger than the datagram is an error. On a stream the message must carry
    Content-Length. Raises RemoteProtocolError with the status to answer, or
    None (drop) for responses and for datagrams that are not SIP at all.
    """
    if len(data) > limits.max_message_size:
        raise RemoteProtocolError(f"message larger than {limits.max_message_size} octets", status_hint=513)
    offset = 0
    while data.startswith(b"\r\n", offset):
        offset += 2  # RFC 3261 §7.5: ignore CRLFs before the start line
    end = data.find(b"\r\n\r\n", offset)
    if end < 0:
        if offset == len(data):
            raise RemoteProtocolError("empty message", status_hint=None)
        raise RemoteProtocolError("no empty line after the header fields", status_hint=400)
    head = parse_head(data[offset:end], limits)
    body = data[end + 4 :]
    length = head.content_length
    if length is not None:
        if length > len(body):
            raise _header_error(
                f"Content-Length {length} larger than the {len(body)} octets of body received", head.is_response
            )
        if length < len(body):
            body = body[:length]
    elif not datagram:
        raise _header_error("missing Content-Length on a stream transport (RFC 3261 §18.3)", head.is_response)
    return message_from_head(head, body)
