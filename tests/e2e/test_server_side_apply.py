"""Server-side apply with the real kubectl: create, update, a conflict with a field `kubectl edit` changed,
`--force-conflicts` taking it over, managedFields naming both managers, and a field dropped from the
applied configuration removed from the object."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_kubectl import kubectl_binary

pytestmark = pytest.mark.e2e


def _deployment(replicas: int, labels: dict[str, str] | None = None) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ssa", "labels": labels or {"app": "ssa"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "ssa"}},
                 "template": {"metadata": {"labels": {"app": "ssa"}},
                              "spec": {"containers": [{"name": "main", "image": "busybox:latest"}]}}},
    })


def test_kubectl_apply_server_side(http: httpx.Client, kubeconfig: Path, tmp_path: Path, run_id: str) -> None:
    ns = f"ssa-{run_id}"
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201

    def kubectl(*args: str, stdin: str | None = None, check: bool = True,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([kubectl_binary(), "--cache-dir", str(tmp_path / "cache"), "-n", ns, *args],
                              capture_output=True, text=True, input=stdin, timeout=30,
                              env={**os.environ, "KUBECONFIG": str(kubeconfig), **(env or {})})
        assert not check or proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def get() -> dict:
        return http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ssa").json()

    try:
        created = kubectl("apply", "--server-side", "-f", "-", stdin=_deployment(2, {"app": "ssa", "tier": "x"}))
        assert "serverside-applied" in created.stdout
        managers = {e["manager"]: e for e in get()["metadata"]["managedFields"]}
        assert managers["kubectl"]["operation"] == "Apply"
        assert "f:replicas" in managers["kubectl"]["fieldsV1"]["f:spec"]

        kubectl("apply", "--server-side", "-f", "-", stdin=_deployment(3))  # update; the tier label dropped
        assert get()["spec"]["replicas"] == 3
        assert get()["metadata"]["labels"] == {"app": "ssa"}

        editor = tmp_path / "edit.sh"
        editor.write_text("#!/bin/sh\nsed -i 's/replicas: 3/replicas: 5/' \"$1\"\n")
        editor.chmod(0o755)
        kubectl("edit", "deployment", "ssa", env={"KUBE_EDITOR": str(editor)})
        assert get()["spec"]["replicas"] == 5
        owners = {e["manager"] for e in get()["metadata"]["managedFields"]}
        assert {"kubectl", "kubectl-edit"} <= owners

        conflict = kubectl("apply", "--server-side", "-f", "-", stdin=_deployment(4), check=False)
        assert conflict.returncode != 0
        assert 'conflict with "kubectl-edit"' in conflict.stderr and ".spec.replicas" in conflict.stderr
        assert get()["spec"]["replicas"] == 5

        kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=_deployment(4))
        after = get()
        assert after["spec"]["replicas"] == 4
        edit_entry = next((e for e in after["metadata"]["managedFields"] if e["manager"] == "kubectl-edit"), None)
        assert edit_entry is None or "f:replicas" not in edit_entry.get("fieldsV1", {}).get("f:spec", {})

        shown = kubectl("get", "deployment", "ssa", "-o", "yaml", "--show-managed-fields").stdout
        assert "managedFields:" in shown and "manager: kubectl" in shown
        assert "managedFields" not in kubectl("get", "deployment", "ssa", "-o", "yaml").stdout

        missing_manager = http.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/ssa", content=_deployment(1),
                                     headers={"Content-Type": "application/apply-patch+yaml"})
        assert missing_manager.status_code == 422
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}}
        codes = [http.patch(f"/api/v1/namespaces/{ns}/configmaps/applied", params={"fieldManager": "raw"},
                            content=json.dumps(config), headers={"Content-Type": "application/apply-patch+yaml"}
                            ).status_code for _ in range(2)]
        assert codes == [201, 200]  # created, then applied again, as Kubernetes answers
    finally:
        http.delete(f"/api/v1/namespaces/{ns}")
