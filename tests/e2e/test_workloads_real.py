"""Issue 6's acceptance with REAL kubelets and containers: three kubelets (three node names on the one Docker
engine), one scheduler and one controller-manager running every controller, all real processes.

- A 5-replica Deployment of busybox httpd with an httpGet readiness probe: a deleted pod is replaced, a
  container killed with `docker kill` is restarted and Ready again; an image-tag update rolls within
  maxSurge 1 / maxUnavailable 1 (pods sampled every 200 ms), the real `kubectl rollout status` exits 0 and
  `kubectl rollout undo` brings back the old template.
- A kubelet killed with SIGKILL: its Node goes Ready=Unknown with the unreachable taint within the grace
  period, its pods (tolerating the taint for 5 s) are recreated on the two other nodes, and the kubelet
  restarted under the same name makes the node Ready and untainted and removes the evicted pods' containers.
- `kubectl delete deployment` cascades in the background to ReplicaSets, pods and containers;
  `--cascade=orphan` leaves the ReplicaSet and pods running, without an owner.
- A Job (completions 3, parallelism 2) completes with real containers; a DaemonSet runs one pod on each
  node; a StatefulSet with a volumeClaimTemplate comes up web-0, web-1, web-2 in order and a file web-1
  wrote into its volume survives web-1's deletion; a CronJob every minute runs a Job to completion.
- `kill -9` of the controller-manager after the first new pod of a rollout: a new one finishes the
  rollout with exactly `replicas` pods of the new template, no extra pod, no ReplicaSet beyond history.

The nodes carry a label and a NoSchedule taint of this run: every pod here selects the label and tolerates
the taint, so nodes other test modules left in the shared etcd never get these pods, and these nodes never
get theirs; the scheduler still chooses among the three. The hollow-node modules (test_deployment,
test_daemonset_statefulset, test_jobs, test_controllers) cover the controllers' finer logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cli import supervise
from kube import errors, timeutil
from kube.client import ApiClient
from kube.resources import (
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
)
from tests.e2e.test_kubectl import kubectl_binary
from tests.e2e.waiting import eventually
from tests.support.secured import Apiserver

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]

GRACE = 8  # --node-monitor-grace-period of the controller-manager
TOLERATION = 5  # tolerationSeconds of the node-failure Deployment's pods
POOL = "kubelite.test/workloads"  # node label and taint key; the value is the run id
HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
UNREACHABLE = "node.kubernetes.io/unreachable"
KUBELET_FLAGS = ("--node-ip", "127.0.0.1", "--port", "0", "--heartbeat-interval", "1",
                 "--node-status-interval", "2", "--sync-interval", "1", "--backoff-initial", "1",
                 "--backoff-max", "4")
SAMPLE_EVERY = 0.2
MAX_SAMPLES = 900  # 180 s of sampling at most: every loop here is bounded
WEB = ("mkdir -p /www && echo $HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www")
SLEEPER = "trap 'exit 0' TERM; sleep 3600 & wait"


# ---------------------------------------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """Three kubelets, a scheduler and a controller-manager, started once for the module, each with the
    credentials of its own identity."""

    server: Apiserver
    run_id: str
    logs: Path
    root: Path
    docker: docker.DockerClient
    kubeconfig: Path
    nodes: list[str]
    kubelets: dict[str, supervise.Daemon] = field(default_factory=dict)
    others: list[supervise.Daemon] = field(default_factory=list)
    manager: supervise.Daemon | None = None
    namespaces: list[str] = field(default_factory=list)
    volume_paths: set[str] = field(default_factory=set)
    _starts: int = 0

    @property
    def tag(self) -> str:
        """A second tag of the local busybox image: the "new image" of a rolling update."""
        return f"busybox:wl-{self.run_id}"

    def _start(self, module: str, *args: str) -> supervise.Daemon:
        self._starts += 1
        return supervise.start(f"wl-{module}-{self._starts}-{self.run_id}",
                               self.server.daemon_argv(module, *args), self.logs)

    def start_kubelet(self, node: str) -> supervise.Daemon:
        daemon = self._start("kubelet", "--node-name", node, "--root-dir", str(self.root), *KUBELET_FLAGS)
        self.kubelets[node] = daemon
        supervise.wait_for(lambda: supervise.node_ready(self.server.credentials(), node), 60, f"node {node} Ready",
                           daemon)
        return daemon

    def start_manager(self) -> supervise.Daemon:
        self.manager = self._start("controllers", "--leader-elect", "false",
                                   "--node-monitor-grace-period", str(GRACE))
        return self.manager

    def containers(self, *labels: str, all_states: bool = False) -> list[Any]:
        return self.docker.containers.list(all=all_states, filters={"label": ["io.kubelite.managed=true", *labels]})

    def app_containers(self, namespace: str) -> list[Any]:
        """Running app containers (not sandboxes) of one namespace's pods on this module's nodes."""
        return [c for c in self.containers(f"io.kubelite.pod.namespace={namespace}",
                                           "io.kubelite.container.type=container")
                if c.labels.get("io.kubelite.node.name") in self.nodes]


def kill_9(daemon: supervise.Daemon) -> None:
    os.kill(daemon.pid, signal.SIGKILL)
    supervise.wait_for(lambda: not supervise.running(daemon), 10, f"{daemon.name} to die")


def _unmount_under(root: Path) -> None:
    """Unmount what the kubelets mounted below `root` (tmpfs volumes of pods), so the directory can go."""
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted(points, reverse=True):
        if point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture(scope="module")
def cluster(apiserver: Apiserver, run_id: str, workdir: Path, docker_client: docker.DockerClient,
            kubeconfig: Path) -> Iterator[Cluster]:
    nodes = [f"wl-{x}-{run_id}" for x in "abc"]
    c = Cluster(apiserver, run_id, workdir / "logs", workdir / "wl-kubelet-root", docker_client, kubeconfig,
                nodes)
    http = apiserver.http(timeout=10)
    docker_client.images.get("busybox:latest").tag("busybox", f"wl-{run_id}")
    try:
        for node in nodes:
            c.start_kubelet(node)
            resp = http.patch(f"/api/v1/nodes/{node}", headers={"Content-Type": "application/merge-patch+json"},
                              json={"metadata": {"labels": {POOL: run_id}},
                                    "spec": {"taints": [{"key": POOL, "value": run_id, "effect": "NoSchedule"}]}})
            assert resp.status_code == 200, resp.text
        c.others.append(c._start("scheduler", "--leader-elect", "false"))
        c.start_manager()
        yield c
    finally:
        # Namespaces go while the controllers and kubelets still run, so pods stop the way they should.
        deadline = time.monotonic() + 60
        for ns in c.namespaces:
            with contextlib.suppress(httpx.HTTPError):
                http.delete(f"/api/v1/namespaces/{ns}")
        while c.namespaces and time.monotonic() < deadline:
            if all(http.get(f"/api/v1/namespaces/{ns}").status_code == 404 for ns in c.namespaces):
                break
            time.sleep(0.5)
        for daemon in [*([c.manager] if c.manager else []), *c.others, *c.kubelets.values()]:
            supervise.stop(daemon)
        for container in c.containers(all_states=True):
            if container.labels.get("io.kubelite.node.name") in nodes:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)
        for ns in c.namespaces:  # what the namespace controller did not get to
            for pod in http.get(f"/api/v1/namespaces/{ns}/pods").json().get("items") or []:
                path = f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}"
                http.patch(path, headers={"Content-Type": "application/merge-patch+json"},
                           json={"metadata": {"finalizers": None}})  # a Job's tracking finalizer
                http.request("DELETE", path, json={"gracePeriodSeconds": 0})
        for pv in http.get("/api/v1/persistentvolumes").json().get("items") or []:
            if ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") in c.namespaces:
                http.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
        for path in c.volume_paths:
            shutil.rmtree(path, ignore_errors=True)
        for node in nodes:
            http.delete(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")
            http.delete(f"/api/v1/nodes/{node}")
        _unmount_under(c.root)
        shutil.rmtree(c.root, ignore_errors=True)
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(c.tag)
        http.close()


@pytest.fixture
async def ns(api: ApiClient, cluster: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A namespace per test, deleted at its end (the module waits for them all before stopping the daemons)."""
    name = f"wl{len(cluster.namespaces)}-{cluster.run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": name}})
    cluster.namespaces.append(name)
    yield name
    with contextlib.suppress(errors.ApiError):
        await api.delete(NAMESPACES, name)


@pytest.fixture
def kubectl(cluster: Cluster, tmp_path: Path) -> Callable[..., Awaitable[subprocess.CompletedProcess]]:
    """The real kubectl, run in a thread so the test's samplers keep going while it waits."""
    binary = kubectl_binary()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}

    async def run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = await asyncio.to_thread(subprocess.run, [binary, "--cache-dir", str(tmp_path / "cache"), *args],
                                       capture_output=True, text=True, env=env, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


# ---------------------------------------------------------------------------------------------- helpers


def confined(spec: Obj, run_id: str) -> Obj:
    """A pod spec kept to this module's three nodes (their label, their taint), quick to stop."""
    return {"nodeSelector": {POOL: run_id},
            "tolerations": [{"key": POOL, "operator": "Equal", "value": run_id, "effect": "NoSchedule"},
                            *spec.pop("tolerations", [])],
            "terminationGracePeriodSeconds": 1, **spec}


def web_deployment(name: str, run_id: str, replicas: int, *, surge: int = 1, unavailable: int = 1,
                   **spec: Any) -> Obj:
    """busybox httpd on port 8080 with an httpGet readiness probe (Ready one to two seconds after start)."""
    container = {"name": "web", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                 "command": ["sh", "-c", WEB],
                 "env": [{"name": "VERSION", "value": "1"}], "ports": [{"containerPort": 8080, "name": "http"}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 1,
                                    "periodSeconds": 1, "timeoutSeconds": 2, "failureThreshold": 3}}
    tolerations = spec.pop("tolerations", [])
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": confined({"containers": [container], "tolerations": tolerations},
                                                   run_id)},
                     **spec}}


def sleeper(**extra: Any) -> Obj:
    return {"name": "main", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", SLEEPER], **extra}


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def live(pods: list[Obj]) -> list[Obj]:
    """Pods not terminating and not finished: what a controller counts."""
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


async def pods_of(api: ApiClient, ns: str, app: str) -> list[Obj]:
    return (await api.list(PODS, ns, label_selector=f"app={app}"))["items"]


async def ready_pods(api: ApiClient, ns: str, app: str, count: int) -> list[Obj] | None:
    """Exactly `count` live pods of `app`, all Ready (else None)."""
    pods = live(await pods_of(api, ns, app))
    return pods if len(pods) == count and all(is_ready(p) for p in pods) else None


async def replica_sets(api: ApiClient, ns: str, app: str) -> list[Obj]:
    items = (await api.list(REPLICASETS, ns, label_selector=f"app={app}"))["items"]
    return sorted(items, key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))


def restarts(pod: Obj) -> int:
    return sum(s.get("restartCount", 0) for s in (pod.get("status") or {}).get("containerStatuses") or [])


class Sampler:
    """Every 200 ms (bounded), the live pods of one app: the most at once, the fewest Ready, the hashes seen."""

    def __init__(self, api: ApiClient, ns: str, app: str) -> None:
        self.api, self.ns, self.app = api, ns, app
        self.samples, self.max_live, self.min_ready = 0, 0, 1 << 30
        self.worst: list[tuple[int, int, list[str]]] = []  # (live, ready, hashes) at the extremes
        self.hashes: set[str] = set()
        self.mixed = 0  # samples holding pods of two templates at once: the rollout was seen midway
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        for _ in range(MAX_SAMPLES):
            pods = live(await pods_of(self.api, self.ns, self.app))
            ready = sum(1 for p in pods if is_ready(p))
            hashes = sorted(p["metadata"]["labels"].get(HASH, "") for p in pods)
            self.samples += 1
            if len(pods) > self.max_live or ready < self.min_ready:
                self.worst.append((len(pods), ready, hashes))
            self.max_live, self.min_ready = max(self.max_live, len(pods)), min(self.min_ready, ready)
            self.hashes.update(hashes)
            self.mixed += len(set(hashes)) > 1
            await asyncio.sleep(SAMPLE_EVERY)

    def start(self) -> Sampler:
        self._task = asyncio.create_task(self._loop())
        return self

    async def stop(self) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # a sampler that crashed says why
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def uids_gone(cluster: Cluster, uids: set[str]) -> Callable[[], Awaitable[bool]]:
    """A check: no container (running or not) of these pod uids is left on the engine."""

    async def check() -> bool:
        return not [c for uid in uids for c in cluster.containers(f"io.kubelite.pod.uid={uid}", all_states=True)]

    return check


async def engine_runs(cluster: Cluster, ns: str, images: set[str], count: int) -> list[str] | None:
    """The namespace's running app containers: `count` of them, of exactly these images."""
    seen = sorted(c.attrs["Config"]["Image"] for c in cluster.app_containers(ns))
    return seen if len(seen) == count and set(seen) == images else None


# ---------------------------------------------------------------------------------------------- 1. Deployment


async def test_deployment_self_heals_rolls_within_bounds_and_undoes(api: ApiClient, cluster: Cluster, ns: str,
                                                                    kubectl) -> None:
    await api.create(DEPLOYMENTS, web_deployment("web", cluster.run_id, 5), ns)
    out = await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s", timeout=100)
    assert 'deployment "web" successfully rolled out' in out.stdout
    pods = await eventually(lambda: ready_pods(api, ns, "web", 5), 20, "5 Ready pods")
    assert {p["spec"]["nodeName"] for p in pods} <= set(cluster.nodes)
    assert len({p["spec"]["nodeName"] for p in pods}) >= 2  # the scheduler spread them over the nodes
    running = cluster.app_containers(ns)
    assert sorted(c.labels["io.kubelite.pod.uid"] for c in running) == sorted(p["metadata"]["uid"] for p in pods)
    old_hash = pods[0]["metadata"]["labels"][HASH]

    # A deleted pod is replaced by a new one.
    victim = pods[0]["metadata"]["name"]
    await kubectl("delete", "pod", victim, "-n", ns, "--wait=false")

    async def replaced() -> list[Obj] | None:
        now = await ready_pods(api, ns, "web", 5)
        return now if now and victim not in {p["metadata"]["name"] for p in now} else None

    pods = await eventually(replaced, 40, "the deleted pod replaced, 5 Ready")

    # A container killed under the kubelet is restarted, and its pod is Ready again.
    target = pods[1]
    (container,) = cluster.containers(f"io.kubelite.pod.uid={target['metadata']['uid']}",
                                      "io.kubelite.container.name=web")
    container.kill()

    async def restarted() -> Obj | None:
        pod = await api.get(PODS, target["metadata"]["name"], ns)
        fresh = cluster.containers(f"io.kubelite.pod.uid={target['metadata']['uid']}",
                                   "io.kubelite.container.name=web")
        return pod if restarts(pod) >= 1 and is_ready(pod) and fresh and fresh[0].id != container.id else None

    await eventually(restarted, 40, "the killed container restarted and its pod Ready")
    await eventually(lambda: ready_pods(api, ns, "web", 5), 20, "5 Ready pods again")

    # A new image tag: a rolling update within maxSurge 1 / maxUnavailable 1, sampled every 200 ms.
    sampler = Sampler(api, ns, "web").start()
    await kubectl("set", "image", "deployment/web", f"web={cluster.tag}", "-n", ns)
    out = await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=120s", timeout=130)
    await sampler.stop()
    assert 'deployment "web" successfully rolled out' in out.stdout
    assert sampler.samples > 10, sampler.samples
    assert sampler.max_live <= 5 + 1, f"{sampler.max_live} live pods at once (maxSurge 1): {sampler.worst}"
    assert sampler.min_ready >= 5 - 1, f"{sampler.min_ready} Ready pods at one point (maxUnavailable 1): " \
                                       f"{sampler.worst}"
    pods = await eventually(lambda: ready_pods(api, ns, "web", 5), 20, "5 Ready pods of the new image")
    new_hash = pods[0]["metadata"]["labels"][HASH]
    assert new_hash != old_hash and sampler.hashes == {old_hash, new_hash} and sampler.mixed >= 3
    assert {p["metadata"]["labels"][HASH] for p in pods} == {new_hash}
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {cluster.tag}
    # What the engine runs, not only what the API says (old containers go with their terminating pods).
    await eventually(lambda: engine_runs(cluster, ns, {cluster.tag}, 5), 20, f"5 containers of {cluster.tag}")
    old, new = await replica_sets(api, ns, "web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 5)

    # `rollout undo` returns to the first template (its ReplicaSet, now revision 3), again within bounds.
    sampler = Sampler(api, ns, "web").start()
    await kubectl("rollout", "undo", "deployment/web", "-n", ns)
    out = await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=120s", timeout=130)
    await sampler.stop()
    assert 'deployment "web" successfully rolled out' in out.stdout
    assert sampler.max_live <= 6 and sampler.min_ready >= 4 and sampler.mixed >= 3, sampler.worst
    pods = await eventually(lambda: ready_pods(api, ns, "web", 5), 20, "5 Ready pods of the old template")
    assert {p["metadata"]["labels"][HASH] for p in pods} == {old_hash}
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"busybox:latest"}
    await eventually(lambda: engine_runs(cluster, ns, {"busybox:latest"}, 5), 20, "5 containers of busybox:latest")
    rss = await replica_sets(api, ns, "web")
    assert [(rs["metadata"]["labels"][HASH], rs["spec"]["replicas"]) for rs in rss] == [(new_hash, 0), (old_hash, 5)]
    assert rss[-1]["metadata"]["annotations"][REVISION] == "3"


# ---------------------------------------------------------------------------------------------- 2. node failure


async def test_dead_kubelet_node_goes_unknown_pods_move_and_it_comes_back(api: ApiClient, cluster: Cluster,
                                                                          ns: str) -> None:
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": TOLERATION}
                   for key in (UNREACHABLE, "node.kubernetes.io/not-ready")]
    await api.create(DEPLOYMENTS, web_deployment("mover", cluster.run_id, 6, tolerations=tolerations), ns)
    pods = await eventually(lambda: ready_pods(api, ns, "mover", 6), 60, "6 Ready pods")
    by_node: dict[str, list[Obj]] = {}
    for p in pods:
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    victim = max(by_node, key=lambda n: len(by_node[n]))
    stranded = {p["metadata"]["uid"]: p["metadata"]["name"] for p in by_node[victim]}

    kill_9(cluster.kubelets[victim])
    killed_at = time.monotonic()
    try:
        await _node_fails_and_pods_move(api, cluster, ns, victim, stranded, killed_at)
    finally:
        if not supervise.running(cluster.kubelets[victim]):
            cluster.start_kubelet(victim)  # same node name, same root directory

    async def back() -> bool:
        node = await api.get(NODES, victim)
        keys = [t["key"] for t in (node.get("spec") or {}).get("taints") or []]
        return supervise.node_ready(cluster.server.credentials(), victim) and UNREACHABLE not in keys and POOL in keys

    await eventually(back, 30, "the node Ready and untainted")

    async def stranded_gone() -> bool:
        uids = {p["metadata"]["uid"] for p in await pods_of(api, ns, "mover")}
        return not uids & set(stranded)

    await eventually(stranded_gone, 30, f"the evicted pods {sorted(stranded.values())} removed by their kubelet")
    await eventually(uids_gone(cluster, set(stranded)), 30, "no container of the evicted pods")
    assert await ready_pods(api, ns, "mover", 6)


async def _node_fails_and_pods_move(api: ApiClient, cluster: Cluster, ns: str, victim: str,
                                    stranded: dict[str, str], killed_at: float) -> None:
    survivors = [n for n in cluster.nodes if n != victim]

    async def unknown_and_tainted() -> Obj | None:
        node = await api.get(NODES, victim)
        ready = next((c for c in node["status"]["conditions"] if c["type"] == "Ready"), {})
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t["key"] == UNREACHABLE]
        return node if ready.get("status") == "Unknown" and taints else None

    node = await eventually(unknown_and_tainted, GRACE + 15, "the node Ready=Unknown with the unreachable taint",
                            interval=0.2)
    tainted_after = time.monotonic() - killed_at
    # The kubelet's last heartbeat was at most a second before the kill; the node controller looks every 5 s.
    assert GRACE - 2 <= tainted_after <= GRACE + 8, tainted_after
    (taint,) = [t for t in node["spec"]["taints"] if t["key"] == UNREACHABLE]
    assert taint["effect"] == "NoExecute"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    tainted_seen = time.monotonic()

    async def evicted() -> list[str] | None:
        items = {p["metadata"]["uid"]: p for p in await pods_of(api, ns, "mover")}
        marks = [items[uid]["metadata"].get("deletionTimestamp") for uid in stranded if uid in items]
        return marks if len(marks) == len(stranded) and all(marks) else None

    marks = await eventually(evicted, TOLERATION + 10, "the stranded pods evicted (Terminating)", interval=0.2)
    assert time.monotonic() - tainted_seen <= TOLERATION + 7
    added = timeutil.parse(taint["timeAdded"])
    held = [(timeutil.parse(m) - added).total_seconds() for m in marks]
    assert all(h >= TOLERATION for h in held), held  # kept for their tolerationSeconds (+ the 1 s grace)

    async def moved() -> list[Obj] | None:
        now = await ready_pods(api, ns, "mover", 6)
        return now if now and all(p["spec"]["nodeName"] in survivors for p in now) else None

    pods = await eventually(moved, 40, "6 Ready pods on the two other nodes")
    assert not {p["metadata"]["uid"] for p in pods} & set(stranded)
    # The dead kubelet's containers still run: nothing on the node could stop them.
    left = [c for uid in stranded for c in cluster.containers(f"io.kubelite.pod.uid={uid}",
                                                              "io.kubelite.container.name=web")]
    assert len(left) == len(stranded)
    cluster.start_kubelet(victim)  # same node name, same root directory


# ---------------------------------------------------------------------------------------------- 3. cascading delete


async def test_delete_cascades_in_background_and_orphan_keeps_replica_sets_and_pods(
        api: ApiClient, cluster: Cluster, ns: str, kubectl) -> None:
    for name in ("gone", "kept"):
        await api.create(DEPLOYMENTS, web_deployment(name, cluster.run_id, 2), ns)
    gone = await eventually(lambda: ready_pods(api, ns, "gone", 2), 60, "2 Ready pods of 'gone'")
    kept = await eventually(lambda: ready_pods(api, ns, "kept", 2), 60, "2 Ready pods of 'kept'")
    gone_uids = {p["metadata"]["uid"] for p in gone}
    assert len(await replica_sets(api, ns, "gone")) == 1

    out = await kubectl("delete", "deployment", "gone", "-n", ns)
    assert 'deployment.apps "gone" deleted' in out.stdout

    async def collected() -> bool:
        return not await replica_sets(api, ns, "gone") and not await pods_of(api, ns, "gone")

    await eventually(collected, 30, "the ReplicaSet and pods of 'gone' collected")
    await eventually(uids_gone(cluster, gone_uids), 30, "the containers of 'gone' removed")

    deployment = await api.get(DEPLOYMENTS, "kept", ns)
    (rs,) = await replica_sets(api, ns, "kept")
    out = await kubectl("delete", "deployment", "kept", "-n", ns, "--cascade=orphan")
    assert 'deployment.apps "kept" deleted' in out.stdout

    async def orphaned() -> Obj | None:
        current = await api.get(REPLICASETS, rs["metadata"]["name"], ns)
        refs = current["metadata"].get("ownerReferences") or []
        return current if not any(r["uid"] == deployment["metadata"]["uid"] for r in refs) else None

    await eventually(orphaned, 20, "the ReplicaSet released by the deleted Deployment")
    with pytest.raises(errors.NotFound):
        await api.get(DEPLOYMENTS, "kept", ns)
    await asyncio.sleep(3)  # time for a wrong cascade to show
    current = await api.get(REPLICASETS, rs["metadata"]["name"], ns)
    assert current["metadata"]["uid"] == rs["metadata"]["uid"] and current["spec"]["replicas"] == 2
    assert not current["metadata"].get("deletionTimestamp")
    pods = await ready_pods(api, ns, "kept", 2)
    assert pods and {p["metadata"]["uid"] for p in pods} == {p["metadata"]["uid"] for p in kept}
    for p in pods:
        assert [r["uid"] for r in p["metadata"]["ownerReferences"]] == [rs["metadata"]["uid"]]
    running = {c.labels["io.kubelite.pod.uid"] for c in cluster.app_containers(ns)}
    assert running == {p["metadata"]["uid"] for p in kept}


# ---------------------------------------------------------------------------------------------- 4. batch and sets


async def test_job_daemonset_statefulset_and_cronjob_with_real_containers(api: ApiClient, cluster: Cluster, ns: str,
                                                                          kubectl) -> None:
    run_id = cluster.run_id
    started = time.monotonic()
    # The CronJob first: its minute comes while the rest runs.
    once = {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:latest",
                                                      "imagePullPolicy": "IfNotPresent",
                                                      "command": ["sh", "-c", "exit 0"]}]}
    await api.create(CRONJOBS, {"metadata": {"name": "tick"}, "spec": {
        "schedule": "* * * * *", "successfulJobsHistoryLimit": 1, "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "tick"}},
                                              "spec": confined(dict(once), run_id)}}}}}, ns)

    # Job: completions 3, parallelism 2, real containers that sleep a second and exit 0.
    job_spec = confined({"restartPolicy": "Never", "containers": [
        {"name": "main", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
         "command": ["sh", "-c", "sleep 1; exit 0"]}]}, run_id)
    await api.create(JOBS, {"metadata": {"name": "batch"}, "spec": {
        "completions": 3, "parallelism": 2, "backoffLimit": 0,
        "template": {"metadata": {"labels": {"app": "batch"}}, "spec": job_spec}}}, ns)
    most_running = 0

    async def complete() -> Obj | None:
        nonlocal most_running
        pods = live(await pods_of(api, ns, "batch"))
        most_running = max(most_running, len(pods))
        job = await api.get(JOBS, "batch", ns)
        conditions = (job.get("status") or {}).get("conditions") or []
        return job if any(c["type"] == "Complete" and c["status"] == "True" for c in conditions) else None

    job = await eventually(complete, 60, "the Job Complete", interval=SAMPLE_EVERY)
    assert job["status"]["succeeded"] == 3 and not job["status"].get("failed")
    assert most_running <= 2, most_running
    pods = await pods_of(api, ns, "batch")
    assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    for p in pods:
        (state,) = [s["state"]["terminated"] for s in p["status"]["containerStatuses"]]
        assert (state["exitCode"], state["reason"]) == (0, "Completed")
        assert state["containerID"].startswith("docker://")
        assert p["spec"]["nodeName"] in cluster.nodes

    # DaemonSet: exactly one Running pod on each of the three nodes.
    await api.create(DAEMONSETS, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": confined({"containers": [sleeper()]}, run_id)}}},
        ns)

    async def one_per_node() -> list[Obj] | None:
        pods = live(await pods_of(api, ns, "agent"))
        placed = sorted(p["spec"].get("nodeName") or "" for p in pods)
        running = all(p["status"].get("phase") == "Running" for p in pods)
        return pods if placed == sorted(cluster.nodes) and running else None

    await eventually(one_per_node, 40, "one Running agent pod per node")
    ds = await eventually(lambda: _status_is(api, DAEMONSETS, "agent", ns, numberReady=3), 20, "DaemonSet status")
    assert ds["status"]["desiredNumberScheduled"] == 3 and ds["status"]["currentNumberScheduled"] == 3
    per_node = sorted(c.labels["io.kubelite.node.name"] for c in cluster.app_containers(ns)
                      if c.labels["io.kubelite.pod.name"].startswith("agent-"))
    assert per_node == sorted(cluster.nodes)

    # StatefulSet: ordered start, a claim per ordinal from the default StorageClass, data that survives.
    await api.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
        "clusterIP": "None", "selector": {"app": "sts"}, "ports": [{"port": 80}]}}, ns)
    await api.create(STATEFULSETS, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
                                    "spec": {
        "serviceName": "web", "replicas": 3, "selector": {"matchLabels": {"app": "sts"}},
        "template": {"metadata": {"labels": {"app": "sts"}}, "spec": confined({"containers": [sleeper(
            volumeMounts=[{"name": "data", "mountPath": "/data"}],
            readinessProbe={"exec": {"command": ["test", "-d", "/data"]}, "periodSeconds": 1})]}, run_id)},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}]}}, ns)
    ready_at: dict[str, float] = {}
    out_of_order: list[str] = []

    async def all_ready() -> bool:
        pods = {p["metadata"]["name"]: p for p in live(await pods_of(api, ns, "sts"))}
        for ordinal in (1, 2):  # OrderedReady: web-N exists only while web-(N-1) is Ready
            if f"web-{ordinal}" in pods and not is_ready(pods.get(f"web-{ordinal - 1}", {})):
                out_of_order.append(f"web-{ordinal} before web-{ordinal - 1} was Ready")
        for name, pod in pods.items():
            if is_ready(pod):
                ready_at.setdefault(name, time.monotonic())
        return len(ready_at) == 3 and all(is_ready(p) for p in pods.values()) and len(pods) == 3

    await eventually(all_ready, 90, "web-0, web-1, web-2 Ready", interval=SAMPLE_EVERY)
    assert not out_of_order, out_of_order
    assert sorted(ready_at, key=ready_at.__getitem__) == ["web-0", "web-1", "web-2"]
    claims = {c["metadata"]["name"]: c for c in (await api.list(PERSISTENTVOLUMECLAIMS, ns))["items"]}
    assert sorted(claims) == ["data-web-0", "data-web-1", "data-web-2"]
    assert all(c["status"]["phase"] == "Bound" and c["spec"]["storageClassName"] == "local-path"
               for c in claims.values())
    volume = await api.get(PERSISTENTVOLUMES, claims["data-web-1"]["spec"]["volumeName"])
    host_dir = Path(volume["spec"]["hostPath"]["path"])
    for claim in claims.values():
        cluster.volume_paths.add((await api.get(PERSISTENTVOLUMES, claim["spec"]["volumeName"]))["spec"]["hostPath"][
            "path"])
    web1 = await api.get(PODS, "web-1", ns)
    affinity = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert affinity["values"] == [web1["spec"]["nodeName"]]

    await kubectl("exec", "web-1", "-n", ns, "--", "sh", "-c", f"echo hello-{run_id} > /data/f")
    assert (host_dir / "f").read_text() == f"hello-{run_id}\n"  # the claim's directory on the host
    await kubectl("delete", "pod", "web-1", "-n", ns)

    async def recreated() -> Obj | None:
        pod = next((p for p in live(await pods_of(api, ns, "sts")) if p["metadata"]["name"] == "web-1"), None)
        return pod if pod and pod["metadata"]["uid"] != web1["metadata"]["uid"] and is_ready(pod) else None

    again = await eventually(recreated, 40, "web-1 recreated and Ready")
    assert again["spec"]["nodeName"] == web1["spec"]["nodeName"]  # where its volume is
    out = await kubectl("exec", "web-1", "-n", ns, "--", "cat", "/data/f")
    assert out.stdout == f"hello-{run_id}\n"
    kept = await api.get(PERSISTENTVOLUMECLAIMS, "data-web-1", ns)
    assert kept["metadata"]["uid"] == claims["data-web-1"]["metadata"]["uid"]

    # The CronJob's run: a Job it owns, completed by a real container, recorded in its status.
    async def cron_ran() -> Obj | None:
        cron = await api.get(CRONJOBS, "tick", ns)
        return cron if (cron.get("status") or {}).get("lastSuccessfulTime") else None

    cron = await eventually(cron_ran, max(5.0, 75 - (time.monotonic() - started)), "a successful CronJob run")
    jobs = [j for j in (await api.list(JOBS, ns))["items"] if j["metadata"]["name"].startswith("tick-")]
    assert 1 <= len(jobs) <= 2 and jobs[0]["metadata"]["ownerReferences"][0]["uid"] == cron["metadata"]["uid"]
    runs = [p for p in await pods_of(api, ns, "tick") if p["status"].get("phase") == "Succeeded"]
    assert runs and runs[0]["spec"]["nodeName"] in cluster.nodes


async def _status_is(api: ApiClient, rt: Any, name: str, ns: str, **wanted: Any) -> Obj | None:
    obj = await api.get(rt, name, ns)
    status = obj.get("status") or {}
    return obj if all(status.get(k) == v for k, v in wanted.items()) else None


# ---------------------------------------------------------------------------------------------- 5. crash mid-rollout


async def test_controller_manager_killed_mid_rollout_finishes_without_leaks(api: ApiClient, cluster: Cluster,
                                                                           ns: str, kubectl) -> None:
    replicas, history = 4, 1
    await api.create(DEPLOYMENTS, web_deployment("roll", cluster.run_id, replicas, surge=1, unavailable=0,
                                                 revisionHistoryLimit=history), ns)
    first = await eventually(lambda: ready_pods(api, ns, "roll", replicas), 60, f"{replicas} Ready pods")
    old_hash = first[0]["metadata"]["labels"][HASH]
    # One completed update first, so the history limit has something to prune.
    await kubectl("set", "env", "deployment/roll", "VERSION=2", "-n", ns)
    await kubectl("rollout", "status", "deployment/roll", "-n", ns, "--timeout=90s", timeout=100)

    sampler = Sampler(api, ns, "roll").start()
    await kubectl("set", "env", "deployment/roll", "VERSION=3", "-n", ns)
    d = await api.get(DEPLOYMENTS, "roll", ns)

    async def first_new_pod() -> bool:
        hashes = {p["metadata"]["labels"].get(HASH) for p in live(await pods_of(api, ns, "roll"))}
        return len(hashes) > 1

    await eventually(first_new_pod, 20, "the first pod of the new template", interval=0.1)
    assert cluster.manager is not None
    kill_9(cluster.manager)
    await asyncio.sleep(1.0)
    cluster.start_manager()

    out = await kubectl("rollout", "status", "deployment/roll", "-n", ns, "--timeout=90s", timeout=100)
    assert 'deployment "roll" successfully rolled out' in out.stdout
    await asyncio.sleep(2.0)  # a leaked create or a late duplicate would show by now
    await sampler.stop()
    assert sampler.max_live <= replicas + 1, f"{sampler.max_live} live pods at once: {sampler.worst}"
    assert sampler.min_ready >= replicas, f"{sampler.min_ready} Ready pods at one point: {sampler.worst}"

    pods = await eventually(lambda: ready_pods(api, ns, "roll", replicas), 20, f"{replicas} Ready pods")
    rss = await replica_sets(api, ns, "roll")
    newest = rss[-1]
    new_hash = newest["metadata"]["labels"][HASH]
    assert newest["metadata"]["annotations"][REVISION] == "3" == (await api.get(DEPLOYMENTS, "roll", ns))[
        "metadata"]["annotations"][REVISION]
    assert {p["metadata"]["labels"][HASH] for p in pods} == {new_hash} and new_hash != old_hash
    assert all(p["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "3"}] for p in pods)
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "3"}]
    assert len(rss) == 1 + history, [rs["metadata"]["name"] for rs in rss]  # the first template's set pruned
    assert old_hash not in {rs["metadata"]["labels"][HASH] for rs in rss}
    assert [rs["spec"]["replicas"] for rs in rss] == [0, replicas]
    every = await pods_of(api, ns, "roll")

    async def only_new_left() -> bool:
        return len(await pods_of(api, ns, "roll")) == replicas and len(cluster.app_containers(ns)) == replicas

    await eventually(only_new_left, 30, f"only {replicas} pods and containers left (saw {len(every)} pods)")
    assert {c.labels["io.kubelite.pod.uid"] for c in cluster.app_containers(ns)} == {
        p["metadata"]["uid"] for p in pods}
