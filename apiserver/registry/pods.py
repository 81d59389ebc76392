"""Pods: defaulting, validation, immutability of the spec, graceful deletion."""

from __future__ import annotations

import re
from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors, quantity
from kube.models import Container, Pod, Probe

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


def qos_class(pod: Obj) -> str:
    containers = pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])
    requests_any = limits_all = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests_any = requests_any or bool(req) or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim[r]) != lim[r]:
                guaranteed = False
        limits_all = True
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed and limits_all else "Burstable"


class PodStrategy(Strategy):
    model = Pod
    status_subresource = True

    def default(self, pod: Pod) -> None:
        spec = pod.spec
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

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
        if obj["spec"].get("nodeName"):  # created already bound (a static or DaemonSet-style pod)
            obj["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]

    def validate(self, obj: Obj) -> list[errors.Cause]:
        causes = self.validate_metadata(obj)
        spec = obj.get("spec") or {}
        if spec.get("restartPolicy") not in RESTART_POLICIES:
            causes.append(v.not_supported("spec.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES))
        if spec.get("dnsPolicy") not in DNS_POLICIES:
            causes.append(v.not_supported("spec.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES))
        grace = spec.get("terminationGracePeriodSeconds")
        if grace is not None and grace < 0:
            causes.append(v.invalid("spec.terminationGracePeriodSeconds", grace, "must be >= 0"))
        volumes = spec.get("volumes") or []
        volume_names: set[str] = set()
        for i, vol in enumerate(volumes):
            f = f"spec.volumes[{i}].name"
            causes += v.dns1123_label(vol["name"], f)
            if vol["name"] in volume_names:
                causes.append(v.duplicate(f, vol["name"]))
            volume_names.add(vol["name"])
        if not spec.get("containers"):
            causes.append(v.required("spec.containers"))
        names: set[str] = set()
        for group in ("initContainers", "containers"):
            for i, c in enumerate(spec.get(group) or []):
                causes += _validate_container(c, f"spec.{group}[{i}]", names, volume_names)
        for key, value in (spec.get("nodeSelector") or {}).items():
            causes += v.label_key(key, "spec.nodeSelector")
            causes += v.label_value(value, f"spec.nodeSelector.{key}")
        for i, t in enumerate(spec.get("tolerations") or []):
            op = t.get("operator", "Equal")
            if op not in ("Equal", "Exists"):
                causes.append(v.not_supported(f"spec.tolerations[{i}].operator", op, ["Equal", "Exists"]))
            elif op == "Exists" and t.get("value"):
                causes.append(v.invalid(f"spec.tolerations[{i}].operator", t.get("value"),
                                        "value must be empty when `operator` is 'Exists'"))
            effect = t.get("effect")
            if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                causes.append(v.not_supported(f"spec.tolerations[{i}].effect", effect,
                                              ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        causes = self.validate(new)
        if _mutable_view(new["spec"]) != _mutable_view(old["spec"]):
            causes.append(v.forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
                "`spec.tolerations` (only additions to existing tolerations) or "
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            ))
        return causes

    def graceful_delete_seconds(self, obj: Obj, requested: int | None) -> int:
        # Unscheduled and finished pods have no kubelet to wait for.
        if not obj["spec"].get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        return int(obj["spec"].get("terminationGracePeriodSeconds", 30))


def _mutable_view(spec: Obj) -> Obj:
    """The spec with the fields an update may change blanked out."""
    view = {k: val for k, val in spec.items()
            if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
    for group in ("containers", "initContainers"):
        if group in view:
            view[group] = [{k: val for k, val in c.items() if k != "image"} for c in view[group]]
    return view


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
