"""`klite` as a user runs it (a real subprocess, `python -m cli`) against a real apiserver on a real etcd:
apply (create/unchanged/configured, removed fields, stdin, folders, bad documents, 422 causes), get (table, wide,
yaml, json, name, -l, -A, TYPE/NAME, -w), describe (a pod with its events, a node), delete (name, -f, -l, wait,
timeout, force), and the error messages and exit codes for NotFound, unknown types and unreachable servers.
Pods need no kubelet here: they stay Pending (or Terminating once bound), which is all these commands need.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml

from cli import supervise
from kube import errors, resources, timeutil
from kube.client import ApiClient
from kube.client import kubeconfig as kubeconfig_module

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
Klite = Callable[..., subprocess.CompletedProcess]


def command(kubeconfig: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli", "--kubeconfig", str(kubeconfig), *args]


@pytest.fixture
def klite(kubeconfig: Path) -> Klite:
    def run(*args: str, stdin: str | None = None, code: int | None = 0, timeout: float = 60,
            config: Path | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(command(config or kubeconfig, *args), capture_output=True, text=True, input=stdin,
                              timeout=timeout, cwd=REPO)
        if code is not None:
            assert proc.returncode == code, f"klite {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    return run


@pytest.fixture
async def namespace(api: ApiClient, run_id: str) -> AsyncIterator[str]:
    """A fresh namespace; its pods and itself are removed at the end."""
    name = f"cli-{run_id}-{time.time_ns() % 100000}"
    await api.create(resources.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    for pod in (await api.list(resources.PODS, name)).get("items") or []:
        with contextlib.suppress(errors.NotFound):
            await api.delete(resources.PODS, pod["metadata"]["name"], name, grace_period_seconds=0)
    with contextlib.suppress(errors.ApiError):
        await api.delete(resources.NAMESPACES, name)


def pod_manifest(name: str, labels: dict | None = None, annotations: dict | None = None,
                 namespace: str | None = None) -> dict:
    meta: dict = {"name": name, "labels": labels if labels is not None else {"app": name}}
    if annotations:
        meta["annotations"] = annotations
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]}}


async def test_apply_create_unchanged_configured_removes_dropped_fields_keeps_others(
        klite: Klite, api: ApiClient, namespace: str, tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(json.dumps(pod_manifest("web", {"app": "web", "tier": "front"}, {"note": "v1"})))
    assert klite("apply", "-n", namespace, "-f", str(path)).stdout.strip() == "pod/web created"
    assert klite("apply", "-n", namespace, "-f", str(path)).stdout.strip() == "pod/web unchanged"

    # someone else labels the pod: apply must keep that label
    await api.patch(resources.PODS, "web", {"metadata": {"labels": {"owner": "ops"}}}, namespace)
    path.write_text(json.dumps(pod_manifest("web", {"app": "web"}, {"note": "v2"})))
    assert klite("apply", "-n", namespace, "-f", str(path)).stdout.strip() == "pod/web configured"
    live = await api.get(resources.PODS, "web", namespace)
    assert live["metadata"]["labels"] == {"app": "web", "owner": "ops"}  # tier removed, owner kept
    assert live["metadata"]["annotations"]["note"] == "v2"
    applied = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["metadata"]["labels"] == {"app": "web"}
    assert klite("apply", "-n", namespace, "-f", str(path)).stdout.strip() == "pod/web unchanged"


async def test_apply_from_stdin_folder_multi_document_and_list(klite: Klite, api: ApiClient, namespace: str,
                                                               tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text("\n---\n".join(json.dumps(pod_manifest(n)) for n in ("a1", "a2")))
    (folder / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                               "items": [pod_manifest("b1"), pod_manifest("b2")]}))
    (folder / "README.md").write_text("not a manifest")
    out = klite("apply", "-n", namespace, "-f", str(folder)).stdout.splitlines()
    assert out == ["pod/a1 created", "pod/a2 created", "pod/b1 created", "pod/b2 created"]
    out = klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("piped"))).stdout
    assert out.strip() == "pod/piped created"
    names = {p["metadata"]["name"] for p in (await api.list(resources.PODS, namespace))["items"]}
    assert names == {"a1", "a2", "b1", "b2", "piped"}


async def test_apply_reports_bad_documents_and_goes_on(klite: Klite, api: ApiClient, namespace: str,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n---\n"
                    + json.dumps(pod_manifest("good")))
    proc = klite("apply", "-n", namespace, "-f", str(path), code=1)
    assert proc.stdout.strip() == "pod/good created"
    assert f'kind "Gadget" in version "example.com/v1" in "{path}"' in proc.stderr

    bad = pod_manifest("bad")
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": 99999}]
    bad["spec"]["containers"].append({"name": "main"})
    proc = klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(bad), code=1)
    assert proc.stderr.startswith('The Pod "bad" is invalid: \n')  # kubectl's wording, one line per cause
    assert "* spec.containers[0].ports[0].containerPort:" in proc.stderr
    assert "* spec.containers[1].name:" in proc.stderr
    with pytest.raises(errors.NotFound):
        await api.get(resources.PODS, "bad", namespace)

    other = json.dumps(pod_manifest("elsewhere", namespace="some-other-ns"))
    proc = klite("apply", "-n", namespace, "-f", "-", stdin=other, code=1)
    assert "does not match the namespace" in proc.stderr


async def test_get_outputs_selectors_and_all_namespaces(klite: Klite, namespace: str, run_id: str,
                                                        api: ApiClient) -> None:
    manifests = [pod_manifest("front", {"tier": "front"}), pod_manifest("back", {"tier": "back"})]
    klite("apply", "-n", namespace, "-f", "-", stdin="\n".join(json.dumps(m) for m in manifests))

    table = klite("get", "pods", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [line.split()[:3] for line in table[1:]] == [["back", "0/1", "Pending"], ["front", "0/1", "Pending"]]
    wide = klite("get", "po", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["IP", "NODE"]

    as_yaml = klite("get", "pod", "front", "-n", namespace, "-o", "yaml").stdout
    assert "kind: Pod" in as_yaml and "name: front" in as_yaml
    listed = json.loads(klite("get", "pods", "-n", namespace, "-o", "json").stdout)
    assert listed["kind"] == "List" and {i["kind"] for i in listed["items"]} == {"Pod"}
    assert klite("get", "pods", "-n", namespace, "-o", "name").stdout.split() == ["pod/back", "pod/front"]
    assert klite("get", "pod/front", "-n", namespace, "-o", "name").stdout.strip() == "pod/front"
    assert klite("get", "pods", "-n", namespace, "-l", "tier=front", "-o", "name").stdout.strip() == "pod/front"
    selected = klite("get", "pods", "-n", namespace, "--field-selector", "metadata.name=back", "-o", "name")
    assert selected.stdout.strip() == "pod/back"

    everywhere = klite("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [namespace, "front"] in [line.split()[:2] for line in everywhere]

    empty = klite("get", "pods", "-n", namespace, "-l", "tier=nothing")
    assert empty.stdout == "" and empty.stderr.strip() == f"No resources found in {namespace} namespace."
    missing = klite("get", "pod", "nope", "-n", namespace, code=1)
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    unknown = klite("get", "gizmos", code=1)
    assert unknown.stderr.strip() == 'error: the server doesn\'t have a resource type "gizmos"'
    assert namespace in klite("get", "namespaces").stdout


async def test_get_watch_prints_changes(kubeconfig: Path, klite: Klite, namespace: str) -> None:
    klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("first")))
    watcher = subprocess.Popen(command(kubeconfig, "get", "pods", "-n", namespace, "-w"), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)
        klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("second")))
        time.sleep(1.5)
    finally:
        watcher.terminate()
        out, err = watcher.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0].split()[0] == "NAME" and lines[1].split()[0] == "first"
    assert any(line.split()[0] == "second" for line in lines[2:]), out + err
    assert sum(1 for line in lines if line.startswith("NAME")) == 1


async def test_describe_pod_shows_details_and_events(klite: Klite, api: ApiClient, namespace: str) -> None:
    klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("described", {"app": "d"},
                                                                             {"note": "hello"})))
    pod = await api.get(resources.PODS, "described", namespace)
    now = timeutil.now()
    await api.create(resources.EVENTS, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "described.1", "namespace": namespace},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "described", "namespace": namespace,
                           "uid": pod["metadata"]["uid"]},
        "reason": "FailedScheduling", "message": "0/0 nodes are available", "type": "Warning",
        "source": {"component": "default-scheduler"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }, namespace)
    page = klite("describe", "pod", "described", "-n", namespace).stdout
    lines = page.splitlines()
    assert lines[0].split() == ["Name:", "described"]
    assert lines[1].split() == ["Namespace:", namespace]
    assert "app=d" in page and "note: hello" in page and "last-applied" not in page
    assert "Image:" in page and "busybox:latest" in page
    assert "Status:" in page and "Pending" in page
    events = page.split("Events:")[1].splitlines()
    assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[3].split()[:2] == ["Warning", "FailedScheduling"]
    assert "default-scheduler" in events[3] and "0/0 nodes are available" in events[3]
    missing = klite("describe", "pod", "ghost", "-n", namespace, code=1)
    assert 'Error from server (NotFound): pods "ghost" not found' in missing.stderr


async def test_describe_node(klite: Klite, api: ApiClient, run_id: str) -> None:
    name = f"cli-node-{run_id}"
    await api.create(resources.NODES, {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    })
    try:
        await api.patch(resources.NODES, name, {"status": {
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}]}},
            subresource="status")
        page = klite("describe", "node", name).stdout
        for text in ("Name:", name, "Capacity:", "Allocatable:", "InternalIP:", "10.1.2.3", "KubeletReady",
                     "Non-terminated Pods:"):
            assert text in page, page
        assert klite("get", "nodes", name).stdout.splitlines()[1].split()[:2] == [name, "Ready"]
    finally:
        await api.delete(resources.NODES, name)


async def test_delete_by_name_file_and_selector(klite: Klite, api: ApiClient, namespace: str,
                                                tmp_path: Path) -> None:
    docs = [pod_manifest("d1"), pod_manifest("d2", {"group": "x"}), pod_manifest("d3", {"group": "x"}),
            pod_manifest("d4")]
    klite("apply", "-n", namespace, "-f", "-", stdin="\n".join(json.dumps(d) for d in docs))
    assert klite("delete", "pod", "d1", "-n", namespace).stdout.strip() == 'pod "d1" deleted'
    path = tmp_path / "d4.json"
    path.write_text(json.dumps(docs[3]))
    assert klite("delete", "-n", namespace, "-f", str(path)).stdout.strip() == 'pod "d4" deleted'
    out = klite("delete", "pods", "-n", namespace, "-l", "group=x").stdout.splitlines()
    assert out == ['pod "d2" deleted', 'pod "d3" deleted']
    assert (await api.list(resources.PODS, namespace))["items"] == []
    missing = klite("delete", "pod", "d1", "-n", namespace, code=1)
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "d1" not found'
    assert klite("delete", "pod", "d1", "-n", namespace, "--ignore-not-found").stderr == ""


async def test_delete_waits_for_a_terminating_pod_and_force_removes_it(klite: Klite, api: ApiClient,
                                                                       namespace: str, run_id: str) -> None:
    klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("bound")))
    await api.bind(namespace, "bound", f"absent-node-{run_id}")  # no kubelet will ever confirm the stop
    started = time.monotonic()
    proc = klite("delete", "pod", "bound", "-n", namespace, "--timeout", "2", code=1)
    assert time.monotonic() - started >= 2
    assert proc.stdout.strip() == 'pod "bound" deleted'
    assert "timed out waiting for the condition on pods/bound" in proc.stderr
    assert "Terminating" in klite("get", "pod", "bound", "-n", namespace).stdout
    proc = klite("delete", "pod", "bound", "-n", namespace, "--grace-period", "0", "--force")
    with pytest.raises(errors.NotFound):
        await api.get(resources.PODS, "bound", namespace)


def test_user_errors_are_one_line_without_traceback(klite: Klite, tmp_path: Path) -> None:
    proc = klite("get", "pods", code=1, config=tmp_path / "absent-kubeconfig")
    assert proc.stderr.startswith("error: no kubeconfig at")
    assert len(proc.stderr.strip().splitlines()) == 1

    dead = kubeconfig_module.merge_context("dead", f"https://127.0.0.1:{supervise.free_port()}", path=tmp_path / "dead")
    proc = klite("get", "pods", code=1, config=dead)
    assert proc.stderr.startswith("error: cannot reach the apiserver at")
    assert len(proc.stderr.strip().splitlines()) == 1

    proc = klite("apply", "-f", str(tmp_path / "nothing-here.yaml"), code=1)
    assert f'the path "{tmp_path / "nothing-here.yaml"}" does not exist' in proc.stderr


async def test_context_and_its_namespace_come_from_the_kubeconfig(klite: Klite, kubeconfig: Path,
                                                                  namespace: str, tmp_path: Path) -> None:
    klite("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod_manifest("ctx")))
    config = yaml.safe_load(kubeconfig.read_text())
    for entry in config["contexts"]:
        entry["context"]["namespace"] = namespace
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    # a second, unreachable context becomes current: --context picks the working one by name
    live_context = config["current-context"]
    kubeconfig_module.merge_context("elsewhere", f"https://127.0.0.1:{supervise.free_port()}", path=path)
    assert klite("get", "pods", code=1, config=path).stderr.startswith("error: cannot reach the apiserver")
    out = klite("--context", live_context, "get", "pods", "-o", "name", config=path).stdout
    assert out.strip() == "pod/ctx"  # the context's namespace, not "default"
    assert klite("get", "pods", "-o", "name", "--context", live_context, "-n", "default",
                 config=path).stdout.strip() != "pod/ctx"


def test_help_lists_the_verbs(klite: Klite) -> None:
    out = klite("--help").stdout
    for verb in ("apply", "get", "describe", "delete", "up", "down"):
        assert verb in out


async def test_concurrent_applies_of_one_pod_make_one_pod(kubeconfig: Path, api: ApiClient, namespace: str) -> None:
    """Racing applies: one creates, the others see it (configured/unchanged) or lose with a Conflict or
    AlreadyExists error; never a second object (so never a second container)."""
    body = json.dumps(pod_manifest("race"))
    procs = [subprocess.Popen(command(kubeconfig, "apply", "-n", namespace, "-f", "-"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(4)]
    outcomes = [p.communicate(body, timeout=60) for p in procs]
    created = [out for out, _ in outcomes if "pod/race created" in out]
    assert len(created) == 1, outcomes
    for proc, (out, err) in zip(procs, outcomes, strict=True):
        assert (proc.returncode == 0 and "pod/race" in out) or ("AlreadyExists" in err or "Conflict" in err), (out, err)
    pods = (await api.list(resources.PODS, namespace))["items"]
    assert [p["metadata"]["name"] for p in pods] == ["race"]
