"""Events the scheduler writes (Scheduled, FailedScheduling, Preempted), off the scheduling path.

Like client-go's event broadcaster: `record` only queues (bounded; beyond the bound events are dropped with a
log line, never blocking scheduling), a background writer sends them, and a repeated event (same object, type,
reason and message) is aggregated into the existing Event by raising its `count` and `lastTimestamp`, so
`kubectl describe` shows `(x4 over 2m)` instead of four lines. Events yield to the scheduler's real work: while
`busy()` (bindings in flight) the writer holds an event back until it is `max_delay` seconds old, so a burst of
pods is bound first and described just after, and under sustained load events arrive about that late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kube import errors, timeutil
from scheduler.hotpath import HotPathClient

__all__ = ["EventSink"]

log = logging.getLogger("scheduler.events")

Obj = dict[str, Any]


class EventSink:
    def __init__(self, client: HotPathClient, component: str = "default-scheduler", instance: str = "",
                 max_queued: int = 10000, writers: int = 1, remembered: int = 4096,
                 busy: Callable[[], bool] | None = None, max_delay: float = 2.0) -> None:
        self.client = client
        self.busy = busy or (lambda: False)
        self.max_delay = max_delay
        self.component = component
        self.instance = instance
        self.max_queued = max_queued
        self.writers = writers
        self.remembered = remembered
        self._queue: asyncio.Queue[tuple[float, Obj, str, str, str, str, str, str]] | None = None
        self._seen: OrderedDict[tuple[str, str, str, str], tuple[str, str, int, str]] = OrderedDict()
        self.dropped = 0
        self.written = 0

    def _q(self) -> asyncio.Queue[tuple[float, Obj, str, str, str, str, str, str]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    def record(self, obj: Obj, event_type: str, reason: str, message: str, action: str = "",
               related: str = "", component: str = "") -> None:
        """Queue an Event; `component` is the reporting profile (kube-scheduler reports as the schedulerName)."""
        queue = self._q()
        if queue.qsize() >= self.max_queued:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("event queue full: dropped %d events so far", self.dropped)
            return
        queue.put_nowait((time.monotonic(), obj, event_type, reason, message, action, related,
                          component or self.component))

    async def run(self) -> None:
        await asyncio.gather(*(self._writer() for _ in range(self.writers)))

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._q().join(), timeout)

    async def _writer(self) -> None:
        queue = self._q()
        while True:
            recorded, *item = await queue.get()
            while self.busy() and time.monotonic() - recorded < self.max_delay:
                await asyncio.sleep(0.02)
            try:
                await self._write(*item)
                self.written += 1
            except errors.ApiError as exc:
                log.warning("could not record event %s: %s", item[2], exc)
            except Exception:
                log.exception("recording event %s failed", item[2])
            finally:
                queue.task_done()

    async def _write(self, obj: Obj, event_type: str, reason: str, message: str, action: str, related: str,
                     component: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = timeutil.now()
        key = (meta.get("uid") or f"{namespace}/{meta.get('name')}", event_type, reason, message)
        seen = self._seen.get(key)
        if seen is not None:
            name, ns, count, first = seen
            patch = {"count": count + 1, "lastTimestamp": now}
            try:
                await self.client.request("PATCH", f"/api/v1/namespaces/{ns}/events/{name}", patch,
                                          content_type="application/merge-patch+json")
                self._seen[key] = (name, ns, count + 1, first)
                self._seen.move_to_end(key)
                return
            except errors.NotFound:
                del self._seen[key]
        name = f"{meta.get('name')}.{time.time_ns():x}"
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion") or "v1",
                "kind": obj.get("kind") or "Pod",
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if action:
            event["action"] = action
        if related:
            event["related"] = {"kind": "Pod", "name": related.split("/")[-1], "namespace": related.split("/")[0]}
        await self.client.request("POST", f"/api/v1/namespaces/{namespace}/events", event)
        self._seen[key] = (name, namespace, 1, now)
        if len(self._seen) > self.remembered:
            self._seen.popitem(last=False)
