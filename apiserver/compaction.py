"""etcd compaction on kube-apiserver's schedule, so etcd's history (and a watch from an old revision) stays bounded.

As `k8s.io/apiserver/pkg/storage/etcd3/compact.go` does it: every `interval` (default 5 minutes, 0 disables) the
apiserver compacts etcd up to the revision it saw at the previous tick, so one interval of history is kept for
slow watchers. Several apiservers share one etcd: a compare-and-swap on the version of `compact_rev_key` lets only
one of them compact per interval; the others learn the new version and try again an interval later (so after a
failover the gap is between one and two intervals). The first tick only records a revision ("we don't compact on
bootstrap"). Reads and watches from a compacted revision then get 410 Gone from etcd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from apiserver.storage import EtcdStorage
from kube import errors

__all__ = ["COMPACT_REV_KEY", "DEFAULT_COMPACTION_INTERVAL", "Compactor", "compact"]

log = logging.getLogger("apiserver.compaction")

COMPACT_REV_KEY = "compact_rev_key"  # Kubernetes' key, outside /registry/
DEFAULT_COMPACTION_INTERVAL = 300.0  # kube-apiserver's --etcd-compaction-interval (5m)


async def compact(storage: EtcdStorage, expect_version: int, revision: int) -> tuple[int, int, int]:
    """One round: (the compact key's version now, the store's revision now, the revision compacted or 0)."""
    ok, current, version, value = await storage.claim_compaction(COMPACT_REV_KEY, expect_version, revision)
    if not ok:
        try:
            return version, current, int(value)  # another apiserver compacted (or bootstrapped) to that revision
        except ValueError:
            return version, current, 0
    if revision == 0:
        return version, current, 0  # bootstrap: nothing recorded yet to compact to
    with contextlib.suppress(errors.Gone):  # already compacted past it (by hand, or etcd's --auto-compaction-*)
        await storage.compact(revision)
    log.info("compacted etcd up to revision %d", revision)
    return version, current, revision


class Compactor:
    """The compaction loop as a task: `start()`, `stop()`; `compacted` is the last revision known compacted
    (by this apiserver or another). `on_compacted(revision)` is called after every round that knows one, so
    in-memory history (the watch caches) can stop serving what etcd no longer has."""

    def __init__(self, storage: EtcdStorage, interval: float = DEFAULT_COMPACTION_INTERVAL,
                 on_compacted: Callable[[int], None] | None = None) -> None:
        self.storage = storage
        self.interval = interval
        self.on_compacted = on_compacted
        self.compacted = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="etcd-compactor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        version = revision = 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                version, revision, compacted = await compact(self.storage, version, revision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # etcd away: try again next interval, with what we knew
                log.warning("etcd compaction failed: %s", exc)
                continue
            self.compacted = max(self.compacted, compacted)
            if self.compacted and self.on_compacted is not None:
                self.on_compacted(self.compacted)
