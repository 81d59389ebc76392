"""The PodSpec rules shared by Pods and by the pod templates of workloads: defaults and validation."""

from __future__ import annotations

import re
from typing import Any

from apiserver import validation as v
from kube import errors, quantity
from kube.models import Container, PodSpec, Probe

__all__ = ["default_pod_spec", "validate_pod_spec"]

Obj = dict[str, Any]

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


def _default_probe(probe: Probe | None) -> None:
    if probe is None:
        return
    probe.timeout_seconds = probe.timeout_seconds or 1
    probe.period_seconds = probe.period_seconds or 10
    probe.success_threshold = probe.success_threshold or 1
    probe.failure_threshold = probe.failure_threshold or 3
    if probe.http_get is not None:
        probe.http_get.path = probe.http_get.path or "/"
        probe.http_get.scheme = probe.http_get.scheme or "HTTP"


def _default_container(c: Container) -> None:
    if c.image_pull_policy is None and c.image:
        tag = c.image.rsplit("/", 1)[-1]
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        c.image_pull_policy = "Always" if latest else "IfNotPresent"
    c.termination_message_path = c.termination_message_path or "/dev/termination-log"
    c.termination_message_policy = c.termination_message_policy or "File"
    for port in c.ports:
        port.protocol = port.protocol or "TCP"
    if c.resources is not None:
        for name, limit in c.resources.limits.items():
            c.resources.requests.setdefault(name, limit)  # requests default to limits, as in Kubernetes
    for probe in (c.liveness_probe, c.readiness_probe, c.startup_probe):
        _default_probe(probe)


def default_pod_spec(spec: PodSpec) -> None:
    """Server-side defaults of a PodSpec, the same in a Pod and in a workload's template."""
    spec.restart_policy = spec.restart_policy or "Always"
    spec.dns_policy = spec.dns_policy or "ClusterFirst"
    spec.scheduler_name = spec.scheduler_name or "default-scheduler"
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = 30
    if spec.enable_service_links is None:
        spec.enable_service_links = True
    if spec.service_account and not spec.service_account_name:
        spec.service_account_name = spec.service_account
    for c in [*spec.init_containers, *spec.containers]:
        _default_container(c)


def validate_pod_spec(spec: Obj, path: str) -> list[errors.Cause]:
    """Semantic checks of a PodSpec found at `path` (`spec` for a Pod, `spec.template.spec` in a workload)."""
    causes: list[errors.Cause] = []
    if spec.get("restartPolicy") not in RESTART_POLICIES:
        causes.append(v.not_supported(f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES))
    if spec.get("dnsPolicy") not in DNS_POLICIES:
        causes.append(v.not_supported(f"{path}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES))
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        causes.append(v.invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be >= 0"))
    volumes = spec.get("volumes") or []
    volume_names: set[str] = set()
    for i, vol in enumerate(volumes):
        f = f"{path}.volumes[{i}].name"
        causes += v.dns1123_label(vol["name"], f)
        if vol["name"] in volume_names:
            causes.append(v.duplicate(f, vol["name"]))
        volume_names.add(vol["name"])
    if not spec.get("containers"):
        causes.append(v.required(f"{path}.containers"))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            causes += _validate_container(c, f"{path}.{group}[{i}]", names, volume_names)
    for key, value in (spec.get("nodeSelector") or {}).items():
        causes += v.label_key(key, f"{path}.nodeSelector")
        causes += v.label_value(value, f"{path}.nodeSelector.{key}")
    for i, t in enumerate(spec.get("tolerations") or []):
        op = t.get("operator", "Equal")
        if op not in ("Equal", "Exists"):
            causes.append(v.not_supported(f"{path}.tolerations[{i}].operator", op, ["Equal", "Exists"]))
        elif op == "Exists" and t.get("value"):
            causes.append(v.invalid(f"{path}.tolerations[{i}].operator", t.get("value"),
                                    "value must be empty when `operator` is 'Exists'"))
        effect = t.get("effect")
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(v.not_supported(f"{path}.tolerations[{i}].effect", effect,
                                          ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return causes


def _validate_container(c: Obj, path: str, names: set[str], volumes: set[str]) -> list[errors.Cause]:
    causes = v.dns1123_label(c["name"], f"{path}.name")
    if c["name"] in names:
        causes.append(v.duplicate(f"{path}.name", c["name"]))
    names.add(c["name"])
    if not c.get("image"):
        causes.append(v.required(f"{path}.image"))
    if c.get("imagePullPolicy") and c["imagePullPolicy"] not in PULL_POLICIES:
        causes.append(v.not_supported(f"{path}.imagePullPolicy", c["imagePullPolicy"], PULL_POLICIES))
    port_names: set[str] = set()
    for i, port in enumerate(c.get("ports") or []):
        p = f"{path}.ports[{i}]"
        if not 1 <= port["containerPort"] <= 65535:
            causes.append(v.invalid(f"{p}.containerPort", port["containerPort"],
                                    "must be between 1 and 65535, inclusive"))
        if port.get("hostPort") is not None and not 1 <= port["hostPort"] <= 65535:
            causes.append(v.invalid(f"{p}.hostPort", port["hostPort"], "must be between 1 and 65535, inclusive"))
        if port.get("protocol") not in PROTOCOLS:
            causes.append(v.not_supported(f"{p}.protocol", port.get("protocol"), PROTOCOLS))
        if port.get("name"):
            if not _IANA_SVC_NAME.match(port["name"]) or not any(ch.isalpha() for ch in port["name"]):
                causes.append(v.invalid(f"{p}.name", port["name"], "must be no more than 15 characters, "
                                        "contain only lowercase letters, digits and '-', and contain a letter"))
            if port["name"] in port_names:
                causes.append(v.duplicate(f"{p}.name", port["name"]))
            port_names.add(port["name"])
    for i, env in enumerate(c.get("env") or []):
        if not env["name"]:
            causes.append(v.required(f"{path}.env[{i}].name"))
    for i, mount in enumerate(c.get("volumeMounts") or []):
        if mount["name"] not in volumes:
            causes.append({"reason": "FieldValueNotFound", "field": f"{path}.volumeMounts[{i}].name",
                           "message": f'Not found: "{mount["name"]}"'})
        if not mount.get("mountPath"):
            causes.append(v.required(f"{path}.volumeMounts[{i}].mountPath"))
    resources = c.get("resources") or {}
    for name, req in (resources.get("requests") or {}).items():
        limit = (resources.get("limits") or {}).get(name)
        if quantity.parse(req) < 0:
            causes.append(v.invalid(f"{path}.resources.requests[{name}]", req,
                                    "must be greater than or equal to 0"))
        if limit is not None and quantity.parse(req) > quantity.parse(limit):
            causes.append(v.invalid(f"{path}.resources.requests", req,
                                    f"must be less than or equal to {name} limit of {limit}"))
    return causes
