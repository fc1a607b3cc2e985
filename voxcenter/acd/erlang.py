"""Erlang C and Erlang A: the queues that staffing advice, wait estimates and the simulator's checks rest on.

Traffic ``a`` is offered load in erlangs (arrival rate × mean handle time),
``n`` the number of agents. Erlang C (M/M/n) has callers who never hang up; it is
computed with the Erlang B recursion, which is numerically stable for hundreds of
agents where factorials overflow. Erlang A (M/M/n+M) adds exponential patience:
a waiting caller hangs up at rate θ = 1 / mean patience.

The wait of a caller who is answered, in Erlang A: with every agent busy, the caller
at position *k* (k − 1 callers ahead) moves up when an agent frees (rate nμ) or a
caller ahead hangs up (rate θ each), and is answered only if it does not hang up
itself first. Conditioning on that (its own exponential patience outlasting the wait)
turns the rate of each step from nμ + (j − 1)θ into nμ + jθ, so the wait of an
answered caller at position k is a sum of k exponential steps with rates
nμ + θ, nμ + 2θ, …, nμ + kθ (:func:`answered_wait_cdf`). Its mean is
Σ 1 / (nμ + jθ); with θ = 0 it is Erlang C's k / (nμ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(n: int, traffic: float) -> float:
    """Blocking probability of an M/M/n/n loss system (Erlang B)."""
    if n < 0 or traffic < 0:
        raise ValueError("agents and traffic must be non-negative")
    b = 1.0
    for k in range(1, n + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(n: int, traffic: float) -> float:
    """Probability that a caller has to wait (Erlang C); 1.0 when n <= traffic."""
    if n <= traffic:
        return 1.0
    b = erlang_b(n, traffic)
    return n * b / (n - traffic * (1.0 - b))


def service_level(n: int, traffic: float, aht: float, target: float) -> float:
    """Share of callers answered within ``target`` seconds, for mean handle time ``aht``."""
    if n <= traffic:
        return 0.0
    pw = erlang_c(n, traffic)
    return 1.0 - pw * math.exp(-(n - traffic) * target / aht)


def average_speed_of_answer(n: int, traffic: float, aht: float) -> float:
    """Mean wait over all callers (ASA), in seconds; infinite when n <= traffic."""
    if n <= traffic:
        return math.inf
    return erlang_c(n, traffic) * aht / (n - traffic)


def agents_for_service_level(
    traffic: float, aht: float, target: float, goal: float, max_occupancy: float = 1.0
) -> int:
    """Fewest agents reaching ``goal`` (e.g. 0.8) within ``target`` seconds, and occupancy at most
    ``max_occupancy``."""
    if not 0.0 < goal < 1.0:
        raise ValueError("service-level goal must be between 0 and 1")
    if traffic <= 0:
        return 0
    n = max(1, math.floor(traffic) + 1)
    while service_level(n, traffic, aht, target) < goal or traffic / n > max_occupancy:
        n += 1
    return n


def answered_wait_cdf(k: int, rate: float, theta: float, t: float) -> float:
    """P(wait ≤ ``t``) for an answered caller ``k`` steps from an agent: a sum of ``k`` exponentials with rates
    ``rate + θ``, ``rate + 2θ``, …, ``rate + kθ``.

    With m = rate / θ these are the first k deaths among m + k lives of rate θ, so the wait is ≤ t when at
    least k of them died by t: P = 1 − Σ_{j<k} (m + 1)_j / j! · (1 − e^{−θt})^j · e^{−(m + 1)θt} (a negative
    binomial tail); with θ = 0 it is Erlang's (Poisson) tail 1 − Σ_{j<k} e^{−rt} (rt)^j / j!.
    Summed in logarithms, so hundreds of steps neither overflow nor underflow.
    """
    if k < 1 or rate <= 0 or theta < 0:
        raise ValueError("need k >= 1, rate > 0 and theta >= 0")
    if t <= 0:
        return 0.0
    if theta == 0.0:
        x = rate * t
        log_x = math.log(x)
        tail = sum(math.exp(-x + j * log_x - math.lgamma(j + 1)) for j in range(k))
    else:
        m1 = rate / theta + 1.0
        log_gone = math.log(-math.expm1(-theta * t))  # log(1 − e^{−θt})
        log_term = -m1 * theta * t
        tail = 0.0
        for j in range(k):
            tail += math.exp(log_term)
            log_term += math.log((m1 + j) / (j + 1)) + log_gone
    return min(1.0, max(0.0, 1.0 - tail))


def answered_wait_mean(k: int, rate: float, theta: float) -> float:
    """Mean wait of an answered caller ``k`` steps from an agent: Σ_{j=1..k} 1 / (rate + jθ)."""
    return sum(1.0 / (rate + j * theta) for j in range(1, k + 1))


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady-state figures of the M/M/n+M queue (Erlang A)."""

    p_wait: float
    """Share of callers who find every agent busy."""
    p_abandon: float
    """Share of callers who hang up before an agent answers."""
    asa: float
    """Mean wait of answered callers, seconds."""
    service_level: float
    """Share of all callers answered within the target."""


def erlang_a(n: int, traffic: float, aht: float, patience: float, target: float, tail: float = 1e-12) -> ErlangA:
    """Erlang A for ``n`` agents, ``traffic`` erlangs, mean handle time ``aht`` and mean patience ``patience``.

    States j = callers in the system: π_j ∝ a^j / j! up to n, then each step up multiplies by λ / (nμ + (j − n)θ);
    the sum is cut once the terms fall below ``tail`` of the total. An arrival finding j ≥ n is at position
    k = j − n + 1, is answered with probability nμ / (nμ + kθ) and then waits as :func:`answered_wait_cdf` says.
    """
    if n < 1 or traffic <= 0 or aht <= 0 or patience <= 0:
        raise ValueError("need agents >= 1 and positive traffic, handle time and patience")
    mu, theta = 1.0 / aht, 1.0 / patience
    lam = traffic * mu
    log_pi = [j * math.log(traffic) - math.lgamma(j + 1) for j in range(n + 1)]
    k = 0
    while True:
        k += 1
        log_pi.append(log_pi[-1] + math.log(lam / (n * mu + k * theta)))
        if k > 10 and log_pi[-1] < max(log_pi) + math.log(tail):
            break
    top = max(log_pi)
    weights = [math.exp(v - top) for v in log_pi]
    total = sum(weights)
    p_wait = abandon = answered_wait = answered = within = 0.0
    within = sum(weights[:n]) / total
    answered = within
    for j in range(n, len(weights)):
        p = weights[j] / total
        position = j - n + 1
        served = n * mu / (n * mu + position * theta)
        p_wait += p
        abandon += p * (1.0 - served)
        answered += p * served
        answered_wait += p * served * answered_wait_mean(position, n * mu, theta)
        within += p * served * answered_wait_cdf(position, n * mu, theta, target)
    return ErlangA(p_wait, abandon, answered_wait / answered, within)
