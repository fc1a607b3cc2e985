"""THE queue order: weighted wait since the aged start (priority worth 60 s a level), then starts, sequence."""

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from voxcenter.acd.model import Discipline
from voxcenter.acd.ordering import PRIORITY_STEP, aged_start, order_key


@dataclass(frozen=True)
class E:
    priority: int
    virtual_start: float
    seq: int


def test_higher_priority_first_then_earlier_start() -> None:
    entries = [E(0, 1.0, 1), E(5, 9.0, 2), E(0, 0.5, 3), E(5, 3.0, 4)]
    ranked = sorted(entries, key=lambda e: order_key(e, Discipline.PRIORITY, 1.0, 10.0))
    assert [e.seq for e in ranked] == [4, 2, 3, 1]


def test_priority_ages_a_level_is_worth_a_minute_of_waiting() -> None:
    assert PRIORITY_STEP == 60.0
    patient, vip = E(0, 0.0, 1), E(1, 59.0, 2)  # the vip joined 59 s later: one level (60 s) puts it ahead
    assert order_key(vip, Discipline.PRIORITY, 1.0, 100.0) < order_key(patient, Discipline.PRIORITY, 1.0, 100.0)
    late_vip = E(1, 61.0, 3)  # 61 s later: the caller who has waited longer goes first
    assert order_key(patient, Discipline.PRIORITY, 1.0, 100.0) < order_key(late_vip, Discipline.PRIORITY, 1.0, 100.0)
    assert aged_start(E(3, 500.0, 4), Discipline.PRIORITY) == 320.0
    assert aged_start(E(3, 500.0, 4), Discipline.LONGEST_WAIT) == 500.0


def test_longest_wait_ignores_priority() -> None:
    entries = [E(0, 1.0, 1), E(9, 2.0, 2)]
    ranked = sorted(entries, key=lambda e: order_key(e, Discipline.LONGEST_WAIT, 1.0, 10.0))
    assert [e.seq for e in ranked] == [1, 2]


def test_weights_compare_waits_across_queues() -> None:
    # 40 s in a weight-2 queue counts as 80 s, ahead of 60 s in a weight-1 queue.
    heavy, light = E(0, 60.0, 2), E(0, 40.0, 1)
    now = 100.0
    assert order_key(heavy, Discipline.LONGEST_WAIT, 2.0, now) < order_key(light, Discipline.LONGEST_WAIT, 1.0, now)


starts = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(
    st.lists(st.tuples(st.integers(-3, 3), starts), min_size=1, max_size=20),
    st.sampled_from(list(Discipline)),
    st.floats(min_value=0.1, max_value=10),
    st.floats(min_value=0, max_value=1e6),
)
def test_order_within_one_queue_does_not_depend_on_now(
    raw: list[tuple[int, float]], discipline: Discipline, weight: float, later: float
) -> None:
    entries = [E(p, s, i) for i, (p, s) in enumerate(raw)]
    t0 = max(e.virtual_start for e in entries)
    first = sorted(entries, key=lambda e: order_key(e, discipline, weight, t0))
    second = sorted(entries, key=lambda e: order_key(e, discipline, weight, t0 + later))
    assert first == second
