"""PodSecurity alone: the namespace labels' policy (defaults, versions, bad labels failing closed, warn following
enforce), the Pod Security Standards checks worded and ordered as pod-security-admission words them, enforce
refusing pods with 403, warn adding warnings, workloads warned about and never refused, insignificant pod
updates left alone, and namespace label changes (422 on bad labels, warnings about existing pods)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from apiserver.admission.chain import Attributes
from apiserver.admission.podsecurity import PodSecurity
from apiserver.admission.podsecuritypolicy import LevelVersion, check_pod, forbidden_detail, policy_from_labels
from kube import errors
from kube.resources import DEPLOYMENTS, NAMESPACES, PODS

Obj = dict[str, Any]
P = "pod-security.kubernetes.io/"

RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "app", "image": "busybox", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
}


def namespace(labels: dict[str, str], name: str = "a", rv: str = "3") -> Obj:
    return {"metadata": {"name": name, "resourceVersion": rv, "labels": labels}}


def pod(spec: Obj, name: str = "x", annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "a"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


def app(**security: Any) -> Obj:
    return {"containers": [{"name": "app", "image": "busybox", **({"securityContext": security} if security else {})}]}


def detail(level: str, spec: Obj, meta: Obj | None = None, minor: int = 10**6) -> str:
    return forbidden_detail(check_pod(LevelVersion(level, minor), meta or {}, spec))


def plugin(labels: dict[str, str]) -> PodSecurity:
    p = PodSecurity()
    p.observe(NAMESPACES, namespace(labels))
    return p


def run(p: PodSecurity, attrs: Attributes) -> list[str]:
    asyncio.run(p.validate(attrs))
    return attrs.warnings


# ---------------------------------------------------------------------- policies


def test_unlabelled_is_privileged_latest_and_warn_follows_a_stricter_enforce() -> None:
    policy, causes = policy_from_labels({})
    assert (str(policy.enforce), str(policy.warn), str(policy.audit), causes) == (
        "privileged:latest", "privileged:latest", "privileged:latest", [])
    policy, _ = policy_from_labels({f"{P}enforce": "baseline", f"{P}enforce-version": "v1.29"})
    assert str(policy.warn) == "baseline:v1.29"
    policy, _ = policy_from_labels({f"{P}enforce": "restricted", f"{P}warn": "baseline"})
    assert str(policy.warn) == "baseline:latest"  # an explicit warn level is kept


def test_bad_labels_fail_closed_with_their_causes() -> None:
    policy, causes = policy_from_labels({f"{P}enforce": "strict", f"{P}warn-version": "1.30"})
    assert policy.enforce.level == "restricted" and str(policy.warn) == "privileged:latest"
    assert [c["message"] for c in causes] == [
        'Invalid value: "strict": must be one of privileged, baseline, restricted',
        'Invalid value: "1.30": must be "latest" or "v1.x"']
    assert causes[0]["field"] == f"metadata.labels[{P}enforce]"


# ---------------------------------------------------------------------- checks


def test_a_root_privileged_host_pod_under_restricted_as_kubernetes_words_it() -> None:
    # the warning pod-security-admission prints for `oc debug node/...` (OpenShift's documentation)
    spec = {"hostNetwork": True, "hostPID": True, "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            "containers": [{"name": "container-00", "image": "x", "securityContext": {"privileged": True,
                                                                                       "runAsUser": 0}}]}
    assert detail("restricted", spec) == (
        'host namespaces (hostNetwork=true, hostPID=true), privileged (container "container-00" must not set '
        'securityContext.privileged=true), allowPrivilegeEscalation != false (container "container-00" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "container-00" must '
        'set securityContext.capabilities.drop=["ALL"]), restricted volume types (volume "host" uses restricted '
        'volume type "hostPath"), runAsNonRoot != true (pod or container "container-00" must set '
        'securityContext.runAsNonRoot=true), runAsUser=0 (container "container-00" must not set runAsUser=0), '
        'seccompProfile (pod or container "container-00" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")')
    assert detail("baseline", spec) == (
        'host namespaces (hostNetwork=true, hostPID=true), privileged (container "container-00" must not set '
        'securityContext.privileged=true), hostPath volumes (volume "host")')
    assert detail("privileged", spec) == ""


def test_a_compliant_pod_passes_restricted_and_a_plain_one_passes_baseline() -> None:
    assert detail("restricted", RESTRICTED_OK) == ""
    assert detail("baseline", app()) == ""


@pytest.mark.parametrize(("spec", "meta", "expected"), [
    ({**app(capabilities={"add": ["NET_ADMIN", "CHOWN", "SYS_TIME"]})}, None,
     'non-default capabilities (container "app" must not include "NET_ADMIN", "SYS_TIME" in '
     "securityContext.capabilities.add)"),
    ({"containers": [{"name": "web", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                 {"containerPort": 90, "hostPort": 10000}]}]}, None,
     'hostPort (container "web" uses hostPorts 10000, 8080)'),
    ({"containers": [{"name": "a", "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]}, None,
     'probe or lifecycle host (container "a" uses probe or lifecycle host "10.0.0.1")'),
    ({**app(procMount="Unmasked")}, None,
     'procMount (container "app" must not set securityContext.procMount to "Unmasked")'),
    ({"securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "root"}}, **app()}, None,
     'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)'),
    ({**app(seccompProfile={"type": "Unconfined"})}, None,
     'seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")'),
    ({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                      {"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}]}, **app()}, None,
     "forbidden sysctls (kernel.msgmax)"),
    ({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, **app()}, None,
     'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")'),
    (app(), {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
     'forbidden AppArmor profile (annotation must not set AppArmor profile type to '
     '"container.apparmor.security.beta.kubernetes.io/app="unconfined"")'),  # joinQuote does not escape
    ({**app(windowsOptions={"hostProcess": True})}, None,
     'hostProcess (container "app" must not set securityContext.windowsOptions.hostProcess=true)'),
], ids=["capabilities", "hostPorts", "probe-host", "procMount", "seLinux", "seccomp", "sysctls", "apparmor-field",
        "apparmor-annotation", "hostProcess"])
def test_baseline_checks(spec: Obj, meta: Obj | None, expected: str) -> None:
    assert detail("baseline", spec, meta) == expected


def test_restricted_checks_and_their_wording() -> None:
    base = RESTRICTED_OK["containers"][0]["securityContext"]
    two = {**RESTRICTED_OK, "containers": [
        {"name": "a", "securityContext": {**base, "runAsNonRoot": False}},
        {"name": "b", "securityContext": {**base, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE",
                                                                                          "NET_RAW"]}}}]}
    assert detail("restricted", two) == (
        'unrestricted capabilities (container "b" must not include "NET_RAW" in securityContext.capabilities.add), '
        'runAsNonRoot != true (container "a" must not set securityContext.runAsNonRoot=false)')
    volumes = {**RESTRICTED_OK, "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}},
                                            {"name": "h", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}]}
    assert detail("restricted", volumes) == (
        'restricted volume types (volumes "n", "h" use restricted volume types "hostPath", "nfs")')


def test_checks_follow_the_policy_version() -> None:
    rmem = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}]}, **app()}
    assert detail("baseline", rmem, minor=32) == ""
    assert detail("baseline", rmem, minor=31) == "forbidden sysctls (net.ipv4.tcp_rmem)"
    root = app(runAsUser=0)
    assert "runAsUser=0" not in detail("restricted", root, minor=22)  # runAsUser is checked from v1.23
    old_seccomp = pod(app(), annotations={"seccomp.security.alpha.kubernetes.io/pod": "unconfined"})
    assert detail("baseline", old_seccomp["spec"], old_seccomp["metadata"], minor=18) == (
        'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")')
    windows = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}, **app()}
    assert detail("restricted", windows) == ""  # no Linux-only checks for Windows pods since v1.25


# ---------------------------------------------------------------------- the plugin


def test_enforce_refuses_a_privileged_pod_with_kubernetes_message() -> None:
    p = plugin({f"{P}enforce": "restricted"})
    spec = {**RESTRICTED_OK, "containers": [{**RESTRICTED_OK["containers"][0], "securityContext": {
        **RESTRICTED_OK["containers"][0]["securityContext"], "privileged": True}}]}
    with pytest.raises(errors.Forbidden) as refused:
        run(p, Attributes("CREATE", PODS, "a", "x", pod(spec)))
    assert refused.value.message == ('pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged '
                                     '(container "app" must not set securityContext.privileged=true)')
    assert refused.value.code == 403
    assert run(p, Attributes("CREATE", PODS, "a", "x", pod(RESTRICTED_OK))) == []


def test_warn_warns_and_admits() -> None:
    p = plugin({f"{P}warn": "restricted", f"{P}warn-version": "v1.30", f"{P}enforce": "baseline"})
    warnings = run(p, Attributes("CREATE", PODS, "a", "x", pod(app())))
    assert warnings == ['would violate PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false (container '
                        '"app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
                        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true '
                        '(pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
                        'container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                        '"Localhost")']


def test_workloads_are_warned_about_and_never_refused() -> None:
    p = plugin({f"{P}enforce": "restricted"})
    deployment = {"metadata": {"name": "web", "namespace": "a"},
                  "spec": {"template": {"metadata": {}, "spec": app(privileged=True)}}}
    warnings = run(p, Attributes("CREATE", DEPLOYMENTS, "a", "web", deployment))
    assert len(warnings) == 1 and warnings[0].startswith('would violate PodSecurity "restricted:latest": privileged ')
    assert run(plugin({f"{P}audit": "restricted"}), Attributes("CREATE", DEPLOYMENTS, "a", "web", deployment)) == []


def test_pod_updates_that_change_nothing_checked_are_left_alone() -> None:
    p = plugin({f"{P}enforce": "restricted"})
    bad = pod(app(privileged=True))
    relabelled = {**bad, "metadata": {**bad["metadata"], "labels": {"x": "y"}}}
    assert run(p, Attributes("UPDATE", PODS, "a", "x", relabelled, bad)) == []
    assert run(p, Attributes("UPDATE", PODS, "a", "x", bad, bad, "status")) == []
    new_image = pod({"containers": [{**bad["spec"]["containers"][0], "image": "nginx"}]})
    with pytest.raises(errors.Forbidden):
        run(p, Attributes("UPDATE", PODS, "a", "x", new_image, bad))


@dataclass
class _Page:
    items: list[Obj]


class _Storage:
    def __init__(self, pods: list[Obj]) -> None:
        self.pods = pods

    @staticmethod
    def prefix(resource: str, namespace: str | None = None) -> str:
        return f"/registry/{resource}/{namespace}/"

    async def list(self, prefix: str) -> _Page:
        return _Page(self.pods if prefix == "/registry/pods/a/" else [])


class _Registry:
    def __init__(self, pods: list[Obj]) -> None:
        self.storage = _Storage(pods)


def test_namespace_labels_must_parse_and_tightening_warns_about_existing_pods() -> None:
    p = PodSecurity()
    with pytest.raises(errors.Invalid) as refused:
        run(p, Attributes("CREATE", NAMESPACES, None, "a", namespace({f"{P}enforce": "strict"})))
    assert refused.value.message == (f'Namespace "a" is invalid: metadata.labels[{P}enforce]: Invalid value: '
                                     '"strict": must be one of privileged, baseline, restricted')
    p._registry = _Registry([pod(app(privileged=True), name="b"), pod(app(privileged=True), name="a1"),
                             pod(app(), name="c")])  # type: ignore[assignment]
    warnings = run(p, Attributes("UPDATE", NAMESPACES, None, "a", namespace({f"{P}enforce": "baseline"}),
                                 namespace({})))
    assert warnings == ['existing pods in namespace "a" violate the new PodSecurity enforce level "baseline:latest"',
                        "a1 (and 1 other pod): privileged"]
    relaxed = run(p, Attributes("UPDATE", NAMESPACES, None, "a", namespace({f"{P}enforce": "baseline"}),
                                namespace({f"{P}enforce": "restricted"})))
    assert relaxed == []
