"""Polling for e2e tests: wait until an async check returns something truthy, or fail with what it saw."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0, what: str = "condition",
                     interval: float = 0.15) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")
        await asyncio.sleep(interval)
