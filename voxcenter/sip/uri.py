"""SIP header-value types: URIs, name-addr, Via (RFC 3261 §19.1, §20.10, §20.42, §25).

Parsing follows the ABNF in :mod:`voxcenter.sip.grammar`; every refusal raises
:class:`RemoteProtocolError` (status hint 400) with a reason naming the part
that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from voxcenter.sip import grammar
from voxcenter.sip.errors import RemoteProtocolError

Params = dict[str, str | None]


def _show(text: str, limit: int = 80) -> str:
    """A short repr of peer-supplied text for error reasons."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in quotes and <...> (RFC 3261 §7.3.1)."""
    if "," not in value:
        element = value.strip()
        return [element] if element else []
    if '"' not in value and "<" not in value:
        return [element for element in (part.strip() for part in value.split(",")) if element]
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


def _split_unquoted(text: str, sep: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)
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


def parse_params(text: str) -> Params:
    """Parse header parameters ``;a=b;c`` (RFC 3261 §25.1 generic-param) into an ordered dict.

    The leading ';' is optional; LWS around ';' and '=' is allowed; names are
    lower-cased, values kept as received (quoted strings keep their quotes).
    An empty parameter (";;") or a malformed one is refused.
    """
    text = text.strip()
    if not text:
        return {}
    if text[0] == ";":
        text = text[1:]
    params: Params = {}
    for part in _split_unquoted(text, ";"):
        part = part.strip(" \t")
        match = grammar.GENERIC_PARAM_RE.fullmatch(part)
        if match is None:
            what = "empty parameter" if not part else f"malformed parameter {_show(part)}"
            raise RemoteProtocolError(f"{what} in {_show(text)}")
        params[match["name"].lower()] = match["value"]
    return params


def format_params(params: Params) -> str:
    """Serialize parameters as ``;name=value;flag``."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def unescape(text: str) -> str:
    """Undo %-escaping (RFC 3261 §19.1.2, RFC 3986 §2.1); a '%' not followed by two hex digits stays."""
    if "%" not in text:
        return text
    return unquote(text, encoding="utf-8", errors="surrogateescape")


def _parse_uri_params(text: str) -> Params:
    """``;name=value;flag`` from a URI (uri-parameters); text already matched the grammar."""
    params: Params = {}
    for part in text[1:].split(";"):
        name, eq, value = part.partition("=")
        params[name.lower()] = value if eq else None
    return params


@dataclass(slots=True)
class SipUri:
    """A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966); other schemes keep their text in ``opaque``."""

    scheme: str
    """Lower-case scheme: "sip", "sips", "tel" or another."""
    user: str | None = None
    """User part, still %-escaped as received; the number for tel URIs."""
    password: str | None = None
    """Password part of the userinfo (deprecated by RFC 3261 §19.1.1, still parsed)."""
    host: str = ""
    """Host name, IPv4 address or IPv6 reference with brackets ("[::1]"), lower-cased."""
    port: int | None = None
    """Explicit port, or None when the URI has none."""
    params: Params = field(default_factory=dict)
    """URI parameters: names lower-cased, values as received (still %-escaped)."""
    headers: dict[str, str] = field(default_factory=dict)
    """URI headers (``?name=value&...``), names and values as received."""
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
        """``host[:port]`` as written in a Via sent-by or a Host-like context."""
        return self.host + (f":{self.port}" if self.port is not None else "")

    @property
    def unescaped_user(self) -> str | None:
        """The user part with %-escapes undone (RFC 3261 §19.1.2), e.g. for dial plan matching."""
        return None if self.user is None else unescape(self.user)

    def with_(self, **changes: object) -> SipUri:
        """A copy with some fields changed (params and headers copied, not shared)."""
        clone = replace(self, params=dict(self.params), headers=dict(self.headers))
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone


def _check_host(host: str, context: str) -> str:
    """Validate an already matched host; IPv6 references are checked for real (RFC 3261 §25.1 IPv6reference)."""
    if host[0] == "[":
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise RemoteProtocolError(f"malformed IPv6 reference {_show(host)} in {_show(context)}") from None
    return host.lower()


def _check_port(port_text: str | None, context: str) -> int | None:
    if port_text is None:
        return None
    port = int(port_text)
    if port > 65535:
        raise RemoteProtocolError(f"port out of range in {_show(context)}")
    return port


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse ``host[:port]`` (RFC 3261 §25.1 hostport) with IPv6 references; raises RemoteProtocolError."""
    text = text.strip()
    match = _HOSTPORT_RE.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"malformed host[:port] {_show(text)}")
    return _check_host(match["host"], text), _check_port(match["port"], text)


_HOSTPORT_RE = re.compile(rf"(?P<host>{grammar.HOST})(?::(?P<port>{grammar.PORT}))?")


def _parse_uri_exact(text: str) -> SipUri:
    """Parse a URI with no surrounding whitespace (RFC 3261 §25.1 SIP-URI / SIPS-URI / absoluteURI)."""
    scheme, colon, rest = text.partition(":")
    if not colon or grammar.SCHEME_RE.fullmatch(scheme) is None:
        raise RemoteProtocolError(f"malformed URI (no scheme) {_show(text)}")
    scheme = scheme.lower()
    if scheme == "sip" or scheme == "sips":
        match = grammar.SIP_URI_BODY_RE.fullmatch(rest)
        if match is None:
            raise RemoteProtocolError(f"malformed {scheme.upper()} URI {_show(text)}")
        params_text = match["params"]
        headers: dict[str, str] = {}
        header_text = match["headers"]
        if header_text:
            for item in header_text[1:].split("&"):
                name, _, value = item.partition("=")
                headers[name] = value
        return SipUri(
            scheme,
            match["user"],
            match["password"],
            _check_host(match["host"], text),
            _check_port(match["port"], text),
            _parse_uri_params(params_text) if params_text else {},
            headers,
        )
    if scheme == "tel":
        match = grammar.TEL_URI_BODY_RE.fullmatch(rest)
        if match is None:
            raise RemoteProtocolError(f"malformed tel URI {_show(text)}")
        params_text = match["params"]
        return SipUri("tel", user=match["number"], params=_parse_uri_params(params_text) if params_text else {})
    if grammar.ABSOLUTE_URI_BODY_RE.fullmatch(rest) is None:
        raise RemoteProtocolError(f"malformed {scheme} URI {_show(text)}")
    return SipUri(scheme=scheme, opaque=rest)


def parse_uri(text: str) -> SipUri:
    """Parse a URI as it appears in a Request-URI or inside <...> (surrounding whitespace ignored)."""
    return _parse_uri_exact(text.strip())


def parse_request_uri(text: str) -> SipUri:
    """Parse a Request-URI (RFC 3261 §7.1, §19.1.1): exact text, and no URI headers allowed."""
    if text[:1] == "<":
        raise RemoteProtocolError(f"Request-URI must not be enclosed in <> {_show(text)}")
    uri = _parse_uri_exact(text)
    if uri.headers:
        raise RemoteProtocolError(f"Request-URI must not carry URI headers {_show(text)}")
    return uri


# Parameters whose presence in one URI demands a match in the other (RFC 3261 §19.1.4).
_SIGNIFICANT_URI_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def _norm_params(params: Params) -> dict[str, str | None]:
    return {unescape(k).lower(): (None if v is None else unescape(v).lower()) for k, v in params.items()}


def uri_equal(a: SipUri, b: SipUri) -> bool:
    """URI equality per RFC 3261 §19.1.4 (SIP/SIPS) and RFC 3966 §4 (tel).

    Userinfo compares case-sensitively, host and parameters case-insensitively,
    all after %-unescaping; a missing port differs from an explicit one; the
    user, ttl, method, maddr and transport parameters must match when either
    URI has them, other parameters only when both do; URI headers must all match.
    """
    if a.scheme != b.scheme:
        return False
    if a.opaque is not None or b.opaque is not None:
        return a.opaque == b.opaque
    if a.scheme == "tel":
        if _tel_digits(a.user) != _tel_digits(b.user):
            return False
        return _norm_params(a.params) == _norm_params(b.params)
    if (a.user is None) != (b.user is None) or (a.password is None) != (b.password is None):
        return False
    if a.user is not None and unescape(a.user) != unescape(b.user or ""):
        return False
    if a.password is not None and unescape(a.password) != unescape(b.password or ""):
        return False
    if unescape(a.host).lower() != unescape(b.host).lower() or a.port != b.port:
        return False
    params_a = _norm_params(a.params)
    params_b = _norm_params(b.params)
    for name in _SIGNIFICANT_URI_PARAMS:
        if (name in params_a or name in params_b) and params_a.get(name) != params_b.get(name):
            return False
    for name in params_a.keys() & params_b.keys():
        if params_a[name] != params_b[name]:
            return False
    headers_a = {unescape(k).lower(): unescape(v) for k, v in a.headers.items()}
    headers_b = {unescape(k).lower(): unescape(v) for k, v in b.headers.items()}
    return headers_a == headers_b


def _tel_digits(number: str | None) -> str:
    """A tel number without visual separators (RFC 3966 §5.1.1), letters upper-cased."""
    return re.sub(r"[\-.()]", "", number or "").upper()


@dataclass(slots=True)
class NameAddr:
    """``"Display" <uri>;params`` as in From, To, Contact, Route (RFC 3261 §20.10)."""

    uri: SipUri
    """The address."""
    display: str | None = None
    """Display name, unquoted and unescaped."""
    params: Params = field(default_factory=dict)
    """Header parameters after the address (tag, expires, q, ...)."""

    @property
    def tag(self) -> str | None:
        """The tag parameter (RFC 3261 §19.3), or None."""
        return self.params.get("tag")

    def __str__(self) -> str:
        display = ""
        if self.display:
            display = f'"{_QUOTE_RE.sub(_quote_char, self.display)}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


# Characters that must travel as quoted-pair inside a quoted-string (RFC 3261 §25.1 qdtext).
_QUOTE_RE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f"\\]')


def _quote_char(match: re.Match[str]) -> str:
    ch = match.group()
    # CR and LF cannot be quoted (quoted-pair excludes them): a space keeps the header on one line.
    return " " if ch in "\r\n" else "\\" + ch


_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)


def unquote_string(quoted: str) -> str:
    """The content of a quoted-string (with its quotes) with quoted-pairs undone (RFC 3261 §25.1)."""
    inner = quoted[1:-1]
    return _QUOTED_PAIR_RE.sub(r"\1", inner) if "\\" in inner else inner


def parse_name_addr(text: str) -> NameAddr:
    """Parse ``name-addr / addr-spec`` followed by header parameters (RFC 3261 §20.10, §25.1 from-spec)."""
    text = text.strip()
    display: str | None = None
    if text[:1] == '"':
        match = grammar.QUOTED_STRING_RE.match(text)
        if match is None:
            raise RemoteProtocolError(f"unterminated quoted display name in {_show(text)}")
        display = unquote_string(match.group())
        rest = text[match.end() :].lstrip(" \t")
        if rest[:1] != "<":
            raise RemoteProtocolError(f"quoted display name without <uri> in {_show(text)}")
        return _parse_bracketed(rest, display, text)
    lt = text.find("<")
    if lt >= 0 and ";" not in text[:lt] and '"' not in text[:lt]:
        before = text[:lt].strip(" \t")
        if before:
            if grammar.DISPLAY_TOKENS_RE.fullmatch(before) is None:
                raise RemoteProtocolError(
                    f"display name must be tokens or a quoted string: {_show(before)}"
                )
            display = " ".join(before.split())
        return _parse_bracketed(text[lt:], display, text)
    # addr-spec: parameters after the URI belong to the header, not the URI.
    uri_text, semi, param_text = text.partition(";")
    uri_text = uri_text.rstrip(" \t")
    if "?" in uri_text or "," in uri_text:
        raise RemoteProtocolError(f"a URI holding ',', '?' or ';' must be enclosed in <> (RFC 3261 §20): {_show(text)}")
    uri = _parse_uri_exact(uri_text)
    params = parse_params(param_text) if semi else {}
    return NameAddr(uri=uri, display=display, params=params)


def _parse_bracketed(text: str, display: str | None, whole: str) -> NameAddr:
    """``<addr-spec> *(SEMI param)``; text starts at '<'."""
    gt = text.find(">")
    if gt < 0:
        raise RemoteProtocolError(f"unterminated <uri> in {_show(whole)}")
    inner = text[1:gt]
    if inner != inner.strip(" \t"):
        raise RemoteProtocolError(f"whitespace inside <> around the URI in {_show(whole)}")
    uri = _parse_uri_exact(inner)
    rest = text[gt + 1 :].strip(" \t")
    if rest and rest[0] != ";":
        raise RemoteProtocolError(f"unexpected text after <uri> in {_show(whole)}")
    return NameAddr(uri=uri, display=display, params=parse_params(rest) if rest else {})


@dataclass(slots=True)
class Via:
    """One Via value (RFC 3261 §20.42)."""

    transport: str
    """Upper-case transport: UDP, TCP, TLS, SCTP, WS, WSS or another token."""
    host: str
    """sent-by host, lower-cased (IPv6 in brackets)."""
    port: int | None = None
    """sent-by port, or None when absent."""
    params: Params = field(default_factory=dict)
    """Via parameters (branch, received, rport, maddr, ttl, ...)."""

    @property
    def branch(self) -> str | None:
        """The branch parameter (RFC 3261 §8.1.1.7), or None for an RFC 2543 peer."""
        return self.params.get("branch")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


def parse_via(text: str) -> Via:
    """Parse one via-parm (RFC 3261 §25.1): ``SIP/2.0/UDP host[:port];params``, LWS allowed per the ABNF."""
    text = text.strip()
    match = grammar.VIA_PARM_RE.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"malformed Via {_show(text)}")
    if match["name"].upper() != "SIP" or match["version"] != "2.0":
        raise RemoteProtocolError(f"unsupported Via protocol {match['name']}/{match['version']} in {_show(text)}")
    param_text = match["params"]
    return Via(
        match["transport"].upper(),
        _check_host(match["host"], text),
        _check_port(match["port"], text),
        parse_params(param_text) if param_text else {},
    )
