"""The shape of every controller: informer events enqueue keys; workers reconcile one key at a time.

`sync(key)` reads the desired and observed state from the informers' caches and makes one step toward
the desired state. It is level-triggered: it never relies on which event woke it, so it may run any number
of times, after any crash, and converge. A failed sync is retried with per-key back-off; `resync_period`
re-enqueues every key now and then, catching anything a lost event hid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from controllers.context import ControllerContext
from kube import errors
from kube.informer import Handler, Informer, object_key
from kube.resources import ResourceType
from kube.workqueue import WorkQueue

__all__ = ["Controller", "controller_of"]

Obj = dict[str, Any]


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


class Controller:
    name: ClassVar[str] = "controller"
    #: the resource whose objects are the queue's keys (None: the subclass wires its own informers)
    primary: ClassVar[ResourceType | None] = None
    #: other resources whose informers must be synced before the first sync
    watches: ClassVar[tuple[ResourceType, ...]] = ()
    workers: ClassVar[int] = 2
    resync_period: ClassVar[float] = 30.0

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.queue = WorkQueue(base_delay=0.05, max_delay=60.0)
        self.log = logging.getLogger(f"controllers.{self.name}")
        if self.primary is not None:
            self.informer: Informer = ctx.informers.informer(self.primary)
            self.informer.add_handler(Handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                              on_delete=self.enqueue))

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def enqueue_all(self, objs: Iterable[Obj]) -> None:
        for obj in objs:
            self.enqueue(obj)

    def owner_key(self, obj: Obj, kind: str) -> str | None:
        """The queue key of `obj`'s controlling owner when it is of `kind` (owners live in its namespace)."""
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        ns = obj["metadata"].get("namespace")
        owner = self.informer.get(f"{ns}/{ref['name']}" if ns else ref["name"])
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return object_key(owner)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def initial_keys(self) -> list[str]:
        return [object_key(o) for o in self.informer.list()] if self.primary is not None else []

    async def run(self) -> None:
        await self.ctx.informers.wait_synced(*([self.primary] if self.primary else []), *self.watches)
        self.log.info("%s controller started (%d workers)", self.name, self.workers)
        for key in self.initial_keys():
            self.queue.add(key)
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        tasks.append(asyncio.create_task(self._resync(), name=f"{self.name}-resync"))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for task in tasks:
                task.cancel()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            for key in self.initial_keys():
                self.queue.add(key)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except errors.Conflict as exc:  # a stale cache: normal, retry soon and quietly
                self.log.debug("sync %s: %s", key, exc)
                self.queue.add_rate_limited(key)
            except Exception as exc:
                self.log.warning("sync %s failed (retry %d): %s", key, self.queue.retries(key) + 1, exc,
                                 exc_info=not isinstance(exc, errors.ApiError))
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
