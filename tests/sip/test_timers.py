import pytest

from voxcenter.sip import timers as t
from voxcenter.sip.timers import TimerValues

V = TimerValues()


def test_defaults_are_rfc3261_table_4():
    assert (V.t1, V.t2, V.t4) == (0.5, 4.0, 5.0)


def test_unreliable_values():
    assert t.timer_a(V, reliable=False) == 0.5
    assert t.timer_b(V) == t.timer_f(V) == t.timer_h(V) == t.timer_j(V, reliable=False) == 32.0
    assert t.timer_d(V, reliable=False) == 32.0
    assert t.timer_e(V, reliable=False) == t.timer_g(V, reliable=False) == 0.5
    assert t.timer_i(V, reliable=False) == t.timer_k(V, reliable=False) == 5.0
    assert t.timer_l(V) == t.timer_m(V) == t.ack_wait(V) == 32.0


def test_reliable_values():
    assert t.timer_a(V, reliable=True) is None
    assert t.timer_e(V, reliable=True) is None
    assert t.timer_g(V, reliable=True) is None
    assert t.timer_d(V, reliable=True) == 0.0
    assert t.timer_i(V, reliable=True) == t.timer_j(V, reliable=True) == t.timer_k(V, reliable=True) == 0.0
    assert t.timer_b(V) == 32.0  # B, F, H do not depend on the transport


def test_timer_d_is_at_least_32_seconds_even_with_a_small_t1():
    assert t.timer_d(TimerValues(t1=0.1), reliable=False) == 32.0
    assert t.timer_d(TimerValues(t1=1.0, t2=4.0), reliable=False) == 64.0


def test_a_doubles_without_cap_and_e_g_cap_at_t2():
    intervals_a = [0.5]
    intervals_e = [0.5]
    for _ in range(5):
        intervals_a.append(t.next_timer_a(intervals_a[-1]))
        intervals_e.append(t.next_timer_e(intervals_e[-1], V, proceeding=False))
    assert intervals_a == [0.5, 1, 2, 4, 8, 16]
    assert intervals_e == [0.5, 1, 2, 4, 4, 4]
    assert t.next_timer_g(2.0, V) == 4.0 and t.next_timer_g(4.0, V) == 4.0
    assert t.next_timer_e(0.5, V, proceeding=True) == 4.0


@pytest.mark.parametrize("bad", [dict(t1=0.0), dict(t1=5.0, t2=4.0), dict(t4=0.0)])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError, match="timer values"):
        TimerValues(**bad)
