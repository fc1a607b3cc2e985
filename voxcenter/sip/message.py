"""SIP requests and responses (RFC 3261 §7): the data model, parsing and serialization.

Header values are kept as the text that arrived (folding undone) and parsed on
demand by the typed accessors, so a proxy-like path that only reads Via, CSeq
and Call-ID never pays for parsing a Contact. Header *names* are canonicalized
at parse time (compact forms expanded, case fixed for the well-known ones) so
that lookups are plain dict-free list scans on interned strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.uri import NameAddr, SipUri, Via, parse_name_addr, parse_uri, parse_via, split_header_list

SIP_VERSION = "SIP/2.0"

# RFC 3261 §7.3.3 and the registries since: compact form → full name.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_WELL_KNOWN = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
    "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info",
    "Event", "Expires", "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Priority", "Privacy", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To", "Referred-By",
    "Reply-To", "Require", "Retry-After", "Route", "RSeq", "Server", "Session-Expires", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
    "WWW-Authenticate",
]
_CANONICAL: dict[str, str] = {name.lower(): name for name in _WELL_KNOWN}

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1): they may be
# split across lines or joined with commas, and mean the same either way.
LIST_HEADERS = frozenset(
    {
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events", "Call-Info",
        "Contact", "Content-Encoding", "Content-Language", "Error-Info", "In-Reply-To", "Proxy-Require",
        "Record-Route", "Require", "Route", "Supported", "Unsupported", "Via", "Warning",
    }
)


def canonical_name(name: str) -> str:
    """Return the canonical spelling of a header name (compact forms expanded)."""
    if len(name) == 1:
        full = COMPACT_FORMS.get(name.lower())
        if full is not None:
            return full
    return _CANONICAL.get(name.lower(), name)


class Headers:
    """An ordered multimap of SIP header fields, names compared case-insensitively."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_name(name)
        return any(n == key for n, _ in self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field's value, or ``default``."""
        key = canonical_name(name)
        for n, v in self._items:
            if n == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every field line's value, in order (not split at commas)."""
        key = canonical_name(name)
        return [v for n, v in self._items if n == key]

    def values(self, name: str) -> list[str]:
        """For list headers: every element, lines and comma lists flattened, in order."""
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(split_header_list(value))
        return out

    def add(self, name: str, value: str) -> None:
        """Append a field at the end."""
        self._items.append((canonical_name(name), value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a field before all others (a new top Via, a Route)."""
        self._items.insert(0, (canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name with one, kept at the first one's place."""
        key = canonical_name(name)
        for index, (n, _) in enumerate(self._items):
            if n == key:
                self._items[index] = (key, value)
                self._items[index + 1 :] = [(n2, v2) for n2, v2 in self._items[index + 1 :] if n2 != key]
                return
        self._items.append((key, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self._items = [(n, v) for n, v in self._items if n != key]

    def remove_first(self, name: str) -> str | None:
        """Remove and return the first element of a list header (e.g. the top Via)."""
        key = canonical_name(name)
        for index, (n, v) in enumerate(self._items):
            if n == key:
                elements = split_header_list(v)
                if len(elements) > 1:
                    self._items[index] = (key, ", ".join(elements[1:]))
                else:
                    del self._items[index]
                return elements[0] if elements else ""
        return None


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (RFC 3261 §20.16)."""

    number: int
    """Sequence number, 0 .. 2**31 - 1."""
    method: str
    """The method of the request this sequence number belongs to."""

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise RemoteProtocolError(f"malformed CSeq: {value!r}", status_hint=400)
    number = int(parts[0])
    if number >= 2**31:
        raise RemoteProtocolError("CSeq number out of range", status_hint=400)
    return CSeq(number, parts[1])


@dataclass(slots=True, eq=False)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # --- typed accessors for the headers every layer reads -------------------

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if value is None:
            raise RemoteProtocolError("missing Call-ID", status_hint=400)
        return value

    @property
    def cseq(self) -> CSeq:
        value = self.headers.get("CSeq")
        if value is None:
            raise RemoteProtocolError("missing CSeq", status_hint=400)
        return parse_cseq(value)

    @property
    def vias(self) -> list[Via]:
        return [parse_via(v) for v in self.headers.values("Via")]

    @property
    def top_via(self) -> Via:
        values = self.headers.values("Via")
        if not values:
            raise RemoteProtocolError("missing Via", status_hint=400)
        return parse_via(values[0])

    @property
    def from_(self) -> NameAddr:
        value = self.headers.get("From")
        if value is None:
            raise RemoteProtocolError("missing From", status_hint=400)
        return parse_name_addr(value)

    @property
    def to(self) -> NameAddr:
        value = self.headers.get("To")
        if value is None:
            raise RemoteProtocolError("missing To", status_hint=400)
        return parse_name_addr(value)

    @property
    def contacts(self) -> list[NameAddr]:
        return [parse_name_addr(v) for v in self.headers.values("Contact") if v.strip() != "*"]

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    def encode_headers(self, start_line: str) -> bytes:
        lines = [start_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


@dataclass(slots=True, eq=False)
class Request(_Message):
    """A SIP request."""

    method: str = "OPTIONS"
    """Method token, case-sensitive (RFC 3261 §7.1)."""
    uri: SipUri = field(default_factory=lambda: parse_uri("sip:invalid"))
    """The Request-URI."""

    def encode(self) -> bytes:
        """Serialize to wire bytes; Content-Length always reflects ``body``."""
        return self.encode_headers(f"{self.method} {self.uri} {SIP_VERSION}") + self.body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call_id={self.headers.get('Call-ID')!r}>"


@dataclass(slots=True, eq=False)
class Response(_Message):
    """A SIP response."""

    status: int = 200
    """Status code, 100..699."""
    reason: str = "OK"
    """Reason phrase (may be empty)."""

    def encode(self) -> bytes:
        return self.encode_headers(f"{SIP_VERSION} {self.status} {self.reason}") + self.body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} call_id={self.headers.get('Call-ID')!r}>"


Message = Request | Response


MAX_MESSAGE_SIZE = 65_535
MAX_HEADER_COUNT = 256
MAX_LINE_LENGTH = 8_192


def parse_message(data: bytes, *, datagram: bool = True) -> Request | Response:
    """Parse one complete SIP message.

    With ``datagram`` (UDP), octets after Content-Length are dropped (RFC 3261
    §18.3) and a missing Content-Length means "the rest of the datagram".
    Raises RemoteProtocolError with the status to answer (or None to drop).
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise RemoteProtocolError("message too large", status_hint=513)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise RemoteProtocolError("no empty line after the headers", status_hint=400)
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    while lines and lines[0] == "":
        lines.pop(0)  # RFC 3261 §7.5: ignore CRLFs before the start line
    if not lines:
        raise RemoteProtocolError("empty message", status_hint=None)
    start = lines[0]
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(line) > MAX_LINE_LENGTH:
            raise RemoteProtocolError("header line too long", status_hint=400)
        if line[:1] in (" ", "\t"):
            if not fields:
                raise RemoteProtocolError("continuation line before any header", status_hint=400)
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip()
        if not colon or not name or " " in name:
            raise RemoteProtocolError(f"malformed header line: {line[:60]!r}", status_hint=400)
        fields.append((name, value.strip()))
        if len(fields) > MAX_HEADER_COUNT:
            raise RemoteProtocolError("too many header fields", status_hint=400)
    headers = Headers(fields)
    lengths = headers.get_all("Content-Length")
    if len(lengths) > 1:
        raise RemoteProtocolError("several Content-Length headers", status_hint=400)
    if lengths:
        if not lengths[0].isdigit():
            raise RemoteProtocolError("malformed Content-Length", status_hint=400)
        length = int(lengths[0])
        if length > len(body):
            raise RemoteProtocolError("Content-Length larger than the message", status_hint=400)
        body = body[:length]
    elif not datagram:
        raise RemoteProtocolError("missing Content-Length on a stream transport", status_hint=400)

    if start.startswith("SIP/"):
        version, _, rest = start.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != SIP_VERSION or len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise RemoteProtocolError(f"malformed status line: {start[:60]!r}", status_hint=None)
        return Response(headers=headers, body=body, status=int(code), reason=reason)
    parts = start.split(" ")
    if len(parts) != 3 or not all(parts):
        raise RemoteProtocolError(f"malformed request line: {start[:60]!r}", status_hint=400)
    method, uri_text, version = parts
    if version != SIP_VERSION:
        raise RemoteProtocolError(f"unsupported version {version!r}", status_hint=505)
    return Request(headers=headers, body=body, method=method, uri=parse_uri(uri_text))


REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted", 301: "Moved Permanently", 302: "Moved Temporarily",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 421: "Extension Required", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def make_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None) -> Response:
    """Build a response to ``request`` per RFC 3261 §8.2.6.

    Via (all values, in order), From, Call-ID and CSeq are copied; To is copied
    and gets ``to_tag`` when it has no tag yet (never for 100 Trying, §8.2.6.2).
    """
    headers = Headers()
    for name, value in request.headers:
        if name in ("Via", "From", "Call-ID", "CSeq"):
            headers.add(name, value)
        elif name == "To":
            if to_tag is not None and status != 100 and ";tag=" not in value.replace(" ", "").lower():
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
        elif name == "Timestamp" and status == 100:
            headers.add(name, value)  # §8.2.6.1: a 100 copies Timestamp
    return Response(headers=headers, status=status, reason=reason or REASON_PHRASES.get(status, ""))
