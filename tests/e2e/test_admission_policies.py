"""LimitRanger, ResourceQuota and PodSecurity through the real apiserver (and the real kubectl): LimitRange
defaults on a created pod and its bounds refused; the pod over a quota refused with Kubernetes' message, the
quota's status kept by the resource-quota controller (usage given back after a deletion, dry runs charging
nothing); ten concurrent creates through two apiservers against a quota of three storing exactly three; a
`warn: restricted` namespace warning through kubectl and an `enforce: restricted` one refusing a privileged pod,
its workloads only warned about."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kube import errors
from kube.client import ApiClient
from kube.resources import NAMESPACES, PODS, by_plural
from tests.e2e.conftest import start_apiserver
from tests.e2e.test_kubectl import kubectl_binary
from tests.e2e.waiting import eventually
from tests.support.secured import TestPKI

pytestmark = pytest.mark.e2e

LIMITRANGES = by_plural("", "v1", "limitranges")
RESOURCEQUOTAS = by_plural("", "v1", "resourcequotas")
assert LIMITRANGES is not None and RESOURCEQUOTAS is not None
P = "pod-security.kubernetes.io/"


@pytest.fixture
async def namespace(api: ApiClient, run_id: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_").lower()).strip("-")
    name = f"adm-{slug[:20]}-{zlib.crc32(slug.encode()):08x}-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": name}})
    yield name
    with contextlib.suppress(errors.NotFound):
        await api.delete(NAMESPACES, name)


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([kubectl_binary(), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env=env, input=stdin, timeout=60)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    return run


def pod(name: str, resources: dict[str, Any] | None = None, **security: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "busybox", "command": ["sleep", "3600"]}
    if resources:
        container["resources"] = resources
    if security:
        container["securityContext"] = security
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


async def quota_computed(api: ApiClient, namespace: str, name: str, used: dict[str, str] | None = None) -> Any:
    async def check() -> Any:
        status = (await api.get(RESOURCEQUOTAS, name, namespace)).get("status") or {}
        if used is None:
            return status.get("used") is not None and status
        return status.get("used") == used and status
    return await eventually(check, timeout=30, what=f"quota {name} status.used {used or ''}")


# ---------------------------------------------------------------------- LimitRanger


async def test_limitrange_defaults_are_on_the_created_pod_and_its_bounds_refused(api: ApiClient,
                                                                                namespace: str) -> None:
    await api.create(LIMITRANGES, {"metadata": {"name": "limits"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "500m"}, "default": {"cpu": "300m", "memory": "128Mi"},
         "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}]}}, namespace)
    created = await api.create(PODS, pod("defaulted"), namespace)
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "300m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app")
    stored = await api.get(PODS, "defaulted", namespace)
    assert stored["spec"]["containers"][0]["resources"] == resources
    with pytest.raises(errors.Forbidden) as refused:
        await api.create(PODS, pod("greedy", {"limits": {"cpu": "1"}}), namespace)
    assert refused.value.message == ('pods "greedy" is forbidden: maximum cpu usage per Container is 500m, but limit '
                                     "is 1")


# ---------------------------------------------------------------------- ResourceQuota


async def test_the_pod_over_quota_is_refused_and_deletions_give_usage_back(
        api: ApiClient, namespace: str, daemons: Callable[..., Any], kubectl: Callable[..., Any]) -> None:
    daemons("controllers", "--leader-elect", "false", "--controllers", "resourcequota")
    await api.create(RESOURCEQUOTAS, {"metadata": {"name": "pods-quota"}, "spec": {"hard": {"pods": "2"}}}, namespace)
    assert (await quota_computed(api, namespace, "pods-quota", {"pods": "0"}))["hard"] == {"pods": "2"}
    await api.create(PODS, pod("p1"), namespace)
    await api.create(PODS, pod("dry"), namespace, params={"dryRun": "All"})  # checked, never charged
    await api.create(PODS, pod("p2"), namespace)
    assert (await api.get(RESOURCEQUOTAS, "pods-quota", namespace))["status"]["used"] == {"pods": "2"}
    refused = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod("p3")), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "p3" is forbidden: exceeded quota: '
        "pods-quota, requested: pods=1, used: pods=2, limited: pods=2")
    await api.delete(PODS, "p1", namespace, grace_period_seconds=0)
    await quota_computed(api, namespace, "pods-quota", {"pods": "1"})  # the controller gave it back
    await api.create(PODS, pod("p3"), namespace)


async def test_a_quota_on_limits_refuses_a_pod_without_them(api: ApiClient, namespace: str,
                                                            daemons: Callable[..., Any]) -> None:
    daemons("controllers", "--leader-elect", "false", "--controllers", "resourcequota")
    await api.create(RESOURCEQUOTAS, {"metadata": {"name": "compute"},
                                      "spec": {"hard": {"limits.cpu": "1", "requests.memory": "1Gi"}}}, namespace)
    await quota_computed(api, namespace, "compute")
    with pytest.raises(errors.Forbidden) as refused:
        await api.create(PODS, pod("bare", {"requests": {"memory": "64Mi"}}), namespace)
    assert refused.value.message == 'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app'
    await api.create(PODS, pod("sized", {"requests": {"memory": "512Mi"}, "limits": {"cpu": "600m",
                                                                                     "memory": "512Mi"}}), namespace)
    assert (await api.get(RESOURCEQUOTAS, "compute", namespace))["status"]["used"] == {
        "limits.cpu": "600m", "requests.memory": "512Mi"}
    with pytest.raises(errors.Forbidden, match=r"exceeded quota: compute, requested: limits.cpu=600m, "
                                               r"used: limits.cpu=600m, limited: limits.cpu=1$"):
        await api.create(PODS, pod("more", {"requests": {"memory": "64Mi"}, "limits": {"cpu": "600m"}}), namespace)


async def test_ten_concurrent_creates_through_two_apiservers_against_a_quota_of_three(
        api: ApiClient, namespace: str, daemons: Callable[..., Any], pki: TestPKI, etcd_url: str,
        workdir: Path) -> None:
    daemons("controllers", "--leader-elect", "false", "--controllers", "resourcequota")
    await api.create(RESOURCEQUOTAS, {"metadata": {"name": "three"}, "spec": {"hard": {"pods": "3"}}}, namespace)
    await quota_computed(api, namespace, "three", {"pods": "0"})
    other = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-quota-2")
    second = other.api()
    try:
        async def create(i: int) -> BaseException | None:
            client = api if i % 2 else second
            try:
                await client.create(PODS, pod(f"p{i}"), namespace)
            except errors.ApiError as exc:
                return exc
            return None

        results = await asyncio.gather(*(create(i) for i in range(10)))
    finally:
        await second.close()
        other.stop()
    assert sum(r is None for r in results) == 3, results
    for r in results:
        if r is not None:  # refused over the quota, or (a race lost three times) a conflict on the quota
            assert isinstance(r, errors.Forbidden | errors.Conflict), r
            if isinstance(r, errors.Forbidden):
                assert "exceeded quota: three, requested: pods=1, used: pods=3, limited: pods=3" in r.message
    assert len((await api.list(PODS, namespace))["items"]) == 3
    assert (await api.get(RESOURCEQUOTAS, "three", namespace))["status"]["used"] == {"pods": "3"}


# ---------------------------------------------------------------------- PodSecurity


async def test_kubectl_warns_in_a_warn_restricted_namespace(api: ApiClient, namespace: str,
                                                            kubectl: Callable[..., Any]) -> None:
    kubectl("label", "namespace", namespace, f"{P}warn=restricted")
    created = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod("plain")))
    assert "pod/plain created" in created.stdout
    assert created.stderr.strip() == (
        'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" '
        'must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must '
        'set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set '
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    await api.get(PODS, "plain", namespace)


async def test_enforce_restricted_refuses_a_privileged_pod_and_only_warns_about_workloads(
        api: ApiClient, namespace: str, kubectl: Callable[..., Any]) -> None:
    kubectl("label", "namespace", namespace, f"{P}enforce=restricted")
    compliant = pod("ok", allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})
    compliant["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": 1000,
                                            "seccompProfile": {"type": "RuntimeDefault"}}
    assert kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(compliant)).stderr == ""
    privileged = json.loads(json.dumps(compliant))
    privileged["metadata"]["name"] = "root"
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True
    refused = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(privileged), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "root" is forbidden: violates PodSecurity '
        '"restricted:latest": privileged (container "app" must not set securityContext.privileged=true)')
    with pytest.raises(errors.NotFound):
        await api.get(PODS, "root", namespace)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": privileged["spec"]}}}
    created = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(deployment))
    assert "deployment.apps/web created" in created.stdout
    assert created.stderr.strip() == (
        'Warning: would violate PodSecurity "restricted:latest": privileged (container "app" must not set '
        "securityContext.privileged=true)")
