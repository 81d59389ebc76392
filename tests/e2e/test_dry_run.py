"""Server-side dry run with the real kubectl: every write verb answers what it would store, and nothing
is stored, allocated or seen by a watcher (a watch from before the commands must see no event)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_kubectl import kubectl_binary
from tests.support.secured import Apiserver

pytestmark = pytest.mark.e2e

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "main", "image": "busybox:latest"}]}}},
}


def _kubectl(kubeconfig: Path, cache: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([kubectl_binary(), "--cache-dir", str(cache), *args], capture_output=True, text=True,
                          env={**os.environ, "KUBECONFIG": str(kubeconfig)}, input=stdin, timeout=30)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _events_since(http: httpx.Client, path: str, rv: str) -> list[dict[str, Any]]:
    """Every watch event after `rv` (the watch ends after a second)."""
    with http.stream("GET", path, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}) as resp:
        assert resp.status_code == 200
        return [json.loads(line) for line in resp.iter_lines() if line]


def test_kubectl_dry_run_server_changes_nothing(http: httpx.Client, kubeconfig: Path, tmp_path: Path,
                                                run_id: str) -> None:
    ns = f"dry-{run_id}"
    node = f"dry-node-{run_id}"
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    try:
        assert http.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=DEPLOYMENT).status_code == 201
        assert http.post("/api/v1/nodes", json={"metadata": {"name": node}}).status_code == 201
        watched = [f"/apis/apps/v1/namespaces/{ns}/deployments", f"/api/v1/namespaces/{ns}/configmaps",
                   f"/api/v1/namespaces/{ns}/services", "/api/v1/nodes"]
        start = {path: http.get(path).json()["metadata"]["resourceVersion"] for path in watched}
        before = http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()

        def k(*args: str, stdin: str | None = None) -> str:
            return _kubectl(kubeconfig, tmp_path / "cache", "-n", ns, *args, stdin=stdin)

        changed = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replicas": 5}}
        assert "(server dry run)" in k("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(changed))
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {"a": "1"}}
        assert "created (server dry run)" in k("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(config_map))
        assert "(server dry run)" in k("create", "deployment", "other", "--image=busybox:latest",
                                       "--dry-run=server")
        k("create", "configmap", "made", "--from-literal=a=b", "--dry-run=server")
        k("patch", "deployment", "web", "--dry-run=server", "-p", '{"spec":{"replicas":9}}')
        k("scale", "deployment", "web", "--replicas=7", "--dry-run=server")
        k("label", "deployment", "web", "tier=x", "--dry-run=server")
        k("delete", "deployment", "web", "--dry-run=server")
        k("cordon", node, "--dry-run=server")
        service = json.loads(k("create", "service", "nodeport", "np", "--tcp=80:80", "--dry-run=server",
                               "-o", "json"))

        assert http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json() == before
        for missing in (f"/apis/apps/v1/namespaces/{ns}/deployments/other", f"/api/v1/namespaces/{ns}/configmaps/new",
                        f"/api/v1/namespaces/{ns}/configmaps/made", f"/api/v1/namespaces/{ns}/services/np"):
            assert http.get(missing).status_code == 404, missing
        assert not http.get(f"/api/v1/nodes/{node}").json().get("spec", {}).get("unschedulable")
        time.sleep(0.3)  # let the watch cache see anything that (wrongly) happened
        for path, rv in start.items():
            events = [e for e in _events_since(http, path, rv) if e["type"] != "BOOKMARK"]
            assert events == [], f"{path} saw {events}"

        # The dry-run Service was given an IP and a port that were not taken: a real one can have them.
        ip, port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
        assert ip and port
        real = {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "clusterIP": ip,
                                                     "ports": [{"port": 80, "nodePort": port}]}}
        made = http.post(f"/api/v1/namespaces/{ns}/services", json=real)
        assert made.status_code == 201, made.text
    finally:
        http.delete(f"/api/v1/nodes/{node}")
        http.delete(f"/api/v1/namespaces/{ns}/services/np")
        http.delete(f"/api/v1/namespaces/{ns}")


def test_dry_run_answers_like_a_write_and_refuses_what_a_write_would(apiserver: Apiserver, run_id: str) -> None:
    with apiserver.http() as http:
        path = "/api/v1/namespaces/default/configmaps"
        made = http.post(path, params={"dryRun": "All"}, json={"metadata": {"name": f"d-{run_id}"}})
        assert made.status_code == 201
        meta = made.json()["metadata"]
        assert meta["uid"] and meta["creationTimestamp"] and "resourceVersion" not in meta
        bad = http.post(path, params={"dryRun": "Everything"}, json={"metadata": {"name": f"d-{run_id}"}})
        assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "dryRun"
        invalid = http.post(path, params={"dryRun": "All"}, json={"metadata": {"name": "Not_Valid"}})
        assert invalid.status_code == 422
        assert http.post(path, json={"metadata": {"name": f"d-{run_id}"}}).status_code == 201
        again = http.post(path, params={"dryRun": "All"}, json={"metadata": {"name": f"d-{run_id}"}})
        assert again.status_code == 409  # existence is checked for real
        stale = http.put(f"{path}/d-{run_id}", params={"dryRun": "All"},
                         json={"metadata": {"name": f"d-{run_id}", "resourceVersion": "1"}})
        assert stale.status_code == 409
        gone = http.request("DELETE", f"{path}/d-{run_id}", json={"dryRun": ["All"]})
        assert gone.status_code == 200
        assert http.get(f"{path}/d-{run_id}").status_code == 200
        http.delete(f"{path}/d-{run_id}")
