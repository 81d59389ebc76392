"""Pods: defaulting, validation, immutability of the spec, graceful deletion."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.podspec import default_pod, validate_pod_spec
from kube import errors
from kube.models import Pod

Obj = dict[str, Any]



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

    def validate(self, obj: Obj) -> list[errors.Cause]:
        return self.validate_metadata(obj) + validate_pod_spec(obj.get("spec") or {}, "spec")

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
