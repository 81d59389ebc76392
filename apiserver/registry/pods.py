"""Pods: defaulting, validation, immutability of the spec, graceful deletion, and the strategy of the
`ephemeralcontainers` subresource (the only way to add a container to a running pod, as `kubectl debug` does).
"""

from __future__ import annotations

import copy
from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.podspec import default_pod, validate_pod_spec
from kube import errors
from kube.models import Pod
from kube.resources import PODS

Obj = dict[str, Any]

#: the annotation of a kubelet's mirror of a static pod
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


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
    tracks_generation = True
    model = Pod
    status_subresource = True

    def default(self, pod: Pod) -> None:
        default_pod(pod.spec)

    def prepare_for_create(self, obj: Obj) -> None:
        """pkg/registry/core/pod/strategy.go PrepareForCreate: the status is reset to Pending with the QoS
        class (conditions are the scheduler's and the kubelet's to write). The service account and priority
        come from admission plugins (apiserver/admission)."""
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    def for_subresource(self, subresource: str | None) -> PodStrategy:
        return EPHEMERAL_CONTAINERS if subresource == "ephemeralcontainers" else self

    def validate(self, obj: Obj) -> list[errors.Cause]:
        """ValidatePodCreate: ephemeral containers come only through their subresource."""
        causes = self.validate_pod(obj)
        if (obj.get("spec") or {}).get("ephemeralContainers"):
            causes.append(v.forbidden("spec.ephemeralContainers", "cannot be set on create"))
        return causes

    def validate_pod(self, obj: Obj) -> list[errors.Cause]:
        return self.validate_metadata(obj) + validate_pod_spec(obj.get("spec") or {}, "spec")

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        causes = self.validate_pod(new)
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


class EphemeralContainersStrategy(PodStrategy):
    """podEphemeralContainersStrategy: a write through pods/ephemeralcontainers changes only
    spec.ephemeralContainers, which may grow and never change or shrink."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """dropNonEphemeralContainerUpdates: the old spec and status with the new ephemeral containers, and
        the metadata a status write keeps (ResetObjectMetaForStatus)."""
        ephemeral = (new.get("spec") or {}).get("ephemeralContainers")
        new["spec"] = copy.deepcopy(old["spec"])
        if ephemeral:
            new["spec"]["ephemeralContainers"] = ephemeral
        else:
            new["spec"].pop("ephemeralContainers", None)
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for key in ("labels", "annotations", "finalizers", "ownerReferences", "deletionTimestamp"):
            if key in old_meta:
                meta[key] = copy.deepcopy(old_meta[key])
            else:
                meta.pop(key, None)

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        """ValidatePodEphemeralContainersUpdate."""
        if MIRROR_POD_ANNOTATION in (old["metadata"].get("annotations") or {}):
            return [v.forbidden("", "static pods do not support ephemeral containers")]
        causes = self.validate_pod(new)
        path = "spec.ephemeralContainers"
        wanted = {c["name"]: c for c in new["spec"].get("ephemeralContainers") or []}
        for existing in old["spec"].get("ephemeralContainers") or []:
            name = existing["name"]
            if name not in wanted:
                causes.append(v.forbidden(path, f'existing ephemeral containers "{name}" may not be removed\n'))
            elif wanted[name] != existing:
                causes.append(v.forbidden(f"{path}[{name}]",
                                          f'existing ephemeral containers "{name}" may not be changed\n'))
        return causes


EPHEMERAL_CONTAINERS = EphemeralContainersStrategy(PODS)
