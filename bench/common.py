"""What the benchmarks share: percentiles and a bounded-concurrency rate loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def bounded(n: int, concurrency: int, job: Callable[[int], Awaitable[object]]) -> float:
    """Run job(i) for i < n with at most `concurrency` in flight; the achieved rate per second."""
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await job(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)
