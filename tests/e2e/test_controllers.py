"""The controller-manager as a real process against a real apiserver: ReplicaSets, garbage collection in
its three propagation modes, namespace deletion, default service accounts, and a crash mid-work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kube import errors, timeutil
from kube.client import ApiClient
from kube.resources import (
    CONFIGMAPS,
    ENDPOINTS,
    LEASES,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SERVICEACCOUNTS,
    SERVICES,
)
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.e2e


def replicaset(name: str, replicas: int, app: str | None = None) -> dict[str, Any]:
    app = app or name
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


class Manager:
    """The controller-manager of one test; `restart(kill=True)` is a crash (SIGKILL) and a fresh start."""

    def __init__(self, daemons: Callable[..., Any]) -> None:
        self._daemons = daemons
        self.current = self._start()

    def _start(self) -> Any:
        return self._daemons("controllers", "--leader-elect", "false", "--controllers",
                             "replicaset,garbagecollector,namespace,serviceaccount")

    def restart(self) -> None:
        os.kill(self.current.pid, signal.SIGKILL)
        self.current = self._start()


@pytest.fixture
def manager(daemons: Callable[..., Any]) -> Manager:
    return Manager(daemons)


@pytest.fixture
async def namespace(api: ApiClient, run_id: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_").lower()).strip("-")
    name = f"ctl-{slug[:20]}-{zlib.crc32(slug.encode()):08x}-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": name}})
    yield name
    with contextlib.suppress(errors.NotFound):
        await api.delete(NAMESPACES, name)


async def pods_of(api: ApiClient, namespace: str, app: str) -> list[dict[str, Any]]:
    items = (await api.list(PODS, namespace, label_selector=f"app={app}"))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_replicaset_keeps_count_adopts_and_releases(api: ApiClient, namespace: str, manager: Any) -> None:
    orphan = {"metadata": {"name": "orphan", "labels": {"app": "web"}},
              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await api.create(PODS, orphan, namespace)
    rs = await api.create(REPLICASETS, replicaset("web", 3), namespace)

    async def three_owned() -> list | None:
        pods = await pods_of(api, namespace, "web")
        owned = [p for p in pods if any(r["uid"] == rs["metadata"]["uid"] for r in p["metadata"].get(
            "ownerReferences") or [])]
        return owned if len(pods) == 3 and len(owned) == 3 else None

    owned = await eventually(three_owned, what="3 owned pods")
    assert "orphan" in {p["metadata"]["name"] for p in owned}  # adopted, not duplicated
    ref = owned[0]["metadata"]["ownerReferences"][0]
    assert ref["controller"] is True and ref["blockOwnerDeletion"] is True and ref["kind"] == "ReplicaSet"

    # A pod that stops matching is released and replaced.
    await api.patch(PODS, "orphan", {"metadata": {"labels": {"app": "other"}}}, namespace)
    released = await eventually(lambda: _released(api, namespace, "orphan"), what="release")
    assert not released["metadata"].get("ownerReferences")
    await eventually(three_owned, what="a replacement pod")

    # Deleted pods are replaced; scaling down removes the surplus.
    victim = (await pods_of(api, namespace, "web"))[0]["metadata"]["name"]
    await api.delete(PODS, victim, namespace)
    await eventually(three_owned, what="a replacement for a deleted pod")
    await api.patch(REPLICASETS, "web", {"spec": {"replicas": 1}}, namespace, subresource="scale")

    async def status_one() -> dict | None:
        current = await api.get(REPLICASETS, "web", namespace)
        pods = await pods_of(api, namespace, "web")
        status = current.get("status") or {}
        done = len(pods) == 1 and status.get("replicas") == 1 and status.get("observedGeneration") == current[
            "metadata"]["generation"]
        return status if done else None

    status = await eventually(status_one, what="scaled to 1 with status")
    assert status["fullyLabeledReplicas"] == 1 and "readyReplicas" not in status  # no kubelet: nothing ready


async def _released(api: ApiClient, namespace: str, name: str) -> dict | None:
    pod = await api.get(PODS, name, namespace)
    return pod if not pod["metadata"].get("ownerReferences") else None


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
async def test_deleting_an_owner_cascades_by_policy(api: ApiClient, namespace: str, manager: Any,
                                                    policy: str) -> None:
    rs = await api.create(REPLICASETS, replicaset("casc", 2), namespace)
    await eventually(lambda: _count(api, namespace, "casc", 2), what="2 pods")
    # A configmap owned by a pod: cascades go more than one level deep.
    pod_uid = (await pods_of(api, namespace, "casc"))[0]["metadata"]
    await api.create(CONFIGMAPS, {"metadata": {"name": "leaf", "ownerReferences": [{
        "apiVersion": "v1", "kind": "Pod", "name": pod_uid["name"], "uid": pod_uid["uid"]}]}}, namespace)

    deleted = await api.delete(REPLICASETS, "casc", namespace, propagation_policy=policy)
    if policy == "Foreground":
        # The owner stays, marked, until its dependents are gone.
        assert "foregroundDeletion" in deleted["metadata"]["finalizers"]
    await eventually(lambda: _gone(api, REPLICASETS, "casc", namespace), what="the ReplicaSet gone")
    if policy == "Orphan":
        pods = await eventually(lambda: _count(api, namespace, "casc", 2), what="orphans kept")
        assert all(not any(r["uid"] == rs["metadata"]["uid"] for r in p["metadata"].get("ownerReferences") or [])
                   for p in pods)
        assert await api.get(CONFIGMAPS, "leaf", namespace)
    else:
        await eventually(lambda: _count(api, namespace, "casc", 0), what="pods deleted")
        await eventually(lambda: _gone(api, CONFIGMAPS, "leaf", namespace), what="grand-dependent deleted")


async def _count(api: ApiClient, namespace: str, app: str, n: int) -> list | bool:
    pods = await pods_of(api, namespace, app)
    return (pods or True) if len(pods) == n else False


async def _gone(api: ApiClient, resource: Any, name: str, namespace: str | None) -> bool:
    try:
        await api.get(resource, name, namespace)
    except errors.NotFound:
        return True
    return False


async def test_dependent_of_a_live_owner_is_kept_and_dangling_refs_trimmed(api: ApiClient, namespace: str,
                                                                           manager: Any) -> None:
    owner = await api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace)
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    await api.create(CONFIGMAPS, {"metadata": {"name": "two-owners", "ownerReferences": [live, ghost]}}, namespace)
    await api.create(CONFIGMAPS, {"metadata": {"name": "only-ghost", "ownerReferences": [ghost]}}, namespace)
    await eventually(lambda: _gone(api, CONFIGMAPS, "only-ghost", namespace), what="orphan of a ghost deleted")

    async def trimmed() -> bool:
        refs = (await api.get(CONFIGMAPS, "two-owners", namespace))["metadata"].get("ownerReferences") or []
        return [r["uid"] for r in refs] == [owner["metadata"]["uid"]]

    await eventually(trimmed, what="dangling reference removed")


async def test_namespace_deletion_empties_it_and_default_service_account_appears(
        api: ApiClient, run_id: str, manager: Any) -> None:
    ns = f"ctl-nsdel-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    await eventually(lambda: _exists(api, SERVICEACCOUNTS, "default", ns), what="default service account")
    await api.create(REPLICASETS, replicaset("inside", 2), ns)
    await api.create(CONFIGMAPS, {"metadata": {"name": "cfg"}}, ns)
    await eventually(lambda: _count(api, ns, "inside", 2), what="pods")
    marked = await api.delete(NAMESPACES, ns)
    assert marked["status"]["phase"] == "Terminating"
    await eventually(lambda: _gone(api, NAMESPACES, ns, None), timeout=30, what="namespace removed")
    with pytest.raises(errors.NotFound):
        await api.get(NAMESPACES, ns)


async def _exists(api: ApiClient, resource: Any, name: str, namespace: str) -> bool:
    try:
        await api.get(resource, name, namespace)
    except errors.NotFound:
        return False
    return True


async def test_killed_manager_restarts_without_duplicates(api: ApiClient, namespace: str,
                                                          manager: Manager) -> None:
    await api.create(REPLICASETS, replicaset("crash", 5), namespace)
    await eventually(lambda: _count(api, namespace, "crash", 5), what="5 pods")
    await api.patch(REPLICASETS, "crash", {"spec": {"replicas": 9}}, namespace, subresource="scale")
    manager.restart()  # possibly in the middle of creating the 4 new pods
    await eventually(lambda: _count(api, namespace, "crash", 9), timeout=30, what="9 pods after restart")
    await asyncio.sleep(2)  # give a duplicate the time to appear, if the restart were to make one
    assert len(await pods_of(api, namespace, "crash")) == 9


async def test_standby_manager_takes_over_when_the_leader_dies(api: ApiClient, namespace: str,
                                                               daemons: Callable[..., Any]) -> None:
    lease_flags = ("--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "2",
                   "--leader-elect-retry-period", "0.5", "--controllers", "replicaset")
    lease_ns, lease_name = "kube-system", "kube-controller-manager"

    async def holder() -> str | None:
        try:
            lease = await api.get(LEASES, lease_name, lease_ns)
        except errors.NotFound:
            return None
        return (lease.get("spec") or {}).get("holderIdentity")

    previous = await holder()
    leader = daemons("controllers", *lease_flags)
    first = await eventually(lambda: _new_holder(holder, previous), what="a first leader")
    daemons("controllers", *lease_flags)  # the standby
    await api.create(REPLICASETS, replicaset("led", 1), namespace)
    await eventually(lambda: _count(api, namespace, "led", 1), what="the leader at work")
    assert await holder() == first  # the standby did not steal a live lease

    os.kill(leader.pid, signal.SIGKILL)
    second = await eventually(lambda: _new_holder(holder, first), timeout=15, what="the standby leading")
    assert second != first
    await api.patch(REPLICASETS, "led", {"spec": {"replicas": 2}}, namespace, subresource="scale")
    await eventually(lambda: _count(api, namespace, "led", 2), what="the new leader at work")


async def _new_holder(holder: Callable[[], Any], other: str | None) -> str | None:
    current = await holder()
    return current if current and current != other else None


# ---------------------------------------------------------------- endpoints

async def _play_kubelet(api: ApiClient, namespace: str, name: str, ip: str, ready: bool) -> None:
    """Hollow-node stand-in for a kubelet: report a pod running at `ip`, ready or not."""
    now = timeutil.now()
    await api.patch(PODS, name, {"status": {"phase": "Running", "podIP": ip, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now}]}},
        namespace, subresource="status")


def _web_pod(name: str, port_name: str, port: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "svc"}},
            "spec": {"nodeName": "hollow", "containers": [{"name": "c", "image": "busybox",
                                                           "ports": [{"name": port_name, "containerPort": port}]}]}}


async def test_endpoints_follow_pod_readiness_and_named_ports(api: ApiClient, namespace: str,
                                                              daemons: Callable[..., Any]) -> None:
    daemons("controllers", "--leader-elect", "false", "--controllers", "endpoints")
    await api.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "svc"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}, namespace)
    await api.create(PODS, _web_pod("a", "web", 8080), namespace)
    await api.create(PODS, _web_pod("b", "web", 9090), namespace)
    await api.create(PODS, _web_pod("c", "other", 7070), namespace)  # no port named "web": left out
    await _play_kubelet(api, namespace, "a", "10.9.0.1", ready=True)
    await _play_kubelet(api, namespace, "b", "10.9.0.2", ready=False)
    await _play_kubelet(api, namespace, "c", "10.9.0.3", ready=True)

    async def subsets() -> list | None:
        try:
            ep = await api.get(ENDPOINTS, "web", namespace)
        except errors.NotFound:
            return None
        found = ep.get("subsets") or []
        return found if len(found) == 2 else None

    found = await eventually(subsets, what="two subsets (ports 8080 and 9090)")
    by_port = {s["ports"][0]["port"]: s for s in found}
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.9.0.1"]
    assert by_port[8080]["addresses"][0]["targetRef"]["name"] == "a"
    assert [a["ip"] for a in by_port[9090]["notReadyAddresses"]] == ["10.9.0.2"]
    assert by_port[9090]["ports"][0]["name"] == "http"

    await api.delete(PODS, "a", namespace, grace_period_seconds=0)

    async def only_b() -> bool:
        ep = await api.get(ENDPOINTS, "web", namespace)
        ips = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses", []) + s.get(
            "notReadyAddresses", [])]
        return ips == ["10.9.0.2"]

    await eventually(only_b, what="pod a gone from the endpoints")
    await api.delete(SERVICES, "web", namespace)
    await eventually(lambda: _gone(api, ENDPOINTS, "web", namespace), what="endpoints removed with the service")


# ---------------------------------------------------------------- node lifecycle

async def test_silent_node_is_tainted_its_pods_evicted_and_it_recovers(
        api: ApiClient, namespace: str, run_id: str, daemons: Callable[..., Any]) -> None:
    node = f"silent-{run_id}"
    await api.create(NODES, {"metadata": {"name": node}, "status": {
        "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": timeutil.now()}]}})
    lease = await api.create(LEASES, {"metadata": {"name": node, "namespace": "kube-node-lease"}, "spec": {
        "holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": timeutil.now_micro()}}, "kube-node-lease")
    short = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 1}
    forever = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    for name, toleration in (("short", short), ("forever", forever)):
        await api.create(PODS, {"metadata": {"name": name}, "spec": {
            "nodeName": node, "tolerations": [toleration], "containers": [{"name": "c", "image": "busybox"}]}},
            namespace)
    try:
        daemons("controllers", "--leader-elect", "false", "--controllers", "nodelifecycle",
                "--node-monitor-grace-period", "3")

        async def tainted() -> dict | None:
            current = await api.get(NODES, node)
            keys = [t["key"] for t in (current.get("spec") or {}).get("taints") or []]
            return current if "node.kubernetes.io/unreachable" in keys else None

        current = await eventually(tainted, timeout=20, what="the unreachable taint")
        ready = next(c for c in current["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"

        async def evicted() -> bool:
            pod = await api.get(PODS, "short", namespace)
            return bool(pod["metadata"].get("deletionTimestamp"))

        await eventually(evicted, timeout=10, what="the short-toleration pod evicted")
        assert not (await api.get(PODS, "forever", namespace))["metadata"].get("deletionTimestamp")

        # The kubelet comes back: lease renewed and Ready posted; the taint goes.
        lease = await api.get(LEASES, node, "kube-node-lease")
        lease["spec"]["renewTime"] = timeutil.now_micro()
        await api.replace(LEASES, lease)
        await api.patch(NODES, node, {"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastHeartbeatTime": timeutil.now(), "reason": "KubeletReady"}]}},
            subresource="status")

        async def untainted() -> bool:
            return not ((await api.get(NODES, node)).get("spec") or {}).get("taints")

        await eventually(untainted, timeout=10, what="the taint removed")

        # A deleted node's pods are collected.
        await api.delete(NODES, node)
        await eventually(lambda: _gone(api, PODS, "forever", namespace), timeout=15, what="orphaned pod deleted")
    finally:
        with contextlib.suppress(errors.NotFound):
            await api.delete(NODES, node)
