"""Two SIP engines wired together without sockets (after aioquic's tests): transfer, drop, run timers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from voxcenter.sip.dialog import DialogLayer, new_request
from voxcenter.sip.message import Request, Response, parse_message
from voxcenter.sip.transaction import TransactionLayer
from voxcenter.sip.uri import parse_name_addr, parse_uri


@dataclass
class Peer:
    """One UA: its layer, the address others see it at, and the events it reported."""

    name: str
    layer: DialogLayer
    address: tuple[str, str, int]
    events: list[object] = field(default_factory=list)

    def collect(self) -> list[object]:
        """Pull every pending event into ``events`` and return the new ones."""
        new: list[object] = []
        while (event := self.layer.next_event()) is not None:
            new.append(event)
        self.events.extend(new)
        return new

    def of(self, kind: type) -> list[object]:
        self.collect()
        return [e for e in self.events if isinstance(e, kind)]

    def invite(self, other: Peer, now: float) -> Request:
        request = new_request(
            "INVITE", parse_uri(f"sip:{other.name}@{other.address[1]}"),
            from_=parse_name_addr(f"<sip:{self.name}@{self.address[1]}>"),
            to=parse_name_addr(f"<sip:{other.name}@{other.address[1]}>"),
            via_sent_by=f"{self.address[1]}:{self.address[2]}", rng=self.layer.rng,
            contact=parse_name_addr(f"<sip:{self.name}@{self.address[1]}:{self.address[2]}>"),
        )
        self.layer.send_request(request, other.address, now)
        return request


def make_peer(name: str, port: int, seed: int) -> Peer:
    layer = DialogLayer(TransactionLayer(rng=random.Random(seed)))
    return Peer(name, layer, ("udp", f"{name}.test", port))


def make_pair() -> tuple[Peer, Peer]:
    return make_peer("alice", 5060, 1), make_peer("bob", 5062, 2)


def transfer(sender: Peer, receiver: Peer, now: float) -> list[Request | Response]:
    """Deliver everything ``sender`` wants to send to ``receiver``; returns what was delivered."""
    delivered: list[Request | Response] = []
    for data, destination in sender.layer.datagrams_to_send():
        assert destination == receiver.address, (destination, receiver.address)
        message = parse_message(data)
        delivered.append(message)
        receiver.layer.receive(message, sender.address, now)
    return delivered


def drop(sender: Peer) -> list[Request | Response]:
    """Lose everything ``sender`` wants to send; returns what was lost."""
    return [parse_message(data) for data, _ in sender.layer.datagrams_to_send()]


def roundtrip(a: Peer, b: Peer, now: float) -> int:
    """Exchange messages until both sides are quiet; returns how many were delivered."""
    total = 0
    while True:
        moved = len(transfer(a, b, now)) + len(transfer(b, a, now))
        total += moved
        if not moved:
            return total


def advance(a: Peer, b: Peer, until: float) -> float:
    """Fire both sides' timers in time order up to ``until``, delivering what they send; returns the last time."""
    now = 0.0
    while True:
        deadlines = [t for t in (a.layer.get_timer(), b.layer.get_timer()) if t is not None and t <= until]
        if not deadlines:
            return now
        now = min(deadlines)
        a.layer.handle_timer(now)
        b.layer.handle_timer(now)
        roundtrip(a, b, now)


def summary(messages: list[Request | Response]) -> list[str]:
    """"INVITE", "180", ... for compact assertions."""
    return [m.method if isinstance(m, Request) else str(m.status) for m in messages]
