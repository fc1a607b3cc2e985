"""SDP (RFC 8866) parsing and building; the RFC 3264 offer/answer for audio is in :mod:`voxcenter.sip.offer_answer`.

The data model is a faithful, frozen copy of the text: ``str(parse_sdp(x))``
gives the same lines back in RFC 8866 §5 order. Meaning is read through small
accessors (``rtpmaps()``, ``direction``, ``ptime`` ...) so that nothing is lost
for attributes voxcenter does not interpret.

Negotiation (``answer_offer``, ``create_offer``, ``accept_answer``, re-exported
here) keeps one audio stream and produces ``NegotiatedMedia``, everything the RTP
layer needs. Syntax errors raise ``RemoteProtocolError(status_hint=400)``; an offer we can
understand but not accept raises it with ``status_hint=488`` (Not Acceptable Here).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from voxcenter.sip.errors import RemoteProtocolError

MAX_SDP_SIZE = 65_535
MAX_LINES = 2_000
MAX_MEDIA = 64

RTP_PROFILES = frozenset({"RTP/AVP", "RTP/AVPF"})
"""Transport protocols we terminate (plain RTP; RTP/AVPF is RTP/AVP plus feedback we may ignore)."""
SDES_PROFILES = frozenset({"RTP/SAVP", "RTP/SAVPF"})
"""SRTP keyed in the SDP itself (``a=crypto``, RFC 4568): accepted when the signalling is encrypted."""
DTLS_PROFILES = frozenset({"UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"})
"""SRTP keyed by a DTLS handshake on the media path (RFC 5764, WebRTC)."""
RTP_FORMATS = RTP_PROFILES | SDES_PROFILES | DTLS_PROFILES
"""Profiles whose m= formats are RTP payload type numbers."""

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
        if self.proto not in RTP_FORMATS:
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
    if proto in RTP_FORMATS and not all(f.isdigit() and int(f) <= 127 for f in formats):
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


# Offer/answer builds on the model above; it is re-exported so that ``voxcenter.sip.sdp`` stays the one import for
# both. voxcenter/sip/__init__.py imports this module first, so the cycle always resolves in this order.
from voxcenter.sip.offer_answer import DEFAULT_CODECS as DEFAULT_CODECS  # noqa: E402
from voxcenter.sip.offer_answer import G722 as G722  # noqa: E402
from voxcenter.sip.offer_answer import PCMA as PCMA  # noqa: E402
from voxcenter.sip.offer_answer import PCMU as PCMU  # noqa: E402
from voxcenter.sip.offer_answer import Codec as Codec  # noqa: E402
from voxcenter.sip.offer_answer import NegotiatedMedia as NegotiatedMedia  # noqa: E402
from voxcenter.sip.offer_answer import accept_answer as accept_answer  # noqa: E402
from voxcenter.sip.offer_answer import answer_offer as answer_offer  # noqa: E402
from voxcenter.sip.offer_answer import create_offer as create_offer  # noqa: E402
