"""SIP header-value types: URIs, name-addr, Via (RFC 3261 §19.1, §20.10, §20.42, §25)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from voxcenter.sip.errors import RemoteProtocolError

Params = dict[str, str | None]


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in quotes and <...>."""
    out: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            element = value[start:i].strip()
            if element:
                out.append(element)
            start = i + 1
        i += 1
    element = value[start:].strip()
    if element:
        out.append(element)
    return out


def parse_params(text: str) -> Params:
    """Parse ``;a=b;c`` (leading ';' optional) into an ordered dict; names lower-cased."""
    params: Params = {}
    for part in _split_unquoted(text, ";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        params[name.strip().lower()] = value.strip() if eq else None
    return params


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_unquoted(text: str, sep: str) -> list[str]:
    out: list[str] = []
    start = 0
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == sep:
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return out


@dataclass(slots=True)
class SipUri:
    """A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966); other schemes keep their text in ``opaque``."""

    scheme: str
    """Lower-case scheme: "sip", "sips", "tel" or another."""
    user: str | None = None
    """User part, still %-escaped as received; the number for tel URIs."""
    password: str | None = None
    host: str = ""
    """Host name, IPv4 address or IPv6 reference with brackets ("[::1]")."""
    port: int | None = None
    params: Params = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    opaque: str | None = None
    """The text after the scheme for URI schemes voxcenter does not interpret."""

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        if self.scheme == "tel":
            return f"tel:{self.user or ''}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        text = f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}"
        if self.headers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return text

    @property
    def host_port(self) -> str:
        return self.host + (f":{self.port}" if self.port is not None else "")

    def with_(self, **changes: object) -> SipUri:
        """A copy with some fields changed (params and headers copied, not shared)."""
        clone = replace(self, params=dict(self.params), headers=dict(self.headers))
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse ``host[:port]`` with IPv6 references; raises RemoteProtocolError."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise RemoteProtocolError(f"unterminated IPv6 reference: {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise RemoteProtocolError(f"malformed host: {text!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host or any(c in host for c in " \t<>\"") :
        raise RemoteProtocolError(f"malformed host: {text!r}")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            raise RemoteProtocolError(f"malformed port: {text!r}")
        port = int(port_text)
    return host.lower(), port


def parse_uri(text: str) -> SipUri:
    """Parse a URI as it appears in a Request-URI or inside <...>."""
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme or not rest:
        raise RemoteProtocolError(f"malformed URI: {text!r}")
    scheme = scheme.lower()
    if any(c in text for c in " \t\r\n<>"):
        raise RemoteProtocolError(f"malformed URI: {text!r}")
    if scheme == "tel":
        number, _, params = rest.partition(";")
        return SipUri(scheme="tel", user=number, params=parse_params(params))
    if scheme not in ("sip", "sips"):
        return SipUri(scheme=scheme, opaque=rest)
    rest, _, header_text = rest.partition("?")
    user: str | None = None
    password: str | None = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    hostport, _, param_text = rest.partition(";")
    host, port = parse_host_port(hostport)
    headers: dict[str, str] = {}
    if header_text:
        for item in header_text.split("&"):
            k, _, v = item.partition("=")
            headers[k] = v
    return SipUri(scheme, user, password, host, port, parse_params(param_text), headers)


@dataclass(slots=True)
class NameAddr:
    """``"Display" <uri>;params`` as in From, To, Contact, Route (RFC 3261 §20.10)."""

    uri: SipUri
    display: str | None = None
    """Display name, unquoted and unescaped."""
    params: Params = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = ""
        if self.display:
            escaped = self.display.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    """Parse name-addr or addr-spec followed by header parameters."""
    text = text.strip()
    display: str | None = None
    if text.startswith('"'):
        i = 1
        chars: list[str] = []
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                chars.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                break
            chars.append(ch)
            i += 1
        else:
            raise RemoteProtocolError(f"unterminated quoted display name: {text!r}")
        display = "".join(chars)
        text = text[i + 1 :].lstrip()
        if not text.startswith("<"):
            raise RemoteProtocolError(f"display name without <uri>: {text!r}")
    lt = text.find("<")
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise RemoteProtocolError(f"unterminated <uri>: {text!r}")
        if display is None:
            display = text[:lt].strip() or None
        uri = parse_uri(text[lt + 1 : gt])
        params = parse_params(text[gt + 1 :])
    else:
        # addr-spec: parameters after the URI belong to the header, not the URI.
        uri_text, _, param_text = text.partition(";")
        if "?" in uri_text or "," in uri_text:
            raise RemoteProtocolError(f"addr-spec with reserved characters must use <>: {text!r}")
        uri = parse_uri(uri_text)
        params = parse_params(param_text)
    return NameAddr(uri=uri, display=display, params=params)


@dataclass(slots=True)
class Via:
    """One Via value (RFC 3261 §20.42)."""

    transport: str
    """Upper-case transport: UDP, TCP, TLS, SCTP, WS, WSS or another token."""
    host: str
    port: int | None = None
    params: Params = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


def parse_via(text: str) -> Via:
    protocol, _, rest = text.strip().partition(" ")
    parts = [p.strip() for p in protocol.split("/")]
    # Allow LWS around the slashes: "SIP / 2.0 / UDP host".
    if len(parts) != 3:
        joined = text.strip()
        pieces = [p.strip() for p in joined.split("/", 2)]
        if len(pieces) != 3:
            raise RemoteProtocolError(f"malformed Via: {text!r}")
        transport_and_rest = pieces[2].split(None, 1)
        if len(transport_and_rest) != 2:
            raise RemoteProtocolError(f"malformed Via: {text!r}")
        parts = [pieces[0], pieces[1], transport_and_rest[0]]
        rest = transport_and_rest[1]
    if parts[0].upper() != "SIP" or parts[1] != "2.0":
        raise RemoteProtocolError(f"unsupported Via protocol: {text!r}")
    sent_by, _, param_text = rest.strip().partition(";")
    host, port = parse_host_port(sent_by.strip())
    return Via(parts[2].upper(), host, port, parse_params(param_text))
