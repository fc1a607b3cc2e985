"""Message framing on stream transports, TCP and TLS (RFC 3261 §18.3, RFC 5626 §4.4.1).

A stream carries messages back to back; each one ends after the empty line
plus Content-Length octets of body, so Content-Length is mandatory here.
CRLFs between messages are keepalives: a double CRLF is a ping that the
transport answers with a single CRLF pong, a single CRLF is that pong.

Sans-IO: the transport hands received bytes to :meth:`StreamParser.feed` and
gets whole messages back. A RemoteProtocolError means the stream can no longer
be framed; the transport closes the connection.
"""

from __future__ import annotations

from voxcenter.sip import grammar
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import DEFAULT_LIMITS, Limits, MessageHead, Request, Response, message_from_head, parse_head

_CRLF = b"\r\n"
_EMPTY_LINE = b"\r\n\r\n"


class StreamParser:
    """Reassemble SIP messages from a byte stream split anywhere (RFC 3261 §18.3)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        """Size limits; a message beyond them is an error."""
        self.pings_received = 0
        """Double-CRLF keepalive pings seen (RFC 5626 §4.4.1); the transport answers each
        batch with one CRLF and may reset this to 0."""
        self._buffer = bytearray()
        self._head: MessageHead | None = None
        self._body_length = 0
        self._scan_from = 0
        self._crlf_run = 0
        self._start_checked = False
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet part of a returned message."""
        return len(self._buffer)

    @property
    def in_message(self) -> bool:
        """Whether part of a message has arrived and the rest has not (keepalive CRLFs are not a message).

        The transport times such a message out: a peer trickling bytes must not hold a connection."""
        return self._head is not None or (bool(self._buffer) and self._buffer != b"\r")

    def feed(self, data: bytes) -> list[Request | Response]:
        """Take received bytes; return the messages they complete, in order.

        Raises RemoteProtocolError when the stream is not SIP or breaks a limit;
        the parser then stays broken (every later call raises the same error)
        and messages completed earlier in the same call are not returned, as
        the connection is closed anyway.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        messages: list[Request | Response] = []
        try:
            while True:
                message = self._next_message()
                if message is None:
                    return messages
                messages.append(message)
        except RemoteProtocolError as error:
            self._error = error
            raise

    def _skip_keepalives(self) -> None:
        buffer = self._buffer
        skipped = 0
        while buffer.startswith(_CRLF, skipped):
            skipped += 2
            self._crlf_run += 1
            if self._crlf_run == 2:
                self.pings_received += 1
                self._crlf_run = 0
        if skipped:
            del buffer[:skipped]
        if buffer and buffer != b"\r":
            self._crlf_run = 0

    def _next_message(self) -> Request | Response | None:
        buffer = self._buffer
        limits = self.limits
        if self._head is None:
            self._skip_keepalives()
            if not buffer or buffer == b"\r":
                return None
            if not self._start_checked:
                self._check_start_line()
            end = buffer.find(_EMPTY_LINE, self._scan_from)
            if end < 0:
                if len(buffer) > limits.max_message_size:
                    raise RemoteProtocolError(
                        f"header section larger than {limits.max_message_size} octets", status_hint=513
                    )
                self._scan_from = max(0, len(buffer) - 3)
                return None
            head = parse_head(bytes(buffer[:end]), limits)
            if head.content_length is None:
                raise RemoteProtocolError(
                    "missing Content-Length on a stream transport (RFC 3261 §18.3)",
                    status_hint=None if head.is_response else 400,
                )
            if end + 4 + head.content_length > limits.max_message_size:
                raise RemoteProtocolError(
                    f"message larger than {limits.max_message_size} octets", status_hint=513
                )
            del buffer[: end + 4]
            self._head = head
            self._body_length = head.content_length
            self._scan_from = 0
            self._start_checked = False
        if len(buffer) < self._body_length:
            return None
        body = bytes(buffer[: self._body_length])
        del buffer[: self._body_length]
        head, self._head = self._head, None
        return message_from_head(head, body)

    def _check_start_line(self) -> None:
        """Fail fast when the first line is not a SIP start line (TLS on a TCP port, HTTP, noise)."""
        buffer = self._buffer
        line_end = buffer.find(_CRLF)
        if line_end < 0:
            if len(buffer) > self.limits.max_line_length:
                raise RemoteProtocolError("start line too long", status_hint=None)
            return
        line = bytes(buffer[:line_end]).decode("utf-8", "surrogateescape")
        if line.startswith("SIP/"):
            looks_like_sip = grammar.STATUS_LINE_RE.fullmatch(line) is not None
        else:
            looks_like_sip = grammar.REQUEST_LINE_RE.fullmatch(line) is not None
        if not looks_like_sip:
            raise RemoteProtocolError(f"not a SIP start line: {line[:60]!r}", status_hint=None)
        self._start_checked = True
