"""The dial plan's root and its sections: SIP, RTP, trunks, routes, numbers, hours, prompts, storage, security.

The IVR graph lives in :mod:`voxcenter.config.ivr_nodes`, queues and agents in :mod:`voxcenter.config.queues`.

Every default lives here, next to the field it belongs to; ``docs/dialplan.md``
is rendered from these models (``python -m voxcenter.config.reference``).
Relative paths are resolved against the directory of the main config file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from voxcenter.config.base import (
    DialString,
    Duration,
    Kind,
    Model,
    Name,
    Regex,
    keys_to_text,
)
from voxcenter.config.campaigns import Campaign
from voxcenter.config.issues import ConfigIssue, SourceMap
from voxcenter.config.ivr_nodes import IvrNode
from voxcenter.config.queues import Agent, FeatureCodes, InternalCalls, Queue, Transfers
from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.uri import parse_uri


def _network(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. 192.0.2.10 or 192.0.2.0/24)") from None


Network = Annotated[str, BeforeValidator(_network), Kind("IP network")]
"""An IPv4/IPv6 address or network in CIDR form (``192.0.2.0/24``)."""


def _host(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9.:_-]+|\[[0-9A-Fa-f:.]+\]", value):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return value


Host = Annotated[str, BeforeValidator(_host), Kind("host")]
"""A host name or IP address."""

Port = Annotated[int, Field(ge=1, le=65535), Kind("port")]


# ----------------------------------------------------------------------------------------------- SIP and RTP


class Listen(Model):
    """One SIP listening socket."""

    transport: Literal["udp", "tcp", "tls", "ws", "wss"]
    """Transport: ``udp``, ``tcp`` or ``tls`` (RFC 3261 §18), or SIP over WebSocket for browsers (RFC 7118):
    ``ws`` (loopback only: passwords and media keys would cross the network in the clear) or ``wss``."""
    address: Host = "127.0.0.1"
    """Local address to bind."""
    port: Port | None = None
    """Port; none means 5060, 5061 for TLS, 5066 for WS and 7443 for WSS."""
    cert: Path | None = None
    """TLS certificate chain (PEM); required for ``tls``. A ``wss`` listener without one uses the ``tls``
    listener's."""
    key: Path | None = None
    """TLS private key (PEM); required for ``tls`` (and with ``cert`` on ``wss``)."""


    @model_validator(mode="after")
    def _tls_files(self) -> Listen:
        if self.transport == "tls" and (self.cert is None or self.key is None):
            raise ValueError("transport tls needs both 'cert' and 'key'")
        if self.transport == "wss" and (self.cert is None) != (self.key is None):
            raise ValueError("transport wss needs both 'cert' and 'key', or neither (the tls listener's then)")
        if self.transport not in ("tls", "wss") and (self.cert is not None or self.key is not None):
            raise ValueError(f"'cert' and 'key' only apply to tls and wss, not {self.transport}")
        if self.transport == "ws" and not _loopback(self.address):
            raise ValueError(f"transport ws listens on loopback only, not {self.address}: use wss beyond it")
        return self

    @property
    def effective_port(self) -> int:
        """The port actually bound."""
        return self.port or {"tls": 5061, "ws": 5066, "wss": 7443}.get(self.transport, 5060)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Sip(Model):
    """SIP signalling."""

    listen: tuple[Listen, ...] = (Listen(transport="udp", port=5060),)
    """Sockets to listen on."""

    @model_validator(mode="after")
    def _wss_certificate(self) -> Sip:
        for listen in self.listen:
            if listen.transport == "wss" and listen.cert is None and self.certificate() is None:
                raise ValueError("a wss listener needs 'cert' and 'key', or a tls listener whose certificate it uses")
        return self

    def certificate(self) -> tuple[Path, Path] | None:
        """The certificate and key of the first ``tls`` listener (the one a ``wss`` listener uses by default)."""
        for listen in self.listen:
            if listen.transport == "tls" and listen.cert is not None and listen.key is not None:
                return listen.cert, listen.key
        return None

    external_address: Host | None = None
    """Address put in Contact and Via when behind NAT; none means the listen address."""
    user_agent: str = "voxcenter"
    """User-Agent and Server header value."""
    message_timeout: Annotated[Duration, Field(gt=0)] = 5.0
    """On TCP and TLS, a message must be complete this long after its first byte, or the connection is closed
    (a peer trickling bytes cannot hold it)."""
    tls_handshake_timeout: Annotated[Duration, Field(gt=0)] = 5.0
    """A TLS connection must finish its handshake this long after it opened, or it is closed (handshake floods)."""


class Rtp(Model):
    """RTP media."""

    address: Host = "127.0.0.1"
    """Local address RTP sockets bind to."""
    external_address: Host | None = None
    """Address written in SDP ``c=`` lines; none means ``address``."""
    port_min: Port = 20000
    """Lowest RTP port (even; RTCP uses the next odd port)."""
    port_max: Port = 20999
    """Highest RTP port."""
    inactivity_timeout: Duration = 30.0
    """A call whose caller sends no RTP for this long is hung up."""

    @model_validator(mode="after")
    def _range(self) -> Rtp:
        if self.port_min > self.port_max:
            raise ValueError(f"port_min ({self.port_min}) is above port_max ({self.port_max})")
        if self.port_max - self.port_min < 1:
            raise ValueError("the RTP port range needs at least two ports (RTP and RTCP)")
        return self


# ----------------------------------------------------------------------------------------------- trunks, routes


def _sip_uri(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parse_uri(value)
        except RemoteProtocolError as exc:
            raise ValueError(f"{value!r} is not a SIP URI ({exc.reason})") from None
    return value


SipUriText = Annotated[str, BeforeValidator(_sip_uri), Kind("SIP URI")]
"""A SIP URI such as ``sip:sip.example.net:5060;transport=udp``."""


class TrunkInbound(Model):
    """Which calls arriving from a carrier/PBX are accepted as coming from this trunk."""

    allow_from: tuple[Network, ...] = ()
    """Source IPs or networks trusted as this trunk."""
    auth: Literal["none", "digest"] = "none"
    """``digest`` challenges the trunk's requests with ``username``/``password`` (RFC 3261 §22)."""
    username: str | None = None
    """User the trunk authenticates as (``auth: digest``)."""
    password: str | None = None
    """Its password (``auth: digest``)."""
    agents: bool = False
    """The trunk is the cluster's SIP proxy (``deploy/kamailio/``), which agents' phones call through too: an
    INVITE from it whose From user is an agent is challenged with digest and taken as that agent's own call
    (``*45`` and the other feature codes, calls out), not as a customer's."""

    @model_validator(mode="after")
    def _credentials(self) -> TrunkInbound:
        if self.auth == "digest" and (not self.username or not self.password):
            raise ValueError("auth: digest needs 'username' and 'password'")
        if self.auth == "none" and not self.allow_from:
            raise ValueError("an inbound trunk needs 'allow_from' networks, or auth: digest")
        return self


class TrunkOutbound(Model):
    """How calls leave through this trunk."""

    proxy: SipUriText
    """Where requests are sent (outbound proxy / registrar URI)."""
    registration: bool = False
    """Keep a registration up with the carrier (RFC 3261 §10)."""
    username: str | None = None
    """User for registration and digest challenges."""
    password: str | None = None
    """Its password."""
    registration_expiry: Duration = 3600.0
    """Expires asked for; refreshed before it runs out."""
    options_interval: Duration | None = 30.0
    """OPTIONS keep-alive ping period; none disables it. A trunk that stops answering is marked down."""
    caller_id: DialString | None = None
    """Number presented on outgoing calls; none keeps the caller's."""

    @model_validator(mode="after")
    def _credentials(self) -> TrunkOutbound:
        if self.registration and (not self.username or not self.password):
            raise ValueError("registration: true needs 'username' and 'password'")
        return self


class Trunk(Model):
    """A carrier or PBX connection."""

    inbound: TrunkInbound | None = None
    """Accept calls from it; none means it never sends us calls."""
    outbound: TrunkOutbound | None = None
    """Send calls to it; none means inbound only."""


class RouteAllow(Model):
    """Who may dial out through a route. Nothing unauthenticated ever may (toll fraud)."""

    agents: tuple[str, ...] = ()
    """Agent extensions (authenticated by digest) allowed; ``all`` means every agent."""
    groups: tuple[Name, ...] = ()
    """Agent groups allowed."""
    ivr: bool = False
    """IVR ``transfer`` nodes with a fixed ``number`` may use the route."""
    unauthenticated: bool = False
    """Refused when true: an outbound route open to unauthenticated callers is toll fraud waiting to happen."""


class Route(Model):
    """An outbound route: dialled numbers matching a pattern go out through a trunk."""

    patterns: Annotated[tuple[Regex, ...], Field(min_length=1)]
    """Regular expressions matched against the whole dialled number."""
    trunk: Name
    """A trunk with an ``outbound`` part."""
    failover: tuple[Name, ...] = ()
    """Trunks tried next, in this order, when the one before is down (its OPTIONS pings go unanswered),
    answers 408, 500, 502, 503 or 504 before it rang, or does not answer at all. A far end that rang and
    then failed is the callee's answer: the call is not placed again."""
    strip: int = Field(default=0, ge=0)
    """Leading digits removed before sending."""
    prepend: DialString | None = None
    """Prefix added after stripping."""
    allow: RouteAllow = RouteAllow()
    """Who may use the route."""


class Number(Model):
    """A number we answer: calls to it start at an IVR node."""

    node: Name
    """The IVR entry node."""
    trunk: Name | None = None
    """Accept this number only from this trunk; none means any trunk or local caller."""
    language: str | None = None
    """Starting prompt language; none means ``prompts.default_language``."""
    client: str | None = None
    """The client company calls to this number are for: the agent page's screen pop shows it."""
    record: Literal["conversation", "everything", "off"] = "conversation"
    """What of its calls is recorded (when ``recording.enabled``): ``conversation`` from the agent's answer,
    ``everything`` from our answer (the IVR, the queue, voicemail, the conversation; calls that never reach an
    agent too), ``off`` nothing."""


# ----------------------------------------------------------------------------------------------- time


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(value: Any) -> Any:
    """``mon-fri``, ``sat,sun``, ``daily`` -> tuple of weekday numbers (Monday 0)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text == "daily":
        return tuple(range(7))
    out: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"{value!r} is not a day range: write e.g. mon-fri, sat,sun or daily")
        a = _DAYS.index(first)
        b = _DAYS.index(last) if last else a
        out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return tuple(sorted(set(out)))


def _clock(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 readers turn 09:00 into minutes (sexagesimal); ask for quotes either way.
        raise ValueError("write times as quoted text, e.g. '09:00'")
    return value


class OpenHours(Model):
    """Opening hours on some days."""

    days: Annotated[tuple[Annotated[int, Field(ge=0, le=6)], ...], BeforeValidator(_days), Kind("days")]
    """Days: ``mon-fri``, ``sat,sun``, ``daily``."""
    open: Annotated[dt.time, BeforeValidator(_clock), Kind("time")]
    """Opening time, ``'HH:MM'`` local time."""
    close: Annotated[dt.time, BeforeValidator(_clock), Kind("time")]
    """Closing time; ``'24:00'`` is not accepted, use ``'23:59'``."""

    @model_validator(mode="after")
    def _ordered(self) -> OpenHours:
        if self.close <= self.open:
            raise ValueError("'close' must be after 'open' (split hours past midnight over two days)")
        return self


class Holiday(Model):
    """A closed day."""

    date: dt.date
    """The date, ``YYYY-MM-DD``."""
    name: str = ""
    """What it is."""


def _holiday(value: Any) -> Any:
    return {"date": value} if isinstance(value, dt.date | str) else value


class Schedule(Model):
    """Business hours in a time zone."""

    timezone: str = "UTC"
    """IANA time zone (``Europe/Paris``); daylight saving time is followed."""
    hours: tuple[OpenHours, ...] = ()
    """Opening hours."""
    holidays: tuple[Annotated[Holiday, BeforeValidator(_holiday)], ...] = ()
    """Closed days: a date, or ``{date, name}``."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York)") from None
        return value


# ----------------------------------------------------------------------------------------------- operations


CallerPrefix = Annotated[str, Field(pattern=r"^\+?[0-9]+$"), Kind("number prefix")]
"""The start of a caller's number: digits with an optional leading ``+`` (``'+48'``, ``'0048'``, ``'07'``)."""


class Prompts(Model):
    """Prompt files and languages."""

    directory: Path = Path("prompts")
    """Prompts directory: ``<directory>/<language>/<name>.wav`` (or ``.mp3``)."""
    default_language: str = "en"
    """Language of a call until a ``language`` node or a number says otherwise."""
    languages: tuple[str, ...] = ("en",)
    """Languages available; every prompt must exist in each."""
    sayer: dict[str, str] = Field(default_factory=dict)
    """Language -> sayer used for numbers and durations; a language not listed uses its own code."""
    caller_languages: dict[CallerPrefix, str] = Field(default_factory=dict)
    """Caller number prefix -> starting language (``'+48': pl``; national formats too: ``'0048': pl``,
    ``'0': ro``); the longest matching prefix wins. For calls to numbers without a ``language`` of their own.
    Quote the prefixes: YAML reads an unquoted +48 as the number 48."""


    @model_validator(mode="after")
    def _default_available(self) -> Prompts:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages {list(self.languages)}")
        return self


class Recording(Model):
    """Call recording (stereo: caller left, agent right)."""

    enabled: bool = True
    """Record answered calls."""
    directory: Path = Path("recordings")
    """Where recordings are written (``storage: disk``)."""
    format: Literal["wav", "flac", "mp3"] = "wav"
    """File format."""
    storage: Literal["disk", "database"] = "disk"
    """Keep files on disk (the database stores the path) or inside the database."""
    pause_code: DialString | None = "*1"
    """Keyed by the agent during a call: the recording holds silence from now on (a card number read out);
    the timeline says who paused and for how long."""
    resume_code: DialString | None = "*2"
    """Keyed by the agent during a call: the recording takes the conversation again."""
    key_file: Path | None = None
    """Encrypt recordings at rest (AES-256-GCM) with the 32-byte key this file holds, base64 or hex
    (``openssl rand -base64 32``): each finished recording is sealed as ``<name>.enc`` and the API decrypts
    what it serves. Keep the key elsewhere than the recordings; without it they cannot be read."""
    retention_days: Annotated[int, Field(ge=1)] | None = None
    """Delete recordings older than this many days (checked at start and every hour): the audio goes, the
    ``recordings`` row stays with ``deleted_at``, and the call's timeline gets ``RECORDINGDELETED``; none keeps
    them for ever."""

    @model_validator(mode="after")
    def _codes_apart(self) -> Recording:
        if self.pause_code is not None and self.pause_code == self.resume_code:
            raise ValueError("pause_code and resume_code must differ")
        return self



class Database(Model):
    """Where CDRs and events go."""

    url: str | None = None
    """SQLAlchemy URL (``postgresql+asyncpg://...``); none means SQLite ``voxcenter.db`` next to the config."""
    journal_directory: Path = Path("journal")
    """Append-only spool written before the database, replayed when it comes back."""


    @field_validator("url")
    @classmethod
    def _dialect(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database url must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class Flood(Model):
    """The per-source request rate limit: every request counts, answered or not, before anything else."""

    requests: int = Field(default=16, ge=1)
    """Requests one address may send within ``window``: in a burst, and on average (Kamailio's antiflood default)."""
    window: Duration = 2.0
    """The window of ``requests``."""
    ban_time: Duration = 300.0
    """How long an address over the limit is dropped; its first request over gets 503 with Retry-After."""
    trunk_requests: int = Field(default=5000, ge=0)
    """The limit within ``window`` for addresses in a trunk's ``inbound.allow_from``; 0 means no limit."""


class Security(Model):
    """Authentication throttling, flood limits and call limits."""

    realm: str = "voxcenter"
    """Digest realm (RFC 3261 §22)."""
    digest_algorithms: Annotated[tuple[Literal["MD5", "SHA-256"], ...], Field(min_length=1)] = ("MD5",)
    """Digest algorithms offered in challenges, in this order. MD5 alone by default: many phones (baresip 1.0,
    older desk phones, SIPp) fail when a 401 also offers SHA-256 (RFC 8760); add it once every phone supports it."""
    auth_failures: int = Field(default=5, ge=1)
    """Failed authentications from one address allowed within ``auth_window``."""
    auth_window: Duration = 60.0
    """Window over which failures are counted."""
    ban_time: Duration = 900.0
    """How long an address is ignored after too many failures."""
    account_failures: int = Field(default=10, ge=1)
    """Failed authentications on one account, from any mix of addresses, within ``account_window`` that throttle
    it: attempts from addresses it is not known at are answered after ``account_delay``, one per delay checked.
    Its phone's address (a registration, or a success within 30 days) is never slowed: no lockout; a
    ``never_ban`` address is shared by many clients, so there the throttle applies to all."""
    account_window: Duration = 600.0
    """Window over which an account's failures are counted."""
    account_delay: Duration = 2.0
    """How long a throttled account's answers to unknown addresses wait."""
    never_ban: tuple[Network, ...] = ()
    """Networks exempt from bans (failed authentications and floods), e.g. an office behind one NAT address; never
    from the per-account throttle. Empty by default: a proxy on this host would relay every attacker from loopback."""
    flood: Flood = Flood()
    """The per-source request rate limit."""
    max_calls_in_progress: int = Field(default=200, ge=1)
    """Customer calls in progress at most (inbound calls and calls out; the legs ringing agents' phones are part
    of a call and not counted); new calls beyond it are refused with 503."""
    max_call_rate: float | None = Field(default=None, gt=0)
    """New calls accepted per second at most (a burst of up to one second's worth passes); the rest get 503.
    None means no limit."""
    max_loop_lag: Annotated[Duration, Field(gt=0)] | None = 0.05
    """Event-loop lag (smoothed over about 0.5 s) past which new calls are shed with 503, a growing share up to
    all of them at twice this, so that the calls accepted stay fast; none never sheds on lag."""


class ApiTokenEntry(Model):
    """A bearer token of the admin API with the role it grants."""

    token: str = Field(min_length=16)
    """The secret itself (at least 16 characters)."""
    role: Literal["admin", "supervisor", "agent"]
    """``admin``: everything; ``supervisor``: every view and record, agent commands, hang-ups, queue membership;
    ``agent``: the queues, its own agent and commands, its own CDRs."""
    agent: DialString | None = None
    """The agent an ``agent`` token acts for (required for that role only)."""

    @model_validator(mode="after")
    def _agent_for_agent_role(self) -> ApiTokenEntry:
        if (self.role == "agent") != (self.agent is not None):
            raise ValueError("an 'agent' token names its 'agent'; other roles name none")
        return self


class Api(Model):
    """The admin HTTP API, live wallboard and Prometheus metrics."""

    enabled: bool = True
    """Serve the API at all."""
    address: Host = "127.0.0.1"
    """Address to listen on; anything but loopback needs a ``token``."""
    port: Port = 8088
    """TCP port."""
    token: str | None = None
    """Bearer token every request but /healthz must carry (the admin role); without any token the API serves
    loopback only."""
    tokens: tuple[ApiTokenEntry, ...] = ()
    """More tokens, each with a role: ``[{token, role: admin|supervisor|agent, agent}]``."""

    @model_validator(mode="after")
    def _token_off_loopback(self) -> Api:
        if self.enabled and self.token is None and not self.tokens and not _is_loopback(str(self.address)):
            raise ValueError("an API listening beyond loopback needs a 'token'")
        return self


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Desk(Model):
    """The agent page (``/agent``): what agents pick from when they write up a call."""

    outcomes: dict[Name, str] = Field(default_factory=dict)
    """Outcome (disposition) codes an agent gives a call, code -> label (``{sale: Sale, info: Information
    given}``); the page offers them and the API refuses any other code. Empty: no outcome is asked."""
    phone_library: Path | None = None
    """The ``node_modules`` directory where npm installed JsSIP (``npm install --prefix DIR jssip``): the page
    loads it from there and the browser can be the agent's phone (WebRTC over the ``ws`` or ``wss`` listener of
    ``sip.listen``). None: agents use their desk phones."""


WebhookEvent = Literal["call.offered", "call.answered", "call.ended", "interaction.saved"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = ("call.offered", "call.answered", "call.ended", "interaction.saved")
"""What a webhook may be sent on."""


class Webhook(Model):
    """An HTTP endpoint told of call events (a CRM, a ticket system): a signed JSON POST for each event."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+")]
    """Where the events are POSTed (``http://`` or ``https://``)."""
    secret: str = Field(min_length=16)
    """Shared secret of the HMAC-SHA256 signature in ``X-Voxcenter-Signature`` (at least 16 characters)."""
    events: tuple[WebhookEvent, ...] = WEBHOOK_EVENTS
    """The events sent; all of them by default."""


class Cluster(Model):
    """Several nodes sharing one database behind a SIP proxy (``deploy/kamailio/``): each writes a heartbeat,
    and a node that stops beating has its open calls closed by a survivor."""

    heartbeat: Duration = 0.0
    """How often this node writes its heartbeat into ``cluster_nodes`` and looks at the others'; 0 (the
    default): no heartbeat, a single node."""
    dead_after: Duration = 10.0
    """A node whose heartbeat is older than this is dead: the first survivor to see it closes its calls still
    in progress (``hangup_by: system``, as its own restart would). At least twice ``heartbeat``."""

    shared_queues: bool = False
    """One ACD router for every node: the node holding a lease in the database (renewed each heartbeat, taken
    over ``dead_after`` after its holder stops) routes every queue. Callers reaching a queue on another node
    are sent on to it, so they wait in one order and every node's agents serve them; logins, pauses and
    callbacks made on any node reach it at its next heartbeat. Needs ``heartbeat`` and ``secret``."""
    secret: str | None = None
    """The digest password the nodes use with each other when a node sends a caller on to the router node
    (the same on every node)."""
    address: str | None = None
    """``host:port`` where the other nodes send this node SIP; none: the first UDP listener's."""

    @model_validator(mode="after")
    def _beats_before_death(self) -> Cluster:
        if self.heartbeat and self.dead_after < 2 * self.heartbeat:
            raise ValueError("cluster.dead_after must be at least twice cluster.heartbeat (one late beat is no death)")
        if self.shared_queues and (not self.heartbeat or not self.secret):
            raise ValueError("cluster.shared_queues needs cluster.heartbeat (the router lease is renewed on it) "
                             "and cluster.secret (the nodes' password with each other)")
        if self.address is not None and not re.fullmatch(r"[^\s:]+:\d{1,5}", self.address):
            raise ValueError(f"cluster.address {self.address!r} is not host:port")
        return self


class Config(Model):
    """The whole dial plan (one file and its includes), as :func:`voxcenter.config.load_config` returns it.

    Immutable: a reload builds a new one and calls in progress keep the one they started with.
    """

    _source: SourceMap = PrivateAttr(default_factory=SourceMap)
    _warnings: tuple[ConfigIssue, ...] = PrivateAttr(default=())

    include: tuple[Path, ...] = ()
    """Other files merged into this one (relative to the including file); their errors point into them."""
    sip: Sip = Sip()
    """SIP signalling."""
    rtp: Rtp = Rtp()
    """RTP media."""
    trunks: dict[Name, Trunk] = Field(default_factory=dict)
    """Carriers and PBXs, by name."""
    routes: dict[Name, Route] = Field(default_factory=dict)
    """Outbound routes, by name, tried in file order."""
    numbers: Annotated[dict[DialString, Number], BeforeValidator(keys_to_text)] = Field(default_factory=dict)
    """Called number -> IVR entry node."""
    ivr: dict[Name, IvrNode] = Field(default_factory=dict)
    """IVR nodes, by id."""
    queues: dict[Name, Queue] = Field(default_factory=dict)
    """Queues, by name."""
    agents: Annotated[dict[DialString, Agent], BeforeValidator(keys_to_text)] = Field(default_factory=dict)
    """Agents, by extension."""
    campaigns: dict[Name, Campaign] = Field(default_factory=dict)
    """Outbound campaigns, by name."""
    groups: dict[Name, tuple[str, ...]] = Field(default_factory=dict)
    """Agent groups: name -> agent extensions (for routes, backup groups and queue supervisors)."""
    feature_codes: FeatureCodes = FeatureCodes()
    """Agent feature codes."""
    transfers: Transfers = Transfers()
    """Transfers from the agents' phones."""
    internal_calls: InternalCalls = InternalCalls()
    """Agents calling agents."""
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    """Business hours, by name."""
    prompts: Prompts = Prompts()
    """Prompts and languages."""
    recording: Recording = Recording()
    """Call recording."""
    database: Database = Database()
    """Database and journal."""
    security: Security = Security()
    """Security limits."""
    api: Api = Api()
    """Admin API, wallboard and metrics."""
    desk: Desk = Desk()
    """The agent page."""
    cluster: Cluster = Cluster()
    """Heartbeats between nodes sharing the database."""
    webhooks: tuple[Webhook, ...] = ()
    """Endpoints told of call events, each with its secret: ``[{url, secret, events}]``."""

    @property
    def source(self) -> SourceMap:
        """Where every key and value was written (file, line, column), for messages about this config."""
        return self._source

    @property
    def warnings(self) -> tuple[ConfigIssue, ...]:
        """Suspicious but accepted things (unreachable nodes...), found when the file was loaded."""
        return self._warnings

    @property
    def files(self) -> tuple[str, ...]:
        """Files the config was read from, the main file first."""
        return self._source.files

    @property
    def timezone(self) -> str:
        """The dial plan's time zone: its first schedule's (the one the reports, the staffing advice and the
        wallboard show times in), UTC when it has no schedule."""
        return next(iter(self.schedules.values())).timezone if self.schedules else "UTC"
