"""The scheduling loop: take a pending pod, filter nodes, score the survivors, bind to the best.

Pods that fit nowhere wait in an unschedulable set and go back to the active queue when something that
could make room happens (a node added or changed, a pod deleted or finished), and at least every
`retry_interval` seconds. Bound pods are "assumed" on their node until the informer shows the binding, so
two pods scheduled back to back never over-commit a node.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from kube import errors, timeutil
from kube.client import ApiClient
from kube.events import EventRecorder
from kube.informer import Handler, Informer, object_key
from kube.resources import NODES, PODS
from kube.workqueue import WorkQueue
from scheduler.framework import FilterPlugin, NodeInfo, ScorePlugin, Status, failure_message
from scheduler.plugins import default_plugins

__all__ = ["Scheduler"]

log = logging.getLogger("scheduler")

Obj = dict[str, Any]


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Scheduler:
    def __init__(
        self,
        client: ApiClient,
        *,
        scheduler_name: str = "default-scheduler",
        retry_interval: float = 30.0,
        workers: int = 1,
        plugins: tuple[list[FilterPlugin], list[ScorePlugin]] | None = None,
    ) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        self.retry_interval = retry_interval
        self.workers = workers
        self.filters, self.scorers = plugins or default_plugins()
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self.pods.add_indexer("node", lambda p: [p["spec"]["nodeName"]] if p["spec"].get("nodeName") else [])
        self.queue = WorkQueue(base_delay=0.1, max_delay=10.0)
        self.unschedulable: set[str] = set()
        self.assumed: dict[str, tuple[str, Obj]] = {}  # pod key -> (node name, pod)
        self.recorder = EventRecorder(client, "default-scheduler")
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handler(Handler(lambda _: self._retry_all(), lambda _o, _n: self._retry_all(), None))

    # ------------------------------------------------------------------ event handlers

    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or "default-scheduler") == self.scheduler_name

    def _pending(self, pod: Obj) -> bool:
        return (not pod["spec"].get("nodeName") and not pod["metadata"].get("deletionTimestamp")
                and not _terminal(pod) and self._responsible(pod))

    def _pod_added(self, pod: Obj) -> None:
        if self._pending(pod):
            self.queue.add(object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = object_key(new)
        if new["spec"].get("nodeName"):
            self.assumed.pop(key, None)  # the binding is now in the cache itself
            if _terminal(new) and not _terminal(old):
                self._retry_all()  # a finished pod frees its requests
        elif self._pending(new):
            if key in self.unschedulable and old["spec"] == new["spec"]:
                return  # only its status changed (e.g. our own Unschedulable condition): nothing new to try
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = object_key(pod)
        self.assumed.pop(key, None)
        self.unschedulable.discard(key)
        if pod["spec"].get("nodeName"):
            self._retry_all()

    def _retry_all(self) -> None:
        for key in self.unschedulable:
            self.queue.add(key)
        self.unschedulable.clear()

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pods.run(), name="pods-informer")
            tg.create_task(self.nodes.run(), name="nodes-informer")
            await self.pods.synced.wait()
            await self.nodes.synced.wait()
            log.info("caches synced: %d pods, %d nodes", len(self.pods.keys()), len(self.nodes.keys()))
            for _ in range(self.workers):
                tg.create_task(self._worker())
            tg.create_task(self._periodic_retry())

    async def _periodic_retry(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            self._retry_all()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.schedule_one(key)
                self.queue.forget(key)
            except errors.ApiError as exc:
                log.warning("scheduling %s failed: %s; retrying", key, exc)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("scheduling %s crashed; retrying", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    # ------------------------------------------------------------------ one pod

    def node_infos(self) -> list[NodeInfo]:
        infos = {n["metadata"]["name"]: NodeInfo(n) for n in self.nodes.list()}
        for info in infos.values():
            for pod in self.pods.by_index("node", info.name):
                if not _terminal(pod):
                    info.add_pod(pod)
        for key, (node_name, pod) in self.assumed.items():
            cached = self.pods.get(key)
            if node_name in infos and not (cached and cached["spec"].get("nodeName")):
                infos[node_name].add_pod(pod)
        return list(infos.values())

    def select_node(self, pod: Obj, infos: list[NodeInfo]) -> tuple[NodeInfo | None, dict[str, Status]]:
        failures: dict[str, Status] = {}
        feasible: list[NodeInfo] = []
        for info in infos:
            for plugin in self.filters:
                status = plugin.filter(pod, info)
                if not status.ok:
                    failures[info.name] = status
                    break
            else:
                feasible.append(info)
        if not feasible:
            return None, failures
        scored = [(sum(s.score(pod, info) * s.weight for s in self.scorers), random.random(), info)
                  for info in feasible]
        return max(scored, key=lambda t: (t[0], t[1]))[2], failures

    async def schedule_one(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or not self._pending(pod) or key in self.assumed:
            return
        infos = self.node_infos()
        best, failures = self.select_node(pod, infos)
        if best is None:
            message = failure_message(len(infos), failures)
            self.unschedulable.add(key)
            log.info("pod %s is unschedulable: %s", key, message)
            await self._mark_unschedulable(pod, message)
            return
        self.assumed[key] = (best.name, pod)
        try:
            await self.client.bind(pod["metadata"]["namespace"], pod["metadata"]["name"], best.name,
                                   pod["metadata"].get("uid"))
        except errors.ApiError:
            self.assumed.pop(key, None)
            raise
        log.info("bound %s to %s", key, best.name)
        await self.recorder.record(
            pod, "Normal", "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {best.name}",
        )

    async def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        """Set PodScheduled=False/Unschedulable (once per distinct message) and record FailedScheduling."""
        conditions = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if current and current.get("reason") == "Unschedulable" and current.get("message") == message:
            return
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                     "lastTransitionTime": timeutil.now()}
        patch = {"status": {"conditions": [condition]}}
        try:
            await self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"],
                                    patch_type="strategic", subresource="status")
        except errors.NotFound:
            return
        await self.recorder.record(pod, "Warning", "FailedScheduling", message)
