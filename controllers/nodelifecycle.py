"""Node lifecycle: notice dead nodes, taint them, evict their pods, and clean up after deleted nodes.

A node whose kubelet has not renewed its Lease (nor posted status) for `node_monitor_grace_period`
seconds gets Ready=Unknown (every condition Unknown, reason NodeStatusUnknown) and the
`node.kubernetes.io/unreachable:NoExecute` taint; a node reporting Ready=False gets `not-ready`. Pods on a
NoExecute-tainted node are deleted at once if they do not tolerate the taint, or when their
tolerationSeconds run out (the apiserver gives every pod 300 s by default), so their controllers
replace them elsewhere. A node that is Ready again loses the taints. Pods bound to a node that no longer
exists are deleted outright (what Kubernetes' pod GC does).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import conditions as kconditions
from kube import errors, timeutil
from kube.informer import Handler
from kube.resources import LEASES, NODES, PODS, ResourceType
from kube.scheduling import tolerates

__all__ = ["NodeLifecycleController", "eviction_delay"]

Obj = dict[str, Any]

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
NODE_LEASE_NAMESPACE = "kube-node-lease"


def eviction_delay(pod: Obj, taints: list[Obj], now: datetime) -> float | None:
    """Seconds until `pod` must leave a node with these NoExecute taints: 0 now, None never."""
    delays: list[float] = []
    tolerations = pod["spec"].get("tolerations") or []
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None]
        if not bounded:
            continue  # tolerated forever
        added = timeutil.parse(taint["timeAdded"]) if taint.get("timeAdded") else now
        delays.append(max(0.0, min(bounded) - (now - added).total_seconds()))
    return min(delays) if delays else None


class NodeLifecycleController(Controller):
    name: ClassVar[str] = "nodelifecycle"
    primary: ClassVar[ResourceType | None] = NODES
    watches: ClassVar[tuple[ResourceType, ...]] = (LEASES, PODS)
    resync_period: ClassVar[float] = 5.0  # a silent node produces no events: look at every node often

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.grace = float(ctx.option("node_monitor_grace_period", 40.0))
        self.leases = ctx.informers.informer(LEASES)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer("node", lambda p: [p["spec"].get("nodeName") or ""])
        self.leases.add_handler(Handler(on_update=lambda old, new: self._lease_changed(new)))
        self.pods.add_handler(Handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new)))

    def _lease_changed(self, lease: Obj) -> None:
        if lease["metadata"].get("namespace") == NODE_LEASE_NAMESPACE:
            self.queue.add(lease["metadata"]["name"])

    def _pod_changed(self, pod: Obj) -> None:
        if pod["spec"].get("nodeName"):
            self.queue.add(pod["spec"]["nodeName"])

    def initial_keys(self) -> list[str]:
        # Nodes, plus node names that only pods still mention (deleted nodes whose pods need collecting).
        names = set(self.informer.keys())
        names |= {p["spec"]["nodeName"] for p in self.pods.list() if p["spec"].get("nodeName")}
        return sorted(names)

    async def sync(self, name: str) -> None:
        node = self.informer.get(name)
        if node is None:
            await self._collect_orphans(name)
            return
        now = datetime.now(UTC)
        node = await self._update_health(node, now)
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        soonest: float | None = None
        for pod in self.pods.by_index("node", name):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            delay = eviction_delay(pod, taints, now)
            if delay is None:
                continue
            if delay <= 0:
                await self._evict(pod, node)
            else:
                soonest = delay if soonest is None else min(soonest, delay)
        if soonest is not None:
            self.queue.add_after(name, soonest + 0.1)

    # ------------------------------------------------------------------ health

    def _last_heartbeat(self, node: Obj) -> datetime | None:
        times = []
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{node['metadata']['name']}")
        if lease and (lease.get("spec") or {}).get("renewTime"):
            times.append(timeutil.parse(lease["spec"]["renewTime"]))
        for condition in (node.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Ready" and condition.get("lastHeartbeatTime"):
                times.append(timeutil.parse(condition["lastHeartbeatTime"]))
        return max(times) if times else None

    async def _update_health(self, node: Obj, now: datetime) -> Obj:
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = kconditions.find(conditions, "Ready")
        heartbeat = self._last_heartbeat(node)
        created = timeutil.parse(node["metadata"]["creationTimestamp"])
        silent_for = (now - (heartbeat or created)).total_seconds()
        if silent_for > self.grace and (ready is None or ready.get("status") != "Unknown"):
            node = await self._mark_unknown(node, now)
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        if silent_for <= self.grace and ready is not None and ready.get("status") == "Unknown":
            # The kubelet is heard again through its Lease; its next status post will say Ready itself.
            self.queue.add_after(node["metadata"]["name"], 1.0)
        state = (ready or {}).get("status")
        wanted = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(state or "")
        return await self._set_taints(node, wanted, now)

    async def _mark_unknown(self, node: Obj, now: datetime) -> Obj:
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions = []
        for condition in (node.get("status") or {}).get("conditions") or []:
            if condition.get("status") != "Unknown":
                condition = {**condition, "status": "Unknown", "reason": "NodeStatusUnknown",
                             "message": "Kubelet stopped posting node status.", "lastTransitionTime": stamp}
            conditions.append(condition)
        if not any(c["type"] == "Ready" for c in conditions):
            conditions.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.", "lastTransitionTime": stamp})
        self.log.warning("node %s stopped heartbeating; marking it Unknown", node["metadata"]["name"])
        await self.recorder.record(node, "Normal", "NodeNotReady", f"Node {node['metadata']['name']} status is "
                                                                  "now: NodeNotReady")
        return await self.client.patch(NODES, node["metadata"]["name"], {"status": {"conditions": conditions}},
                                       patch_type="merge", subresource="status")

    async def _set_taints(self, node: Obj, wanted: str | None, now: datetime) -> Obj:
        taints = (node.get("spec") or {}).get("taints") or []
        kept = [t for t in taints if t.get("key") not in (UNREACHABLE, NOT_READY) or (
            t.get("key") == wanted and t.get("effect") == "NoExecute")]
        if wanted and not any(t.get("key") == wanted and t.get("effect") == "NoExecute" for t in kept):
            kept.append({"key": wanted, "effect": "NoExecute", "timeAdded": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        if kept == taints:
            return node
        meta = node["metadata"]
        patch = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "spec": {"taints": kept or None}}
        return await self.client.patch(NODES, meta["name"], patch, patch_type="merge")

    # ------------------------------------------------------------------ pods

    async def _evict(self, pod: Obj, node: Obj) -> None:
        meta = pod["metadata"]
        self.log.info("evicting %s/%s from node %s", meta["namespace"], meta["name"], node["metadata"]["name"])
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(PODS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
            await self.recorder.record(pod, "Normal", "TaintManagerEviction",
                                       f"Marking for deletion Pod {meta['namespace']}/{meta['name']}")

    async def _collect_orphans(self, node_name: str) -> None:
        pods = self.pods.by_index("node", node_name)
        if not pods:
            return
        try:
            await self.client.get(NODES, node_name)
            return  # the node exists after all: our cache is behind
        except errors.NotFound:
            pass
        for pod in pods:
            meta = pod["metadata"]
            self.log.info("deleting %s/%s: its node %s is gone", meta["namespace"], meta["name"], node_name)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                         preconditions={"uid": meta["uid"]})
