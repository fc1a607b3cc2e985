"""Registrar (RFC 3261 §10.3) with a fake clock."""

from __future__ import annotations

from dataclasses import replace

from voxcenter.sip.message import Request, parse_message
from voxcenter.sip.registrar import BindingChange, Registrar, RegistrarPolicy, Source

SRC = Source("udp", "203.0.113.7", 40123)


def register(
    contact: str | None = "<sip:1001@192.168.1.20:5060>",
    *,
    user: str = "1001",
    expires: str | None = None,
    call_id: str = "reg-1",
    cseq: int = 1,
    extra: str = "",
) -> Request:
    lines = [
        "REGISTER sip:voxcenter.test SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKreg",
        f"From: <sip:{user}@voxcenter.test>;tag=abc",
        f"To: <sip:{user}@voxcenter.test>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        "Max-Forwards: 70",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if extra:
        lines.append(extra)
    request = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(request, Request)
    return request


def test_binding_is_created_with_source_and_expiry() -> None:
    registrar = Registrar()
    response = registrar.register(register(expires="600"), SRC, "1001", now=100.0)
    assert response.status == 200
    assert response.headers.values("Contact") == ["<sip:1001@192.168.1.20:5060>;expires=600"]
    [binding] = registrar.lookup("1001")
    assert binding.source == SRC  # NAT: reach the phone where it really is
    assert binding.expires_at == 700.0
    event = registrar.next_event()
    assert event is not None and event.change is BindingChange.ADDED
    assert registrar.get_timer() == 700.0


def test_user_may_only_bind_its_own_aor() -> None:
    registrar = Registrar()
    response = registrar.register(register(user="1002"), SRC, "1001", now=0.0)
    assert response.status == 403
    assert registrar.lookup("1002") == []


def test_interval_too_brief_and_cap() -> None:
    registrar = Registrar(RegistrarPolicy(min_expires=60, max_expires=1800))
    brief = registrar.register(register(expires="30"), SRC, "1001", now=0.0)
    assert brief.status == 423 and brief.headers.get("Min-Expires") == "60"
    capped = registrar.register(register(expires="7200"), SRC, "1001", now=0.0)
    assert capped.status == 200
    assert registrar.lookup("1001")[0].expires_at == 1800.0


def test_contact_expires_param_overrides_header() -> None:
    registrar = Registrar()
    registrar.register(register("<sip:1001@10.0.0.1>;expires=120", expires="600"), SRC, "1001", now=0.0)
    assert registrar.lookup("1001")[0].expires_at == 120.0


def test_several_contacts_and_unregister_one() -> None:
    registrar = Registrar()
    registrar.register(register("<sip:1001@10.0.0.1>, <sip:1001@10.0.0.2>"), SRC, "1001", now=0.0)
    assert len(registrar.lookup("1001")) == 2
    response = registrar.register(register("<sip:1001@10.0.0.1>", expires="0", cseq=2), SRC, "1001", now=1.0)
    assert response.status == 200
    assert [str(b.contact.uri) for b in registrar.lookup("1001")] == ["sip:1001@10.0.0.2"]


def test_wildcard_unregister() -> None:
    registrar = Registrar()
    registrar.register(register("<sip:1001@10.0.0.1>, <sip:1001@10.0.0.2>"), SRC, "1001", now=0.0)
    response = registrar.register(register("*", expires="0", cseq=2), SRC, "1001", now=1.0)
    assert response.status == 200
    assert registrar.lookup("1001") == []
    assert not registrar.is_registered("1001")


def test_wildcard_needs_expires_zero_and_be_alone() -> None:
    registrar = Registrar()
    assert registrar.register(register("*", expires="60"), SRC, "1001", now=0.0).status == 400
    assert registrar.register(register("*"), SRC, "1001", now=0.0).status == 400
    assert registrar.register(register("*, <sip:1001@10.0.0.1>", expires="0"), SRC, "1001", now=0.0).status == 400


def test_query_without_contact_lists_bindings() -> None:
    registrar = Registrar()
    registrar.register(register(expires="300"), SRC, "1001", now=0.0)
    response = registrar.register(register(None, cseq=2), SRC, "1001", now=100.0)
    assert response.status == 200
    assert response.headers.values("Contact") == ["<sip:1001@192.168.1.20:5060>;expires=200"]


def test_out_of_order_cseq_is_refused() -> None:
    registrar = Registrar()
    registrar.register(register(cseq=5), SRC, "1001", now=0.0)
    assert registrar.register(register(cseq=5, expires="0"), SRC, "1001", now=1.0).status == 500
    assert registrar.is_registered("1001")
    # A new Call-ID (phone rebooted) may use any CSeq.
    assert registrar.register(register(cseq=1, call_id="reg-2", expires="0"), SRC, "1001", now=2.0).status == 200
    assert not registrar.is_registered("1001")


def test_expiry_and_refresh() -> None:
    registrar = Registrar()
    registrar.register(register(expires="100"), SRC, "1001", now=0.0)
    registrar.register(register(expires="100", cseq=2), SRC, "1001", now=50.0)
    registrar.handle_timer(100.0)  # the first expiry is stale: the binding was refreshed
    assert registrar.is_registered("1001")
    assert registrar.get_timer() == 150.0
    registrar.handle_timer(150.0)
    assert not registrar.is_registered("1001")
    changes = []
    while (event := registrar.next_event()) is not None:
        changes.append(event.change)
    assert changes == [BindingChange.ADDED, BindingChange.REFRESHED, BindingChange.EXPIRED]
    assert registrar.get_timer() is None


def test_unreachable_phone_is_not_returned() -> None:
    registrar = Registrar()
    registrar.register(register(), SRC, "1001", now=0.0)
    registrar.set_reachable("1001", "sip:1001@192.168.1.20:5060", False)
    assert registrar.lookup("1001") == []
    assert len(registrar.lookup("1001", reachable_only=False)) == 1
    registrar.set_reachable("1001", "sip:1001@192.168.1.20:5060", True)
    assert len(registrar.lookup("1001")) == 1


def test_contact_limit() -> None:
    registrar = Registrar(RegistrarPolicy(max_contacts=2))
    contacts = ", ".join(f"<sip:1001@10.0.0.{i}>" for i in range(3))
    assert registrar.register(register(contacts), SRC, "1001", now=0.0).status == 403


def test_malformed_contact_and_expires() -> None:
    registrar = Registrar()
    assert registrar.register(register('"unterminated <sip:x@y>'), SRC, "1001", now=0.0).status == 400
    assert registrar.register(register(expires="soon"), SRC, "1001", now=0.0).status == 400


def test_restored_binding_is_reachable_and_expires_and_a_newer_one_wins() -> None:
    registrar = Registrar()
    assert registrar.register(register(expires="600"), SRC, "1001", now=100.0).status == 200
    [fresh] = registrar.lookup("1001")
    registrar.next_event()
    other = Registrar()
    assert other.restore(replace(fresh, expires_at=400.0), now=300.0)
    event = other.next_event()
    assert event is not None and event.change is BindingChange.RESTORED
    assert [b.source for b in other.lookup("1001")] == [SRC] and other.get_timer() == 400.0
    assert not other.restore(replace(fresh, expires_at=500.0), now=300.0)  # the phone refreshed it since
    assert not Registrar().restore(fresh, now=700.0)  # already expired
    other.handle_timer(400.0)
    assert other.lookup("1001") == []


def test_a_shared_binding_follows_the_other_nodes_and_never_overrides_an_own_one() -> None:
    """``share`` keeps a copy of another node's binding: added, moved on, removed with it; the phone's own wins."""
    home = Registrar()
    assert home.register(register(expires="600"), SRC, "1001", now=100.0).status == 200
    [theirs] = home.lookup("1001")
    copy = Registrar()
    assert copy.share(replace(theirs, expires_at=400.0), now=300.0)
    event = copy.next_event()
    assert event is not None and event.change is BindingChange.SHARED
    assert not copy.share(replace(theirs, expires_at=900.0), now=350.0)  # refreshed there: moved on, no event
    assert copy.next_event() is None
    copy.handle_timer(400.0)
    assert copy.lookup("1001") != []  # the old expiry no longer ends it
    assert copy.share(replace(theirs, expires_at=450.0), now=500.0)  # ended there: gone here
    event = copy.next_event()
    assert event is not None and event.change is BindingChange.EXPIRED and copy.lookup("1001") == []
    # The phone registers here itself: a stale row of another node leaves its binding alone.
    assert copy.register(register(expires="600"), SRC, "1001", now=600.0).status == 200
    assert not copy.share(replace(theirs, expires_at=10.0), now=700.0)
    assert not copy.share(replace(theirs, expires_at=5000.0), now=700.0)
    assert [b.expires_at for b in copy.lookup("1001")] == [1200.0]
