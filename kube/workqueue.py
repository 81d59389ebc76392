"""A rate-limited work queue of keys, with client-go's semantics.

A key is never handled by two workers at once (`processing`), repeated adds while waiting merge (`dirty`),
and a key added while being processed is queued again when the worker calls `done`. Failed keys come back
after a per-key exponential back-off until `forget`.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["WorkQueue"]


class WorkQueue:
    def __init__(self, base_delay: float = 0.005, max_delay: float = 300.0) -> None:
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._shut = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shut or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wakeup.set()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def add_rate_limited(self, key: str) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, min(self._base_delay * (2**failures), self._max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def retries(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str:
        while not self._queue:
            if self._shut:
                raise asyncio.CancelledError("work queue shut down")
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wakeup.set()

    def shutdown(self) -> None:
        self._shut = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._wakeup.set()
