"""SIP timer values (RFC 3261 §17 and Table 4 of Appendix A, RFC 6026 §8 for Timers L and M).

Timers are data: each function below maps ``T1``, ``T2``, ``T4`` and whether the
transport is reliable to a duration in seconds, so one set of state machines
serves UDP and TCP/TLS alike. A duration of ``0.0`` means "fire at once" (the
state is left immediately); ``None`` means the timer is not used at all on that
transport (the retransmission timers A, E and G on reliable transports).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimerValues:
    """The three base intervals of RFC 3261 §17.1.1.1 and Table 4."""

    t1: float = 0.5
    """RTT estimate; the first retransmission interval."""
    t2: float = 4.0
    """Maximum retransmit interval for non-INVITE requests and INVITE responses."""
    t4: float = 5.0
    """Maximum duration a message will remain in the network."""

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.t4 <= 0:
            raise ValueError(f"timer values need 0 < T1 <= T2 and T4 > 0, got {self}")


DEFAULT_TIMERS = TimerValues()

TRYING_DELAY = 0.2
"""RFC 3261 §17.2.1: the INVITE server transaction sends 100 Trying itself if the TU is silent this long."""


def timer_a(values: TimerValues, reliable: bool) -> float | None:
    """First INVITE retransmission interval (§17.1.1.2); unreliable transports only."""
    return None if reliable else values.t1


def next_timer_a(interval: float) -> float:
    """Timer A doubles without a cap (§17.1.1.2)."""
    return 2.0 * interval


def timer_b(values: TimerValues) -> float:
    """INVITE transaction timeout (§17.1.1.2): 64·T1."""
    return 64.0 * values.t1


def timer_d(values: TimerValues, reliable: bool) -> float:
    """Wait for response retransmissions in COMPLETED (§17.1.1.2): ≥ 32 s on UDP, 0 on reliable."""
    return 0.0 if reliable else max(32.0, 64.0 * values.t1)


def timer_e(values: TimerValues, reliable: bool) -> float | None:
    """First non-INVITE retransmission interval (§17.1.2.2); unreliable transports only."""
    return None if reliable else values.t1


def next_timer_e(interval: float, values: TimerValues, proceeding: bool) -> float:
    """Timer E doubles up to T2; in PROCEEDING it is reset to T2 (§17.1.2.2)."""
    return values.t2 if proceeding else min(2.0 * interval, values.t2)


def timer_f(values: TimerValues) -> float:
    """Non-INVITE transaction timeout (§17.1.2.2): 64·T1."""
    return 64.0 * values.t1


def timer_g(values: TimerValues, reliable: bool) -> float | None:
    """First retransmission of a non-2xx final response to INVITE (§17.2.1); unreliable only."""
    return None if reliable else values.t1


def next_timer_g(interval: float, values: TimerValues) -> float:
    """Timer G doubles up to T2 (§17.2.1); the UAS 2xx retransmission of §13.3.1.4 uses the same rule."""
    return min(2.0 * interval, values.t2)


def timer_h(values: TimerValues) -> float:
    """Wait for the ACK of a non-2xx final response (§17.2.1): 64·T1."""
    return 64.0 * values.t1


def timer_i(values: TimerValues, reliable: bool) -> float:
    """Absorb ACK retransmissions in CONFIRMED (§17.2.1): T4 on UDP, 0 on reliable."""
    return 0.0 if reliable else values.t4


def timer_j(values: TimerValues, reliable: bool) -> float:
    """Absorb non-INVITE request retransmissions in COMPLETED (§17.2.2): 64·T1 on UDP, 0 on reliable."""
    return 0.0 if reliable else 64.0 * values.t1


def timer_k(values: TimerValues, reliable: bool) -> float:
    """Absorb response retransmissions in COMPLETED (§17.1.2.2): T4 on UDP, 0 on reliable."""
    return 0.0 if reliable else values.t4


def timer_l(values: TimerValues) -> float:
    """INVITE server transaction lingers in ACCEPTED (RFC 6026 §8.7): 64·T1."""
    return 64.0 * values.t1


def timer_m(values: TimerValues) -> float:
    """INVITE client transaction lingers in ACCEPTED to absorb 2xx (RFC 6026 §8.4): 64·T1."""
    return 64.0 * values.t1


def ack_wait(values: TimerValues) -> float:
    """How long a UAS retransmits a 2xx waiting for its ACK (§13.3.1.4): 64·T1."""
    return 64.0 * values.t1
