"""The four transaction state machines of RFC 3261 §17 (as amended by RFC 6026), as literal tables.

A stimulus that a state does not list is either a bug of ours
(:class:`~voxcenter.sip.errors.LocalProtocolError`) or, when it is in
:data:`ABSORBABLE`, a remote retransmission or late arrival that is absorbed.
:mod:`voxcenter.sip.transaction` drives them.
"""

from __future__ import annotations

from enum import Enum


class TransactionState(Enum):
    """States as named in RFC 3261 Figures 5-8 and RFC 6026 Figures 5 and 7."""

    CALLING = "CALLING"
    TRYING = "TRYING"
    PROCEEDING = "PROCEEDING"
    COMPLETED = "COMPLETED"
    ACCEPTED = "ACCEPTED"
    CONFIRMED = "CONFIRMED"
    TERMINATED = "TERMINATED"


class Stimulus(Enum):
    """What can happen to a transaction: messages from the peer, verbs of the TU, timers."""

    RECV_1XX = "RECV_1XX"
    RECV_2XX = "RECV_2XX"
    RECV_300_699 = "RECV_300_699"
    RECV_REQUEST = "RECV_REQUEST"
    RECV_ACK = "RECV_ACK"
    SEND_1XX = "SEND_1XX"
    SEND_2XX = "SEND_2XX"
    SEND_300_699 = "SEND_300_699"
    SEND_STATELESS = "SEND_STATELESS"
    """A final non-2xx sent once by a stateless UAS (RFC 3261 §8.2.7): the transaction ends at once."""
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    TIMER_A = "A"
    TIMER_B = "B"
    TIMER_D = "D"
    TIMER_E = "E"
    TIMER_F = "F"
    TIMER_G = "G"
    TIMER_H = "H"
    TIMER_I = "I"
    TIMER_J = "J"
    TIMER_K = "K"
    TIMER_L = "L"
    TIMER_M = "M"
    TIMER_TRYING = "TRYING"


S = TransactionState
X = Stimulus

# Stimuli from outside: when a state does not list them they are retransmissions
# or late arrivals, absorbed without a state change. Anything else unlisted is our bug.
ABSORBABLE = frozenset({X.RECV_1XX, X.RECV_2XX, X.RECV_300_699, X.RECV_REQUEST, X.RECV_ACK, X.TRANSPORT_ERROR})

Table = dict[TransactionState, dict[Stimulus, TransactionState]]

# RFC 3261 Figure 5 as amended by RFC 6026 Figure 5.
INVITE_CLIENT: Table = {
    S.CALLING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.ACCEPTED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_A: S.CALLING, X.TIMER_B: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.ACCEPTED, X.RECV_300_699: S.COMPLETED,
        X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.RECV_300_699: S.COMPLETED, X.TIMER_D: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED},
    S.ACCEPTED: {X.RECV_2XX: S.ACCEPTED, X.TIMER_M: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 6.
NON_INVITE_CLIENT: Table = {
    S.TRYING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.COMPLETED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_E: S.TRYING, X.TIMER_F: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_1XX: S.PROCEEDING, X.RECV_2XX: S.COMPLETED, X.RECV_300_699: S.COMPLETED,
        X.TIMER_E: S.PROCEEDING, X.TIMER_F: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.TIMER_K: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 7 as amended by RFC 6026 Figure 7; SEND_STATELESS is §8.2.7 (a request answered before any
# response, e.g. a challenge, with nothing kept).
INVITE_SERVER: Table = {
    S.PROCEEDING: {
        X.RECV_REQUEST: S.PROCEEDING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.ACCEPTED,
        X.SEND_300_699: S.COMPLETED, X.TIMER_TRYING: S.PROCEEDING, X.TRANSPORT_ERROR: S.TERMINATED,
        X.SEND_STATELESS: S.TERMINATED,
    },
    S.COMPLETED: {
        X.RECV_REQUEST: S.COMPLETED, X.RECV_ACK: S.CONFIRMED, X.TIMER_G: S.COMPLETED,
        X.TIMER_H: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.CONFIRMED: {X.RECV_REQUEST: S.CONFIRMED, X.RECV_ACK: S.CONFIRMED, X.TIMER_I: S.TERMINATED},
    S.ACCEPTED: {X.RECV_REQUEST: S.ACCEPTED, X.RECV_ACK: S.ACCEPTED, X.SEND_2XX: S.ACCEPTED, X.TIMER_L: S.TERMINATED},
    S.TERMINATED: {},
}

# RFC 3261 Figure 8.
NON_INVITE_SERVER: Table = {
    S.TRYING: {
        X.RECV_REQUEST: S.TRYING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.COMPLETED,
        X.SEND_300_699: S.COMPLETED, X.TRANSPORT_ERROR: S.TERMINATED, X.SEND_STATELESS: S.TERMINATED,
    },
    S.PROCEEDING: {
        X.RECV_REQUEST: S.PROCEEDING, X.SEND_1XX: S.PROCEEDING, X.SEND_2XX: S.COMPLETED,
        X.SEND_300_699: S.COMPLETED, X.TRANSPORT_ERROR: S.TERMINATED,
    },
    S.COMPLETED: {X.RECV_REQUEST: S.COMPLETED, X.TIMER_J: S.TERMINATED, X.TRANSPORT_ERROR: S.TERMINATED},
    S.TERMINATED: {},
}
