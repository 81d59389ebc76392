"""Expectations: how many creates and deletes a controller has asked for but not yet seen in its cache.

Without them a controller whose watch lags would count the pods it just created as missing and create
them again. A key whose expectations are unmet is not acted on (only its status is refreshed) until the
informer catches up or the expectations expire (a create that failed silently, a lost event).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Expectations"]


@dataclass
class _Pending:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    at: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._pending: dict[str, _Pending] = {}

    def expect_creations(self, key: str, count: int) -> None:
        self._pending[key] = _Pending(adds=count, deletes=set(self._pending.get(key, _Pending()).deletes))

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        current = self._pending.get(key, _Pending())
        self._pending[key] = _Pending(adds=current.adds, deletes=set(pod_keys))

    def creation_observed(self, key: str) -> None:
        if key in self._pending:
            self._pending[key].adds = max(0, self._pending[key].adds - 1)

    def creation_failed(self, key: str) -> None:
        self.creation_observed(key)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        if key in self._pending:
            self._pending[key].deletes.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        pending = self._pending.get(key)
        if pending is None:
            return True
        if (pending.adds <= 0 and not pending.deletes) or time.monotonic() - pending.at > self.ttl:
            del self._pending[key]
            return True
        return False

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)
