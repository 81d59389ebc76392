"""The PodSpec rules shared by Pods and by the pod templates of workloads: defaults and validation."""

from __future__ import annotations

import re
from typing import Any

from apiserver import validation as v
from apiserver.registry.quantities import canonical, canonical_list
from kube import errors, quantity
from kube.models.core import (
    Container,
    EmptyDirVolumeSource,
    HTTPGetAction,
    ObjectFieldSelector,
    PodSecurityContext,
    PodSpec,
    Probe,
    ResourceRequirements,
    Volume,
)

__all__ = ["default_pod", "default_pod_spec", "image_tag", "validate_pod_spec"]

Obj = dict[str, Any]

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


#: Kubernetes' SecretVolumeSourceDefaultMode, ConfigMapVolumeSourceDefaultMode, DownwardAPIVolumeSourceDefaultMode
#: and ProjectedVolumeSourceDefaultMode: 0644.
DEFAULT_VOLUME_MODE = 0o644
#: SetDefaults_ServiceAccountTokenProjection: one hour.
TOKEN_EXPIRATION_SECONDS = 3600


def _default_http_get(action: HTTPGetAction | None) -> None:
    """SetDefaults_HTTPGetAction (probes and lifecycle handlers alike)."""
    if action is not None:
        action.path = action.path or "/"
        action.scheme = action.scheme or "HTTP"


def _default_probe(probe: Probe | None) -> None:
    """SetDefaults_Probe, with its handler's defaults (`grpc.service` is `+default=""`)."""
    if probe is None:
        return
    probe.timeout_seconds = probe.timeout_seconds or 1
    probe.period_seconds = probe.period_seconds or 10
    probe.success_threshold = probe.success_threshold or 1
    probe.failure_threshold = probe.failure_threshold or 3
    _default_http_get(probe.http_get)
    if probe.grpc is not None and probe.grpc.service is None:
        probe.grpc.service = ""


def image_tag(image: str) -> str:
    """The tag kubelet's parsers.ParseImageName finds: "latest" when the reference names neither a tag nor a
    digest, "" when it names only a digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


def _default_field_ref(ref: ObjectFieldSelector | None) -> None:
    if ref is not None:
        ref.api_version = ref.api_version or "v1"  # SetDefaults_ObjectFieldSelector


def _default_container(c: Container) -> None:
    """SetDefaults_Container and what the generated defaulter calls for its parts. `resources` is a struct
    (not a pointer) in Go, so Kubernetes always writes it, `{}` when empty."""
    if c.image_pull_policy is None and c.image:
        c.image_pull_policy = "Always" if image_tag(c.image) == "latest" else "IfNotPresent"
    c.termination_message_path = c.termination_message_path or "/dev/termination-log"
    c.termination_message_policy = c.termination_message_policy or "File"
    if c.resources is None:
        c.resources = ResourceRequirements()
    c.resources.limits = canonical_list(c.resources.limits)  # SetDefaults_ResourceList, then canonical form
    c.resources.requests = canonical_list(c.resources.requests)
    for port in c.ports:
        port.protocol = port.protocol or "TCP"
    for env in c.env:
        if env.value_from is not None:
            _default_field_ref(env.value_from.field_ref)
    for probe in (c.liveness_probe, c.readiness_probe, c.startup_probe):
        _default_probe(probe)
    if c.lifecycle is not None:
        for handler in (c.lifecycle.post_start, c.lifecycle.pre_stop):
            if handler is not None:
                _default_http_get(handler.http_get)


def _default_volume(vol: Volume) -> None:
    """SetDefaults_Volume (no source: an emptyDir) and the defaults of each volume source."""
    sources = ("empty_dir", "host_path", "config_map", "secret", "downward_api", "persistent_volume_claim",
               "projected")
    if all(getattr(vol, name) is None for name in sources) and not vol.model_extra:
        vol.empty_dir = EmptyDirVolumeSource()
    if vol.empty_dir is not None and vol.empty_dir.size_limit is not None:
        vol.empty_dir.size_limit = canonical(vol.empty_dir.size_limit)
    if vol.host_path is not None and vol.host_path.type is None:
        vol.host_path.type = ""  # HostPathUnset: a pointer to "", which Go writes
    for source in (vol.secret, vol.config_map, vol.downward_api, vol.projected):
        if source is not None and source.default_mode is None:
            source.default_mode = DEFAULT_VOLUME_MODE
    if vol.downward_api is not None:
        for item in vol.downward_api.items:
            _default_field_ref(item.field_ref)
    if vol.projected is not None:
        for projection in vol.projected.sources:
            token = projection.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = TOKEN_EXPIRATION_SECONDS
            downward = projection.get("downwardAPI")
            for item in (downward.get("items") or []) if isinstance(downward, dict) else []:
                if isinstance(item, dict) and isinstance(item.get("fieldRef"), dict):
                    item["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec: PodSpec) -> None:
    """SetDefaults_PodSpec and the nested defaults, the same in a Pod and in a workload's pod template
    (pkg/apis/core/v1/defaults.go). What only a Pod gets is in `default_pod`."""
    spec.dns_policy = spec.dns_policy or "ClusterFirst"
    spec.restart_policy = spec.restart_policy or "Always"
    if spec.security_context is None:
        spec.security_context = PodSecurityContext()
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = 30
    spec.scheduler_name = spec.scheduler_name or "default-scheduler"
    # v1 conversion: the deprecated serviceAccount mirrors serviceAccountName, and fills it when only it is set.
    if spec.service_account and not spec.service_account_name:
        spec.service_account_name = spec.service_account
    if spec.service_account_name:
        spec.service_account = spec.service_account_name
    for vol in spec.volumes:
        _default_volume(vol)
    for c in [*spec.init_containers, *spec.containers, *spec.ephemeral_containers]:
        _default_container(c)  # SetDefaults_EphemeralContainer is SetDefaults_Container on its common part


def default_pod(spec: PodSpec) -> None:
    """SetDefaults_Pod: what a Pod gets beyond a template. A container's requests default to its limits
    (only in a Pod, never in a PodTemplate), enableServiceLinks to true, and with hostNetwork every container
    port's hostPort to its containerPort."""
    default_pod_spec(spec)
    for c in [*spec.containers, *spec.init_containers]:
        if c.resources is not None:
            for name, limit in c.resources.limits.items():
                c.resources.requests.setdefault(name, limit)
    if spec.enable_service_links is None:
        spec.enable_service_links = True
    if spec.host_network:
        for c in [*spec.containers, *spec.init_containers]:
            for port in c.ports:
                if not port.host_port:
                    port.host_port = port.container_port


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
    causes += _validate_ephemeral_containers(spec, f"{path}.ephemeralContainers", names, volume_names)
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


#: EphemeralContainerCommon fields Kubernetes' allowedEphemeralContainerFields leaves out: what an ephemeral
#: container may not set, since nothing fundamental to the pod may rest on it.
EPHEMERAL_FORBIDDEN_FIELDS = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe",
                              "readinessProbe", "startupProbe", "lifecycle")
_EPHEMERAL = "cannot be set for an Ephemeral Container"


def _validate_ephemeral_containers(spec: Obj, path: str, names: set[str], volumes: set[str]) -> list[errors.Cause]:
    """validateEphemeralContainers: a container's own checks, a name unique across every kind of container,
    a targetContainerName naming a (non-ephemeral) container, and none of the fields the allow list leaves out.
    `names` holds the init and regular containers' names."""
    causes: list[errors.Cause] = []
    targets = set(names)
    for i, c in enumerate(spec.get("ephemeralContainers") or []):
        p = f"{path}[{i}]"
        causes += _validate_container(c, p, names, volumes)
        target = c.get("targetContainerName")
        if target and target not in targets:
            causes.append({"reason": "FieldValueNotFound", "field": f"{p}.targetContainerName",
                           "message": f'Not found: "{target}"'})
        for name in EPHEMERAL_FORBIDDEN_FIELDS:
            value = c.get(name)
            if name == "resources" and isinstance(value, dict):  # a struct in Go: set when not all empty
                value = any(value.values())
            if value:
                causes.append(v.forbidden(f"{p}.{name}", _EPHEMERAL))
        for j, mount in enumerate(c.get("volumeMounts") or []):
            for name in ("subPath", "subPathExpr"):
                if mount.get(name):
                    causes.append(v.forbidden(f"{p}.volumeMounts[{j}].{name}", _EPHEMERAL))
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
