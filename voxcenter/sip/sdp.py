"""SDP (RFC 8866) parsing and building, and the RFC 3264 offer/answer model for audio.

The data model is a faithful, frozen copy of the text: ``str(parse_sdp(x))``
gives the same lines back in RFC 8866 §5 order. Meaning is read through small
accessors (``rtpmaps()``, ``direction``, ``ptime`` ...) so that nothing is lost
for attributes voxcenter does not interpret.

Negotiation (``answer_offer``, ``create_offer``, ``accept_answer``) keeps one
audio stream and produces ``NegotiatedMedia``, everything the RTP layer needs.
Syntax errors raise ``RemoteProtocolError(status_hint=400)``; an offer we can
understand but not accept raises it with ``status_hint=488`` (Not Acceptable Here).
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError

MAX_SDP_SIZE = 65_535
MAX_LINES = 2_000
MAX_MEDIA = 64

RTP_PROFILES = frozenset({"RTP/AVP", "RTP/AVPF"})
"""Transport protocols we terminate (plain RTP; RTP/AVPF is RTP/AVP plus feedback we may ignore)."""

# RFC 3551 §6, table 4: static payload types usable without an rtpmap line.
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1), 17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
}

TELEPHONE_EVENT = "telephone-event"
DEFAULT_PTIME = 20
_DTMF_EVENTS = range(0, 16)  # RFC 4733 §3.2: digits 0-9, *, #, A-D

_SESSION_LETTERS = frozenset("vosiuepcbtrzka")
_MEDIA_LETTERS = frozenset("icbka")
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`{|}~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _bad(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"SDP: {reason}", status_hint=400)


def _not_acceptable(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"SDP: {reason}", status_hint=488)


class Direction(enum.Enum):
    """Media direction attributes (RFC 3264 §5.1, §6.1), always from the describing side's view."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reversed(self) -> Direction:
        """The same stream seen from the other side: sendonly ↔ recvonly (RFC 3264 §6.1)."""
        return Direction.from_flags(self.receives, self.sends)

    def limit(self, other: Direction) -> Direction:
        """What both allow: send only if both send, receive only if both receive."""
        return Direction.from_flags(self.sends and other.sends, self.receives and other.receives)


@dataclass(frozen=True, slots=True)
class Origin:
    """The o= line (RFC 8866 §5.2): identifies a session and the version of its description."""

    username: str
    """The originator's login, "-" when there is none."""
    session_id: str
    """Numeric session identifier, kept as text (phones send values beyond 64 bits)."""
    session_version: int
    """Incremented each time the description changes (RFC 3264 §8)."""
    address: str
    """The originator's address (not used for media)."""
    addr_type: str = "IP4"
    """"IP4" or "IP6"."""
    net_type: str = "IN"
    """Always "IN" (Internet)."""

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} {self.net_type} {self.addr_type} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A c= line (RFC 8866 §5.7)."""

    address: str
    """Unicast address or host name; multicast may carry "/ttl" suffixes."""
    addr_type: str = "IP4"
    """"IP4" or "IP6"."""
    net_type: str = "IN"
    """Always "IN"."""

    @property
    def host(self) -> str:
        """The address without multicast TTL / count suffixes."""
        return self.address.split("/", 1)[0]

    @property
    def is_hold_address(self) -> bool:
        """True for the RFC 2543 way to put a call on hold: c=IN IP4 0.0.0.0 (RFC 3264 §8.4)."""
        return self.host in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """An a= line: ``a=name`` (property) or ``a=name:value``."""

    name: str
    """Attribute name, case kept as received."""
    value: str | None = None
    """Text after the first colon; None for property attributes."""

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """What a payload type number means (a=rtpmap, RFC 8866 §6.6, or RFC 3551's static table)."""

    payload_type: int
    """RTP payload type, 0..127."""
    encoding: str
    """Encoding name as written ("PCMU", "telephone-event", "opus")."""
    clock_rate: int
    """RTP clock rate in Hz."""
    channels: int = 1
    """Audio channels."""

    def same_format(self, name: str, clock_rate: int, channels: int) -> bool:
        """Encoding names compare case-insensitively (RFC 4855 §3)."""
        return self.encoding.lower() == name.lower() and self.clock_rate == clock_rate and self.channels == channels


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One m= section (RFC 8866 §5.14) with its i=, c=, b= and a= lines."""

    media: str
    """"audio", "video", "application", ..."""
    port: int
    """Transport port; 0 means the stream is rejected or disabled (RFC 3264 §5.1, §6)."""
    proto: str
    """Transport protocol, e.g. "RTP/AVP"."""
    formats: tuple[str, ...]
    """Media formats; payload type numbers for RTP profiles."""
    port_count: int | None = None
    """The "/2" in "m=audio 49170/2 ..." (hierarchical coding), None when absent."""
    information: str | None = None
    """The i= title."""
    connection: Connection | None = None
    """Media-level c=, overriding the session-level one."""
    bandwidths: tuple[str, ...] = ()
    """b= values, e.g. "AS:64"."""
    attributes: tuple[Attribute, ...] = ()
    """a= lines in order."""

    def attribute(self, name: str) -> str | None:
        """Value of the first attribute of that name ("" for a property attribute), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value if attribute.value is not None else ""
        return None

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The formats as RTP payload type numbers (RTP profiles only; checked at parse time)."""
        if self.proto not in RTP_PROFILES:
            return ()
        return tuple(int(f) for f in self.formats)

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type → meaning, for every listed format whose meaning is known (RFC 3551 statics included)."""
        explicit: dict[int, RtpMap] = {}
        for attribute in self.attributes:
            if attribute.name == "rtpmap" and attribute.value is not None:
                rtpmap = parse_rtpmap(attribute.value)
                explicit.setdefault(rtpmap.payload_type, rtpmap)
        out: dict[int, RtpMap] = {}
        for pt in self.payload_types:
            if pt in explicit:
                out[pt] = explicit[pt]
            elif pt in STATIC_PAYLOAD_TYPES:
                out[pt] = RtpMap(pt, *STATIC_PAYLOAD_TYPES[pt])
        return out

    def fmtp(self, payload_type: int) -> str | None:
        """Format parameters of ``payload_type`` (a=fmtp, RFC 8866 §6.15)."""
        for attribute in self.attributes:
            if attribute.name == "fmtp" and attribute.value is not None:
                pt, _, params = attribute.value.partition(" ")
                if pt == str(payload_type):
                    return params.strip()
        return None

    @property
    def ptime(self) -> int | None:
        """a=ptime in whole milliseconds (RFC 8866 §6.4), None when absent."""
        return _milliseconds(self.attribute("ptime"), "ptime")

    @property
    def maxptime(self) -> int | None:
        """a=maxptime in whole milliseconds (RFC 8866 §6.5), None when absent."""
        return _milliseconds(self.attribute("maxptime"), "maxptime")

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, None when absent."""
        return _direction_of(self.attributes)

    @property
    def rtcp_mux(self) -> bool:
        """a=rtcp-mux: RTP and RTCP share one port (RFC 5761 §5.1.1)."""
        return any(a.name == "rtcp-mux" for a in self.attributes)

    @property
    def rtcp(self) -> tuple[int, str | None] | None:
        """a=rtcp port and optional address (RFC 3605 §2.1)."""
        value = self.attribute("rtcp")
        if value is None:
            return None
        parts = value.split()
        if not parts or not parts[0].isdigit() or int(parts[0]) > 65535:
            raise _bad(f"malformed a=rtcp: {value!r}")
        if len(parts) == 1:
            return int(parts[0]), None
        if len(parts) != 4 or parts[1] != "IN":
            raise _bad(f"malformed a=rtcp: {value!r}")
        return int(parts[0]), _check_address(parts[2], parts[3])

    def __str__(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.extend(f"b={b}" for b in self.bandwidths)
        lines.extend(f"a={a}" for a in self.attributes)
        return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body (RFC 8866 §5). ``str()`` builds it, CRLF line ends, RFC order."""

    origin: Origin
    """The o= line."""
    session_name: str = "-"
    """The s= line."""
    information: str | None = None
    """The i= line."""
    uri: str | None = None
    """The u= line."""
    emails: tuple[str, ...] = ()
    """e= lines."""
    phones: tuple[str, ...] = ()
    """p= lines."""
    connection: Connection | None = None
    """Session-level c=, the default for every m= section."""
    bandwidths: tuple[str, ...] = ()
    """Session-level b= values."""
    times: tuple[str, ...] = ("t=0 0",)
    """The timing lines as written (t=, r= and z=), "t=0 0" for the permanent sessions of telephony."""
    attributes: tuple[Attribute, ...] = ()
    """Session-level a= lines."""
    media: tuple[MediaDescription, ...] = ()
    """The m= sections in order."""

    @property
    def direction(self) -> Direction | None:
        """The session-level direction attribute, None when absent."""
        return _direction_of(self.attributes)

    def attribute(self, name: str) -> str | None:
        """Value of the first session-level attribute of that name ("" for a property), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value if attribute.value is not None else ""
        return None

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The c= that applies to ``media``: its own, else the session's (RFC 8866 §5.7)."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """Direction of ``media``: media attribute, else session attribute, else sendrecv (RFC 3264 §5.1).

        A c=0.0.0.0 from an RFC 2543 peer means "do not send to me" (RFC 3264 §8.4),
        so the stream's receive half is removed.
        """
        direction = media.direction or self.direction or Direction.SENDRECV
        connection = self.connection_for(media)
        if connection is not None and connection.is_hold_address:
            direction = direction.limit(Direction.SENDONLY)
        return direction

    def __str__(self) -> str:
        lines = ["v=0", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.extend(f"e={e}" for e in self.emails)
        lines.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.extend(f"b={b}" for b in self.bandwidths)
        lines.extend(self.times)
        lines.extend(f"a={a}" for a in self.attributes)
        return "\r\n".join(lines) + "\r\n" + "".join(str(m) for m in self.media)

    def encode(self) -> bytes:
        """The body bytes, UTF-8 (RFC 8866 §5)."""
        return str(self).encode("utf-8", "surrogateescape")


def _direction_of(attributes: Sequence[Attribute]) -> Direction | None:
    for attribute in attributes:
        if attribute.value is None:
            try:
                return Direction(attribute.name)
            except ValueError:
                continue
    return None


def _milliseconds(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        ms = float(value.strip())
    except ValueError:
        raise _bad(f"malformed a={name}: {value!r}") from None
    if not 0 < ms <= 1000:
        raise _bad(f"a={name} out of range: {value!r}")
    return max(1, round(ms))


def parse_rtpmap(value: str) -> RtpMap:
    """Parse an a=rtpmap value: ``<pt> <encoding>/<clock rate>[/<channels>]`` (RFC 8866 §6.6)."""
    pt_text, _, rest = value.strip().partition(" ")
    parts = rest.strip().split("/")
    if not pt_text.isdigit() or int(pt_text) > 127 or len(parts) not in (2, 3) or not parts[0]:
        raise _bad(f"malformed a=rtpmap: {value!r}")
    if not parts[1].isdigit() or (len(parts) == 3 and not parts[2].isdigit()):
        raise _bad(f"malformed a=rtpmap: {value!r}")
    channels = int(parts[2]) if len(parts) == 3 else 1
    if int(parts[1]) == 0 or channels == 0:
        raise _bad(f"a=rtpmap with zero clock rate or channels: {value!r}")
    return RtpMap(int(pt_text), parts[0], int(parts[1]), channels)


def _check_address(addr_type: str, address: str) -> str:
    host = address.split("/", 1)[0]
    if addr_type not in ("IP4", "IP6"):
        raise _bad(f"unsupported address type {addr_type!r}")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # RFC 8866 §5.7 allows a fully qualified domain name, but not a mangled IPv4 literal.
        if not host or not all(c.isalnum() or c in "-." for c in host) or host.replace(".", "").isdigit():
            raise _bad(f"malformed {addr_type} address {address!r}") from None
        return address
    if (ip.version == 4) != (addr_type == "IP4"):
        raise _bad(f"address {host!r} is not {addr_type}")
    return address


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN":
        raise _bad(f"malformed c= line: {value!r}")
    return Connection(_check_address(parts[1], parts[2]), parts[1], parts[0])


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6 or parts[3] != "IN":
        raise _bad(f"malformed o= line: {value!r}")
    username, session_id, version, net_type, addr_type, address = parts
    if not session_id.isdigit() or not version.isdigit():
        raise _bad(f"o= session id and version must be numbers: {value!r}")
    return Origin(username, session_id, int(version), _check_address(addr_type, address), addr_type, net_type)


def _parse_media_line(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4:
        raise _bad(f"malformed m= line (needs media, port, proto and a format): {value!r}")
    media, port_text, proto, *formats = parts
    port_part, slash, count_part = port_text.partition("/")
    if not port_part.isdigit() or int(port_part) > 65535 or (slash and not count_part.isdigit()):
        raise _bad(f"malformed port in m= line: {value!r}")
    if proto in RTP_PROFILES and not all(f.isdigit() and int(f) <= 127 for f in formats):
        raise _bad(f"RTP payload types must be numbers 0..127: {value!r}")
    return MediaDescription(media, int(port_part), proto, tuple(formats), int(count_part) if slash else None)


@dataclass(slots=True)
class _Section:
    """The lines common to the session level and an m= section, gathered while parsing."""

    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse an SDP body (RFC 8866 §5); LF line ends are accepted as well as CRLF.

    Raises RemoteProtocolError(status_hint=400) saying which line is wrong.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_SDP_SIZE:
            raise _bad("body too large")
        text = data.decode("utf-8", "surrogateescape")
    else:
        text = data
    if "\x00" in text:
        raise _bad("NUL character in body")
    lines = [line.rstrip(" \t\r") for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > MAX_LINES:
        raise _bad("too many lines")
    if not lines or lines[0] != "v=0":
        raise _bad("the first line must be v=0")

    singles: dict[str, str] = {}  # o=, s=, u=
    emails: list[str] = []
    phones: list[str] = []
    times: list[str] = []
    session = _Section()
    section = session
    media_lines: list[tuple[MediaDescription, _Section]] = []

    for number, line in enumerate(lines[1:], start=2):
        if len(line) < 2 or line[1] != "=" or not line[0].islower():
            raise _bad(f"line {number} is not <letter>=<value>: {line[:40]!r}")
        letter, value = line[0], line[2:]
        if letter == "m":
            if len(media_lines) >= MAX_MEDIA:
                raise _bad("too many m= lines")
            section = _Section()
            media_lines.append((_parse_media_line(value), section))
            continue
        allowed = _MEDIA_LETTERS if media_lines else _SESSION_LETTERS
        if letter not in allowed:
            where = "inside an m= section" if letter in _SESSION_LETTERS else "of unknown type"
            raise _bad(f"line {number} {letter}= is {where}")
        if letter == "a":
            name, colon, attr_value = value.partition(":")
            if not name or any(c not in _TOKEN_CHARS for c in name):
                raise _bad(f"line {number}: malformed attribute name {value[:40]!r}")
            section.attributes.append(Attribute(name, attr_value if colon else None))
        elif letter == "b":
            if ":" not in value:
                raise _bad(f"line {number}: malformed b= line {value!r}")
            section.bandwidths.append(value)
        elif letter == "c":
            if section.connection is not None:
                raise _bad(f"line {number}: several c= lines in one section")
            section.connection = _parse_connection(value)
        elif letter == "i":
            section.information = value
        elif letter == "k":
            continue  # k= is obsolete (RFC 8866 §5.12) and never used by voxcenter
        elif letter in "tzr":
            if letter == "t" and (len(value.split()) != 2 or not all(p.isdigit() for p in value.split())):
                raise _bad(f"line {number}: malformed t= line {value!r}")
            if letter == "r" and not times:
                raise _bad(f"line {number}: r= before any t=")
            times.append(line)
        elif letter in "osu":
            if letter in singles:
                raise _bad(f"line {number}: several {letter}= lines")
            singles[letter] = value
        elif letter == "e":
            emails.append(value)
        elif letter == "p":
            phones.append(value)
        else:
            raise _bad(f"line {number}: a second v= line")

    if "o" not in singles:
        raise _bad("missing o= line")
    media = tuple(
        replace(
            m,
            information=part.information,
            connection=part.connection,
            bandwidths=tuple(part.bandwidths),
            attributes=tuple(part.attributes),
        )
        for m, part in media_lines
    )
    return SessionDescription(
        origin=_parse_origin(singles["o"]),
        session_name=singles.get("s", "-"),
        information=session.information,
        uri=singles.get("u"),
        emails=tuple(emails),
        phones=tuple(phones),
        connection=session.connection,
        bandwidths=tuple(session.bandwidths),
        times=tuple(times) or ("t=0 0",),
        attributes=tuple(session.attributes),
        media=media,
    )


# --- RFC 3264 offer/answer ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """An audio format we can send and receive, matched by name, clock rate and channels."""

    name: str
    """Encoding name ("PCMU"); compared case-insensitively."""
    clock_rate: int = 8000
    """RTP clock rate in Hz."""
    channels: int = 1
    """Audio channels."""
    static_payload_type: int | None = None
    """RFC 3551 static payload type, None for formats that need a dynamic one."""


PCMU = Codec("PCMU", 8000, 1, 0)
PCMA = Codec("PCMA", 8000, 1, 8)
G722 = Codec("G722", 8000, 1, 9)
DEFAULT_CODECS: tuple[Codec, ...] = (PCMU, PCMA)


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of offer/answer for the one audio stream: what the RTP session is set up with."""

    media_index: int
    """Index of the m= section carrying the audio stream."""
    remote_address: str
    """Where to send RTP (from c=); "0.0.0.0" for an RFC 2543 hold, in which case ``direction`` does not send."""
    remote_port: int
    """Where to send RTP."""
    remote_rtcp_address: str
    """Where to send RTCP (a=rtcp address, else the RTP address)."""
    remote_rtcp_port: int
    """Where to send RTCP: the RTP port with rtcp-mux, else a=rtcp, else RTP port + 1 (RFC 3550 §11)."""
    rtcp_mux: bool
    """RTP and RTCP share a port in both directions (RFC 5761)."""
    codec: str
    """Encoding name of the voice codec, as the peer wrote it."""
    payload_type: int
    """Payload type number to send and expect for the voice codec."""
    clock_rate: int
    """RTP clock rate of the voice codec in Hz."""
    channels: int
    """Audio channels of the voice codec."""
    telephone_event_payload_type: int | None
    """Payload type of RFC 4733 telephone-events, None when the peer does not support them."""
    ptime: int
    """Packetization time to send with, in milliseconds."""
    direction: Direction
    """Our direction: SENDONLY means we send and must not expect media, and so on."""


def _rejected(media: MediaDescription) -> MediaDescription:
    """A declined stream in an answer: same media and proto, port 0, formats kept (RFC 3264 §6)."""
    return MediaDescription(media.media, 0, media.proto, media.formats)


def _addr_type(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"  # a host name


def _event_range(offered_fmtp: str | None) -> str:
    """The DTMF events both sides handle, as an RFC 4733 §7.1.1 event list (default 0-15)."""
    if not offered_fmtp:
        return "0-15"
    offered: set[int] = set()
    for item in offered_fmtp.replace(" ", "").split(","):
        low, _, high = item.partition("-")
        if low.isdigit() and (not high or high.isdigit()) and len(item) < 12:
            offered.update(range(int(low), int(high or low) + 1))
    events = [e for e in _DTMF_EVENTS if e in offered] or list(_DTMF_EVENTS)
    runs: list[str] = []
    start = previous = events[0]
    for event in [*events[1:], -2]:
        if event != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = event
        previous = event
    return ",".join(runs)


def _with_origin(
    body: SessionDescription, previous: SessionDescription | None, session_id: int | None, address: str
) -> SessionDescription:
    """Fill in o= by RFC 3264 §8: same id, version + 1 only when the description changed."""
    if previous is None:
        sid = str(session_id if session_id is not None else secrets.randbelow(2**62) + 1)
        return replace(body, origin=Origin("-", sid, 1, address, _addr_type(address)))
    unchanged = replace(body, origin=previous.origin)
    if unchanged == previous:
        return previous
    origin = replace(
        previous.origin,
        session_version=previous.origin.session_version + 1,
        address=address,
        addr_type=_addr_type(address),
    )
    return replace(body, origin=origin)


def _ptime(offer: SessionDescription, media: MediaDescription, default: int) -> int:
    ptime = media.ptime or _milliseconds(offer.attribute("ptime"), "ptime") or default
    maxptime = media.maxptime
    return min(ptime, maxptime) if maxptime else ptime


def _rtcp_target(media: MediaDescription, address: str, mux: bool) -> tuple[str, int]:
    if mux:
        return address, media.port
    rtcp = media.rtcp
    if rtcp is None:
        return address, media.port + 1
    return rtcp[1].split("/", 1)[0] if rtcp[1] else address, rtcp[0]


def answer_offer(
    offer: SessionDescription,
    local_address: str,
    local_port: int,
    supported_codecs: Sequence[Codec] = DEFAULT_CODECS,
    *,
    previous: SessionDescription | None = None,
    session_id: int | None = None,
    direction: Direction = Direction.SENDRECV,
    telephone_event: bool = True,
    rtcp_mux: bool = True,
    default_ptime: int = DEFAULT_PTIME,
) -> tuple[SessionDescription, NegotiatedMedia]:
    """Answer ``offer`` (RFC 3264 §6): accept the first audio stream we can, decline every other m= line.

    The voice codec is the first of ``supported_codecs`` (our order of preference)
    that the offer lists, answered with the offerer's payload type number;
    telephone-event is kept with the offerer's number. ``previous`` is the last
    description we sent in this dialog, for the o= line rules of §8.
    Raises RemoteProtocolError(488) when no audio stream can be accepted.
    """
    if not supported_codecs:
        raise LocalProtocolError("answer_offer needs at least one supported codec")
    answer_media: list[MediaDescription] = []
    negotiated: NegotiatedMedia | None = None
    offered_names: list[str] = []
    for index, media in enumerate(offer.media):
        if negotiated is not None or media.media != "audio" or media.port == 0 or media.proto not in RTP_PROFILES:
            answer_media.append(_rejected(media))
            continue
        rtpmaps = media.rtpmaps()
        offered_names.extend(f"{r.encoding}/{r.clock_rate}" for r in rtpmaps.values())
        voice = next(
            (
                rtpmaps[pt]
                for codec in supported_codecs
                for pt in media.payload_types
                if pt in rtpmaps and rtpmaps[pt].same_format(codec.name, codec.clock_rate, codec.channels)
            ),
            None,
        )
        connection = offer.connection_for(media)
        if voice is None or connection is None:
            if voice is not None:
                raise _bad(f"m= line {index + 1} has no c= line")
            answer_media.append(_rejected(media))
            continue
        event = None
        if telephone_event:
            event = next(
                (r for r in rtpmaps.values() if r.same_format(TELEPHONE_EVENT, voice.clock_rate, 1)), None
            )
        ptime = _ptime(offer, media, default_ptime)
        mux = rtcp_mux and media.rtcp_mux
        ours = offer.direction_for(media).reversed().limit(direction)
        attributes = [Attribute("rtpmap", f"{voice.payload_type} {voice.encoding}/{voice.clock_rate}"
                                + (f"/{voice.channels}" if voice.channels != 1 else ""))]
        formats = [str(voice.payload_type)]
        if event is not None:
            formats.append(str(event.payload_type))
            attributes.append(Attribute("rtpmap", f"{event.payload_type} {event.encoding}/{event.clock_rate}"))
            attributes.append(Attribute("fmtp", f"{event.payload_type} {_event_range(media.fmtp(event.payload_type))}"))
        attributes.append(Attribute("ptime", str(ptime)))
        if mux:
            attributes.append(Attribute("rtcp-mux"))
        attributes.append(Attribute(ours.value))
        answer_media.append(
            MediaDescription("audio", local_port, media.proto, tuple(formats), attributes=tuple(attributes))
        )
        rtcp_address, rtcp_port = _rtcp_target(media, connection.host, mux)
        negotiated = NegotiatedMedia(
            index, connection.host, media.port, rtcp_address, rtcp_port, mux, voice.encoding, voice.payload_type,
            voice.clock_rate, voice.channels, event.payload_type if event else None, ptime, ours,
        )
    if negotiated is None:
        if offered_names:
            wanted = ", ".join(f"{c.name}/{c.clock_rate}" for c in supported_codecs)
            raise _not_acceptable(f"no common codec: offered {', '.join(offered_names)}; we support {wanted}")
        raise _not_acceptable("no RTP/AVP audio stream offered")
    body = SessionDescription(
        origin=offer.origin,
        session_name="voxcenter",
        connection=Connection(local_address, _addr_type(local_address)),
        times=tuple(t for t in offer.times if t.startswith("t=")) or ("t=0 0",),
        media=tuple(answer_media),
    )
    return _with_origin(body, previous, session_id, local_address), negotiated


def create_offer(
    local_address: str,
    local_port: int,
    codecs: Sequence[Codec] = DEFAULT_CODECS,
    *,
    previous: SessionDescription | None = None,
    session_id: int | None = None,
    direction: Direction = Direction.SENDRECV,
    telephone_event_payload_type: int | None = 101,
    ptime: int = DEFAULT_PTIME,
    rtcp_mux: bool = False,
) -> SessionDescription:
    """An offer with one audio stream (RFC 3264 §5); pass ``previous`` for a re-offer (hold, unhold, §8)."""
    if not codecs:
        raise LocalProtocolError("create_offer needs at least one codec")
    formats: list[str] = []
    attributes: list[Attribute] = []
    used = {c.static_payload_type for c in codecs} | {telephone_event_payload_type}
    dynamic = (pt for pt in range(96, 128) if pt not in used)
    for codec in codecs:
        pt = codec.static_payload_type if codec.static_payload_type is not None else next(dynamic, None)
        if pt is None:
            raise LocalProtocolError("more codecs than dynamic payload types")
        formats.append(str(pt))
        channels = f"/{codec.channels}" if codec.channels != 1 else ""
        attributes.append(Attribute("rtpmap", f"{pt} {codec.name}/{codec.clock_rate}{channels}"))
    if telephone_event_payload_type is not None:
        formats.append(str(telephone_event_payload_type))
        attributes.append(Attribute("rtpmap", f"{telephone_event_payload_type} {TELEPHONE_EVENT}/8000"))
        attributes.append(Attribute("fmtp", f"{telephone_event_payload_type} 0-15"))
    attributes.append(Attribute("ptime", str(ptime)))
    if rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    attributes.append(Attribute(direction.value))
    media = MediaDescription("audio", local_port, "RTP/AVP", tuple(formats), attributes=tuple(attributes))
    body = SessionDescription(
        origin=Origin("-", "0", 0, local_address),
        session_name="voxcenter",
        connection=Connection(local_address, _addr_type(local_address)),
        media=(media,),
    )
    return _with_origin(body, previous, session_id, local_address)


def accept_answer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Check the answer to our ``offer`` and say how to send (RFC 3264 §6, §7).

    We send with the answer's payload type numbers. Raises RemoteProtocolError
    (488) when the answer breaks §6 or accepts no audio stream we offered.
    """
    if len(answer.media) != len(offer.media):
        raise _not_acceptable(f"answer has {len(answer.media)} m= lines, the offer had {len(offer.media)}")
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        if ours.media != theirs.media:
            raise _not_acceptable(f"m= line {index + 1} is {theirs.media!r} in the answer, {ours.media!r} in the offer")
        if ours.media != "audio" or ours.port == 0 or theirs.port == 0 or theirs.proto not in RTP_PROFILES:
            continue
        offered = list(ours.rtpmaps().values())
        rtpmaps = theirs.rtpmaps()
        chosen = (rtpmaps[pt] for pt in theirs.payload_types if pt in rtpmaps)
        voice = next(
            (
                r
                for r in chosen
                if r.encoding.lower() != TELEPHONE_EVENT
                and any(o.same_format(r.encoding, r.clock_rate, r.channels) for o in offered)
            ),
            None,
        )
        if voice is None:
            raise _not_acceptable(f"answer accepted m= line {index + 1} with no codec from our offer")
        connection = answer.connection_for(theirs)
        if connection is None:
            raise _bad(f"answer m= line {index + 1} has no c= line")
        event = None
        if any(o.encoding.lower() == TELEPHONE_EVENT for o in offered):
            event = next((r for r in rtpmaps.values() if r.same_format(TELEPHONE_EVENT, voice.clock_rate, 1)), None)
        mux = ours.rtcp_mux and theirs.rtcp_mux
        rtcp_address, rtcp_port = _rtcp_target(theirs, connection.host, mux)
        direction = offer.direction_for(ours).limit(answer.direction_for(theirs).reversed())
        return NegotiatedMedia(
            index, connection.host, theirs.port, rtcp_address, rtcp_port, mux, voice.encoding, voice.payload_type,
            voice.clock_rate, voice.channels, event.payload_type if event else None,
            _ptime(answer, theirs, ours.ptime or DEFAULT_PTIME), direction,
        )
    raise _not_acceptable("answer accepted no audio stream")
