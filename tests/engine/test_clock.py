"""The virtual clock: timers fire in (time, priority, sequence) order, and only when the owner asks."""

from engine.clock import VirtualClock, format_rfc3339, parse_rfc3339


def test_timers_fire_in_time_then_priority_then_insertion_order():
    clock = VirtualClock(start=100.0)
    fired = []
    clock.call_at(105, lambda: fired.append("b"))
    clock.call_at(103, lambda: fired.append("a"))
    clock.call_at(105, lambda: fired.append("c-urgent"), priority=-1)
    clock.call_at(105, lambda: fired.append("d"))
    clock.advance(4)
    for cb in clock.pop_due():
        cb()
    assert fired == ["a"]
    clock.advance(1)
    for cb in clock.pop_due():
        cb()
    assert fired == ["a", "c-urgent", "b", "d"]


def test_cancelled_timer_never_fires_and_next_due_skips_it():
    clock = VirtualClock(start=0)
    timer = clock.call_later(10, lambda: None)
    clock.call_later(20, lambda: None)
    timer.cancel()
    assert clock.next_due() == 20
    clock.advance(30)
    assert len(clock.pop_due()) == 1


def test_wall_time_is_scaled_by_speed_and_stops_when_paused():
    clock = VirtualClock(start=0, speed=20)
    assert clock.advance_wall(0.5) == 10
    clock.paused = True
    assert clock.advance_wall(5) == 0
    assert clock.now() == 10


def test_rfc3339_round_trip():
    assert format_rfc3339(1767225600) == "2026-01-01T00:00:00Z"
    assert parse_rfc3339("2026-01-01T00:00:00Z") == 1767225600
    assert parse_rfc3339("not a date") is None
