"""DaemonSets, StatefulSets and volume binding through a real controller-manager against a real apiserver,
on hollow nodes (Node objects without a kubelet). A small `HollowKubelet` plays the kubelet's part: it
marks bound pods Running and Ready (only once their claims are Bound, as a kubelet waits for its volumes)
and finishes graceful deletions; it also binds StatefulSet pods to the test's nodes, as the scheduler would.

DaemonSet: one pod per matching node, a joining node gets one, a tainted node none, a removed node loses
its pod, a template change rolls through within maxUnavailable, a node without room gets a FailedPlacement
event, a relabelled node loses its pod. StatefulSet: OrderedReady creation with a provisioned claim per
ordinal, bound once its pod is on a node, a deleted pod recreated under its name with its claim, a
partitioned rolling update, and scale-down from the highest ordinal with the claims kept; Parallel
creation, and claims deleted with their pods or their set when the retention policy says Delete.
Volumes: existing volumes bound before provisioning (smallest fit), Immediate provisioning, and Retain
leaving volumes Released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kube import errors, timeutil
from kube.client import ApiClient
from kube.resources import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    EVENTS,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    STATEFULSETS,
    STORAGECLASSES,
)
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
CONTROLLERS = "daemonset,statefulset,volumebinding,garbagecollector,namespace"


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class HollowKubelet:
    """The kubelet's visible effects for one namespace's pods: bound pods whose claims are Bound turn Running
    and Ready (all of them when `auto`, else only those named in `allowed`); pods being deleted are removed
    (`finalize`), as a kubelet does once their containers stopped. It also binds unscheduled pods to the
    test's nodes that match their nodeSelector, round robin, through the binding subresource: the
    scheduler's visible effect, so these tests do not depend on the scheduler process (tested on its own)."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.auto = True
        self.allowed: set[str] = set()
        self.finalize = True
        self.nodes: list[Obj] = []
        self._bound = 0
        self._task: asyncio.Task[None] | None = None

    async def _schedule(self, pod: Obj) -> None:
        selector = pod["spec"].get("nodeSelector") or {}
        fitting = [n for n in self.nodes if all(n["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        if fitting:
            self._bound += 1
            target = fitting[self._bound % len(fitting)]["metadata"]["name"]
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.api.bind(self.namespace, pod["metadata"]["name"], target, pod["metadata"]["uid"])

    async def _claims_bound(self, pod: Obj) -> bool:
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                try:
                    pvc = await self.api.get(PERSISTENTVOLUMECLAIMS, claim, self.namespace)
                except errors.NotFound:
                    return False
                if (pvc.get("status") or {}).get("phase") != "Bound":
                    return False
        return True

    async def _step(self) -> None:
        for pod in (await self.api.list(PODS, self.namespace))["items"]:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                if self.finalize:
                    with contextlib.suppress(errors.NotFound, errors.Conflict):
                        await self.api.delete(PODS, meta["name"], self.namespace, grace_period_seconds=0,
                                              preconditions={"uid": meta["uid"]})
                continue
            if not pod["spec"].get("nodeName"):
                await self._schedule(pod)
                continue
            if (is_ready(pod)
                    or not (self.auto or meta["name"] in self.allowed) or not await self._claims_bound(pod)):
                continue
            now = timeutil.now()
            status = {"phase": "Running", "hostIP": "10.99.0.1", "podIP": "10.99.1.1", "startTime": now,
                      "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                     for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]}
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.api.patch(PODS, meta["name"], {"status": status}, self.namespace, subresource="status")

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(errors.ApiError):
                await self._step()
            await asyncio.sleep(0.1)

    def start(self) -> HollowKubelet:
        self._task = asyncio.create_task(self._loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def hollow_node(name: str, labels: dict[str, str], taints: list[Obj] | None = None, cpu: str = "4") -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "spec": {"taints": taints or []},
            "status": {"capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


class Cluster:
    """Per-test namespace, hollow nodes and kubelet; `cleanup()` removes everything the test made."""

    def __init__(self, api: ApiClient, namespace: str, run_id: str) -> None:
        self.api, self.namespace, self.run_id = api, namespace, run_id
        self.nodes: list[str] = []
        self.kubelet = HollowKubelet(api, namespace)

    async def node(self, name: str, labels: dict[str, str], taints: list[Obj] | None = None, cpu: str = "4") -> str:
        full = f"{name}-{self.run_id}"
        body = hollow_node(full, labels, taints, cpu)
        await self.api.create(NODES, body)
        self.nodes.append(full)
        if not taints:
            self.kubelet.nodes.append(body)
        return full

    async def remove_node(self, name: str) -> None:
        await self.api.delete(NODES, name)
        self.nodes.remove(name)
        self.kubelet.nodes = [n for n in self.kubelet.nodes if n["metadata"]["name"] != name]

    async def pods(self) -> list[Obj]:
        return (await self.api.list(PODS, self.namespace))["items"]

    async def cleanup(self) -> None:
        ns = self.namespace
        for resource in (DAEMONSETS, STATEFULSETS, PERSISTENTVOLUMECLAIMS):
            for obj in (await self.api.list(resource, ns))["items"]:
                with contextlib.suppress(errors.NotFound):
                    await self.api.delete(resource, obj["metadata"]["name"], ns)
        self.kubelet.auto, self.kubelet.finalize = False, True

        async def emptied() -> bool:
            pods = await self.pods()
            claims = (await self.api.list(PERSISTENTVOLUMECLAIMS, ns))["items"]
            volumes = [v for v in (await self.api.list(PERSISTENTVOLUMES))["items"]
                       if ((v["spec"].get("claimRef") or {}).get("namespace")) == ns]
            return not pods and not claims and not volumes

        with contextlib.suppress(AssertionError):  # best effort: the namespace deletion below sweeps the rest
            await eventually(emptied, timeout=20, what="pods, claims and provisioned volumes gone")
        await self.kubelet.stop()
        with contextlib.suppress(errors.NotFound):
            await self.api.delete(NAMESPACES, ns)
        for name in self.nodes:
            with contextlib.suppress(errors.NotFound):
                await self.api.delete(NODES, name)


@pytest.fixture
async def cluster(api: ApiClient, run_id: str, daemons: Callable[..., Any],
                  request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    namespace = f"{request.node.name.removeprefix('test_')[:20].replace('_', '-')}-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": namespace}})
    daemons("controllers", "--controllers", CONTROLLERS, "--leader-elect", "false")
    made = Cluster(api, namespace, run_id)
    made.kubelet.start()
    try:
        yield made
    finally:
        await made.cleanup()


async def events_of(api: ApiClient, namespace: str, name: str) -> set[str]:
    items = (await api.list(EVENTS, namespace))["items"]
    return {e["reason"] for e in items if e["involvedObject"].get("name") == name}


# ---------------------------------------------------------------------- DaemonSet


def daemonset(name: str, pool: str, image: str = "busybox:1.36") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": {"pool": pool},
                                           "containers": [{"name": "agent", "image": image, "resources": {
                                               "requests": {"cpu": "200m"}}}]}}}}


async def test_daemonset_runs_one_pod_per_node_and_rolls(api: ApiClient, cluster: Cluster, run_id: str) -> None:
    ns, pool = cluster.namespace, f"ds-{run_id}"
    a, b, c = [await cluster.node(f"ds{i}", {"pool": pool}) for i in range(3)]
    await api.create(DAEMONSETS, daemonset("agent", pool), ns)

    async def placement(expected: set[str]) -> dict[str, Obj] | None:
        live = [p for p in await cluster.pods() if not p["metadata"].get("deletionTimestamp")]
        by_node = {p["spec"].get("nodeName"): p for p in live}
        if len(live) != len(expected) or set(by_node) != expected:
            return None
        ds = await api.get(DAEMONSETS, "agent", ns)
        status = ds.get("status") or {}
        settled = (status.get("desiredNumberScheduled") == len(expected) == status.get("numberReady")
                   and status.get("observedGeneration") == ds["metadata"]["generation"])
        return by_node if settled else None

    by_node = await eventually(lambda: placement({a, b, c}), what="one ready pod on each of 3 nodes")
    pod = by_node[a]
    tolerations = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerations
    assert ("node.kubernetes.io/not-ready", "NoExecute") in tolerations
    first_hash = pod["metadata"]["labels"]["controller-revision-hash"]
    revisions = (await api.list(CONTROLLERREVISIONS, ns))["items"]
    assert [r["metadata"]["name"] for r in revisions] == [f"agent-{first_hash}"]
    assert "SuccessfulCreate" in await events_of(api, ns, "agent")

    # A node joins: it gets a pod. A tainted node that the pods do not tolerate gets none.
    d = await cluster.node("ds3", {"pool": pool})
    await cluster.node("dstaint", {"pool": pool}, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    await eventually(lambda: placement({a, b, c, d}), what="a pod on the new node, none on the tainted one")
    await asyncio.sleep(1.0)
    assert await placement({a, b, c, d})

    # A node leaves: its pod goes with it.
    await cluster.remove_node(b)
    await eventually(lambda: placement({a, c, d}), what="the removed node's pod gone")

    # A new template rolls through, never more than maxUnavailable (1) node without a ready pod.
    await api.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "image": "busybox:1.37", "resources": {"requests": {"cpu": "200m"}}}]}}}}, ns)
    worst = 0

    async def rolled() -> bool:
        nonlocal worst
        live = [p for p in await cluster.pods() if not p["metadata"].get("deletionTimestamp")]
        serving = {p["spec"]["nodeName"] for p in live if is_ready(p)}
        worst = max(worst, len({a, c, d} - serving))
        images = {p["spec"]["containers"][0]["image"] for p in live}
        ds = await api.get(DAEMONSETS, "agent", ns)
        status = ds.get("status") or {}
        return (images == {"busybox:1.37"} and len(live) == 3 and status.get("updatedNumberScheduled") == 3
                and status.get("numberAvailable") == 3)

    await eventually(rolled, timeout=30, interval=0.05, what="all pods replaced by the new template")
    assert worst <= 1
    assert len((await api.list(CONTROLLERREVISIONS, ns))["items"]) == 2

    # A node without room for the pod's requests: no pod, a FailedPlacement event, and counted as desired.
    small = await cluster.node("dssmall", {"pool": pool}, cpu="100m")

    async def failed_placement() -> Obj | None:
        status = (await api.get(DAEMONSETS, "agent", ns)).get("status") or {}
        placed = "FailedPlacement" in await events_of(api, ns, "agent")
        return status if placed and status.get("desiredNumberScheduled") == 4 else None

    status = await eventually(failed_placement, what="FailedPlacement on the small node")
    assert status["numberUnavailable"] == 1 and status["currentNumberScheduled"] == 3
    assert small not in {p["spec"]["nodeName"] for p in await cluster.pods()}

    # A node that stops matching the selector loses its pod.
    await api.patch(NODES, d, {"metadata": {"labels": {"pool": "elsewhere"}}})
    await eventually(lambda: _nodes_with_pods(cluster, {a, c}), what="the relabelled node's pod gone")


async def _nodes_with_pods(cluster: Cluster, expected: set[str]) -> bool:
    live = [p for p in await cluster.pods() if not p["metadata"].get("deletionTimestamp")]
    return sorted(p["spec"]["nodeName"] for p in live) == sorted(expected)


# ---------------------------------------------------------------------- StatefulSet


def statefulset(name: str, pool: str, replicas: int = 3) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": {"pool": pool},
                                           "containers": [{"name": "c", "image": "busybox:1.36",
                                                           "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


async def test_statefulset_ordered_identity_storage_updates_and_scale_down(
        api: ApiClient, cluster: Cluster, run_id: str) -> None:
    ns, pool = cluster.namespace, f"sts-{run_id}"
    for i in range(2):
        await cluster.node(f"sts{i}", {"pool": pool})
    kubelet = cluster.kubelet
    kubelet.auto = False
    await api.create(STATEFULSETS, statefulset("web", pool), ns)

    async def get_pod(name: str) -> Obj | None:
        try:
            return await api.get(PODS, name, ns)
        except errors.NotFound:
            return None

    async def bound_claim(name: str) -> Obj | None:
        with contextlib.suppress(errors.NotFound):
            pvc = await api.get(PERSISTENTVOLUMECLAIMS, name, ns)
            return pvc if (pvc.get("status") or {}).get("phase") == "Bound" else None
        return None

    web0 = await eventually(lambda: get_pod("web-0"), what="web-0")
    assert web0["spec"]["hostname"] == "web-0" and web0["spec"]["subdomain"] == "web"
    assert web0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert web0["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in web0["spec"]["volumes"]

    # The claim got the default class, and once web-0 was placed a volume on that node.
    claim = await eventually(lambda: bound_claim("data-web-0"), what="data-web-0 Bound")
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["status"]["capacity"] == {"storage": "1Gi"}
    assert (await api.get(STORAGECLASSES, "local-path"))["metadata"]["annotations"][
        "storageclass.kubernetes.io/is-default-class"] == "true"
    pv = await api.get(PERSISTENTVOLUMES, claim["spec"]["volumeName"])
    assert pv["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert pv["status"]["phase"] == "Bound" and pv["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert pv["spec"]["hostPath"]["path"] == f"/var/lib/kubelite/volumes/{pv['metadata']['name']}"
    node = (await api.get(PODS, "web-0", ns))["spec"]["nodeName"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]

    # OrderedReady: no web-1 while web-0 is not Ready.
    await asyncio.sleep(1.5)
    assert await get_pod("web-1") is None
    kubelet.allowed.add("web-0")
    web1 = await eventually(lambda: get_pod("web-1"), what="web-1 after web-0 is Ready")
    ready_at = next(c["lastTransitionTime"] for c in (await api.get(PODS, "web-0", ns))["status"]["conditions"]
                    if c["type"] == "Ready")
    assert web1["metadata"]["creationTimestamp"] >= ready_at
    kubelet.auto = True

    async def settled(replicas: int) -> Obj | None:
        sts = await api.get(STATEFULSETS, "web", ns)
        status = sts.get("status") or {}
        done = (status.get("readyReplicas") == replicas == status.get("replicas")
                and status.get("observedGeneration") == sts["metadata"]["generation"]
                and status.get("currentRevision") == status.get("updateRevision"))
        return status if done else None

    status = await eventually(lambda: settled(3), timeout=30, what="3 ready replicas")
    for i in range(3):
        assert await bound_claim(f"data-web-{i}")
    assert status["currentReplicas"] == status["updatedReplicas"] == 3

    # A deleted pod comes back under the same name, with the same claim.
    old = await api.get(PODS, "web-1", ns)
    claim_uid = (await api.get(PERSISTENTVOLUMECLAIMS, "data-web-1", ns))["metadata"]["uid"]
    await api.delete(PODS, "web-1", ns)

    async def recreated() -> Obj | None:
        pod = await get_pod("web-1")
        return pod if pod and pod["metadata"]["uid"] != old["metadata"]["uid"] and is_ready(pod) else None

    again = await eventually(recreated, timeout=20, what="web-1 recreated")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in again["spec"]["volumes"]
    assert (await api.get(PERSISTENTVOLUMECLAIMS, "data-web-1", ns))["metadata"]["uid"] == claim_uid

    # Rolling update with partition 2: only web-2 moves to the new revision.
    uids = {i: (await api.get(PODS, f"web-{i}", ns))["metadata"]["uid"] for i in range(3)}
    await api.patch(STATEFULSETS, "web", {"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37",
                                              "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}}}}, ns)

    async def partitioned() -> Obj | None:
        sts = await api.get(STATEFULSETS, "web", ns)
        status = sts.get("status") or {}
        pods = {i: await get_pod(f"web-{i}") for i in range(3)}
        if not all(pods.values()) or not all(is_ready(p) for p in pods.values()):
            return None
        revs = {i: p["metadata"]["labels"]["controller-revision-hash"] for i, p in pods.items()}
        done = (revs[2] == status.get("updateRevision") and revs[0] == revs[1] == status.get("currentRevision")
                and status.get("updatedReplicas") == 1 and status.get("readyReplicas") == 3)
        return status if done else None

    status = await eventually(partitioned, timeout=30, what="web-2 updated, web-0 and web-1 held back")
    assert status["currentRevision"] != status["updateRevision"]
    assert (await api.get(PODS, "web-0", ns))["metadata"]["uid"] == uids[0]
    assert (await api.get(PODS, "web-2", ns))["spec"]["containers"][0]["image"] == "busybox:1.37"

    await api.patch(STATEFULSETS, "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, ns)
    status = await eventually(lambda: settled(3), timeout=30, what="every pod at the new revision")
    for i in range(3):
        assert (await api.get(PODS, f"web-{i}", ns))["spec"]["containers"][0]["image"] == "busybox:1.37"

    # Scale to 1: web-2 goes first; web-1 is left alone until web-2 is really gone. Claims are kept.
    kubelet.finalize = False
    await api.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, ns, subresource="scale")

    async def terminating(name: str) -> bool:
        pod = await get_pod(name)
        return bool(pod and pod["metadata"].get("deletionTimestamp"))

    await eventually(lambda: terminating("web-2"), what="web-2 terminating")
    await asyncio.sleep(1.0)
    assert not await terminating("web-1")
    kubelet.finalize = True

    async def only_web0() -> bool:
        return [p["metadata"]["name"] for p in await cluster.pods()] == ["web-0"]

    await eventually(only_web0, timeout=20, what="web-2 then web-1 removed")
    await eventually(lambda: settled(1), what="status of 1 replica")
    for i in range(3):
        assert await bound_claim(f"data-web-{i}"), f"data-web-{i} kept"
    reasons = await events_of(api, ns, "web")
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def test_parallel_statefulset_with_claims_deleted_by_policy(api: ApiClient, cluster: Cluster,
                                                                  run_id: str) -> None:
    ns, pool = cluster.namespace, f"par-{run_id}"
    await cluster.node("par0", {"pool": pool})
    cluster.kubelet.auto = False
    body = statefulset("db", pool)
    body["spec"]["podManagementPolicy"] = "Parallel"
    body["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    sts = await api.create(STATEFULSETS, body, ns)

    async def names(resource: Any) -> list[str]:
        return sorted(o["metadata"]["name"] for o in (await api.list(resource, ns))["items"]
                      if not o["metadata"].get("deletionTimestamp"))

    # Parallel: every pod at once, none of them Ready.
    await eventually(lambda: _equal(names(PODS), ["db-0", "db-1", "db-2"]), what="three pods at once")
    claims = (await api.list(PERSISTENTVOLUMECLAIMS, ns))["items"]
    assert {c["metadata"]["name"] for c in claims} == {"data-db-0", "data-db-1", "data-db-2"}
    assert all([r["uid"] for r in c["metadata"]["ownerReferences"]] == [sts["metadata"]["uid"]] for c in claims)
    cluster.kubelet.auto = True

    # whenScaled=Delete: the claims of the removed pods go with them.
    await api.patch(STATEFULSETS, "db", {"spec": {"replicas": 1}}, ns, subresource="scale")
    await eventually(lambda: _equal(names(PODS), ["db-0"]), what="scaled to one pod")
    await eventually(lambda: _equal(names(PERSISTENTVOLUMECLAIMS), ["data-db-0"]), what="their claims deleted")

    # whenDeleted=Delete: the last claim goes with the set.
    await api.delete(STATEFULSETS, "db", ns)
    await eventually(lambda: _equal(names(PERSISTENTVOLUMECLAIMS), []), what="the last claim deleted")


async def _equal(value: Any, expected: Any) -> bool:
    return await value == expected


# ---------------------------------------------------------------------- volume binding


def claim(name: str, size: str, cls: str) -> Obj:
    return {"metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "resources": {"requests": {"storage": size}}}}


async def test_existing_volumes_bind_first_and_are_reclaimed_by_policy(api: ApiClient, cluster: Cluster,
                                                                        run_id: str) -> None:
    ns, manual, immediate = cluster.namespace, f"manual-{run_id}", f"immediate-{run_id}"
    volumes = [f"pv-small-{run_id}", f"pv-big-{run_id}"]
    for name, size in zip(volumes, ("2Gi", "10Gi"), strict=True):
        await api.create(PERSISTENTVOLUMES, {"metadata": {"name": name}, "spec": {
            "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "storageClassName": manual, "hostPath": {"path": f"/tmp/{name}"}}})
    await api.create(STORAGECLASSES, {"metadata": {"name": immediate}, "provisioner": "kubelite.io/local-path",
                                      "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate"})
    try:
        async def phase(resource: Any, name: str, wanted: str, namespace: str | None = None) -> Obj | None:
            obj = await api.get(resource, name, namespace)
            return obj if (obj.get("status") or {}).get("phase") == wanted else None

        for name in volumes:  # new volumes are Pending until the controller has looked at them
            await eventually(lambda name=name: phase(PERSISTENTVOLUMES, name, "Available"), what=f"{name} Available")
        await api.create(PERSISTENTVOLUMECLAIMS, claim("fits", "1Gi", manual), ns)
        await api.create(PERSISTENTVOLUMECLAIMS, claim("too-big", "50Gi", manual), ns)
        await api.create(PERSISTENTVOLUMECLAIMS, claim("made", "3Gi", immediate), ns)

        fits = await eventually(lambda: phase(PERSISTENTVOLUMECLAIMS, "fits", "Bound", ns), what="fits Bound")
        assert fits["spec"]["volumeName"] == volumes[0]  # the smallest volume that fits
        assert fits["status"]["capacity"] == {"storage": "2Gi"}
        assert fits["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        pv = await eventually(lambda: phase(PERSISTENTVOLUMES, volumes[0], "Bound"), what="pv Bound")
        assert pv["spec"]["claimRef"]["uid"] == fits["metadata"]["uid"]

        made = await eventually(lambda: phase(PERSISTENTVOLUMECLAIMS, "made", "Bound", ns), what="made Bound")
        provisioned = await api.get(PERSISTENTVOLUMES, made["spec"]["volumeName"])
        assert "nodeAffinity" not in provisioned["spec"]  # Immediate: no consumer, no node
        assert provisioned["spec"]["capacity"] == {"storage": "3Gi"}

        await eventually(lambda: _has_event(api, ns, "too-big", "ProvisioningFailed"), what="a Pending reason")
        assert (await api.get(PERSISTENTVOLUMECLAIMS, "too-big", ns))["status"]["phase"] == "Pending"

        # Retain: the claim goes, the volumes stay Released with their data.
        await api.delete(PERSISTENTVOLUMECLAIMS, "fits", ns)
        await api.delete(PERSISTENTVOLUMECLAIMS, "made", ns)
        await eventually(lambda: phase(PERSISTENTVOLUMES, volumes[0], "Released"), what="manual volume Released")
        await eventually(lambda: phase(PERSISTENTVOLUMES, provisioned["metadata"]["name"], "Released"),
                         what="provisioned Retain volume Released")
        volumes.append(provisioned["metadata"]["name"])
    finally:
        for name in volumes:
            with contextlib.suppress(errors.NotFound):
                await api.delete(PERSISTENTVOLUMES, name)
        await api.delete(STORAGECLASSES, immediate)


async def _has_event(api: ApiClient, namespace: str, name: str, reason: str) -> bool:
    return reason in await events_of(api, namespace, name)
