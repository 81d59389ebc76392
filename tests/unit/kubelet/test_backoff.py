"""Restart back-off: immediate first restart, doubling delays up to the maximum, reset after a quiet spell;
and the Go duration spelling the kubelet's messages use."""

from __future__ import annotations

import pytest

from kubelet.backoff import Backoff, go_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_restart_is_immediate_then_delays_double_up_to_the_maximum() -> None:
    clock = Clock()
    b = Backoff(10, 40, clock)
    assert not b.in_backoff_since("k", clock.now)  # never restarted: go
    delays = []
    for _ in range(5):
        b.next("k", clock.now)
        delays.append(b.get("k"))
    assert delays == [10, 20, 40, 40, 40]


def test_remaining_counts_from_when_the_container_finished() -> None:
    clock = Clock()
    b = Backoff(10, 300, clock)
    b.next("k", clock.now)
    finished = clock.now + 2
    clock.now += 5
    assert b.remaining("k", finished) == pytest.approx(7)
    clock.now = finished + 10
    assert not b.in_backoff_since("k", finished)


def test_a_quiet_key_starts_again_from_the_initial_delay() -> None:
    clock = Clock()
    b = Backoff(10, 60, clock)
    for _ in range(4):
        b.next("k", clock.now)
    assert b.get("k") == 60
    clock.now += 2 * 60 + 1
    assert not b.in_backoff_since("k", clock.now)
    b.next("k", clock.now)
    assert b.get("k") == 10
    b.gc()
    clock.now += 1000
    b.gc()
    assert b.get("k") == 0


def test_forget_prefix_drops_one_pods_keys() -> None:
    b = Backoff(1, 10)
    b.next("uid1/a", 0)
    b.next("uid2/a", 0)
    b.forget_prefix("uid1/")
    assert b.get("uid1/a") == 0 and b.get("uid2/a") == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "10s"), (1, "1s"), (1.5, "1.5s"), (40, "40s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"),
     (3720, "1h2m0s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
