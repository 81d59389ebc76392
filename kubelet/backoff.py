"""Per-key exponential back-off, as client-go's `flowcontrol.Backoff` that the kubelet uses for
CrashLoopBackOff and ImagePullBackOff.

A container that exits is restarted at once the first time; each further restart waits twice as long as the
previous one (initial, 2x, 4x ... up to the maximum), counted from when the container finished. A key left
alone for twice the maximum starts again from the initial delay. The clock is injected for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "go_duration"]


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def next(self, key: str, event_time: float) -> None:
        """Record one more restart (or pull attempt) for `key`, lengthening its next delay."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            self._entries[key] = _Entry(self.initial, event_time)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = event_time

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until `key` may act again, counted from `event_time`; 0 when it may act now."""
        entry = self._entries.get(key)
        now = self.clock()
        if entry is None or self._expired(now, entry):
            return 0.0
        return max(0.0, entry.delay - (now - event_time))

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        return self.remaining(key, event_time) > 0

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key starting with `prefix` (all of one pod's containers when it goes away)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self) -> None:
        now = self.clock()
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """A duration as Go's `time.Duration.String()` prints it (10s, 1m20s, 5m0s, 1.5s), which the
    kubelet's messages show."""
    if seconds < 60:
        text = f"{seconds:.3f}".rstrip("0").rstrip(".")
        return f"{text}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"
