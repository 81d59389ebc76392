"""The REAL kubectl's `create <generator>` commands against a kubelite apiserver.

kubectl sends these objects as `application/vnd.kubernetes.protobuf` (and never retries as JSON), so each test
checks both that the request really went out as protobuf (kubectl -v=8 prints the request headers) and that the
stored object, read back with `kubectl get -o json`, carries every field the command line gave.

One namespace per run, deleted at the end together with the cluster-scoped objects the tests made.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_kubectl import kubectl_binary

pytestmark = pytest.mark.e2e

PROTOBUF = "Content-Type: application/vnd.kubernetes.protobuf"
Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = kubectl_binary()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    cache = tmp_path_factory.mktemp("kubectl-cache")

    def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, "--cache-dir", str(cache), *args], capture_output=True, text=True, env=env,
                              timeout=timeout)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
        return proc

    return run


@pytest.fixture(scope="module")
def cluster_scoped(kubectl: Kubectl) -> Iterator[list[str]]:
    """Cluster-scoped objects (`kind/name`) a test made; deleted when the module ends."""
    made: list[str] = []
    yield made
    for ref in made:
        kubectl("delete", ref, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, run_id: str) -> Iterator[str]:
    ns = f"kcc-{run_id}-{time.time_ns() % 100000}"
    kubectl("create", "namespace", ns)
    yield ns
    kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false", check=False)


def create(kubectl: Kubectl, *args: str) -> None:
    """`kubectl create ...`, asserting it succeeded and sent its object as protobuf."""
    proc = kubectl("-v=8", "create", *args)  # before the args: a command after `--` takes the rest
    assert " created" in proc.stdout, proc.stdout
    assert PROTOBUF in proc.stderr, f"kubectl did not send protobuf for create {' '.join(args)}"


def get(kubectl: Kubectl, ref: str, namespace: str | None = None) -> dict[str, Any]:
    args = ["get", ref, "-o", "json"] + (["-n", namespace] if namespace else [])
    return json.loads(kubectl(*args).stdout)


def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    [only] = pod_spec["containers"]
    return only


def test_create_cronjob_keeps_schedule_template_and_command(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "cronjob", "nightly", "-n", namespace, "--image=busybox:latest", "--schedule=*/5 * * * *",
           "--restart=Never", "--", "echo", "hi")
    cronjob = get(kubectl, "cronjob/nightly", namespace)
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    template = cronjob["spec"]["jobTemplate"]
    assert template["metadata"]["name"] == "nightly"
    assert template["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    main = container(template["spec"]["template"]["spec"])
    assert (main["name"], main["image"], main["command"]) == ("nightly", "busybox:latest", ["echo", "hi"])


def test_create_job_keeps_image_and_command(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "job", "once", "-n", namespace, "--image=busybox:latest", "--", "sh", "-c", "exit 0")
    job = get(kubectl, "job/once", namespace)
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    assert (container(pod_spec)["image"], container(pod_spec)["command"]) == ("busybox:latest",
                                                                             ["sh", "-c", "exit 0"])


def test_create_job_from_a_cronjob_keeps_owner_annotation_and_template(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "cronjob", "source", "-n", namespace, "--image=busybox:latest", "--schedule=@hourly",
           "--", "date")
    cronjob = get(kubectl, "cronjob/source", namespace)
    create(kubectl, "job", "manual-run", "-n", namespace, "--from=cronjob/source")
    job = get(kubectl, "job/manual-run", namespace)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    [owner] = job["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "batch/v1", "kind": "CronJob", "name": "source",
                     "uid": cronjob["metadata"]["uid"], "controller": True}
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "OnFailure"
    assert (container(pod_spec)["image"], container(pod_spec)["command"]) == ("busybox:latest", ["date"])


def test_create_serviceaccount(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "serviceaccount", "robot", "-n", namespace)
    account = get(kubectl, "serviceaccount/robot", namespace)
    assert (account["kind"], account["metadata"]["name"], account["metadata"]["namespace"]) == (
        "ServiceAccount", "robot", namespace)


def test_create_quota_keeps_hard_limits_and_scopes(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "quota", "small", "-n", namespace, "--hard=cpu=1,memory=1G,pods=2", "--scopes=BestEffort")
    quota = get(kubectl, "resourcequota/small", namespace)
    assert quota["spec"]["hard"] == {"cpu": "1", "memory": "1G", "pods": "2"}
    assert quota["spec"]["scopes"] == ["BestEffort"]


def test_create_priorityclass_keeps_value_description_and_policy(kubectl: Kubectl, run_id: str,
                                                                 cluster_scoped: list[str]) -> None:
    high, zero = f"high-{run_id}", f"zero-{run_id}"
    cluster_scoped += [f"priorityclass/{high}", f"priorityclass/{zero}"]
    create(kubectl, "priorityclass", high, "--value=1000", "--description=for the important ones",
           "--preemption-policy=Never")
    created = get(kubectl, f"priorityclass/{high}")
    assert (created["value"], created["description"], created["preemptionPolicy"]) == (
        1000, "for the important ones", "Never")
    assert not created.get("globalDefault")
    create(kubectl, "priorityclass", zero, "--value=0")  # value is not omitempty: 0 must survive protobuf
    assert get(kubectl, f"priorityclass/{zero}")["value"] == 0


def test_create_role_keeps_verbs_groups_resources_and_names(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "role", "reader", "-n", namespace, "--verb=get,list", "--resource=pods",
           "--resource=deployments.apps", "--resource-name=web")
    role = get(kubectl, "role/reader", namespace)
    assert role["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"]},
        {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]},
    ]


def test_create_clusterrole_with_non_resource_urls_and_aggregation(kubectl: Kubectl, run_id: str,
                                                                   cluster_scoped: list[str]) -> None:
    logs, monitoring = f"logs-{run_id}", f"monitoring-{run_id}"
    cluster_scoped += [f"clusterrole/{logs}", f"clusterrole/{monitoring}"]
    create(kubectl, "clusterrole", logs, "--verb=get", "--non-resource-url=/logs/*")
    assert get(kubectl, f"clusterrole/{logs}")["rules"] == [{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}]
    create(kubectl, "clusterrole", monitoring, "--aggregation-rule=example.com/aggregate-to-monitoring=true")
    assert get(kubectl, f"clusterrole/{monitoring}")["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-monitoring": "true"}}]}


def test_create_rolebinding_keeps_role_ref_and_subjects(kubectl: Kubectl, namespace: str) -> None:
    create(kubectl, "rolebinding", "viewers", "-n", namespace, "--clusterrole=view", "--user=alice",
           "--group=auditors", f"--serviceaccount={namespace}:robot")
    binding = get(kubectl, "rolebinding/viewers", namespace)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert binding["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "auditors"},
        {"kind": "ServiceAccount", "name": "robot", "namespace": namespace},
    ]
    create(kubectl, "rolebinding", "local", "-n", namespace, "--role=reader", "--user=bob")
    assert get(kubectl, "rolebinding/local", namespace)["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}


def test_create_clusterrolebinding_keeps_role_ref_and_subjects(kubectl: Kubectl, run_id: str, namespace: str,
                                                               cluster_scoped: list[str]) -> None:
    name = f"devs-view-{run_id}"
    cluster_scoped.append(f"clusterrolebinding/{name}")
    create(kubectl, "clusterrolebinding", name, "--clusterrole=view", "--group=devs",
           f"--serviceaccount={namespace}:robot")
    binding = get(kubectl, f"clusterrolebinding/{name}")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert binding["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                                   {"kind": "ServiceAccount", "name": "robot", "namespace": namespace}]
