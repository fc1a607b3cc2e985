"""Erlang C: the M/M/c queue that staffing advice and the simulator's checks rest on.

Traffic ``a`` is offered load in erlangs (arrival rate × mean handle time),
``n`` the number of agents. Computed with the Erlang B recursion, which is
numerically stable for hundreds of agents where factorials overflow.
"""

from __future__ import annotations

import math


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
