"""SIP requests and responses (RFC 3261 §7): the data model, parsing and serialization.

Header values are kept as the text that arrived (folding undone) and parsed on
demand by the typed accessors, so a proxy-like path that only reads Via, CSeq
and Call-ID never pays for parsing a Contact. An accessor parses its header
once: the result is kept on the :class:`Headers` until a field changes, since
the transaction layer, the dialog layer and the endpoint each read From, To,
CSeq and Via of the same message. Header *names* are canonicalized at parse
time (compact forms expanded, case fixed for the well-known ones) so that
lookups are plain list scans comparing interned strings.

Parsing (:mod:`voxcenter.sip.parser`, re-exported here) checks the framing
and the start line against RFC 3261 §25 and CSeq
(every layer relies on it); the other headers are checked by the accessor that
reads them. Errors on a response always carry ``status_hint=None``: nobody
answers a response.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar, cast

from voxcenter.sip import grammar
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.uri import (
    NameAddr,
    SipUri,
    Via,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_header_list,
)

SIP_VERSION = "SIP/2.0"

_T = TypeVar("_T")

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
_ALREADY_CANONICAL = frozenset(_WELL_KNOWN)

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
    """Return the canonical spelling of a header name (compact forms expanded, RFC 3261 §7.3.3)."""
    if name in _ALREADY_CANONICAL:
        return name  # the layers' own lookups ("Via", "CSeq") skip the lower-casing
    if len(name) == 1:
        full = COMPACT_FORMS.get(name.lower())
        if full is not None:
            return full
    return _CANONICAL.get(name.lower(), name)


class Headers:
    """An ordered multimap of SIP header fields, names compared case-insensitively.

    It also keeps what the message accessors parsed out of its fields, by
    header name (see :meth:`parsed`); changing a field forgets what was parsed
    from that header only, so adding a Server header keeps the parsed To.
    """

    __slots__ = ("_items", "_parsed")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]
        self._parsed: dict[str, object] | None = None

    @classmethod
    def _from_canonical(cls, items: list[tuple[str, str]]) -> Headers:
        """Adopt a list whose names are already canonical (the parser's fast path)."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._parsed = None
        return headers

    def parsed(self, name: str, parse: Callable[[Headers], _T]) -> _T:
        """``parse(self)``, computed once and kept until a field called ``name`` (a canonical name) changes.

        ``parse`` must read no other header than ``name``. The value is shared by
        every reader of the message: treat it as read-only
        (``dataclasses.replace`` or ``SipUri.with_`` make a copy to change). A
        parse that raises is not kept: the next reader gets the same error.
        """
        cache = self._parsed
        if cache is None:
            cache = self._parsed = {}
        elif name in cache:
            return cast(_T, cache[name])
        value = parse(self)
        cache[name] = value
        return value

    def _changed(self, key: str) -> None:
        if self._parsed is not None:
            self._parsed.pop(key, None)

    def forget_parsed(self) -> None:
        """Drop what :meth:`parsed` kept; for a message kept long after it was handled (a lingering transaction's
        request), whose parsed fields would only give the garbage collector more objects to walk."""
        self._parsed = None

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
        """A shallow copy that can be changed independently."""
        return Headers._from_canonical(list(self._items))

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
        key = canonical_name(name)
        self._changed(key)
        self._items.append((key, value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a field before all others (a new top Via, a Route)."""
        key = canonical_name(name)
        self._changed(key)
        self._items.insert(0, (key, value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name with one, kept at the first one's place."""
        key = canonical_name(name)
        self._changed(key)
        for index, (n, _) in enumerate(self._items):
            if n == key:
                self._items[index] = (key, value)
                self._items[index + 1 :] = [(n2, v2) for n2, v2 in self._items[index + 1 :] if n2 != key]
                return
        self._items.append((key, value))

    def remove(self, name: str) -> None:
        """Remove every field of that name."""
        key = canonical_name(name)
        self._changed(key)
        self._items = [(n, v) for n, v in self._items if n != key]

    def remove_first(self, name: str) -> str | None:
        """Remove and return the first element of a list header (e.g. the top Via)."""
        key = canonical_name(name)
        self._changed(key)
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
    """Parse ``1*DIGIT LWS Method`` (RFC 3261 §20.16); the number must be below 2**31."""
    match = grammar.CSEQ_RE.fullmatch(value.strip())
    if match is None:
        raise RemoteProtocolError(f"malformed CSeq: {value[:60]!r}", status_hint=400)
    digits = match["number"]
    if len(digits) > 10 or int(digits) >= 2**31:
        raise RemoteProtocolError(f"CSeq number out of range (must be below 2**31): {digits[:40]}", status_hint=400)
    return CSeq(int(digits), match["method"])


def _single(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise RemoteProtocolError(f"missing {name} header", status_hint=400)
    return value


def _read_cseq(headers: Headers) -> CSeq:
    return parse_cseq(_single(headers, "CSeq"))


def _read_top_via(headers: Headers) -> Via:
    first = headers.get("Via")
    if first is None:
        raise RemoteProtocolError("missing Via header", status_hint=400)
    if "," in first:
        elements = split_header_list(first)
        if not elements:
            raise RemoteProtocolError("empty Via header", status_hint=400)
        first = elements[0]
    return parse_via(first)


def _read_from(headers: Headers) -> NameAddr:
    return parse_name_addr(_single(headers, "From"))


def _read_to(headers: Headers) -> NameAddr:
    return parse_name_addr(_single(headers, "To"))


def _read_contacts(headers: Headers) -> list[NameAddr]:
    return [parse_name_addr(v) for v in headers.values("Contact") if v.strip() != "*"]


_MONTHS = {
    name: index
    for index, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

_M = TypeVar("_M", bound="_Message")


def _accessor(read: Callable[[_M], _T]) -> Callable[[_M], _T]:
    """Give errors raised while reading a response's header status_hint None (responses are dropped)."""

    @functools.wraps(read)
    def wrapper(self: _M) -> _T:
        try:
            return read(self)
        except RemoteProtocolError as error:
            if isinstance(self, Response):
                error.status_hint = None
            raise

    return wrapper


@dataclass(slots=True, eq=False)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # --- typed accessors for the headers every layer reads -------------------
    # CSeq, the top Via, From, To and Contact are parsed once per message and
    # shared (Headers.parsed): the values are read-only.

    @property
    @_accessor
    def call_id(self) -> str:
        """Call-ID (RFC 3261 §20.8)."""
        return _single(self.headers, "Call-ID")

    @property
    @_accessor
    def cseq(self) -> CSeq:
        """CSeq (RFC 3261 §20.16)."""
        return self.headers.parsed("CSeq", _read_cseq)

    @property
    @_accessor
    def vias(self) -> list[Via]:
        """Every Via value, top first (RFC 3261 §20.42)."""
        return [parse_via(v) for v in self.headers.values("Via")]

    @property
    @_accessor
    def top_via(self) -> Via:
        """The first Via value (RFC 3261 §20.42); only that one is parsed."""
        return self.headers.parsed("Via", _read_top_via)

    @property
    @_accessor
    def from_(self) -> NameAddr:
        """From (RFC 3261 §20.20)."""
        return self.headers.parsed("From", _read_from)

    @property
    @_accessor
    def to(self) -> NameAddr:
        """To (RFC 3261 §20.39)."""
        return self.headers.parsed("To", _read_to)

    @property
    @_accessor
    def contacts(self) -> list[NameAddr]:
        """Contact values (RFC 3261 §20.10); a "*" (REGISTER removal) is left out."""
        return self.headers.parsed("Contact", _read_contacts)

    @property
    @_accessor
    def routes(self) -> list[NameAddr]:
        """Route values in order (RFC 3261 §20.34)."""
        return [parse_name_addr(v) for v in self.headers.values("Route")]

    @property
    @_accessor
    def record_routes(self) -> list[NameAddr]:
        """Record-Route values in order (RFC 3261 §20.30)."""
        return [parse_name_addr(v) for v in self.headers.values("Record-Route")]

    @property
    def content_type(self) -> str | None:
        """The media type of the body, lower-cased, parameters dropped (RFC 3261 §20.15)."""
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower().replace(" ", "").replace("\t", "") if value else None

    @property
    @_accessor
    def max_forwards(self) -> int | None:
        """Max-Forwards 0..255 (RFC 3261 §20.22), None when absent (RFC 2543 peers)."""
        value = self.headers.get("Max-Forwards")
        if value is None:
            return None
        value = value.strip()
        if grammar.DIGITS_RE.fullmatch(value) is None or len(value) > 6 or int(value) > 255:
            raise RemoteProtocolError(f"Max-Forwards must be 0..255: {value[:40]!r}", status_hint=400)
        return int(value)

    @property
    def expires(self) -> int | None:
        """Expires delta-seconds (RFC 3261 §20.19), None when absent.

        A malformed or overlarge value counts as 3600 (§20.19, RFC 4475 §3.1.2.4).
        """
        value = self.headers.get("Expires")
        if value is None:
            return None
        value = value.strip()
        if grammar.DIGITS_RE.fullmatch(value) is None or len(value) > 10 or int(value) > 2**32 - 1:
            return 3600
        return int(value)

    @property
    @_accessor
    def date(self) -> datetime | None:
        """Date (RFC 3261 §20.17, rfc1123-date in GMT), None when absent."""
        value = self.headers.get("Date")
        if value is None:
            return None
        match = grammar.SIP_DATE_RE.fullmatch(value.strip())
        if match is None:
            raise RemoteProtocolError(f"malformed Date (must be rfc1123-date in GMT): {value[:60]!r}", status_hint=400)
        try:
            return datetime(
                int(match["year"]), _MONTHS[match["month"]], int(match["day"]),
                int(match["hour"]), int(match["minute"]), int(match["second"]), tzinfo=UTC,
            )
        except ValueError:
            raise RemoteProtocolError(f"impossible Date: {value[:60]!r}", status_hint=400) from None

    @property
    def require(self) -> list[str]:
        """Option tags in Require (RFC 3261 §20.32)."""
        return self.headers.values("Require")

    @property
    def supported(self) -> list[str]:
        """Option tags in Supported (RFC 3261 §20.37)."""
        return self.headers.values("Supported")

    def encode_headers(self, start_line: str) -> bytes:
        """Start line and header fields, Content-Length set from ``body``, up to the empty line."""
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
        """Serialize to wire bytes; Content-Length always reflects ``body``."""
        return self.encode_headers(f"{SIP_VERSION} {self.status} {self.reason}") + self.body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} call_id={self.headers.get('Call-ID')!r}>"


Message = Request | Response


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


DIALOG_FORMING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
"""Requests whose 101..299 responses may create a dialog (RFC 3261 §12.1, RFC 6665, RFC 3515)."""


def make_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None) -> Response:
    """Build a response to ``request`` per RFC 3261 §8.2.6.

    Via (all values, in order), From, Call-ID and CSeq are copied; To is copied
    and gets ``to_tag`` when it has no tag yet (never for 100 Trying, §8.2.6.2). A response that may set up a
    dialog (101..299 to a request that starts one) copies the Record-Route values too, so that the caller's
    requests in the dialog pass through the proxies that asked to stay on the path (§12.1.1).
    """
    headers = Headers()
    dialog_forming = 100 < status < 300 and request.method in DIALOG_FORMING_METHODS
    for name, value in request.headers:
        if name in ("Via", "From", "Call-ID", "CSeq") or (name == "Record-Route" and dialog_forming):
            headers.add(name, value)
        elif name == "To":
            if to_tag is not None and status != 100 and ";tag=" not in value.replace(" ", "").lower():
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
        elif name == "Timestamp" and status == 100:
            headers.add(name, value)  # §8.2.6.1: a 100 copies Timestamp
    return Response(headers=headers, status=status, reason=reason or REASON_PHRASES.get(status, ""))


# The parser builds on the model above; it is re-exported so that ``voxcenter.sip.message`` stays the one import
# for both. voxcenter/sip/__init__.py imports this module first, so the cycle always resolves in this order.
from voxcenter.sip.parser import DEFAULT_LIMITS as DEFAULT_LIMITS  # noqa: E402
from voxcenter.sip.parser import MAX_HEADER_COUNT as MAX_HEADER_COUNT  # noqa: E402
from voxcenter.sip.parser import MAX_LINE_LENGTH as MAX_LINE_LENGTH  # noqa: E402
from voxcenter.sip.parser import MAX_MESSAGE_SIZE as MAX_MESSAGE_SIZE  # noqa: E402
from voxcenter.sip.parser import Limits as Limits  # noqa: E402
from voxcenter.sip.parser import MessageHead as MessageHead  # noqa: E402
from voxcenter.sip.parser import message_from_head as message_from_head  # noqa: E402
from voxcenter.sip.parser import parse_head as parse_head  # noqa: E402
from voxcenter.sip.parser import parse_message as parse_message  # noqa: E402
