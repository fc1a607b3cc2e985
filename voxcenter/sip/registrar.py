"""Registrar and location service (RFC 3261 §10.3), sans-IO.

Agents' softphones REGISTER here. The registrar is told who authenticated
(the endpoint runs digest first) and only lets a user bind its own
address-of-record. Bindings remember the address and transport the REGISTER
really came from, so a phone behind NAT is reached where it is, not where its
Contact says. Reachability is tracked from OPTIONS keepalives: the ACD never
rings a phone that stopped answering them.

Address-of-record keys are the user part of the To URI: voxcenter serves one
domain, so ``sip:1001@pbx.example`` and ``sip:1001@10.0.0.5`` are the same agent.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.uri import NameAddr, parse_name_addr


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from, as the transport saw it."""

    transport: str
    """"udp", "tcp" or "tls"."""
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact bound to an address-of-record."""

    aor: str
    """The address-of-record key (the user part, e.g. "1001")."""
    contact: NameAddr
    """The Contact as the phone sent it."""
    source: Source
    """Where the REGISTER came from: where requests are really sent (NAT)."""
    expires_at: float
    """Absolute expiry, on the endpoint's clock."""
    call_id: str
    cseq: int
    user_agent: str = ""
    reachable: bool = True
    """False once keepalives go unanswered; such a phone is not rung."""
    registered_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.aor, str(self.contact.uri))


class BindingChange(Enum):
    ADDED = "added"
    REFRESHED = "refreshed"
    REMOVED = "removed"
    EXPIRED = "expired"
    UNREACHABLE = "unreachable"
    REACHABLE = "reachable"
    RESTORED = "restored"
    """Put back from storage after a restart (``Registrar.restore``), not sent by the phone."""
    SHARED = "shared"
    """A copy of a binding another node of a cluster holds (``Registrar.share``), not sent by the phone."""


@dataclass(frozen=True, slots=True)
class BindingChanged:
    """A binding was added, refreshed, removed or changed reachability."""

    binding: Binding
    """The binding after the change (or as it was, when removed)."""
    change: BindingChange
    """What happened."""


@dataclass(slots=True)
class RegistrarPolicy:
    min_expires: int = 60
    """Shorter non-zero requests get 423 Interval Too Brief (RFC 3261 §10.3 step 7)."""
    max_expires: int = 3600
    default_expires: int = 3600
    max_contacts: int = 5
    """Per address-of-record; more is refused with 403 rather than growing without bound."""


@dataclass(slots=True)
class _Aor:
    bindings: dict[str, Binding] = field(default_factory=dict)


class Registrar:
    """The location service: REGISTER in, responses and binding changes out."""

    def __init__(self, policy: RegistrarPolicy | None = None) -> None:
        self.policy = policy or RegistrarPolicy()
        self._aors: dict[str, _Aor] = {}
        self._expiry_heap: list[tuple[float, str, str]] = []
        self._events: list[BindingChanged] = []
        self._shared: set[tuple[str, str]] = set()
        """(aor, contact URI) of the bindings copied from another node (``share``)."""

    # --- inputs ---------------------------------------------------------------

    def register(self, request: Request, source: Source, authenticated_user: str, now: float) -> Response:
        """Process an authenticated REGISTER (RFC 3261 §10.3 steps 5-8) and return the response."""
        try:
            to = request.to
            aor = to.uri.user or ""
            if not aor:
                return make_response(request, 404, "Address-of-record Not Found")
            if aor != authenticated_user:
                # A user may only bind its own address-of-record.
                return make_response(request, 403, "Forbidden")
            contact_values = request.headers.values("Contact")
            expires_header = request.headers.get("Expires")
            default_expires = self.policy.default_expires
            if expires_header is not None:
                if not expires_header.strip().isdigit():
                    return make_response(request, 400, "Malformed Expires")
                default_expires = int(expires_header.strip())
            call_id = request.call_id
            cseq = request.cseq.number
        except RemoteProtocolError as error:
            return make_response(request, 400, error.reason[:80])

        entry = self._aors.get(aor)
        if any(value.strip() == "*" for value in contact_values):
            # §10.3 step 6: "*" only alone and with Expires: 0.
            if len(contact_values) != 1 or expires_header is None or default_expires != 0:
                return make_response(request, 400, "Invalid Wildcard Contact")
            if entry is not None:
                for binding in list(entry.bindings.values()):
                    if binding.call_id == call_id and cseq <= binding.cseq:
                        return make_response(request, 500, "Out Of Order CSeq")
                for binding in list(entry.bindings.values()):
                    self._remove(binding, BindingChange.REMOVED)
            return self._ok(request, aor, now)

        try:
            contacts = [parse_name_addr(value) for value in contact_values]
        except RemoteProtocolError as error:
            return make_response(request, 400, error.reason[:80])

        changes: list[tuple[NameAddr, int]] = []
        for contact in contacts:
            expires = default_expires
            raw = contact.params.get("expires")
            if raw is not None:
                if not raw.isdigit():
                    return make_response(request, 400, "Malformed Contact Expires")
                expires = int(raw)
            if 0 < expires < self.policy.min_expires:
                response = make_response(request, 423, "Interval Too Brief")
                response.headers.add("Min-Expires", str(self.policy.min_expires))
                return response
            changes.append((contact, min(expires, self.policy.max_expires)))

        existing = entry.bindings if entry is not None else {}
        for contact, _ in changes:
            old = existing.get(str(contact.uri))
            if old is not None and old.call_id == call_id and cseq <= old.cseq:
                return make_response(request, 500, "Out Of Order CSeq")
        additions = sum(1 for c, e in changes if e > 0 and str(c.uri) not in existing)
        if len(existing) + additions > self.policy.max_contacts:
            return make_response(request, 403, "Too Many Contacts")

        user_agent = request.headers.get("User-Agent", "") or ""
        for contact, expires in changes:
            key = str(contact.uri)
            old = existing.get(key)
            if expires == 0:
                if old is not None:
                    self._remove(old, BindingChange.REMOVED)
                continue
            binding = Binding(
                aor=aor,
                contact=contact,
                source=source,
                expires_at=now + expires,
                call_id=call_id,
                cseq=cseq,
                user_agent=user_agent,
                reachable=True,
                registered_at=old.registered_at if old is not None else now,
            )
            self._aors.setdefault(aor, _Aor()).bindings[key] = binding
            self._shared.discard((aor, key))  # the phone registered here: the binding is this node's own
            heapq.heappush(self._expiry_heap, (binding.expires_at, aor, key))
            self._events.append(
                BindingChanged(binding, BindingChange.ADDED if old is None else BindingChange.REFRESHED)
            )
        return self._ok(request, aor, now)

    def restore(self, binding: Binding, now: float) -> bool:
        """Put back a binding kept across a restart; ``binding.expires_at`` is on this registrar's clock.

        A binding already expired, or one the phone has refreshed since (same contact), is left alone.
        Returns whether it was restored.
        """
        key = str(binding.contact.uri)
        entry = self._aors.get(binding.aor)
        if binding.expires_at <= now or (entry is not None and key in entry.bindings):
            return False
        if entry is not None and len(entry.bindings) >= self.policy.max_contacts:
            return False
        self._aors.setdefault(binding.aor, _Aor()).bindings[key] = binding
        heapq.heappush(self._expiry_heap, (binding.expires_at, binding.aor, key))
        self._events.append(BindingChanged(binding, BindingChange.RESTORED))
        return True

    def share(self, binding: Binding, now: float) -> bool:
        """Hold a copy of a binding another node keeps (its phone registered there): added (a ``SHARED``
        event), its expiry moved on when the other node's was refreshed, or removed (``EXPIRED``) when the other
        node's ended. A binding the phone made here is never touched. Returns whether a binding came or went."""
        key = str(binding.contact.uri)
        entry = self._aors.get(binding.aor)
        current = entry.bindings.get(key) if entry is not None else None
        if current is not None and (binding.aor, key) not in self._shared:
            return False
        if binding.expires_at <= now:
            if current is None:
                return False
            self._remove(current, BindingChange.EXPIRED)
            return True
        if current is not None:
            if binding.expires_at > current.expires_at:
                entry.bindings[key] = replace(current, expires_at=binding.expires_at)  # type: ignore[union-attr]
                heapq.heappush(self._expiry_heap, (binding.expires_at, binding.aor, key))
            return False
        if entry is not None and len(entry.bindings) >= self.policy.max_contacts:
            return False
        self._aors.setdefault(binding.aor, _Aor()).bindings[key] = binding
        self._shared.add((binding.aor, key))
        heapq.heappush(self._expiry_heap, (binding.expires_at, binding.aor, key))
        self._events.append(BindingChanged(binding, BindingChange.SHARED))
        return True

    def set_reachable(self, aor: str, contact_uri: str, reachable: bool) -> None:
        """Record the outcome of a keepalive (OPTIONS answered, or timed out)."""
        entry = self._aors.get(aor)
        binding = entry.bindings.get(contact_uri) if entry else None
        if binding is None or binding.reachable == reachable:
            return
        updated = replace(binding, reachable=reachable)
        entry.bindings[contact_uri] = updated  # type: ignore[union-attr]
        self._events.append(
            BindingChanged(updated, BindingChange.REACHABLE if reachable else BindingChange.UNREACHABLE)
        )

    def handle_timer(self, now: float) -> None:
        """Expire bindings whose time has come."""
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            _, aor, key = heapq.heappop(self._expiry_heap)
            entry = self._aors.get(aor)
            binding = entry.bindings.get(key) if entry else None
            if binding is not None and binding.expires_at <= now:
                self._remove(binding, BindingChange.EXPIRED)

    # --- outputs --------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next expiry deadline, or None."""
        while self._expiry_heap:
            expires_at, aor, key = self._expiry_heap[0]
            entry = self._aors.get(aor)
            binding = entry.bindings.get(key) if entry else None
            if binding is not None and binding.expires_at == expires_at:
                return expires_at
            heapq.heappop(self._expiry_heap)  # stale: refreshed or removed since
        return None

    def next_event(self) -> BindingChanged | None:
        return self._events.pop(0) if self._events else None

    def lookup(self, aor: str, *, reachable_only: bool = True) -> list[Binding]:
        """Current bindings of an address-of-record, most recently registered first."""
        entry = self._aors.get(aor)
        if entry is None:
            return []
        bindings = [b for b in entry.bindings.values() if b.reachable or not reachable_only]
        return sorted(bindings, key=lambda b: b.registered_at, reverse=True)

    def bindings(self) -> Iterator[Binding]:
        for entry in self._aors.values():
            yield from entry.bindings.values()

    def is_registered(self, aor: str) -> bool:
        return bool(self.lookup(aor))

    # --- internals ------------------------------------------------------------

    def _remove(self, binding: Binding, change: BindingChange) -> None:
        entry = self._aors.get(binding.aor)
        if entry is None:
            return
        entry.bindings.pop(str(binding.contact.uri), None)
        self._shared.discard((binding.aor, str(binding.contact.uri)))
        if not entry.bindings:
            del self._aors[binding.aor]
        self._events.append(BindingChanged(binding, change))

    def _ok(self, request: Request, aor: str, now: float) -> Response:
        response = make_response(request, 200)
        for binding in self.lookup(aor, reachable_only=False):
            contact = replace(binding.contact, params={**binding.contact.params})
            contact.params["expires"] = str(max(0, int(binding.expires_at - now)))
            response.headers.add("Contact", str(contact))
        return response
