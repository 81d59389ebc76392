"""The scheduler process against a real apiserver, with hollow nodes (Node objects created through the API, Ready,
no kubelet): placement by resources, spreading of an app's replicas, required anti-affinity and its
FailedScheduling event, taints and tolerations, nodeSelector, node affinity, cordon, a pod too large for every
node that is bound as soon as a big enough node appears, priority and preemption, profiles from a config file
(schedulerName), and two schedulers with leader election where the standby takes over after `kill -9`.

This module runs its own etcd and apiserver, so a test sees exactly its own nodes and the messages
(`0/3 nodes are available: ...`) can be compared whole. Each test removes the nodes it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import supervise
from kube import errors
from kube.client import ApiClient, kubeconfig
from kube.resources import EVENTS, LEASES, NAMESPACES, NODES, PODS, SERVICES, by_plural
from tests.e2e.conftest import start_apiserver
from tests.e2e.waiting import eventually
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

PRIORITYCLASSES = by_plural("scheduling.k8s.io", "v1", "priorityclasses")
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def apiserver(pki: TestPKI, workdir: Path) -> Iterator[Apiserver]:
    """A private etcd and apiserver for this module (overrides the session one for `api` and `daemons`)."""
    logs = workdir / "logs"
    url, etcd = supervise.start_etcd("etcd-scheduler-tests", workdir / "etcd-scheduler-tests", logs)
    try:
        server = start_apiserver(pki, url, logs, name="apiserver-scheduler-tests")
        try:
            yield server
        finally:
            server.stop()
    finally:
        supervise.stop(etcd)


def hollow_node(name: str, cpu: str, memory: str = "4Gi", labels: dict[str, str] | None = None,
                **spec: Any) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "hollow": "true", **(labels or {})}},
            "spec": spec,
            "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, cpu: str = "100m", node_selector: dict[str, str] | None = None,
        labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {"containers": [{"name": "c", "image": "busybox",
                                 "resources": {"requests": {"cpu": cpu, "memory": "10Mi"}}}], **spec}
    if node_selector:
        body["nodeSelector"] = node_selector
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": body}


@pytest.fixture
async def hollow(api: ApiClient, run_id: str):
    """Creates hollow nodes private to this test (named with the run id) and removes them afterwards."""
    made: list[str] = []

    async def make(name: str, cpu: str = "4", labels: dict[str, str] | None = None, **spec: Any) -> str:
        full = f"{name}-{run_id}"
        await api.create(NODES, hollow_node(full, cpu, labels=labels, **spec))
        made.append(full)
        return full

    yield make
    for name in made:
        with contextlib.suppress(errors.NotFound):
            await api.delete(NODES, name)


@pytest.fixture
async def ns(api: ApiClient, run_id: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A namespace for the test's pods; they are deleted afterwards, so no pod still pending from one test can
    land on the next test's nodes (no namespace controller runs here)."""
    name = f"{request.node.name.removeprefix('test_').replace('_', '-')[:40]}-{run_id}".strip("-")
    await api.create(NAMESPACES, {"metadata": {"name": name}})
    yield name
    for p in (await api.list(PODS, name))["items"]:
        with contextlib.suppress(errors.NotFound):
            await api.delete(PODS, p["metadata"]["name"], name, grace_period_seconds=0)


async def node_of(api: ApiClient, name: str, ns: str) -> str | None:
    return (await api.get(PODS, name, ns))["spec"].get("nodeName")


async def failed_events(api: ApiClient, name: str, ns: str) -> list[Obj]:
    items = (await api.list(EVENTS, ns, field_selector=f"involvedObject.name={name}"))["items"]
    return [e for e in items if e["reason"] == "FailedScheduling"]


async def last_failure(api: ApiClient, name: str, ns: str) -> str:
    events = await eventually(lambda: failed_events(api, name, ns), what=f"FailedScheduling for {name}")
    return max(events, key=lambda e: e["lastTimestamp"])["message"]


async def placements(api: ApiClient, ns: str, count: int) -> list[str] | None:
    names = [p["spec"].get("nodeName") for p in (await api.list(PODS, ns))["items"]]
    return names if len(names) == count and all(names) else None


# ---------------------------------------------------------------------------------------------- resources


async def test_pending_pod_waits_with_an_event_then_lands_when_room_is_made(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    daemons("scheduler", "--retry-interval", "60")
    small = await hollow("small", "1")
    await api.create(PODS, pod("fits", "600m"), ns)
    await api.create(PODS, pod("second", "600m"), ns)  # 1.2 cores on a 1-core node: must wait

    assert await eventually(lambda: node_of(api, "fits", ns)) == small
    message = await last_failure(api, "second", ns)
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                       "1 No preemption victims found for incoming pod.")
    events = await failed_events(api, "second", ns)
    assert events[0]["type"] == "Warning" and events[0]["source"]["component"] == "default-scheduler"
    condition = (await api.get(PODS, "second", ns))["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "PodScheduled", "False", "Unschedulable", message)

    # Deleting the first pod makes room: the waiting pod is retried without waiting for the periodic retry.
    await api.delete(PODS, "fits", ns, grace_period_seconds=0)
    assert await eventually(lambda: node_of(api, "second", ns), timeout=10) == small

    async def scheduled_event() -> bool:  # recorded just after the binding, not with it
        events = (await api.list(EVENTS, ns, field_selector="involvedObject.name=second"))["items"]
        return any(e["reason"] == "Scheduled" and e["message"] == f"Successfully assigned {ns}/second to {small}"
                   for e in events)

    assert await eventually(scheduled_event, timeout=5, what="the Scheduled event")


async def test_resources_are_never_overcommitted(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    nodes = [await hollow(f"h{i}", "1") for i in range(3)]
    daemons("scheduler")
    for i in range(10):  # 10 x 300m on 3 x 1 core: 9 fit, at most 3 per node; the 10th waits
        await api.create(PODS, pod(f"p{i}", "300m"), ns)

    async def nine_placed() -> list[str] | None:
        names = [p["spec"].get("nodeName") for p in (await api.list(PODS, ns))["items"]]
        placed = [n for n in names if n]
        return placed if len(placed) == 9 else None

    placed = await eventually(nine_placed)
    assert Counter(placed) == {n: 3 for n in nodes}
    pending = [p["metadata"]["name"] for p in (await api.list(PODS, ns))["items"] if not p["spec"].get("nodeName")]
    assert "3 Insufficient cpu" in await last_failure(api, pending[0], ns)


async def test_an_over_large_pod_is_bound_as_soon_as_a_big_enough_node_appears(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    for i in range(3):
        await hollow(f"s{i}", "4")
    daemons("scheduler", "--retry-interval", "300")  # no periodic retry to lean on
    await api.create(PODS, pod("huge", "16"), ns)
    assert await last_failure(api, "huge", ns) == (
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
        "3 No preemption victims found for incoming pod.")
    started = time.monotonic()
    big = await hollow("big", "32")
    assert await eventually(lambda: node_of(api, "huge", ns), timeout=10) == big
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------------------------------- spreading


async def test_six_replicas_of_one_app_spread_two_per_node(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    nodes = [await hollow(f"eq{i}", "8") for i in range(3)]
    await api.create(SERVICES, {"metadata": {"name": "web"},
                                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, ns)
    daemons("scheduler")
    for i in range(6):
        await api.create(PODS, pod(f"web-{i}", "100m", labels={"app": "web"}), ns)
    placed = await eventually(lambda: placements(api, ns, 6))
    assert Counter(placed) == {n: 2 for n in nodes}


async def test_required_anti_affinity_puts_one_per_node_and_the_fourth_waits(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    nodes = [await hollow(f"aa{i}", "8") for i in range(3)]
    daemons("scheduler")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(4):
        await api.create(PODS, pod(f"db-{i}", labels={"app": "db"}, affinity=anti), ns)

    async def three_placed() -> list[str] | None:
        names = [p["spec"].get("nodeName") for p in (await api.list(PODS, ns))["items"]]
        return [n for n in names if n] if len([n for n in names if n]) == 3 else None

    assert sorted(await eventually(three_placed)) == sorted(nodes)
    await asyncio.sleep(0.5)
    pods = (await api.list(PODS, ns))["items"]
    waiting = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
    assert len(waiting) == 1
    assert await last_failure(api, waiting[0], ns) == (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are "
        "available: 3 No preemption victims found for incoming pod.")


async def test_a_label_change_on_a_placed_pod_releases_a_waiting_one(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    only = await hollow("solo", "8")
    daemons("scheduler", "--retry-interval", "300")
    await api.create(PODS, pod("holder", labels={"role": "primary"}), ns)
    assert await eventually(lambda: node_of(api, "holder", ns)) == only
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"role": "primary"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    await api.create(PODS, pod("shy", affinity=anti), ns)
    assert "1 node(s) didn't match pod anti-affinity rules" in await last_failure(api, "shy", ns)
    await api.patch(PODS, "holder", {"metadata": {"labels": {"role": "secondary"}}}, ns)
    assert await eventually(lambda: node_of(api, "shy", ns), timeout=10) == only


async def test_repeated_failures_are_one_event_with_a_count(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    await hollow("tiny", "1")
    daemons("scheduler", "--retry-interval", "1")

    async def counted() -> int | None:
        events = await failed_events(api, "greedy", ns)
        return events[0]["count"] if len(events) == 1 and events[0]["count"] >= 3 else None

    await api.create(PODS, pod("greedy", "4"), ns)
    assert await eventually(counted, timeout=20, what="one FailedScheduling event counted 3 times")


# ---------------------------------------------------------------------------------------------- node choice


async def test_taints_and_tolerations(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    gpu = await hollow("gpu", "4", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    await hollow("evicting", "4", taints=[{"key": "evict", "value": "now", "effect": "NoExecute"}])
    soft = await hollow("soft", "1", taints=[{"key": "soft", "value": "yes", "effect": "PreferNoSchedule"}])
    daemons("scheduler")
    await api.create(PODS, pod("plain", "100m"), ns)
    assert await eventually(lambda: node_of(api, "plain", ns)) == soft
    tolerant = pod("tolerant", "100m", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                                     "effect": "NoSchedule"}])
    await api.create(PODS, tolerant, ns)
    # Both gpu and soft would do; the soft node's PreferNoSchedule taint, untolerated, tips it to gpu.
    assert await eventually(lambda: node_of(api, "tolerant", ns)) == gpu
    await api.create(PODS, pod("too-big", "2"), ns)
    assert await last_failure(api, "too-big", ns) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, "
        "1 node(s) had untolerated taint {evict: now}. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")


async def test_node_selector_and_a_label_added_later(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    ssd = await hollow("ssd", labels={"disk": "ssd"})
    hdd = await hollow("hdd", labels={"disk": "hdd"})
    await hollow("plain")
    daemons("scheduler")
    for i in range(3):
        await api.create(PODS, pod(f"fast-{i}", node_selector={"disk": "ssd"}), ns)
    await api.create(PODS, pod("nvme", node_selector={"disk": "nvme"}), ns)
    for i in range(3):
        assert await eventually(lambda i=i: node_of(api, f"fast-{i}", ns)) == ssd
    assert await last_failure(api, "nvme", ns) == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
        "available: 3 Preemption is not helpful for scheduling.")
    await api.patch(NODES, hdd, {"metadata": {"labels": {"disk": "nvme"}}})
    assert await eventually(lambda: node_of(api, "nvme", ns), timeout=10) == hdd


async def test_node_affinity_required_and_preferred(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    a = await hollow("za", labels={"zone": "a", "gen": "3"})
    b = await hollow("zb", labels={"zone": "b", "gen": "5"})
    c = await hollow("zc", labels={"zone": "c", "gen": "7"})
    daemons("scheduler")
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                              {"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}
    await api.create(PODS, pod("newer-in-a-or-b", affinity=required), ns)
    preferred = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]}},
        {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}}
    await api.create(PODS, pod("likes-c", affinity=preferred), ns)
    by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [a]}]}]}}}
    await api.create(PODS, pod("pinned", affinity=by_name), ns)
    assert await eventually(lambda: node_of(api, "newer-in-a-or-b", ns)) == b
    assert await eventually(lambda: node_of(api, "likes-c", ns)) == c
    assert await eventually(lambda: node_of(api, "pinned", ns)) == a


async def test_cordoned_node_gets_no_pods_until_uncordoned(
    api: ApiClient, ns: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    cordoned = await hollow("cordoned", "8", unschedulable=True)
    daemons("scheduler")
    await api.create(PODS, pod("p"), ns)
    assert await last_failure(api, "p", ns) == (
        "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: "
        "1 Preemption is not helpful for scheduling.")
    await api.patch(NODES, cordoned, {"spec": {"unschedulable": None}})  # uncordon
    assert await eventually(lambda: node_of(api, "p", ns), timeout=10) == cordoned


# ---------------------------------------------------------------------------------------------- priority


async def test_a_higher_priority_pod_preempts_a_lower_one(
    api: ApiClient, ns: str, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    low, high = f"low-{run_id}", f"high-{run_id}"
    await api.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                       "metadata": {"name": low}, "value": 10})
    await api.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                       "metadata": {"name": high}, "value": 1000})
    only = await hollow("only", "1")
    daemons("scheduler")
    await api.create(PODS, pod("victim", "800m", priorityClassName=low), ns)
    assert await eventually(lambda: node_of(api, "victim", ns)) == only
    await api.create(PODS, pod("vip", "500m", priorityClassName=high), ns)

    async def terminating() -> bool:
        try:
            victim = await api.get(PODS, "victim", ns)
        except errors.NotFound:
            return True
        return bool(victim["metadata"].get("deletionTimestamp"))

    await eventually(terminating, what="the victim's graceful deletion")
    assert (await api.get(PODS, "vip", ns))["status"].get("nominatedNodeName") == only
    # No kubelet on a hollow node: play its part and confirm the victim has stopped.
    with contextlib.suppress(errors.NotFound):
        await api.delete(PODS, "victim", ns, grace_period_seconds=0)
    assert await eventually(lambda: node_of(api, "vip", ns), timeout=15) == only
    events = (await api.list(EVENTS, ns, field_selector="involvedObject.name=victim"))["items"]
    assert any(e["reason"] == "Preempted" and f"on node {only}" in e["message"] for e in events)


async def test_higher_priority_pods_are_scheduled_first(
    api: ApiClient, ns: str, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    await api.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                       "metadata": {"name": f"urgent-{run_id}"}, "value": 500,
                                       "preemptionPolicy": "Never"})
    for i in range(3):
        await api.create(PODS, pod(f"normal-{i}", "1"), ns)
    await api.create(PODS, pod("urgent", "1", priorityClassName=f"urgent-{run_id}"), ns)
    daemons("scheduler")  # started after the pods: its queue orders them
    one = await hollow("one", "1")
    assert await eventually(lambda: node_of(api, "urgent", ns), timeout=10) == one
    await asyncio.sleep(1)
    assert all([await node_of(api, f"normal-{i}", ns) is None for i in range(3)])
    assert await last_failure(api, "normal-0", ns) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod.")


# ---------------------------------------------------------------------------------------------- configuration


async def test_profiles_from_a_config_file_and_scheduler_names(
    api: ApiClient, ns: str, workdir: Path, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    config = workdir / f"scheduler-{ns}.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles:\n"
        "- schedulerName: default-scheduler\n"
        "- schedulerName: bin-packer\n"
        "  plugins:\n"
        "    score:\n"
        "      disabled: [{name: NodeResourcesBalancedAllocation}, {name: PodTopologySpread}]\n"
        "      enabled: [{name: NodeResourcesFit, weight: 10}]\n"
        "  pluginConfig:\n"
        "  - name: NodeResourcesFit\n"
        "    args: {scoringStrategy: {type: MostAllocated}}\n")
    nodes = [await hollow(f"bp{i}", "4") for i in range(3)]
    daemons("scheduler", "--config", str(config))
    for i in range(4):
        await api.create(PODS, pod(f"packed-{i}", "500m", schedulerName="bin-packer"), ns)
        await eventually(lambda i=i: node_of(api, f"packed-{i}", ns))
    await api.create(PODS, pod("elsewhere", schedulerName="nobody-runs-this"), ns)
    packed = [await node_of(api, f"packed-{i}", ns) for i in range(4)]
    assert len(set(packed)) == 1 and packed[0] in nodes

    async def scheduled_by() -> str | None:
        items = (await api.list(EVENTS, ns, field_selector="involvedObject.name=packed-0"))["items"]
        return next((e["source"]["component"] for e in items if e["reason"] == "Scheduled"), None)

    assert await eventually(scheduled_by) == "bin-packer"  # events come from the profile, as in kube-scheduler
    await asyncio.sleep(1)
    assert await node_of(api, "elsewhere", ns) is None
    assert await failed_events(api, "elsewhere", ns) == []


async def test_a_bad_config_file_is_refused_at_start(workdir: Path, apiserver: Apiserver) -> None:
    config = workdir / "bad-scheduler.yaml"
    config.write_text("profiles:\n- plugins:\n    filter:\n      enabled: [{name: NoSuchPlugin}]\n")
    proc = await asyncio.create_subprocess_exec(
        *apiserver.daemon_argv("scheduler", "--config", str(config)), stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"unknown plugin 'NoSuchPlugin'" in err


# ---------------------------------------------------------------------------------------------- leader election


def _logged(daemon: supervise.Daemon, text: str) -> bool:
    return daemon.log.exists() and text in daemon.log.read_text(errors="replace")


async def test_the_standby_scheduler_takes_over_when_the_leader_is_killed(
    api: ApiClient, ns: str, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    lease = f"sched-le-{run_id}"
    fast = ["--leader-elect", "true", "--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
            "--leader-elect-retry-period", "0.5", "--leader-elect-resource-name", lease]
    await hollow("le", "8")
    first = daemons("scheduler", *fast, name=f"scheduler-le-a-{run_id}")
    second = daemons("scheduler", *fast, name=f"scheduler-le-b-{run_id}")
    await api.create(PODS, pod("before"), ns)
    await eventually(lambda: node_of(api, "before", ns))

    async def leader() -> supervise.Daemon | None:
        found = [d for d in (first, second) if _logged(d, "became leader")]
        return found[0] if len(found) == 1 else None

    leading = await eventually(leader, what="exactly one leader")
    standby = second if leading is first else first
    holder = (await api.get(LEASES, lease, "kube-system"))["spec"]["holderIdentity"]
    os.kill(leading.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    await api.create(PODS, pod("after"), ns)
    await eventually(lambda: node_of(api, "after", ns), timeout=15, what="the standby binding a new pod")
    took = time.monotonic() - killed_at
    assert took < 15, took
    assert _logged(standby, "became leader")
    new_holder = (await api.get(LEASES, lease, "kube-system"))["spec"]["holderIdentity"]
    assert new_holder != holder


# ---------------------------------------------------------------------------------------------- real kubelets


async def test_real_kubelets_on_one_engine_run_an_apps_replicas_spread(
    api: ApiClient, admin: kubeconfig.ClusterCredentials, ns: str, run_id: str, workdir: Path, docker_client: Any,
    daemons: Callable[..., supervise.Daemon],
) -> None:
    """Three kubelets (three node names, one Docker engine): six replicas of one app are spread 2/2/2 and run."""
    names = [f"real{i}-{run_id}" for i in range(3)]
    kubelets = [daemons("kubelet", "--node-name", n, "--node-ip", "127.0.0.1", "--port", "0",
                        "--heartbeat-interval", "1", "--sync-interval", "1",
                        "--root-dir", str(workdir / "kubelet-root-scheduler"), name=f"kubelet-{n}")
                for n in names]
    try:
        for n, kubelet in zip(names, kubelets, strict=True):
            await asyncio.to_thread(supervise.wait_for, lambda n=n: supervise.node_ready(admin, n), 60,
                                    f"node {n} Ready", kubelet)
        await api.create(SERVICES, {"metadata": {"name": "web"},
                                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, ns)
        daemons("scheduler")
        for i in range(6):
            body = pod(
                f"web-{i}", "10m", labels={"app": "web"}, terminationGracePeriodSeconds=1,
                affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": names}]}]}}})
            body["spec"]["containers"][0].update(
                imagePullPolicy="IfNotPresent", command=["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"])
            await api.create(PODS, body, ns)
        placed = await eventually(lambda: placements(api, ns, 6), timeout=30)
        assert Counter(placed) == {n: 2 for n in names}

        async def running() -> bool:
            items = (await api.list(PODS, ns))["items"]
            return all((p.get("status") or {}).get("phase") == "Running" for p in items)

        await eventually(running, timeout=60, what="six Running pods")
    finally:
        for kubelet in kubelets:
            supervise.stop(kubelet)
        for p in (await api.list(PODS, ns))["items"]:
            with contextlib.suppress(errors.NotFound):
                await api.delete(PODS, p["metadata"]["name"], ns, grace_period_seconds=0)
        for n in names:
            for c in docker_client.containers.list(
                    all=True, filters={"label": ["io.kubelite.managed=true", f"io.kubelite.node.name={n}"]}):
                with contextlib.suppress(Exception):
                    c.remove(force=True)
            with contextlib.suppress(errors.NotFound):
                await api.delete(LEASES, n, "kube-node-lease")
            with contextlib.suppress(errors.NotFound):
                await api.delete(NODES, n)
