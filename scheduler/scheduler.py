"""The scheduler: informers feed the cache and the queue; one loop takes the best pending pod, runs its
profile's plugins, assumes it on the chosen node and binds it in the background.

    informers   pods (assigned ones go to the cache, pending ones of our schedulerName(s) to the queue), nodes,
                namespaces (namespaceSelector), PriorityClasses (the apiserver does not resolve
                priorityClassName into spec.priority yet, so the scheduler does: spec.priority if set, else the
                class's value, else the globalDefault class, else 0), and Services/ReplicaSets/StatefulSets
                (default topology spreading of an app's pods);
    cycle       synchronous from pop to assume, so the cache cannot change under it; then the binding
                (POST pods/binding) runs as a task with bounded concurrency, like kube-scheduler's binding
                cycle, while the loop goes on with the next pod;
    failure     no fitting node: preemption may nominate a node (victims deleted), the pod gets
                PodScheduled=False/Unschedulable with kube-scheduler's message and a FailedScheduling event,
                then waits in the queue until a relevant cluster event (or back-off after an error).

Pods for other schedulerNames are left alone. Events and status writes go through a small keep-alive client
(`hotpath`), lists and watches through the shared ApiClient.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from kube import conditions as kconditions
from kube import errors, scheduling, timeutil
from kube import labels as klabels
from kube.client import ApiClient
from kube.informer import Handler, Informer, object_key
from kube.resources import (
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    STORAGECLASSES,
    by_plural,
)
from scheduler.cache import Cache
from scheduler.config import SchedulerConfig, build_profiles, default_config
from scheduler.events import EventSink
from scheduler.framework import Event, FitError, Handle, PodInfo
from scheduler.hotpath import HotPathClient
from scheduler.profile import Profile
from scheduler.queue import Nominator, QueuedPodInfo, SchedulingQueue

__all__ = ["Scheduler"]

log = logging.getLogger("scheduler")

Obj = dict[str, Any]

PRIORITYCLASSES = by_plural("scheduling.k8s.io", "v1", "priorityclasses")
# What kube-apiserver creates at start; used when the objects are absent.


def _assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _spec_changed(old: Obj, new: Obj) -> bool:
    """A change that may make a pending pod schedulable (not our own status writes)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
            or om.get("annotations") != nm.get("annotations"))


def _ready(node: Obj) -> str | None:
    return next((c.get("status") for c in (node.get("status") or {}).get("conditions") or ()
                 if c.get("type") == "Ready"), None)


def node_events(old: Obj, new: Obj) -> list[Event]:
    """What changed on a node, as cluster events (heartbeats alone change nothing)."""
    out: list[Event] = []
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    ost, nst = old.get("status") or {}, new.get("status") or {}
    if om.get("labels") != nm.get("labels"):
        out.append(Event.NODE_LABEL)
    if os_.get("taints") != ns_.get("taints"):
        out.append(Event.NODE_TAINT)
    if bool(os_.get("unschedulable")) != bool(ns_.get("unschedulable")):
        out.append(Event.NODE_SCHEDULABLE)
    if ost.get("allocatable") != nst.get("allocatable") or ost.get("capacity") != nst.get("capacity"):
        out.append(Event.NODE_ALLOCATABLE)
    if _ready(old) != _ready(new):
        out.append(Event.NODE_CONDITION)
    if ost.get("images") != nst.get("images"):
        out.append(Event.NODE_IMAGES)
    return out


class Scheduler:
    def __init__(
        self,
        client: ApiClient,
        hot: HotPathClient | None = None,
        config: SchedulerConfig | None = None,
        *,
        identity: str = "",
    ) -> None:
        self.client = client
        self.hot = hot or HotPathClient(client.server)
        self.config = config or default_config()
        self.cache = Cache()
        self.nominator = Nominator()
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self.namespaces = Informer(client, NAMESPACES)
        self.services = Informer(client, SERVICES)
        self.replicasets = Informer(client, REPLICASETS)
        self.statefulsets = Informer(client, STATEFULSETS)
        self.priority_classes = Informer(client, PRIORITYCLASSES)
        self.claims = Informer(client, PERSISTENTVOLUMECLAIMS)
        self.volumes = Informer(client, PERSISTENTVOLUMES)
        self.storage_classes = Informer(client, STORAGECLASSES)
        self.services.add_indexer("namespace", lambda o: [o["metadata"].get("namespace") or ""])
        self.informers = [self.pods, self.nodes, self.namespaces, self.services, self.replicasets,
                          self.statefulsets, self.priority_classes, self.claims, self.volumes, self.storage_classes]
        by_resource = {i.resource.plural: i for i in self.informers}
        handle = Handle(self.cache, self._namespace_labels, self._default_selector,
                        lambda plural, key: by_resource[plural].get(key), lambda plural: by_resource[plural].list())
        self.profiles: dict[str, Profile] = build_profiles(self.config, handle, self.nominator)
        interest: dict[Event, set[str]] = {}
        for profile in self.profiles.values():
            for plugin in [*profile.filters, *(p for p, _ in profile.scorers)]:
                for event in getattr(plugin, "events", ()):
                    interest.setdefault(event, set()).add(plugin.name)
        self.queue = SchedulingQueue(
            initial_backoff=self.config.pod_initial_backoff, max_backoff=self.config.pod_max_backoff,
            max_unschedulable=self.config.pod_max_in_unschedulable,
            interested_plugins=lambda event: interest.get(event, set()))
        self.binding = 0  # bindings in flight
        self.events = EventSink(self.hot, "default-scheduler", identity, busy=lambda: self.binding > 0)
        self.metrics: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._global_default: tuple[int, str | None] | None = None
        self.pods.add_handler(Handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete))
        self.nodes.add_handler(Handler(self._on_node_add, self._on_node_update, self._on_node_delete))
        self.namespaces.add_handler(Handler(None, self._on_namespace_update, None))
        self.priority_classes.add_handler(Handler(self._on_pc_change, lambda _o, n: self._on_pc_change(n),
                                                  self._on_pc_change))
        for informer, event in ((self.claims, Event.PVC_CHANGE), (self.volumes, Event.PV_CHANGE),
                                (self.storage_classes, Event.STORAGE_CLASS_CHANGE)):
            informer.add_handler(Handler(lambda _o, e=event: self.queue.move_all(e),
                                         lambda _o, _n, e=event: self.queue.move_all(e), None))

    # ------------------------------------------------------------------ lookups for plugins

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.namespaces.get(namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def _default_selector(self, pod: PodInfo) -> klabels.Selector | None:
        """The union of the selectors of the Services, ReplicaSet or StatefulSet that select the pod
        (kube-scheduler's helper.DefaultSelector)."""
        merged: dict[str, str] = {}
        for svc in self.services.by_index("namespace", pod.namespace):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(pod.labels.get(k) == v for k, v in selector.items()):
                merged.update(selector)
        requirements = [klabels.Requirement(k, "Equals", (v,)) for k, v in sorted(merged.items())]
        owner = pod.owner
        if owner and (owner.get("apiVersion") or "").startswith("apps/"):
            informer = {"ReplicaSet": self.replicasets, "StatefulSet": self.statefulsets}.get(owner.get("kind"))
            obj = informer.get(f"{pod.namespace}/{owner.get('name')}") if informer else None
            if obj is not None:
                requirements += klabels.from_label_selector((obj.get("spec") or {}).get("selector")).requirements
        return klabels.Selector(tuple(requirements)) if requirements else None

    def _on_pc_change(self, _pc: Obj) -> None:
        self._global_default = None

    def priority(self, pod: Obj) -> tuple[int, str | None]:
        """(priority, preemptionPolicy) as the Priority admission plugin would have set them."""
        spec = pod.get("spec") or {}
        if spec.get("priority") is not None:
            return int(spec["priority"]), spec.get("preemptionPolicy")
        name = spec.get("priorityClassName")
        if name:
            pc = self.priority_classes.get(name)
            if pc is not None:
                return int(pc.get("value") or 0), pc.get("preemptionPolicy")
            return scheduling.SYSTEM_PRIORITY_CLASSES.get(name, 0), None
        if self._global_default is None:
            found = next((pc for pc in self.priority_classes.list() if pc.get("globalDefault")), None)
            self._global_default = (int(found.get("value") or 0), found.get("preemptionPolicy")) if found else (0, None)
        return self._global_default

    def pod_info(self, pod: Obj) -> PodInfo:
        priority, policy = self.priority(pod)
        return PodInfo(pod, priority, policy)

    def _responsible(self, pod: Obj) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") in self.profiles

    # ------------------------------------------------------------------ informer handlers

    def _on_pod_add(self, pod: Obj) -> None:
        key = object_key(pod)
        if _assigned(pod):
            self.nominator.delete(key)
            if not _terminal(pod):
                self.cache.add_pod(self.pod_info(pod))
                self.queue.move_all(Event.ASSIGNED_POD_ADD)
        elif self._responsible(pod) and not _terminal(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            info = self.pod_info(pod)
            if info.nominated_node_name:
                self.nominator.add(info)
            self.queue.add(info)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        key = object_key(new)
        if _assigned(new):
            if not _assigned(old):
                self.queue.delete(key)
                self.nominator.delete(key)
            if _terminal(new):
                if self.cache.remove_pod(key) is not None:
                    self.queue.move_all(Event.ASSIGNED_POD_DELETE)
                return
            previous = self.cache.pod(key)
            info = self.pod_info(new)
            self.cache.update_pod(info)
            if not _assigned(old) or previous is None:
                self.queue.move_all(Event.ASSIGNED_POD_ADD)
            else:
                if previous.labels != info.labels:
                    self.queue.move_all(Event.ASSIGNED_POD_LABEL)
                if any(info.requests.get(r, 0) < v for r, v in previous.requests.items()):
                    self.queue.move_all(Event.ASSIGNED_POD_SCALE_DOWN)
            return
        if not self._responsible(new) or _terminal(new) or (new.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.delete(key)
            self.nominator.delete(key)
            return
        info = self.pod_info(new)
        if info.nominated_node_name or self.nominator.node_of(key):
            self.nominator.update(info)
        self.queue.update(info, relevant=_spec_changed(old, new))

    def _on_pod_delete(self, pod: Obj) -> None:
        key = object_key(pod)
        self.queue.delete(key)
        self.nominator.delete(key)
        if self.cache.remove_pod(key) is not None:
            self.queue.move_all(Event.ASSIGNED_POD_DELETE)

    def _on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all(Event.NODE_ADD)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        for event in node_events(old, new):
            self.queue.move_all(event)

    def _on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _on_namespace_update(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self.queue.move_all(Event.NAMESPACE_LABEL)

    # ------------------------------------------------------------------ running

    async def run_informers(self) -> None:
        """Pods come last, once PriorityClasses (their priority) and nodes (their room) are known."""
        async with asyncio.TaskGroup() as tg:
            for informer in self.informers:
                if informer is not self.pods:
                    tg.create_task(informer.run(), name=f"{informer.resource.plural}-informer")
            for informer in self.informers:
                if informer is not self.pods:
                    await informer.synced.wait()
            tg.create_task(self.pods.run(), name="pods-informer")

    async def wait_synced(self) -> None:
        for informer in self.informers:
            await informer.synced.wait()
        log.info("caches synced: %d pods, %d nodes, %d pending", len(self.pods.keys()), self.cache.num_nodes(),
                 len(self.queue))

    async def run(self) -> None:
        """Informers and scheduling together (no leader election)."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.run_informers())
            await self.wait_synced()
            tg.create_task(self.run_scheduling())

    async def run_scheduling(self) -> None:
        """The leader's work: the loop, the queue's periodic flushes, the event writer."""
        log.info("scheduling with profiles %s", ", ".join(self.profiles))
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.queue.run(), name="queue-flush")
            tg.create_task(self.events.run(), name="event-writer")
            tg.create_task(self._loop(), name="scheduling-loop")

    async def _loop(self) -> None:
        while True:
            qpi = await self.queue.pop()
            try:
                self.schedule_one(qpi)
            except Exception:
                log.exception("scheduling %s crashed; backing off", qpi.key)
                self.metrics["errors"] += 1
                self.queue.add_backoff(qpi)
            await asyncio.sleep(0)  # let informers and bindings run between pods

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for bindings and status writes in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ one pod

    def schedule_one(self, qpi: QueuedPodInfo) -> None:
        key = qpi.key
        latest = self.pods.get(key)
        if (latest is None or _assigned(latest) or (latest.get("metadata") or {}).get("deletionTimestamp")
                or _terminal(latest) or self.cache.is_assumed(key)):
            self.queue.done(key)
            return
        if latest is not qpi.pod.pod:
            qpi.pod = self.pod_info(latest)
        pod = qpi.pod
        profile = self.profiles.get(pod.scheduler_name)
        if profile is None:
            self.queue.done(key)
            return
        cycle = self.queue.scheduling_cycle
        started = time.perf_counter()
        self.metrics["queue_wait_seconds_sum"] += max(0.0, self.queue.clock() - qpi.timestamp)
        self.metrics["attempts"] += 1
        try:
            result = profile.schedule(pod)
        except FitError as fit:
            nominated = None
            if profile.post_filter is not None and fit.num_all_nodes and fit.state is not None:
                candidate, message = profile.post_filter.find(fit.state, pod, fit)
                fit.post_filter_msg = message
                if candidate is not None:
                    nominated = candidate.node
                    self.nominator.add(pod, candidate.node)
                    self.metrics["preemptions"] += 1
                    self._spawn(self._preempt(pod, candidate.node, candidate.victims), f"preempt-{key}")
            message = str(fit)
            self.metrics["unschedulable"] += 1
            log.info("pod %s is unschedulable: %s", key, message)
            qpi.unschedulable_plugins = fit.unschedulable_plugins
            self._spawn(self._failed(qpi, cycle, message, nominated), f"failed-{key}")
            return
        self.metrics["scheduling_seconds_sum"] += time.perf_counter() - started  # the cycle, pop to assume
        assumed = self.cache.assume(pod, result.node)
        self.nominator.delete(key)
        self._spawn(self._bind(qpi, assumed, result.node), f"bind-{key}")

    async def _bind(self, qpi: QueuedPodInfo, assumed: PodInfo, node: str) -> None:
        key, pod = qpi.key, assumed.pod
        meta = pod["metadata"]
        ns, name = meta.get("namespace") or "default", meta["name"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": ns, **({"uid": meta["uid"]} if meta.get("uid") else {})},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        self.binding += 1
        started = time.perf_counter()
        try:
            await self.hot.request("POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding", binding)
        except errors.ApiError as exc:
            self.cache.forget(key)
            latest = self.pods.get(key)
            if isinstance(exc, errors.NotFound) or latest is None or _assigned(latest) or (
                    meta.get("uid") and (latest.get("metadata") or {}).get("uid") != meta.get("uid")):
                self.queue.done(key)  # deleted, replaced, or bound by someone else: nothing left to do
                return
            log.warning("binding %s to %s failed: %s", key, node, exc)
            self.metrics["bind_errors"] += 1
            self.events.record(pod, "Warning", "FailedScheduling",
                               f'running Bind plugin "DefaultBinder": {exc}', action="Scheduling",
                               component=assumed.scheduler_name)
            self.queue.add_backoff(qpi)
            self.queue.move_all(Event.ASSIGNED_POD_DELETE)
            return
        finally:
            self.binding -= 1
            self.metrics["binding_seconds_sum"] += time.perf_counter() - started
        self.queue.done(key)
        self.metrics["scheduled"] += 1
        log.debug("bound %s to %s", key, node)
        self.events.record(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}",
                           action="Binding", component=assumed.scheduler_name)

    async def _failed(self, qpi: QueuedPodInfo, cycle: int, message: str, nominated: str | None) -> None:
        pod = qpi.pod.pod
        try:
            await self._set_unschedulable(pod, message, nominated)
        except errors.NotFound:
            self.queue.done(qpi.key)
            return
        except errors.ApiError as exc:
            log.warning("updating the status of %s: %s", qpi.key, exc)
        self.events.record(pod, "Warning", "FailedScheduling", message, action="Scheduling",
                           component=qpi.pod.scheduler_name)
        self.queue.add_unschedulable(qpi, cycle)

    async def _set_unschedulable(self, pod: Obj, message: str, nominated: str | None) -> None:
        """PodScheduled=False/Unschedulable with the message, and status.nominatedNodeName, when they change."""
        status = pod.get("status") or {}
        current = kconditions.find(status.get("conditions"), "PodScheduled")
        same = (current is not None and current.get("status") == "False"
                and current.get("reason") == "Unschedulable" and current.get("message") == message)
        if same and (nominated is None or status.get("nominatedNodeName") == nominated):
            return
        body: Obj = {"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": kconditions.transition_time(current, "False", timeutil.now())}]}}
        if nominated:
            body["status"]["nominatedNodeName"] = nominated
        meta = pod["metadata"]
        await self.hot.request(
            "PATCH", f"/api/v1/namespaces/{meta.get('namespace') or 'default'}/pods/{meta['name']}/status", body,
            content_type="application/strategic-merge-patch+json")

    async def _preempt(self, pod: PodInfo, node: str, victims: list[PodInfo]) -> None:
        """Evict the victims (DisruptionTarget condition, then a graceful delete), and take back the nominations
        of lower-priority pods on that node, whose room the preemptor now claims."""
        log.info("preempting %d pod(s) on %s for %s: %s", len(victims), node, pod.key,
                 ", ".join(v.key for v in victims))

        async def evict(victim: PodInfo) -> None:
            path = f"/api/v1/namespaces/{victim.namespace}/pods/{victim.name}"
            condition = {"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": f"{pod.scheduler_name}: preempting to accommodate a higher priority pod",
                "lastTransitionTime": timeutil.now()}]}}
            try:
                await self.hot.request("PATCH", path + "/status", condition,
                                       content_type="application/strategic-merge-patch+json")
                await self.hot.request("DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1",
                                                        **({"preconditions": {"uid": victim.uid}} if victim.uid
                                                           else {})})
            except errors.NotFound:
                return
            except errors.ApiError as exc:
                log.warning("preempting %s: %s", victim.key, exc)
                return
            self.events.record(victim.pod, "Normal", "Preempted", f"Preempted by pod {pod.uid} on node {node}",
                               action="Preempting", related=pod.key, component=pod.scheduler_name)

        async def clear(other: PodInfo) -> None:
            self.nominator.delete(other.key)
            try:
                await self.hot.request("PATCH", f"/api/v1/namespaces/{other.namespace}/pods/{other.name}/status",
                                       {"status": {"nominatedNodeName": None}},
                                       content_type="application/merge-patch+json")
            except errors.ApiError as exc:
                log.debug("clearing the nomination of %s: %s", other.key, exc)

        lower = [p for p in self.nominator.pods_for(node) if p.priority < pod.priority and p.key != pod.key]
        await asyncio.gather(*(evict(v) for v in victims), *(clear(p) for p in lower))
