"""DaemonSet controller: one pod on every eligible node, rolled forward through ControllerRevisions.

Eligible (Kubernetes' NodeShouldRunDaemonPod): the template's nodeName if any, its nodeSelector and required
node affinity, and no NoSchedule/NoExecute taint the pod does not tolerate. A node whose new taint is only
NoSchedule keeps its pod (counted misscheduled); an untolerated NoExecute taint, or a node that stops
matching, has it deleted. Daemon pods get Kubernetes' automatic tolerations (not-ready and unreachable
NoExecute; disk, memory and pid pressure and unschedulable NoSchedule; network-unavailable for hostNetwork).

Placement: the pod is created with `spec.nodeName` set, as Kubernetes did before 1.12, not with a
`metadata.name` matchFields affinity left for the scheduler: kubelite's scheduler implements neither node
affinity nor taints, so it would place such a pod anywhere, and this controller has already run those
predicates. What the scheduler would add, a resource check, is done here: a node without room gets a
FailedPlacement event instead of a pod. Pods whose node is gone are deleted at once (grace 0, as the pod
garbage collector does: no kubelet is left to confirm), checked with a live GET of the node first.

Updates: each template is a ControllerRevision `<ds>-<hash>`; pods carry `controller-revision-hash`.
RollingUpdate replaces old pods within maxUnavailable (delete first) or maxSurge (new pod first, old one
deleted once the new one is available); OnDelete replaces a pod only once someone deletes it. Status:
desired/current/misscheduled/ready/available/unavailable/updated counts and observedGeneration.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from controllers import podutil, revisions
from controllers.claim import claim
from controllers.context import ControllerContext
from controllers.podowner import PodOwnerController
from kube import errors, scheduling
from kube.informer import Handler, object_key
from kube.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS, ResourceType

__all__ = [
    "DaemonSetController", "NodePlan", "add_daemon_tolerations", "compute_status", "plan_nodes",
    "plan_rolling_update", "scaled_value", "should_run",
]

Obj = dict[str, Any]

_NO_EXECUTE, _NO_SCHEDULE = "NoExecute", "NoSchedule"
DAEMON_TOLERATIONS: tuple[Obj, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": _NO_EXECUTE},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": _NO_EXECUTE},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": _NO_SCHEDULE},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": _NO_SCHEDULE},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": _NO_SCHEDULE},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": _NO_SCHEDULE},
)
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": _NO_SCHEDULE}
BURST = 250  # most pods created in one sync


# ---------------------------------------------------------------------- pure logic


def add_daemon_tolerations(pod_spec: Obj) -> Obj:
    """A copy of the pod spec with the automatic daemon tolerations added (kept if already there)."""
    spec = copy.deepcopy(pod_spec)
    tolerations = list(spec.get("tolerations") or [])
    wanted = [*DAEMON_TOLERATIONS, *([NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])]
    for extra in wanted:
        if not any(t.get("key") == extra["key"] and t.get("effect") == extra["effect"]
                   and (t.get("operator") or "Equal") == "Exists" for t in tolerations):
            tolerations.append(dict(extra))
    spec["tolerations"] = tolerations
    return spec


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run a new pod here, may keep a running one here) — Kubernetes' NodeShouldRunDaemonPod."""
    pod_spec = add_daemon_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = node["metadata"]["name"]
    if pod_spec.get("nodeName") and pod_spec["nodeName"] != name:
        return False, False
    if not scheduling.required_affinity_matches(pod_spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = pod_spec.get("tolerations") or []
    if scheduling.untolerated_taint(taints, tolerations, (_NO_SCHEDULE, _NO_EXECUTE)) is None:
        return True, True
    return False, scheduling.untolerated_taint(taints, tolerations, (_NO_EXECUTE,)) is None


def target_node(pod: Obj) -> str | None:
    """The node a daemon pod is for: its nodeName, else the metadata.name its required affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("operator") == "In" and len(expr.get("values")
                                                                                         or []) == 1:
                return expr["values"][0]
    return None


def _oldest_first(pods: list[Obj]) -> list[Obj]:
    """Kubernetes' podByCreationTimestampAndPhase: scheduled first, then oldest, then by name."""
    return sorted(pods, key=lambda p: (0 if (p.get("spec") or {}).get("nodeName") else 1,
                                       p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))


def is_updated(pod: Obj, hash_: str) -> bool:
    return (pod["metadata"].get("labels") or {}).get(revisions.HASH_LABEL) == hash_


def scaled_value(value: int | str | None, total: int, default: int) -> int:
    """An IntOrString (3 or "25%") against `total`, percentages rounded up (as for maxUnavailable and
    maxSurge)."""
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 1
    ru = strategy.get("rollingUpdate") or {}
    surge = scaled_value(ru.get("maxSurge"), desired, 0)
    unavailable = scaled_value(ru.get("maxUnavailable"), desired, 1)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1  # an impossible configuration: obey the default
    return surge, unavailable


@dataclass
class NodePlan:
    """What `manage` decided: nodes that need a pod, pods to delete, failed pods (deleted with back-off)."""

    create: list[str] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    failed: list[Obj] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.delete or self.failed)


def plan_nodes(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
               now: datetime | None = None) -> NodePlan:
    """Kubernetes' podsShouldBeOnNode over every node: create where a pod should run and none exists,
    prune extras (with surge: keep an old ready pod only while its replacement is not yet available),
    delete where pods may no longer run. Pods on nodes that are not in `nodes` are left to the caller."""
    plan = NodePlan()
    surge, _ = surge_and_unavailable(ds, len(nodes))
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    for node in nodes:
        name = node["metadata"]["name"]
        pods = by_node.get(name, [])
        run, keep = should_run(ds, node)
        if run and not pods:
            plan.create.append(name)
        elif keep:
            running: list[Obj] = []
            for pod in pods:
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                phase = (pod.get("status") or {}).get("phase")
                if phase == "Failed":
                    plan.failed.append(pod)
                elif phase == "Succeeded":
                    plan.delete.append(pod)
                else:
                    running.append(pod)
            running = _oldest_first(running)
            if not surge:
                plan.delete.extend(running[1:])
                continue
            if not running:
                if run:  # surging: a node needs one live pod even while another terminates
                    plan.create.append(name)
                continue
            oldest_new = oldest_old = None
            for pod in running:
                if is_updated(pod, hash_) and oldest_new is None:
                    oldest_new = pod
                elif not is_updated(pod, hash_) and oldest_old is None:
                    oldest_old = pod
                else:
                    plan.delete.append(pod)
            if oldest_new is not None and oldest_old is not None and (
                    not podutil.is_ready(oldest_old) or podutil.is_available(oldest_new, min_ready, now)):
                plan.delete.append(oldest_old)
        else:
            plan.delete.extend(p for p in pods if not p["metadata"].get("deletionTimestamp"))
    return plan


def _updated_pods_on_node(pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """(new pod, old pod, ok): at most one live pod of each kind; ok=False leaves the node to `manage`."""
    new = old = None
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_updated(pod, hash_):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def plan_rolling_update(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
                        now: datetime | None = None) -> tuple[list[Obj], list[str]]:
    """Kubernetes' rollingUpdate: (old pods to delete, nodes to surge a new pod onto)."""
    eligible = [n for n in nodes if should_run(ds, n)[0]]
    surge, max_unavailable = surge_and_unavailable(ds, len(eligible))
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    names = sorted(n["metadata"]["name"] for n in eligible)
    if surge == 0:
        unavailable = 0
        replace_now: list[Obj] = []
        candidates: list[Obj] = []
        for name in names:
            new, old, ok = _updated_pods_on_node(by_node.get(name, []), hash_)
            if not ok or (new is None) == (old is None):
                unavailable += 1  # nothing there, or both there: manage's business, counted unavailable
            elif new is not None:
                if not podutil.is_available(new, min_ready, now):
                    unavailable += 1
            elif old is not None:
                if not podutil.is_available(old, min_ready, now):
                    replace_now.append(old)
                elif unavailable < max_unavailable:
                    candidates.append(old)
        room = max(0, min(max_unavailable - unavailable, len(candidates)))
        return replace_now + candidates[:room], []
    surged = 0
    to_delete: list[Obj] = []
    create_now: list[str] = []
    candidate_nodes: list[str] = []
    for name in names:
        new, old, ok = _updated_pods_on_node(by_node.get(name, []), hash_)
        if not ok:
            surged += 1
        elif old is None:
            continue
        elif new is None:
            if not podutil.is_available(old, min_ready, now):
                create_now.append(name)
            elif surged < surge:
                candidate_nodes.append(name)
        elif not podutil.is_available(new, min_ready, now):
            surged += 1
        else:
            to_delete.append(old)
    room = max(0, min(surge - surged, len(candidate_nodes)))
    return to_delete, create_now + candidate_nodes[:room]


def compute_status(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
                   now: datetime | None = None) -> Obj:
    """The status counts, as Kubernetes' updateDaemonSetStatus computes them (oldest pod per node)."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = misscheduled = ready = available = updated = 0
    for node in nodes:
        pods = [p for p in by_node.get(node["metadata"]["name"], [])
                if not (p["metadata"].get("deletionTimestamp")
                        and (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"))]
        run, _ = should_run(ds, node)
        if not run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = _oldest_first(pods)[0]
        if podutil.is_ready(pod):
            ready += 1
            if podutil.is_available(pod, min_ready, now):
                available += 1
        if is_updated(pod, hash_):
            updated += 1
    status: Obj = {
        "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired, "numberReady": ready,
        "updatedNumberScheduled": updated, "numberAvailable": available,
        "numberUnavailable": desired - available,
    }
    for omitempty in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
        if not status[omitempty]:
            del status[omitempty]
    return status


# ---------------------------------------------------------------------- the controller


class DaemonSetController(PodOwnerController):
    name: ClassVar[str] = "daemonset"
    primary: ClassVar[ResourceType] = DAEMONSETS
    watches: ClassVar[tuple[ResourceType, ...]] = (PODS, NODES, CONTROLLERREVISIONS)
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.history = revisions.History(self.client)
        self.pods.add_indexer("nodeName", lambda p: [p["spec"]["nodeName"]] if p["spec"].get("nodeName") else [])
        self.nodes = ctx.informers.informer(NODES)
        self.nodes.add_handler(Handler(on_add=lambda _: self._all(), on_update=self._node_updated,
                                       on_delete=lambda _: self._all()))
        self.revisions = ctx.informers.informer(CONTROLLERREVISIONS)
        self.revisions.add_indexer("namespace", lambda r: [r["metadata"].get("namespace", "")])
        self._placement_failures: dict[tuple[str, str], str] = {}  # (ds uid, node) -> last message
        self._failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}  # -> (delay, not before)

    # ------------------------------------------------------------------ events -> keys

    def _all(self) -> None:
        self.enqueue_all(self.informer.list())

    def _node_updated(self, old: Obj, new: Obj) -> None:
        def view(n: Obj) -> tuple:
            return ((n["metadata"].get("labels") or {}), (n.get("spec") or {}).get("taints"),
                    (n.get("spec") or {}).get("unschedulable"), (n.get("status") or {}).get("allocatable"))
        if view(old) != view(new):
            self._all()

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        ds = self.informer.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        namespace = ds["metadata"]["namespace"]
        candidates = [p for p in self.pods.by_index("namespace", namespace)
                      if not (p["metadata"].get("deletionTimestamp")
                              and (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"))]
        owned = await claim(self.client, PODS, ds, ds["spec"].get("selector"), candidates)
        nodes = self.nodes.list()
        by_node: dict[str, list[Obj]] = {}
        for pod in owned:
            node = target_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        if ds["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes the pods
        current, old, collisions = await self._construct_history(ds)
        hash_ = (current["metadata"].get("labels") or {}).get(revisions.HASH_LABEL) or current["metadata"]["name"]
        satisfied = self.expectations.satisfied(key)
        if satisfied:
            await self._delete_pods_of_vanished_nodes(ds, nodes, by_node)
            acted = await self._manage(key, ds, nodes, by_node, hash_)
            strategy = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
            if not acted and strategy == "RollingUpdate":
                to_delete, to_create = plan_rolling_update(ds, nodes, by_node, hash_)
                if to_delete or to_create:
                    await self._sync_nodes(key, ds, to_create, to_delete, hash_)
            await self._cleanup_history(ds, owned, current, old)
        await self._update_status(ds, nodes, by_node, collisions, hash_, satisfied)

    async def _construct_history(self, ds: Obj) -> tuple[Obj, list[Obj], int]:
        """The revision of the current template (made, or renumbered to be the newest) and the others."""
        namespace = ds["metadata"]["namespace"]
        candidates = self.revisions.by_index("namespace", namespace)
        owned = await claim(self.client, CONTROLLERREVISIONS, ds, ds["spec"].get("selector"), candidates)
        data = revisions.template_data(ds["spec"]["template"])
        equal = revisions.sorted_revisions(revisions.find_equal(owned, data))
        old = [r for r in owned if r not in equal]
        number = revisions.next_number(old)
        collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
        if not equal:
            labels_ = dict((ds["spec"]["template"].get("metadata") or {}).get("labels") or {})
            current, collisions = await self.history.create(ds, data, number, labels_, collisions)
        else:
            current = equal[-1]
            for duplicate in equal[:-1]:  # Kubernetes' dedupCurHistories: keep the newest
                await self.history.delete(duplicate)
            current = await self.history.renumber(current, max(number, int(current.get("revision") or 0)))
        return current, old, collisions

    async def _cleanup_history(self, ds: Obj, pods: list[Obj], current: Obj, old: list[Obj]) -> None:
        limit = int(ds["spec"].get("revisionHistoryLimit", 10))
        live_hashes = {(p["metadata"].get("labels") or {}).get(revisions.HASH_LABEL) for p in pods}
        live = {current["metadata"]["name"]} | {
            r["metadata"]["name"] for r in old
            if (r["metadata"].get("labels") or {}).get(revisions.HASH_LABEL) in live_hashes}
        for revision in revisions.to_truncate(old, live, limit):
            await self.history.delete(revision)

    async def _delete_pods_of_vanished_nodes(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]]) -> None:
        """No PodGC runs here: pods bound to a node that no longer exists are removed by their owner."""
        known = {n["metadata"]["name"] for n in nodes}
        for node, pods in list(by_node.items()):
            if node in known:
                continue
            try:
                await self.client.get(NODES, node)
                continue  # only our cache is behind
            except errors.NotFound:
                pass
            for pod in pods:
                meta = pod["metadata"]
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                             preconditions={"uid": meta["uid"]})
                    await self.recorder.record(ds, "Normal", "SuccessfulDelete",
                                               f"Deleted pod: {meta['name']} (node {node} is gone)")
            del by_node[node]

    async def _manage(self, key: str, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                      hash_: str) -> bool:
        plan = plan_nodes(ds, nodes, by_node, hash_)
        to_delete = list(plan.delete)
        uid = ds["metadata"]["uid"]
        for pod in plan.failed:
            node = target_node(pod) or ""
            delay, not_before = self._failed_backoff.get((uid, node), (0.0, 0.0))
            if time.monotonic() < not_before:
                self.queue.add_after(key, not_before - time.monotonic() + 0.1)
                continue
            delay = min(max(delay * 2, 1.0), 300.0)
            self._failed_backoff[(uid, node)] = (delay, time.monotonic() + delay)
            await self.recorder.record(ds, "Warning", "FailedDaemonPod",
                                       f"Found failed daemon pod {pod['metadata']['namespace']}/"
                                       f"{pod['metadata']['name']} on node {node}, will try to kill it")
            to_delete.append(pod)
        if not plan.create and not to_delete:
            return False
        return await self._sync_nodes(key, ds, plan.create, to_delete, hash_) > 0

    def _placement_problem(self, ds: Obj, node_name: str, pod_spec: Obj) -> str | None:
        node = self.nodes.get(node_name)
        if node is None:
            return "node not found"
        others = [p for p in self.pods.by_index("nodeName", node_name) if not p["metadata"].get("deletionTimestamp")]
        reasons = scheduling.fits_resources(pod_spec, node, others)
        return ", ".join(reasons) or None

    async def _sync_nodes(self, key: str, ds: Obj, create_on: list[str], delete: list[Obj], hash_: str) -> int:
        """Create pods on `create_on` (where they fit) and delete `delete`; returns how many were attempted."""
        template = copy.deepcopy(ds["spec"]["template"])
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), revisions.HASH_LABEL: hash_}
        template["spec"] = add_daemon_tolerations(template.get("spec") or {})
        uid = ds["metadata"]["uid"]
        placeable: list[str] = []
        for node in create_on[:BURST]:
            problem = self._placement_problem(ds, node, template["spec"])
            if problem is None:
                self._placement_failures.pop((uid, node), None)
                placeable.append(node)
            elif self._placement_failures.get((uid, node)) != problem:
                self._placement_failures[(uid, node)] = problem
                await self.recorder.record(ds, "Warning", "FailedPlacement",
                                           f"failed to place pod on {node!r}: {problem}")
        self.expectations.expect_creations(key, len(placeable))
        self.expectations.expect_deletions(key, [object_key(p) for p in delete])
        results = await asyncio.gather(*(self._create(key, ds, template, node) for node in placeable),
                                       *(self.delete_pod(key, ds, pod) for pod in delete), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return len(results)

    async def _create(self, key: str, ds: Obj, template: Obj, node: str) -> None:
        pod = podutil.pod_from_template(template, ds, generate_name=f"{ds['metadata']['name']}-")
        pod["spec"]["nodeName"] = node
        try:
            created = await self.client.create(PODS, pod)
        except errors.ApiError as exc:
            self.expectations.creation_failed(key)
            await self.recorder.record(ds, "Warning", "FailedCreate", f"Error creating: {exc}")
            raise
        await self.recorder.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _update_status(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], collisions: int,
                             hash_: str, observed: bool) -> None:
        old = ds.get("status") or {}
        status = compute_status(ds, nodes, by_node, hash_)
        status["observedGeneration"] = ds["metadata"].get("generation", 1) if observed else old.get(
            "observedGeneration")
        if status["observedGeneration"] is None:
            del status["observedGeneration"]
        if collisions:
            status["collisionCount"] = collisions
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status == old:
            return
        await self.client.replace_status(DAEMONSETS, {**ds, "status": status})
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        if min_ready and status.get("numberReady", 0) != status.get("numberAvailable", 0):
            self.queue.add_after(object_key(ds), min_ready)  # availability arrives with time, not an event
