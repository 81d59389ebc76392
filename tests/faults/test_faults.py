"""Faults on a real `klite up` cluster, each test ending with a check that nothing was lost, doubled or left behind.

* etcd frozen for ~20 s, then killed (the supervisor restarts it): writes in the outage answer a 503/504 Status and
  none is half-applied; the apiserver's /readyz goes red (`[-]etcd failed`) then green; the scheduler and the
  controller-manager, which lose their leases and exit, are restarted by the supervisor and lead again; a
  `kubectl scale` right after the recovery converges.
* `kill -9` of each daemon in turn, at a random moment of a rolling update: the supervisor restarts it (its restart
  count goes up) and the Deployment converges to exactly its replicas, all of the newest template, each pod with
  one running sandbox and one running app container, and no container of a pod that does not exist.

Every wait is bounded; names carry the run's suffix and live in one namespace of a cluster of the suite's own.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import docker
import httpx
import pytest

from tests.faults.conftest import NODE_LABEL, Bounds, Cluster

pytestmark = pytest.mark.e2e

POD_UID = "io.kubelite.pod.uid"
CONTAINER_TYPE = "io.kubelite.container.type"
CONVERGE_SECONDS = 150.0  # a restarted leader waits out the dead one's 15 s lease before it acts
LEADERS = ("scheduler", "controller-manager")
KILL_ORDER = ("etcd", "apiserver", "scheduler", "controller-manager", "kubelet", "proxy", "dns")


def wait_until(check: Callable[[], str | None], timeout: float, what: str, interval: float = 0.5) -> None:
    """Poll `check` (None: done; else why not yet) for `timeout` seconds; fail with the last reason."""
    deadline = time.monotonic() + timeout
    reason: str | None = "never checked"
    while time.monotonic() < deadline:
        try:
            reason = check()
        except (httpx.HTTPError, OSError, ValueError, KeyError, docker.errors.APIError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        if reason is None:
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}: {reason}")


def deployment(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "app", "image": "busybox:latest",
                                         "command": ["sh", "-c", "exec sleep 3600"],
                                         "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]}}}}


def not_converged(cluster: Cluster, docker_client: docker.DockerClient, namespace: str, name: str,
                  replicas: int) -> str | None:
    """None when the Deployment is done and the node runs exactly its pods; else what is still off."""
    selector = {"labelSelector": f"app={name}"}
    with cluster.http() as http:
        answers = [http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
                   http.get(f"/apis/apps/v1/namespaces/{namespace}/replicasets", params=selector),
                   http.get(f"/api/v1/namespaces/{namespace}/pods", params=selector)]
    for answer in answers:
        if answer.status_code != 200:
            return f"{answer.request.url.path}: {answer.status_code} {answer.text[:200]}"
    dep, sets, pods = (answer.json() for answer in answers)
    status = dep.get("status") or {}
    if status.get("observedGeneration", 0) < dep["metadata"]["generation"]:
        return f"deployment generation {dep['metadata']['generation']} not observed ({status})"
    for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        if status.get(field, 0) != replicas:
            return f"deployment status {field}={status.get(field)} (want {replicas})"
    newest = max(sets["items"], key=lambda rs: int(
        (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")))
    template_hash = newest["metadata"]["labels"]["pod-template-hash"]
    items = pods["items"]
    if len(items) != replicas:
        return f"{len(items)} pods (want {replicas}): {[p['metadata']['name'] for p in items]}"
    for pod in items:
        meta, pod_status = pod["metadata"], pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            return f"pod {meta['name']} is terminating"
        if meta["labels"].get("pod-template-hash") != template_hash:
            return f"pod {meta['name']} is of an old template"
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod_status.get("conditions") or [])
        if pod_status.get("phase") != "Running" or not ready:
            return f"pod {meta['name']} is {pod_status.get('phase')}, ready={ready}"
    uids = {pod["metadata"]["uid"] for pod in items}
    containers = [c for c in docker_client.containers.list(
        all=True, filters={"label": [f"{NODE_LABEL}={cluster.node}", f"io.kubelite.pod.namespace={namespace}"]})
        if c.labels.get("io.kubelite.pod.name", "").startswith(f"{name}-")]
    for container in containers:
        if container.labels.get(POD_UID) not in uids:
            return f"container {container.name} belongs to no pod of the Deployment (orphan)"
    for uid in uids:
        running = [c for c in containers if c.labels.get(POD_UID) == uid and c.status == "running"]
        kinds = sorted(c.labels.get(CONTAINER_TYPE, "") for c in running)
        if kinds != ["container", "sandbox"]:
            return f"pod {uid} runs {kinds} (want one sandbox and one app container)"
    return None


def leading(cluster: Cluster, name: str) -> str | None:
    """None when the daemon is ready and leads (its /readyz and leader_election_master_status)."""
    url = cluster.spec()[name]["health"]
    ready = httpx.get(url, timeout=2)
    if ready.status_code != 200:
        return f"{name} /readyz {ready.status_code}: {ready.text.strip()}"
    metrics = httpx.get(url.rsplit("/", 1)[0] + "/metrics", timeout=2).text
    if "leader_election_master_status" not in metrics or not any(
            line.startswith("leader_election_master_status") and line.endswith(" 1") for line in metrics.splitlines()):
        return f"{name} does not lead yet"
    return None


@pytest.fixture(scope="module")
def namespace(cluster: Cluster, run_id: str) -> str:
    name = f"faults-{run_id}"
    with cluster.http() as http:
        made = http.post("/api/v1/namespaces", json={"metadata": {"name": name, "labels": {"kubelite-test": "faults"}}})
    assert made.status_code == 201, made.text
    return name


def test_etcd_outage_fails_writes_cleanly_reddens_readyz_and_everything_recovers(
        cluster: Cluster, namespace: str, bounds: Bounds, docker_client: docker.DockerClient) -> None:
    with cluster.http() as http:
        made = http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", json=deployment("web", namespace, 2))
    assert made.status_code == 201, made.text
    wait_until(lambda: not_converged(cluster, docker_client, namespace, "web", 2), CONVERGE_SECONDS, "2 replicas")
    before = cluster.daemons()
    etcd_pid = before["etcd"]["pid"]

    os.kill(etcd_pid, signal.SIGSTOP)  # etcd gone silent: connections stay open, nothing answers
    started, readyz, writes = time.monotonic(), [], {}
    try:
        with cluster.http(timeout=30) as http:
            while time.monotonic() - started < bounds.outage_seconds:
                time.sleep(2)
                readyz.append(http.get("/readyz", params={"verbose": "1"}))
                name = f"outage-{len(writes)}"
                writes[name] = http.post(f"/api/v1/namespaces/{namespace}/configmaps",
                                         json={"metadata": {"name": name}, "data": {"k": "v"}})
    finally:
        os.kill(etcd_pid, signal.SIGKILL)  # ... and then dead: the supervisor starts a new one on the same data

    assert writes, "no write was tried during the outage"
    for name, resp in writes.items():
        body = resp.json()
        assert resp.status_code in (503, 504), f"{name}: {resp.status_code} {resp.text}"
        assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == resp.status_code
    red = [r for r in readyz if r.status_code == 500]
    assert red, [(r.status_code, r.text) for r in readyz]
    assert "[-]etcd failed: reason withheld" in red[-1].text and red[-1].text.endswith("readyz check failed\n")

    def apiserver_ready() -> str | None:
        with cluster.http() as http:
            resp = http.get("/readyz", params={"verbose": "1"})
        return None if resp.status_code == 200 and resp.text.endswith("readyz check passed\n") else resp.text

    wait_until(apiserver_ready, 60, "the apiserver's /readyz to be green again")
    recovered = time.monotonic() - started
    with cluster.http() as http:  # a 503 changed nothing; a 504 may have, but then whole (etcd was frozen: neither)
        for name in writes:
            got = http.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
            assert got.status_code == 404, f"{name} was stored although its write failed: {got.text}"
    for name in LEADERS:
        wait_until(lambda name=name: leading(cluster, name), 90, f"{name} to lead again")
    after = cluster.daemons()
    assert after["etcd"]["restarts"] == before["etcd"]["restarts"] + 1 and after["etcd"]["last_exit"] == -9
    for name in LEADERS:  # each lost its lease (10 s renew deadline < the outage) and exited 1, or survived it
        assert after[name]["restarts"] > before[name]["restarts"] or after[name]["pid"] == before[name]["pid"]
    print(f"recovered {recovered:.1f}s after the outage began; restarts "
          f"{ {n: d['restarts'] for n, d in after.items()} }")
    status = cluster.klite("status", "--home", str(cluster.home))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "scheduler" in status.stdout and "leader" in status.stdout

    scaled = cluster.kubectl("scale", "deployment/web", "-n", namespace, "--replicas=4")
    assert scaled.returncode == 0, scaled.stderr
    wait_until(lambda: not_converged(cluster, docker_client, namespace, "web", 4), CONVERGE_SECONDS,
               "the scale after the outage to converge")
    with cluster.http() as http:
        http.delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")


@pytest.mark.parametrize("round_number", range(3), ids=lambda n: f"round{n}")
def test_kill_9_of_each_daemon_during_a_rolling_update_loses_and_doubles_nothing(
        cluster: Cluster, namespace: str, bounds: Bounds, docker_client: docker.DockerClient,
        round_number: int) -> None:
    if round_number >= bounds.rounds:
        pytest.skip(f"the CI variant runs {bounds.rounds} round(s); --faults-full runs 3")
    rng = random.Random(bounds.seed + round_number)
    name = f"roll{round_number}"
    with cluster.http() as http:
        made = http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments",
                         json=deployment(name, namespace, bounds.replicas))
    assert made.status_code == 201, made.text
    wait_until(lambda: not_converged(cluster, docker_client, namespace, name, bounds.replicas), CONVERGE_SECONDS,
               f"{bounds.replicas} replicas")
    for step, victim in enumerate(KILL_ORDER):
        before = cluster.daemons()[victim]
        with cluster.http(timeout=30) as http:  # a new template: a rolling update of every pod
            patched = http.patch(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                                 headers={"Content-Type": "application/merge-patch+json"},
                                 content=json.dumps({"spec": {"template": {"metadata": {
                                     "annotations": {"faults/step": f"{victim}-{step}"}}}}}))
        assert patched.status_code == 200, patched.text
        moment = rng.uniform(0.0, 3.0)
        time.sleep(moment)
        os.kill(before["pid"], signal.SIGKILL)

        def restarted(victim: str = victim, before: dict[str, Any] = before) -> str | None:
            now = cluster.daemons()[victim]
            if now["restarts"] <= before["restarts"] or not now["pid"] or now["pid"] == before["pid"]:
                return f"{victim} not restarted yet: {now}"
            return None

        wait_until(restarted, 30, f"the supervisor to restart {victim}")
        wait_until(lambda: not_converged(cluster, docker_client, namespace, name, bounds.replicas),
                   CONVERGE_SECONDS, f"the rollout to converge after kill -9 of {victim} at +{moment:.1f}s")
        print(f"kill -9 {victim} at +{moment:.1f}s: converged")
    with cluster.http() as http:
        http.delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
