"""The watch cache: ONE etcd watch per resource type, fanned out from memory to every HTTP watcher.

A window of recent events is kept so a watcher can resume from any resourceVersion inside it; older
resourceVersions get 410 Gone (the client re-lists), as Kubernetes' own watch cache answers. A watcher whose
queue fills up (a client that does not read) is closed rather than allowed to hold memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apiserver.storage import EtcdStorage, StoredEvent
from kube import errors

__all__ = ["CacheEvent", "Subscription", "WatchCache"]

log = logging.getLogger("apiserver.watchcache")

Obj = dict[str, Any]


@dataclass(frozen=True)
class CacheEvent:
    revision: int
    key: str
    object: Obj | None  # current state; None when deleted
    prev: Obj | None


@dataclass(eq=False)  # identity semantics: subscriptions live in a set
class Subscription:
    since: int
    queue: asyncio.Queue[CacheEvent | None] = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))
    closed: bool = False

    def push(self, event: CacheEvent) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            self.close()
            return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # Make room for the end marker: the reader stops at it, whatever is queued before.
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(None)


class WatchCache:
    """Recent events of one resource type, kept fresh by one etcd watch."""

    def __init__(self, storage: EtcdStorage, resource: str, capacity: int = 10_000) -> None:
        self.storage = storage
        self.resource = resource
        self.prefix = storage.prefix(resource)
        self.capacity = capacity
        self.events: deque[CacheEvent] = deque(maxlen=capacity)
        self.revision = 0  # highest revision this cache has seen (or started at)
        self.oldest = 0  # watchers may resume from any revision >= this
        self.compacted = 0  # etcd has no history before this: the window never reaches below it
        self.subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def start(self) -> None:
        self.revision = self.oldest = await self.storage.revision()
        self._task = asyncio.create_task(self._run(), name=f"watchcache-{self.resource}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self.subscribers):
            sub.close()

    def subscribe(self, since: int) -> Subscription:
        """Events with revision > `since`: replayed from the window, then live. Gone if older than the window
        (callers fall back to etcd for those)."""
        if since < self.oldest:
            raise errors.Gone(f"too old resource version: {since} ({self.oldest})")
        sub = Subscription(since)
        for event in self.events:  # no await between replay and registration: nothing slips through
            if event.revision > since and not sub.push(event):
                break
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def wait_for_revision(self, revision: int, timeout: float = 3.0) -> None:
        """Wait until the cache has caught up with `revision` (a write just made may lag the watch)."""
        if self.revision >= revision:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revision_waiters.append((revision, future))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, timeout)

    def forget_before(self, revision: int) -> None:
        """etcd compacted everything before `revision`: stop replaying it, so a watch from before goes to etcd
        and gets 410 Gone there, as it would from Kubernetes' watch cache."""
        self.compacted = max(self.compacted, revision)
        self.oldest = max(self.oldest, revision)
        while self.events and self.events[0].revision < revision:
            self.events.popleft()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async for stored in self.storage.watch(self.prefix, self.revision + 1):
                    self._add(stored)
                    delay = 0.1
                log.warning("etcd watch on %s ended; restarting", self.prefix)
            except asyncio.CancelledError:
                raise
            except errors.Gone:
                log.warning("etcd compacted past %s for %s; resetting the cache", self.revision, self.resource)
                await self._reset()
            except Exception as exc:
                log.warning("etcd watch on %s failed (%s); retrying in %.1fs", self.prefix, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _reset(self) -> None:
        for sub in list(self.subscribers):
            sub.close()
        self.subscribers.clear()
        self.events.clear()
        self.revision = self.oldest = await self.storage.revision()

    def _add(self, stored: StoredEvent) -> None:
        event = CacheEvent(stored.revision, stored.key, stored.object, stored.prev)
        if len(self.events) == self.capacity:
            self.oldest = max(self.compacted, self.events[0].revision)
        self.events.append(event)
        self.revision = stored.revision
        for sub in list(self.subscribers):
            if not sub.push(event):
                self.subscribers.discard(sub)
        if self._revision_waiters:
            ready = [(r, f) for r, f in self._revision_waiters if r <= self.revision]
            self._revision_waiters = [(r, f) for r, f in self._revision_waiters if r > self.revision]
            for _, future in ready:
                if not future.done():
                    future.set_result(None)


def translate(
    event: CacheEvent, matches: Callable[[Obj], bool]
) -> tuple[str, Obj] | None:
    """The watch event a filtered watcher sees, Kubernetes style: an object that starts matching is ADDED,
    one that stops matching is DELETED (with its new state), otherwise MODIFIED; None if irrelevant."""
    now = event.object is not None and matches(event.object)
    before = event.prev is not None and matches(event.prev)
    if event.object is None:
        if not before or event.prev is None:
            return None
        gone = {**event.prev, "metadata": {**event.prev["metadata"], "resourceVersion": str(event.revision)}}
        return "DELETED", gone
    if now and before:
        return "MODIFIED", event.object
    if now:
        return "ADDED", event.object
    if before:
        return "DELETED", event.object
    return None
